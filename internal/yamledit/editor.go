package yamledit

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Editor edits one YAML document. Each operation changes the node tree and records the text
// edit that makes the same change to the original bytes; Bytes splices those edits in, so
// everything else stays byte for byte. The spliced text must decode to exactly the edited
// tree; if it does not (an unusual layout such as a flow-style mapping), Bytes encodes the
// edited tree with yaml.v3 instead, which still keeps comments, key order, flow style and
// quoting.
type Editor struct {
	doc    *yaml.Node
	t      textIndex
	edits  []textEdit
	textOK bool
}

// New parses the first YAML document of src for editing.
func New(src []byte) (*Editor, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return &Editor{doc: &doc, t: newTextIndex(src), textOK: true}, nil
}

// Root returns the document's top-level node, or nil for an empty document.
func (e *Editor) Root() *yaml.Node {
	if e.doc.Kind != yaml.DocumentNode || len(e.doc.Content) == 0 {
		return nil
	}
	return e.doc.Content[0]
}

// Key returns the index in m.Content of the key node named key, or -1 when m is not a mapping
// or has no such key. The value is at the returned index + 1.
func Key(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// Resolve follows alias nodes to the node they name.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is absent or a YAML null.
func IsNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// Str returns a plain string scalar node.
func Str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// SetStrings makes the value of key in mapping m the list of strings want, adding the key at
// the end of m when it is missing. A missing key, a null and an empty list count as equal to
// an empty want. It keeps the list's flow or block style and its items' quoting; a new block
// list indents its "-" dashOffset columns past the key (see DashOffset). It reports whether
// anything changed.
func (e *Editor) SetStrings(m *yaml.Node, key string, want []string, dashOffset int) bool {
	ki := Key(m, key)
	if ki < 0 && len(want) == 0 {
		return false
	}
	var itemStyle yaml.Style
	flow := len(want) == 0
	if ki >= 0 {
		cur := Resolve(m.Content[ki+1])
		if (cur.Kind == yaml.SequenceNode && slices.Equal(scalarValues(cur), want)) || (IsNull(cur) && len(want) == 0) {
			return false
		}
		if cur.Kind == yaml.SequenceNode {
			flow = flow || cur.Style&yaml.FlowStyle != 0
			if len(cur.Content) > 0 {
				itemStyle = cur.Content[0].Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
			}
		}
	}
	if e.textOK {
		if ed, ok := e.t.stringsEdit(m, ki, key, want, itemStyle, dashOffset); ok {
			e.edits = append(e.edits, ed)
		} else {
			e.textOK = false
		}
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	if flow {
		seq.Style = yaml.FlowStyle
	}
	for _, s := range want {
		seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: itemStyle})
	}
	if ki >= 0 {
		old := m.Content[ki+1]
		seq.HeadComment, seq.LineComment, seq.FootComment = old.HeadComment, old.LineComment, old.FootComment
		m.Content[ki+1] = seq
	} else {
		m.Content = append(m.Content, Str(key), seq)
	}
	return true
}

// DashOffset returns how far this file indents a block list's "-" past its key, judged from
// the first non-empty block list under one of keys in maps (in the order given); 2 when none.
func (e *Editor) DashOffset(maps []*yaml.Node, keys ...string) int {
	for _, m := range maps {
		for _, key := range keys {
			ki := Key(m, key)
			if ki < 0 {
				continue
			}
			val := m.Content[ki+1]
			if val.Kind != yaml.SequenceNode || val.Style&yaml.FlowStyle != 0 || len(val.Content) == 0 {
				continue
			}
			if _, indent, ok := e.t.dash(val.Content[0]); ok && len(indent) >= m.Content[ki].Column-1 {
				return len(indent) - (m.Content[ki].Column - 1)
			}
		}
	}
	return 2
}

// RemoveItem deletes item i (with the comment lines directly above it) from the sequence that
// is the value of key in mapping parent. An emptied list becomes "[]".
func (e *Editor) RemoveItem(parent *yaml.Node, key string, i int) {
	ki := Key(parent, key)
	seq := parent.Content[ki+1]
	e.addEdit(e.t.removeItemEdit(parent.Content[ki], seq, i))
	seq.Content = slices.Delete(seq.Content, i, i+1)
	if len(seq.Content) == 0 {
		seq.Style = yaml.FlowStyle
	}
}

// AppendItems appends items to the sequence that is the value of key in mapping parent,
// indented like the items already there; "[]" becomes a block list.
func (e *Editor) AppendItems(parent *yaml.Node, key string, items ...*yaml.Node) {
	ki := Key(parent, key)
	seq := parent.Content[ki+1]
	add := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
	e.addEdit(e.t.appendItemsEdit(parent.Content[ki], seq, add))
	seq.Content = append(seq.Content, items...)
	seq.Style &^= yaml.FlowStyle
}

// AppendKey adds key: val at the end of mapping parent, which must not have key yet. At the
// document's top level (a block mapping) the text is appended to the file; elsewhere Bytes
// re-encodes the tree.
func (e *Editor) AppendKey(parent *yaml.Node, key string, val *yaml.Node) {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{Str(key), val}}
	e.addEdit(e.t.appendKeyEdit(m, parent == e.Root() && parent.Style&yaml.FlowStyle == 0))
	parent.Content = append(parent.Content, m.Content...)
}

func (e *Editor) addEdit(ed textEdit, ok bool) {
	if !ok {
		e.textOK = false
		return
	}
	e.edits = append(e.edits, ed)
}

// Bytes returns the edited document's text: the original with the edits spliced in when that
// decodes to the edited tree, else the tree encoded by yaml.v3 (indent 2).
func (e *Editor) Bytes() ([]byte, error) {
	var want any
	if err := e.doc.Decode(&want); err != nil {
		return nil, fmt.Errorf("decode edited tree: %w", err)
	}
	if e.textOK {
		if spliced, ok := applyEdits(e.t.src, e.edits); ok && decodesTo(spliced, want) {
			return spliced, nil
		}
	}
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(e.doc); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	out := []byte(buf.String())
	if !decodesTo(out, want) {
		return nil, errors.New("re-encoded YAML does not round-trip; file left unchanged (please report this)")
	}
	return out, nil
}

func scalarValues(seq *yaml.Node) []string {
	out := make([]string, 0, len(seq.Content))
	for _, n := range seq.Content {
		out = append(out, Resolve(n).Value)
	}
	return out
}

func decodesTo(src []byte, want any) bool {
	var got any
	if err := yaml.Unmarshal(src, &got); err != nil {
		return false
	}
	return reflect.DeepEqual(got, want)
}
