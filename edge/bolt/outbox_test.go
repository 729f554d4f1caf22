package bolt_test

import (
	"fmt"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/hub"
)

var outboxT0 = time.Date(2026, 11, 23, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))

func closedEvent(i int, at time.Time) hub.EventWire {
	v := fmt.Sprintf("v%04d", i)
	return hub.EventWire{ID: v + ":closed", Kind: hub.EventClosed, At: at, Visit: v}
}

func appendEvents(t *testing.T, db *bolt.DB, from, to int, at func(i int) time.Time) {
	t.Helper()
	mustUpdate(t, db, func(tx edge.Tx) error {
		for i := from; i < to; i++ {
			if err := tx.AppendOutbox(closedEvent(i, at(i))); err != nil {
				return err
			}
		}
		return nil
	})
}

func outboxIDs(t *testing.T, db *bolt.DB) []string {
	t.Helper()
	var ids []string
	mustView(t, db, func(tx edge.Tx) error {
		items, err := tx.OutboxBatch(0)
		for _, it := range items {
			ids = append(ids, it.Event.ID)
		}
		return err
	})
	return ids
}

func outboxStats(t *testing.T, db *bolt.DB) edge.OutboxStats {
	t.Helper()
	var st edge.OutboxStats
	mustView(t, db, func(tx edge.Tx) error {
		var err error
		st, err = tx.OutboxStats()
		return err
	})
	return st
}

func minute(i int) time.Time { return outboxT0.Add(time.Duration(i) * time.Minute) }

func TestOutbox(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db := MustOpenDB(t)
		if st := outboxStats(t, db); st.Depth != 0 || !st.Oldest.IsZero() || st.Dropped != 0 ||
			st.MaxDepth != bolt.DefaultOutboxMaxDepth || st.MaxAge != bolt.DefaultOutboxMaxAge {
			t.Fatalf("empty stats=%+v", st)
		}
		appendEvents(t, db, 0, 5, minute)
		appendEvents(t, db, 5, 8, minute)
		var items []edge.OutboxItem
		mustView(t, db, func(tx edge.Tx) error {
			var err error
			items, err = tx.OutboxBatch(3)
			return err
		})
		if len(items) != 3 {
			t.Fatalf("batch=%d events, want 3", len(items))
		}
		for i, it := range items {
			if want := closedEvent(i, minute(i)); it.Event.ID != want.ID || !it.Event.At.Equal(want.At) || it.Event.Kind != hub.EventClosed {
				t.Errorf("item %d=%+v, want %+v", i, it.Event, want)
			}
			if i > 0 && it.Key <= items[i-1].Key {
				t.Errorf("key %d=%d not after %d", i, it.Key, items[i-1].Key)
			}
		}
		if st := outboxStats(t, db); st.Depth != 8 || !st.Oldest.Equal(minute(0)) {
			t.Errorf("stats=%+v, want depth 8, oldest %v", st, minute(0))
		}
		mustUpdate(t, db, func(tx edge.Tx) error { return tx.AckOutbox(items[2].Key) })
		mustUpdate(t, db, func(tx edge.Tx) error { return tx.AckOutbox(items[1].Key) }) // again: harmless
		if st := outboxStats(t, db); st.Depth != 5 || !st.Oldest.Equal(minute(3)) {
			t.Errorf("after ack stats=%+v, want depth 5, oldest %v", st, minute(3))
		}

		// Durable and in order across a reopen; new keys keep growing.
		db = mustReopen(t, db)
		appendEvents(t, db, 8, 9, minute)
		ids := outboxIDs(t, db)
		want := []string{"v0003:closed", "v0004:closed", "v0005:closed", "v0006:closed", "v0007:closed", "v0008:closed"}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("ids=%v, want %v", ids, want)
		}
	})

	t.Run("ErrNoID", func(t *testing.T) {
		db := MustOpenDB(t)
		err := db.Update(t.Context(), func(tx edge.Tx) error { return tx.AppendOutbox(hub.EventWire{Kind: hub.EventClosed}) })
		if err == nil {
			t.Fatal("append without id: err=nil")
		}
	})

	t.Run("RolledBack", func(t *testing.T) {
		// An event whose change is rolled back is not in the outbox.
		db := MustOpenDB(t)
		_ = db.Update(t.Context(), func(tx edge.Tx) error {
			if err := tx.AppendOutbox(closedEvent(1, minute(1))); err != nil {
				return err
			}
			return huiyan.Errorf(huiyan.EInvalid, "refused")
		})
		if ids := outboxIDs(t, db); len(ids) != 0 {
			t.Errorf("ids=%v, want none", ids)
		}
	})
}

