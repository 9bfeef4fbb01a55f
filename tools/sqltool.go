package tools

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/agentmv/agentmv/boundary"
)

// ToolSpec declares a named, parameterized, read-only tool over the managed views: an entry of
// materialize.yaml's `tools:` list. The agent fills in typed values; it never writes SQL.
// [CompileTool] checks a spec; [RuntimeConfig.SQLTools] serves compiled specs next to the
// built-in runtime tools.
type ToolSpec struct {
	// Name is the MCP tool name (the one name rule: ^[a-z_][a-z0-9_]*$, at most 63 bytes).
	Name string `json:"name" yaml:"name"`
	// Description tells the agent when to call the tool.
	Description string `json:"description" yaml:"description"`
	// SQL is one SELECT over the managed views of <S>, with $1… (the parameters in order) or
	// @name placeholders, never both. Values are always bound, never interpolated.
	SQL string `json:"sql" yaml:"sql"`
	// Parameters are the tool's arguments, in order ($1 is the first).
	Parameters []ParamSpec `json:"parameters,omitempty" yaml:"parameters,omitempty"`
}

// ParamSpec is one parameter of a [ToolSpec].
type ParamSpec struct {
	Name string `json:"name" yaml:"name"`
	// Type is one of [ParamTypes], or one of them followed by [] for an array (bound as a
	// Postgres array: use `= ANY(@ids)`).
	Type        string `json:"type" yaml:"type"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Required parameters must be given; optional ones take Default, else SQL NULL.
	Required bool `json:"required,omitempty" yaml:"required,omitempty"`
	Default  any  `json:"default,omitempty" yaml:"default,omitempty"`
	// Min and Max bound integer and number values; MaxLength bounds strings; Enum lists the
	// only values allowed (strings, integers or numbers). On arrays they apply to each element.
	Min       *float64 `json:"min,omitempty" yaml:"min,omitempty"`
	Max       *float64 `json:"max,omitempty" yaml:"max,omitempty"`
	MaxLength *int     `json:"max_length,omitempty" yaml:"max_length,omitempty"`
	Enum      []any    `json:"enum,omitempty" yaml:"enum,omitempty"`
}

// ParamTypes are the scalar parameter types, each with the Postgres type it is bound as.
var ParamTypes = []string{"string", "integer", "number", "boolean", "date", "timestamp"}

// MaxArrayItems bounds the elements of an array parameter.
const MaxArrayItems = 1000

// paramOIDs are the Postgres types parameters are bound as (scalar, array).
var paramOIDs = map[string][2]uint32{
	"string":    {25, 1009},   // text, text[]
	"integer":   {20, 1016},   // int8, int8[]
	"number":    {1700, 1231}, // numeric, numeric[]
	"boolean":   {16, 1000},   // bool, bool[]
	"date":      {1082, 1182}, // date, date[]
	"timestamp": {1184, 1185}, // timestamptz, timestamptz[]
}

// Hash is the sha256 of the spec's canonical JSON: apply records it, plan compares it.
func (s ToolSpec) Hash() string {
	b, _ := json.Marshal(s) // a ToolSpec always encodes (Default and Enum come from YAML/JSON)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// elem returns the parameter's scalar type and whether it is an array.
func (p ParamSpec) elem() (string, bool) {
	if t, ok := strings.CutSuffix(p.Type, "[]"); ok {
		return t, true
	}
	return p.Type, false
}

// CompiledTool is a [ToolSpec] that passed [CompileTool]: its SQL with $n placeholders (in
// the order of Parameters), the deparsed text the guard accepted, the relations it reads.
type CompiledTool struct {
	Spec ToolSpec
	// SQL is the spec's SQL with @name placeholders replaced by $n.
	SQL string
	// Reads are the managed views the SQL reads, sorted, without duplicates.
	Reads []string
}

// CompileTool checks spec: its name, each parameter's type, bounds and default, that every
// placeholder names a declared parameter and every parameter is used, and that the SQL passes
// the same guard as query_view ([CheckQuery]: one plain SELECT over the relations of schema
// that allowed accepts, no denied function). Errors say what to change.
func CompileTool(spec ToolSpec, schema string, allowed func(name string) bool) (*CompiledTool, error) {
	if err := boundary.ValidateIdentifier("tool name", spec.Name); err != nil {
		return nil, err
	}
	if slices.Contains(runtimeToolNames, spec.Name) {
		return nil, fmt.Errorf("tool name %q is a built-in runtime tool; choose another name", spec.Name)
	}
	if strings.TrimSpace(spec.Description) == "" {
		return nil, fmt.Errorf("tool %q: description is required (agents read it to pick the tool)", spec.Name)
	}
	seen := map[string]bool{}
	for i, p := range spec.Parameters {
		if err := p.Check(); err != nil {
			return nil, fmt.Errorf("tool %q: parameters[%d]: %w", spec.Name, i, err)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("tool %q: parameter %q is declared twice", spec.Name, p.Name)
		}
		seen[p.Name] = true
	}
	sql, err := bindPlaceholders(spec)
	if err != nil {
		return nil, fmt.Errorf("tool %q: sql: %w", spec.Name, err)
	}
	q, _, err := CheckQuery(sql, schema, allowed)
	if err != nil {
		var te *ToolError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("tool %q: sql: %s", spec.Name, te.Message)
		}
		return nil, fmt.Errorf("tool %q: sql: %w", spec.Name, err)
	}
	ct := &CompiledTool{Spec: spec, SQL: sql}
	for _, r := range q.Relations() {
		if !slices.Contains(ct.Reads, r.Name) {
			ct.Reads = append(ct.Reads, r.Name)
		}
	}
	slices.Sort(ct.Reads)
	return ct, nil
}

// Check validates one parameter declaration: name, type, bounds, enum and default.
func (p ParamSpec) Check() error {
	if err := boundary.ValidateIdentifier("parameter name", p.Name); err != nil {
		return err
	}
	t, _ := p.elem()
	if !slices.Contains(ParamTypes, t) {
		return fmt.Errorf("parameter %q: unknown type %q; use one of %s, or one of them followed by [] for an array",
			p.Name, p.Type, strings.Join(ParamTypes, ", "))
	}
	if (p.Min != nil || p.Max != nil) && t != "integer" && t != "number" {
		return fmt.Errorf("parameter %q: min and max apply to integer and number parameters, not %s", p.Name, p.Type)
	}
	if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
		return fmt.Errorf("parameter %q: min (%v) is greater than max (%v)", p.Name, *p.Min, *p.Max)
	}
	if p.MaxLength != nil && (t != "string" || *p.MaxLength < 1) {
		return fmt.Errorf("parameter %q: max_length applies to string parameters and must be at least 1", p.Name)
	}
	if len(p.Enum) > 0 {
		if t != "string" && t != "integer" && t != "number" {
			return fmt.Errorf("parameter %q: enum applies to string, integer and number parameters, not %s", p.Name, p.Type)
		}
		for _, e := range p.Enum {
			if _, err := p.scalarText(t, e, false); err != nil {
				return fmt.Errorf("parameter %q: enum value %v: %w", p.Name, e, err)
			}
		}
	}
	if p.Default != nil {
		if p.Required {
			return fmt.Errorf("parameter %q: a required parameter has no default; drop one of required and default", p.Name)
		}
		if _, err := p.bind(p.Default); err != nil {
			return fmt.Errorf("parameter %q: default: %w", p.Name, err)
		}
	}
	return nil
}

var placeholderName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// bindPlaceholders returns spec.SQL with @name placeholders replaced by $n (n = the
// parameter's position), after checking that placeholders and parameters match. Tokens come
// from Postgres' own lexer (pg_query), so text in strings, quoted identifiers and comments is
// never a placeholder.
func bindPlaceholders(spec ToolSpec) (string, error) {
	sql := spec.SQL
	scan, err := pg_query.Scan(sql)
	if err != nil {
		return "", fmt.Errorf("cannot tokenize the SQL: %w", err)
	}
	index := map[string]int{}
	var names []string
	for i, p := range spec.Parameters {
		index[p.Name] = i + 1
		names = append(names, "@"+p.Name)
	}
	used := make([]bool, len(spec.Parameters)+1)
	var b strings.Builder
	last, positional, named := 0, false, false
	toks := scan.Tokens
	for i, tok := range toks {
		text := sql[tok.Start:tok.End]
		if tok.Token == pg_query.Token_PARAM {
			positional = true
			n, err := strconv.Atoi(text[1:])
			if err != nil || n < 1 || n > len(spec.Parameters) {
				return "", fmt.Errorf("placeholder %s has no parameter: the tool declares %d (positional placeholders bind the parameters in order)", text, len(spec.Parameters))
			}
			used[n] = true
			continue
		}
		if !strings.HasSuffix(text, "@") || i+1 >= len(toks) || toks[i+1].Start != tok.End {
			continue
		}
		next := sql[toks[i+1].Start:toks[i+1].End]
		if !placeholderName.MatchString(next) {
			continue
		}
		named = true
		n, ok := index[next]
		if !ok {
			return "", fmt.Errorf("placeholder @%s is not a declared parameter (declared: %s)", next, strings.Join(names, ", "))
		}
		used[n] = true
		b.WriteString(sql[last : tok.End-1])
		b.WriteString("$" + strconv.Itoa(n))
		last = int(toks[i+1].End)
	}
	if positional && named {
		return "", fmt.Errorf("the SQL mixes $n and @name placeholders; use one style")
	}
	b.WriteString(sql[last:])
	for i, p := range spec.Parameters {
		if !used[i+1] {
			return "", fmt.Errorf("parameter %q is declared but the SQL never uses it (write @%s or $%d)", p.Name, p.Name, i+1)
		}
	}
	return b.String(), nil
}

// bind converts a JSON value (decoded with UseNumber, or from YAML) to the text form Postgres
// parses for the parameter's type; arrays become array literals with every element quoted.
func (p ParamSpec) bind(v any) ([]byte, error) {
	t, array := p.elem()
	if !array {
		s, err := p.scalarText(t, v, true)
		return []byte(s), err
	}
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want an array of %s, got %s", t, jsonKind(v))
	}
	if len(items) > MaxArrayItems {
		return nil, fmt.Errorf("at most %d elements, got %d", MaxArrayItems, len(items))
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, it := range items {
		s, err := p.scalarText(t, it, true)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// scalarText validates one scalar value of type t (and, with bounds, p's min, max,
// max_length and enum) and returns its Postgres text form.
func (p ParamSpec) scalarText(t string, v any, bounds bool) (string, error) {
	var s string
	switch t {
	case "string":
		str, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a string, got %s", jsonKind(v))
		}
		if strings.IndexByte(str, 0) >= 0 {
			return "", fmt.Errorf("a string may not contain the NUL character")
		}
		if bounds && p.MaxLength != nil && len([]rune(str)) > *p.MaxLength {
			return "", fmt.Errorf("at most %d characters, got %d", *p.MaxLength, len([]rune(str)))
		}
		s = str
	case "integer", "number":
		f, text, err := number(v)
		if err != nil {
			return "", err
		}
		if t == "integer" {
			if _, err := strconv.ParseInt(text, 10, 64); err != nil {
				return "", fmt.Errorf("want a whole number (64-bit), got %s", text)
			}
		}
		if bounds && p.Min != nil && f < *p.Min {
			return "", fmt.Errorf("at least %v, got %s", *p.Min, text)
		}
		if bounds && p.Max != nil && f > *p.Max {
			return "", fmt.Errorf("at most %v, got %s", *p.Max, text)
		}
		s = text
	case "boolean":
		bv, ok := v.(bool)
		if !ok {
			return "", fmt.Errorf("want true or false, got %s", jsonKind(v))
		}
		s = strconv.FormatBool(bv)
	case "date", "timestamp":
		str, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a %s string, got %s", t, jsonKind(v))
		}
		text, err := timeText(t, str)
		if err != nil {
			return "", err
		}
		s = text
	}
	if bounds && len(p.Enum) > 0 && !slices.ContainsFunc(p.Enum, func(e any) bool {
		es, err := p.scalarText(t, e, false)
		return err == nil && es == s
	}) {
		return "", fmt.Errorf("%s is not one of the allowed values %v", s, p.Enum)
	}
	return s, nil
}

// number returns a JSON or YAML number as float64 and as its text.
func number(v any) (float64, string, error) {
	var text string
	switch n := v.(type) {
	case json.Number:
		text = n.String()
	case int:
		text = strconv.Itoa(n)
	case int64:
		text = strconv.FormatInt(n, 10)
	case float64:
		text = strconv.FormatFloat(n, 'g', -1, 64)
	default:
		return 0, "", fmt.Errorf("want a number, got %s", jsonKind(v))
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, "", fmt.Errorf("want a finite number, got %s", text)
	}
	return f, text, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return "a number"
	}
}

// timeText parses a date (YYYY-MM-DD) or a timestamp (RFC 3339; without an offset it is UTC;
// a date alone is midnight UTC) and returns the form Postgres parses whatever its DateStyle.
func timeText(t, s string) (string, error) {
	if t == "date" {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return "", fmt.Errorf("want a date as YYYY-MM-DD, got %q", s)
		}
		return d.Format(time.DateOnly), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", time.DateOnly} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts.UTC().Format(time.RFC3339Nano), nil
		}
	}
	return "", fmt.Errorf("want a timestamp in RFC 3339 form such as 2026-01-31T08:00:00Z, got %q", s)
}
