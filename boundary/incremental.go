package boundary

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Incremental views (refresh_strategy: incremental). The managed object keeps the view's name
// but is a plain table owned by <O>, with the same columns and the same SELECT grant, so every
// reader is unchanged; refresh_view maintains it from change logs. Per view, in <S>:
//
//   - <view>$def: a plain view holding the defining query (its dependencies are the view's,
//     in pg_depend, exactly like a materialized view's; a full refresh inserts from it);
//   - <view>$key: an index on the columns that identify the rows to recompute;
//   - per source table k: <view>$log<k> (the change log) and <view>$cap<k>() (the SECURITY
//     DEFINER capture function), fired by four statement triggers on the source (INSERT,
//     UPDATE and DELETE with transition tables, TRUNCATE), enabled ALWAYS;
//   - a row of <S>.incremental: the maintenance and full-refresh statements, the search_path
//     they run with, and the capture objects, for refresh_view, drop and doctor.
//
// Names with a $ cannot be managed views (^[a-z_][a-z0-9_]*$), so they never collide. The
// runtime role gets nothing on any of them but SELECT on the view's table.

// Columns every change log has besides the captured ones.
const (
	LogStmt  = "$stmt" // nextval of <S>."$capture_seq" per captured statement: the order of changes
	LogImage = "$img"  // 'o' row before the statement, 'n' after, 't' marker: refresh in full
	LogNote  = "$note" // why, for a 't' marker
)

// InternalName is the name of one of a view's internal objects: base + "$" + suffix, where a
// base too long for 63 bytes is shortened and given a hash of the whole, so names stay unique.
func InternalName(base, suffix string) string {
	if len(base)+1+len(suffix) <= 63 {
		return base + "$" + suffix
	}
	sum := sha256.Sum256([]byte(base))
	keep := 63 - 1 - len(suffix) - 9
	return base[:keep] + "$" + hex.EncodeToString(sum[:4]) + "$" + suffix
}

// CaptureSource is a relation whose changes an incremental view needs: a table outside <S>,
// or (View) an incremental managed view's table.
type CaptureSource struct {
	Schema  string   `json:"schema"`
	Name    string   `json:"name"`
	View    bool     `json:"view,omitempty"`
	Columns []string `json:"columns"`
}

// IncrementalObjects are the internal objects of one incremental view (unquoted names; logs,
// functions and triggers per source, in the order of the sources).
type IncrementalObjects struct {
	Def      string       `json:"def"`
	KeyIndex string       `json:"key_index"`
	Logs     []string     `json:"logs"`
	Capture  []string     `json:"capture"`
	Triggers [][4]string  `json:"triggers"`
	Sources  []CaptureRef `json:"sources"`
}

// CaptureRef is a captured relation with its objects, as stored in <S>.incremental.
type CaptureRef struct {
	CaptureSource
	Log      string    `json:"log"`
	Function string    `json:"function"`
	Triggers [4]string `json:"triggers"` // insert, update, delete, truncate
	Attnums  []int     `json:"attnums"`
}

// IncrementalObjectsOf names the internal objects of view reading sources.
func (n Names) IncrementalObjectsOf(view string, sources []CaptureSource) IncrementalObjects {
	o := IncrementalObjects{Def: InternalName(view, "def"), KeyIndex: InternalName(view, "key")}
	for k, s := range sources {
		i := strconv.Itoa(k + 1)
		ref := CaptureRef{CaptureSource: s, Log: InternalName(view, "log"+i), Function: InternalName(view, "cap"+i)}
		for j, ev := range []string{"i", "u", "d", "t"} {
			ref.Triggers[j] = InternalName(n.Schema+"$"+view, i+ev)
		}
		o.Logs = append(o.Logs, ref.Log)
		o.Capture = append(o.Capture, ref.Function)
		o.Triggers = append(o.Triggers, ref.Triggers)
		o.Sources = append(o.Sources, ref)
	}
	return o
}

// Quoted returns "<S>"."name" for an internal object.
func (n Names) Quoted(name string) string { return n.rel(name) }

