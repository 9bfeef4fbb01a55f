package boundary

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ExpectedVersion is the schema version this agentmv installs and the doctor expects: the
// Version of the last step in migrations (a test checks they agree).
const ExpectedVersion = 14

// Migration is one versioned step of agentmv's own objects in <S>.
type Migration struct {
	Version int
	Name    string
}

// migration is a Migration with what it runs, as the owner role: its statements in order,
// then ALTER TABLE <S>.views ADD COLUMN IF NOT EXISTS for each of its registry columns.
type migration struct {
	Migration
	sql []sqlText
	// columns of <S>.views this step adds, and how ViewRecord maps to them: ReadRegistry,
	// UpsertView and SameMetadata use every step's columns (see doc.go: adding a column).
	columns []registryColumn
}

// migrations is the ordered list; append only, never edit a released step (a later step may
// re-run refreshFunctionSQL when the function body changes: CREATE OR REPLACE keeps its OID).
var migrations = []migration{
	{Migration: Migration{Version: 1, Name: "seed-compatible lineage and refresh_history"}, sql: sqlTexts("v1",
		`CREATE TABLE IF NOT EXISTS {{.SchemaVersion}} (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`,
		`CREATE TABLE IF NOT EXISTS {{.Lineage}} (
    view_name text NOT NULL,
    source_kind text NOT NULL CHECK (source_kind IN ('table', 'view')),
    source_name text NOT NULL,
    PRIMARY KEY (view_name, source_kind, source_name)
)`,
		`CREATE TABLE IF NOT EXISTS {{.History}} (
    id bigserial PRIMARY KEY,
    view_name text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status text NOT NULL CHECK (status IN ('running', 'success', 'failed')),
    error text,
    rows_after bigint,
    mode text CHECK (mode IN ('concurrent', 'blocking'))
)`,
	)},
	{Migration: Migration{Version: 2, Name: "views registry, column lineage, richer history"}, sql: sqlTexts("v2",
		`CREATE TABLE IF NOT EXISTS {{.Views}} (
    name text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND octet_length(name) <= 63),
    description text NOT NULL DEFAULT '',
    sql_hash text NOT NULL DEFAULT '',
    index_spec jsonb NOT NULL DEFAULT '[]',
    min_refresh_interval interval,
    max_staleness interval,
    applied_at timestamptz NOT NULL DEFAULT now()
)`,
		// A seed install's allowlist was "has a lineage row": register those views (empty hash,
		// so the next apply rebuilds them under the owner role).
		`INSERT INTO {{.Views}} (name)
SELECT DISTINCT l.view_name FROM {{.Lineage}} l
 WHERE l.view_name ~ '^[a-z_][a-z0-9_]*$' AND octet_length(l.view_name) <= 63
ON CONFLICT (name) DO NOTHING`,
		`CREATE TABLE IF NOT EXISTS {{.ColumnLineage}} (
    view_name text NOT NULL,
    view_column text NOT NULL,
    source_schema text NOT NULL,
    source_relation text NOT NULL,
    source_column text NOT NULL,
    PRIMARY KEY (view_name, view_column, source_schema, source_relation, source_column)
)`,
		`ALTER TABLE {{.History}}
    ADD COLUMN IF NOT EXISTS mode_reason text,
    ADD COLUMN IF NOT EXISTS sqlstate text,
    ADD COLUMN IF NOT EXISTS called_by text`,
		`CREATE INDEX IF NOT EXISTS refresh_history_view_name_started_at_idx
    ON {{.History}} (view_name, started_at DESC)`,
	), columns: []registryColumn{
		// Created by the CREATE TABLE above (ADD COLUMN IF NOT EXISTS finds them there).
		textColumn("description", "NOT NULL DEFAULT ''", true, false, func(r *ViewRecord) *string { return &r.Description }),
		textColumn("sql_hash", "NOT NULL DEFAULT ''", false, false, func(r *ViewRecord) *string { return &r.SQLHash }),
		jsonColumn("index_spec", "NOT NULL DEFAULT '[]'", false, func(r *ViewRecord) *[]Index { return &r.Indexes }),
		intervalColumn("min_refresh_interval", true, func(r *ViewRecord) **time.Duration { return &r.MinRefreshInterval }),
		intervalColumn("max_staleness", true, func(r *ViewRecord) **time.Duration { return &r.MaxStaleness }),
	}},
	{Migration: Migration{Version: 3, Name: "refresh_view: durable failures, single flight, correct CONCURRENTLY"},
		sql: []sqlText{refreshFunctionSQL}},
	{Migration: Migration{Version: 4, Name: "views.source_sha256: skip re-analysing unchanged SQL files"},
		columns: []registryColumn{
			textColumn("source_sha256", "", false, true, func(r *ViewRecord) *string { return &r.SourceHash }),
		}},
	{Migration: Migration{Version: 5, Name: "refresh_view: concurrent refresh decided by the shared definition (plain key columns only)"},
		sql: []sqlText{refreshFunctionSQL}},
	{Migration: Migration{Version: 6, Name: "refresh_view: bounded lock wait (views.refresh_lock_timeout), blockers named on timeout"},
		sql: []sqlText{refreshFunctionSQL},
		columns: []registryColumn{
			intervalColumn("refresh_lock_timeout", true, func(r *ViewRecord) **time.Duration { return &r.RefreshLockTimeout }),
		}},
	{Migration: Migration{Version: 7, Name: "agents: agent_roles, metadata rows visible only to roles that may read their view (row-level security), refresh_view refuses views the caller cannot read"},
		sql: agentsMigration()},
	{Migration: Migration{Version: 8, Name: "views.refresh_every: the scheduler's interval; the runtime role reads schema_version"},
		columns: []registryColumn{
			intervalColumn("refresh_every", true, func(r *ViewRecord) **time.Duration { return &r.RefreshEvery }),
		}},
	{Migration: Migration{Version: 9, Name: "incremental refresh: refresh_strategy, capture state, history rows_changed and changes_applied"},
		sql: append(append(sqlTexts("v9",
			`CREATE SEQUENCE IF NOT EXISTS {{.CaptureSeq}}`,
			incrementalTableSQL,
			`ALTER TABLE {{.History}} DROP CONSTRAINT IF EXISTS refresh_history_mode_check`,
			`ALTER TABLE {{.History}} ADD CONSTRAINT refresh_history_mode_check CHECK (mode IN ('concurrent', 'blocking', 'incremental'))`,
			`ALTER TABLE {{.History}} ADD COLUMN IF NOT EXISTS rows_changed bigint, ADD COLUMN IF NOT EXISTS changes_applied bigint`,
			`ALTER TABLE {{.Views}} ADD COLUMN IF NOT EXISTS refresh_strategy text NOT NULL DEFAULT 'full' CHECK (refresh_strategy IN ('full', 'incremental'))`,
		), incrementalModeSQL, incrementalRefreshSQL,
			mustSQL("v9 revoke helpers", `REVOKE ALL ON FUNCTION {{.IncrementalMode}}(text, float8), {{.IncrementalRefresh}}(text, text) FROM PUBLIC`)),
			// The metadata row filters again (an incremental view's relation is a table),
			// then the refresh function.
			agentsMigration()...),
		columns: []registryColumn{
			// refresh_strategy is added above (with its CHECK); a change of it rebuilds the view.
			{name: "refresh_strategy", typ: "text", def: "NOT NULL DEFAULT 'full'",
				value: func(r *ViewRecord) any { return r.Strategy() },
				dest:  func(r *ViewRecord) any { return nullText{&r.RefreshStrategy} }},
			floatColumn("incremental_threshold", true, func(r *ViewRecord) **float64 { return &r.IncrementalThreshold }),
		}},
	{Migration: Migration{Version: 10, Name: "declared_tools: the tools of materialize.yaml as last applied (admin only), so plan shows added, changed and removed tools"},
		sql: toolsMigration},
	{Migration: Migration{Version: 11, Name: "refresh_view: a cancel signalled twice cannot roll back the recorded failure"},
		sql: []sqlText{refreshFunctionSQL}},
	{Migration: Migration{Version: 12, Name: "refresh_view: a second cancel signal while the first is being handled is recorded, not raised"},
		sql: []sqlText{refreshFunctionSQL}},
	{Migration: Migration{Version: 13, Name: "metadata row filters: one index probe of pg_class per row instead of a scan of pg_class per statement"},
		sql: agentsMigration()},
	{Migration: Migration{Version: 14, Name: "status mark: a view of the owner, read without the metadata row filters"},
		sql: []sqlText{statusMarkViewSQL}},
}

