// Package connerr says why a connection to Postgres failed in one line that leads with the
// real cause. pgx reports every address and TLS mode it tried ("tls error: server refused
// TLS connection" first, when sslmode=prefer falls back to plain text), so the cause that
// matters (a refused password, a missing database, nothing listening) comes last, after noise.
package connerr
