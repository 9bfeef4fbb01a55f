package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildMu   sync.Mutex
	buildDir  string
	buildDone = map[string]*buildResult{}
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// Command builds ./cmd/<name> of this module (with the given build tags) once per test binary
// and returns the executable's path. A cold link of a cgo binary takes tens of seconds on a
// busy CI machine, too much to repeat per test. The executables share one temp directory per
// test binary; pgtest.Main exits the process, so that directory cannot be removed at the end:
// instead each first build removes the directories of earlier runs older than an hour.
func Command(t testing.TB, name string, tags ...string) string {
	t.Helper()
	key := name + " " + strings.Join(tags, ",")
	buildMu.Lock()
	r := buildDone[key]
	if r == nil {
		r = &buildResult{}
		buildDone[key] = r
	}
	buildMu.Unlock()
	r.once.Do(func() { r.path, r.err = build(name, tags) })
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

func build(name string, tags []string) (string, error) {
	dir, err := commandDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, strings.Join(append([]string{name}, tags...), "-"))
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command(goCommand(), append(args, "./cmd/"+name)...)
	cmd.Dir = moduleRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, b)
	}
	return out, nil
}

// commandDir returns this test binary's directory for built executables.
func commandDir() (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		return buildDir, nil
	}
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), "agentmv-test-bin-*"))
	for _, d := range old {
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Hour {
			_ = os.RemoveAll(d)
		}
	}
	dir, err := os.MkdirTemp("", "agentmv-test-bin-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	return dir, nil
}

// goCommand is the toolchain running the tests, else go on PATH.
func goCommand() string {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err == nil {
		return gobin
	}
	return "go"
}

// moduleRoot is the directory of go.mod (this file is internal/testutil/build.go).
func moduleRoot() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..")
}
