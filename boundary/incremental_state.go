package boundary

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

var managedRelationsSQL = mustSQL("managed_relations", `
SELECT c.relname::text, c.relkind::text
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
 WHERE ns.nspname = $1 AND c.relkind IN ('m', 'r') AND strpos(c.relname, '$') = 0`)

// ManagedRelations lists the relations in <S> that can be managed views' (materialized views
// and tables, without agentmv's internal $ names), with their relkind; agentmv's own tables
// are among them under their reserved names. Compare with ManagedRelkind to know whether a
// registered view's relation exists.
func ManagedRelations(ctx context.Context, q Reader, n Names) (map[string]string, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, managedRelationsSQL.render(n), n.Schema)
	if err != nil {
		return nil, fmt.Errorf("list the relations in %s: %w", n.Schema, err)
	}
	out := map[string]string{}
	var name, kind string
	_, err = pgx.ForEachRow(rows, []any{&name, &kind}, func() error { out[name] = kind; return nil })
	if err != nil {
		return nil, fmt.Errorf("list the relations in %s: %w", n.Schema, err)
	}
	return out, nil
}

// ManagedRelkind is the relkind of a managed view's relation for its strategy ("" is full):
// the Go side of the "managed_relkind" fragment.
func ManagedRelkind(strategy string) string {
	if strategy == StrategyIncremental {
		return "r"
	}
	return "m"
}

// captureColumnsSQL: the captured columns still have the numbers and names capture was built
// for (the check the capture function makes on every write).
var captureColumnsSQL = mustSQL("capture_columns", `
SELECT pg_catalog.count(*) = pg_catalog.cardinality($3::text[])
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = pg_catalog.to_regclass($1) AND NOT a.attisdropped
   AND (a.attnum::int, a.attname::text) IN (SELECT * FROM unnest($2::int[], $3::text[]))`)

var captureStateSQL = mustSQL("capture_state", `
SELECT s.ord::int, t.tgname::text, t.tgenabled::text
  FROM pg_catalog.jsonb_array_elements($1::jsonb) WITH ORDINALITY AS s(src, ord)
  JOIN pg_catalog.pg_namespace ns ON ns.nspname = s.src->>'schema'
  JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = s.src->>'name'
  JOIN pg_catalog.pg_trigger t ON t.tgrelid = c.oid
 WHERE t.tgname IN (SELECT pg_catalog.jsonb_array_elements_text(s.src->'triggers'))`)

// CaptureProblems checks every registered incremental view's capture: its state row, and on
// each source table the four triggers present and enabled ALWAYS. It returns, by view, what
// is wrong (views without problems are absent). Writes to a table whose capture is missing
// or disabled go unseen: refresh_view then refreshes in full, doctor reports ✗, and apply
// rebuilds the view.
func CaptureProblems(ctx context.Context, q Reader, n Names, registry []ViewRecord) (map[string]string, error) {
	state, err := ReadIncremental(ctx, q, n, "")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range registry {
		if r.Strategy() != StrategyIncremental {
			continue
		}
		objs, ok := state[r.Name]
		if !ok {
			out[r.Name] = "its capture state is missing from " + n.Schema + "." + TableIncremental
			continue
		}
		rows, err := q.Query(ctx, captureStateSQL.render(n), objs.Sources)
		if err != nil {
			return nil, fmt.Errorf("read the capture triggers of %s: %w", r.Name, err)
		}
		enabled := map[string]string{}
		var ord int
		var name, state string
		if _, err := pgx.ForEachRow(rows, []any{&ord, &name, &state}, func() error { enabled[name] = state; return nil }); err != nil {
			return nil, fmt.Errorf("read the capture triggers of %s: %w", r.Name, err)
		}
		var problems []string
		for _, src := range objs.Sources {
			var same bool
			if err := q.QueryRow(ctx, captureColumnsSQL.render(n), pgx.Identifier{src.Schema, src.Name}.Sanitize(), src.Attnums, src.Columns).Scan(&same); err != nil {
				return nil, fmt.Errorf("read the columns of %s.%s: %w", src.Schema, src.Name, err)
			}
			if !same {
				problems = append(problems, fmt.Sprintf("columns of %s.%s it captures were renamed or dropped (writes are recorded as needing a full refresh)", src.Schema, src.Name))
			}
			missing, disabled := 0, 0
			for _, t := range src.Triggers {
				switch s, ok := enabled[t]; {
				case !ok:
					missing++
				case s != "A":
					disabled++
				}
			}
			table := src.Schema + "." + src.Name
			switch {
			case missing > 0:
				problems = append(problems, fmt.Sprintf("%d of 4 capture triggers on %s are missing", missing, table))
			case disabled > 0:
				problems = append(problems, fmt.Sprintf("%d of 4 capture triggers on %s are not enabled ALWAYS", disabled, table))
			}
		}
		if len(problems) > 0 {
			out[r.Name] = strings.Join(problems, "; ")
		}
	}
	return out, nil
}

