package boundary

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultIncrementalThreshold is the share of the base rows above which refresh_view refreshes
// an incremental view in full instead (the view's incremental_threshold, when set, wins):
// recomputing affected rows costs index probes per changed row, a full refresh a sequential
// pass over everything, so past a share of the base the full refresh is cheaper.
const DefaultIncrementalThreshold = 0.1

// captureFunctionSQL is the capture function of one (view, source): statement triggers call
// it after every INSERT, UPDATE, DELETE and TRUNCATE on the source. It copies the columns the
// view reads from the statement's transition tables into the change log, before-images 'o'
// and after-images 'n', numbered by one value of <S>."$capture_seq" per statement (a row's
// changes are ordered: a later statement that touches the same row waited for the earlier one
// to commit). A TRUNCATE writes a 't' marker (the next refresh is a full one). So that a
// renamed or dropped column never makes the writer's statement fail, the function first
// checks that the columns still have the numbers and names it was built for; if not, it
// writes a 't' marker saying so instead of copying. SECURITY DEFINER, owned by <O>: writers
// need no privilege on <S>; EXECUTE is revoked from PUBLIC (triggers do not check it).
var captureFunctionSQL = mustSQL("capture_function", `
CREATE FUNCTION {{.Fn}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $agentmv$
DECLARE
    v_stmt bigint := pg_catalog.nextval({{.SeqLiteral}}::pg_catalog.regclass);
BEGIN
    IF (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = TG_RELID AND NOT a.attisdropped
           AND (a.attnum::int, a.attname::text) IN ({{.Checks}})) <> {{.NCols}} THEN
        INSERT INTO {{.Log}} ("$stmt", "$img", "$note")
        VALUES (v_stmt, 't', pg_catalog.format('change capture of %I.%I cannot read the columns it was built for (renamed or dropped?): run agent-mv apply', TG_TABLE_SCHEMA, TG_TABLE_NAME));
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO {{.Log}} SELECT v_stmt, 'n', NULL{{.Cols "n"}} FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {{.Log}} SELECT v_stmt, 'o', NULL{{.Cols "o"}} FROM old_rows o
                   UNION ALL SELECT v_stmt, 'n', NULL{{.Cols "n"}} FROM new_rows n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {{.Log}} SELECT v_stmt, 'o', NULL{{.Cols "o"}} FROM old_rows o;
    ELSE
        INSERT INTO {{.Log}} ("$stmt", "$img", "$note")
        VALUES (v_stmt, 't', pg_catalog.format('%I.%I was truncated', TG_TABLE_SCHEMA, TG_TABLE_NAME));
    END IF;
    RETURN NULL;
END;
$agentmv$`)

// captureData is what captureFunctionSQL sees: the names of sqlData plus one source.
type captureData struct {
	sqlData
	ref CaptureRef
}

func (d captureData) Fn() string         { return d.Rel(d.ref.Function) }
func (d captureData) Log() string        { return d.Rel(d.ref.Log) }
func (d captureData) SeqLiteral() string { return quoteLiteral(d.CaptureSeq()) }
func (d captureData) NCols() int         { return len(d.ref.Columns) }

// Cols is ", a.c1, a.c2, ..." over the captured columns.
func (d captureData) Cols(alias string) string {
	var b strings.Builder
	for _, c := range d.ref.Columns {
		b.WriteString(", " + alias + "." + d.Ident(c))
	}
	return b.String()
}

// Checks is "(attnum, 'name'), ..." for the columns as they were when capture was built.
func (d captureData) Checks() (string, error) {
	if len(d.ref.Attnums) != len(d.ref.Columns) {
		return "", fmt.Errorf("capture of %s.%s: %d columns but %d column numbers", d.ref.Schema, d.ref.Name, len(d.ref.Columns), len(d.ref.Attnums))
	}
	parts := make([]string, len(d.ref.Columns))
	for i, c := range d.ref.Columns {
		if d.ref.Attnums[i] <= 0 {
			return "", fmt.Errorf("capture of %s.%s: column %s not found", d.ref.Schema, d.ref.Name, c)
		}
		parts[i] = "(" + strconv.Itoa(d.ref.Attnums[i]) + ", " + quoteLiteral(c) + ")"
	}
	return strings.Join(parts, ", "), nil
}

// DefaultThreshold renders DefaultIncrementalThreshold for the helper functions.
func (d sqlData) DefaultThreshold() string {
	return strconv.FormatFloat(DefaultIncrementalThreshold, 'f', -1, 64)
}

