package tools

import (
	"container/list"
	"crypto/sha256"
	"slices"
	"sync"
)

// Bounds of the guard cache of one runtime server.
const (
	guardCacheEntries  = 1024    // most verdicts kept
	guardCacheBytes    = 8 << 20 // most bytes of SQL text (raw + deparsed) kept
	guardCacheMaxEntry = 64 << 10
)

// allowedKey identifies a set of relation names query_view may read: the sha256 of the
// sorted names. A verdict is reused only under the same key, so a change of the managed views
// (apply, drop) makes every cached verdict miss.
type allowedKey [sha256.Size]byte

func newAllowedKey(names []string) allowedKey {
	s := slices.Sorted(slices.Values(names))
	h := sha256.New()
	for _, n := range s {
		h.Write([]byte(n))
		h.Write([]byte{0})
	}
	var k allowedKey
	h.Sum(k[:0])
	return k
}

// guardVerdict is what guardRuntime decided about one SQL text under one allowed set: the
// text to run and the relations it reads, or the rejection. Verdicts are immutable.
type guardVerdict struct {
	deparsed string
	read     []string
	err      error
}

type guardCacheKey struct {
	allowed allowedKey
	sql     string
}

type guardCacheItem struct {
	key     guardCacheKey
	verdict *guardVerdict
	size    int
}

// guardCache is a bounded LRU of guard verdicts keyed by (allowed set, SQL text): the same
// text checked against the same managed views always gets the same verdict (the guard is a
// pure function of the two), so a repeated query skips pg_query's parse, walk, deparse and
// round-trip check. Safe for concurrent use.
type guardCache struct {
	mu    sync.Mutex
	ll    *list.List // front = most recently used; values are *guardCacheItem
	items map[guardCacheKey]*list.Element
	bytes int
}

func newGuardCache() *guardCache {
	return &guardCache{ll: list.New(), items: map[guardCacheKey]*list.Element{}}
}

func (c *guardCache) get(k guardCacheKey) (*guardVerdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*guardCacheItem).verdict, true
}

func (c *guardCache) put(k guardCacheKey, v *guardVerdict) {
	size := len(k.sql) + len(v.deparsed) + 128
	if size > guardCacheMaxEntry {
		return // a huge text is rare; don't let it push out many small ones
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&guardCacheItem{key: k, verdict: v, size: size})
	c.bytes += size
	for c.ll.Len() > guardCacheEntries || c.bytes > guardCacheBytes {
		old := c.ll.Back()
		it := old.Value.(*guardCacheItem)
		c.ll.Remove(old)
		delete(c.items, it.key)
		c.bytes -= it.size
	}
}

func (c *guardCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
