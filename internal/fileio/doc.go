// Package fileio holds agentmv's two file rules: read a file with a size cap, and replace a
// file atomically (temp file in the same directory, fsync, rename, fsync the directory).
package fileio
