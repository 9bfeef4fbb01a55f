package testutil

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ instead of comparing with them")

// Updating reports whether the tests run with -update (golden files are rewritten).
func Updating() bool { return *update }

// CheckGolden compares got with the golden file at path (relative to the package directory,
// normally under testdata/). With -update it writes got to path (creating its directory)
// instead; review the diff before committing it.
func CheckGolden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("golden: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run go test -run '%s' -update in this package to create it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); if the change is intended, rerun with -update and review the diff:\n%s", path, diff)
	}
}

// CI reports whether the tests run under CI=true, where every test must run.
func CI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips the test because a prerequisite (a binary, a server, a package) is
// missing, with a reason that says how to get it; under CI=true it fails the test instead,
// because CI must run everything.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI=true: missing prerequisites fail instead of skipping)", msg)
	}
	t.Skip(msg)
}

// Wait is the default deadline of WaitFor: generous, because CI runs on a busy 2-core
// machine. A wait that succeeds returns as soon as its condition holds.
const Wait = 2 * time.Minute

// WaitFor polls cond until it reports true and fails the test (naming what it waited for and
// the last error) when timeout passes first. cond reads the real state the test goes on to
// assert (a lock in pg_locks, a row, a process exit), never a proxy that comes earlier. An
// error from cond does not stop the wait (the state may not exist yet); it is reported if the
// deadline passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	delay := 5 * time.Millisecond
	var lastErr error
	for {
		ok, err := cond()
		if ok && err == nil {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			if lastErr != nil {
				t.Fatalf("waited %s for %s; last error: %v", timeout, what, lastErr)
			}
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// ReadFile returns the file's contents and fails the test when it cannot be read, so that a
// missing or unreadable file never compares equal to an empty expectation.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}
