package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	gjs "github.com/google/jsonschema-go/jsonschema"
)

type fastProbe struct {
	S string  `json:"s" jsonschema:"minLength=2,maxLength=4"`
	N int64   `json:"n,omitempty" jsonschema:"minimum=-3,maximum=10"`
	F float64 `json:"f,omitempty"`
	B bool    `json:"b,omitempty"`
	T string  `json:"t,omitempty"`
}

type fastSmallInt struct {
	N int8 `json:"n"`
}

type fastEmbedded struct {
	NameInput
	X string `json:"x"`
}

type fastSlice struct {
	L []string `json:"l"`
}

type selfDecoding string

func (s *selfDecoding) UnmarshalJSON(b []byte) error { *s = "decoded"; return nil }

type fastCustom struct {
	S selfDecoding `json:"s"`
}

type fastPattern struct {
	S string `json:"s" jsonschema:"pattern=^a"`
}

// fastCase builds a tool of input type In and returns what both paths make of raw: the
// shortcut's input and whether it took it, the general path's input and error.
func fastCase[In any](t *testing.T, opts ...Option) (fast *fastInput, run func(raw string) (In, bool, In, error)) {
	t.Helper()
	tl := New("probe", "probe", func(context.Context, In) (noInput, error) { return noInput{}, nil }, opts...)
	if tl.t.err != nil {
		t.Fatal(tl.t.err)
	}
	schema, _ := tl.t.def.InputSchema.(*gjs.Schema)
	fast = compileFastInput(reflect.TypeFor[In](), schema)
	return fast, func(raw string) (In, bool, In, error) {
		var viaFast In
		ok := fast != nil && fast.decode(json.RawMessage(raw), reflect.ValueOf(&viaFast).Elem())
		var general In
		args, err := applyInputSchema(json.RawMessage(raw), tl.t.resolved)
		if err == nil {
			err = json.Unmarshal(args, &general)
		}
		return viaFast, ok, general, err
	}
}

