SELECT * FROM measurements*