// sqlTexts parses a migration's statements.
func sqlTexts(step string, texts ...string) []sqlText {
	out := make([]sqlText, len(texts))
	for i, t := range texts {
		out[i] = mustSQL(fmt.Sprintf("migration %s statement %d", step, i+1), t)
	}
	return out
}

var (
	recordMigrationSQL  = mustSQL("record_migration", `INSERT INTO {{.SchemaVersion}} (version, name) VALUES ($1, $2)`)
	installedVersionSQL = mustSQL("installed_version", `SELECT coalesce(max(version), 0) FROM {{.SchemaVersion}}`)
)

var addColumnSQL = mustSQL("add_column", `ALTER TABLE {{.Views}} ADD COLUMN IF NOT EXISTS {{.Arg 0}} {{.ColumnDefinition 0}}`)

// Migrations returns the ordered migration steps (version and name) this agentmv knows.
func Migrations() []Migration {
	out := make([]Migration, len(migrations))
	for i, m := range migrations {
		out[i] = m.Migration
	}
	return out
}

// BootstrapOptions tunes Bootstrap. The zero value (or nil) is the normal apply.
type BootstrapOptions struct {
	// RotatePassword sets the runtime role's password even when the role already exists.
	// Without it an existing role keeps its password: whether the stored verifier matches
	// cannot be checked without reading pg_authid, which is superuser-only, and agentmv
	// supports non-superuser admins. Doctor's TCP login check reports a mismatch.
	RotatePassword bool
	// RevokePublicTemporary revokes TEMPORARY on the current database from PUBLIC (when
	// granted). PUBLIC's grants reach every role, so this changes what every role may do: apply
	// does it only when materialize.yaml says so (public_privileges.revoke_temporary); roles
	// that use temporary tables then need TEMPORARY granted by name. Without it doctor warns.
	RevokePublicTemporary bool
	// RevokePublicCreate revokes CREATE on schema public from PUBLIC (granted by default before
	// PostgreSQL 15), only when materialize.yaml says so
	// (public_privileges.revoke_create_on_public_schema). Without it doctor reports ✗ while
	// the runtime role may create there.
	RevokePublicCreate bool
	// Limits are the runtime role's connection limit and session defaults (SetRoleLimits);
	// zero fields mean the defaults.
	Limits RoleLimits
	// TargetVersion stops the migrations at this version (0 = ExpectedVersion). For tests and
	// staged upgrades.
	TargetVersion int
}

