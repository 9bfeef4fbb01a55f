//go:build lineage

package mcpclient_test

// queryGuard says whether the binaries under test can parse agent SQL; buildTags builds them
// the same way as this test binary.
const (
	queryGuard = "on"
	buildTags  = "lineage"
)
