package bolt_test

import (
	"context"
	"errors"
	"testing"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/hub"
)

// heldPrizes returns what Tx.Prizes answers.
func heldPrizes(tb testing.TB, db *bolt.DB) (hub.Prizes, error) {
	tb.Helper()
	var p hub.Prizes
	err := db.View(context.Background(), func(tx edge.Tx) error {
		var err error
		p, err = tx.Prizes()
		return err
	})
	return p, err
}

// TestReplaceSnapshotWithPrizes: the hub's prize table is stored with the
// data set that brings it, kept by one that does not, removed by one that
// says so, and left alone when the data set fails to apply.
func TestReplaceSnapshotWithPrizes(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	const text = "campaign,c1,310101\n" // the store checks the shape, not the rules of the table
	table := &hub.Prizes{Branch: "310101", Fingerprint: hub.PrizesFingerprint(text), Table: text}
	none := &hub.Prizes{Branch: "310101"}

	if _, err := heldPrizes(t, db); !errors.Is(err, edge.ErrNotFound) {
		t.Fatalf("empty store: err %v, want ErrNotFound", err)
	}
	replace := func(version int64, u edge.PrizesUpdate, cs func(func(*huiyan.Customer, error) bool)) error {
		return db.ReplaceSnapshotWithPrizes(ctx, testMeta(version), huiyan.DefaultTagDict(), testStaff, u, cs, nil)
	}
	for _, step := range []struct {
		name    string
		version int64
		u       edge.PrizesUpdate
		fail    bool // the data set fails half-way
		want    *hub.Prizes
	}{
		{"Set", 1, edge.PrizesUpdate{Set: true, Prizes: table}, false, table},
		{"Keep", 2, edge.PrizesUpdate{}, false, table},
		{"FailedKeepsOld", 3, edge.PrizesUpdate{Set: true, Prizes: none}, true, table},
		{"SetNone", 3, edge.PrizesUpdate{Set: true, Prizes: none}, false, none},
		{"Remove", 4, edge.PrizesUpdate{Set: true}, false, nil},
		{"RemoveAgain", 5, edge.PrizesUpdate{Set: true}, false, nil},
		{"SetAgain", 6, edge.PrizesUpdate{Set: true, Prizes: table}, false, table},
		{"ReplaceSnapshotKeeps", 7, edge.PrizesUpdate{}, false, table},
	} {
		t.Run(step.name, func(t *testing.T) {
			cs := customers(0, 10, step.version)
			if step.fail {
				cs = func(yield func(*huiyan.Customer, error) bool) {
					if yield(testCustomer(1, step.version), nil) {
						yield(nil, errors.New("connection lost"))
					}
				}
			}
			var err error
			if step.name == "ReplaceSnapshotKeeps" {
				err = db.ReplaceSnapshot(ctx, testMeta(step.version), nil, nil, cs, nil)
			} else {
				err = replace(step.version, step.u, cs)
			}
			if (err != nil) != step.fail {
				t.Fatalf("replace: %v, want failure=%v", err, step.fail)
			}
			got, err := heldPrizes(t, db)
			switch {
			case step.want == nil && !errors.Is(err, edge.ErrNotFound):
				t.Fatalf("prizes %+v, %v; want ErrNotFound", got, err)
			case step.want != nil && (err != nil || got != *step.want):
				t.Fatalf("prizes %+v, %v; want %+v", got, err, *step.want)
			}
		})
	}

	t.Run("ErrBadFingerprint", func(t *testing.T) {
		bad := *table
		bad.Fingerprint = "0000000000000000"
		if err := replace(8, edge.PrizesUpdate{Set: true, Prizes: &bad}, customers(0, 10, 8)); err == nil {
			t.Fatal("a prize table whose fingerprint is wrong was stored")
		}
		if got, err := heldPrizes(t, db); err != nil || got != *table {
			t.Fatalf("prizes %+v, %v after a refused data set; want the old table", got, err)
		}
	})
}