// IncrementalSpec is everything CreateIncrementalView needs.
type IncrementalSpec struct {
	Name    string
	Body    string // the deparsed SELECT
	Indexes []Index
	Key     []string // view columns indexed for the maintenance (none for one-row views)
	Sources []CaptureSource
	// MaintainSQL and FullSQL are the statements refresh_view runs (lineage's), built with
	// the names of IncrementalObjectsOf; SearchPath is the search_path they run with (the
	// one the view was analysed and created with, so functions and types resolve the same;
	// empty: tx's current one).
	MaintainSQL, FullSQL, SearchPath string
}

var (
	lockSourceSQL    = mustSQL("lock_source", `LOCK TABLE {{.ArgRel 0 1}} IN SHARE ROW EXCLUSIVE MODE`)
	createDefSQL     = mustSQL("create_def_view", "CREATE VIEW {{.Rel (index .Args 0)}} AS\n")
	createTableSQL   = mustSQL("create_view_table", `CREATE TABLE {{.Rel (index .Args 0)}} AS SELECT * FROM {{.Rel (index .Args 1)}}`)
	createLogSQL     = mustSQL("create_log", `CREATE TABLE {{.Rel (index .Args 0)}} AS SELECT NULL::bigint AS "$stmt", NULL::"char" AS "$img", NULL::text AS "$note"{{range $i, $c := .Args}}{{if gt $i 2}}, {{$.Ident $c}}{{end}}{{end}} FROM {{.ArgRel 1 2}} WITH NO DATA`)
	attnumsSQL       = mustSQL("source_attnums", `SELECT coalesce(array_agg(a.attnum::int ORDER BY u.i), '{}') FROM unnest($2::text[]) WITH ORDINALITY u(name, i) LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = pg_catalog.to_regclass($1) AND a.attname = u.name AND NOT a.attisdropped`)
	revokeCaptureSQL = mustSQL("revoke_capture", `REVOKE ALL ON FUNCTION {{.Rel (index .Args 0)}}() FROM PUBLIC`)
	triggerSQL       = [4]sqlText{
		mustSQL("trigger_insert", `CREATE TRIGGER {{.Arg 0}} AFTER INSERT ON {{.ArgRel 1 2}} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {{.Rel (index .Args 3)}}()`),
		mustSQL("trigger_update", `CREATE TRIGGER {{.Arg 0}} AFTER UPDATE ON {{.ArgRel 1 2}} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {{.Rel (index .Args 3)}}()`),
		mustSQL("trigger_delete", `CREATE TRIGGER {{.Arg 0}} AFTER DELETE ON {{.ArgRel 1 2}} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {{.Rel (index .Args 3)}}()`),
		mustSQL("trigger_truncate", `CREATE TRIGGER {{.Arg 0}} AFTER TRUNCATE ON {{.ArgRel 1 2}} FOR EACH STATEMENT EXECUTE FUNCTION {{.Rel (index .Args 3)}}()`),
	}
	enableAlwaysSQL   = mustSQL("enable_always", `ALTER TABLE {{.ArgRel 0 1}} ENABLE ALWAYS TRIGGER {{.Arg 2}}, ENABLE ALWAYS TRIGGER {{.Arg 3}}, ENABLE ALWAYS TRIGGER {{.Arg 4}}, ENABLE ALWAYS TRIGGER {{.Arg 5}}`)
	recordIncremental = mustSQL("record_incremental", `
INSERT INTO {{.Incremental}} (view_name, objects, maintain_sql, full_sql, search_path, capture_token)
VALUES ($1, $2, $3, $4, $5, {{template "capture_token" "$6::text[]"}})`)
	readIncrementalSQL        = mustSQL("read_incremental", `SELECT view_name, objects FROM {{.Incremental}} WHERE ($1::text IS NULL OR view_name = $1) ORDER BY view_name`)
	dropTriggerSQL            = mustSQL("drop_trigger", `DROP TRIGGER IF EXISTS {{.Arg 0}} ON {{.ArgRel 1 2}}`)
	dropTableSQL              = mustSQL("drop_internal_table", `DROP TABLE IF EXISTS {{.Rel (index .Args 0)}}`)
	dropDefSQL                = mustSQL("drop_def_view", `DROP VIEW IF EXISTS {{.Rel (index .Args 0)}}`)
	dropFunctionSQL           = mustSQL("drop_capture", `DROP FUNCTION IF EXISTS {{.Rel (index .Args 0)}}()`)
	forgetIncremental         = mustSQL("forget_incremental", `DELETE FROM {{.Incremental}} WHERE view_name = $1`)
	searchPathSQL             = mustSQL("current_search_path", `SELECT pg_catalog.current_setting('search_path')`)
	setSearchPathSQL          = mustSQL("set_search_path", `SELECT pg_catalog.set_config('search_path', $1, true)`)
	incrementalTableExistsSQL = mustSQL("incremental_table_exists", `SELECT pg_catalog.to_regclass({{.IncrementalLiteral}}) IS NOT NULL`)
)

