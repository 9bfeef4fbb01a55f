// Package lineage parses view SQL with Postgres' own parser (pg_query) into table, view and
// column lineage and a canonical hash, and orders views as a DAG. The core needs no database.
package lineage
