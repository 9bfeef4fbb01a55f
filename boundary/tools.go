package boundary

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ToolRecord is one tool declared in materialize.yaml (`tools:`) as apply records it in
// <S>.declared_tools, so that plan can say which tools an apply adds, changes and removes.
// The table is the admin's (and the owner role's): the runtime role serves the tools from
// materialize.yaml and cannot read it.
type ToolRecord struct {
	Name string `json:"name"`
	// Hash identifies the declaration: tools.ToolSpec.Hash (name, description, SQL with any
	// sql_file read, parameters).
	Hash        string `json:"hash"`
	Description string `json:"description"`
	// Reads are the managed views the tool's SQL reads, sorted.
	Reads []string `json:"reads"`
	// Spec is the declaration as JSON (a tools.ToolSpec), for saying what changed.
	Spec      json.RawMessage `json:"spec"`
	AppliedAt time.Time       `json:"applied_at"`
}

// toolsMigration creates <S>.declared_tools. A plain CREATE TABLE (the step runs once): a
// managed view of that name would make it fail with a clear error instead of being skipped.
var toolsMigration = sqlTexts("v10", `CREATE TABLE {{.DeclaredTools}} (
    name text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND octet_length(name) <= 63),
    spec_hash text NOT NULL,
    description text NOT NULL DEFAULT '',
    reads text[] NOT NULL DEFAULT '{}',
    spec jsonb NOT NULL DEFAULT '{}',
    applied_at timestamptz NOT NULL DEFAULT now()
)`)

var (
	readToolsSQL = mustSQL("read_tools", `
SELECT name, spec_hash, description, reads, spec, applied_at FROM {{.DeclaredTools}} ORDER BY name`)
	upsertToolSQL = mustSQL("upsert_tool", `
INSERT INTO {{.DeclaredTools}} AS t (name, spec_hash, description, reads, spec) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (name) DO UPDATE
   SET spec_hash = excluded.spec_hash, description = excluded.description, reads = excluded.reads,
       spec = excluded.spec, applied_at = now()
 WHERE (t.spec_hash, t.reads) IS DISTINCT FROM (excluded.spec_hash, excluded.reads)`)
	deleteToolSQL = mustSQL("delete_tool", `DELETE FROM {{.DeclaredTools}} WHERE name = $1`)
)

// ReadTools returns the recorded tools, sorted by name; none when agentmv's objects predate
// the table (schema version below 10, or nothing installed).
func ReadTools(ctx context.Context, q Reader, n Names) ([]ToolRecord, error) {
	if err := n.validSchema(); err != nil {
		return nil, err
	}
	var exists bool
	if err := q.QueryRow(ctx, relationExistsSQL.render(n), n.rel(TableDeclaredTools)).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look up %s.%s: %w", n.Schema, TableDeclaredTools, err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := q.Query(ctx, readToolsSQL.render(n))
	if err != nil {
		return nil, fmt.Errorf("read %s.%s: %w", n.Schema, TableDeclaredTools, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ToolRecord, error) {
		var t ToolRecord
		err := r.Scan(&t.Name, &t.Hash, &t.Description, &t.Reads, &t.Spec, &t.AppliedAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s.%s: %w", n.Schema, TableDeclaredTools, err)
	}
	return out, nil
}

// UpsertTool records a declared tool (apply, in its transaction); an unchanged record is
// left as it is (applied_at keeps the time of the last change).
func UpsertTool(ctx context.Context, q Querier, n Names, t ToolRecord) error {
	if err := n.validSchema(); err != nil {
		return err
	}
	if err := ValidateIdentifier("tool name", t.Name); err != nil {
		return err
	}
	reads := t.Reads
	if reads == nil {
		reads = []string{}
	}
	spec := t.Spec
	if len(spec) == 0 {
		spec = json.RawMessage("{}")
	}
	return exec(ctx, q, "record tool "+t.Name, upsertToolSQL.render(n), t.Name, t.Hash, t.Description, reads, string(spec))
}

// DeleteTool forgets a tool removed from materialize.yaml.
func DeleteTool(ctx context.Context, q Querier, n Names, name string) error {
	if err := n.validSchema(); err != nil {
		return err
	}
	return exec(ctx, q, "forget tool "+name, deleteToolSQL.render(n), name)
}
