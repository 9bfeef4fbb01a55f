SELECT id
FORM users
