package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/internal/pgtest"
)

// encodeFixture is one row per case, every type the direct encoders handle plus the forms
// they leave to the general path (infinities, BC dates, other time zones, arrays, ranges...).
const encodeFixture = `
CREATE SCHEMA agent_mv;
CREATE TYPE public.mood AS ENUM ('ok', 'sad');
CREATE VIEW agent_mv.everything AS SELECT * FROM (VALUES
  (1::int2, 2::int4, -9007199254740993::int8, 26::oid, 0.1::float4, 'NaN'::float4, 1e-40::float4,
   0.1::float8, 1e+300::float8, '-0'::float8, 1e-05::float8, '-Infinity'::float8,
   12.50::numeric, 'NaN'::numeric, -0.00000000015::numeric, true, false,
   E'<a href="x">&amp;</a> \\ \n\t\x01 \u2028 héllo ☃'::text, 'v'::varchar(3), 'ab'::char(4), 'nm'::name,
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '1 day 02:00:00'::interval, '<x/>'::xml, 'c'::"char",
   E'{"a" : 1,\n "b":[1, 2], "h": "<&>"}'::json, '{"b": [1, 2], "a": {"x": null}}'::jsonb,
   '2024-03-01'::date, 'infinity'::date, '0044-03-15 BC'::date, '10000-01-01'::date,
   '2024-03-01 12:34:56.789'::timestamp, '2024-03-01 12:34:56'::timestamp, '0044-03-15 12:00 BC'::timestamp, '-infinity'::timestamp,
   '2024-03-01 12:34:56.789+02'::timestamptz, '2024-03-01 00:00:00+00'::timestamptz, 'infinity'::timestamptz,
   '\xdeadbeef'::bytea, ''::bytea,
   ARRAY[1, 2, NULL]::int4[], ARRAY['x', 'y"']::text[], ARRAY[0.1]::float4[], 'ok'::public.mood,
   int4range(1, 5), point(1, 2), '10.0.0.1/8'::inet, B'101'::bit(3), 'a fat cat'::tsvector, NULL::text)
) AS t;`

// TestEncodeMatchesDecode: the rows encoded straight from the wire are the same JSON as the
// Go values of the general path (Result.Rows) encoded by encoding/json, for every type of
// the fixture, in UTC and in another session time zone.
func TestEncodeMatchesDecode(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.Exec(t, encodeFixture)
	for _, tz := range []string{"UTC", "Asia/Kolkata"} {
		t.Run(tz, func(t *testing.T) {
			cfg, err := pgxpool.ParseConfig(db.AdminURL)
			if err != nil {
				t.Fatal(err)
			}
			cfg.ConnConfig.RuntimeParams["TimeZone"] = tz
			pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			ctx := context.Background()
			for _, prepare := range []bool{false, true} {
				dec, err := execQuery(ctx, pool, "agent_mv", "SELECT * FROM everything", Limits{}, execOptions{prepare: prepare})
				if err != nil {
					t.Fatal(err)
				}
				enc, err := execQuery(ctx, pool, "agent_mv", "SELECT * FROM everything", Limits{}, execOptions{prepare: prepare, encode: true})
				if err != nil {
					t.Fatal(err)
				}
				if dec.RowCount != 1 || enc.RowCount != 1 || enc.Rows != nil || !json.Valid(enc.rowsJSON) {
					t.Fatalf("rows: decoded %d, encoded %d (%s)", dec.RowCount, enc.RowCount, enc.rowsJSON)
				}
				var want, got []any
				b, _ := json.Marshal(dec.Rows)
				if err := json.Unmarshal(b, &want); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(enc.rowsJSON, &got); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("encoded rows differ from the decoded ones (-decoded +encoded):\n%s", diff)
				}
				// The whole Result encodes the same both ways too.
				rb, _ := json.Marshal(dec)
				eb, err := json.Marshal(enc)
				if err != nil {
					t.Fatal(err)
				}
				var rw, ew map[string]any
				_ = json.Unmarshal(rb, &rw)
				if err := json.Unmarshal(eb, &ew); err != nil {
					t.Fatalf("encoded result is not JSON: %v\n%s", err, eb)
				}
				if diff := cmp.Diff(rw, ew); diff != "" {
					t.Errorf("result JSON differs (-decoded +encoded):\n%s", diff)
				}
				if strings.Contains(string(enc.rowsJSON), `\u003c`) {
					t.Errorf("encoded rows are HTML-escaped: %s", enc.rowsJSON)
				}
			}
		})
	}
}

// TestEncodedOutputSplicesRows: QueryOutput's JSON carries the encoded rows in place and
// every other field as encoding/json writes it.
func TestEncodedOutputSplicesRows(t *testing.T) {
	o := QueryOutput{Result: Result{Columns: []Column{{Name: `"rows":null`, Type: "text"}}, RowCount: 2,
		rowsJSON: []byte(`[["a"],[null]]`)}, Freshness: []ViewFreshness{{View: "v"}}, ReadInfo: ReadInfo{ServedBy: "replica"}}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var got QueryOutput
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	want := QueryOutput{Result: Result{Columns: o.Columns, Rows: [][]any{{"a"}, {nil}}, RowCount: 2},
		Freshness: o.Freshness, ReadInfo: o.ReadInfo}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Result{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s\n%s", diff, b)
	}
	b2, err := o.encodeJSON()
	if err != nil || string(b2) != string(b) {
		t.Errorf("encodeJSON %s (%v), MarshalJSON %s", b2, err, b)
	}
}