// Result says what Bootstrap did.
type Result struct {
	FromVersion  int         // installed version before (0 = nothing installed)
	ToVersion    int         // installed version after
	Applied      []Migration // migration steps run now, in order
	CreatedRoles []string    // roles created now
	PasswordSet  bool        // the runtime role's password was set (created or rotated)
	Changes      []string    // human-readable notes on anything else changed, for the CLI
}

// Bootstrap creates or upgrades agentmv's objects inside the caller's transaction tx (apply runs
// it first, in its single transaction). It is idempotent: a second run changes nothing.
//
// In order: a transaction advisory lock per schema; roles (the runtime role LOGIN NOINHERIT with
// a client-side SCRAM verifier, never the plaintext; the owner role NOLOGIN); GRANT <O> TO
// current_user when the admin is not yet a member, so it can SET ROLE; REVOKE TEMPORARY on the
// database and CREATE on schema public from PUBLIC (see BootstrapOptions); GRANT TEMPORARY on
// the database to <O> (REFRESH ... CONCURRENTLY needs a temp table); schema <S> owned by
// <O>, adopting objects a previous (seed) install left owned by someone else; then, under SET
// LOCAL ROLE <O>, the pending migrations and the baseline grants:
//
//	REVOKE ALL ON SCHEMA <S> FROM PUBLIC; GRANT USAGE ON SCHEMA <S> TO <R>;
//	GRANT SELECT ON <S>.views, lineage, column_lineage, refresh_history TO <R>;
//	REVOKE EXECUTE ON FUNCTION <S>.refresh_view(text) FROM PUBLIC; GRANT EXECUTE ... TO <R>.
//
// Objects in <S> are created as <O> (not created by the admin and handed over with ALTER ...
// OWNER) so they are owned by <O> for both a superuser admin and a non-superuser CREATEROLE
// admin. Bootstrap ends with RESET ROLE. A database at a newer version than this agentmv is an
// error.
func Bootstrap(ctx context.Context, tx pgx.Tx, n Names, runtimePassword string, opts *BootstrapOptions) (Result, error) {
	var res Result
	if opts == nil {
		opts = &BootstrapOptions{}
	}
	if err := n.Validate(); err != nil {
		return res, err
	}
	target := opts.TargetVersion
	if target == 0 {
		target = ExpectedVersion
	}
	if target < 0 || target > ExpectedVersion {
		return res, fmt.Errorf("target version %d out of range 1..%d", target, ExpectedVersion)
	}

	if err := exec(ctx, tx, "take bootstrap lock", bootstrapLockSQL.render(n), n.Schema); err != nil {
		return res, err
	}
	if err := ensureRoles(ctx, tx, n, runtimePassword, opts, &res); err != nil {
		return res, err
	}
	changes, err := SetRoleLimits(ctx, tx, n, opts.Limits)
	if err != nil {
		return res, err
	}
	res.Changes = append(res.Changes, changes...)
	if err := revokePublicDefaults(ctx, tx, opts, &res); err != nil {
		return res, err
	}
	if err := grantOwnerTemp(ctx, tx, n, &res); err != nil {
		return res, err
	}
	if err := ensureSchema(ctx, tx, n, &res); err != nil {
		return res, err
	}

	if err := exec(ctx, tx, "switch to owner role", setOwnerRoleSQL.render(n)); err != nil {
		return res, fmt.Errorf("%w (the admin must be a superuser or a member of %s)", err, n.OwnerRole)
	}
	from, err := InstalledVersion(ctx, tx, n)
	if err != nil {
		return res, err
	}
	res.FromVersion, res.ToVersion = from, from
	if from > ExpectedVersion {
		return res, fmt.Errorf("schema %s is at version %d, newer than this agentmv understands (%d): upgrade agentmv", n.Schema, from, ExpectedVersion)
	}
	for _, m := range migrations {
		if m.Version <= from || m.Version > target {
			continue
		}
		for i, stmt := range m.sql {
			if err := exec(ctx, tx, fmt.Sprintf("migration %03d [%s] statement %d", m.Version, m.Name, i+1), stmt.render(n)); err != nil {
				return res, err
			}
		}
		for _, c := range m.columns {
			if err := exec(ctx, tx, fmt.Sprintf("migration %03d [%s] column %s", m.Version, m.Name, c.name), addColumnSQL.render(n, c.name)); err != nil {
				return res, err
			}
		}
		if err := exec(ctx, tx, fmt.Sprintf("record migration %03d", m.Version),
			recordMigrationSQL.render(n), m.Version, m.Name); err != nil {
			return res, err
		}
		res.Applied = append(res.Applied, Migration{Version: m.Version, Name: m.Name})
		res.ToVersion = m.Version
	}
	if err := baselineGrants(ctx, tx, n); err != nil {
		return res, err
	}
	if err := exec(ctx, tx, "reset role", resetRoleSQL.render(n)); err != nil {
		return res, err
	}
	return res, nil
}

