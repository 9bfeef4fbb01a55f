package mcpmain

import (
	"runtime"
	"testing"
)

// TestStdioProcs: a stdio server runs on one P unless GOMAXPROCS says otherwise.
func TestStdioProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	for _, tc := range []struct {
		env  string
		set  int
		want int
	}{
		{"", 4, 1},  // not set: one P
		{"3", 4, 4}, // set: the runtime already applied it, StdioProcs keeps it
	} {
		t.Setenv("GOMAXPROCS", tc.env)
		runtime.GOMAXPROCS(tc.set)
		StdioProcs()
		if got := runtime.GOMAXPROCS(0); got != tc.want {
			t.Errorf("GOMAXPROCS=%q: %d procs after StdioProcs, want %d", tc.env, got, tc.want)
		}
	}
}
