package tools

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/internal/fileio"
	"github.com/agentmv/agentmv/internal/secretscan"
)

// ---- propose_view ----

// ProposeInput is propose_view's input.
type ProposeInput struct {
	Name      string `json:"name" jsonschema:"description=View name: lower-case letters digits and _ (at most 63 bytes),minLength=1,maxLength=63"`
	SQL       string `json:"sql" jsonschema:"description=The view's SELECT,minLength=1"`
	Rationale string `json:"rationale" jsonschema:"description=Why agents need this view (becomes its description)"`
	// ColumnDescriptions become the view's columns: in materialize.yaml (column comments).
	ColumnDescriptions map[string]string `json:"column_descriptions,omitempty" jsonschema:"description=What output columns mean: name -> one line (unit, currency, time zone, what NULL means)"`
	// Tool is an optional tool over the view: an entry of materialize.yaml's tools list.
	Tool *ToolSpec `json:"tool,omitempty" jsonschema:"description=Optional: a parameterized tool over this view (a materialize.yaml tools entry: name, description, sql with @param placeholders, parameters)"`
}

// Proposal is one staged view in the staging file.
type Proposal struct {
	Name      string            `json:"name" yaml:"name"`
	SQL       string            `json:"sql" yaml:"sql"`
	Rationale string            `json:"rationale" yaml:"rationale"`
	Indexes   []IndexSuggestion `json:"indexes,omitempty" yaml:"indexes,omitempty"`
	Columns   []string          `json:"columns,omitempty" yaml:"columns,omitempty"`
	// ColumnDescriptions are what some output columns mean (column name -> one line).
	ColumnDescriptions map[string]string `json:"column_descriptions,omitempty" yaml:"column_descriptions,omitempty"`
	// Tool is the tool proposed with the view (checked by [CompileTool] with the view managed).
	Tool *ToolSpec `json:"tool,omitempty" yaml:"tool,omitempty"`
	Note string    `json:"note,omitempty" yaml:"-"`
}

// checkColumnDescriptions refuses a description of a column the proposal does not output
// (cols; unknown for a proposal staged by an older version, then apply checks).
func checkColumnDescriptions(view string, desc map[string]string, cols []string) error {
	for _, c := range slices.Sorted(maps.Keys(desc)) {
		if len(cols) > 0 && !slices.Contains(cols, c) {
			return NewError(ErrInvalidArgument, fmt.Sprintf("column_descriptions of %s: %q is not an output column (the columns are %s)", view, c, strings.Join(cols, ", ")),
				"describe only the view's output columns, by their output names (aliases)")
		}
	}
	return nil
}

// orderedDescriptions lists desc in the view's column order (then any others by name).
func orderedDescriptions(desc map[string]string, cols []string) []ColumnDescription {
	var out []ColumnDescription
	for _, c := range cols {
		if d, ok := desc[c]; ok {
			out = append(out, ColumnDescription{Column: c, Description: d})
		}
	}
	for _, c := range slices.Sorted(maps.Keys(desc)) {
		if !slices.Contains(cols, c) {
			out = append(out, ColumnDescription{Column: c, Description: desc[c]})
		}
	}
	return out
}

// StagingOutput is propose_view's result: the staged proposal and every staged proposal.
type StagingOutput struct {
	Proposed  Proposal   `json:"proposed"`
	Proposals []Proposal `json:"proposals"`
}

type stagingFile struct {
	Proposals []Proposal `yaml:"proposals"`
}

func (st *setupTools) stagingPath() string { return filepath.Join(st.cfg.Root, StagingFileName) }

func (st *setupTools) readStaging() (stagingFile, bool, error) {
	var sf stagingFile
	data, err := os.ReadFile(st.stagingPath())
	if errors.Is(err, fs.ErrNotExist) {
		return sf, false, nil
	}
	if err != nil {
		return sf, false, err
	}
	if err := yaml.Unmarshal(data, &sf); err != nil {
		return sf, true, fmt.Errorf("read %s: %w; fix or delete the file", StagingFileName, err)
	}
	return sf, true, nil
}