// fastInputs are argument texts: edge cases, then objects of one to three keys drawn from keys
// and values (every single key, a deterministic sample of the rest), each also after base (a
// valid required argument, so that more of them are valid).
func fastInputs(base string, keys, values []string) []string {
	out := []string{``, `null`, ` null `, `{}`, `[]`, `"x"`, `1`, `{`, `{"s":"ab"} x`, `{"s":"ab","s":"abc"}`,
		`{"s":"ab","s":1}`, `{"s":1,"s":"ab"}`, `{"S":"ab"}`, `{"sql":"SELECT 1","SQL":"x"}`, "{\"s\":\"a\xffb\"}",
		`{"s":"\u00e9\u0301x"}`, `{"s":"ab","n":null}`, `{"s":"ab","t":null}`, `{"sql":"x","limit":null}`}
	for _, k := range keys {
		for _, v := range values {
			out = append(out, fmt.Sprintf(`{%q:%s}`, k, v), fmt.Sprintf(`{%s,%q:%s}`, base, k, v))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		k1, k2 := keys[r.IntN(len(keys))], keys[r.IntN(len(keys))]
		v1, v2 := values[r.IntN(len(values))], values[r.IntN(len(values))]
		out = append(out, fmt.Sprintf(`{%q:%s, %q:%s}`, k1, v1, k2, v2), fmt.Sprintf(`{%s,%q:%s,%q:%s}`, base, k1, v1, k2, v2))
		k3, v3 := keys[r.IntN(len(keys))], values[r.IntN(len(values))]
		out = append(out, fmt.Sprintf(`{%q:%s,%q:%s,%q:%s}`, k1, v1, k2, v2, k3, v3))
	}
	return out
}

var fastValues = []string{`null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `-3`, `-4`, `10`, `11`, `1.0`, `1.5`, `1e3`,
	`1e300`, `-1e300`, `9007199254740992`, `9007199254740993`, `9007199254740994`, `1e21`, `0.1`, `""`, `"a"`, `"ab"`,
	`"abcd"`, `"abcde"`, `"ééé"`, `"ééééé"`, `"<&>"`, `"\u0000"`, `"SELECT 1"`, `"\ud800"`, `[]`, `["ab"]`, `{}`,
	`{"s":"ab"}`, `"1"`}

// TestFastInputMatchesSchema: whenever the shortcut takes arguments, the general path accepts
// them too and decodes the same input; and it does take the usual valid arguments.
func TestFastInputMatchesSchema(t *testing.T) {
	check := func(t *testing.T, name string, fast *fastInput, inputs []string, run func(string) (bool, error, string)) {
		t.Run(name, func(t *testing.T) {
			if fast == nil {
				t.Fatal("no shortcut compiled")
			}
			taken, accepted := 0, 0
			for _, raw := range inputs {
				ok, err, diff := run(raw)
				if err == nil {
					accepted++
				}
				if !ok {
					continue
				}
				taken++
				if err != nil {
					t.Errorf("%s: the shortcut accepts, the schema rejects: %v", raw, err)
				} else if diff != "" {
					t.Errorf("%s: inputs differ (-shortcut +general):\n%s", raw, diff)
				}
			}
			t.Logf("%d of %d argument texts took the shortcut (%d valid)", taken, len(inputs), accepted)
		})
	}
	wrap := func(run func(string) (any, bool, any, error)) func(string) (bool, error, string) {
		return func(raw string) (bool, error, string) {
			f, ok, g, err := run(raw)
			return ok, err, cmp.Diff(f, g)
		}
	}

	qf, qrun := fastCase[QueryInput](t, Param("limit", Default(1000)))
	qany := func(raw string) (any, bool, any, error) { f, ok, g, err := qrun(raw); return f, ok, g, err }
	check(t, "query_view", qf, fastInputs(`"sql":"SELECT 1"`, []string{"sql", "limit", "SQL", "x"}, fastValues), wrap(qany))

	nf, nrun := fastCase[NameInput](t)
	nany := func(raw string) (any, bool, any, error) { f, ok, g, err := nrun(raw); return f, ok, g, err }
	check(t, "name", nf, fastInputs(`"name":"v"`, []string{"name", "Name", "x"}, fastValues), wrap(nany))

	zf, zrun := fastCase[noInput](t)
	zany := func(raw string) (any, bool, any, error) { f, ok, g, err := zrun(raw); return f, ok, g, err }
	check(t, "no arguments", zf, fastInputs(`"x":1`, []string{"x", ""}, fastValues), wrap(zany))

	pf, prun := fastCase[fastProbe](t, Param("n", Default(7)), Param("t", Default("dflt")), Param("b", Default(true)), Param("f", Default(0.25)))
	pany := func(raw string) (any, bool, any, error) { f, ok, g, err := prun(raw); return f, ok, g, err }
	check(t, "probe", pf, fastInputs(`"s":"ab"`, []string{"s", "n", "f", "b", "t", "S", "N"}, fastValues), wrap(pany))

	// The usual arguments take the shortcut, defaults included.
	for _, c := range []struct {
		raw  string
		want QueryInput
	}{
		{`{"sql":"SELECT 1"}`, QueryInput{SQL: "SELECT 1", Limit: 1000}},
		{`{"sql":"SELECT 1","limit":5}`, QueryInput{SQL: "SELECT 1", Limit: 5}},
	} {
		got, ok, _, _ := qrun(c.raw)
		if !ok || got != c.want {
			t.Errorf("%s: shortcut %v, input %+v, want %+v", c.raw, ok, got, c.want)
		}
	}
	if got, ok, _, _ := prun(`{"s":"ab"}`); !ok || got != (fastProbe{S: "ab", N: 7, T: "dflt", B: true, F: 0.25}) {
		t.Errorf("probe defaults: shortcut %v, input %+v", ok, got)
	}
}

// TestFastInputQualifies: input types and schemas the shortcut does not handle use the
// general path only.
func TestFastInputQualifies(t *testing.T) {
	for name, fast := range map[string]*fastInput{
		"int8 field":      func() *fastInput { f, _ := fastCase[fastSmallInt](t); return f }(),
		"embedded struct": func() *fastInput { f, _ := fastCase[fastEmbedded](t); return f }(),
		"slice field":     func() *fastInput { f, _ := fastCase[fastSlice](t); return f }(),
		"own decoder":     func() *fastInput { f, _ := fastCase[fastCustom](t); return f }(),
		"pattern keyword": func() *fastInput { f, _ := fastCase[fastPattern](t); return f }(),
	} {
		if fast != nil {
			t.Errorf("%s: a shortcut was compiled", name)
		}
	}
}
