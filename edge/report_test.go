package edge_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/hub"
	"huiyan/hub/funnel"
	pad "huiyan/pad-api"
)

// rtok is the token of the report tests' customer or stranger n.
func rtok(n int) string { return fmt.Sprintf("%064x", 0xabc000+n) }

// reportEdge is a node on a real bbolt file with five customers, one per
// mobile-banking situation the funnel distinguishes, and a roster.
func mustReportEdge(t *testing.T) *outboxEdge {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dict := huiyan.DefaultTagDict()
	mk := func(n int, status huiyan.MBankStatus) *huiyan.Customer {
		return &huiyan.Customer{ID: fmt.Sprintf("C%d", n), DisplayName: "林*华", Tier: huiyan.TierGold, HomeBranch: "B001",
			MBankStatus: status, Risk: "R2", AUMBand: "aum_10k_50k", Lifecycle: huiyan.LifecycleMature,
			Tokens: []huiyan.Ident{id(huiyan.IdentIDCard, rtok(10+n)), id(huiyan.IdentMBank, rtok(20+n))}}
	}
	cs := []*huiyan.Customer{mk(1, huiyan.MBankDormant), mk(2, huiyan.MBankNone), mk(3, huiyan.MBankRegistered),
		mk(4, huiyan.MBankActive), mk(5, huiyan.MBankRegistered)}
	staff := []huiyan.Staff{
		{ID: "lobby-B001", Branch: "B001", Role: huiyan.RoleLobby, DisplayName: "陈*"},
		{ID: "lobby2-B001", Branch: "B001", Role: huiyan.RoleLobby, DisplayName: "刘*"},
		{ID: "supervisor-B001", Branch: "B001", Role: huiyan.RoleSupervisor, DisplayName: "张*"},
	}
	seq := func(yield func(*huiyan.Customer, error) bool) {
		for _, c := range cs {
			if !yield(c, nil) {
				return
			}
		}
	}
	if err := db.ReplaceSnapshot(t.Context(), edge.Meta{Branch: "B001", SnapshotVersion: 1, KeyID: "k1", DictVersion: dict.Version()}, dict, staff, seq, nil); err != nil {
		t.Fatal(err)
	}
	clk := newClock() // 2026-11-23 09:30 CST
	rec := &recorder{}
	n := edge.NewNode(db, edge.Config{Branch: "B001", Clock: clk.Now, CloseEvery: time.Hour})
	n.SetPublisher(rec)
	if err := n.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &outboxEdge{node: n, db: db, clk: clk, rec: rec}
}

