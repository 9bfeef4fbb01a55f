//go:build unix

package tools

import (
	"os"
	"syscall"
)

// pollableStdin returns stdin for ServeStdio. When stdin is a pipe or a socket (an MCP client
// that spawned the server), it is switched to non-blocking mode and opened again, so that Go's
// network poller waits for the next request: no thread sits blocked in read(2), and with
// GOMAXPROCS=1 (the stdio commands' default, see cmd/internal/mcpmain) a request is read, run
// and answered on one thread. A terminal or a file is left as it is (its blocking mode may be
// shared with other processes). The pipe belongs to the server: ServeStdio closes it at the end,
// as it closes os.Stdin.
func pollableStdin() *os.File {
	var st syscall.Stat_t
	if err := syscall.Fstat(0, &st); err != nil {
		return os.Stdin
	}
	if mode := st.Mode & syscall.S_IFMT; mode != syscall.S_IFIFO && mode != syscall.S_IFSOCK {
		return os.Stdin
	}
	if err := syscall.SetNonblock(0, true); err != nil {
		return os.Stdin
	}
	return os.NewFile(0, os.Stdin.Name()) // non-blocking: os registers it with the poller
}
