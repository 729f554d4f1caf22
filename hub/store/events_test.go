package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/funnel"
	"huiyan/hub/funnel/funneltest"
	"huiyan/hub/store"
)

// scriptBatches is the scripted two days as an edge sends them: each
// branch's events in order, in batches of n.
func scriptBatches(n int) map[string][][]hub.EventWire {
	out := map[string][][]hub.EventWire{}
	for _, b := range []string{funneltest.B1, funneltest.B2} {
		evs := funneltest.Events(b)
		for len(evs) > 0 {
			k := min(n, len(evs))
			out[b] = append(out[b], evs[:k])
			evs = evs[k:]
		}
	}
	return out
}

func scriptLen() int {
	return len(funneltest.Events(funneltest.B1)) + len(funneltest.Events(funneltest.B2))
}

// sendAll posts every batch and returns the sums of the results.
func sendAll(tb testing.TB, s *store.Store, batches map[string][][]hub.EventWire) store.EventsResult {
	tb.Helper()
	var sum store.EventsResult
	for _, b := range []string{funneltest.B1, funneltest.B2} {
		for _, batch := range batches[b] {
			r, err := s.RecordEvents(context.Background(), b, batch)
			if err != nil {
				tb.Fatalf("record %d events of %s: %v", len(batch), b, err)
			}
			sum.Accepted += r.Accepted
			sum.Duplicates += r.Duplicates
			sum.Expired += r.Expired
		}
	}
	return sum
}

func report(tb testing.TB, s *store.Store, branch string, g funnel.Group) *funnel.Report {
	tb.Helper()
	r, err := s.Funnel(context.Background(), store.FunnelQuery{Branch: branch, From: funneltest.Day1, To: funneltest.Day2, Group: g})
	if err != nil {
		tb.Fatalf("funnel of %q by %q: %v", branch, g, err)
	}
	return r
}

