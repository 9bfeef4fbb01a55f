package tools

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	gjs "github.com/google/jsonschema-go/jsonschema"
)

// fastInput decodes a tool's arguments into its flat input struct without the general path
// (applyInputSchema: decode into a map, apply the defaults, validate by reflection, encode
// again, decode into the struct), which costs more CPU than the rest of a 1-row query_view.
// It is a shortcut, never a second rule: it accepts only arguments it can tell are valid with
// plain comparisons, and fills the struct exactly as the general path would; for anything
// else (an error, an unusual value) the caller runs the general path, which decides and words
// the error. TestFastInputMatchesSchema checks both paths agree.
//
// Only schemas made of the keywords below qualify (see compileFastInput): an object with
// additionalProperties false whose properties are strings (minLength, maxLength), integers or
// numbers (minimum, maximum) or booleans, each optional with a default or required, and each
// stored in one top-level field of a matching Go kind.
type fastInput struct {
	props    map[string]*fastProp
	required []string
}

type fastProp struct {
	field  int    // index of the struct field
	typ    string // "string", "integer", "number" or "boolean"
	minLen *int
	maxLen *int
	min    *float64
	max    *float64
	def    any  // the decoded default (encoding/json's form), when hasDef
	hasDef bool // set when missing (only for properties that are not required)
}

// maxExactInt is the largest integer every float64 below it represents exactly (2^53).
const maxExactInt = 1 << 53

// fastPropKeywords and fastRootKeywords are the schema keywords fastInput understands;
// any other keyword makes a tool use the general path only.
var (
	fastPropKeywords = []string{"type", "description", "title", "default", "minLength", "maxLength", "minimum", "maximum"}
	fastRootKeywords = []string{"type", "description", "title", "properties", "required", "additionalProperties"}
)

// compileFastInput returns the shortcut for input type rt under schema s, or nil when they do
// not qualify.
func compileFastInput(rt reflect.Type, s *gjs.Schema) *fastInput {
	if rt.Kind() != reflect.Struct || s == nil || s.Type != "object" || decodesItself(rt) {
		return nil
	}
	root, ok := schemaKeys(s)
	if !ok || !subset(root, fastRootKeywords) || string(root["additionalProperties"]) != "false" {
		return nil
	}
	fields := map[string]int{} // JSON name -> field index, for names held by exactly one field
	dup := map[string]bool{}
	for i := range rt.NumField() {
		f := rt.Field(i)
		if f.Anonymous {
			return nil // embedded structs: encoding/json's promotion rules, not handled here
		}
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if strings.Contains(","+opts+",", ",string,") {
			return nil
		}
		if name == "" {
			name = f.Name
		}
		if _, seen := fields[name]; seen {
			dup[name] = true
		}
		fields[name] = i
	}
	// Two names equal but for case would let encoding/json match a key to another field.
	folded := map[string]bool{}
	for name := range fields {
		l := strings.ToLower(name)
		if folded[l] {
			return nil
		}
		folded[l] = true
	}
	f := &fastInput{props: map[string]*fastProp{}, required: slices.Clone(s.Required)}
	for name, ps := range s.Properties {
		i, ok := fields[name]
		if !ok || dup[name] || ps == nil {
			return nil
		}
		keys, ok := schemaKeys(ps)
		if !ok || !subset(keys, fastPropKeywords) || len(ps.Types) > 0 {
			return nil
		}
		p := &fastProp{field: i, typ: ps.Type, minLen: ps.MinLength, maxLen: ps.MaxLength, min: ps.Minimum, max: ps.Maximum}
		if !kindFits(p.typ, rt.Field(i).Type) || decodesItself(rt.Field(i).Type) {
			return nil
		}
		if ps.Default != nil && !slices.Contains(s.Required, name) {
			if err := json.Unmarshal(ps.Default, &p.def); err != nil || !p.valid(p.def) {
				return nil
			}
			p.hasDef = true
		}
		f.props[name] = p
	}
	for _, name := range f.required {
		if f.props[name] == nil {
			return nil
		}
	}
	return f
}

// schemaKeys lists the keywords s carries, as they are sent in tools/list.
func schemaKeys(s *gjs.Schema) (map[string]json.RawMessage, bool) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	return m, true
}

func subset(m map[string]json.RawMessage, allowed []string) bool {
	for k := range m {
		if !slices.Contains(allowed, k) {
			return false
		}
	}
	return true
}

// decodesItself reports whether encoding/json decodes t with t's own method.
func decodesItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(reflect.TypeFor[json.Unmarshaler]()) || pt.Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// kindFits reports whether a value of JSON Schema type typ is stored in a Go field of type ft
// by plain assignment (int64 and float64 only: smaller kinds can overflow or round).
func kindFits(typ string, ft reflect.Type) bool {
	switch typ {
	case "string":
		return ft.Kind() == reflect.String
	case "integer":
		return ft.Kind() == reflect.Int || ft.Kind() == reflect.Int64
	case "number":
		return ft.Kind() == reflect.Float64
	case "boolean":
		return ft.Kind() == reflect.Bool
	}
	return false
}

// valid reports whether v (as encoding/json decodes into any) certainly satisfies p.
func (p *fastProp) valid(v any) bool {
	switch p.typ {
	case "string":
		s, ok := v.(string)
		if !ok {
			return false
		}
		if p.minLen != nil || p.maxLen != nil {
			n := utf8.RuneCountInString(s)
			if (p.minLen != nil && n < *p.minLen) || (p.maxLen != nil && n > *p.maxLen) {
				return false
			}
		}
		return true
	case "integer", "number":
		x, ok := v.(float64)
		if !ok || x < -maxExactInt || x > maxExactInt {
			return false
		}
		if p.typ == "integer" && x != float64(int64(x)) {
			return false
		}
		return (p.min == nil || x >= *p.min) && (p.max == nil || x <= *p.max)
	case "boolean":
		_, ok := v.(bool)
		return ok
	}
	return false
}

// set stores v, already checked by valid, in field.
func (p *fastProp) set(field reflect.Value, v any) {
	switch p.typ {
	case "string":
		field.SetString(v.(string))
	case "integer":
		field.SetInt(int64(v.(float64)))
	case "number":
		field.SetFloat(v.(float64))
	case "boolean":
		field.SetBool(v.(bool))
	}
}

// decode fills dst, the zero value of the input struct, from raw and returns true when raw is
// certainly valid. On false dst may be partly filled: the caller starts over on the general
// path.
func (f *fastInput) decode(raw json.RawMessage, dst reflect.Value) bool {
	m := map[string]any{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &m); err != nil {
			return false
		}
	}
	for _, name := range f.required {
		if _, ok := m[name]; !ok {
			return false
		}
	}
	for k, v := range m {
		p := f.props[k]
		if p == nil || !p.valid(v) {
			return false
		}
		p.set(dst.Field(p.field), v)
	}
	for k, p := range f.props {
		if _, ok := m[k]; !ok && p.hasDef {
			p.set(dst.Field(p.field), p.def)
		}
	}
	return true
}
