SELECT "Id", "Value" FROM "MyTable"
