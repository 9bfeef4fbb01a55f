package yamledit

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

type textEdit struct {
	start, end int
	text       string
}

// applyEdits applies non-overlapping edits to src.
func applyEdits(src []byte, edits []textEdit) ([]byte, bool) {
	edits = slices.Clone(edits)
	slices.SortFunc(edits, func(a, b textEdit) int { return b.start - a.start })
	out := string(src)
	prev := len(src) + 1
	for _, e := range edits {
		if e.start < 0 || e.end < e.start || e.end > len(src) || e.end > prev {
			return nil, false
		}
		out = out[:e.start] + e.text + out[e.end:]
		prev = e.start
	}
	return []byte(out), true
}

// textIndex maps yaml.v3 marks (1-based lines; 1-based columns counting runes) to byte offsets.
type textIndex struct {
	src   []byte
	lines []int
}

func newTextIndex(src []byte) textIndex {
	t := textIndex{src: src, lines: []int{0}}
	for i, b := range src {
		if b == '\n' {
			t.lines = append(t.lines, i+1)
		}
	}
	return t
}

func (t textIndex) offset(n *yaml.Node) (int, bool) {
	if n.Line < 1 || n.Line > len(t.lines) {
		return 0, false
	}
	off := t.lines[n.Line-1]
	for c := 1; c < n.Column; c++ {
		if off >= len(t.src) || t.src[off] == '\n' {
			return 0, false
		}
		_, w := utf8.DecodeRune(t.src[off:])
		off += w
	}
	return off, true
}

func (t textIndex) lineEnd(off int) int {
	for off < len(t.src) && t.src[off] != '\n' {
		off++
	}
	return off
}

func (t textIndex) lineStart(off int) int {
	for off > 0 && t.src[off-1] != '\n' {
		off--
	}
	return off
}

// end returns the offset just past n's text, for the layouts this file understands.
func (t textIndex) end(n *yaml.Node) (int, bool) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 {
		return 0, false
	}
	start, ok := t.offset(n)
	if !ok {
		return 0, false
	}
	switch {
	case n.Kind == yaml.ScalarNode:
		switch {
		case n.Style&yaml.DoubleQuotedStyle != 0:
			for i := start + 1; i < len(t.src); i++ {
				switch t.src[i] {
				case '\\':
					i++
				case '"':
					return i + 1, true
				}
			}
			return 0, false
		case n.Style&yaml.SingleQuotedStyle != 0:
			for i := start + 1; i < len(t.src); i++ {
				if t.src[i] == '\'' {
					if i+1 < len(t.src) && t.src[i+1] == '\'' {
						i++
						continue
					}
					return i + 1, true
				}
			}
			return 0, false
		case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			return t.blockScalarEnd(start)
		default:
			if n.Value == "" || strings.ContainsAny(n.Value, "\n") || !strings.HasPrefix(string(t.src[start:]), n.Value) {
				return 0, false
			}
			return start + len(n.Value), true
		}
	case n.Style&yaml.FlowStyle != 0:
		return t.matchBracket(start)
	case len(n.Content) == 0:
		return 0, false
	default:
		return t.end(n.Content[len(n.Content)-1])
	}
}

// blockScalarEnd returns the offset after the last non-blank line of the literal or folded
// scalar whose header ("|", ">-", …) starts at start.
func (t textIndex) blockScalarEnd(start int) (int, bool) {
	headerEnd := t.lineEnd(start)
	header := string(t.src[start:headerEnd])
	if i := strings.Index(header, " #"); i >= 0 {
		header = header[:i]
	}
	if strings.ContainsAny(strings.TrimSpace(header), "+123456789") {
		return 0, false
	}
	end, contentIndent := headerEnd, -1
	for pos := headerEnd + 1; pos < len(t.src); {
		le := t.lineEnd(pos)
		line := string(t.src[pos:le])
		if strings.TrimSpace(line) != "" {
			indent := len(line) - len(strings.TrimLeft(line, " "))
			if contentIndent < 0 {
				contentIndent = indent
			}
			if indent < contentIndent || indent == 0 {
				break
			}
			end = le
		}
		pos = le + 1
	}
	return end, contentIndent > 0
}

