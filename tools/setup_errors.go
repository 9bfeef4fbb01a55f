package tools

import (
	"context"
	"slices"
	"strings"
)

// setupHints are the next steps of the setup tools for the error types whose default hints
// ([AsToolError]) name tools of the runtime server, which the setup agent does not have.
var setupHints = map[string]string{
	ErrUnknownView:     "call list_tables(schema) for the names of the tables; write schema.table",
	ErrUnknownRelation: "call list_tables(schema) for the names of the tables; write schema.table",
	ErrNotAllowed:      "the admin connection may not read that; pick another table (list_tables) or ask the operator for SELECT on it",
	ErrQuery:           "Postgres rejected the query; fix it using the message (describe_table gives column names and types)",
}

// runtimeToolNames are the tools only the runtime server has.
var runtimeToolNames = []string{ToolListViews, ToolDescribeView, ToolQueryView, ToolRefreshView, ToolGetLineage}

// RuntimeToolNames returns the names of the five built-in runtime tools (a new slice).
func RuntimeToolNames() []string { return slices.Clone(runtimeToolNames) }

// setupError is [AsToolError] for the setup tools: a hint that names a runtime tool is
// replaced by the setup tools' next step, and an unknown relation is unknown_relation (the
// setup tools read tables, not managed views). The cause is kept.
func setupError(err error) error {
	if err == nil {
		return nil
	}
	te := AsToolError(err)
	hint, ok := setupHints[te.ErrorType]
	if !ok || !namesRuntimeTool(te.Hint) {
		return te
	}
	c := *te
	c.Hint = hint
	if c.ErrorType == ErrUnknownView {
		c.ErrorType = ErrUnknownRelation
	}
	return &c
}

func namesRuntimeTool(s string) bool {
	for _, n := range runtimeToolNames {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// setupHandler wraps a setup tool's handler so its errors get the setup hints (setupError).
func setupHandler[In, Out any](f func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		out, err := f(ctx, in)
		return out, setupError(err)
	}
}
