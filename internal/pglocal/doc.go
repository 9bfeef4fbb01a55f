// Package pglocal starts and stops throwaway PostgreSQL clusters from installed server binaries.
// It is used by `agent-mv demo` and, through internal/pgtest, by the test suite.
package pglocal
