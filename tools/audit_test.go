package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentmv/agentmv/tools"
)

// failingWriter fails every write, like a full disk.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestAuditLogLines: each call (ok, refused, panicking) writes one JSON line with the
// registry's agent, the tool, the arguments and the outcome, through a real MCP session.
func TestAuditLogLines(t *testing.T) {
	reg := testRegistry(t)
	reg.SetAgent("support")
	var buf bytes.Buffer
	audit := tools.NewAuditWriter(&buf)
	reg.Observe(audit.Observer())
	cs := session(t, reg)
	for _, c := range []struct{ tool, args string }{{"echo", `{"name":"x"}`}, {"refuse", `{}`}, {"boom", `{}`}} {
		var args map[string]any
		_ = json.Unmarshal([]byte(c.args), &args)
		call(t, cs, c.tool, args)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d audit lines, want 3:\n%s", len(lines), buf.String())
	}
	want := []struct{ tool, outcome, errType string }{{"echo", "ok", ""}, {"refuse", "error", tools.ErrNotAllowed}, {"boom", "error", tools.ErrInternal}}
	for i, l := range lines {
		var rec tools.CallRecord
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		if rec.Agent != "support" || rec.Tool != want[i].tool || rec.Outcome != want[i].outcome || rec.ErrType != want[i].errType || rec.Bytes == 0 {
			t.Errorf("line %d: %+v, want %+v", i, rec, want[i])
		}
	}
	if !strings.Contains(lines[0], `"arguments":{"name":"x"}`) || !strings.Contains(lines[0], `"view":"x"`) {
		t.Errorf("arguments missing: %s", lines[0])
	}
}

// TestAuditLogFailure: a failing audit write never fails the call; it is counted and reported
// once per streak; Reopen recovers a file that was moved away (logrotate).
func TestAuditLogFailure(t *testing.T) {
	reg := testRegistry(t)
	var errLog bytes.Buffer
	audit := tools.NewAuditWriter(failingWriter{})
	reg.Observe(audit.Observer())
	for i := 0; i < 3; i++ {
		if res := reg.Call(context.Background(), "echo", json.RawMessage(`{"name":"y"}`)); res.IsError {
			t.Fatalf("call failed with the audit log failing: %+v", res)
		}
	}
	if audit.Failures() != 3 {
		t.Errorf("failures = %d, want 3", audit.Failures())
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	fl, err := tools.OpenAuditLog(path, tools.AuditOptions{FsyncEvery: true, ErrorLog: &errLog})
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	reg2 := testRegistry(t)
	reg2.Observe(fl.Observer())
	reg2.Call(context.Background(), "echo", json.RawMessage(`{}`))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := fl.Reopen(); err != nil {
		t.Fatal(err)
	}
	reg2.Call(context.Background(), "echo", json.RawMessage(`{}`))
	for _, p := range []string{path + ".1", path} {
		b, err := os.ReadFile(p)
		if err != nil || strings.Count(string(b), "\n") != 1 {
			t.Errorf("%s: %q %v, want one line", p, b, err)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit file mode: %v %v, want 0600", fi.Mode(), err)
	}
}

// BenchmarkAuditOverhead: a registry call with and without the audit log (file, no fsync) and
// the metrics;
// the ratio is the audit's per-call cost on the cheapest tool (a real tool's database work
// makes it smaller). go test -run '^$' -bench AuditOverhead ./tools
func BenchmarkAuditOverhead(b *testing.B) {
	args := json.RawMessage(`{"name":"x"}`)
	for _, mode := range []string{"plain", "audit", "audit+metrics"} {
		name := mode
		reg := tools.NewRegistry()
		if err := reg.Add(echoTool()); err != nil {
			b.Fatal(err)
		}
		if mode != "plain" {
			a, err := tools.OpenAuditLog(filepath.Join(b.TempDir(), "a.jsonl"), tools.AuditOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			reg.Observe(a.Observer())
		}
		if mode == "audit+metrics" {
			m, err := tools.NewMetrics(prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			reg.Observe(m.Observer())
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				reg.Call(context.Background(), "echo", args)
			}
		})
	}
}