var (
	orphanTriggersSQL = mustSQL("orphan_capture_triggers", `
SELECT t.tgname::text, tn.nspname::text, tc.relname::text
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
  JOIN pg_catalog.pg_class tc ON tc.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
 WHERE pn.nspname = $1 AND strpos(p.proname, '$') > 0
   AND NOT (p.proname = ANY ($2::text[]) AND t.tgname = ANY ($3::text[]))
 ORDER BY 2, 3, 1`)
	orphanObjectsSQL = mustSQL("orphan_capture_objects", `
SELECT 'function', p.proname::text FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace ns ON ns.oid = p.pronamespace
 WHERE ns.nspname = $1 AND strpos(p.proname, '$') > 0 AND NOT (p.proname = ANY ($2::text[]))
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END, c.relname::text
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
 WHERE ns.nspname = $1 AND c.relkind IN ('r', 'v') AND strpos(c.relname, '$') > 0 AND NOT (c.relname = ANY ($2::text[]))
 ORDER BY 1, 2`)
)

// Orphans are capture objects no registered incremental view owns.
type Orphans struct {
	triggers [][3]string // name, schema, table
	// Objects are "function <S>.x", "table <S>.x" or "view <S>.x".
	Objects []string
	objects [][2]string
}

// Empty reports whether nothing is left behind.
func (o Orphans) Empty() bool { return len(o.triggers) == 0 && len(o.objects) == 0 }

// String lists them for messages.
func (o Orphans) String() string {
	var parts []string
	for _, t := range o.triggers {
		parts = append(parts, fmt.Sprintf("trigger %s on %s.%s", t[0], t[1], t[2]))
	}
	parts = append(parts, o.Objects...)
	return strings.Join(parts, ", ")
}

// FindOrphans lists capture triggers (on any table) whose function lives in <S>, and internal
// objects in <S> (names with a $), that no row of <S>.incremental owns.
func FindOrphans(ctx context.Context, q Reader, n Names) (Orphans, error) {
	var o Orphans
	state, err := ReadIncremental(ctx, q, n, "")
	if err != nil {
		return o, err
	}
	keep, triggers := []string{SequenceCapture}, []string{}
	for _, name := range slices.Sorted(maps.Keys(state)) {
		objs := state[name]
		keep = append(keep, objs.Def)
		keep = append(keep, objs.Logs...)
		keep = append(keep, objs.Capture...)
		for _, ts := range objs.Triggers {
			triggers = append(triggers, ts[:]...)
		}
	}
	rows, err := q.Query(ctx, orphanTriggersSQL.render(n), n.Schema, keep, triggers)
	if err != nil {
		return o, fmt.Errorf("look for capture left behind: %w", err)
	}
	var a, b, c string
	if _, err := pgx.ForEachRow(rows, []any{&a, &b, &c}, func() error {
		o.triggers = append(o.triggers, [3]string{a, b, c})
		return nil
	}); err != nil {
		return o, fmt.Errorf("look for capture left behind: %w", err)
	}
	rows, err = q.Query(ctx, orphanObjectsSQL.render(n), n.Schema, keep)
	if err != nil {
		return o, fmt.Errorf("look for capture left behind: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&a, &b}, func() error {
		o.objects = append(o.objects, [2]string{a, b})
		o.Objects = append(o.Objects, a+" "+n.Schema+"."+b)
		return nil
	}); err != nil {
		return o, fmt.Errorf("look for capture left behind: %w", err)
	}
	return o, nil
}

// SweepCapture drops what FindOrphans finds (triggers as the admin, the rest as <O>), so an
// apply never leaves capture on a table no incremental view needs. It returns what it dropped.
func SweepCapture(ctx context.Context, tx pgx.Tx, n Names) (Orphans, error) {
	o, err := FindOrphans(ctx, tx, n)
	if err != nil || o.Empty() {
		return o, err
	}
	for _, t := range o.triggers {
		if err := exec(ctx, tx, "drop capture trigger left behind", dropTriggerSQL.render(n, t[0], t[1], t[2])); err != nil {
			return o, err
		}
	}
	err = asOwner(ctx, tx, n, func() error {
		for _, ob := range o.objects {
			stmt := dropTableSQL
			switch ob[0] {
			case "function":
				stmt = dropFunctionSQL
			case "view":
				stmt = dropDefSQL
			}
			if err := exec(ctx, tx, "drop "+ob[0]+" left behind", stmt.render(n, ob[1])); err != nil {
				return err
			}
		}
		return nil
	})
	return o, err
}