// InstalledVersion returns the highest version recorded in <S>.schema_version, or 0 when the
// schema or the table does not exist.
func InstalledVersion(ctx context.Context, q Reader, n Names) (int, error) {
	if err := n.validSchema(); err != nil {
		return 0, err
	}
	var exists bool
	if err := q.QueryRow(ctx, relationExistsSQL.render(n), n.rel(TableSchemaVersion)).Scan(&exists); err != nil {
		return 0, fmt.Errorf("read installed version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := q.QueryRow(ctx, installedVersionSQL.render(n)).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read installed version: %w", err)
	}
	return v, nil
}

func ensureRoles(ctx context.Context, tx pgx.Tx, n Names, password string, opts *BootstrapOptions, res *Result) error {
	var exists, canLogin bool
	err := tx.QueryRow(ctx, `SELECT true, rolcanlogin FROM pg_roles WHERE rolname = $1`, n.RuntimeRole).Scan(&exists, &canLogin)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up role %s: %w", n.RuntimeRole, err)
	}
	if !exists || opts.RotatePassword {
		verifier, err := ScramVerifier(password)
		if err != nil {
			return err
		}
		if err := checkVerifier(verifier); err != nil {
			return err
		}
		if !exists {
			if err := exec(ctx, tx, "create runtime role "+n.RuntimeRole, createRuntimeRoleSQL.render(n, verifier)); err != nil {
				return fmt.Errorf("%w (the admin needs CREATEROLE)", err)
			}
			res.CreatedRoles = append(res.CreatedRoles, n.RuntimeRole)
		} else {
			if err := exec(ctx, tx, "set runtime role password", setRuntimePasswordSQL.render(n, verifier)); err != nil {
				return err
			}
			res.Changes = append(res.Changes, "rotated the password of role "+n.RuntimeRole)
		}
		res.PasswordSet = true
	}
	if exists && !canLogin {
		if err := exec(ctx, tx, "allow runtime role to log in", runtimeLoginSQL.render(n)); err != nil {
			return err
		}
		res.Changes = append(res.Changes, "gave role "+n.RuntimeRole+" LOGIN")
	}

	var ownerExists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, n.OwnerRole).Scan(&ownerExists); err != nil {
		return fmt.Errorf("look up role %s: %w", n.OwnerRole, err)
	}
	if !ownerExists {
		if err := exec(ctx, tx, "create owner role "+n.OwnerRole, createOwnerRoleSQL.render(n)); err != nil {
			return fmt.Errorf("%w (the admin needs CREATEROLE)", err)
		}
		res.CreatedRoles = append(res.CreatedRoles, n.OwnerRole)
	}
	var member bool
	if err := tx.QueryRow(ctx, `SELECT pg_has_role(current_user, $1, 'MEMBER')`, n.OwnerRole).Scan(&member); err != nil {
		return fmt.Errorf("check membership in %s: %w", n.OwnerRole, err)
	}
	if !member {
		if err := exec(ctx, tx, "grant owner role to admin", grantOwnerToAdminSQL.render(n)); err != nil {
			return err
		}
		res.Changes = append(res.Changes, "granted role "+n.OwnerRole+" to the admin role so it can SET ROLE")
	}
	return nil
}