// managedRelkindFragment is the one definition of which relation is a managed view's: given
// the view's refresh_strategy (an SQL expression), the pg_class.relkind its relation in <S>
// has: a materialized view ('m'), or for an incremental view a table ('r').
const managedRelkindFragment = `{{define "managed_relkind"}}(CASE WHEN {{.}} = 'incremental' THEN 'r' ELSE 'm' END)::"char"{{end}}`

// strategyOfFragment reads refresh_strategy from the registry row v, as 'full' on an install
// that predates the column (readers the runtime role runs before the next apply).
const strategyOfFragment = `{{define "strategy_of"}}coalesce(pg_catalog.to_jsonb({{.}}) ->> 'refresh_strategy', 'full'){{end}}`

// captureTokenFragment fingerprints the capture triggers of a view: each trigger calling one
// of the functions named by the text[] expression given, with its row version (xmin) and
// enabled state. Disabling, dropping or recreating a trigger changes it (each writes its
// pg_trigger row), so refresh_view knows capture may have missed writes and refreshes in full.
const captureTokenFragment = `{{define "capture_token"}}(SELECT coalesce(pg_catalog.string_agg(t.oid::text || ':' || t.xmin::text || ':' || t.tgenabled::text, ',' ORDER BY t.oid), '')
   FROM pg_catalog.pg_trigger t
  WHERE t.tgfoid = ANY (ARRAY(SELECT pg_catalog.to_regprocedure(f) FROM pg_catalog.unnest({{.}}) f))){{end}}`

// captureSignatures are the capture functions of o as regprocedure texts.
func (n Names) captureSignatures(o IncrementalObjects) []string {
	out := make([]string, len(o.Capture))
	for i, f := range o.Capture {
		out[i] = n.rel(f) + "()"
	}
	return out
}

var captureTokenExprSQL = mustSQL("capture_token_expr", `{{template "capture_token" (index .Args 0)}}`)

// CaptureTokenSQL is the SQL expression of the view's current capture fingerprint (see
// captureTokenFragment), for the maintenance statement to return at its own snapshot.
func (n Names) CaptureTokenSQL(o IncrementalObjects) string {
	lits := make([]string, len(o.Capture))
	for i, s := range n.captureSignatures(o) {
		lits[i] = quoteLiteral(s)
	}
	return captureTokenExprSQL.render(n, "ARRAY["+strings.Join(lits, ", ")+"]::text[]")
}

