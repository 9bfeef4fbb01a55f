//go:build unix

package tools

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPollableStdin: ServeStdio reads a pipe on stdin through the network poller (a read
// deadline works only there) and leaves a regular file as os.Stdin. Each case runs the test
// binary again with that stdin, as an MCP client spawns the server.
func TestPollableStdin(t *testing.T) {
	if os.Getenv(PollableStdinChild) != "" {
		f := pollableStdin()
		err := f.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		var buf [1]byte
		_, rerr := f.Read(buf[:])
		fmt.Printf("same=%v deadline=%v timeout=%v\n", f == os.Stdin, err == nil, errors.Is(rerr, os.ErrDeadlineExceeded))
		return
	}
	run := func(stdin *os.File) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run", "^TestPollableStdin$")
		cmd.Env = append(os.Environ(), PollableStdinChild+"=1")
		cmd.Stdin = stdin
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		for line := range strings.Lines(string(out)) {
			if strings.HasPrefix(line, "same=") {
				return strings.TrimSpace(line)
			}
		}
		t.Fatalf("child printed no result:\n%s", out)
		return ""
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() // open, with nothing written: the child's read can only end by its deadline
	got := run(r)
	r.Close()
	if want := "same=false deadline=true timeout=true"; got != want {
		t.Errorf("pipe on stdin: %s, want %s (read through the poller)", got, want)
	}

	file, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if got, want := run(file), "same=true deadline=false timeout=false"; got != want {
		t.Errorf("file on stdin: %s, want %s (left as os.Stdin)", got, want)
	}
}
