package boundary

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Index is one index of a managed view, as declared in materialize.yaml (and stored as JSON in
// <S>.views.index_spec).
type Index struct {
	// Name defaults to IndexName(view, Columns), the seed's naming.
	Name    string   `json:"name,omitempty"`
	Columns []string `json:"columns"`
	Unique  bool     `json:"unique"`
}

// IndexName is the seed's index naming: <view>_<col1>_<col2>..._idx.
func IndexName(view string, columns []string) string {
	return view + "_" + strings.Join(columns, "_") + "_idx"
}

// resolvedName returns the index name, validated (≤ 63 bytes, lower-case identifier).
func (ix Index) resolvedName(view string) (string, error) {
	name := ix.Name
	if name == "" {
		name = IndexName(view, ix.Columns)
	}
	if err := ValidateIdentifier("index name", name); err != nil {
		return "", fmt.Errorf("view %s: %w (set indexes[].name in materialize.yaml)", view, err)
	}
	return name, nil
}

// Statements on managed views and the owner role's grants. Args are identifiers: view, index
// and column names, source schemas and relations.
var (
	// createViewSQL is followed by the body (sent with the extended protocol: one statement).
	// A newline before the body keeps a leading comment from swallowing "AS".
	createViewSQL        = mustSQL("create_view", "CREATE MATERIALIZED VIEW {{.Rel (index .Args 0)}} AS\n")
	createIndexSQL       = mustSQL("create_index", `CREATE INDEX {{.Arg 0}} ON {{.Rel (index .Args 1)}} ({{range $i, $c := .Args}}{{if gt $i 2}}, {{end}}{{if gt $i 1}}{{$.Ident $c}}{{end}}{{end}})`)
	createUniqueIndexSQL = mustSQL("create_unique_index", `CREATE UNIQUE INDEX {{.Arg 0}} ON {{.Rel (index .Args 1)}} ({{range $i, $c := .Args}}{{if gt $i 2}}, {{end}}{{if gt $i 1}}{{$.Ident $c}}{{end}}{{end}})`)
	dropIndexSQL         = mustSQL("drop_index", `DROP INDEX IF EXISTS {{.Rel (index .Args 0)}}`)
	dropViewSQL          = mustSQL("drop_view", `DROP MATERIALIZED VIEW IF EXISTS {{.Rel (index .Args 0)}}`)
	grantOwnerUsageSQL   = mustSQL("grant_owner_usage", `GRANT USAGE ON SCHEMA {{.Arg 0}} TO {{.O}}`)
	revokeOwnerUsageSQL  = mustSQL("revoke_owner_usage", `REVOKE USAGE ON SCHEMA {{.Arg 0}} FROM {{.O}}`)
	grantOwnerSelectSQL  = mustSQL("grant_owner_select", `GRANT SELECT ON {{.ArgRel 0 1}} TO {{.O}}`)
	revokeOwnerSelectSQL = mustSQL("revoke_owner_select", `REVOKE SELECT ON {{.ArgRel 0 1}} FROM {{.O}}`)
)

// asOwner runs fn under SET LOCAL ROLE <O> and resets the role afterwards.
func asOwner(ctx context.Context, tx pgx.Tx, n Names, fn func() error) error {
	if err := exec(ctx, tx, "switch to owner role", setOwnerRoleSQL.render(n)); err != nil {
		return fmt.Errorf("%w (run Bootstrap first: it makes the admin a member of %s)", err, n.OwnerRole)
	}
	if err := fn(); err != nil {
		return err
	}
	return exec(ctx, tx, "reset role", resetRoleSQL.render(n))
}

// CreateView creates the materialized view <S>.<name> AS body (WITH DATA), its indexes, and
// grants SELECT on it to the runtime role, all as the owner role <O> (SET LOCAL ROLE), so <O>
// owns it and REFRESH (which runs the query as the owner) later has the same privileges.
// <O> therefore needs SELECT on the base relations first: call GrantSourcesToOwner.
//
// body is the view's SELECT (lineage's deparsed query, or the file's text: a trailing ';' and
// comments are fine). It is sent with the extended protocol, which runs exactly one statement,
// so a body cannot smuggle a second statement in.
func CreateView(ctx context.Context, tx pgx.Tx, n Names, name, body string, indexes []Index) error {
	_, err := CreateViewRows(ctx, tx, n, name, body, indexes)
	return err
}

// CreateViewRows is CreateView that also returns how many rows the new view holds (from the
// command tag: no extra scan).
func CreateViewRows(ctx context.Context, tx pgx.Tx, n Names, name, body string, indexes []Index) (int64, error) {
	if err := n.Validate(); err != nil {
		return 0, err
	}
	if err := ValidateIdentifier("view name", name); err != nil {
		return 0, err
	}
	body = strings.TrimSpace(body)
	for strings.HasSuffix(body, ";") {
		body = strings.TrimSpace(strings.TrimSuffix(body, ";"))
	}
	if body == "" {
		return 0, fmt.Errorf("view %s: SQL is empty", name)
	}
	var rows int64
	err := asOwner(ctx, tx, n, func() error {
		sql := createViewSQL.render(n, name) + body + "\n"
		tag, err := tx.Conn().PgConn().ExecParams(ctx, sql, nil, nil, nil, nil).Close()
		if err != nil {
			return fmt.Errorf("create materialized view %s: %w", name, err)
		}
		rows = tag.RowsAffected()
		for _, ix := range indexes {
			if err := createIndex(ctx, tx, n, name, ix); err != nil {
				return err
			}
		}
		return exec(ctx, tx, "grant SELECT on "+name, grantSelectSQL.render(n, name))
	})
	return rows, err
}

// CreateIndex creates one index on the managed view (as <O>), for index-only changes.
func CreateIndex(ctx context.Context, tx pgx.Tx, n Names, view string, ix Index) error {
	if err := n.Validate(); err != nil {
		return err
	}
	if err := ValidateIdentifier("view name", view); err != nil {
		return err
	}
	return asOwner(ctx, tx, n, func() error { return createIndex(ctx, tx, n, view, ix) })
}

func createIndex(ctx context.Context, tx pgx.Tx, n Names, view string, ix Index) error {
	name, err := ix.resolvedName(view)
	if err != nil {
		return err
	}
	if len(ix.Columns) == 0 {
		return fmt.Errorf("view %s: index %s has no columns", view, name)
	}
	for _, c := range ix.Columns {
		if err := ValidateIdentifier("index column", c); err != nil {
			return fmt.Errorf("view %s: %w", view, err)
		}
	}
	stmt := createIndexSQL
	if ix.Unique {
		stmt = createUniqueIndexSQL
	}
	return exec(ctx, tx, "create index "+name+" on "+view, stmt.render(n, append([]string{name, view}, ix.Columns...)...))
}

// DropIndex drops <S>.<index> (as <O>); missing indexes are ignored.
func DropIndex(ctx context.Context, tx pgx.Tx, n Names, index string) error {
	return asOwnerOn(ctx, tx, n, "index name", index, "drop index", dropIndexSQL)
}

// DropView drops the materialized view <S>.<name> (RESTRICT: dependents must be dropped first,
// in reverse topological order; DependentsOf lists them). Missing views are ignored. Registry and
// lineage rows are removed separately by DeleteView; refresh history is kept.
func DropView(ctx context.Context, tx pgx.Tx, n Names, name string) error {
	return asOwnerOn(ctx, tx, n, "view name", name, "drop materialized view", dropViewSQL)
}

// GrantView grants SELECT on the managed view to the runtime role (CreateView already does;
// this re-asserts it).
func GrantView(ctx context.Context, tx pgx.Tx, n Names, name string) error {
	return asOwnerOn(ctx, tx, n, "view name", name, "grant SELECT on", grantSelectSQL)
}

// asOwnerOn validates n and name (what it is, for the error), then runs stmt on name as <O>.
func asOwnerOn(ctx context.Context, tx pgx.Tx, n Names, what, name, step string, stmt sqlText) error {
	if err := n.Validate(); err != nil {
		return err
	}
	if err := ValidateIdentifier(what, name); err != nil {
		return err
	}
	return asOwner(ctx, tx, n, func() error {
		return exec(ctx, tx, step+" "+name, stmt.render(n, name))
	})
}

// ownerGrantsSQL lists the relations outside <S> on which <O> holds a direct SELECT grant, and
// the schemas outside <S> where it holds USAGE.
const ownerGrantsSQL = `
SELECT 'rel', n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
       aclexplode(c.relacl) a
 WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2)
   AND a.privilege_type = 'SELECT' AND n.nspname <> $1
UNION ALL
SELECT 'schema', n.nspname, ''
  FROM pg_namespace n, aclexplode(n.nspacl) a
 WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2)
   AND a.privilege_type = 'USAGE' AND n.nspname <> $1`

// OwnerGrantChange reports what GrantSourcesToOwner changed.
type OwnerGrantChange struct {
	Granted []Relation // SELECT granted now
	Revoked []Relation // SELECT revoked (no managed view reads them any more)
	Schemas []string   // USAGE granted now
}

// GrantSourcesToOwner makes the owner role's SELECT grants outside <S> exactly relations: the
// base relations (tables, views, partitioned and foreign tables) that all managed views read,
// together. It grants USAGE on their schemas and SELECT on each, skipping grants already held,
// and revokes SELECT that <O> holds directly on any other relation (USAGE on schemas no longer
// needed is revoked too). Runs as the admin, which must own the relations or hold them WITH
// GRANT OPTION; otherwise Postgres only warns, and the CREATE MATERIALIZED VIEW run as <O>
// fails with "permission denied", naming the relation.
func GrantSourcesToOwner(ctx context.Context, tx pgx.Tx, n Names, relations []Relation) (OwnerGrantChange, error) {
	var ch OwnerGrantChange
	if err := n.Validate(); err != nil {
		return ch, err
	}
	rows, err := tx.Query(ctx, ownerGrantsSQL, n.Schema, n.OwnerRole)
	if err != nil {
		return ch, fmt.Errorf("read grants of %s: %w", n.OwnerRole, err)
	}
	haveRel := map[Relation]bool{}
	haveSchema := map[string]bool{}
	for rows.Next() {
		var kind, schema, name string
		if err := rows.Scan(&kind, &schema, &name); err != nil {
			rows.Close()
			return ch, fmt.Errorf("read grants of %s: %w", n.OwnerRole, err)
		}
		if kind == "rel" {
			haveRel[Relation{Schema: schema, Name: name}] = true
		} else {
			haveSchema[schema] = true
		}
	}
	if err := rows.Err(); err != nil {
		return ch, fmt.Errorf("read grants of %s: %w", n.OwnerRole, err)
	}

	wantRel := map[Relation]bool{}
	wantSchema := map[string]bool{}
	for _, r := range relations {
		r = Relation{Schema: r.Schema, Name: r.Name}
		if r.Schema == n.Schema {
			continue // managed views: <O> owns them
		}
		if r.Schema == "" || r.Name == "" {
			return ch, fmt.Errorf("source relation %q is not schema-qualified", r.String())
		}
		wantRel[r] = true
		wantSchema[r.Schema] = true
	}
	relArgs := func(r Relation) []string { return []string{r.Schema, r.Name} }
	schemaArgs := func(s string) []string { return []string{s} }
	if ch.Schemas, err = runForMissing(ctx, tx, n, slices.Sorted(maps.Keys(wantSchema)), haveSchema,
		"grant USAGE to "+n.OwnerRole+" on schema", grantOwnerUsageSQL, schemaArgs); err != nil {
		return ch, err
	}
	if ch.Granted, err = runForMissing(ctx, tx, n, sortedRels(wantRel), haveRel,
		"grant SELECT to "+n.OwnerRole+" on", grantOwnerSelectSQL, relArgs); err != nil {
		return ch, err
	}
	if ch.Revoked, err = runForMissing(ctx, tx, n, sortedRels(haveRel), wantRel,
		"revoke SELECT from "+n.OwnerRole+" on", revokeOwnerSelectSQL, relArgs); err != nil {
		return ch, err
	}
	if _, err = runForMissing(ctx, tx, n, slices.Sorted(maps.Keys(haveSchema)), wantSchema,
		"revoke USAGE from "+n.OwnerRole+" on schema", revokeOwnerUsageSQL, schemaArgs); err != nil {
		return ch, err
	}
	return ch, nil
}

// runForMissing runs stmt (with args(k) as its identifiers) for each key, in order, that skip
// does not hold, and returns those keys.
func runForMissing[K comparable](ctx context.Context, tx pgx.Tx, n Names, keys []K, skip map[K]bool,
	step string, stmt sqlText, args func(K) []string) ([]K, error) {
	var done []K
	for _, k := range keys {
		if skip[k] {
			continue
		}
		a := args(k)
		if err := exec(ctx, tx, step+" "+strings.Join(a, "."), stmt.render(n, a...)); err != nil {
			return done, err
		}
		done = append(done, k)
	}
	return done, nil
}

func sortedRels(m map[Relation]bool) []Relation {
	out := make([]Relation, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Relation) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Dependent is an object that depends on a managed materialized view.
type Dependent struct {
	// Schema and Name of the dependent relation (views, materialized views, ...); empty for
	// objects that are not relations (functions with SQL bodies, policies, ...).
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name,omitempty"`
	Kind   string `json:"kind"` // pg_class.relkind, or the catalog ("function", "policy", ...)
	// Description is pg_describe_object's text, e.g. `view public.report`.
	Description string `json:"description"`
	// Managed is true for materialized views in <S> that have a registry row.
	Managed bool `json:"managed"`
}

// dependentsSQL: objects with a normal dependency on the view ($1 schema, $2 name). A view's
// dependency is recorded on its rewrite rule; it is mapped to the view itself. Indexes, the
// view's own rule, row type and toast table are internal/auto dependencies and not listed.
var dependentsSQL = mustSQL("dependents", `
WITH mv AS (
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = $1 AND c.relname = $2
), deps AS (
  SELECT DISTINCT
         CASE WHEN d.classid = 'pg_rewrite'::regclass THEN 'pg_class'::regclass ELSE d.classid END AS classid,
         CASE WHEN d.classid = 'pg_rewrite'::regclass THEN r.ev_class ELSE d.objid END AS objid
    FROM pg_depend d
    JOIN mv ON d.refclassid = 'pg_class'::regclass AND d.refobjid = mv.oid
    LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
   WHERE d.deptype = 'n'
)
SELECT coalesce(n.nspname, ''), coalesce(iv.view_name, c.relname, ''),
       coalesce(c.relkind::text, replace(deps.classid::regclass::text, 'pg_', '')),
       pg_describe_object(deps.classid, deps.objid, 0),
       coalesce(n.nspname = $1
                AND (iv.view_name IS NOT NULL
                     OR EXISTS (SELECT 1 FROM {{.Views}} v WHERE v.name = c.relname
                                   AND c.relkind = {{template "managed_relkind" "(pg_catalog.to_jsonb(v) ->> 'refresh_strategy')"}})), false)
  FROM deps
  LEFT JOIN pg_class c ON deps.classid = 'pg_class'::regclass AND c.oid = deps.objid
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN unnest($3::text[], $4::text[]) AS iv(def_name, view_name) ON n.nspname = $1 AND iv.def_name = c.relname
 WHERE deps.objid <> (SELECT oid FROM mv)
 ORDER BY 4`)

// DependentsOf lists the objects (managed or not) that depend directly on the managed view
// <S>.<view> (a materialized view, or an incremental view's table), from pg_depend/pg_rewrite.
// An incremental view depends on what it reads through its defining view (<view>$def): such a
// dependent is reported as that managed view. Apply refuses to drop or rebuild a view while
// an unmanaged dependent exists (Managed == false), naming it. Returns nil when the view is
// absent.
func DependentsOf(ctx context.Context, q Reader, n Names, view string) ([]Dependent, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	defs, views, err := defViews(ctx, q, n)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, dependentsSQL.render(n), n.Schema, view, defs, views)
	if err != nil {
		return nil, fmt.Errorf("list dependents of %s: %w", view, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Dependent, error) {
		var d Dependent
		err := r.Scan(&d.Schema, &d.Name, &d.Kind, &d.Description, &d.Managed)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list dependents of %s: %w", view, err)
	}
	return out, nil
}

// catalogSourcesSQL: the relations the view's rewrite rule depends on ($1 schema, $2 name), all
// relation kinds a query can read: tables, views, materialized views, partitioned and foreign
// tables.
const catalogSourcesSQL = `
SELECT DISTINCT sn.nspname, sc.relname, sc.relkind::text
  FROM pg_class v
  JOIN pg_namespace vn ON vn.oid = v.relnamespace
  JOIN pg_rewrite r ON r.ev_class = v.oid
  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class sc ON sc.oid = d.refobjid
  JOIN pg_namespace sn ON sn.oid = sc.relnamespace
 WHERE vn.nspname = $1 AND v.relname = $2
   AND sc.oid <> v.oid
   AND sc.relkind IN ('r', 'v', 'm', 'p', 'f')
 ORDER BY 1, 2`

// defViews returns the defining views of the incremental views and the views' names.
func defViews(ctx context.Context, q Reader, n Names) (defs, views []string, err error) {
	state, err := ReadIncremental(ctx, q, n, "")
	if err != nil {
		return nil, nil, err
	}
	defs, views = []string{}, []string{}
	for _, v := range slices.Sorted(maps.Keys(state)) {
		defs, views = append(defs, state[v].Def), append(views, v)
	}
	return defs, views, nil
}

// DefViews maps each incremental view's defining view (the relation whose rewrite rule holds
// its query and dependencies) to the view's name.
func DefViews(ctx context.Context, q Reader, n Names) (map[string]string, error) {
	defs, views, err := defViews(ctx, q, n)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(defs))
	for i, d := range defs {
		out[d] = views[i]
	}
	return out, nil
}

// CatalogSources returns the relations Postgres records (pg_depend) as read by the view
// schema.view (for an incremental view, pass its defining view), for apply's drift
// cross-check against lineage. Kind is the relkind.
func CatalogSources(ctx context.Context, q Reader, schema, view string) ([]Relation, error) {
	rows, err := q.Query(ctx, catalogSourcesSQL, schema, view)
	if err != nil {
		return nil, fmt.Errorf("read catalog sources of %s.%s: %w", schema, view, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Relation, error) {
		var rel Relation
		err := r.Scan(&rel.Schema, &rel.Name, &rel.Kind)
		return rel, err
	})
	if err != nil {
		return nil, fmt.Errorf("read catalog sources of %s.%s: %w", schema, view, err)
	}
	return out, nil
}
