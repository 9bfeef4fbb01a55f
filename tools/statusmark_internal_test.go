package tools

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentmv/agentmv/boundary"
	"github.com/agentmv/agentmv/refresh"
	"github.com/agentmv/agentmv/test/mcpclient"
)

// TestStatusMarkStableAcrossSessions: the mark query_view reads in its transaction (with the
// executor's DateStyle) equals the one read with the status in a plain session, whatever the
// session's DateStyle and TimeZone, so an unchanged registry never causes a status re-read.
func TestStatusMarkStableAcrossSessions(t *testing.T) {
	t.Parallel()
	env := mcpclient.Setup(t)
	cfg, err := pgxpool.ParseConfig(env.RuntimeURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["DateStyle"] = "SQL, DMY"
	cfg.ConnConfig.RuntimeParams["TimeZone"] = "America/Caracas"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	n := boundary.Names{Schema: env.Names.Schema}
	rt := &runtimeTools{cfg: RuntimeConfig{Pool: pool, Schema: n.Schema}, refresher: &refresh.Client{DB: pool, Schema: n.Schema},
		names: n, guards: newGuardCache(), execOpts: execOptions{prepare: true, encode: true, mark: newStatusMark(boundary.StatusMarkSQL(n))}}
	ctx := context.Background()
	snap, err := rt.status(ctx)
	if err != nil || snap.mark == "" {
		t.Fatalf("status: %v, mark %q", err, snap.mark)
	}
	for _, prepare := range []bool{true, false} {
		opts := rt.execOpts
		opts.prepare = prepare
		res, err := execQuery(ctx, pool, n.Schema, "SELECT 1", Limits{}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.mark != snap.mark {
			t.Errorf("prepare=%v: mark in the query's transaction %q, with the status %q", prepare, res.mark, snap.mark)
		}
	}
}
