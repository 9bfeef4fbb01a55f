package tools

import (
	"errors"
	"fmt"
	"path"
	"strings"

	pgparser "github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/agentmv/agentmv/lineage"
)

// FuncRule denies the built-in functions whose lower-case name matches Pattern (a path.Match
// glob such as "pg_read_*"). Why is shown to the agent.
type FuncRule struct {
	Pattern string
	Why     string
}

// DeniedFunctions is the one table of functions agent SQL may not call (query_view and
// sample_query both go through [CheckQuery]). Besides these, any schema-qualified function
// outside pg_catalog is denied (user functions, extension functions, agentmv's own).
//
// Why a denylist and not an allowlist: Postgres has thousands of built-in functions and
// analytics needs a wide, unpredictable part of them (date/time, string, json, math,
// aggregates, window functions, and the functions behind operators and casts, which never
// appear as calls). An allowlist either breaks ordinary queries or grows into a copy of
// pg_proc. The data boundary is the runtime role's privileges, not this table; the table only
// closes what privileges do not: functions every role may EXECUTE that reveal view bodies or
// settings, run SQL text that would bypass the guard, hold locks or connections, signal other
// sessions, or have effects outside the read-only transaction. Unqualified calls resolve with
// search_path = <S>, pg_catalog (pg_temp is never searched for functions), so they reach only
// built-ins and agentmv's refresh function, which is listed here.
var DeniedFunctions = []FuncRule{
	{"pg_get_*def", "reveals object definitions (view bodies are private)"},
	{"pg_get_expr", "reveals stored expressions"},
	{"pg_read_*", "reads server files"},
	{"pg_ls_*", "lists server directories"},
	{"pg_stat_file", "reads server file metadata"},
	{"pg_file_*", "writes server files"},
	{"pg_current_logfile", "reveals server paths"},
	{"lo_*", "large objects read and write server-side data and files"},
	{"dblink*", "opens a session outside the read-only transaction"},
	{"set_config", "changes settings (timeouts, search_path)"},
	{"current_setting", "reveals server settings"},
	{"pg_show_all_settings", "reveals server settings"},
	{"pg_sleep*", "holds a connection without doing work"},
	{"pg_advisory*", "takes advisory locks (could block refreshes)"},
	{"pg_try_advisory*", "takes advisory locks (could block refreshes)"},
	{"pg_terminate_backend", "kills other sessions"},
	{"pg_cancel_backend", "cancels other sessions' queries"},
	{"pg_reload_conf", "server administration"},
	{"pg_rotate_logfile", "server administration"},
	{"pg_log_backend_memory_contexts", "server administration"},
	{"pg_stat_reset*", "resets statistics"},
	{"txid_*", "transaction IDs are not needed to read views"},
	{"pg_current_xact_id*", "assigns a transaction ID"},
	{"nextval", "advances a sequence"},
	{"setval", "changes a sequence"},
	{"currval", "reads session sequence state"},
	{"lastval", "reads session sequence state"},
	{"*_to_xml*", "runs SQL given as text, bypassing these checks"},
	{"ts_stat", "runs SQL given as text, bypassing these checks"},
	{"ts_rewrite", "can run SQL given as text, bypassing these checks"},
	{"pg_notify", "sends notifications to other sessions"},
	{"pg_logical_*", "replication administration"},
	{"pg_replication_*", "replication administration"},
	{"pg_create_*", "creates server objects (slots, restore points)"},
	{"pg_drop_*", "drops server objects"},
	{"pg_switch_wal", "server administration"},
	{"pg_backup_*", "server administration"},
	{"pg_start_backup", "server administration"},
	{"pg_stop_backup", "server administration"},
	{"pg_promote", "server administration"},
	{"pg_wal_replay_*", "server administration"},
	{"pg_import_system_collations", "writes to the catalog"},
	{"pg_export_snapshot", "exports transaction state"},
	{"refresh_view", "use the refresh_view tool instead"},
}

// deniedFunction returns the rule that denies the function, if any.
func deniedFunction(name string) (FuncRule, bool) {
	name = strings.ToLower(name)
	for _, r := range DeniedFunctions {
		if ok, _ := path.Match(r.Pattern, name); ok {
			return r, true
		}
	}
	return FuncRule{}, false
}

// errNotManaged marks the rejection of a name of <S> that is not a managed view (it may have
// been applied since the registry was read).
var errNotManaged = errors.New("not a managed view")

// CheckQuery is the single gate for SQL written by an agent. It parses sql with pg_query (via
// package lineage: exactly one plain SELECT — no INTO, no locking clause, no data-modifying
// CTE), then requires:
//   - every relation to be qualified with schema or unqualified, and allowed(name) — the
//     managed views and agentmv's read-only metadata tables (CTE names are not relations);
//     catalogs, information_schema, other schemas and unmanaged names are not_allowed;
//   - every function to be a built-in (unqualified or pg_catalog.) not in [DeniedFunctions].
//
// It returns the parsed query and its deparsed text, which is what [ExecQuery] must run (never
// the raw text). Errors are [*ToolError]s: syntax for unparsable SQL, not_allowed otherwise.
func CheckQuery(sql, schema string, allowed func(name string) bool) (*lineage.Query, string, error) {
	return checkQuery(sql, func(relSchema, relName string) *ToolError {
		name := relName
		if relSchema != "" {
			name = relSchema + "." + relName
		}
		if relSchema != "" && relSchema != schema {
			return &ToolError{ErrorType: ErrNotAllowed,
				Message: fmt.Sprintf("relation %s is outside schema %s", name, schema),
				Hint:    fmt.Sprintf("query only the managed views of %s (call list_views), qualified with %s. or unqualified", schema, schema)}
		}
		if allowed == nil || !allowed(relName) {
			return &ToolError{ErrorType: ErrNotAllowed, Err: errNotManaged,
				Message: fmt.Sprintf("relation %s is not a managed view of schema %s", name, schema),
				Hint:    "call list_views to see the views you can query"}
		}
		return nil
	})
}

