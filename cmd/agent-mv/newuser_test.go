package main

// What a new user met following the README on a database of their own (issue 14's
// walk-through): drop's question and its "no", --json errors, completion of view names.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the controller (to type answers) and the terminal a
// child process reads its stdin from.
func openPTY(t *testing.T) (controller, terminal *os.File) {
	t.Helper()
	controller, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	fd := int(controller.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	terminal, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { _ = terminal.Close(); _ = controller.Close() })
	return controller, terminal
}

// TestDropSaysWhatAndAborts: drop names the managed views built on the view before asking;
// "no" at a terminal says "drop aborted" and drops nothing; with --json every outcome,
// errors included, is JSON on stdout.
func TestDropSaysWhatAndAborts(t *testing.T) {
	t.Parallel()
	bin := agentMV(t)
	c := startCluster(t)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"materialize.yaml":            "version: 1\ntarget_schema: agent_mv\nviews:\n  - name: base_counts\n    sql_file: materialize/base_counts.sql\n    description: counts\n  - name: big_counts\n    sql_file: materialize/big_counts.sql\n    description: reads base_counts\n",
		"materialize/base_counts.sql": "SELECT g AS k, g * 2 AS n FROM generate_series(1, 10) g\n",
		"materialize/big_counts.sql":  "SELECT k FROM agent_mv.base_counts WHERE n > 10\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(withoutDatabaseEnv(os.Environ()),
		"DATABASE_URL="+c.URL("postgres"),
		"AGENT_MV_RUNTIME_URL="+c.URLFor("agent_mv_runtime", "pw-drop", "postgres"),
		"AGENT_MV_RUNTIME_PASSWORD=pw-drop")
	run := func(stdin *os.File, args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env, cmd.Stdin = dir, env, stdin
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
	if code, out, errs := run(nil, "apply", "--yes"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}

	controller, terminal := openPTY(t)
	if _, err := controller.WriteString("n\n"); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(terminal, "drop", "base_counts")
	if code != 1 || !strings.Contains(out, "Will drop base_counts and the 1 managed view built on it, dependents first: big_counts, base_counts") ||
		!strings.Contains(out, "Drop 2 views? [y/N]") || errs != "error: drop aborted: nothing was dropped\n" {
		t.Errorf("drop answered no: exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
	if code, out, _ := run(nil, "status"); code != 0 || !strings.Contains(out, "big_counts") {
		t.Errorf("a drop answered no dropped something: exit %d\n%s", code, out)
	}

	// --json: a refused drop, an unknown view, a refresh of an unknown view: one JSON document
	// on stdout, nothing but JSON.
	for _, args := range [][]string{{"drop", "base_counts", "--json"}, {"drop", "nope", "--json"}, {"refresh", "nope", "--json"}, {"status", "--json", "--config", "missing.yaml"}} {
		code, out, errs := run(nil, args...)
		var v struct {
			Error    string `json:"error"`
			ExitCode int    `json:"exit_code"`
		}
		dec := json.NewDecoder(strings.NewReader(out))
		if code != 1 || dec.Decode(&v) != nil || dec.More() {
			t.Errorf("%v: exit %d, stdout is not one JSON document: %q (stderr %q)", args, code, out, errs)
			continue
		}
		if args[0] == "refresh" {
			// refresh --json prints its result, which carries the error, then the error JSON on stderr.
			if !strings.Contains(out, `"status": "failed"`) || !strings.Contains(errs, `"error": "refresh nope: unknown materialized view: nope`) {
				t.Errorf("%v: stdout %q stderr %q", args, out, errs)
			}
			continue
		}
		if v.Error == "" || v.ExitCode != 1 || errs != "" {
			t.Errorf("%v: error JSON %+v, stderr %q", args, v, errs)
		}
	}

	// Shell completion offers the views of materialize.yaml, without a database.
	cmd := exec.Command(bin, "__complete", "refresh", "b")
	cmd.Dir, cmd.Env = dir, append(withoutDatabaseEnv(os.Environ()), "DATABASE_URL=postgres://nobody@127.0.0.1:1/none")
	got, err := cmd.Output()
	if err != nil || !strings.Contains(string(got), "base_counts\tcounts") || !strings.Contains(string(got), "big_counts\treads base_counts") ||
		!strings.Contains(string(got), ":4") {
		t.Errorf("completion of refresh: %v\n%s", err, got)
	}
	cmd = exec.Command(bin, "__complete", "drop", "base_counts", "")
	cmd.Dir, cmd.Env = dir, env
	if got, err := cmd.Output(); err != nil || strings.Contains(string(got), "big_counts") {
		t.Errorf("completion after the view name: %v\n%s", err, got)
	}
}

// TestServeFindsPgCronWithoutConfigFlag: serve started in the project directory without
// --config reads the materialize.yaml there (as every verb does) and leaves scheduling to
// pg_cron when it says so; it used to look only at --config.
func TestServeFindsPgCronWithoutConfigFlag(t *testing.T) {
	t.Parallel()
	bin := agentMV(t)
	c := startCluster(t)
	dir := t.TempDir()
	yaml := "version: 1\ntarget_schema: agent_mv\nviews:\n  - name: one\n    sql_file: materialize/one.sql\n    description: one\n"
	if err := os.MkdirAll(filepath.Join(dir, "materialize"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"materialize.yaml": yaml, "materialize/one.sql": "SELECT 1 AS n\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(withoutDatabaseEnv(os.Environ()),
		"DATABASE_URL="+c.URL("postgres"),
		"AGENT_MV_RUNTIME_URL="+c.URLFor("agent_mv_runtime", "pw-serve", "postgres"),
		"AGENT_MV_RUNTIME_PASSWORD=pw-serve")
	apply := exec.Command(bin, "apply", "--yes")
	apply.Dir, apply.Env = dir, env
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	// Scheduling moves to pg_cron (apply would then keep the jobs; serve only has to stand aside).
	if err := os.WriteFile(filepath.Join(dir, "materialize.yaml"), []byte("scheduler: pg_cron\n"+yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	serve := exec.Command(bin, "serve", "--http", "127.0.0.1:0")
	serve.Dir, serve.Env = sub, env // from a subdirectory: the file is found upward
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = serve.Process.Kill(); _ = serve.Wait() }()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(2 * time.Minute)
	var seen []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve ended without standing aside for pg_cron:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.Contains(l, "says `scheduler: pg_cron`") && strings.Contains(l, "scheduler stays off") {
				return
			}
		case <-deadline:
			t.Fatalf("no word of pg_cron from serve:\n%s", strings.Join(seen, "\n"))
		}
	}
}