// revokePublicDefaults removes TEMPORARY on the current database and CREATE on schema public
// from PUBLIC, each when PUBLIC has it and opts asks for it (PUBLIC grants reach every role, the
// runtime role too).
func revokePublicDefaults(ctx context.Context, tx pgx.Tx, opts *BootstrapOptions, res *Result) error {
	if !opts.RevokePublicTemporary && !opts.RevokePublicCreate {
		return nil
	}
	var db string
	var temp, create bool
	err := tx.QueryRow(ctx, `
SELECT d.datname,
       EXISTS (SELECT 1 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                WHERE a.grantee = 0 AND a.privilege_type = 'TEMPORARY'),
       EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
                WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')
  FROM pg_database d WHERE d.datname = current_database()`).Scan(&db, &temp, &create)
	if err != nil {
		return fmt.Errorf("read PUBLIC privileges: %w", err)
	}
	if temp && opts.RevokePublicTemporary {
		if err := exec(ctx, tx, "revoke TEMPORARY from PUBLIC", revokePublicTempSQL.render(Names{}, db)); err != nil {
			return err
		}
		res.Changes = append(res.Changes, "revoked TEMPORARY on database "+db+" from PUBLIC (grant it to roles that need temp tables)")
	}
	if create && opts.RevokePublicCreate {
		if err := exec(ctx, tx, "revoke CREATE on schema public from PUBLIC", revokePublicCreateSQL.render(Names{})); err != nil {
			return err
		}
		res.Changes = append(res.Changes, "revoked CREATE on schema public from PUBLIC")
	}
	return nil
}

