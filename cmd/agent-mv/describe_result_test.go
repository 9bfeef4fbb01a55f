package main

import (
	"strings"
	"testing"

	"github.com/agentmv/agentmv/refresh"
)

// TestDescribeSkippedOnce: a skipped view is reported as skipped once, with its cause
// ("- skipped b: upstream view a failed", not "skipped b: skipped: ...").
func TestDescribeSkippedOnce(t *testing.T) {
	got := describeResult(refresh.Result{View: "b", Status: refresh.StatusSkipped, Error: "skipped: upstream view a failed"})
	if got != "- skipped b: upstream view a failed" || strings.Count(got, "skipped") != 1 {
		t.Errorf("describeResult = %q", got)
	}
}
