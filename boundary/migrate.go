package boundary

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ExpectedVersion is the schema version this agentmv installs and the doctor expects.
const ExpectedVersion = 4

// Migration is one versioned step of agentmv's own objects in <S>.
type Migration struct {
	Version int
	Name    string
	sql     []string // templates (see Names.render), run in order as the owner role
}

// migrations is the ordered list; append only, never edit a released step (a later step may
// re-run refreshFunctionSQL when the function body changes: CREATE OR REPLACE keeps its OID).
var migrations = []Migration{
	{Version: 1, Name: "seed-compatible lineage and refresh_history", sql: []string{
		`CREATE TABLE IF NOT EXISTS {{S}}.schema_version (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`,
		`CREATE TABLE IF NOT EXISTS {{S}}.lineage (
    view_name text NOT NULL,
    source_kind text NOT NULL CHECK (source_kind IN ('table', 'view')),
    source_name text NOT NULL,
    PRIMARY KEY (view_name, source_kind, source_name)
)`,
		`CREATE TABLE IF NOT EXISTS {{S}}.refresh_history (
    id bigserial PRIMARY KEY,
    view_name text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status text NOT NULL CHECK (status IN ('running', 'success', 'failed')),
    error text,
    rows_after bigint,
    mode text CHECK (mode IN ('concurrent', 'blocking'))
)`,
	}},
	{Version: 2, Name: "views registry, column lineage, richer history", sql: []string{
		`CREATE TABLE IF NOT EXISTS {{S}}.views (
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
		`INSERT INTO {{S}}.views (name)
SELECT DISTINCT l.view_name FROM {{S}}.lineage l
 WHERE l.view_name ~ '^[a-z_][a-z0-9_]*$' AND octet_length(l.view_name) <= 63
ON CONFLICT (name) DO NOTHING`,
		`CREATE TABLE IF NOT EXISTS {{S}}.column_lineage (
    view_name text NOT NULL,
    view_column text NOT NULL,
    source_schema text NOT NULL,
    source_relation text NOT NULL,
    source_column text NOT NULL,
    PRIMARY KEY (view_name, view_column, source_schema, source_relation, source_column)
)`,
		`ALTER TABLE {{S}}.refresh_history
    ADD COLUMN IF NOT EXISTS mode_reason text,
    ADD COLUMN IF NOT EXISTS sqlstate text,
    ADD COLUMN IF NOT EXISTS called_by text`,
		`CREATE INDEX IF NOT EXISTS refresh_history_view_name_started_at_idx
    ON {{S}}.refresh_history (view_name, started_at DESC)`,
	}},
	{Version: 3, Name: "refresh_view: durable failures, single flight, correct CONCURRENTLY", sql: []string{
		refreshFunctionSQL,
	}},
	{Version: 4, Name: "views.source_sha256: skip re-analysing unchanged SQL files", sql: []string{
		`ALTER TABLE {{S}}.views ADD COLUMN IF NOT EXISTS source_sha256 text`,
	}},
}

// Migrations returns the ordered migration steps (version and name) this agentmv knows.
func Migrations() []Migration {
	out := make([]Migration, len(migrations))
	for i, m := range migrations {
		out[i] = Migration{Version: m.Version, Name: m.Name}
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
	// KeepPublicDatabasePrivileges leaves TEMPORARY on the current database and CREATE on
	// schema public granted to PUBLIC. By default Bootstrap revokes them (only if granted), since
	// every role, the runtime role included, inherits them; roles that need temp tables must
	// then be granted TEMPORARY explicitly. Doctor reports ✗ while the runtime role has them.
	KeepPublicDatabasePrivileges bool
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

	if err := exec(ctx, tx, "take bootstrap lock",
		`SELECT pg_advisory_xact_lock(hashtextextended('agentmv:bootstrap:' || $1::text, 0))`, n.Schema); err != nil {
		return res, err
	}
	if err := ensureRoles(ctx, tx, n, runtimePassword, opts, &res); err != nil {
		return res, err
	}
	if !opts.KeepPublicDatabasePrivileges {
		if err := revokePublicDefaults(ctx, tx, &res); err != nil {
			return res, err
		}
	}
	if err := grantOwnerTemp(ctx, tx, n, &res); err != nil {
		return res, err
	}
	if err := ensureSchema(ctx, tx, n, &res); err != nil {
		return res, err
	}

	if err := exec(ctx, tx, "switch to owner role", "SET LOCAL ROLE "+n.qo()); err != nil {
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
			if err := exec(ctx, tx, fmt.Sprintf("migration %03d [%s] statement %d", m.Version, m.Name, i+1), n.render(stmt)); err != nil {
				return res, err
			}
		}
		if err := exec(ctx, tx, fmt.Sprintf("record migration %03d", m.Version),
			n.render(`INSERT INTO {{S}}.schema_version (version, name) VALUES ($1, $2)`), m.Version, m.Name); err != nil {
			return res, err
		}
		res.Applied = append(res.Applied, Migration{Version: m.Version, Name: m.Name})
		res.ToVersion = m.Version
	}
	if err := baselineGrants(ctx, tx, n); err != nil {
		return res, err
	}
	if err := exec(ctx, tx, "reset role", "RESET ROLE"); err != nil {
		return res, err
	}
	return res, nil
}

// InstalledVersion returns the highest version recorded in <S>.schema_version, or 0 when the
// schema or the table does not exist.
func InstalledVersion(ctx context.Context, q Querier, n Names) (int, error) {
	if err := n.Validate(); err != nil {
		return 0, err
	}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, n.qrel("schema_version")).Scan(&exists); err != nil {
		return 0, fmt.Errorf("read installed version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := q.QueryRow(ctx, n.render(`SELECT coalesce(max(version), 0) FROM {{S}}.schema_version`)).Scan(&v)
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
		lit, err := verifierLiteral(verifier)
		if err != nil {
			return err
		}
		if !exists {
			if err := exec(ctx, tx, "create runtime role "+n.RuntimeRole,
				"CREATE ROLE "+n.qr()+" LOGIN NOINHERIT PASSWORD "+lit); err != nil {
				return fmt.Errorf("%w (the admin needs CREATEROLE)", err)
			}
			res.CreatedRoles = append(res.CreatedRoles, n.RuntimeRole)
		} else {
			if err := exec(ctx, tx, "set runtime role password", "ALTER ROLE "+n.qr()+" PASSWORD "+lit); err != nil {
				return err
			}
			res.Changes = append(res.Changes, "rotated the password of role "+n.RuntimeRole)
		}
		res.PasswordSet = true
	}
	if exists && !canLogin {
		if err := exec(ctx, tx, "allow runtime role to log in", "ALTER ROLE "+n.qr()+" LOGIN"); err != nil {
			return err
		}
		res.Changes = append(res.Changes, "gave role "+n.RuntimeRole+" LOGIN")
	}

	var ownerExists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, n.OwnerRole).Scan(&ownerExists); err != nil {
		return fmt.Errorf("look up role %s: %w", n.OwnerRole, err)
	}
	if !ownerExists {
		if err := exec(ctx, tx, "create owner role "+n.OwnerRole, "CREATE ROLE "+n.qo()+" NOLOGIN"); err != nil {
			return fmt.Errorf("%w (the admin needs CREATEROLE)", err)
		}
		res.CreatedRoles = append(res.CreatedRoles, n.OwnerRole)
	}
	var member bool
	if err := tx.QueryRow(ctx, `SELECT pg_has_role(current_user, $1, 'MEMBER')`, n.OwnerRole).Scan(&member); err != nil {
		return fmt.Errorf("check membership in %s: %w", n.OwnerRole, err)
	}
	if !member {
		if err := exec(ctx, tx, "grant owner role to admin", "GRANT "+n.qo()+" TO CURRENT_USER"); err != nil {
			return err
		}
		res.Changes = append(res.Changes, "granted role "+n.OwnerRole+" to the admin role so it can SET ROLE")
	}
	return nil
}

// revokePublicDefaults removes TEMPORARY on the current database and CREATE on schema public
// from PUBLIC, when PUBLIC has them (PUBLIC grants reach every role, the runtime role too).
func revokePublicDefaults(ctx context.Context, tx pgx.Tx, res *Result) error {
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
	if temp {
		if err := exec(ctx, tx, "revoke TEMPORARY from PUBLIC",
			"REVOKE TEMPORARY ON DATABASE "+pgx.Identifier{db}.Sanitize()+" FROM PUBLIC"); err != nil {
			return err
		}
		res.Changes = append(res.Changes, "revoked TEMPORARY on database "+db+" from PUBLIC (grant it to roles that need temp tables)")
	}
	if create {
		if err := exec(ctx, tx, "revoke CREATE on schema public from PUBLIC", "REVOKE CREATE ON SCHEMA public FROM PUBLIC"); err != nil {
			return err
		}
		res.Changes = append(res.Changes, "revoked CREATE on schema public from PUBLIC")
	}
	return nil
}

// grantOwnerTemp gives <O> TEMPORARY on the current database: REFRESH MATERIALIZED VIEW
// CONCURRENTLY builds the new contents in a temporary table owned by the view owner, and fails
// with "permission denied to create temporary tables" without it (PUBLIC no longer has it).
func grantOwnerTemp(ctx context.Context, tx pgx.Tx, n Names, res *Result) error {
	var db string
	var has bool
	if err := tx.QueryRow(ctx, `SELECT current_database(), has_database_privilege($1, current_database(), 'TEMPORARY')`,
		n.OwnerRole).Scan(&db, &has); err != nil {
		return fmt.Errorf("check TEMPORARY of %s: %w", n.OwnerRole, err)
	}
	if has {
		return nil
	}
	if err := exec(ctx, tx, "grant TEMPORARY to owner role",
		"GRANT TEMPORARY ON DATABASE "+pgx.Identifier{db}.Sanitize()+" TO "+n.qo()); err != nil {
		return err
	}
	res.Changes = append(res.Changes, "granted TEMPORARY on database "+db+" to "+n.OwnerRole+" (REFRESH ... CONCURRENTLY needs it)")
	return nil
}

// adoptSQL lists objects in <S> not owned by <O> (e.g. left by the seed, which ran everything
// as the admin), as ALTER statements.
const adoptSQL = `
SELECT format('ALTER %s %I.%I OWNER TO %I',
              CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'v' THEN 'VIEW'
                             WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' END,
              n.nspname, c.relname, $2::text)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm')
   AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)
UNION ALL
SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, $2::text)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = $1 AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)`

func ensureSchema(ctx context.Context, tx pgx.Tx, n Names, res *Result) error {
	var owner *string
	err := tx.QueryRow(ctx, `SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1`, n.Schema).Scan(&owner)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up schema %s: %w", n.Schema, err)
	}
	switch {
	case owner == nil:
		if err := exec(ctx, tx, "create schema "+n.Schema, "CREATE SCHEMA "+n.qs()+" AUTHORIZATION "+n.qo()); err != nil {
			return fmt.Errorf("%w (the admin needs CREATE on the database)", err)
		}
		return nil
	case *owner != n.OwnerRole:
		if err := exec(ctx, tx, "hand schema to owner role", "ALTER SCHEMA "+n.qs()+" OWNER TO "+n.qo()); err != nil {
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

// metadataTables are the tables the runtime role may SELECT.
var metadataTables = []string{"views", "lineage", "column_lineage", "refresh_history"}

// baselineGrants (re)asserts the schema-level grants; runs as <O> on every Bootstrap.
func baselineGrants(ctx context.Context, tx pgx.Tx, n Names) error {
	stmts := []string{
		"REVOKE ALL ON SCHEMA " + n.qs() + " FROM PUBLIC",
		"GRANT USAGE ON SCHEMA " + n.qs() + " TO " + n.qr(),
	}
	for _, t := range metadataTables {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, n.qrel(t)).Scan(&ok); err != nil {
			return fmt.Errorf("look up %s.%s: %w", n.Schema, t, err)
		}
		if ok {
			stmts = append(stmts, "GRANT SELECT ON "+n.qrel(t)+" TO "+n.qr())
		}
	}
	var fn bool
	if err := tx.QueryRow(ctx, `SELECT to_regprocedure($1) IS NOT NULL`, n.qrel("refresh_view")+"(text)").Scan(&fn); err != nil {
		return fmt.Errorf("look up %s.refresh_view: %w", n.Schema, err)
	}
	if fn {
		stmts = append(stmts,
			"REVOKE ALL ON FUNCTION "+n.qrel("refresh_view")+"(text) FROM PUBLIC",
			"GRANT EXECUTE ON FUNCTION "+n.qrel("refresh_view")+"(text) TO "+n.qr())
	}
	for _, s := range stmts {
		if err := exec(ctx, tx, "grant", s); err != nil {
			return err
		}
	}
	return nil
}