// incrementalModeSQL is <S>.incremental_mode(view, threshold): how refresh_view will refresh an
// incremental view, decided before it starts (for the history row), without locks:
//
//   - 'blocking' (a full refresh) when the view's state is missing, when a capture trigger of
//     a source is missing or not enabled ALWAYS (writes would go unseen: doctor shows it),
//     when the capture fingerprint changed since the last refresh (a trigger was disabled,
//     dropped or recreated meanwhile: writes may have been missed), when a log holds a 't'
//     marker (TRUNCATE, or capture that lost its columns), or when the logs hold more row
//     images than threshold (coalesce(views.incremental_threshold, the default)) times the
//     sources' rows (the larger of pg_class.reltuples and the statistics' live tuples; no
//     limit while both are unknown);
//   - 'incremental' otherwise.
//
// The reason says which, naming the table. The maintenance statement re-checks the markers
// and the fingerprint at its own snapshot (incremental_refresh), so a TRUNCATE or a disabled
// trigger that lands after this decision still turns the refresh into a full one.
var incrementalModeSQL = mustSQL("incremental_mode_function", `
CREATE OR REPLACE FUNCTION {{.IncrementalMode}}(p_name text, p_threshold float8, OUT mode text, OUT reason text)
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $agentmv$
DECLARE
    v_schema constant text := {{.SchemaLiteral}};
    v_objs jsonb;
    v_token text;
    v_now text;
    s jsonb;
    v_n bigint;
    v_note text;
    v_base float8 := 0;
    v_limit bigint;
    v_pending bigint := 0;
BEGIN
    SELECT i.objects, i.capture_token INTO v_objs, v_token FROM {{.Incremental}} i WHERE i.view_name = p_name;
    IF NOT FOUND THEN
        mode := 'blocking';
        reason := 'full refresh: the incremental state of this view is missing (run agent-mv apply)';
        RETURN;
    END IF;
    FOR s IN SELECT e FROM jsonb_array_elements(v_objs->'sources') e LOOP
        SELECT count(*) INTO v_n
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace ns ON ns.oid = c.relnamespace
         WHERE ns.nspname = s->>'schema' AND c.relname = s->>'name' AND t.tgenabled = 'A'
           AND t.tgname IN (SELECT jsonb_array_elements_text(s->'triggers'));
        IF v_n < 4 THEN
            mode := 'blocking';
            reason := format('full refresh: change capture on %I.%I is missing or disabled, so writes to it go unseen (run agent-mv apply; agent-mv doctor shows it)', s->>'schema', s->>'name');
            RETURN;
        END IF;
    END LOOP;
    v_now := {{template "capture_token" "ARRAY(SELECT format('%I.%I()', v_schema, f) FROM jsonb_array_elements_text(v_objs->'capture') f)"}};
    IF v_now IS DISTINCT FROM v_token THEN
        mode := 'blocking';
        reason := 'full refresh: change capture was disabled, dropped or recreated since the last refresh, so writes may have been missed';
        RETURN;
    END IF;
    FOR s IN SELECT e FROM jsonb_array_elements(v_objs->'sources') e LOOP
        EXECUTE format('SELECT "$note" FROM %I.%I WHERE "$img" = ''t'' LIMIT 1', v_schema, s->>'log') INTO v_note;
        IF v_note IS NOT NULL THEN
            mode := 'blocking';
            reason := 'full refresh: ' || v_note;
            RETURN;
        END IF;
        v_base := v_base + greatest(coalesce((SELECT greatest(c.reltuples, pg_stat_get_live_tuples(c.oid))
                                                FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
                                                WHERE ns.nspname = s->>'schema' AND c.relname = s->>'name'), -1), 0);
    END LOOP;
    p_threshold := coalesce(p_threshold, {{.DefaultThreshold}});
    IF v_base > 0 THEN
        v_limit := ceil(p_threshold * v_base);
        FOR s IN SELECT e FROM jsonb_array_elements(v_objs->'sources') e LOOP
            EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %I.%I LIMIT %s) x', v_schema, s->>'log', v_limit + 1 - v_pending) INTO v_n;
            v_pending := v_pending + v_n;
            EXIT WHEN v_pending > v_limit;
        END LOOP;
        IF v_pending > v_limit THEN
            mode := 'blocking';
            reason := format('full refresh: more than %s captured row images, over incremental_threshold %s of the %s rows of the tables it reads', v_limit, p_threshold, v_base::bigint);
            RETURN;
        END IF;
    END IF;
    mode := 'incremental';
    reason := 'captured changes';
END;
$agentmv$`)

