package mcpmain

import (
	"os"
	"runtime/debug"
)

// Garbage collector settings of the MCP server processes (TuneGC).
const (
	serverGCPercent   = 400
	serverMemoryLimit = 1 << 30 // 1 GiB, soft
)

// TuneGC sets the garbage collector of an MCP server process: GOGC=400 (the default is 100)
// with a soft memory limit of 1 GiB, unless the GOGC or GOMEMLIMIT environment variable says
// otherwise. A server's live heap is small (the pool, caches of a few MiB, the call in
// flight) while every call allocates its request and result several times over (the go-sdk
// decodes each message with fresh 32 KiB buffers and re-encodes the result), so at the
// default the collector ran every few calls and took a fifth of the server's CPU for a 1-row
// query_view over stdio; at 400 it runs a quarter as often. The limit keeps the heap bounded
// if a process ever holds much more. Call it once, from main, before serving.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}
