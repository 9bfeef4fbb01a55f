package testutil

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// loadQueries are the query_view statements of the HTTP load mix, over views a (id, name,
// amount) and b (name, total); %d takes a number below 100.
var loadQueries = []string{
	"SELECT id, name, amount FROM a WHERE id = %d",
	"SELECT name, total FROM b ORDER BY total DESC",
	"SELECT count(*) AS n, max(amount) AS top FROM a WHERE amount > %d",
	"SELECT a.name, b.total FROM a JOIN b USING (name) WHERE a.id < %d ORDER BY 1 LIMIT 5",
}

// LoadMixCall picks the next call of the HTTP load mix that reliability's TestMCPLoad runs and
// bench's BenchmarkTelemetryOverhead measures: 20% list_views, 20% describe_view, 50%
// query_view (limit 50), 10% refresh_view, over views a and b.
func LoadMixCall(rng *rand.Rand) (tool string, args map[string]any) {
	view := []string{"a", "b"}[rng.IntN(2)]
	switch p := rng.IntN(100); {
	case p < 20:
		return "list_views", map[string]any{}
	case p < 40:
		return "describe_view", map[string]any{"name": view}
	case p < 90:
		q := loadQueries[rng.IntN(len(loadQueries))]
		if strings.Contains(q, "%d") {
			q = fmt.Sprintf(q, rng.IntN(100))
		}
		return "query_view", map[string]any{"sql": q, "limit": 50}
	default:
		return "refresh_view", map[string]any{"name": view}
	}
}