// reportDay plays a scripted branch day and the next morning through the
// real node: arrivals by HandleArrival, claims and outcomes by the PAD
// backend methods, conversions by e-code scans. The figures it must give
// are worked out by hand in wantDay1, wantDay2 and wantWeek.
//
// Day 1 (2026-11-23), from 09:30:
//
//	v1 C1 dormant     counter; lobby claims at +30 s; scans the e-code at +1 min: activated; lobby records activated
//	v2 C2 none        opens by e-code at +3 min: a new user at once; lobby2 claims 90 s later, records served
//	v3 C3 registered  counter at +5 min; lobby claims after 10 s, records declined; never scans
//	v4 C4 active      wheel at +6 min; nobody claims it
//	v5 new face       counter at +7 min; lobby2 claims after 20 s and releases it
//	v6 new face       scans the e-code at +8 min (a new face never converts)
//
// Day 2, 09:30: v7 C5 registered at the counter, scans the e-code a minute
// later (activated), lobby2 records activated two minutes in (and so
// claims it then).
func reportDay(t *testing.T, e *outboxEdge) {
	t.Helper()
	ctx := t.Context()
	start := e.clk.Now()
	at := func(d time.Duration) {
		if now := e.clk.Now(); start.Add(d).Before(now) {
			t.Fatalf("script goes back in time to +%s", d)
		} else {
			e.clk.Add(start.Add(d).Sub(now))
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	visit := func() string {
		t.Helper()
		evs := e.rec.take()
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Visit != nil {
				return evs[i].Visit.ID
			}
		}
		t.Fatal("no visit event")
		return ""
	}
	arrive := func(ch huiyan.Channel, dev string, ids ...huiyan.Ident) string {
		t.Helper()
		must(e.node.HandleArrival(ctx, arrival(ch, dev, e.clk.Now(), ids...)))
		return visit()
	}
	card, mbank := func(n int) huiyan.Ident { return id(huiyan.IdentIDCard, rtok(10+n)) }, func(n int) huiyan.Ident { return id(huiyan.IdentMBank, rtok(20+n)) }

	v1 := arrive(huiyan.ChannelCounter, "sc-01", card(1))
	at(30 * time.Second)
	must(e.node.Claim(ctx, "lobby-B001", v1))
	at(time.Minute)
	if v := arrive(huiyan.ChannelECode, "ecode-01", mbank(1)); v != v1 {
		t.Fatalf("the scan opened %s, want it to join %s", v, v1)
	}
	must(e.node.Outcome(ctx, "lobby-B001", v1, huiyan.OutcomeActivated))

	at(3 * time.Minute)
	v2 := arrive(huiyan.ChannelECode, "ecode-01", mbank(2))
	at(4*time.Minute + 30*time.Second)
	must(e.node.Claim(ctx, "lobby2-B001", v2))
	must(e.node.Outcome(ctx, "lobby2-B001", v2, huiyan.OutcomeServed))

	at(5 * time.Minute)
	v3 := arrive(huiyan.ChannelCounter, "sc-01", card(3))
	at(5*time.Minute + 10*time.Second)
	must(e.node.Claim(ctx, "lobby-B001", v3))
	must(e.node.Outcome(ctx, "lobby-B001", v3, huiyan.OutcomeDeclined))

	at(6 * time.Minute)
	arrive(huiyan.ChannelWheel, "wheel-01", card(4))

	at(7 * time.Minute)
	v5 := arrive(huiyan.ChannelCounter, "sc-01", id(huiyan.IdentIDCard, rtok(90)))
	at(7*time.Minute + 20*time.Second)
	must(e.node.Claim(ctx, "lobby2-B001", v5))
	must(e.node.Release(ctx, "lobby2-B001", v5))

	at(8 * time.Minute)
	arrive(huiyan.ChannelECode, "ecode-01", id(huiyan.IdentMBank, rtok(91)))

	// The next morning: day 1's visits close on the way.
	at(24 * time.Hour)
	must(e.node.CloseExpired(ctx))
	v7 := arrive(huiyan.ChannelCounter, "sc-01", card(5))
	at(24*time.Hour + time.Minute)
	arrive(huiyan.ChannelECode, "ecode-01", mbank(5))
	at(24*time.Hour + 2*time.Minute)
	must(e.node.Outcome(ctx, "lobby2-B001", v7, huiyan.OutcomeActivated))
}

// counts builds a funnel.Counts row; unset channels and outcomes are 0.
func counts(day string, arrivals map[string]int, signals map[string]int, outcomes map[string]int, f func(*funnel.Counts)) funnel.Counts {
	c := funnel.Counts{Day: day, ByChannel: map[string]int{}, Signals: map[string]int{}, Outcomes: map[string]int{}}
	for _, ch := range huiyan.Channels {
		c.ByChannel[string(ch)], c.Signals[string(ch)] = arrivals[string(ch)], signals[string(ch)]
	}
	for o, n := range outcomes {
		c.Outcomes[o] = n
	}
	f(&c)
	return c
}

var (
	wantDay1 = counts("2026-11-23", map[string]int{"counter": 3, "ecode": 2, "wheel": 1}, map[string]int{"counter": 3, "ecode": 3, "wheel": 1},
		map[string]int{"activated": 1, "served": 1, "declined": 1}, func(c *funnel.Counts) {
			c.Arrivals, c.Recognised, c.NewFaces, c.Claimed, c.Served = 6, 4, 2, 4, 2
			c.NeedActivation, c.Activated, c.ActivationRate = 2, 1, 0.5
			c.NoMBank, c.NewUsers, c.NewUserRate = 1, 1, 1
			c.ClaimMedianS, c.ClaimP90S = 20, 90 // claims after 10, 20, 30, 90 s
		})
	wantDay2 = counts("2026-11-24", map[string]int{"counter": 1}, map[string]int{"counter": 1, "ecode": 1},
		map[string]int{"activated": 1}, func(c *funnel.Counts) {
			c.Arrivals, c.Recognised, c.Claimed, c.Served = 1, 1, 1, 1
			c.NeedActivation, c.Activated, c.ActivationRate = 1, 1, 1
			c.ClaimMedianS, c.ClaimP90S = 120, 120
		})
	wantWeek = counts("", map[string]int{"counter": 4, "ecode": 2, "wheel": 1}, map[string]int{"counter": 4, "ecode": 4, "wheel": 1},
		map[string]int{"activated": 2, "served": 1, "declined": 1}, func(c *funnel.Counts) {
			c.Arrivals, c.Recognised, c.NewFaces, c.Claimed, c.Served = 7, 5, 2, 5, 3
			c.NeedActivation, c.Activated, c.ActivationRate = 3, 2, 0.6667
			c.NoMBank, c.NewUsers, c.NewUserRate = 1, 1, 1
			c.ClaimMedianS, c.ClaimP90S = 30, 120 // 10, 20, 30, 90, 120 s
		})
	// The leaderboard of the two days: nobody has a credited conversion
	// (branch codes only), so claims order it.
	wantStaff = []funnel.Staff{
		{Staff: "lobby2-B001", Branch: "B001", Claims: 3, Served: 2, Outcomes: map[string]int{"served": 1, "activated": 1}, ClaimMedianS: 90},
		{Staff: "lobby-B001", Branch: "B001", Claims: 2, Served: 1, Outcomes: map[string]int{"activated": 1, "declined": 1}, ClaimMedianS: 10},
	}
)

// TestReport_ScriptedDay checks the supervisor's report for the scripted
// day, today and the last 7 days, against the hand-worked figures, and
// that the hub, folding the events the sender delivers, gets the same.
func TestReport_ScriptedDay(t *testing.T) {
	e := mustReportEdge(t)
	reportDay(t, e)

	get := func(t *testing.T, q pad.ReportQuery) edge.BranchReport {
		t.Helper()
		ans, err := e.node.Report(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ans.ContentType, "application/json") {
			t.Fatalf("content type %q, want JSON", ans.ContentType)
		}
		var br edge.BranchReport
		if err := json.Unmarshal(ans.Body, &br); err != nil {
			t.Fatal(err)
		}
		return br
	}
	t.Run("Today", func(t *testing.T) {
		br := get(t, pad.ReportQuery{})
		if br.From != "2026-11-24" || br.To != "2026-11-24" || br.Today != "2026-11-24" || br.Branch != "B001" {
			t.Errorf("report of %s to %s (today %s, branch %s), want 2026-11-24", br.From, br.To, br.Today, br.Branch)
		}
		want := wantDay2
		want.Day = ""
		if !reflect.DeepEqual(br.Total, want) {
			t.Errorf("total=%+v\nwant  %+v", br.Total, want)
		}
	})
	t.Run("Week", func(t *testing.T) {
		br := get(t, pad.ReportQuery{Days: 7, By: "day"})
		if br.From != "2026-11-18" || br.To != "2026-11-24" {
			t.Errorf("report of %s to %s, want 2026-11-18 to 2026-11-24", br.From, br.To)
		}
		if !reflect.DeepEqual(br.Total, wantWeek) {
			t.Errorf("total=%+v\nwant  %+v", br.Total, wantWeek)
		}
		if len(br.Rows) != 2 || !reflect.DeepEqual(br.Rows[0], wantDay1) || !reflect.DeepEqual(br.Rows[1], wantDay2) {
			t.Errorf("rows=%+v\nwant  %+v\n      %+v", br.Rows, wantDay1, wantDay2)
		}
		if !reflect.DeepEqual(br.Staff, wantStaff) {
			t.Errorf("staff=%+v\nwant  %+v", br.Staff, wantStaff)
		}
		if want := map[string]string{"lobby-B001": "陈*", "lobby2-B001": "刘*"}; !reflect.DeepEqual(br.StaffNames, want) {
			t.Errorf("staff names=%v, want %v", br.StaffNames, want)
		}
		if br.OutboxDepth == 0 {
			t.Error("outbox depth 0, want the unsent events")
		}
	})
	t.Run("CSV", func(t *testing.T) {
		ans, err := e.node.Report(t.Context(), pad.ReportQuery{From: "2026-11-23", To: "2026-11-23", Format: "csv", Table: "funnel"})
		if err != nil {
			t.Fatal(err)
		}
		if ans.Filename != "funnel-B001-2026-11-23-2026-11-23.csv" || !strings.HasPrefix(ans.ContentType, "text/csv") {
			t.Errorf("file %q of type %q", ans.Filename, ans.ContentType)
		}
		recs, err := csv.NewReader(strings.NewReader(string(ans.Body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 || recs[1][0] != "total" || recs[1][2] != "6" {
			t.Errorf("csv=%v, want the header and a total of 6 arrivals", recs)
		}
		ans, err = e.node.Report(t.Context(), pad.ReportQuery{Days: 7, Format: "csv", Table: "staff"})
		if err != nil {
			t.Fatal(err)
		}
		recs, err = csv.NewReader(strings.NewReader(string(ans.Body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 3 || recs[1][1] != "lobby2-B001" || recs[1][2] != "3" {
			t.Errorf("staff csv=%v, want lobby2-B001 first with 3 claims", recs)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, q := range []pad.ReportQuery{
			{From: "2026-11-24", To: "2026-11-23"},
			{From: "2025-01-01", To: "2026-11-23"},
			{Days: pad.MaxReportDays + 1},
		} {
			if _, err := e.node.Report(t.Context(), q); huiyan.ErrorCode(err) != huiyan.EInvalid {
				t.Errorf("query %+v: err=%v, want EInvalid", q, err)
			}
		}
	})

	// HQ agrees: the hub folds the events the sender delivers with the
	// same code and gets the same figures, to the visit.
	t.Run("HubAgrees", func(t *testing.T) {
		h := newEventsHub(t)
		s := mustSender(t, e, h, nil, edge.SenderConfig{})
		for outboxStats(t, e.db).Depth > 0 {
			if _, err := s.SendOnce(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		h.mu.Lock()
		visits := map[string]*funnel.Visit{}
		for _, id := range h.order {
			ev := h.byID[id]
			v := visits[ev.Visit]
			if v == nil {
				v = &funnel.Visit{}
				visits[ev.Visit] = v
			}
			v.Apply("B001", &ev)
		}
		h.mu.Unlock()
		agg := funnel.NewAggregator(funnel.ByDay, nil, "2026-11-18", "2026-11-24")
		for _, v := range visits {
			agg.Add(v)
		}
		hq := agg.Report()
		edgeRep, err := edge.FunnelReport(t.Context(), e.db, "2026-11-18", "2026-11-24", funnel.ByDay)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(hq, edgeRep) {
			t.Errorf("hub's report=%+v\nedge's      %+v", hq, edgeRep)
		}
		var mine []*funnel.Visit
		if err := e.db.View(t.Context(), func(tx edge.Tx) error {
			return tx.FunnelVisits("2026-11-18", "2026-11-24", func(v *funnel.Visit) error { mine = append(mine, v); return nil })
		}); err != nil {
			t.Fatal(err)
		}
		if len(mine) != len(visits) {
			t.Fatalf("edge holds facts of %d visits, the hub %d", len(mine), len(visits))
		}
		for _, v := range mine {
			hv := visits[v.ID]
			if hv == nil || hv.Channel != v.Channel || hv.Signals != v.Signals || hv.ClaimedBy != v.ClaimedBy ||
				hv.Outcome != v.Outcome || hv.Converted != v.Converted || !hv.OpenedAt.Equal(v.OpenedAt) || !hv.ClosedAt.Equal(v.ClosedAt) {
				t.Errorf("visit %s: hub %+v, edge %+v", v.ID, hv, v)
			}
		}
	})
}

// TestOutbox_Reattribution: a conversion credited to the branch that a
// staff member's code takes over later sends a second converted event
// naming them; a first conversion with staff sends one; a conversion
// already credited to someone is not taken over. The funnel facts follow.
func TestOutbox_Reattribution(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, funnel.CST)
	opened := huiyan.Visit{ID: "v-re", Branch: "B001", CustomerID: "C1", OpenedAt: at, LastSeenAt: at, Channel: huiyan.ChannelCounter,
		MBankAtOpen: huiyan.MBankRegistered, Touchpoints: []huiyan.Touchpoint{{EventID: "sc-1", Channel: huiyan.ChannelCounter, Device: "sc-01", At: at}}}
	converted := func(staff string) huiyan.Visit {
		v := opened
		v.Converted, v.ConvertedAt, v.AttributedTo = huiyan.ConversionActivated, at.Add(time.Minute), staff
		return v
	}
	for _, tc := range []struct {
		name          string
		before, after huiyan.Visit
		want          []hub.EventWire // kind, staff, conversion only
		credited      string          // AttributedTo in the facts
	}{
		{"BranchThenStaff", converted(""), converted("lobby2-B001"),
			[]hub.EventWire{{Kind: hub.EventConverted, Staff: "lobby2-B001", Conversion: huiyan.ConversionActivated}}, "lobby2-B001"},
		{"StaffAtOnce", opened, converted("lobby2-B001"),
			[]hub.EventWire{{Kind: hub.EventConverted, Staff: "lobby2-B001", Conversion: huiyan.ConversionActivated}}, "lobby2-B001"},
		{"BranchAtOnce", opened, converted(""),
			[]hub.EventWire{{Kind: hub.EventConverted, Conversion: huiyan.ConversionActivated}}, ""},
		{"AlreadyCredited", converted("lobby-B001"), converted("lobby2-B001"), nil, "lobby-B001"},
		{"Unchanged", converted(""), converted(""), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := bolt.Open(filepath.Join(t.TempDir(), "edge.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			// The visit's opening (and any earlier conversion) is folded
			// first, as the node does it.
			if err := db.Update(ctx, func(tx edge.Tx) error {
				b := tc.before
				if err := edge.OutboxFor(tx, 1, at, nil, &b, huiyan.TierGold); err != nil {
					return err
				}
				if _, err := tx.OutboxBatch(0); err != nil {
					return err
				}
				return tx.AckOutbox(1 << 62)
			}); err != nil {
				t.Fatal(err)
			}
			later := at.Add(5 * time.Minute)
			if err := db.Update(ctx, func(tx edge.Tx) error {
				b, a := tc.before, tc.after
				return edge.OutboxFor(tx, 2, later, &b, &a, "")
			}); err != nil {
				t.Fatal(err)
			}
			var items []edge.OutboxItem
			var facts *funnel.Visit
			if err := db.View(ctx, func(tx edge.Tx) error {
				if items, err = tx.OutboxBatch(0); err != nil {
					return err
				}
				facts, err = tx.FunnelVisit("v-re")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			var got []hub.EventWire
			for _, it := range items {
				if err := it.Event.Validate(); err != nil {
					t.Errorf("event %s: %v", it.Event.ID, err)
				}
				if it.Event.ID != "v-re:2:converted" || !it.Event.At.Equal(later) && !it.Event.At.Equal(tc.after.ConvertedAt) {
					t.Errorf("event id %q at %s", it.Event.ID, it.Event.At)
				}
				got = append(got, hub.EventWire{Kind: it.Event.Kind, Staff: it.Event.Staff, Conversion: it.Event.Conversion})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events=%+v, want %+v", got, tc.want)
			}
			if facts.AttributedTo != tc.credited || facts.Converted != huiyan.ConversionActivated {
				t.Errorf("facts credit %q with %q, want %q with activated", facts.AttributedTo, facts.Converted, tc.credited)
			}
			// Counted once, credited to the right person.
			agg := funnel.NewAggregator(funnel.ByNone, nil, "2026-11-23", "2026-11-23")
			agg.Add(facts)
			rep := agg.Report()
			if rep.Total.Activated != 1 {
				t.Errorf("activated=%d, want 1", rep.Total.Activated)
			}
			credited := ""
			for _, s := range rep.Staff {
				if s.Activated > 0 {
					credited = s.Staff
				}
			}
			if credited != tc.credited {
				t.Errorf("leaderboard credits %q, want %q", credited, tc.credited)
			}
		})
	}
}

// TestOutbox_RefusedScan: an e-code scan whose code proved no presence
// goes upstream as a touch carrying the verdict, and the funnel facts count
// it as a refused scan, not as an e-code signal — the same on both sides.
func TestOutbox_RefusedScan(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, funnel.CST)
	before := huiyan.Visit{ID: "v-rs", Branch: "B001", CustomerID: "C1", OpenedAt: at, LastSeenAt: at, Channel: huiyan.ChannelCounter,
		MBankAtOpen: huiyan.MBankDormant, Touchpoints: []huiyan.Touchpoint{{EventID: "sc-1", Channel: huiyan.ChannelCounter, Device: "sc-01", At: at}}}
	after := before
	after.Touchpoints = append(slices.Clone(before.Touchpoints),
		huiyan.Touchpoint{EventID: "ec-1", Channel: huiyan.ChannelECode, Device: "ecode-01", At: at.Add(time.Minute), Refused: "expired"})
	db, err := bolt.Open(filepath.Join(t.TempDir(), "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Update(ctx, func(tx edge.Tx) error {
		b, a := before, after
		if err := edge.OutboxFor(tx, 1, at, nil, &b, huiyan.TierGold); err != nil {
			return err
		}
		return edge.OutboxFor(tx, 2, at.Add(time.Minute), &b, &a, "")
	}); err != nil {
		t.Fatal(err)
	}
	var items []edge.OutboxItem
	var facts *funnel.Visit
	if err := db.View(ctx, func(tx edge.Tx) error {
		if items, err = tx.OutboxBatch(0); err != nil {
			return err
		}
		facts, err = tx.FunnelVisit("v-rs")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[1].Event.Kind != hub.EventTouch || items[1].Event.Refused != "expired" {
		t.Fatalf("outbox %+v, want the opening and a refused touch", items)
	}
	if err := items[1].Event.Validate(); err != nil {
		t.Fatal(err)
	}
	var hubSide funnel.Visit
	for _, it := range items {
		hubSide.Apply("B001", &it.Event)
	}
	if facts.RefusedScans != 1 || facts.Signals != [3]int{1, 0, 0} || !reflect.DeepEqual(*facts, hubSide) {
		t.Fatalf("edge facts %+v\nhub fold   %+v", *facts, hubSide)
	}
}
