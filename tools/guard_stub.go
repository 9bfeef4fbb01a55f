//go:build !lineage

// Until package lineage lands, agent SQL cannot be parsed, so every tool that runs agent SQL
// refuses it (fail closed). Delete this file together with guard.go's build tag.

package tools

func guardUnavailable() *ToolError {
	return &ToolError{ErrorType: ErrInternal,
		Message: "this build has no SQL parser (package lineage), so agent SQL is refused",
		Hint:    "rebuild agentmv with package lineage; until then use list_views and describe_view"}
}

func guardRuntime(string, string, func(string) bool) (string, []string, error) {
	return "", nil, guardUnavailable()
}

func guardSample(string) (string, error) { return "", guardUnavailable() }

func guardViewSQL(string) error { return guardUnavailable() }