func (st *setupTools) writeStaging(sf stagingFile) error {
	if len(sf.Proposals) == 0 {
		err := os.Remove(st.stagingPath())
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	data, err := yaml.Marshal(sf)
	if err != nil {
		return err
	}
	return fileio.WriteAtomic(st.stagingPath(), data, 0o644)
}

func (st *setupTools) proposeView(ctx context.Context, in ProposeInput) (StagingOutput, error) {
	if err := boundary.ValidateViewName(in.Name); err != nil {
		return StagingOutput{}, &ToolError{ErrorType: ErrInvalidArgument, Err: err, Message: err.Error(),
			Hint: "choose a lower-case name (letters, digits and _, not starting with a digit, at most 63 bytes) that is not an SQL reserved word, does not start with pg_ and is not one of agentmv's own tables"}
	}
	if st.cfg.ViewNames != nil && slices.Contains(st.cfg.ViewNames(), in.Name) {
		return StagingOutput{}, &ToolError{ErrorType: ErrInvalidArgument,
			Message: fmt.Sprintf("view %s already exists in materialize.yaml", in.Name),
			Hint:    "pick another name, or edit the existing view's SQL file"}
	}
	sql := strings.TrimSpace(in.SQL)
	sql = strings.TrimSpace(strings.TrimSuffix(sql, ";"))
	if err := guardViewSQL(sql); err != nil {
		return StagingOutput{}, err
	}
	cols, err := st.describeStatement(ctx, sql)
	if err != nil {
		return StagingOutput{}, err
	}
	if err := checkColumnDescriptions(in.Name, in.ColumnDescriptions, cols); err != nil {
		return StagingOutput{}, err
	}
	p := Proposal{Name: in.Name, SQL: sql, Rationale: in.Rationale, Columns: cols, ColumnDescriptions: in.ColumnDescriptions, Tool: in.Tool}
	if s := suggestUniqueIndex(sql, cols, func(schema, table string) []string { return st.primaryKey(ctx, schema, table) }); s != nil {
		p.Indexes = []IndexSuggestion{*s}
		p.Note = "suggested a unique index on (" + strings.Join(s.Columns, ", ") + "): " + s.Reason + "; refreshes can then run CONCURRENTLY without blocking readers"
	} else {
		p.Note = "no unique key is evident, so refreshes will block readers; if some columns are unique per row, add them as a unique index in materialize.yaml"
	}
	if secret, words := secretColumns(cols); len(secret) > 0 {
		looks, it := "looks", "it"
		if len(secret) > 1 {
			looks, it = "look", "them"
		}
		p.Note += fmt.Sprintf(". Careful: %s %s secret by name (%s); every agent reading this view will see the values: leave %s out unless agents need %s, and ask the user",
			strings.Join(secret, ", "), looks, strings.Join(words, ", "), it, it)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	sf, _, err := st.readStaging()
	if err != nil {
		return StagingOutput{}, err
	}
	// Checked under the lock, against what is staged now.
	if err := st.checkProposedTool(in.Name, in.Tool, sf.Proposals); err != nil {
		return StagingOutput{}, err
	}
	sf.Proposals = slices.DeleteFunc(sf.Proposals, func(q Proposal) bool { return q.Name == p.Name })
	sf.Proposals = append(sf.Proposals, p)
	if err := st.writeStaging(sf); err != nil {
		return StagingOutput{}, fmt.Errorf("write %s: %w", StagingFileName, err)
	}
	return StagingOutput{Proposed: p, Proposals: sf.Proposals}, nil
}

// checkProposedTool checks a tool proposed with view by the rule materialize.yaml's tools go
// through ([CompileTool]), the view, the applied views and the other staged proposals counting
// as managed (finalize_config checks again that what it reads is approved); a tool of
// materialize.yaml or of another staged proposal with the same name is refused too
// (finalize_config would not load).
func (st *setupTools) checkProposedTool(view string, spec *ToolSpec, staged []Proposal) error {
	if spec == nil {
		return nil
	}
	var existing []string
	if st.cfg.ViewNames != nil {
		existing = st.cfg.ViewNames()
	}
	managed := func(name string) bool {
		return name == view || slices.Contains(existing, name) || slices.Contains(boundary.MetadataTables(), name) ||
			slices.ContainsFunc(staged, func(p Proposal) bool { return p.Name == name })
	}
	if _, err := CompileTool(*spec, st.cfg.Schema, managed); err != nil {
		return &ToolError{ErrorType: ErrInvalidArgument, Err: err, Message: err.Error(),
			Hint: "nothing was staged; a tool is one SELECT over " + st.cfg.Schema + "." + view + " (or other managed views) with every parameter used as @name; fix the tool or leave it out"}
	}
	if st.cfg.ToolNames != nil && slices.Contains(st.cfg.ToolNames(), spec.Name) {
		return NewError(ErrInvalidArgument, fmt.Sprintf("tool %s already exists in materialize.yaml", spec.Name), "nothing was staged; pick another tool name")
	}
	for _, p := range staged {
		if p.Name != view && p.Tool != nil && p.Tool.Name == spec.Name {
			return NewError(ErrInvalidArgument, fmt.Sprintf("tool %s is already proposed with view %s", spec.Name, p.Name),
				"nothing was staged; pick another tool name, or propose "+p.Name+" again without its tool")
		}
	}
	return nil
}

// secretColumns are the output columns whose names say they hold secrets
// (secretscan.SecretColumn, the rule profile_table masks by), with the words that say so.
func secretColumns(cols []string) (secret, words []string) {
	for _, c := range cols {
		if w, ok := secretscan.SecretColumn(c); ok {
			secret = append(secret, c)
			if !slices.Contains(words, w) {
				words = append(words, w)
			}
		}
	}
	return secret, words
}

// describeStatement asks the server to plan (not run) the statement inside a read-only
// transaction and returns its output column names. Duplicate or unnamed columns are errors:
// a materialized view needs distinct column names.
func (st *setupTools) describeStatement(ctx context.Context, sql string) ([]string, error) {
	tx, err := st.cfg.Pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true)`, fmt.Sprint(st.cfg.Limits.StatementTimeout.Milliseconds())); err != nil {
		return nil, err
	}
	sd, err := tx.Conn().PgConn().Prepare(ctx, "", sql, nil)
	if err != nil {
		return nil, err
	}
	var cols []string
	for _, f := range sd.Fields {
		if f.Name == "?column?" {
			return nil, &ToolError{ErrorType: ErrInvalidArgument,
				Message: "an output column has no name (?column?)",
				Hint:    "give every computed column an alias: expr AS name"}
		}
		if slices.Contains(cols, f.Name) {
			return nil, &ToolError{ErrorType: ErrInvalidArgument,
				Message: fmt.Sprintf("output column %q appears twice", f.Name),
				Hint:    "alias the columns so every name is distinct"}
		}
		cols = append(cols, f.Name)
	}
	if len(cols) == 0 {
		return nil, &ToolError{ErrorType: ErrInvalidArgument, Message: "the query returns no columns", Hint: "select at least one column"}
	}
	return cols, nil
}

func (st *setupTools) primaryKey(ctx context.Context, schema, table string) []string {
	if schema == "" {
		schema = "public"
	}
	rows, err := st.cfg.Pool.Query(ctx, `SELECT a.attname
  FROM pg_catalog.pg_constraint k
  JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
 WHERE n.nspname = $1 AND c.relname = $2 AND k.contype = 'p'
 ORDER BY u.ord`, schema, table)
	if err != nil {
		return nil
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil
	}
	return cols
}

// ---- finalize_config ----

// FinalizeInput is finalize_config's input.
type FinalizeInput struct {
	ApprovedNames []string `json:"approved_names" jsonschema:"description=Names of the staged proposals the user approved,minItems=1"`
	// ColumnDescriptions add to (or replace) the proposals' own, per approved view.
	ColumnDescriptions map[string]map[string]string `json:"column_descriptions,omitempty" jsonschema:"description=Optional: per approved view, what its output columns mean (name -> one line); added to those given to propose_view"`
}

// FinalizeOutput is finalize_config's result.
type FinalizeOutput struct {
	Added     []string `json:"added"`
	Remaining []string `json:"remaining"` // proposals still staged
	Next      string   `json:"next"`
}

func (st *setupTools) finalizeConfig(ctx context.Context, in FinalizeInput) (FinalizeOutput, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	sf, ok, err := st.readStaging()
	if err != nil {
		return FinalizeOutput{}, err
	}
	if !ok {
		return FinalizeOutput{}, &ToolError{ErrorType: ErrInvalidArgument,
			Message: "no staging file; nothing to finalize", Hint: "stage views with propose_view first"}
	}
	for v := range in.ColumnDescriptions {
		if !slices.Contains(in.ApprovedNames, v) {
			return FinalizeOutput{}, NewError(ErrInvalidArgument, fmt.Sprintf("column_descriptions names %s, which is not among approved_names", v),
				"give column descriptions only for the views you approve")
		}
	}
	existing := []string{}
	if st.cfg.ViewNames != nil {
		existing = st.cfg.ViewNames()
	}
	var views []NewView
	seen := map[string]bool{}
	for _, name := range in.ApprovedNames {
		if err := boundary.ValidateViewName(name); err != nil {
			return FinalizeOutput{}, &ToolError{ErrorType: ErrInvalidArgument, Err: err, Message: err.Error(),
				Hint: "pass the names of staged proposals"}
		}
		if seen[name] {
			return FinalizeOutput{}, NewError(ErrInvalidArgument, fmt.Sprintf("%s is listed twice", name), "list each approved name once")
		}
		seen[name] = true
		if slices.Contains(existing, name) {
			return FinalizeOutput{}, NewError(ErrInvalidArgument, fmt.Sprintf("view %s already exists in materialize.yaml", name),
				"rename the proposal with propose_view, or leave it out")
		}
		i := slices.IndexFunc(sf.Proposals, func(p Proposal) bool { return p.Name == name })
		if i < 0 {
			return FinalizeOutput{}, NewError(ErrInvalidArgument, "unknown proposal: "+name, "call propose_view first; staged names are in "+StagingFileName)
		}
		p := sf.Proposals[i]
		rel := "materialize/" + name + ".sql"
		if _, err := os.Lstat(filepath.Join(st.cfg.Root, filepath.FromSlash(rel))); err == nil {
			return FinalizeOutput{}, NewError(ErrInvalidArgument, rel+" already exists", "remove or rename it, or pick another view name")
		}
		desc := p.Rationale
		if len(desc) > 200 {
			desc = desc[:200]
			for !utf8.ValidString(desc) {
				desc = desc[:len(desc)-1]
			}
		}
		meanings := maps.Clone(p.ColumnDescriptions)
		if extra := in.ColumnDescriptions[name]; len(extra) > 0 {
			if meanings == nil {
				meanings = map[string]string{}
			}
			maps.Copy(meanings, extra)
		}
		if err := checkColumnDescriptions(name, meanings, p.Columns); err != nil {
			return FinalizeOutput{}, err
		}
		views = append(views, NewView{Name: name, SQLFile: rel, Description: desc, Indexes: p.Indexes,
			Columns: orderedDescriptions(meanings, p.Columns), Tool: p.Tool})
	}
	if err := os.MkdirAll(filepath.Join(st.cfg.Root, "materialize"), 0o755); err != nil {
		return FinalizeOutput{}, err
	}
	var written []string
	undo := func() {
		for _, w := range written {
			os.Remove(w)
		}
	}
	for _, v := range views {
		i := slices.IndexFunc(sf.Proposals, func(p Proposal) bool { return p.Name == v.Name })
		path := filepath.Join(st.cfg.Root, filepath.FromSlash(v.SQLFile))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, err = f.WriteString(sf.Proposals[i].SQL + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			undo()
			return FinalizeOutput{}, fmt.Errorf("write %s: %w", v.SQLFile, err)
		}
		written = append(written, path)
	}
	if st.cfg.AddViews == nil {
		undo()
		return FinalizeOutput{}, NewError(ErrInternal, "this server cannot write materialize.yaml", "run the setup server from the project directory")
	}
	if err := st.cfg.AddViews(ctx, views); err != nil {
		undo()
		return FinalizeOutput{}, &ToolError{ErrorType: ErrInvalidArgument, Err: err, Message: err.Error(),
			Hint: "nothing was written; fix the problem and call finalize_config again"}
	}
	out := FinalizeOutput{Added: []string{}, Remaining: []string{},
		Next: "run `agent-mv apply` to build the new views, then `agent-mv doctor`"}
	for _, v := range views {
		out.Added = append(out.Added, v.Name)
	}
	sf.Proposals = slices.DeleteFunc(sf.Proposals, func(p Proposal) bool { return seen[p.Name] })
	for _, p := range sf.Proposals {
		out.Remaining = append(out.Remaining, p.Name)
	}
	if err := st.writeStaging(sf); err != nil {
		return out, fmt.Errorf("views added, but updating %s failed: %w", StagingFileName, err)
	}
	return out, nil
}
