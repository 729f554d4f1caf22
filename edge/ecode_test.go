package edge_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/ecode"
	firmware "huiyan/firmware-contracts"
)

// ecodeNode is a node whose e-code scans are verified (period 60 s, skew
// 10 s, display ec-01), with its metrics.
func ecodeNode(t *testing.T) (*edge.Node, *clock, *recorder, *ecode.Issuer, *edge.Metrics) {
	t.Helper()
	var key ecode.Key
	for i := range key {
		key[i] = byte(0x40 + i)
	}
	is, err := ecode.NewIssuer(ecode.Config{Branch: "B001", Key: key, Displays: []string{"ec-01"}})
	if err != nil {
		t.Fatal(err)
	}
	m := edge.NewMetrics(prometheus.NewRegistry())
	n, clk, rec := mustNodeWith(t, func(c *edge.Config) { c.ECode, c.Metrics = is, m })
	return n, clk, rec, is, m
}

// scanOf is an e-code scan of C1 (dormant: an activation) carrying text.
func scanOf(text string) huiyan.Arrival {
	a := arrival(huiyan.ChannelECode, "ec-01", time.Time{}, id(huiyan.IdentMBank, tok(2)))
	a.Code = text
	return a
}

// lastVisit is the visit of the newest visit or arrival event recorded.
func lastVisit(t *testing.T, rec *recorder) *huiyan.Visit {
	t.Helper()
	var v *huiyan.Visit
	for _, e := range rec.take() {
		if e.Visit != nil {
			v = e.Visit
		}
	}
	if v == nil {
		t.Fatal("no visit event")
	}
	return v
}

func TestNode_ECode(t *testing.T) {
	ctx := context.Background()
	type step struct {
		code  func(is *ecode.Issuer, now time.Time) string
		after time.Duration // the clock moves this much before the step
	}
	branch := func(is *ecode.Issuer, now time.Time) string {
		c, _ := is.Issue(ecode.KindBranch, "ec-01", now)
		return c.Text
	}
	staffCode := func(id string) func(is *ecode.Issuer, now time.Time) string {
		return func(is *ecode.Issuer, now time.Time) string {
			c, err := is.Issue(ecode.KindStaff, id, now)
			if err != nil {
				panic(err)
			}
			return c.Text
		}
	}
	old := func(is *ecode.Issuer, now time.Time) string { return branch(is, now.Add(-3*time.Minute)) } // photographed three minutes ago
	forged := func(is *ecode.Issuer, now time.Time) string {
		c := branch(is, now)
		return c[:len(c)-4] + "AAAA"
	}
	for _, tc := range []struct {
		name       string
		scans      []step
		converted  huiyan.Conversion
		attributed string
		refused    []string // Refused of the scans' touchpoints, in order
		verdicts   map[ecode.Verdict]float64
	}{
		{"FreshBranchCodeConverts", []step{{code: branch}}, huiyan.ConversionActivated, "", []string{""},
			map[ecode.Verdict]float64{ecode.OK: 1}},
		{"PreviousWindowConverts", []step{{code: func(is *ecode.Issuer, now time.Time) string { return branch(is, now.Add(-time.Minute)) }}},
			huiyan.ConversionActivated, "", []string{""}, map[ecode.Verdict]float64{ecode.OK: 1}},
		{"ExpiredIsNotPresent", []step{{code: old}}, huiyan.ConversionNone, "", []string{"expired"},
			map[ecode.Verdict]float64{ecode.Expired: 1}},
		{"ForgedIsNotPresent", []step{{code: forged}}, huiyan.ConversionNone, "", []string{"forged"},
			map[ecode.Verdict]float64{ecode.Forged: 1}},
		{"PlaceholderIsForged", []step{{code: func(*ecode.Issuer, time.Time) string { return "huiyan-ecode:B001:ec-01" }}},
			huiyan.ConversionNone, "", []string{"forged"}, map[ecode.Verdict]float64{ecode.Forged: 1}},
		{"ExpiredThenFreshConverts", []step{{code: old}, {code: branch, after: time.Minute}}, huiyan.ConversionActivated, "",
			[]string{"expired", ""}, map[ecode.Verdict]float64{ecode.Expired: 1, ecode.OK: 1}},
		{"StaffCodeCredits", []step{{code: staffCode("lobby-B001")}}, huiyan.ConversionActivated, "lobby-B001", []string{""},
			map[ecode.Verdict]float64{ecode.OK: 1}},
		{"StaffBeatsBranch", []step{{code: branch}, {code: staffCode("lobby2-B001"), after: time.Minute}},
			huiyan.ConversionActivated, "lobby2-B001", []string{"", ""}, map[ecode.Verdict]float64{ecode.OK: 2}},
		{"FirstStaffTouchWins", []step{{code: staffCode("lobby-B001")}, {code: staffCode("lobby2-B001"), after: time.Minute}, {code: branch}},
			huiyan.ConversionActivated, "lobby-B001", []string{"", "", ""}, map[ecode.Verdict]float64{ecode.OK: 3}},
		{"ExpiredStaffCodeCreditsNobody", []step{{code: branch}, {code: func(is *ecode.Issuer, now time.Time) string {
			return staffCode("lobby-B001")(is, now.Add(-5*time.Minute))
		}}}, huiyan.ConversionActivated, "", []string{"", "expired"}, map[ecode.Verdict]float64{ecode.OK: 1, ecode.Expired: 1}},
		{"StaffNotOnRoster", []step{{code: staffCode("gone-B001")}}, huiyan.ConversionNone, "", []string{"unknown_subject"},
			map[ecode.Verdict]float64{ecode.UnknownSubject: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, clk, rec, is, m := ecodeNode(t)
			if err := n.HandleArrival(ctx, arrival(huiyan.ChannelCounter, "sc-01", clk.Now(), id(huiyan.IdentIDCard, tok(1)))); err != nil {
				t.Fatal(err)
			}
			opened := lastVisit(t, rec)
			var v *huiyan.Visit
			for _, st := range tc.scans {
				clk.Add(st.after)
				if err := n.HandleArrival(ctx, scanOf(st.code(is, clk.Now()))); err != nil {
					t.Fatal(err)
				}
				v = lastVisit(t, rec)
			}
			if v.ID != opened.ID {
				t.Fatalf("scans went to visit %s, want %s", v.ID, opened.ID)
			}
			if v.Converted != tc.converted || v.AttributedTo != tc.attributed {
				t.Fatalf("converted=%q attributed=%q, want %q %q", v.Converted, v.AttributedTo, tc.converted, tc.attributed)
			}
			var refused []string
			for _, tp := range v.Touchpoints[1:] {
				refused = append(refused, tp.Refused)
			}
			if len(refused) != len(tc.refused) {
				t.Fatalf("touchpoints refused %q, want %q", refused, tc.refused)
			}
			for i := range refused {
				if refused[i] != tc.refused[i] {
					t.Fatalf("touchpoints refused %q, want %q", refused, tc.refused)
				}
			}
			if edge.PresentScan(v) != slicesHasEmpty(tc.refused) {
				t.Fatalf("PresentScan=%v with refused %q", edge.PresentScan(v), tc.refused)
			}
			for _, verdict := range ecode.Verdicts {
				if got := testutil.ToFloat64(m.ECodeScans.WithLabelValues(string(verdict))); got != tc.verdicts[verdict] {
					t.Errorf("scans{verdict=%s}=%v, want %v", verdict, got, tc.verdicts[verdict])
				}
			}
			wantConv := 0.0
			if tc.converted != huiyan.ConversionNone {
				wantConv = 1
			}
			if got := testutil.ToFloat64(m.Conversions.WithLabelValues(string(huiyan.ConversionActivated))); got != wantConv {
				t.Errorf("conversions=%v, want %v (once per visit)", got, wantConv)
			}
			if tc.attributed != "" {
				if got := testutil.ToFloat64(m.StaffCredits.WithLabelValues(tc.attributed, string(tc.converted))); got != 1 {
					t.Errorf("staff conversions of %s=%v, want 1", tc.attributed, got)
				}
			}
			if got := testutil.CollectAndCount(m.StaffCredits); tc.attributed == "" && got != 0 {
				t.Errorf("%d staff credit series, want none", got)
			}
		})
	}
}

