package tools

import (
	"context"
	"slices"
	"time"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/refresh"
)

// statusSnapshot is one read of the registry and freshness, with what query_view derives
// from it once: the views by name and the key of the set of relations agents may read.
type statusSnapshot struct {
	views   []refresh.ViewStatus
	byName  map[string]*refresh.ViewStatus
	allowed allowedKey
	at      time.Time
	mark    string // boundary.StatusMarkSQL, read just before views
	cached  bool   // served from the cache (may be up to StatusCacheTTL old)
}

func newStatusSnapshot(views []refresh.ViewStatus) *statusSnapshot {
	s := &statusSnapshot{views: views, byName: make(map[string]*refresh.ViewStatus, len(views)), at: time.Now()}
	meta := boundary.MetadataTables()
	names := make([]string, 0, len(views)+len(meta))
	for i := range views {
		s.byName[views[i].Name] = &views[i]
		names = append(names, views[i].Name)
	}
	s.allowed = newAllowedKey(append(names, meta...))
	return s
}

// allows reports whether query_view may read the relation of <S> named name: a managed view
// or one of agentmv's read-only metadata tables.
func (s *statusSnapshot) allows(name string) bool {
	if _, ok := s.byName[name]; ok {
		return true
	}
	return slices.Contains(boundary.MetadataTables(), name)
}

// status returns the views' status for query_view, from a cache at most StatusCacheTTL old.
func (rt *runtimeTools) status(ctx context.Context) (*statusSnapshot, error) {
	ttl := rt.cfg.StatusCacheTTL
	if ttl == 0 {
		ttl = time.Second
	}
	if ttl > 0 {
		rt.cacheMu.Lock()
		snap := rt.cached
		rt.cacheMu.Unlock()
		if snap != nil && time.Since(snap.at) < ttl {
			c := *snap
			c.cached = true
			return &c, nil
		}
	}
	// The mark first: a change between the two reads makes the next query read again,
	// never hides a change.
	var mark string
	if err := rt.cfg.Pool.QueryRow(ctx, rt.execOpts.mark.sql).Scan(&mark); err != nil {
		return nil, err
	}
	st, err := rt.refresher.Status(ctx)
	if err != nil {
		return nil, err
	}
	snap := newStatusSnapshot(st)
	snap.mark = mark
	if ttl > 0 {
		rt.cacheMu.Lock()
		rt.cached = snap
		rt.cacheMu.Unlock()
	}
	return snap, nil
}

// forgetStatus drops the cached status (after a refresh changed it).
func (rt *runtimeTools) forgetStatus() {
	rt.cacheMu.Lock()
	rt.cached = nil
	rt.cacheMu.Unlock()
}
