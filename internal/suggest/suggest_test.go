package suggest

import "testing"

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"indexes", "indexes", 0},
		{"indexs", "indexes", 1},    // deletion
		{"unqiue", "unique", 1},     // transposition
		{"colums", "columns", 1},    // deletion
		{"sql_fiel", "sql_file", 1}, // transposition
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // OSA, not full Damerau (which would say 2)
		{"größe", "grösse", 2},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Distance(tt.b, tt.a); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"name", "sql_file", "description", "indexes", "sources", "sql", "min_refresh_interval", "max_staleness"}
	tests := []struct {
		word, want string
		ok         bool
	}{
		{"indexs", "indexes", true},
		{"Indexes", "indexes", true},
		{"index", "indexes", true},
		{"desc", "description", true}, // unique prefix
		{"descripton", "description", true},
		{"max_stalenes", "max_staleness", true},
		{"nmae", "name", true},
		{"owner", "", false},
		{"x", "", false},
		{"mi", "", false}, // too short for a prefix match
		{"m", "", false},  // prefix of two: no guess
		{"s", "", false},  // "sql" is 2 edits away; a 1-letter word allows 1
		{"refresh_every", "", false},
	}
	for _, tt := range tests {
		got, ok := Closest(tt.word, keys)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Closest(%q) = %q, %v; want %q, %v", tt.word, got, ok, tt.want, tt.ok)
		}
	}
	if got := DidYouMean("indexs", keys); got != ` (did you mean "indexes"?)` {
		t.Errorf("DidYouMean = %q", got)
	}
	if got := DidYouMean("owner", keys); got != "" {
		t.Errorf("DidYouMean(owner) = %q", got)
	}
}