// matchBracket returns the offset after the bracket that closes the one at start.
func (t textIndex) matchBracket(start int) (int, bool) {
	if start >= len(t.src) || (t.src[start] != '[' && t.src[start] != '{') {
		return 0, false
	}
	depth := 0
	for i := start; i < len(t.src); i++ {
		switch t.src[i] {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case '"':
			for i++; i < len(t.src) && t.src[i] != '"'; i++ {
				if t.src[i] == '\\' {
					i++
				}
			}
		case '\'':
			for i++; i < len(t.src); i++ {
				if t.src[i] == '\'' {
					if i+1 < len(t.src) && t.src[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case '#':
			return 0, false
		}
	}
	return 0, false
}

// colonAfter returns the offset of the ':' that follows mapping key k.
func (t textIndex) colonAfter(k *yaml.Node) (int, bool) {
	e, ok := t.end(k)
	if !ok {
		return 0, false
	}
	for e < len(t.src) && (t.src[e] == ' ' || t.src[e] == '\t') {
		e++
	}
	if e >= len(t.src) || t.src[e] != ':' {
		return 0, false
	}
	return e, true
}

// dash returns the offset of the "- " that introduces block sequence item n and the
// whitespace before it on its line.
func (t textIndex) dash(n *yaml.Node) (int, string, bool) {
	off, ok := t.offset(n)
	if !ok {
		return 0, "", false
	}
	i := off - 1
	for i >= 0 && t.src[i] == ' ' {
		i--
	}
	if i < 0 || t.src[i] != '-' {
		return 0, "", false
	}
	ls := t.lineStart(i)
	indent := string(t.src[ls:i])
	if strings.Trim(indent, " ") != "" {
		return 0, "", false
	}
	return i, indent, true
}

func renderScalar(s string, style yaml.Style, flow bool) string {
	b, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: style})
	out := strings.TrimSuffix(string(b), "\n")
	if err != nil || strings.Contains(out, "\n") || (flow && style == 0 && strings.ContainsAny(out, ",[]{}#")) {
		return strconv.Quote(s)
	}
	return out
}

func renderFlow(vals []string, style yaml.Style) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = renderScalar(v, style, true)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func renderBlock(vals []string, indent string, style yaml.Style) string {
	var b strings.Builder
	for _, v := range vals {
		b.WriteString("\n" + indent + "- " + renderScalar(v, style, false))
	}
	return b.String()
}

// stringsEdit computes the text edit that makes the value of key (at index ki of mapping m, or
// missing when ki < 0) the list of strings want.
func (t textIndex) stringsEdit(m *yaml.Node, ki int, key string, want []string, style yaml.Style, dashOffset int) (textEdit, bool) {
	if m.Style&yaml.FlowStyle != 0 || len(m.Content) == 0 {
		return textEdit{}, false
	}
	keyIndent := strings.Repeat(" ", m.Content[0].Column-1)
	if ki < 0 {
		e, ok := t.end(m)
		if !ok {
			return textEdit{}, false
		}
		at := t.lineEnd(e)
		return textEdit{at, at, "\n" + keyIndent + key + ":" + renderBlock(want, keyIndent+strings.Repeat(" ", dashOffset), style)}, true
	}
	keyNode, val := m.Content[ki], m.Content[ki+1]
	colon, ok := t.colonAfter(keyNode)
	if !ok {
		return textEdit{}, false
	}
	switch {
	case val.Kind == yaml.SequenceNode && val.Style&yaml.FlowStyle != 0:
		start, ok := t.offset(val)
		if !ok {
			return textEdit{}, false
		}
		end, ok := t.matchBracket(start)
		if !ok {
			return textEdit{}, false
		}
		return textEdit{start, end, renderFlow(want, style)}, true
	case val.Kind == yaml.SequenceNode:
		_, indent, ok := t.dash(val.Content[0])
		if !ok {
			return textEdit{}, false
		}
		end, ok := t.end(val)
		if !ok {
			return textEdit{}, false
		}
		if len(want) == 0 {
			return textEdit{colon + 1, end, " []"}, true
		}
		return textEdit{t.lineEnd(colon), end, renderBlock(want, indent, style)}, true
	case IsNull(val) && val.Value == "":
		if len(want) == 0 {
			return textEdit{colon + 1, colon + 1, " []"}, true
		}
		at := t.lineEnd(colon)
		return textEdit{at, at, renderBlock(want, keyIndent+strings.Repeat(" ", dashOffset), style)}, true
	case IsNull(val):
		start, ok := t.offset(val)
		if !ok || !strings.HasPrefix(string(t.src[start:]), val.Value) {
			return textEdit{}, false
		}
		return textEdit{start, start + len(val.Value), renderFlow(want, style)}, true
	}
	return textEdit{}, false
}

// itemStart returns where block sequence item n's text begins, including the comment lines
// directly above its dash.
func (t textIndex) itemStart(n *yaml.Node) (int, bool) {
	d, _, ok := t.dash(n)
	if !ok {
		return 0, false
	}
	start := t.lineStart(d)
	for start > 0 {
		prev := t.lineStart(start - 1)
		if !strings.HasPrefix(strings.TrimSpace(string(t.src[prev:start-1])), "#") {
			break
		}
		start = prev
	}
	return start, true
}

// removeItemEdit computes the text edit that deletes item i of seq, the value of mapping key
// node key.
func (t textIndex) removeItemEdit(key, seq *yaml.Node, i int) (textEdit, bool) {
	if seq.Style&yaml.FlowStyle != 0 {
		return textEdit{}, false
	}
	item := seq.Content[i]
	start, ok := t.itemStart(item)
	if !ok {
		return textEdit{}, false
	}
	if i+1 < len(seq.Content) {
		next, ok := t.itemStart(seq.Content[i+1])
		return textEdit{start, next, ""}, ok
	}
	e, ok := t.end(item)
	if !ok {
		return textEdit{}, false
	}
	end := t.lineEnd(e)
	if len(seq.Content) == 1 {
		colon, ok := t.colonAfter(key)
		if !ok {
			return textEdit{}, false
		}
		return textEdit{colon + 1, end, " []"}, true
	}
	if end < len(t.src) {
		end++
	}
	return textEdit{start, end, ""}, true
}

// appendItemsEdit computes the text edit that appends the items of add to seq, the value of
// mapping key node key.
func (t textIndex) appendItemsEdit(key, seq, add *yaml.Node) (textEdit, bool) {
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if enc.Encode(add) != nil || enc.Close() != nil {
		return textEdit{}, false
	}
	rendered := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	indent := "  "
	at, replaceTo := 0, 0
	var b strings.Builder
	prefix := ""
	if len(seq.Content) > 0 {
		if seq.Style&yaml.FlowStyle != 0 {
			return textEdit{}, false
		}
		var ok bool
		_, indent, ok = t.dash(seq.Content[0])
		if !ok {
			return textEdit{}, false
		}
		e, ok := t.end(seq.Content[len(seq.Content)-1])
		if !ok {
			return textEdit{}, false
		}
		at = t.lineEnd(e)
		replaceTo = at
	} else {
		colon, ok := t.colonAfter(key)
		if !ok {
			return textEdit{}, false
		}
		start, ok := t.offset(seq)
		if !ok {
			return textEdit{}, false
		}
		end, ok := t.matchBracket(start)
		if !ok {
			return textEdit{}, false
		}
		// Keep a comment after "[]" on the views line.
		at, replaceTo = colon+1, t.lineEnd(end)
		prefix = string(t.src[end:replaceTo])
	}
	b.WriteString(prefix)
	for _, line := range rendered {
		b.WriteString("\n")
		if line != "" {
			b.WriteString(indent + line)
		}
	}
	return textEdit{at, replaceTo, b.String()}, true
}

// appendKeyEdit appends the one-key mapping m at the end of the text (top level only).
func (t textIndex) appendKeyEdit(m *yaml.Node, top bool) (textEdit, bool) {
	if !top {
		return textEdit{}, false
	}
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if enc.Encode(m) != nil || enc.Close() != nil {
		return textEdit{}, false
	}
	text := buf.String()
	if n := len(t.src); n > 0 && t.src[n-1] != '\n' {
		text = "\n" + text
	}
	return textEdit{len(t.src), len(t.src), text}, true
}