// reportBytes is a report as JSON, to compare nodes and moments.
func reportBytes(tb testing.TB, s *store.Store) []byte {
	tb.Helper()
	b, err := json.Marshal(report(tb, s, "", funnel.ByBranchDay))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// checkScript checks every grouping, for both branches and each.
func checkScript(tb testing.TB, s *store.Store) {
	tb.Helper()
	for _, branch := range []string{"", funneltest.B1, funneltest.B2} {
		for _, g := range []funnel.Group{funnel.ByNone, funnel.ByBranch, funnel.ByDay, funnel.ByBranchDay} {
			if err := funneltest.CheckReport(report(tb, s, branch, g), branch); err != nil {
				tb.Fatalf("%s: branch %q by %q: %v", s.ID(), branch, g, err)
			}
		}
	}
}

// bigBatch is n visits of five events each, opened at t.
func bigBatch(prefix string, visits int, t time.Time) []hub.EventWire {
	var out []hub.EventWire
	for i := range visits {
		v := fmt.Sprintf("%s%04d", prefix, i)
		at := t.Add(time.Duration(i) * time.Second)
		out = append(out,
			hub.EventWire{ID: v + ":1:opened", Kind: hub.EventOpened, At: at, Visit: v, Channel: huiyan.ChannelCounter,
				Recognised: true, MBankAtOpen: huiyan.MBankDormant, Tier: huiyan.TierNormal},
			hub.EventWire{ID: v + ":2:claimed", Kind: hub.EventClaimed, At: at.Add(30 * time.Second), Visit: v, Staff: "lobby-B009"},
			hub.EventWire{ID: v + ":3:converted", Kind: hub.EventConverted, At: at.Add(time.Minute), Visit: v,
				Conversion: huiyan.ConversionActivated, Staff: "lobby-B009"},
			hub.EventWire{ID: v + ":4:outcome", Kind: hub.EventOutcome, At: at.Add(2 * time.Minute), Visit: v,
				Staff: "lobby-B009", Outcome: huiyan.OutcomeActivated},
			hub.EventWire{ID: v + ":5:closed", Kind: hub.EventClosed, At: at.Add(time.Hour), Visit: v})
	}
	return out
}

func TestEvents_SingleNode(t *testing.T) {
	s := MustOpenLeader(t, "n1")
	ctx := context.Background()
	n := scriptLen()

	t.Run("ScriptedDays", func(t *testing.T) {
		r := sendAll(t, s, scriptBatches(7))
		if r.Accepted != n || r.Duplicates != 0 || r.Expired != 0 {
			t.Fatalf("result %+v, want %d accepted", r, n)
		}
		checkScript(t, s)
	})

	t.Run("ResendCountsOnce", func(t *testing.T) {
		// The edge never got the answers (lost acknowledgements) and sends
		// everything again, in other batch sizes: all duplicates, and the
		// report does not move.
		before := reportBytes(t, s)
		for _, size := range []int{1, 5, hub.MaxEventBatch} {
			r := sendAll(t, s, scriptBatches(size))
			if r.Accepted != 0 || r.Duplicates != n {
				t.Fatalf("batches of %d: result %+v, want %d duplicates", size, r, n)
			}
		}
		if after := reportBytes(t, s); string(after) != string(before) {
			t.Fatalf("report changed by a resend:\n%s\n%s", before, after)
		}
		checkScript(t, s)
	})

	t.Run("PartlyNew", func(t *testing.T) {
		// A batch whose first part the hub has and whose rest is new: a
		// resend after the edge added events behind the lost batch.
		evs := bigBatch("p", 4, time.Date(2026, 11, 25, 10, 0, 0, 0, funnel.CST))
		if r, err := s.RecordEvents(ctx, "B009", evs[:10]); err != nil || r.Accepted != 10 {
			t.Fatalf("first: %+v %v", r, err)
		}
		r, err := s.RecordEvents(ctx, "B009", evs)
		if err != nil || r.Accepted != 10 || r.Duplicates != 10 {
			t.Fatalf("second: %+v %v, want 10 accepted and 10 duplicates", r, err)
		}
		// The same ids from another branch are that branch's own.
		if r, err := s.RecordEvents(ctx, "B010", evs[:5]); err != nil || r.Accepted != 5 {
			t.Fatalf("other branch: %+v %v", r, err)
		}
	})

	t.Run("FullBatchIsOneEntry", func(t *testing.T) {
		evs := bigBatch("f", hub.MaxEventBatch/5, time.Date(2026, 11, 26, 9, 0, 0, 0, funnel.CST))
		if len(evs) != hub.MaxEventBatch {
			t.Fatalf("%d events", len(evs))
		}
		idx := s.AppliedIndex()
		r, err := s.RecordEvents(ctx, "B009", evs)
		if err != nil || r.Accepted != hub.MaxEventBatch {
			t.Fatalf("%+v %v", r, err)
		}
		if got := s.AppliedIndex() - idx; got != 1 {
			t.Fatalf("a batch of %d took %d log entries, want 1", len(evs), got)
		}
		rep, err := s.Funnel(ctx, store.FunnelQuery{Branch: "B009", From: "2026-11-26", To: "2026-11-26"})
		if err != nil {
			t.Fatal(err)
		}
		if c := rep.Total; c.Arrivals != 100 || c.Activated != 100 || c.ActivationRate != 1 || c.ClaimMedianS != 30 {
			t.Fatalf("total %+v", c)
		}
		v, err := s.VisitFacts("B009", "f0007")
		if err != nil || v.ClaimedBy != "lobby-B009" || v.Converted != huiyan.ConversionActivated || v.ClosedAt.IsZero() {
			t.Fatalf("facts %+v %v", v, err)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		good := bigBatch("x", 1, time.Now())
		bad := slices.Clone(good)
		bad[1].Staff = ""
		tests := []struct {
			name   string
			branch string
			evs    []hub.EventWire
		}{
			{"Empty", "B001", nil},
			{"TooMany", "B001", bigBatch("y", hub.MaxEventBatch/5+1, time.Now())},
			{"BadEvent", "B001", bad},
			{"RepeatedID", "B001", append(slices.Clone(good), good[0])},
			{"BadBranch", "B 1", good},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				idx := s.AppliedIndex()
				_, err := s.RecordEvents(ctx, tt.branch, tt.evs)
				if huiyan.ErrorCode(err) != huiyan.EInvalid {
					t.Fatalf("err=%v, want invalid", err)
				}
				if s.AppliedIndex() != idx {
					t.Fatal("a refused batch reached the log")
				}
			})
		}
	})

	t.Run("ErrQuery", func(t *testing.T) {
		for _, q := range []store.FunnelQuery{
			{From: "2026-11-24", To: "2026-11-23"},
			{From: "2025-01-01", To: "2026-01-02"},
			{From: "yesterday", To: "2026-11-23"},
			{From: "2026-11-23", To: "2026-11-23", Branch: "B 1"},
			{From: "2026-11-23", To: "2026-11-23", Group: "week"},
		} {
			if _, err := s.Funnel(ctx, q); huiyan.ErrorCode(err) != huiyan.EInvalid {
				t.Fatalf("%+v: err=%v, want invalid", q, err)
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Funnel(cctx, store.FunnelQuery{From: funneltest.Day1, To: funneltest.Day2}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err=%v, want canceled", err)
		}
	})
}

func TestEvents_Retention(t *testing.T) {
	s := MustOpenLeader(t, "n1")
	ctx := context.Background()
	store.SetPurgeLimit(t, 3) // several commands per purge
	if r := sendAll(t, s, scriptBatches(50)); r.Accepted != scriptLen() {
		t.Fatalf("%+v", r)
	}
	cut, _ := funnel.ParseDay(funneltest.Day2, nil)

	r, err := s.PurgeEvents(ctx, cut.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Day1 had seven visits; their events before Day2's midnight are
	// forgotten: all of them but v5's outcome, sent after midnight.
	var day1Events int
	for _, b := range []string{funneltest.B1, funneltest.B2} {
		for _, e := range funneltest.Events(b) {
			if e.At.Before(cut) {
				day1Events++
			}
		}
	}
	if r.Before != funneltest.Day2 || r.Visits != 7 || r.Events != day1Events {
		t.Fatalf("purge %+v, want 7 visits and %d events before %s", r, day1Events, funneltest.Day2)
	}

	one, err := s.Funnel(ctx, store.FunnelQuery{From: funneltest.Day1, To: funneltest.Day1, Group: funnel.ByBranchDay})
	if err != nil {
		t.Fatal(err)
	}
	if one.Total.Arrivals != 0 || len(one.Rows) != 0 {
		t.Fatalf("Day1 after the purge: %+v", one.Total)
	}
	after := report(t, s, "", funnel.ByBranchDay)
	if len(after.Rows) != 2 {
		t.Fatalf("rows after the purge %+v", after.Rows)
	}
	for i, f := range funneltest.Rows {
		if f.Day != funneltest.Day2 {
			continue
		}
		j := slices.IndexFunc(after.Rows, func(c funnel.Counts) bool { return c.Branch == f.Branch && c.Day == f.Day })
		if j < 0 {
			t.Fatalf("row %d (%s/%s) gone", i, f.Branch, f.Day)
		}
		if err := f.Check(&after.Rows[j]); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("OldEventsExpire", func(t *testing.T) {
		// The edge sends a Day1 batch again: its ids are forgotten, but it
		// is older than the horizon, so nothing comes back.
		r := sendAll(t, s, scriptBatches(50))
		if r.Accepted != 0 || r.Expired != day1Events || r.Duplicates != scriptLen()-day1Events {
			t.Fatalf("resend after purge %+v, want %d expired", r, day1Events)
		}
		if _, err := s.VisitFacts(funneltest.B1, "v1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("v1 facts err=%v, want not found", err)
		}
	})

	t.Run("NothingLeftNoEntry", func(t *testing.T) {
		idx := s.AppliedIndex()
		r, err := s.PurgeEvents(ctx, cut)
		if err != nil || r.Visits != 0 || r.Events != 0 {
			t.Fatalf("%+v %v", r, err)
		}
		if s.AppliedIndex() != idx {
			t.Fatal("a purge with nothing to do reached the log")
		}
	})

}

// TestRunRetention runs the retention loop on the leader with data dated
// from now: what is older than keep goes, what is newer stays.
func TestRunRetention(t *testing.T) {
	s := MustOpenLeader(t, "n1")
	ctx := context.Background()
	if err := s.RunRetention(ctx, time.Second, time.Hour); err == nil {
		t.Fatal("a retention under a day was taken")
	}
	now := time.Now()
	for _, b := range [][]hub.EventWire{bigBatch("old", 3, now.Add(-72*time.Hour)), bigBatch("new", 2, now.Add(-time.Minute))} {
		if r, err := s.RecordEvents(ctx, "B009", b); err != nil || r.Accepted != len(b) {
			t.Fatalf("%+v %v", r, err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.RunRetention(rctx, time.Hour, 24*time.Hour) }()
	testPoll(t, "retention purged the old visits", func() bool {
		_, err := s.VisitFacts("B009", "old0002")
		return errors.Is(err, store.ErrNotFound)
	}, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"old0000", "old0001"} {
		if _, err := s.VisitFacts("B009", v); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: err=%v, want not found", v, err)
		}
	}
	for _, v := range []string{"new0000", "new0001"} {
		if _, err := s.VisitFacts("B009", v); err != nil {
			t.Fatalf("%s: %v, want kept", v, err)
		}
	}
}

func TestEdgeStatus(t *testing.T) {
	s := MustOpenLeader(t, "n1")
	ctx := context.Background()
	if _, err := s.IssueCredential(ctx, "B002"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.IssueCredential(ctx, "B001"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	st := hub.EdgeStatus{At: now, Version: "v1.2.3", SnapshotVersion: 4, OutboxDepth: 12, OutboxOldest: now.Add(-time.Hour),
		Devices: []hub.DeviceStatus{
			{Device: "sc-01", Channel: huiyan.ChannelCounter, Online: true, Since: now.Add(-time.Hour)},
			{Device: "ec-01", Channel: huiyan.ChannelECode, Online: false, Since: now.Add(-time.Minute)},
			{Device: "wh-01", Online: true},
		}}
	if err := s.ReportStatus(ctx, "B001", st); err != nil {
		t.Fatal(err)
	}
	branch := func(id string) store.Branch {
		bs, err := s.Branches()
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(bs, func(b store.Branch) bool { return b.ID == id })
		if i < 0 {
			t.Fatalf("branch %s not listed: %+v", id, bs)
		}
		return bs[i]
	}
	b := branch("B001")
	if b.EdgeState != store.EdgeOnline || b.OutboxDepth == nil || b.LastSeen.IsZero() || !b.LastSeen.Equal(b.HeartbeatAt) ||
		time.Since(b.LastSeen) > time.Minute {
		t.Fatalf("B001 %+v", b)
	}
	if e := b; e.EdgeVersion != "v1.2.3" || e.EdgeSnapshotVersion != 4 || *e.OutboxDepth != 12 || !e.OutboxOldest.Equal(st.OutboxOldest) ||
		e.DevicesOnline != 2 || e.DevicesOffline != 1 || len(e.Devices) != 3 || e.Devices[1].ID != "ec-01" || e.Devices[1].Online {
		t.Fatalf("B001 edge %+v", e)
	}
	if b := branch("B002"); b.EdgeState != store.EdgeUnknown || b.OutboxDepth != nil || !b.HeartbeatAt.IsZero() || !b.LastSeen.IsZero() {
		t.Fatalf("B002 (credential, never seen) %+v", b)
	}

	t.Run("UnchangedNotReplicated", func(t *testing.T) {
		idx := s.AppliedIndex()
		st2 := st
		st2.At = st.At.Add(time.Minute)
		if err := s.ReportStatus(ctx, "B001", st2); err != nil {
			t.Fatal(err)
		}
		if s.AppliedIndex() != idx {
			t.Fatal("an unchanged heartbeat was replicated")
		}
		st2.Devices = slices.Clone(st.Devices)
		st2.Devices[1].Online = true
		if err := s.ReportStatus(ctx, "B001", st2); err != nil {
			t.Fatal(err)
		}
		if s.AppliedIndex() != idx+1 {
			t.Fatal("a device change was not replicated")
		}
		if e := branch("B001"); e.DevicesOnline != 3 || e.DevicesOffline != 0 {
			t.Fatalf("edge %+v", e)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, bad := range []hub.EdgeStatus{{}, {At: now, OutboxDepth: -1}, {At: now, Devices: []hub.DeviceStatus{{Device: "a b"}}}} {
			if err := s.ReportStatus(ctx, "B001", bad); huiyan.ErrorCode(err) != huiyan.EInvalid {
				t.Fatalf("%+v: err=%v, want invalid", bad, err)
			}
		}
	})
}

// recordCluster records a batch on the cluster's leader as an edge does:
// when leadership moves under the request, it finds the leader and sends
// the batch again (bounded). It returns the answer it finally got and
// whether it had to resend.
func recordCluster(tb testing.TB, c *cluster, branch string, evs []hub.EventWire) (store.EventsResult, bool) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 0; ; attempt++ {
		r, err := c.leader(tb).RecordEvents(context.Background(), branch, evs)
		switch {
		case err == nil:
			return r, attempt > 0
		case time.Now().After(deadline), !errors.Is(err, store.ErrNotLeader) && !errors.Is(err, store.ErrLeadershipLost) &&
			!errors.Is(err, store.ErrNoLeader) && !errors.Is(err, store.ErrClosed):
			tb.Fatalf("record %d events of %s (attempt %d): %v", len(evs), branch, attempt+1, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sendCluster sends every batch with recordCluster and sums the answers.
func sendCluster(tb testing.TB, c *cluster, batches map[string][][]hub.EventWire) (store.EventsResult, bool) {
	tb.Helper()
	var sum store.EventsResult
	resent := false
	for _, b := range []string{funneltest.B1, funneltest.B2} {
		for _, batch := range batches[b] {
			r, again := recordCluster(tb, c, b, batch)
			sum.Accepted += r.Accepted
			sum.Duplicates += r.Duplicates
			sum.Expired += r.Expired
			resent = resent || again
		}
	}
	return sum, resent
}

// TestEvents_Cluster: events go through the leader of a real three-node
// cluster, every node answers the same report, a resend after a leader
// change counts once, and a node that catches up from a snapshot has the
// same facts.
func TestEvents_Cluster(t *testing.T) {
	c := mustOpenCluster(t, 3)
	ctx := context.Background()
	l := c.leader(t)
	n := scriptLen()
	batches := scriptBatches(6)

	for _, s := range c.open() {
		if s == l {
			continue
		}
		if _, err := s.RecordEvents(ctx, funneltest.B1, batches[funneltest.B1][0]); !errors.Is(err, store.ErrNotLeader) {
			t.Fatalf("follower: err=%v, want ErrNotLeader", err)
		}
	}
	// Half of the batches, then the leader dies.
	half := map[string][][]hub.EventWire{}
	for b, bs := range batches {
		half[b] = bs[:len(bs)/2]
	}
	sent, resent1 := sendCluster(t, c, half)
	l = c.leader(t)
	c.waitApplied(t, l)
	old := c.index(l)
	c.kill(t, old)
	// The edge did not get the last answers: it sends everything.
	r, resent2 := sendCluster(t, c, batches)
	// A resend forced by an unplanned election (a loaded machine) hides
	// how many of a batch were new; the figures below still must hold.
	if !resent1 && !resent2 && (r.Accepted != n-sent.Accepted || r.Duplicates != sent.Accepted) {
		t.Fatalf("after failover %+v, want %d accepted and %d duplicates", r, n-sent.Accepted, sent.Accepted)
	}
	if r, _ := sendCluster(t, c, batches); r.Accepted != 0 || r.Duplicates != n {
		t.Fatalf("third send %+v, want %d duplicates", r, n)
	}
	l = c.leader(t)
	c.waitApplied(t, l)
	checkScript(t, l)
	want := reportBytes(t, l)
	for _, s := range c.open() {
		if got := reportBytes(t, s); string(got) != string(want) {
			t.Fatalf("%s answers another report:\n%s\nleader:\n%s", s.ID(), got, want)
		}
	}

	t.Run("InstallSnapshot", func(t *testing.T) {
		// The old leader comes back after the log was compacted: it gets
		// the leader's snapshot and answers the same report.
		// Full batches (~125 KB each) fill several 64 KiB WAL segments, so
		// that compaction (TrailingLogs 4) really deletes the entries the
		// returning node lacks: raft-wal keeps the tail segment readable.
		for i := range 3 {
			evs := bigBatch(fmt.Sprintf("t%d-", i), hub.MaxEventBatch/5, time.Date(2026, 11, 24, 12, 0, 0, 0, funnel.CST))
			recordCluster(t, c, "B009", evs)
		}
		// Every live node compacts: on a loaded machine leadership may
		// move before the old leader returns, and whichever node leads
		// then must no longer have the entries it lacks.
		c.waitApplied(t, c.leader(t))
		for _, n := range c.open() {
			if err := n.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
				t.Fatal(err)
			}
		}
		s := c.restart(t, old)
		l = c.leader(t)
		c.waitApplied(t, l)
		if store.Restores(s) == 0 {
			t.Fatal("the returning node caught up without the leader's snapshot")
		}
		want := reportBytes(t, l)
		if got := reportBytes(t, s); string(got) != string(want) {
			t.Fatalf("restored node answers another report:\n%s\nleader:\n%s", got, want)
		}
		if v, err := s.VisitFacts("B009", "t2-0099"); err != nil || v.Converted != huiyan.ConversionActivated {
			t.Fatalf("facts %+v %v", v, err)
		}
		// And a resend is still all duplicates.
		if r, _ := recordCluster(t, c, funneltest.B1, batches[funneltest.B1][0]); r.Accepted != 0 {
			t.Fatalf("%+v", r)
		}
	})
}

// BenchmarkEvents_Ingest: full batches (500 events, 100 visits) through
// raft on one node; reports events/s.
func BenchmarkEvents_Ingest(b *testing.B) {
	s := MustOpenLeader(b, "n1")
	day := time.Date(2026, 11, 24, 9, 0, 0, 0, funnel.CST)
	b.ResetTimer()
	for i := range b.N {
		evs := bigBatch(fmt.Sprintf("b%d-", i), hub.MaxEventBatch/5, day)
		if _, err := s.RecordEvents(context.Background(), "B009", evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*hub.MaxEventBatch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkFunnel: a report over one day of 20,000 visits (100 branches
// of 200); reports visits/s.
func BenchmarkFunnel(b *testing.B) {
	s := MustOpenLeader(b, "n1")
	day := time.Date(2026, 11, 24, 9, 0, 0, 0, funnel.CST)
	for br := range 100 {
		for k := range 2 {
			evs := bigBatch(fmt.Sprintf("v%d-", k), hub.MaxEventBatch/5, day)
			if _, err := s.RecordEvents(context.Background(), fmt.Sprintf("B%03d", br), evs); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		r, err := s.Funnel(context.Background(), store.FunnelQuery{From: "2026-11-24", To: "2026-11-24", Group: funnel.ByBranch})
		if err != nil || r.Total.Arrivals != 20_000 {
			b.Fatalf("%v %v", r.Total.Arrivals, err)
		}
	}
	b.ReportMetric(float64(b.N*20_000)/b.Elapsed().Seconds(), "visits/s")
}
