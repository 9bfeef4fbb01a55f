// Package boundary owns every statement about agentmv's own objects (schema, runtime and owner
// roles, registry tables, the SECURITY DEFINER refresh function, grants, locks) and the doctor's
// catalog probes; other packages call its typed readers and writers instead of writing SQL.
//
// # Building SQL
//
// Every statement is a package-level sqlText made by mustSQL: a text/template whose data only
// yields quoted identifiers ({{.S}}, {{.R}}, {{.O}}, {{.Views}}, {{.Lineage}},
// {{.ColumnLineage}}, {{.History}}, {{.SchemaVersion}}, {{.Function}}, {{.DeclaredTools}}, {{.Rel "x"}},
// {{.Arg i}}; see sql.go). Values are always bound parameters. Rules that several statements
// share are named fragments: "usable_unique_index" and "refresh_mode" (refreshmode.go, the one
// definition of "concurrent refresh possible"), the lock keys (locks.go) and
// "running_refreshes". A new statement is one more mustSQL next to the function that runs it,
// and one more line in TestTemplatesRender.
//
// # Readers
//
// ReadRegistry, ReadViewStates (status), ReadHistory, ReadLineage, ReadGraph, LineageOf,
// RefreshModes, RunningRefreshes, RuntimeAccess, RoleRightsOf and ReadTools take a Reader (a pool, a
// connection or a transaction) and validate only the schema, so the runtime role can call the
// ones it has privileges for. TakeApplyLock is the apply/drop lock.
//
// # Adding a registry column (a YAML-driven setting of a view)
//
// A column of <S>.views is declared once, by the migration step that adds it:
//
//  1. add the field to ViewRecord (registry.go);
//
//  2. append a step to migrations (migrate.go) with the column, and bump ExpectedVersion:
//
//     {Migration: Migration{Version: 6, Name: "views.refresh_every: scheduled refreshes"},
//     columns: []registryColumn{intervalColumn("refresh_every", true,
//     func(r *ViewRecord) **time.Duration { return &r.RefreshEvery })}},
//
// Bootstrap then runs ALTER TABLE <S>.views ADD COLUMN IF NOT EXISTS for it; ReadRegistry
// reads it (as the zero value on a database that does not have it yet), UpsertView writes it,
// and SameMetadata compares it when the column is "meta" (a change is an "update" in plan).
// textColumn, intervalColumn and jsonColumn cover text, durations and JSON; a step may also
// carry statements (sql) that run before its columns are added. Fill the field from
// materialize.yaml where apply builds the ViewRecord (analyze.go). Released steps are never
// edited: a changed refresh function is a new step that re-runs refreshFunctionSQL.
package boundary