// grantOwnerTemp gives <O> TEMPORARY on the current database by name: REFRESH MATERIALIZED
// VIEW CONCURRENTLY builds the new contents in a temporary table owned by the view owner, and
// fails with "permission denied to create temporary tables" without it. A grant by name keeps
// working when TEMPORARY is revoked from PUBLIC later (by apply or by hand).
func grantOwnerTemp(ctx context.Context, tx pgx.Tx, n Names, res *Result) error {
	var db string
	var has bool
	if err := tx.QueryRow(ctx, `
SELECT d.datname, EXISTS (SELECT 1 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                           WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1) AND a.privilege_type = 'TEMPORARY')
  FROM pg_database d WHERE d.datname = current_database()`,
		n.OwnerRole).Scan(&db, &has); err != nil {
		return fmt.Errorf("check TEMPORARY of %s: %w", n.OwnerRole, err)
	}
	if has {
		return nil
	}
	if err := exec(ctx, tx, "grant TEMPORARY to owner role", grantOwnerTempSQL.render(n, db)); err != nil {
		return err
	}
	res.Changes = append(res.Changes, "granted TEMPORARY on database "+db+" to "+n.OwnerRole+" (REFRESH ... CONCURRENTLY needs it)")
	return nil
}

// adoptSQL lists objects in <S> not owned by <O> (e.g. left by the seed, which ran everything
// as the admin), as ALTER statements. The schema's oid is looked up once (an InitPlan): joined
// to pg_namespace instead, the planner expects one row of pg_class and pg_proc to pass the
// owner test and rescans pg_namespace for each of thousands (~8 ms of every apply; 0.6 now).
const adoptSQL = `
SELECT format('ALTER %s %I.%I OWNER TO %I',
              CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'v' THEN 'VIEW'
                             WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' END,
              $1::text, c.relname, $2::text)
  FROM pg_class c
 WHERE c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = $1)
   AND c.relkind IN ('r', 'p', 'v', 'm')
   AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)
UNION ALL
SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, $2::text)
  FROM pg_proc p
 WHERE p.pronamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = $1)
   AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)`

func ensureSchema(ctx context.Context, tx pgx.Tx, n Names, res *Result) error {
	var owner *string
	err := tx.QueryRow(ctx, `SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1`, n.Schema).Scan(&owner)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up schema %s: %w", n.Schema, err)
	}
	switch {
	case owner == nil:
		if err := exec(ctx, tx, "create schema "+n.Schema, createSchemaSQL.render(n)); err != nil {
			return fmt.Errorf("%w (the admin needs CREATE on the database)", err)
		}
		return nil
	case *owner != n.OwnerRole:
		if err := exec(ctx, tx, "hand schema to owner role", schemaOwnerSQL.render(n)); err != nil {
			return err
		}
		res.Changes = append(res.Changes, fmt.Sprintf("schema %s was owned by %s; now owned by %s", n.Schema, *owner, n.OwnerRole))
	}
	rows, err := tx.Query(ctx, adoptSQL, n.Schema, n.OwnerRole)
	if err != nil {
		return fmt.Errorf("list objects to adopt in %s: %w", n.Schema, err)
	}
	stmts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list objects to adopt in %s: %w", n.Schema, err)
	}
	for _, s := range stmts {
		if err := exec(ctx, tx, "adopt object", s); err != nil {
			return err
		}
		res.Changes = append(res.Changes, s)
	}
	return nil
}

