package bolt_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/hub/funnel"
)

// facts returns funnel facts of a visit opened at at.
func facts(id string, at time.Time) *funnel.Visit {
	return &funnel.Visit{Branch: "B001", ID: id, OpenedAt: at, Channel: huiyan.ChannelCounter, Signals: [3]int{1, 0, 0},
		Recognised: true, MBankAtOpen: huiyan.MBankRegistered, Tier: huiyan.TierNormal}
}

// visitIDs lists the ids FunnelVisits yields for the days, in order.
func visitIDs(t *testing.T, db *bolt.DB, from, to string) []string {
	t.Helper()
	var ids []string
	mustView(t, db, func(tx edge.Tx) error {
		return tx.FunnelVisits(from, to, func(v *funnel.Visit) error {
			ids = append(ids, v.ID)
			return nil
		})
	})
	return ids
}

func TestFunnelVisits(t *testing.T) {
	day1 := time.Date(2026, 11, 23, 9, 0, 0, 0, cst)
	db := MustOpenDB(t)
	mustUpdate(t, db, func(tx edge.Tx) error {
		for _, f := range []*funnel.Visit{
			facts("b", day1),
			facts("a", day1.Add(14*time.Hour+59*time.Minute)),            // 23:59 CST: still day 1
			facts("c", day1.Add(15*time.Hour)),                           // midnight CST: day 2
			facts("d", time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)),   // 01:00 CST on day 2, given in UTC
			facts("e", day1.Add(3*24*time.Hour)),                         // day 4
			{Branch: "B001", ID: "no-opening", Signals: [3]int{0, 1, 0}}, // never stored: not counted
		} {
			if err := tx.PutFunnelVisit(f); err != nil {
				return err
			}
		}
		return nil
	})
	db = mustReopen(t, db)

	for _, tc := range []struct {
		name     string
		from, to string
		want     []string
	}{
		{"OneDay", "2026-11-23", "2026-11-23", []string{"a", "b"}},
		{"NextDay", "2026-11-24", "2026-11-24", []string{"c", "d"}},
		{"Range", "2026-11-23", "2026-11-26", []string{"a", "b", "c", "d", "e"}},
		{"Gap", "2026-11-25", "2026-11-25", nil},
		{"Before", "2026-01-01", "2026-11-22", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := visitIDs(t, db, tc.from, tc.to); !slices.Equal(got, tc.want) {
				t.Errorf("visits=%v, want %v", got, tc.want)
			}
		})
	}

	t.Run("Facts", func(t *testing.T) {
		mustView(t, db, func(tx edge.Tx) error {
			got, err := tx.FunnelVisit("a")
			if err != nil {
				return err
			}
			want := facts("a", day1.Add(14*time.Hour+59*time.Minute))
			if !got.OpenedAt.Equal(want.OpenedAt) || got.Signals != want.Signals || got.MBankAtOpen != want.MBankAtOpen || got.Branch != "B001" {
				t.Errorf("facts=%+v, want %+v", got, want)
			}
			if _, err := tx.FunnelVisit("no-opening"); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("facts without an opening: err=%v, want ErrNotFound", err)
			}
			return nil
		})
	})

	t.Run("Update", func(t *testing.T) {
		// Storing a visit's facts again replaces them under the same day.
		mustUpdate(t, db, func(tx edge.Tx) error {
			f, err := tx.FunnelVisit("c")
			if err != nil {
				return err
			}
			f.ClaimedBy, f.ClaimedAt = "lobby-B001", f.OpenedAt.Add(time.Minute)
			return tx.PutFunnelVisit(f)
		})
		days, ids, err := db.FunnelIndex()
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 5 || len(ids) != 5 {
			t.Errorf("index=%v, facts=%v, want 5 of each", days, ids)
		}
		mustView(t, db, func(tx edge.Tx) error {
			f, err := tx.FunnelVisit("c")
			if err == nil && f.ClaimedBy != "lobby-B001" {
				t.Errorf("claimed by %q, want lobby-B001", f.ClaimedBy)
			}
			return err
		})
	})

	t.Run("ErrBadDay", func(t *testing.T) {
		mustView(t, db, func(tx edge.Tx) error {
			if err := tx.FunnelVisits("2026-11-2", "2026-11-23", func(*funnel.Visit) error { return nil }); err == nil {
				t.Error("a malformed day: err=nil")
			}
			return nil
		})
	})
}

// TestPurge_Funnel: the facts of visits past the retention go with them,
// and whole days past it go even where the visit itself stays (a visit
// never closed); nothing of the index dangles.
func TestPurge_Funnel(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	const days = 24 * time.Hour
	db := MustOpenDB(t)
	mustUpdate(t, db, func(tx edge.Tx) error {
		for _, v := range []struct {
			id       string
			opened   time.Duration // before now
			closed   bool
			purgedBy string // "", "visit" or "day"
		}{
			{"old", 200 * days, true, "visit"},
			{"open-old", 300 * days, false, "day"}, // the visit stays (open), its day does not
			{"edge", 181 * days, true, "visit"},    // closed 181 days ago
			{"kept", 179 * days, true, ""},         // inside the retention
			{"today", 0, false, ""},
		} {
			vi := &huiyan.Visit{ID: v.id, OpenedAt: now.Add(-v.opened)}
			if v.closed {
				vi.ClosedAt = vi.OpenedAt.Add(30 * time.Minute)
			}
			if err := tx.PutVisit(vi, "S-"+v.id); err != nil {
				return err
			}
			if err := tx.PutFunnelVisit(facts(v.id, vi.OpenedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	st, err := db.Purge(t.Context(), now, bolt.PurgePolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Visits != 2 || st.Funnel != 3 {
		t.Errorf("stats=%+v, want 2 visits and 3 funnel facts", st)
	}
	if got := visitIDs(t, db, "2020-01-01", "2026-12-31"); !slices.Equal(got, []string{"kept", "today"}) {
		t.Errorf("facts left=%v, want [kept today]", got)
	}
	dayKeys, ids, err := db.FunnelIndex()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if len(dayKeys) != 2 || !slices.Equal(ids, []string{"kept", "today"}) {
		t.Errorf("index=%v, facts=%v, want the two kept", dayKeys, ids)
	}
	mustView(t, db, func(tx edge.Tx) error {
		if _, err := tx.Visit("open-old"); err != nil {
			t.Errorf("open visit: %v, want kept (Purge never drops an open visit)", err)
		}
		return nil
	})

	t.Run("Retention", func(t *testing.T) {
		// A shorter retention reaches the facts of 179 days ago.
		st, err := db.Purge(t.Context(), now, bolt.PurgePolicy{VisitRetention: 30 * days})
		if err != nil {
			t.Fatal(err)
		}
		if st.Funnel != 1 || st.Visits != 1 {
			t.Errorf("stats=%+v, want the visit and facts of 179 days ago", st)
		}
		if got := visitIDs(t, db, "2020-01-01", "2026-12-31"); !slices.Equal(got, []string{"today"}) {
			t.Errorf("facts left=%v, want [today]", got)
		}
	})
}