// CheckSampleQuery is [CheckQuery] for the setup tools' sample_query: the same statement and
// function rules, but relations may be any user table or view; system relations are
// not_allowed ([systemRelation], the rule every setup tool follows).
func CheckSampleQuery(sql string) (*lineage.Query, string, error) {
	return checkQuery(sql, systemRelation)
}

// systemRelation is the one rule for what the setup tools never read (sample_query,
// list_tables, describe_table and profile_table all call it): system catalogs, the
// information_schema and any pg_* schema or name (unqualified names resolve with
// search_path = public, pg_catalog, pg_temp, so any pg_* name could reach a catalog such as
// pg_authid). name may be empty (a whole schema). It returns nil for a user relation.
func systemRelation(schema, name string) *ToolError {
	s, n := strings.ToLower(schema), strings.ToLower(name)
	if s != "information_schema" && !strings.HasPrefix(s, "pg_") && !strings.HasPrefix(n, "pg_") {
		return nil
	}
	full := name
	if schema != "" {
		full = strings.TrimSuffix(schema+"."+name, ".")
	}
	return &ToolError{ErrorType: ErrNotAllowed,
		Message: fmt.Sprintf("system catalogs are not readable by the setup tools: %s", full),
		Hint:    "the setup tools read user tables: list_schemas and list_tables name them; describe_table, profile_table and sample_query read them"}
}

func checkQuery(sql string, relation func(schema, name string) *ToolError) (*lineage.Query, string, error) {
	q, err := lineage.Parse(sql)
	if err != nil {
		return nil, "", parseError(err)
	}
	for _, r := range q.Relations() {
		if te := relation(r.Schema, r.Name); te != nil {
			return nil, "", te
		}
	}
	for _, f := range q.Functions() {
		if f.Schema != "" && f.Schema != "pg_catalog" {
			return nil, "", &ToolError{ErrorType: ErrNotAllowed,
				Message: fmt.Sprintf("function %s.%s is not allowed: only built-in functions may be called", f.Schema, f.Name),
				Hint:    "use built-in functions (count, sum, date_trunc, coalesce, ...)"}
		}
		if rule, denied := deniedFunction(f.Name); denied {
			return nil, "", &ToolError{ErrorType: ErrNotAllowed,
				Message: fmt.Sprintf("function %s is not allowed: it %s", f.Name, rule.Why),
				Hint:    "remove the call; only plain reads are allowed here"}
		}
	}
	deparsed, err := q.Deparse()
	if err != nil {
		return nil, "", &ToolError{ErrorType: ErrInternal, Err: err,
			Message: "cannot deparse the checked query: " + err.Error(),
			Hint:    "rewrite the query more simply and retry"}
	}
	return q, deparsed, nil
}

// guardRuntime checks agent SQL for query_view and returns the text to run and the names of
// the relations it reads.
func guardRuntime(sql, schema string, allowed func(string) bool) (string, []string, error) {
	q, deparsed, err := CheckQuery(sql, schema, allowed)
	if err != nil {
		return "", nil, err
	}
	var read []string
	for _, r := range q.Relations() {
		read = append(read, r.Name)
	}
	return deparsed, read, nil
}

// guardSample checks agent SQL for sample_query.
func guardSample(sql string) (string, error) {
	_, deparsed, err := CheckSampleQuery(sql)
	return deparsed, err
}

// guardViewSQL checks a proposed view body: one plain SELECT, denied functions rejected
// (a view body runs on every refresh as the owner role), catalogs not read.
func guardViewSQL(sql string) error {
	_, _, err := CheckSampleQuery(sql)
	return err
}

// parseError classifies a lineage.Parse failure: statements that parse but are not one plain
// SELECT are not_allowed; text pg_query cannot parse is a syntax error.
func parseError(err error) *ToolError {
	if isSyntaxError(err) {
		return &ToolError{ErrorType: ErrSyntax, Err: err, Message: err.Error(),
			Hint: "fix the SQL syntax; send exactly one SELECT statement"}
	}
	return &ToolError{ErrorType: ErrNotAllowed, Err: err, Message: err.Error(),
		Hint: "send exactly one plain SELECT (no INTO, FOR UPDATE, data-modifying WITH, or other statements)"}
}

// isSyntaxError reports whether pg_query itself rejected the text (lineage wraps its
// *parser.Error); any other Parse error means the statement parsed but is not allowed.
func isSyntaxError(err error) bool {
	var pe *pgparser.Error
	return errors.Is(err, lineage.ErrSyntax) || errors.Is(err, lineage.ErrEmpty) || errors.As(err, &pe)
}