// TestOutbox_Limits checks the policy in edge/DESIGN.md, "Outbox": at the
// depth or age limit the oldest events are dropped and counted, the count
// survives a restart, and the newest events are always kept.
func TestOutbox_Limits(t *testing.T) {
	t.Run("Depth", func(t *testing.T) {
		db := MustOpenDB(t, bolt.WithOutboxLimits(5, 0))
		appendEvents(t, db, 0, 3, minute)
		appendEvents(t, db, 3, 9, minute) // 9 appended, 5 kept
		want := []string{"v0004:closed", "v0005:closed", "v0006:closed", "v0007:closed", "v0008:closed"}
		if ids := outboxIDs(t, db); fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("ids=%v, want %v", ids, want)
		}
		st := outboxStats(t, db)
		if st.Depth != 5 || st.Dropped != 4 || st.MaxDepth != 5 || !st.Oldest.Equal(minute(4)) {
			t.Errorf("stats=%+v, want depth 5, dropped 4", st)
		}
		db = mustReopen(t, db, bolt.WithOutboxLimits(5, 0))
		appendEvents(t, db, 9, 10, minute)
		if st := outboxStats(t, db); st.Depth != 5 || st.Dropped != 5 {
			t.Errorf("after reopen stats=%+v, want depth 5, dropped 5", st)
		}
	})

	t.Run("Age", func(t *testing.T) {
		db := MustOpenDB(t, bolt.WithOutboxLimits(0, time.Hour))
		hours := func(i int) time.Time { return outboxT0.Add(time.Duration(i) * 20 * time.Minute) }
		appendEvents(t, db, 0, 4, hours) // 0, 20, 40, 60 min: all within the hour of the last
		if st := outboxStats(t, db); st.Depth != 4 || st.Dropped != 0 {
			t.Fatalf("stats=%+v, want depth 4, nothing dropped", st)
		}
		appendEvents(t, db, 4, 6, hours) // 80, 100 min: 0 and 20 are now older than an hour
		want := []string{"v0002:closed", "v0003:closed", "v0004:closed", "v0005:closed"}
		if ids := outboxIDs(t, db); fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("ids=%v, want %v", ids, want)
		}
		// A branch that records nothing: TrimOutbox ages the rest out.
		var n int
		mustUpdate(t, db, func(tx edge.Tx) error {
			var err error
			n, err = tx.TrimOutbox(hours(5).Add(61 * time.Minute))
			return err
		})
		if st := outboxStats(t, db); n != 4 || st.Depth != 0 || st.Dropped != 6 {
			t.Errorf("trimmed %d, stats=%+v, want 4 trimmed, depth 0, dropped 6", n, st)
		}
	})

	t.Run("LoweredLimit", func(t *testing.T) {
		db := MustOpenDB(t)
		appendEvents(t, db, 0, 20, minute)
		db = mustReopen(t, db, bolt.WithOutboxLimits(3, 0))
		mustUpdate(t, db, func(tx edge.Tx) error { _, err := tx.TrimOutbox(minute(20)); return err })
		want := []string{"v0017:closed", "v0018:closed", "v0019:closed"}
		if ids := outboxIDs(t, db); fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("ids=%v, want %v", ids, want)
		}
		if st := outboxStats(t, db); st.Dropped != 17 {
			t.Errorf("dropped=%d, want 17", st.Dropped)
		}
	})
}
