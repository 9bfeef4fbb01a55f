package tools

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/refresh"
)

// TestGuardCacheKeyedByAllowedSet: a verdict is reused only under the same set of managed
// views; the same text under another set is checked again and may get another verdict.
func TestGuardCacheKeyedByAllowedSet(t *testing.T) {
	rt := &runtimeTools{cfg: RuntimeConfig{Schema: "agent_mv"}, guards: newGuardCache()}
	with := newStatusSnapshot([]refresh.ViewStatus{{Name: "orders_daily"}, {Name: "customer_rollup"}})
	without := newStatusSnapshot([]refresh.ViewStatus{{Name: "customer_rollup"}})
	again := newStatusSnapshot([]refresh.ViewStatus{{Name: "customer_rollup"}, {Name: "orders_daily"}})
	if with.allowed == without.allowed || with.allowed != again.allowed {
		t.Fatalf("allowed keys: the key must depend on the set of names only, not their order")
	}
	const sql = "select day, total from orders_daily where total > 10"
	v1 := rt.check(sql, with)
	if v1.err != nil || !strings.Contains(v1.deparsed, "orders_daily") || len(v1.read) != 1 || v1.read[0] != "orders_daily" {
		t.Fatalf("allowed: %+v", v1)
	}
	if v := rt.check(sql, again); v != v1 {
		t.Errorf("same text under the same set: verdict not reused")
	}
	v2 := rt.check(sql, without)
	if v2.err == nil || ErrorTypeOf(v2.err) != ErrNotAllowed || !errors.Is(v2.err, errNotManaged) {
		t.Fatalf("after the view left the set: %+v, want not_allowed (not a managed view)", v2)
	}
	if v := rt.check(sql, without); v != v2 {
		t.Errorf("rejection not reused")
	}
	// Attacks are rejected the same way from the cache as on the first check.
	for _, attack := range []string{"SELECT 1; DROP TABLE orders", "SELECT * FROM pg_catalog.pg_class", "SELECT pg_sleep(10) FROM orders_daily"} {
		for i := range 2 {
			if v := rt.check(attack, with); ErrorTypeOf(v.err) != ErrNotAllowed {
				t.Errorf("%q (check %d): %+v, want not_allowed", attack, i+1, v)
			}
		}
	}
	if n := rt.guards.len(); n != 5 {
		t.Errorf("cache holds %d verdicts, want 5", n)
	}
}

func TestGuardCacheBounded(t *testing.T) {
	c := newGuardCache()
	var k allowedKey
	for i := range guardCacheEntries + 100 {
		c.put(guardCacheKey{k, fmt.Sprintf("SELECT %d", i)}, &guardVerdict{deparsed: "x"})
	}
	if n := c.len(); n != guardCacheEntries {
		t.Errorf("%d entries, want the bound %d", n, guardCacheEntries)
	}
	if _, ok := c.get(guardCacheKey{k, "SELECT 0"}); ok {
		t.Errorf("the least recently used entry survived")
	}
	if _, ok := c.get(guardCacheKey{k, fmt.Sprintf("SELECT %d", guardCacheEntries+99)}); !ok {
		t.Errorf("the newest entry is missing")
	}
	big := strings.Repeat("x", guardCacheMaxEntry)
	c.put(guardCacheKey{k, big}, &guardVerdict{})
	if _, ok := c.get(guardCacheKey{k, big}); ok {
		t.Errorf("an entry over %d bytes was cached", guardCacheMaxEntry)
	}
	for i := range 200 { // bytes bound
		c.put(guardCacheKey{k, fmt.Sprintf("%d %s", i, strings.Repeat("y", guardCacheMaxEntry/2))}, &guardVerdict{})
	}
	if c.bytes > guardCacheBytes {
		t.Errorf("%d bytes cached, bound %d", c.bytes, guardCacheBytes)
	}
}
