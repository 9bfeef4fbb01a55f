package agentmv

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the .golden files under testdata/config")

// copyProject copies testdata/config/project into a temp dir and returns the YAML's path there.
func copyProject(t *testing.T, yamlName string) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", "config", "project")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dst, yamlName)
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "config", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -run %s -update to create it): %v", t.Name(), err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// stripSources removes every `sources:` key and its block list items from a YAML text.
func stripSources(text string) string {
	var out []string
	skipIndent := -1
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if skipIndent >= 0 {
			if trimmed != "" && (indent > skipIndent || (indent == skipIndent && strings.HasPrefix(trimmed, "- "))) {
				continue
			}
			skipIndent = -1
		}
		if strings.HasPrefix(trimmed, "sources:") {
			skipIndent = indent
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func TestWriteSourcesTwentyViews(t *testing.T) {
	path := copyProject(t, "twenty.yaml")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Views) != 20 {
		t.Fatalf("got %d views, want 20", len(cfg.Views))
	}
	sources := map[string][]string{}
	for i, v := range cfg.Views {
		switch i % 4 {
		case 0:
			sources[v.Name] = []string{"public.orders", "public.customers", "public.orders"}
		case 1:
			sources[v.Name] = nil
		case 2:
			sources[v.Name] = []string{"view_01"}
		case 3:
			sources[v.Name] = []string{"public.z", "public.a", "true"}
		}
	}
	if err := cfg.WriteSources(sources); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "twenty.sources", got)
	if diff := cmp.Diff(stripSources(string(orig)), stripSources(string(got))); diff != "" {
		t.Errorf("write-back changed more than the sources lists (-before +after):\n%s", diff)
	}
	// The in-memory config now reflects the file.
	v3, _ := cfg.View("view_04")
	if diff := cmp.Diff([]string{"public.a", "public.z", "true"}, v3.Sources); diff != "" {
		t.Errorf("view_04 sources after write (-want +got):\n%s", diff)
	}
	// A second identical write is a no-op: the file is not replaced.
	before, _ := os.Stat(path)
	if err := cfg.WriteSources(sources); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Errorf("unchanged WriteSources rewrote the file")
	}
	if len(cfg.Warnings) != 2 {
		t.Errorf("warnings = %q, want 2 (owner_team, owner)", cfg.Warnings)
	}
	_ = time.Second
	_ = errors.Is
}