func slicesHasEmpty(ss []string) bool {
	for _, s := range ss {
		if s == "" {
			return true
		}
	}
	return false
}

// TestNode_ECodeRefusedAlone: a refused scan with no open visit opens
// none (no card for a customer who is elsewhere), is received once (its
// redelivery is a duplicate) and leaves a later visit free to convert.
func TestNode_ECodeRefusedAlone(t *testing.T) {
	ctx := context.Background()
	n, clk, rec, is, _ := ecodeNode(t)
	photo, err := is.Issue(ecode.KindStaff, "lobby-B001", clk.Now().Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	a := scanOf(photo.Text)
	if err := n.HandleArrival(ctx, a); err != nil {
		t.Fatal(err)
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("a refused scan published %v, want nothing", kinds(evs))
	}
	_, cards, _, err := n.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) != 0 {
		t.Fatalf("%d cards, want none", len(cards))
	}
	if err := n.HandleArrival(ctx, a); huiyan.ErrorCode(err) != firmware.EDuplicate {
		t.Fatalf("redelivery: err=%v, want duplicate", err)
	}
	fresh, _ := is.Issue(ecode.KindBranch, "ec-01", clk.Now())
	if err := n.HandleArrival(ctx, scanOf(fresh.Text)); err != nil {
		t.Fatal(err)
	}
	if v := lastVisit(t, rec); v.Converted != huiyan.ConversionActivated || len(v.Touchpoints) != 1 {
		t.Fatalf("fresh scan: converted=%q touchpoints=%d, want an activation with one touchpoint", v.Converted, len(v.Touchpoints))
	}
}

// TestNode_ECodeRefusedKeepsWindow: a refused scan does not keep a visit
// open: only a presence does.
func TestNode_ECodeRefusedKeepsWindow(t *testing.T) {
	ctx := context.Background()
	n, clk, rec, is, _ := ecodeNode(t)
	if err := n.HandleArrival(ctx, arrival(huiyan.ChannelCounter, "sc-01", clk.Now(), id(huiyan.IdentIDCard, tok(1)))); err != nil {
		t.Fatal(err)
	}
	first := lastVisit(t, rec)
	clk.Add(20 * time.Minute)
	old, _ := is.Issue(ecode.KindBranch, "ec-01", clk.Now().Add(-5*time.Minute))
	if err := n.HandleArrival(ctx, scanOf(old.Text)); err != nil {
		t.Fatal(err)
	}
	if v := lastVisit(t, rec); !v.LastSeenAt.Equal(first.LastSeenAt) {
		t.Fatalf("last seen moved to %v by a refused scan, want %v", v.LastSeenAt, first.LastSeenAt)
	}
}
