package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
)

func TestPurge(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	db := MustOpenDB(t)

	// Dedupe marks: 12,000 old ones (more than one purge transaction) and
	// one inside the window.
	mustUpdate(t, db, func(tx edge.Tx) error {
		for i := range 12_000 {
			if err := tx.MarkEventSeen("sc-01", fmt.Sprintf("old-%05d", i), "v", now.Add(-8*24*time.Hour)); err != nil {
				return err
			}
		}
		return tx.MarkEventSeen("sc-01", "new", "v", now.Add(-6*24*time.Hour))
	})
	// Feed: 10 events two hours old, then 10 from the last half hour.
	mustUpdate(t, db, func(tx edge.Tx) error {
		for i := range 20 {
			at := now.Add(-2 * time.Hour)
			if i >= 10 {
				at = now.Add(-30 * time.Minute)
			}
			if err := tx.AppendFeed(&huiyan.FeedEvent{Kind: huiyan.FeedDevice, At: at, Device: "sc-01"}); err != nil {
				return err
			}
		}
		return nil
	})
	// Sessions: one expired, one valid.
	mustUpdate(t, db, func(tx edge.Tx) error {
		if err := tx.PutSession(edge.Session{TokenHash: "expired", StaffID: "s", Expires: now.Add(-time.Second)}); err != nil {
			return err
		}
		return tx.PutSession(edge.Session{TokenHash: "valid", StaffID: "s", Expires: now.Add(time.Hour)})
	})
	// Visits: closed long ago (with a card), closed recently, and open for
	// ages (an edge that never closed it: not ours to drop).
	mustUpdate(t, db, func(tx edge.Tx) error {
		for _, v := range []struct {
			visit   *huiyan.Visit
			subject string
		}{
			{&huiyan.Visit{ID: "old", OpenedAt: now.Add(-200 * 24 * time.Hour), ClosedAt: now.Add(-200 * 24 * time.Hour)}, "C1"},
			{&huiyan.Visit{ID: "recent", OpenedAt: now.Add(-10 * 24 * time.Hour), ClosedAt: now.Add(-10 * 24 * time.Hour)}, "C2"},
			{&huiyan.Visit{ID: "open", OpenedAt: now.Add(-300 * 24 * time.Hour)}, "C3"},
		} {
			if err := tx.PutVisit(v.visit, v.subject); err != nil {
				return err
			}
			if err := tx.PutCard(&huiyan.Card{Visit: v.visit}); err != nil {
				return err
			}
		}
		return nil
	})

	st, err := db.Purge(t.Context(), now, bolt.PurgePolicy{FeedKeep: 5, FeedMinAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	want := bolt.PurgeStats{Dedupe: 12_000, Feed: 10, Sessions: 1, Visits: 1, Cards: 1}
	if st != want {
		t.Errorf("stats=%+v, want %+v", st, want)
	}

	db = mustReopen(t, db)
	mustView(t, db, func(tx edge.Tx) error {
		if _, err := tx.EventSeen("sc-01", "old-00000"); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("old mark err=%v, want ErrNotFound", err)
		}
		if v, err := tx.EventSeen("sc-01", "new"); v != "v" || err != nil {
			t.Errorf("new mark=%q, %v, want kept", v, err)
		}

		// The 10 old events went although FeedKeep is 5: the newest 5
		// and the last hour are kept, the union of the two.
		if o, n, err := tx.FeedRange(); o != 11 || n != 20 || err != nil {
			t.Errorf("feed range=(%d, %d, %v), want (11, 20)", o, n, err)
		}
		evs, err := tx.FeedAfter(0, 0)
		if err != nil {
			return err
		}
		if len(evs) != 10 || evs[0].Seq != 11 {
			t.Errorf("feed after 0 = %d events, want 10 from 11", len(evs))
		}
		if evs, _ := tx.FeedAfter(15, 0); len(evs) != 5 || evs[0].Seq != 16 {
			t.Errorf("feed after 15 = %d events, want 16..20", len(evs))
		}

		if _, err := tx.Session("expired"); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("expired session err=%v, want ErrNotFound", err)
		}
		if _, err := tx.Session("valid"); err != nil {
			t.Errorf("valid session: %v", err)
		}

		if _, err := tx.Visit("old"); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("old visit err=%v, want ErrNotFound", err)
		}
		if _, err := tx.Card("old"); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("old card err=%v, want ErrNotFound", err)
		}
		for _, id := range []string{"recent", "open"} {
			if _, err := tx.Visit(id); err != nil {
				t.Errorf("visit %s: %v, want kept", id, err)
			}
			if _, err := tx.Card(id); err != nil {
				t.Errorf("card %s: %v, want kept", id, err)
			}
		}
		if v, err := tx.OpenVisitFor("C3"); err != nil || v.ID != "open" {
			t.Errorf("open visit=%v, %v, want kept", v, err)
		}
		return nil
	})

	// Seqs go on after a purge, and FeedKeep alone trims old events.
	mustUpdate(t, db, func(tx edge.Tx) error {
		e := huiyan.FeedEvent{Kind: huiyan.FeedDevice, At: now}
		if err := tx.AppendFeed(&e); err != nil {
			return err
		}
		if e.Seq != 21 {
			t.Errorf("seq after purge=%d, want 21", e.Seq)
		}
		return nil
	})
	later := now.Add(48 * time.Hour)
	st, err = db.Purge(t.Context(), later, bolt.PurgePolicy{FeedKeep: 3})
	if err != nil {
		t.Fatal(err)
	}
	if st.Feed != 8 {
		t.Errorf("purged %d feed events, want 8 (11..18)", st.Feed)
	}
	mustView(t, db, func(tx edge.Tx) error {
		if o, n, err := tx.FeedRange(); o != 19 || n != 21 || err != nil {
			t.Errorf("feed range=(%d, %d, %v), want (19, 21)", o, n, err)
		}
		return nil
	})

	t.Run("Defaults", func(t *testing.T) {
		// Nothing above is old enough for the default policy.
		st, err := db.Purge(t.Context(), later, bolt.PurgePolicy{})
		if err != nil {
			t.Fatal(err)
		}
		if st != (bolt.PurgeStats{}) {
			t.Errorf("stats=%+v, want nothing purged", st)
		}
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := db.Purge(ctx, later, bolt.PurgePolicy{}); !errors.Is(err, context.Canceled) {
			t.Errorf("err=%v, want context.Canceled", err)
		}
	})
}

// TestPurge_KeepsNewestEvent: however old the feed, its newest event stays,
// so FeedRange's newest is always a stored event.
func TestPurge_KeepsNewestEvent(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	db := MustOpenDB(t)
	mustUpdate(t, db, func(tx edge.Tx) error {
		for range 3 {
			if err := tx.AppendFeed(&huiyan.FeedEvent{Kind: huiyan.FeedDevice, At: now.Add(-365 * 24 * time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	})
	if _, err := db.Purge(t.Context(), now, bolt.PurgePolicy{FeedKeep: 1}); err != nil {
		t.Fatal(err)
	}
	mustView(t, db, func(tx edge.Tx) error {
		if o, n, err := tx.FeedRange(); o != 3 || n != 3 || err != nil {
			t.Errorf("feed range=(%d, %d, %v), want (3, 3)", o, n, err)
		}
		return nil
	})
}