// CreateIncrementalView creates an incremental view and its capture in tx, and returns how
// many rows it holds. Writers to its sources are blocked from the first statement until tx
// ends (SHARE ROW EXCLUSIVE, the lock CREATE TRIGGER takes anyway), so no write falls between
// the view's contents and the start of capture.
func CreateIncrementalView(ctx context.Context, tx pgx.Tx, n Names, spec IncrementalSpec) (int64, error) {
	if err := n.Validate(); err != nil {
		return 0, err
	}
	if err := ValidateIdentifier("view name", spec.Name); err != nil {
		return 0, err
	}
	body := strings.TrimSpace(spec.Body)
	for strings.HasSuffix(body, ";") {
		body = strings.TrimSpace(strings.TrimSuffix(body, ";"))
	}
	if body == "" {
		return 0, fmt.Errorf("view %s: SQL is empty", spec.Name)
	}
	objs := n.IncrementalObjectsOf(spec.Name, spec.Sources)
	if spec.SearchPath == "" {
		if err := tx.QueryRow(ctx, searchPathSQL.render(n)).Scan(&spec.SearchPath); err != nil {
			return 0, fmt.Errorf("read search_path: %w", err)
		}
	}
	for _, s := range spec.Sources {
		if err := exec(ctx, tx, "lock "+s.Schema+"."+s.Name+" against writes while capture starts", lockSourceSQL.render(n, s.Schema, s.Name)); err != nil {
			return 0, err
		}
	}
	var rows int64
	err := asOwner(ctx, tx, n, func() error {
		sql := createDefSQL.render(n, objs.Def) + body + "\n"
		if _, err := tx.Conn().PgConn().ExecParams(ctx, sql, nil, nil, nil, nil).Close(); err != nil {
			return fmt.Errorf("create view %s (the defining query of %s): %w", objs.Def, spec.Name, err)
		}
		tag, err := tx.Exec(ctx, createTableSQL.render(n, spec.Name, objs.Def))
		if err != nil {
			return fmt.Errorf("create table %s: %w", spec.Name, err)
		}
		rows = tag.RowsAffected()
		if len(spec.Key) > 0 {
			if err := exec(ctx, tx, "create index "+objs.KeyIndex, createIndexSQL.render(n, append([]string{objs.KeyIndex, spec.Name}, spec.Key...)...)); err != nil {
				return err
			}
		}
		for _, ix := range spec.Indexes {
			if err := createIndex(ctx, tx, n, spec.Name, ix); err != nil {
				return err
			}
		}
		if err := exec(ctx, tx, "grant SELECT on "+spec.Name, grantSelectSQL.render(n, spec.Name)); err != nil {
			return err
		}
		for k := range objs.Sources {
			ref := &objs.Sources[k]
			if err := exec(ctx, tx, "create change log "+ref.Log, createLogSQL.render(n, append([]string{ref.Log, ref.Schema, ref.Name}, ref.Columns...)...)); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, attnumsSQL.render(n), pgx.Identifier{ref.Schema, ref.Name}.Sanitize(), ref.Columns).Scan(&ref.Attnums); err != nil {
				return fmt.Errorf("read the columns of %s.%s: %w", ref.Schema, ref.Name, err)
			}
			fn, err := captureFunctionSQL.renderWith(captureData{sqlData{n: n}, *ref})
			if err != nil {
				return err
			}
			if err := exec(ctx, tx, "create capture function "+ref.Function, fn); err != nil {
				return err
			}
			if err := exec(ctx, tx, "revoke capture function", revokeCaptureSQL.render(n, ref.Function)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Triggers are the table owner's business: created by the admin (who owns the tables, or
	// is a member of <O> for an incremental view's table).
	for _, ref := range objs.Sources {
		for j, t := range triggerSQL {
			if err := exec(ctx, tx, "create capture trigger on "+ref.Schema+"."+ref.Name, t.render(n, ref.Triggers[j], ref.Schema, ref.Name, ref.Function)); err != nil {
				return 0, err
			}
		}
		if err := exec(ctx, tx, "enable capture triggers always", enableAlwaysSQL.render(n, ref.Schema, ref.Name, ref.Triggers[0], ref.Triggers[1], ref.Triggers[2], ref.Triggers[3])); err != nil {
			return 0, err
		}
	}
	enc, err := json.Marshal(objs)
	if err != nil {
		return 0, err
	}
	err = asOwner(ctx, tx, n, func() error {
		if err := exec(ctx, tx, "record incremental view "+spec.Name, recordIncremental.render(n),
			spec.Name, enc, spec.MaintainSQL, spec.FullSQL, spec.SearchPath, n.captureSignatures(objs)); err != nil {
			return err
		}
		// Prove the maintenance statement now (the logs are empty: it changes nothing), as
		// refresh_view will run it: as <O>, with its search_path.
		var prev string
		if err := tx.QueryRow(ctx, searchPathSQL.render(n)).Scan(&prev); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, setSearchPathSQL.render(n), spec.SearchPath); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, spec.MaintainSQL); err != nil {
			return fmt.Errorf("view %s: the incremental maintenance statement agentmv wrote fails (%w); use refresh_strategy: full and report this", spec.Name, err)
		}
		_, err := tx.Exec(ctx, setSearchPathSQL.render(n), prev)
		return err
	})
	return rows, err
}

// ReadIncremental returns the recorded objects of the incremental views (all when view is
// ""), by name; an empty map when agentmv has none (or is not installed at this version).
func ReadIncremental(ctx context.Context, q Reader, n Names, view string) (map[string]IncrementalObjects, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	out := map[string]IncrementalObjects{}
	var exists bool
	if err := q.QueryRow(ctx, incrementalTableExistsSQL.render(n)).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read incremental views: %w", err)
	}
	if !exists {
		return out, nil
	}
	var arg *string
	if view != "" {
		arg = &view
	}
	rows, err := q.Query(ctx, readIncrementalSQL.render(n), arg)
	if err != nil {
		return nil, fmt.Errorf("read incremental views: %w", err)
	}
	var name string
	var objs IncrementalObjects
	_, err = pgx.ForEachRow(rows, []any{&name, &objs}, func() error {
		out[name] = objs
		objs = IncrementalObjects{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read incremental views: %w", err)
	}
	return out, nil
}

// DropIncrementalView removes an incremental view: its capture triggers, its table (RESTRICT:
// drop dependents first), its defining view, logs, capture functions and state row. A view
// without state (never incremental) is ignored.
func DropIncrementalView(ctx context.Context, tx pgx.Tx, n Names, view string) error {
	if err := n.Validate(); err != nil {
		return err
	}
	all, err := ReadIncremental(ctx, tx, n, view)
	if err != nil {
		return err
	}
	objs, ok := all[view]
	if !ok {
		return nil
	}
	for _, ref := range objs.Sources {
		for _, t := range ref.Triggers {
			if err := exec(ctx, tx, "drop capture trigger "+t, dropTriggerSQL.render(n, t, ref.Schema, ref.Name)); err != nil {
				return err
			}
		}
	}
	return asOwner(ctx, tx, n, func() error {
		if err := exec(ctx, tx, "drop table "+view, dropTableSQL.render(n, view)); err != nil {
			return err
		}
		if err := exec(ctx, tx, "drop view "+objs.Def, dropDefSQL.render(n, objs.Def)); err != nil {
			return err
		}
		for _, ref := range objs.Sources {
			if err := exec(ctx, tx, "drop capture function "+ref.Function, dropFunctionSQL.render(n, ref.Function)); err != nil {
				return err
			}
			if err := exec(ctx, tx, "drop change log "+ref.Log, dropTableSQL.render(n, ref.Log)); err != nil {
				return err
			}
		}
		return exec(ctx, tx, "forget incremental view "+view, forgetIncremental.render(n), view)
	})
}

// DropManagedView drops a managed view of either strategy: DropIncrementalView for an
// incremental one, DropView for a materialized view.
func DropManagedView(ctx context.Context, tx pgx.Tx, n Names, name, strategy string) error {
	if strategy == StrategyIncremental {
		return DropIncrementalView(ctx, tx, n, name)
	}
	return DropView(ctx, tx, n, name)
}

// IncrementalRefreshMode is how refresh_view refreshes an incremental view (for plan and
// describe_view): from its captured changes, which never blocks readers; in full (a TRUNCATE,
// which does) only past incremental_threshold or when capture was interrupted.
func IncrementalRefreshMode() RefreshMode {
	return RefreshMode{Mode: ModeIncremental, Reason: "captured changes are applied without blocking readers; a full refresh (blocking) only past incremental_threshold or after capture was interrupted"}
}
