package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func TestVersion(t *testing.T) {
	code, stdout, stderr := runCLI(t, "version")
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "agent-mv ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "--version")
	if code != 0 || stdout != "agent-mv "+versionString()+"\n" {
		t.Errorf("--version: exit %d, stdout %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "version", "--json")
	var bi buildInfo
	if err := json.Unmarshal([]byte(stdout), &bi); err != nil || code != 0 || bi.Version == "" || !strings.HasPrefix(bi.GoVersion, "go") {
		t.Errorf("version --json: exit %d, %q, %v", code, stdout, err)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		wantStderr string
	}{
		{[]string{"--bogus"}, 2, "error: unknown flag: --bogus\nRun 'agent-mv --help' for usage.\n"},
		{[]string{"init", "--nope"}, 2, "error: unknown flag: --nope\nRun 'agent-mv --help' for usage.\n"},
		{[]string{"init", "extra"}, 1, "error: unknown command \"extra\" for \"agent-mv init\"\n"},
		{[]string{"frobnicate"}, 1, "error: unknown command \"frobnicate\" for \"agent-mv\"\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, tt.args...)
		if code != tt.code || stderr != tt.wantStderr || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", tt.args, code, stdout, stderr, tt.code, tt.wantStderr)
		}
	}
}

func TestHelpAndCompletion(t *testing.T) {
	code, stdout, _ := runCLI(t, "--help")
	for _, want := range []string{"agent-mv", "init", "version", "completion", "--config string", "--json", "--database-url", "--runtime-url", "--schema"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--help lacks %q (exit %d):\n%s", want, code, stdout)
		}
	}
	code, stdout, stderr := runCLI(t, "completion", "bash")
	if code != 0 || !strings.Contains(stdout, "bash completion") {
		t.Errorf("completion bash: exit %d, stderr %q", code, stderr)
	}
}

func TestErrorsPrintedOnceAndRedacted(t *testing.T) {
	root := newRootCmd()
	root.AddCommand(&cobra.Command{
		Use: "fail",
		RunE: func(*cobra.Command, []string) error {
			return fmt.Errorf("connect: %w", errors.New("failed to connect to postgres://admin:hunter2@db/app"))
		},
	})
	var out, errb bytes.Buffer
	code := execute(context.Background(), root, []string{"fail"}, &out, &errb)
	if code != 1 || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q", code, out.String())
	}
	if want := "error: connect: failed to connect to postgres://admin:xxxxx@db/app\n"; errb.String() != want {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
}

func TestGlobalFlags(t *testing.T) {
	root := newRootCmd()
	var got rootOptions
	var captured *rootOptions
	for _, c := range root.Commands() {
		if c.Name() == "version" {
			c.RunE = func(*cobra.Command, []string) error { return nil }
		}
	}
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		f := cmd.Flags()
		got.configPath, _ = f.GetString("config")
		got.json, _ = f.GetBool("json")
		got.databaseURL, _ = f.GetString("database-url")
		got.runtimeURL, _ = f.GetString("runtime-url")
		got.schema, _ = f.GetString("schema")
		captured = &got
	}
	var out, errb bytes.Buffer
	code := execute(context.Background(), root, []string{"version", "--json", "--config", "x.yaml", "--database-url", "postgres://a@h/d", "--runtime-url", "postgres://r@h/d", "--schema", "s"}, &out, &errb)
	if code != 0 || captured == nil {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := rootOptions{configPath: "x.yaml", json: true, databaseURL: "postgres://a@h/d", runtimeURL: "postgres://r@h/d", schema: "s"}
	if got != want {
		t.Errorf("flags = %+v, want %+v", got, want)
	}
	o := &rootOptions{databaseURL: "d", runtimeURL: "r", schema: "s"}
	if s := o.overrides(); s.DatabaseURL != "d" || s.RuntimeURL != "r" || s.TargetSchema != "s" {
		t.Errorf("overrides() = %v", s)
	}
	code, _, _ = runCLI(t, "version")
	if code != 0 {
		t.Error("default flags")
	}
}