// baselineGrants (re)asserts the schema-level grants; runs as <O> on every Bootstrap.
func baselineGrants(ctx context.Context, tx pgx.Tx, n Names) error {
	var tables []string
	for _, t := range MetadataTables() {
		var ok bool
		if err := tx.QueryRow(ctx, relationExistsSQL.render(n), n.rel(t)).Scan(&ok); err != nil {
			return fmt.Errorf("look up %s.%s: %w", n.Schema, t, err)
		}
		if ok {
			tables = append(tables, t)
		}
	}
	var fn bool
	if err := tx.QueryRow(ctx, functionExistsSQL.render(n), n.function()).Scan(&fn); err != nil {
		return fmt.Errorf("look up %s.%s: %w", n.Schema, FunctionRefreshView, err)
	}
	stmts := []string{revokeSchemaSQL.render(n), grantSchemaUsageSQL.render(n)}
	for _, t := range tables {
		stmts = append(stmts, grantSelectSQL.render(n, t))
	}
	if fn {
		stmts = append(stmts, revokeFunctionSQL.render(n), grantFunctionSQL.render(n))
	}
	for _, s := range stmts {
		if err := exec(ctx, tx, "grant", s); err != nil {
			return err
		}
	}
	return nil
}

// Statements of Bootstrap. {{.LitArg 0}} is a SCRAM verifier (checked by checkVerifier), a
// value Postgres does not take as a parameter in CREATE/ALTER ROLE.
var (
	setOwnerRoleSQL       = mustSQL("set_owner_role", `SET LOCAL ROLE {{.O}}`)
	resetRoleSQL          = mustSQL("reset_role", `RESET ROLE`)
	relationExistsSQL     = mustSQL("relation_exists", `SELECT pg_catalog.to_regclass($1) IS NOT NULL`)
	functionExistsSQL     = mustSQL("function_exists", `SELECT pg_catalog.to_regprocedure($1) IS NOT NULL`)
	createRuntimeRoleSQL  = mustSQL("create_runtime_role", `CREATE ROLE {{.R}} LOGIN NOINHERIT PASSWORD {{.LitArg 0}}`)
	setRuntimePasswordSQL = mustSQL("set_runtime_password", `ALTER ROLE {{.R}} PASSWORD {{.LitArg 0}}`)
	runtimeLoginSQL       = mustSQL("runtime_login", `ALTER ROLE {{.R}} LOGIN`)
	createOwnerRoleSQL    = mustSQL("create_owner_role", `CREATE ROLE {{.O}} NOLOGIN`)
	grantOwnerToAdminSQL  = mustSQL("grant_owner_to_admin", `GRANT {{.O}} TO CURRENT_USER`)
	revokePublicTempSQL   = mustSQL("revoke_public_temp", `REVOKE TEMPORARY ON DATABASE {{.Arg 0}} FROM PUBLIC`)
	revokePublicCreateSQL = mustSQL("revoke_public_create", `REVOKE CREATE ON SCHEMA public FROM PUBLIC`)
	grantOwnerTempSQL     = mustSQL("grant_owner_temp", `GRANT TEMPORARY ON DATABASE {{.Arg 0}} TO {{.O}}`)
	createSchemaSQL       = mustSQL("create_schema", `CREATE SCHEMA {{.S}} AUTHORIZATION {{.O}}`)
	schemaOwnerSQL        = mustSQL("schema_owner", `ALTER SCHEMA {{.S}} OWNER TO {{.O}}`)
	revokeSchemaSQL       = mustSQL("revoke_schema", `REVOKE ALL ON SCHEMA {{.S}} FROM PUBLIC`)
	grantSchemaUsageSQL   = mustSQL("grant_schema_usage", `GRANT USAGE ON SCHEMA {{.S}} TO {{.R}}`)
	grantSelectSQL        = mustSQL("grant_select", `GRANT SELECT ON {{.Rel (index .Args 0)}} TO {{.R}}`)
	revokeFunctionSQL     = mustSQL("revoke_function", `REVOKE ALL ON FUNCTION {{.Function}}(text) FROM PUBLIC`)
	grantFunctionSQL      = mustSQL("grant_function", `GRANT EXECUTE ON FUNCTION {{.Function}}(text) TO {{.R}}`)
)
