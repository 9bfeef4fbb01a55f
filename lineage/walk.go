package lineage

import (
	"reflect"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
)

// A fast child iterator for pg_query parse trees. protoreflect's Range/Has visit every field
// descriptor of a message, and a pg_query Node is a oneof of ~270 message types, so a generic
// protoreflect walk costs hundreds of calls per node. eachChild instead reads the generated
// struct directly through a per-type plan (computed once with reflect) of its message-typed
// fields, in field-number order, which is their order in the generated struct.

type childKind uint8

const (
	childPtr   childKind = iota // *Msg
	childSlice                  // []*Msg
	childOneof                  // interface holding *Wrapper{Field *Msg}
)

type childField struct {
	index int
	name  string // the proto field name, e.g. "with_clause"
	kind  childKind
}

// oneofMember is the single field of a oneof wrapper struct (e.g. Node_SelectStmt).
type oneofMember struct {
	name string
	ok   bool // the wrapper's field is a message pointer
}

var (
	protoMessageType = reflect.TypeFor[proto.Message]()
	childPlans       sync.Map // reflect.Type (pointer to struct) -> []childField
	oneofMembers     sync.Map // reflect.Type (pointer to wrapper) -> oneofMember
)

func isMessagePtr(t reflect.Type) bool {
	return t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && t.Implements(protoMessageType)
}

func protoName(f reflect.StructField) string {
	for _, part := range strings.Split(f.Tag.Get("protobuf"), ",") {
		if name, ok := strings.CutPrefix(part, "name="); ok {
			return name
		}
	}
	if name := f.Tag.Get("protobuf_oneof"); name != "" {
		return name
	}
	return f.Name
}

func planFor(t reflect.Type) []childField {
	if p, ok := childPlans.Load(t); ok {
		return p.([]childField)
	}
	st := t.Elem()
	var plan []childField
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if !f.IsExported() {
			continue
		}
		switch {
		case isMessagePtr(f.Type):
			plan = append(plan, childField{index: i, name: protoName(f), kind: childPtr})
		case f.Type.Kind() == reflect.Slice && isMessagePtr(f.Type.Elem()):
			plan = append(plan, childField{index: i, name: protoName(f), kind: childSlice})
		case f.Type.Kind() == reflect.Interface && f.Tag.Get("protobuf_oneof") != "":
			plan = append(plan, childField{index: i, name: protoName(f), kind: childOneof})
		}
	}
	childPlans.Store(t, plan)
	return plan
}

func memberOf(t reflect.Type) oneofMember {
	if m, ok := oneofMembers.Load(t); ok {
		return m.(oneofMember)
	}
	var m oneofMember
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && t.Elem().NumField() == 1 {
		f := t.Elem().Field(0)
		m = oneofMember{name: protoName(f), ok: isMessagePtr(f.Type)}
	}
	oneofMembers.Store(t, m)
	return m
}

// eachChild calls fn for every message directly under m: each set message field and each
// element of a message list, in field-number order (list elements in order); for a oneof, its
// set member. field is the proto field name. It returns false if fn returned false (and then
// stops at once).
func eachChild(m proto.Message, fn func(field string, child proto.Message) bool) bool {
	v := reflect.ValueOf(m)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return true
	}
	plan := planFor(v.Type())
	sv := v.Elem()
	for _, f := range plan {
		fv := sv.Field(f.index)
		switch f.kind {
		case childPtr:
			if fv.IsNil() {
				continue
			}
			if !fn(f.name, fv.Interface().(proto.Message)) {
				return false
			}
		case childSlice:
			for j := 0; j < fv.Len(); j++ {
				ev := fv.Index(j)
				if ev.IsNil() {
					continue
				}
				if !fn(f.name, ev.Interface().(proto.Message)) {
					return false
				}
			}
		case childOneof:
			if fv.IsNil() {
				continue
			}
			wv := fv.Elem() // *Wrapper
			if wv.IsNil() {
				continue
			}
			mem := memberOf(wv.Type())
			if !mem.ok {
				continue // a scalar oneof member
			}
			inner := wv.Elem().Field(0)
			if inner.IsNil() {
				continue
			}
			if !fn(mem.name, inner.Interface().(proto.Message)) {
				return false
			}
		}
	}
	return true
}

// walkTree calls fn for m and, while fn returns true for a message, for everything under it,
// depth first in field order.
func walkTree(m proto.Message, fn func(proto.Message) bool) {
	if !fn(m) {
		return
	}
	eachChild(m, func(_ string, c proto.Message) bool {
		walkTree(c, fn)
		return true
	})
}
