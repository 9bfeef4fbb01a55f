package boundary

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// What the runtime role may hold is checked twice, by the same code: by the doctor (as the
// admin, naming the runtime role) and by the runtime servers' self-check at start-up (as the
// runtime role, naming itself). Both call RuntimeAccess and RoleRightsOf; the list of
// privileges that count as writing is RuntimeWritePrivileges.

// RuntimeWritePrivileges are the relation privileges besides SELECT that the runtime role must
// not hold on any relation (USAGE is sequence USAGE or UPDATE, i.e. nextval/setval; MAINTAIN,
// from PostgreSQL 17 on, allows VACUUM, ANALYZE, REFRESH MATERIALIZED VIEW, REINDEX, CLUSTER
// and LOCK TABLE in any mode).
func RuntimeWritePrivileges() []string {
	return []string{"INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "USAGE", "MAINTAIN"}
}

// relationAccessSQL lists every relation outside the system schemas, in a schema role $1 may
// use (USAGE: without it no privilege on a relation inside can be exercised; e.g. pg_cron grants
// SELECT on cron.job to PUBLIC but not USAGE on schema cron), with what $1 may do to it.
// has_table_privilege and has_any_column_privilege follow PUBLIC grants and role
// membership; column grants count (SELECT, INSERT, UPDATE and REFERENCES exist per column).
// The write list is RuntimeWritePrivileges, in that order.
var relationAccessSQL = mustSQL("relation_access", `
SELECT n.nspname::text, c.relname::text,
       has_table_privilege($1, c.oid, 'SELECT') OR has_any_column_privilege($1, c.oid, 'SELECT') AS can_read,
       array_remove(ARRAY[
         CASE WHEN has_table_privilege($1, c.oid, 'INSERT') OR has_any_column_privilege($1, c.oid, 'INSERT') THEN 'INSERT' END,
         CASE WHEN has_table_privilege($1, c.oid, 'UPDATE') OR has_any_column_privilege($1, c.oid, 'UPDATE') THEN 'UPDATE' END,
         CASE WHEN has_table_privilege($1, c.oid, 'DELETE') THEN 'DELETE' END,
         CASE WHEN has_table_privilege($1, c.oid, 'TRUNCATE') THEN 'TRUNCATE' END,
         CASE WHEN has_table_privilege($1, c.oid, 'REFERENCES') OR has_any_column_privilege($1, c.oid, 'REFERENCES') THEN 'REFERENCES' END,
         CASE WHEN has_table_privilege($1, c.oid, 'TRIGGER') THEN 'TRIGGER' END,
         CASE WHEN c.relkind = 'S' AND has_sequence_privilege($1, c.oid, 'USAGE,UPDATE') THEN 'USAGE' END,
         CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 170000 THEN
           CASE WHEN has_table_privilege($1, c.oid, 'MAINTAIN') THEN 'MAINTAIN' END END
       ], NULL) AS writes
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%'
   AND n.nspname NOT LIKE 'pg\_temp\_%'
   AND has_schema_privilege($1, n.oid, 'USAGE')
 ORDER BY 1, 2`)

// AccessReport is what RuntimeAccess found: relations role may read that it should not, and
// relations it may write at all.
type AccessReport struct {
	Checked int      // relations looked at
	Reads   []string // "schema.relation" readable although not a managed view or metadata table
	Writes  []string // "schema.relation (PRIV, ...)" for any privilege in RuntimeWritePrivileges
	// Found are the relations behind Reads and Writes, each with what role may do to it
	// ("SELECT" when it is in Reads, then the write privileges).
	Found []RelationPrivileges
}

// RelationPrivileges is a relation and privileges a role holds on it.
type RelationPrivileges struct {
	Relation
	Privileges []string
}

// RuntimeAccess checks role's privileges on every user relation: it may read only the managed
// views (managed) and the metadata tables in n.Schema, and write nothing. Any role can run it
// about itself; the admin can run it about any role.
func RuntimeAccess(ctx context.Context, q Reader, n Names, role string, managed []string) (AccessReport, error) {
	var r AccessReport
	if err := n.validSchema(); err != nil {
		return r, err
	}
	allowed := append(MetadataTables(), managed...)
	rows, err := q.Query(ctx, relationAccessSQL.render(n), role)
	if err != nil {
		return r, fmt.Errorf("read privileges of %s: %w", role, err)
	}
	var schema, name string
	var canRead bool
	var writes []string
	_, err = pgx.ForEachRow(rows, []any{&schema, &name, &canRead, &writes}, func() error {
		r.Checked++
		rel := schema + "." + name
		var privs []string
		if canRead && !(schema == n.Schema && slices.Contains(allowed, name)) {
			r.Reads = append(r.Reads, rel)
			privs = append(privs, "SELECT")
		}
		if len(writes) > 0 {
			r.Writes = append(r.Writes, rel+" ("+strings.Join(writes, ", ")+")")
			privs = append(privs, writes...)
		}
		if len(privs) > 0 {
			r.Found = append(r.Found, RelationPrivileges{Relation{Schema: schema, Name: name}, privs})
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("read privileges of %s: %w", role, err)
	}
	return r, nil
}

// RoleRights are a role's attributes and its rights to create objects.
type RoleRights struct {
	Exists                                                  bool
	Superuser, BypassRLS, CreateRole, CreateDB, Replication bool
	Login                                                   bool
	CreateInSchemas                                         []string // schemas it may CREATE in (temp schemas aside)
	Database                                                string   // the current database
	CreateOnDatabase, TempOnDatabase                        bool
}

var roleRightsSQL = mustSQL("role_rights", `
SELECT r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolcanlogin,
       coalesce((SELECT array_agg(ns.nspname::text ORDER BY ns.nspname) FROM pg_catalog.pg_namespace ns
                  WHERE has_schema_privilege($1, ns.oid, 'CREATE')
                    AND ns.nspname NOT LIKE 'pg\_temp\_%' AND ns.nspname NOT LIKE 'pg\_toast\_temp\_%'), '{}'),
       current_database()::text,
       has_database_privilege($1, current_database(), 'CREATE'),
       has_database_privilege($1, current_database(), 'TEMPORARY')
  FROM pg_catalog.pg_roles r WHERE r.rolname = $1`)

// RoleRightsOf reads role's attributes and CREATE/TEMPORARY rights (Exists is false, and no
// error, when there is no such role). Any role may run it.
func RoleRightsOf(ctx context.Context, q Reader, role string) (RoleRights, error) {
	var r RoleRights
	rows, err := q.Query(ctx, roleRightsSQL.render(Names{}), role)
	if err != nil {
		return r, fmt.Errorf("read attributes of role %s: %w", role, err)
	}
	_, err = pgx.ForEachRow(rows, []any{&r.Superuser, &r.BypassRLS, &r.CreateRole, &r.CreateDB, &r.Replication, &r.Login,
		&r.CreateInSchemas, &r.Database, &r.CreateOnDatabase, &r.TempOnDatabase}, func() error {
		r.Exists = true
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("read attributes of role %s: %w", role, err)
	}
	return r, nil
}
