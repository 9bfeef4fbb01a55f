package boundary_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentmv/agentmv/boundary"
)

// TestSameRecordAgreesWithUpsert: SameRecord is the rule UpsertView's statement applies (apply
// skips the upsert when it holds), so for an unchanged row and for a change of every registry
// field, the Go rule and the database must agree: same ⇔ the upsert leaves applied_at alone.
func TestSameRecordAgreesWithUpsert(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	dur := func(d time.Duration) *time.Duration { return &d }
	f := func(v float64) *float64 { return &v }
	base := boundary.ViewRecord{
		Name: "v", Description: "orders by day", SQLHash: "h1",
		Indexes:            []boundary.Index{{Columns: []string{"day"}, Unique: true}, {Name: "v_amount", Columns: []string{"amount"}}},
		MinRefreshInterval: dur(30 * time.Second), MaxStaleness: dur(26 * time.Hour), RefreshLockTimeout: dur(1500 * time.Millisecond),
		RefreshEvery: dur(time.Hour), SourceHash: "s1", RefreshStrategy: boundary.StrategyIncremental, IncrementalThreshold: f(0.25),
	}
	changes := map[string]func(r *boundary.ViewRecord){
		"Description":          func(r *boundary.ViewRecord) { r.Description = "orders per day" },
		"SQLHash":              func(r *boundary.ViewRecord) { r.SQLHash = "h2" },
		"Indexes":              func(r *boundary.ViewRecord) { r.Indexes = []boundary.Index{{Columns: []string{"day"}, Unique: true}} },
		"MinRefreshInterval":   func(r *boundary.ViewRecord) { r.MinRefreshInterval = nil },
		"MaxStaleness":         func(r *boundary.ViewRecord) { r.MaxStaleness = dur(25 * time.Hour) },
		"RefreshLockTimeout":   func(r *boundary.ViewRecord) { r.RefreshLockTimeout = dur(2 * time.Second) },
		"RefreshEvery":         func(r *boundary.ViewRecord) { r.RefreshEvery = nil },
		"SourceHash":           func(r *boundary.ViewRecord) { r.SourceHash = "" },
		"RefreshStrategy":      func(r *boundary.ViewRecord) { r.RefreshStrategy = "" },
		"IncrementalThreshold": func(r *boundary.ViewRecord) { r.IncrementalThreshold = f(0.5) },
	}
	// Every field the registry stores has a case: a field added later must be added here.
	for _, fld := range reflect.VisibleFields(reflect.TypeFor[boundary.ViewRecord]()) {
		if _, ok := changes[fld.Name]; !ok && fld.Name != "Name" && fld.Name != "AppliedAt" {
			t.Errorf("no case changes ViewRecord.%s", fld.Name)
		}
	}

	// upsert writes rec in its own transaction and returns the row as read back.
	upsert := func(rec boundary.ViewRecord) boundary.ViewRecord {
		t.Helper()
		inTx(t, e.admin, func(tx pgx.Tx) {
			if err := boundary.UpsertView(ctx, tx, e.n, rec); err != nil {
				t.Fatalf("UpsertView: %v", err)
			}
		})
		rows, err := boundary.ReadRegistry(ctx, e.admin, e.n)
		if err != nil || len(rows) != 1 {
			t.Fatalf("ReadRegistry = %+v, %v; want one row", rows, err)
		}
		return rows[0]
	}

	stored := upsert(base)
	if !boundary.SameRecord(stored, base) {
		t.Fatalf("SameRecord(read back, written) = false: apply would rewrite every unchanged view\nread    %+v\nwritten %+v", stored, base)
	}
	if again := upsert(base); !again.AppliedAt.Equal(stored.AppliedAt) {
		t.Fatalf("the database rewrote an identical row (applied_at %v -> %v)", stored.AppliedAt, again.AppliedAt)
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			rec := base
			change(&rec)
			if boundary.SameRecord(stored, rec) {
				t.Fatalf("SameRecord = true after changing %s: apply would not record the change", name)
			}
			got := upsert(rec)
			if got.AppliedAt.Equal(stored.AppliedAt) {
				t.Fatalf("the database kept the row after changing %s, but SameRecord calls it different", name)
			}
			if !boundary.SameRecord(got, rec) {
				t.Fatalf("read back after changing %s differs from what was written:\nread    %+v\nwritten %+v", name, got, rec)
			}
			stored = upsert(base)
		})
	}
}
