package mcpclient_test

// queryGuard says whether the binaries under test can parse agent SQL; buildTags builds them.
const (
	queryGuard = "on"
	buildTags  = ""
)
