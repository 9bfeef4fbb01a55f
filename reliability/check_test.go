package reliability_test

import (
	"encoding/json"
	"strings"
	"testing"
)

const checkSeed = `
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO t SELECT i, i FROM generate_series(1, 20) i;
`

const checkYAML = `version: 1
target_schema: agent_mv
views:
  - name: a
    sql_file: materialize/a.sql
    description: rows of t
    max_staleness: 1h
  - name: b
    sql_file: materialize/b.sql
    description: inverse of v, per row of a
    max_staleness: 1h
`

// TestStatusCheck: `status --check` exits 0 when every view is fresh and 1, naming the view
// and why, when one is stale (its last success is older than max_staleness, or an upstream
// view's is), failed its last refresh, or is not populated.
func TestStatusCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		break_  string   // admin SQL that puts the project in the state
		refresh []string // views to refresh (as the runtime role) after break_
		code    int
		want    []string // lines (substrings) of the text output
		alarms  []string // view:kind of the --json output, in order
	}{
		{name: "fresh", code: 0, want: []string{"✓ 2 views"}},
		{name: "stale", code: 1,
			break_: `UPDATE agent_mv.refresh_history SET started_at = started_at - interval '2 hours',
			                finished_at = finished_at - interval '2 hours' WHERE view_name = 'a'`,
			want:   []string{"✗ a: stale: last successful refresh is older than max_staleness", "✗ b: stale: upstream view a is stale"},
			alarms: []string{"a:stale", "b:stale"}},
		{name: "failed", code: 1,
			break_:  `UPDATE t SET v = 0 WHERE id = 3`,
			refresh: []string{"a", "b"},
			want:    []string{"✗ b: failed: last refresh failed at ", "division by zero (SQLSTATE 22012)"},
			alarms:  []string{"b:failed"}},
		{name: "unpopulated", code: 1,
			break_: `REFRESH MATERIALIZED VIEW agent_mv.b WITH NO DATA`,
			want:   []string{"✗ b: unpopulated: not populated"},
			alarms: []string{"b:unpopulated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pr := newProject(t, checkSeed)
			pr.write("materialize.yaml", checkYAML)
			pr.write("materialize/a.sql", "SELECT id, v FROM public.t\n")
			pr.write("materialize/b.sql", "SELECT id, 1000 / v AS inv FROM agent_mv.a\n")
			pr.mustRun("apply", "--yes")
			if tt.break_ != "" {
				pr.db.Exec(t, tt.break_)
			}
			for _, v := range tt.refresh {
				pr.run("refresh", v) // b's failure is the point; its exit code is checked elsewhere
			}

			res := pr.run("status", "--check")
			if res.code != tt.code {
				t.Errorf("status --check: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, tt.code, res.stdout, res.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("status --check output lacks %q:\n%s", w, res.stdout)
				}
			}
			if tt.code != 0 && !strings.Contains(res.stderr, "some views need attention") {
				t.Errorf("status --check failed without saying so on stderr: %q", res.stderr)
			}

			res = pr.run("status", "--check", "--json")
			var rep struct {
				OK     bool `json:"ok"`
				Alarms []struct {
					View, Kind, Reason string
				} `json:"alarms"`
				Views []json.RawMessage `json:"views"`
			}
			if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
				t.Fatalf("status --check --json: %v\n%s", err, res.stdout)
			}
			var got []string
			for _, a := range rep.Alarms {
				got = append(got, a.View+":"+a.Kind)
				if a.Reason == "" {
					t.Errorf("alarm %s:%s has no reason", a.View, a.Kind)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.alarms, ",") || rep.OK != (tt.code == 0) || res.code != tt.code || len(rep.Views) != 2 {
				t.Errorf("--json: exit %d, ok %v, alarms %v, %d views; want exit %d, alarms %v, 2 views", res.code, rep.OK, got, len(rep.Views), tt.code, tt.alarms)
			}
		})
	}
}
