package pglocal

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/internal/testutil"
)

func TestStreamingReplica(t *testing.T) {
	if _, err := FindBinDir(); errors.Is(err, ErrNoBinaries) {
		testutil.SkipOrFail(t, "%v", err)
	}
	ctx := context.Background()
	primary, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	replica, err := primary.StartReplica(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()

	pc, err := pgx.Connect(ctx, primary.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	if _, err := pc.Exec(ctx, "CREATE TABLE t AS SELECT 42 AS v"); err != nil {
		t.Fatal(err)
	}
	if err := replica.WaitReplay(ctx, primary, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	rc, err := pgx.Connect(ctx, replica.URL("postgres"))
	if err != nil {
		t.Fatalf("TCP login on the replica with the primary's password: %v", err)
	}
	defer rc.Close(ctx)
	var v int
	var inRecovery bool
	if err := rc.QueryRow(ctx, "SELECT v, pg_is_in_recovery() FROM t").Scan(&v, &inRecovery); err != nil {
		t.Fatal(err)
	}
	if v != 42 || !inRecovery {
		t.Fatalf("replica: v=%d in_recovery=%v", v, inRecovery)
	}
	if _, err := rc.Exec(ctx, "INSERT INTO t VALUES (1)"); err == nil {
		t.Fatal("the replica accepted a write")
	}
}