// incrementalRefreshSQL is <S>.incremental_refresh(view, mode): runs inside refresh_view's
// protected block. Mode 'incremental' runs the view's maintenance statement (one statement:
// consume the logs and recompute the affected rows at one snapshot) with its search_path; when
// that statement consumed a 't' marker, when the capture fingerprint it read differs from the
// recorded one, or when it fails (other than by cancel, statement or lock timeout, or deadlock:
// those fail the refresh),
// its effects are rolled back and the refresh is a full one instead, with the reason. A full
// refresh empties the table (TRUNCATE, as a blocking REFRESH does), runs the full statement
// (consume the logs and insert the defining query, at one snapshot) and records the current
// capture fingerprint. Returns the final mode and reason (reason NULL: the caller's stands),
// rows_after (exact: the last success's count adjusted by what was deleted and inserted, or
// counted), rows_changed (rows deleted plus inserted; NULL for a full refresh) and changes
// (captured row changes consumed).
var incrementalRefreshSQL = mustSQL("incremental_refresh_function", `
CREATE OR REPLACE FUNCTION {{.IncrementalRefresh}}(p_name text, p_mode text,
    OUT mode text, OUT reason text, OUT rows_after bigint, OUT rows_changed bigint, OUT changes bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $agentmv$
DECLARE
    v_schema constant text := {{.SchemaLiteral}};
    r record;
    v_markers bigint;
    v_del bigint;
    v_ins bigint;
    v_token text;
    v_prev bigint;
    v_err text;
    v_state text;
BEGIN
    SELECT i.* INTO r FROM {{.Incremental}} i WHERE i.view_name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incremental view % has no state in %.incremental', p_name, v_schema
            USING HINT = 'run agent-mv apply';
    END IF;
    mode := p_mode;
    IF p_mode = 'incremental' THEN
        BEGIN
            PERFORM set_config('search_path', r.search_path, true);
            EXECUTE r.maintain_sql INTO changes, v_markers, v_del, v_ins, v_token;
            PERFORM set_config('search_path', 'pg_catalog', true);
            IF v_markers > 0 THEN
                RAISE EXCEPTION 'a TRUNCATE (or capture that lost its columns) was captured while it ran';
            END IF;
            IF v_token IS DISTINCT FROM r.capture_token THEN
                RAISE EXCEPTION 'change capture was disabled, dropped or recreated while it ran';
            END IF;
            SELECT h.rows_after INTO v_prev
              FROM {{.History}} h
             WHERE h.view_name = p_name AND h.status = 'success'
             ORDER BY h.started_at DESC
             LIMIT 1;
            IF v_prev IS NULL THEN
                EXECUTE format('SELECT count(*) FROM %I.%I', v_schema, p_name) INTO rows_after;
            ELSE
                rows_after := v_prev - v_del + v_ins;
            END IF;
            rows_changed := v_del + v_ins;
            reason := format('%s captured row changes applied, %s rows deleted and %s inserted', changes, v_del, v_ins);
            RETURN;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE;
            IF v_state IN ('55P03', '40P01') THEN
                -- A lock timeout or deadlock fails the refresh (refresh_view names the
                -- blockers); a full refresh would need a stronger lock still.
                RAISE;
            END IF;
            mode := 'blocking';
            reason := 'full refresh: incremental maintenance failed: ' || v_err;
        END;
    END IF;
    EXECUTE format('TRUNCATE %I.%I', v_schema, p_name);
    EXECUTE r.full_sql INTO changes, rows_after;
    UPDATE {{.Incremental}} i
       SET capture_token = {{template "capture_token" "ARRAY(SELECT format('%I.%I()', v_schema, f) FROM jsonb_array_elements_text(r.objects->'capture') f)"}}
     WHERE i.view_name = p_name;
END;
$agentmv$`)

// incrementalTableSQL creates <S>.incremental (owner only: it holds SQL).
const incrementalTableSQL = `CREATE TABLE IF NOT EXISTS {{.Incremental}} (
    view_name text PRIMARY KEY,
    objects jsonb NOT NULL,
    maintain_sql text NOT NULL,
    full_sql text NOT NULL,
    search_path text NOT NULL,
    capture_token text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
)`
