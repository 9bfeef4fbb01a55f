SELECT id FROM nope
