package tools

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/internal/secretscan"
	"github.com/agentmv/agentmv/lineage"
)

// ---- profile_table ----

// ColumnProfile is one column of profile_table, from pg_stats.
type ColumnProfile struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	NullFrac *float64 `json:"null_fraction"`
	// Distinct is pg_stats.n_distinct made absolute: an estimated count of distinct values.
	Distinct  *int64     `json:"distinct_estimate"`
	TopValues []TopValue `json:"top_values,omitempty"`
	// Masked says why TopValues show MaskedValue instead of the values: the column's name says
	// they are secret (secretscan.SecretColumn).
	Masked string `json:"masked,omitempty"`
}

// MaskedValue replaces each most common value of a column whose name says it is secret.
const MaskedValue = "[MASKED]"

// TopValue is one of the most common values of a column with its frequency.
type TopValue struct {
	Value     string  `json:"value"`
	Frequency float64 `json:"frequency"`
}

// ProfileOutput is profile_table's result.
type ProfileOutput struct {
	Name         string          `json:"name"`
	RowsEstimate *int64          `json:"rows_estimate"`
	Analyzed     bool            `json:"analyzed"`
	Note         string          `json:"note,omitempty"`
	Columns      []ColumnProfile `json:"columns"`
	ForeignKeys  []ForeignKey    `json:"foreign_keys"`
}

// maxTopValues bounds the most-common values listed per column.
const maxTopValues = 5

func (st *setupTools) profileTable(ctx context.Context, in TableInput) (ProfileOutput, error) {
	desc, err := st.describeTable(ctx, in)
	if err != nil {
		return ProfileOutput{}, err
	}
	r, err := st.lookup(ctx, in.Name)
	if err != nil {
		return ProfileOutput{}, err
	}
	out := ProfileOutput{Name: desc.Name, Columns: []ColumnProfile{}, ForeignKeys: desc.ForeignKeys}
	var reltuples float64
	if err := st.cfg.Pool.QueryRow(ctx, `SELECT reltuples FROM pg_catalog.pg_class WHERE oid = $1`, r.oid).Scan(&reltuples); err != nil {
		return out, err
	}
	if reltuples >= 0 {
		n := int64(reltuples)
		out.RowsEstimate = &n
	}
	// null_frac and most_common_freqs are float4: read as such and printed with the digits a
	// float4 holds (0.002, not 0.0020000000949949026).
	rows, err := st.cfg.Pool.Query(ctx, `SELECT attname, null_frac,
       CASE WHEN n_distinct >= 0 THEN n_distinct::int8 ELSE (-n_distinct * greatest($3::float8, 0))::int8 END,
       (most_common_vals::text)::text[], most_common_freqs
  FROM pg_catalog.pg_stats WHERE schemaname = $1 AND tablename = $2`, r.schema, r.name, reltuples)
	if err != nil {
		return out, err
	}
	type stat struct {
		null     float32
		distinct int64
		vals     []string
		freqs    []float32
	}
	stats := map[string]stat{}
	var name string
	var s stat
	if _, err := pgx.ForEachRow(rows, []any{&name, &s.null, &s.distinct, &s.vals, &s.freqs}, func() error {
		stats[name] = s
		s = stat{}
		return nil
	}); err != nil {
		return out, err
	}
	out.Analyzed = len(stats) > 0
	if !out.Analyzed {
		out.Note = fmt.Sprintf("no planner statistics yet: run ANALYZE %s (as the admin) and profile again", pgx.Identifier{r.schema, r.name}.Sanitize())
	}
	for _, c := range desc.Columns {
		p := ColumnProfile{Name: c.Name, Type: c.Type}
		if s, ok := stats[c.Name]; ok {
			null := float4Value(s.null)
			p.NullFrac, p.Distinct = &null, &s.distinct
			word, secret := secretscan.SecretColumn(c.Name)
			for i := 0; i < len(s.vals) && i < len(s.freqs) && i < maxTopValues; i++ {
				v := s.vals[i]
				if secret {
					v = MaskedValue
				}
				p.TopValues = append(p.TopValues, TopValue{Value: v, Frequency: float4Value(s.freqs[i])})
			}
			if secret && len(p.TopValues) > 0 {
				p.Masked = fmt.Sprintf("values masked: the column name (%s) says they are secret", word)
			}
		}
		out.Columns = append(out.Columns, p)
	}
	return out, nil
}

// float4Value is f as the float64 with the shortest decimal form that reads back as f, so a
// float4 statistic prints as Postgres prints it (0.002) rather than with float32 noise.
func float4Value(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// ---- sample_query ----

// sampleSchema is the schema sample_query's unqualified names mean, as in the seed.
const sampleSchema = "public"

// sampleMask returns which output columns of sample_query's sql come back masked: those whose
// name says they are secret (secretscan.SecretColumn: the rule profile_table masks by and
// propose_view warns by), and those whose value is computed from such a column under another
// name (`password_hash AS p`, `lower(api_token)`), found by the column lineage apply records
// for a view, resolved against the catalog as the query will be (search_path = public). When
// the lineage cannot be worked out (the query reads a managed view, or fails to resolve: the
// query itself then reports why), the names alone decide.
func (st *setupTools) sampleMask(ctx context.Context, sql string) func(column string) bool {
	secret := func(column string) bool { _, ok := secretscan.SecretColumn(column); return ok }
	masked := map[string]bool{}
	err := pgx.BeginTxFunc(ctx, st.cfg.Pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_catalog.set_config('search_path', $1, true)", executorSearchPath(sampleSchema)); err != nil {
			return err
		}
		a, err := lineage.Analyze(ctx, sql, lineage.Options{TargetSchema: st.cfg.Schema, Managed: func(string) bool { return false },
			Resolver: lineage.NewPgxResolver(tx)})
		if err != nil {
			return err
		}
		for _, e := range a.Columns {
			if secret(e.SourceColumn) {
				masked[e.ViewColumn] = true
			}
		}
		return nil
	})
	if err != nil {
		return secret
	}
	return func(column string) bool { return masked[column] || secret(column) }
}

func (st *setupTools) sampleQuery(ctx context.Context, in QueryInput) (Result, error) {
	deparsed, err := guardSample(in.SQL)
	if err != nil {
		return Result{}, err
	}
	limits, note := st.cfg.Limits.forLimit(in.Limit)
	// search_path = public, pg_catalog, pg_temp: unqualified names mean public, as the seed.
	// Rows are encoded from the wire straight into the result's JSON, as query_view's.
	// Columns whose names say they are secret come back masked, and so do columns computed
	// from such a column under another name (sampleMask).
	res, err := execQuery(ctx, st.cfg.Pool, sampleSchema, deparsed, limits, execOptions{prepare: canPrepare(st.cfg.Pool), encode: true,
		mask: st.sampleMask(ctx, deparsed)})
	if err != nil {
		return res, st.relationHint(ctx, err)
	}
	res.LimitNote = note
	return res, nil
}
