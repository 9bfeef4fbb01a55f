package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
)

// selfCheckSQL runs as the runtime role itself: every user relation it may read or write,
// by its own privileges (PUBLIC grants and role membership included), plus role attributes
// and CREATE/TEMP rights. pg_class and the has_*_privilege functions are readable by any role.
const selfCheckSQL = `
SELECT n.nspname, c.relname,
       has_table_privilege(c.oid, 'SELECT') OR has_any_column_privilege(c.oid, 'SELECT'),
       has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
         OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE')
         OR has_any_column_privilege(c.oid, 'INSERT') OR has_any_column_privilege(c.oid, 'UPDATE')
         OR (c.relkind = 'S' AND has_sequence_privilege(c.oid, 'USAGE,UPDATE'))
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
 ORDER BY 1, 2`

const selfCheckRoleSQL = `
SELECT current_user, r.rolsuper, r.rolbypassrls,
       coalesce((SELECT array_agg(nspname ORDER BY nspname) FROM pg_catalog.pg_namespace
                  WHERE has_schema_privilege(oid, 'CREATE')
                    AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'), '{}'),
       has_database_privilege(current_database(), 'CREATE'),
       has_database_privilege(current_database(), 'TEMPORARY')
  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`

// CheckRuntimeRole proves, as the role pool connects as, that it is a proper runtime role:
// it can read only the managed views and agentmv's metadata tables in schema, and write
// nothing (no table privilege but SELECT, no sequence use, no CREATE in any schema or the
// database, not superuser, no BYPASSRLS). It returns an error naming every problem and what
// to fix; the runtime servers refuse to start on it. It is a cheap subset of `agent-mv
// doctor`, which also checks the installed objects (as the admin).
func CheckRuntimeRole(ctx context.Context, pool boundary.Querier, schema string) error {
	if schema == "" {
		schema = boundary.DefaultSchema
	}
	var user string
	var super, bypass, dbCreate, dbTemp bool
	var createIn []string
	if err := pool.QueryRow(ctx, selfCheckRoleSQL).Scan(&user, &super, &bypass, &createIn, &dbCreate, &dbTemp); err != nil {
		return fmt.Errorf("runtime role self-check: %w", err)
	}
	var problems []string
	if super {
		problems = append(problems, fmt.Sprintf("role %s is a superuser (connect as the runtime role created by `agent-mv apply`, not the admin)", user))
	}
	if bypass {
		problems = append(problems, fmt.Sprintf("role %s has BYPASSRLS (ALTER ROLE %s NOBYPASSRLS)", user, pgx.Identifier{user}.Sanitize()))
	}
	for _, s := range createIn {
		problems = append(problems, fmt.Sprintf("role %s can CREATE in schema %s (REVOKE CREATE ON SCHEMA %s FROM PUBLIC, %s)",
			user, s, pgx.Identifier{s}.Sanitize(), pgx.Identifier{user}.Sanitize()))
	}
	if dbCreate {
		problems = append(problems, fmt.Sprintf("role %s can CREATE schemas in this database (REVOKE CREATE ON DATABASE ... FROM PUBLIC, %s)", user, pgx.Identifier{user}.Sanitize()))
	}
	if dbTemp {
		problems = append(problems, fmt.Sprintf("role %s can create TEMP tables (REVOKE TEMPORARY ON DATABASE ... FROM PUBLIC, %s; `agent-mv apply` does this by default)", user, pgx.Identifier{user}.Sanitize()))
	}
	if !super {
		rows, err := pool.Query(ctx, "SELECT name FROM "+pgx.Identifier{schema, "views"}.Sanitize())
		var managed []string
		if err == nil {
			managed, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return fmt.Errorf("runtime role self-check: read %s.views as %s: %w; run `agent-mv apply` and check AGENT_MV_TARGET_SCHEMA (%s)", schema, user, err, schema)
		}
		allowed := slices.Clone(metadataTables)
		allowed = append(allowed, managed...)
		rows, err = pool.Query(ctx, selfCheckSQL)
		if err != nil {
			return fmt.Errorf("runtime role self-check: %w", err)
		}
		var nsp, rel string
		var canRead, canWrite bool
		var reads, writes []string
		if _, err := pgx.ForEachRow(rows, []any{&nsp, &rel, &canRead, &canWrite}, func() error {
			name := nsp + "." + rel
			if canRead && !(nsp == schema && slices.Contains(allowed, rel)) {
				reads = append(reads, name)
			}
			if canWrite {
				writes = append(writes, name)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("runtime role self-check: %w", err)
		}
		if len(reads) > 0 {
			problems = append(problems, fmt.Sprintf("role %s can read relations that are not managed views: %s (REVOKE SELECT ON them FROM PUBLIC, %s)",
				user, capList(reads, 10), pgx.Identifier{user}.Sanitize()))
		}
		if len(writes) > 0 {
			problems = append(problems, fmt.Sprintf("role %s can write %s (REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON them FROM PUBLIC, %s)",
				user, capList(writes, 10), pgx.Identifier{user}.Sanitize()))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("refusing to serve the runtime tools: the database role is not a safe runtime role:\n  - %s\nfix these (or point AGENT_MV_RUNTIME_URL at the runtime role), then run `agent-mv doctor`",
			strings.Join(problems, "\n  - "))
	}
	return nil
}

func capList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}
