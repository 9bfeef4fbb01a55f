// Package pgtest gives each test a fresh database on one shared Postgres server per test
// binary: AGENTMV_TEST_DATABASE_URL, else a pglocal cluster (from $AGENTMV_PG_BINDIR when set,
// else the installed server binaries), else testcontainers, else skip (never under CI=true).
package pgtest
