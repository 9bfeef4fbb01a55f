package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
)

// CheckRuntimeRole proves, as the role pool connects as, that it is a proper runtime role:
// it can read only the managed views and agentmv's metadata tables in schema, and write
// nothing (no privilege in boundary.RuntimeWritePrivileges on any relation, no CREATE in any
// schema or the database, not superuser, no BYPASSRLS). TEMPORARY is not a reason to refuse:
// PUBLIC has it by default and apply revokes it only when materialize.yaml says so (doctor
// warns about it). It counts privileges with the same
// code as the doctor (boundary.RuntimeAccess, boundary.RoleRightsOf). It returns an error naming every problem and what
// to fix; the runtime servers refuse to start on it. It is a cheap subset of `agent-mv
// doctor`, which also checks the installed objects (as the admin).
func CheckRuntimeRole(ctx context.Context, pool boundary.Querier, schema string) error {
	if schema == "" {
		schema = boundary.DefaultSchema
	}
	var user string
	if err := pool.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		return fmt.Errorf("runtime role self-check: %w", err)
	}
	rr, err := boundary.RoleRightsOf(ctx, pool, user)
	if err != nil {
		return fmt.Errorf("runtime role self-check: %w", err)
	}
	q := pgx.Identifier{user}.Sanitize()
	var problems []string
	if rr.Superuser {
		problems = append(problems, fmt.Sprintf("role %s is a superuser (connect as the runtime role created by `agent-mv apply`, not the admin)", user))
	}
	if rr.BypassRLS {
		problems = append(problems, fmt.Sprintf("role %s has BYPASSRLS (ALTER ROLE %s NOBYPASSRLS)", user, q))
	}
	for _, s := range rr.CreateInSchemas {
		problems = append(problems, fmt.Sprintf("role %s can CREATE in schema %s (REVOKE CREATE ON SCHEMA %s FROM PUBLIC, %s)",
			user, s, pgx.Identifier{s}.Sanitize(), q))
	}
	if rr.CreateOnDatabase {
		problems = append(problems, fmt.Sprintf("role %s can CREATE schemas in this database (REVOKE CREATE ON DATABASE ... FROM PUBLIC, %s)", user, q))
	}
	if !rr.Superuser {
		n := boundary.Names{Schema: schema}
		recs, err := boundary.ReadRegistry(ctx, pool, n)
		if err == nil && recs == nil {
			err = fmt.Errorf("the registry table %s.%s does not exist", schema, boundary.TableViews)
		}
		if err != nil {
			return fmt.Errorf("runtime role self-check: read %s.%s as %s: %w; run `agent-mv apply` and check AGENT_MV_TARGET_SCHEMA (%s)", schema, boundary.TableViews, user, err, schema)
		}
		managed := make([]string, len(recs))
		for i, r := range recs {
			managed[i] = r.Name
		}
		acc, err := boundary.RuntimeAccess(ctx, pool, n, user, managed)
		if err != nil {
			return fmt.Errorf("runtime role self-check: %w", err)
		}
		if len(acc.Reads) > 0 {
			problems = append(problems, fmt.Sprintf("role %s can read relations that are not managed views: %s (REVOKE SELECT ON them FROM PUBLIC, %s)",
				user, capList(acc.Reads, 10), q))
		}
		if len(acc.Writes) > 0 {
			problems = append(problems, fmt.Sprintf("role %s can write %s (REVOKE those privileges ON them FROM PUBLIC, %s)",
				user, capList(acc.Writes, 10), q))
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
