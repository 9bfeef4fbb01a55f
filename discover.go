package agentmv

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/tools"
)

// Discovery is a summary of the database for choosing views: what `agent-mv discover` prints.
// It is built with the same setup tools an agent uses (list_schemas, list_tables,
// describe_table), so the operator sees what the agent sees.
type Discovery struct {
	Schemas    []DiscoveredSchema `json:"schemas"`
	Candidates []Candidate        `json:"candidates"`
}

// DiscoveredSchema is one user schema and its relations.
type DiscoveredSchema struct {
	Name   string            `json:"name"`
	Tables []DiscoveredTable `json:"tables"`
}

// DiscoveredTable is one relation with its row estimate and keys.
type DiscoveredTable struct {
	Name         string             `json:"name"`
	Kind         string             `json:"kind"`
	RowsEstimate *int64             `json:"rows_estimate,omitempty"`
	Columns      int                `json:"columns"`
	PrimaryKey   []string           `json:"primary_key,omitempty"`
	ForeignKeys  []tools.ForeignKey `json:"foreign_keys,omitempty"`
}

// Candidate is a suggested view: a per-parent rollup along a foreign key. It is a starting
// point for the agent and the operator, not a decision.
type Candidate struct {
	Name      string `json:"name"`
	Rationale string `json:"rationale"`
	SQL       string `json:"sql"`
}

// maxDiscoverTables bounds describe_table calls on very large catalogs.
const maxDiscoverTables = 500

// Discover summarises the user schemas (not the target schema) of the admin database.
func (p *Project) Discover(ctx context.Context) (*Discovery, error) {
	reg, err := p.SetupTools(ctx)
	if err != nil {
		return nil, err
	}
	var schemas tools.SchemasOutput
	if err := callTool(ctx, reg, "list_schemas", map[string]any{}, &schemas); err != nil {
		return nil, err
	}
	d := &Discovery{}
	described := 0
	for _, s := range schemas.Schemas {
		if s == p.settings.TargetSchema {
			continue
		}
		var tables tools.TablesOutput
		if err := callTool(ctx, reg, "list_tables", map[string]any{"schema": s}, &tables); err != nil {
			return nil, err
		}
		ds := DiscoveredSchema{Name: s}
		for _, t := range tables.Tables {
			dt := DiscoveredTable{Name: t.Name, Kind: t.Kind, RowsEstimate: t.RowsEstimate}
			if described < maxDiscoverTables {
				described++
				var desc tools.TableOutput
				if err := callTool(ctx, reg, "describe_table", map[string]any{"name": s + "." + t.Name}, &desc); err != nil {
					return nil, err
				}
				dt.Columns, dt.PrimaryKey, dt.ForeignKeys = len(desc.Columns), desc.PrimaryKey, desc.ForeignKeys
			}
			ds.Tables = append(ds.Tables, dt)
		}
		d.Schemas = append(d.Schemas, ds)
	}
	d.Candidates = candidates(d)
	return d, nil
}

// callTool runs a setup tool and decodes its structured result.
func callTool(ctx context.Context, reg *tools.Registry, name string, args map[string]any, out any) error {
	raw, err := json.Marshal(args)
	if err != nil {
		return err
	}
	res := reg.Call(ctx, name, raw)
	text := ""
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	if res.IsError {
		return fmt.Errorf("discover: %s: %s", name, text)
	}
	if res.StructuredContent != nil {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, out)
	}
	return json.Unmarshal([]byte(text), out)
}

// candidates proposes one rollup per foreign key: one row per parent with the child's count.
func candidates(d *Discovery) []Candidate {
	var out []Candidate
	for _, s := range d.Schemas {
		for _, t := range s.Tables {
			for _, fk := range t.ForeignKeys {
				parent, parentCols, ok := splitReference(fk.References)
				if !ok || len(parentCols) != len(fk.Columns) {
					continue
				}
				// parent and parentCols are already quoted identifiers (quote_ident).
				pname := parent[strings.LastIndex(parent, ".")+1:]
				name := pname + "_" + t.Name + "_rollup"
				if boundary.ValidateViewName(name) != nil {
					continue // names that need quoting cannot be view names
				}
				var on, group, sel []string
				for i, pc := range parentCols {
					on = append(on, fmt.Sprintf("c.%s = p.%s", quoteIdent(fk.Columns[i]), pc))
					group = append(group, "p."+pc)
					sel = append(sel, "p."+pc)
				}
				rows := "unknown"
				if t.RowsEstimate != nil {
					rows = fmt.Sprintf("~%d", *t.RowsEstimate)
				}
				out = append(out, Candidate{
					Name: name,
					Rationale: fmt.Sprintf("%s.%s (%s rows) references %s: a per-%s rollup saves agents the join and the scan; unique on %s so refresh can run CONCURRENTLY",
						s.Name, t.Name, rows, parent, pname, strings.Join(parentCols, ", ")),
					SQL: fmt.Sprintf("SELECT %s, count(c.*) AS %s_count\n  FROM %s p\n  LEFT JOIN %s.%s c ON %s\n GROUP BY %s",
						strings.Join(sel, ", "), t.Name, parent, quoteIdent(s.Name), quoteIdent(t.Name), strings.Join(on, " AND "), strings.Join(group, ", ")),
				})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// splitReference parses describe_table's "schema.table(col, ...)".
func splitReference(ref string) (table string, cols []string, ok bool) {
	open := strings.Index(ref, "(")
	if open < 0 || !strings.HasSuffix(ref, ")") {
		return "", nil, false
	}
	for _, c := range strings.Split(ref[open+1:len(ref)-1], ",") {
		cols = append(cols, strings.TrimSpace(c))
	}
	return ref[:open], cols, true
}

func quoteIdent(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == "" && (s[0] < '0' || s[0] > '9') {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
