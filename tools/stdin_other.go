//go:build !unix

package tools

import "os"

// pollableStdin returns os.Stdin: outside Unix, stdin is read as it is.
func pollableStdin() *os.File { return os.Stdin }
