package yamledit

import (
	"testing"

	"gopkg.in/yaml.v3"
)

const doc = `# top comment
version: 1
items:   # the list
  - name: a   # first
    tags: [x]
  # about b
  - name: b
    tags:
      - "y"
      - "z"
  - name: c
`

func item(t *testing.T, e *Editor, i int) *yaml.Node {
	t.Helper()
	root := e.Root()
	return root.Content[Key(root, "items")+1].Content[i]
}

func TestEditorKeepsTheRestOfTheText(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, e *Editor) bool
		want string
	}{
		{"set a flow list", func(t *testing.T, e *Editor) bool {
			return e.SetStrings(item(t, e, 0), "tags", []string{"p", "q"}, 2)
		}, `# top comment
version: 1
items:   # the list
  - name: a   # first
    tags: [p, q]
  # about b
  - name: b
    tags:
      - "y"
      - "z"
  - name: c
`},
		{"set a block list, keeping quotes", func(t *testing.T, e *Editor) bool {
			return e.SetStrings(item(t, e, 1), "tags", []string{"w"}, 2)
		}, `# top comment
version: 1
items:   # the list
  - name: a   # first
    tags: [x]
  # about b
  - name: b
    tags:
      - "w"
  - name: c
`},
		{"add a missing key", func(t *testing.T, e *Editor) bool {
			return e.SetStrings(item(t, e, 2), "tags", []string{"n"}, e.DashOffset([]*yaml.Node{item(t, e, 1)}, "tags"))
		}, `# top comment
version: 1
items:   # the list
  - name: a   # first
    tags: [x]
  # about b
  - name: b
    tags:
      - "y"
      - "z"
  - name: c
    tags:
      - n
`},
		{"unchanged list", func(t *testing.T, e *Editor) bool {
			return !e.SetStrings(item(t, e, 1), "tags", []string{"y", "z"}, 2)
		}, doc},
		{"remove an item with its comment", func(t *testing.T, e *Editor) bool {
			e.RemoveItem(e.Root(), "items", 1)
			return true
		}, `# top comment
version: 1
items:   # the list
  - name: a   # first
    tags: [x]
  - name: c
`},
		{"append items", func(t *testing.T, e *Editor) bool {
			m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{Str("name"), Str("d")}}
			e.AppendItems(e.Root(), "items", m)
			return true
		}, doc + "  - name: d\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.edit(t, e) {
				t.Fatal("the edit reported no change (or a change where none was due)")
			}
			got, err := e.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestEditorEmptyListRoundTrip(t *testing.T) {
	e, err := New([]byte("items: [] # none yet\n"))
	if err != nil {
		t.Fatal(err)
	}
	e.AppendItems(e.Root(), "items", &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{Str("name"), Str("a")}})
	got, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if want := "items: # none yet\n  - name: a\n"; string(got) != want {
		t.Fatalf("append to []: got %q, want %q", got, want)
	}
	e, err = New(got)
	if err != nil {
		t.Fatal(err)
	}
	e.RemoveItem(e.Root(), "items", 0)
	if got, err = e.Bytes(); err != nil || string(got) != "items: []\n" {
		t.Fatalf("remove the last item: got %q, %v; want %q", got, err, "items: []\n")
	}
}
