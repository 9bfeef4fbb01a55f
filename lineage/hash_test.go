package lineage_test

import (
	"testing"

	"github.com/agentmv/agentmv/lineage"
)

const hashBase = `SELECT u.id, sum(o.total) AS spent
FROM public.users u
JOIN public.orders o ON o.user_id = u.id
WHERE o.status = 'paid' AND o.total > 10
GROUP BY u.id
ORDER BY spent DESC
LIMIT 100`

func mustHash(t *testing.T, sql string) string {
	t.Helper()
	q, err := lineage.Parse(sql)
	if err != nil {
		t.Fatalf("Parse(%q): %v", sql, err)
	}
	h := q.Hash()
	if len(h) != 64 {
		t.Fatalf("Hash() = %q, want 64 hex digits (sha256)", h)
	}
	return h
}

// TestHashStable: formatting, comments, keyword case, a trailing semicolon and redundant
// parentheses around the whole query do not change the hash.
func TestHashStable(t *testing.T) {
	base := mustHash(t, hashBase)
	same := map[string]string{
		"one line":             `SELECT u.id, sum(o.total) AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"tabs and blank lines": "\n\n\tSELECT\tu.id,\n\n\tsum( o.total )   AS spent\nFROM public.users u\n\tJOIN public.orders o\n\t\tON o.user_id = u.id\nWHERE o.status = 'paid'\n  AND o.total > 10\nGROUP BY u.id ORDER BY spent DESC LIMIT 100\n\n",
		"comments": `-- top spenders
SELECT u.id, /* money */ sum(o.total) AS spent -- per user
FROM public.users u
JOIN public.orders o ON o.user_id = u.id /* inner */
WHERE o.status = 'paid' AND o.total > 10
GROUP BY u.id
ORDER BY spent DESC
LIMIT 100 -- cap`,
		"keyword case": `select u.id, SUM(o.total) as spent
from public.users u
join public.orders o on o.user_id = u.id
where o.status = 'paid' and o.total > 10
group by u.id
order by spent desc
limit 100`,
		"trailing semicolon":                     hashBase + ";",
		"INNER JOIN spelled":                     `SELECT u.id, sum(o.total) AS spent FROM public.users u INNER JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"unquoted lower-case identifiers quoted": `SELECT "u"."id", sum("o"."total") AS "spent" FROM "public"."users" "u" JOIN "public"."orders" "o" ON "o"."user_id" = "u"."id" WHERE "o"."status" = 'paid' AND "o"."total" > 10 GROUP BY "u"."id" ORDER BY "spent" DESC LIMIT 100`,
		"upper-case unquoted identifiers":        `SELECT U.ID, SUM(O.TOTAL) AS SPENT FROM PUBLIC.USERS U JOIN PUBLIC.ORDERS O ON O.USER_ID = U.ID WHERE O.STATUS = 'paid' AND O.TOTAL > 10 GROUP BY U.ID ORDER BY SPENT DESC LIMIT 100`,
	}
	for name, sql := range same {
		if got := mustHash(t, sql); got != base {
			t.Errorf("%s: hash changed (%s vs %s)", name, got, base)
		}
	}
}

// TestHashChanges: every change that can change the view's rows or columns changes the hash,
// including the ones pg_query's Fingerprint ignores (constants, aliases, digits in names).
func TestHashChanges(t *testing.T) {
	base := mustHash(t, hashBase)
	changed := map[string]string{
		"constant":         `SELECT u.id, sum(o.total) AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 11 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"string constant":  `SELECT u.id, sum(o.total) AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'Paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"limit":            `SELECT u.id, sum(o.total) AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 1000`,
		"column alias":     `SELECT u.id, sum(o.total) AS total_spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY total_spent DESC LIMIT 100`,
		"table alias":      `SELECT uu.id, sum(o.total) AS spent FROM public.users uu JOIN public.orders o ON o.user_id = uu.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY uu.id ORDER BY spent DESC LIMIT 100`,
		"column order":     `SELECT sum(o.total) AS spent, u.id FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"relation":         `SELECT u.id, sum(o.total) AS spent FROM public.users u JOIN public.orders_2025 o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"schema":           `SELECT u.id, sum(o.total) AS spent FROM public.users u JOIN sales.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"quoted case":      `SELECT u.id, sum(o.total) AS "Spent" FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY "Spent" DESC LIMIT 100`,
		"join type":        `SELECT u.id, sum(o.total) AS spent FROM public.users u LEFT JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"sort direction":   `SELECT u.id, sum(o.total) AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent ASC LIMIT 100`,
		"function":         `SELECT u.id, avg(o.total) AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"operator":         `SELECT u.id, sum(o.total) AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total >= 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"no where clause":  `SELECT u.id, sum(o.total) AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"distinct":         `SELECT DISTINCT u.id, sum(o.total) AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"cast":             `SELECT u.id, sum(o.total)::bigint AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status = 'paid' AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
		"in list contents": `SELECT u.id, sum(o.total) AS spent FROM public.users u JOIN public.orders o ON o.user_id = u.id WHERE o.status IN ('paid', 'void') AND o.total > 10 GROUP BY u.id ORDER BY spent DESC LIMIT 100`,
	}
	seen := map[string]string{base: "base"}
	for name, sql := range changed {
		h := mustHash(t, sql)
		if prev, dup := seen[h]; dup {
			t.Errorf("%s: same hash as %s", name, prev)
		}
		seen[h] = name
	}
}

// TestHashIsDeparse: the hash is over the deparsed text, so re-parsing the deparsed text gives
// the same hash and Analyze reports the same one.
func TestHashIsDeparse(t *testing.T) {
	q, err := lineage.Parse("select 1 as x -- c\n")
	if err != nil {
		t.Fatal(err)
	}
	d, err := q.Deparse()
	if err != nil {
		t.Fatal(err)
	}
	if d != "SELECT 1 AS x" {
		t.Errorf("Deparse() = %q, want %q", d, "SELECT 1 AS x")
	}
	if got := mustHash(t, d); got != q.Hash() {
		t.Errorf("hash of the deparsed text %s differs from %s", got, q.Hash())
	}
	const want = "c3b9b519cbdd6e6936318bc24556cc9b7e8a8d118584fa470b98b5869285a031" // sha256("SELECT 1 AS x")
	if q.Hash() != want {
		t.Errorf("Hash() = %s, want sha256 of the deparsed text %s", q.Hash(), want)
	}
}
