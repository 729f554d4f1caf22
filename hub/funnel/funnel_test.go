package funnel_test

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/funnel"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, funnel.CST)

// script is a scripted branch day: each visit's events in order.
type script struct {
	branch string
	evs    []hub.EventWire
}

func opened(visit string, at time.Duration, ch huiyan.Channel, mbank huiyan.MBankStatus) hub.EventWire {
	e := hub.EventWire{ID: visit + ":o", Kind: hub.EventOpened, At: t0.Add(at), Visit: visit, Channel: ch}
	if mbank != "" {
		e.Recognised, e.MBankAtOpen, e.Tier = true, mbank, huiyan.TierGold
	}
	return e
}

func ev(visit string, kind hub.EventKind, at time.Duration, f func(*hub.EventWire)) hub.EventWire {
	e := hub.EventWire{ID: visit + ":" + string(kind) + at.String(), Kind: kind, At: t0.Add(at), Visit: visit}
	if f != nil {
		f(&e)
	}
	return e
}

func staff(s string) func(*hub.EventWire) { return func(e *hub.EventWire) { e.Staff = s } }

func outcome(s string, o huiyan.Outcome) func(*hub.EventWire) {
	return func(e *hub.EventWire) { e.Staff, e.Outcome = s, o }
}

func conv(c huiyan.Conversion, s string) func(*hub.EventWire) {
	return func(e *hub.EventWire) { e.Conversion, e.Staff = c, s }
}

func touch(ch huiyan.Channel) func(*hub.EventWire) { return func(e *hub.EventWire) { e.Channel = ch } }

// day is a scripted day at two branches with known figures.
func day() []script {
	return []script{
		// B001 v1: registered customer at the counter, claimed after 30 s
		// by lobby, released, re-claimed by wealth, scans lobby's staff
		// code: activated, credited to lobby; outcome activated.
		{"B001", []hub.EventWire{
			opened("v1", 0, huiyan.ChannelCounter, huiyan.MBankRegistered),
			ev("v1", hub.EventClaimed, 30*time.Second, staff("lobby-B001")),
			ev("v1", hub.EventReleased, 40*time.Second, staff("lobby-B001")),
			ev("v1", hub.EventClaimed, 50*time.Second, staff("wealth-B001")),
			ev("v1", hub.EventTouch, 2*time.Minute, touch(huiyan.ChannelECode)),
			ev("v1", hub.EventConverted, 2*time.Minute, conv(huiyan.ConversionActivated, "lobby-B001")),
			ev("v1", hub.EventOutcome, 3*time.Minute, outcome("wealth-B001", huiyan.OutcomeActivated)),
			ev("v1", hub.EventClosed, time.Hour, nil),
		}},
		// v2: dormant, claimed after 90 s, declined: not activated.
		{"B001", []hub.EventWire{
			opened("v2", time.Minute, huiyan.ChannelCounter, huiyan.MBankDormant),
			ev("v2", hub.EventClaimed, time.Minute+90*time.Second, staff("lobby-B001")),
			ev("v2", hub.EventOutcome, 5*time.Minute, outcome("lobby-B001", huiyan.OutcomeDeclined)),
		}},
		// v3: no mobile banking, scans the branch code: new user for the
		// branch; first served, then referred (the last outcome counts).
		{"B001", []hub.EventWire{
			opened("v3", 2*time.Minute, huiyan.ChannelCounter, huiyan.MBankNone),
			ev("v3", hub.EventTouch, 3*time.Minute, touch(huiyan.ChannelECode)),
			ev("v3", hub.EventConverted, 3*time.Minute, conv(huiyan.ConversionNewUser, "")),
			ev("v3", hub.EventOutcome, 4*time.Minute, outcome("lobby-B001", huiyan.OutcomeServed)),
			ev("v3", hub.EventOutcome, 6*time.Minute, outcome("lobby-B001", huiyan.OutcomeReferred)),
		}},
		// v4: a new face at the wheel, claimed after 10 s.
		{"B001", []hub.EventWire{
			opened("v4", 3*time.Minute, huiyan.ChannelWheel, ""),
			ev("v4", hub.EventClaimed, 3*time.Minute+10*time.Second, staff("lobby-B001")),
		}},
		// v5: active customer by e-code, never claimed; next day in CST
		// (16:00 UTC is midnight in Beijing).
		{"B001", []hub.EventWire{
			opened("v5", 15*time.Hour, huiyan.ChannelECode, huiyan.MBankActive),
		}},
		// B002 v6: registered, branch code, activated for the branch.
		{"B002", []hub.EventWire{
			opened("v6", 0, huiyan.ChannelCounter, huiyan.MBankRegistered),
			ev("v6", hub.EventTouch, time.Minute, touch(huiyan.ChannelECode)),
			ev("v6", hub.EventConverted, time.Minute, conv(huiyan.ConversionActivated, "")),
		}},
		// B002 v7: a touch that arrived without its opening (purged): not counted.
		{"B002", []hub.EventWire{
			ev("v7", hub.EventTouch, time.Minute, touch(huiyan.ChannelCounter)),
		}},
	}
}

func fold(t *testing.T, days []script) []*funnel.Visit {
	t.Helper()
	var out []*funnel.Visit
	for _, s := range days {
		v := &funnel.Visit{}
		for i := range s.evs {
			if err := s.evs[i].Validate(); err != nil {
				t.Fatalf("script event %s: %v", s.evs[i].ID, err)
			}
			v.Apply(s.branch, &s.evs[i])
		}
		out = append(out, v)
	}
	return out
}

func TestVisitApply(t *testing.T) {
	vs := fold(t, day())
	v1 := vs[0]
	want := funnel.Visit{Branch: "B001", ID: "v1", OpenedAt: t0, Channel: huiyan.ChannelCounter,
		Signals: [3]int{1, 1, 0}, Recognised: true, MBankAtOpen: huiyan.MBankRegistered, Tier: huiyan.TierGold,
		ClaimedBy: "lobby-B001", ClaimedAt: t0.Add(30 * time.Second),
		Outcome: huiyan.OutcomeActivated, OutcomeBy: "wealth-B001", OutcomeAt: t0.Add(3 * time.Minute),
		Converted: huiyan.ConversionActivated, ConvertedAt: t0.Add(2 * time.Minute), AttributedTo: "lobby-B001",
		ClosedAt: t0.Add(time.Hour)}
	if !reflect.DeepEqual(*v1, want) {
		t.Fatalf("v1 folded to\n%+v\nwant\n%+v", *v1, want)
	}

	// Folding a visit's events twice (a resend the hub did not catch)
	// changes nothing but the signal counts, which the hub's idempotency
	// by event id protects; the first claim and the conversion stay.
	again := *v1
	for _, e := range day()[0].evs[1:] {
		again.Apply("B001", &e)
	}
	if again.ClaimedBy != v1.ClaimedBy || again.AttributedTo != v1.AttributedTo || again.Outcome != v1.Outcome {
		t.Fatalf("refold changed the visit: %+v", again)
	}

	// An e-code scan whose code proved no presence is counted as such,
	// never as a signal.
	r := &funnel.Visit{}
	for _, e := range []hub.EventWire{
		opened("r", 0, huiyan.ChannelCounter, huiyan.MBankDormant),
		ev("r", hub.EventTouch, time.Minute, func(e *hub.EventWire) { e.Channel, e.Refused = huiyan.ChannelECode, "expired" }),
		ev("r", hub.EventTouch, 2*time.Minute, touch(huiyan.ChannelECode)),
	} {
		r.Apply("B001", &e)
	}
	if r.RefusedScans != 1 || r.Signals != [3]int{1, 1, 0} {
		t.Fatalf("refused scans %d signals %v, want 1 and [1 1 0]", r.RefusedScans, r.Signals)
	}
	a := funnel.NewAggregator(funnel.ByNone, nil, "", "")
	a.Add(r)
	if c := a.Report().Total; c.RefusedScans != 1 || c.Signals["ecode"] != 1 {
		t.Fatalf("report refused %d ecode signals %d", c.RefusedScans, c.Signals["ecode"])
	}

	// A branch-credited conversion is re-attributed by a later staff code.
	v := &funnel.Visit{}
	for _, e := range []hub.EventWire{
		opened("x", 0, huiyan.ChannelCounter, huiyan.MBankDormant),
		ev("x", hub.EventConverted, time.Minute, conv(huiyan.ConversionActivated, "")),
		ev("x", hub.EventConverted, 2*time.Minute, conv(huiyan.ConversionActivated, "lobby-B001")),
		ev("x", hub.EventConverted, 3*time.Minute, conv(huiyan.ConversionActivated, "wealth-B001")),
	} {
		v.Apply("B001", &e)
	}
	if v.AttributedTo != "lobby-B001" || !v.ConvertedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("attribution %q at %v, want lobby-B001 (first staff code) at the first conversion", v.AttributedTo, v.ConvertedAt)
	}
}

func TestReport(t *testing.T) {
	vs := fold(t, day())
	tests := []struct {
		name  string
		group funnel.Group
		rows  int
	}{
		{"total", funnel.ByNone, 0},
		{"branch", funnel.ByBranch, 2},
		{"day", funnel.ByDay, 2},
		{"branch_day", funnel.ByBranchDay, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := funnel.NewAggregator(tt.group, nil, "2026-11-23", "2026-11-24")
			for _, v := range vs {
				a.Add(v)
			}
			r := a.Report()
			if len(r.Rows) != tt.rows {
				t.Fatalf("%d rows, want %d: %+v", len(r.Rows), tt.rows, r.Rows)
			}
			c := r.Total
			got := []int{c.Arrivals, c.ByChannel["counter"], c.ByChannel["ecode"], c.ByChannel["wheel"],
				c.Recognised, c.NewFaces, c.Claimed, c.Served, c.NeedActivation, c.Activated, c.NoMBank, c.NewUsers,
				c.Outcomes["activated"], c.Outcomes["declined"], c.Outcomes["referred"], c.Outcomes["served"],
				c.Signals["counter"], c.Signals["ecode"], c.Signals["wheel"]}
			want := []int{6, 4, 1, 1, 5, 1, 3, 2, 3, 2, 1, 1, 1, 1, 1, 0, 4, 4, 1}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("total counts\n got %v\nwant %v", got, want)
			}
			// Claims after 30 s, 90 s and 10 s: median 30, p90 90.
			if c.ClaimMedianS != 30 || c.ClaimP90S != 90 {
				t.Fatalf("claim median %v p90 %v, want 30 and 90", c.ClaimMedianS, c.ClaimP90S)
			}
			if c.ActivationRate != 0.6667 || c.NewUserRate != 1 {
				t.Fatalf("rates %v %v, want 0.6667 and 1", c.ActivationRate, c.NewUserRate)
			}
		})
	}

	a := funnel.NewAggregator(funnel.ByBranchDay, nil, "2026-11-23", "2026-11-24")
	for _, v := range vs {
		a.Add(v)
	}
	r := a.Report()
	keys := []string{}
	for _, c := range r.Rows {
		keys = append(keys, c.Branch+"/"+c.Day)
	}
	if want := []string{"B001/2026-11-23", "B001/2026-11-24", "B002/2026-11-23"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("rows %v, want %v", keys, want)
	}
	if b1 := r.Rows[0]; b1.Arrivals != 4 || b1.Activated != 1 || b1.NeedActivation != 2 || b1.ActivationRate != 0.5 {
		t.Fatalf("B001 first day %+v", b1)
	}

	// The staff leaderboard: lobby has the activation (credited through
	// their code although wealth recorded the outcome), claims v1, v2, v4.
	if len(r.Staff) != 2 {
		t.Fatalf("staff rows %+v", r.Staff)
	}
	lobby, wealth := r.Staff[0], r.Staff[1]
	if lobby.Staff != "lobby-B001" || lobby.Activated != 1 || lobby.NewUsers != 0 || lobby.Claims != 3 ||
		lobby.Served != 1 || lobby.Outcomes["declined"] != 1 || lobby.Outcomes["referred"] != 1 || lobby.ClaimMedianS != 30 {
		t.Fatalf("lobby row %+v", lobby)
	}
	if wealth.Staff != "wealth-B001" || wealth.Activated != 0 || wealth.Claims != 0 || wealth.Served != 1 {
		t.Fatalf("wealth row %+v", wealth)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	mk := func(secs ...int) []*funnel.Visit {
		var vs []*funnel.Visit
		for i, s := range secs {
			vs = append(vs, &funnel.Visit{Branch: "B", ID: string(rune('a' + i)), OpenedAt: t0,
				ClaimedBy: "s", ClaimedAt: t0.Add(time.Duration(s) * time.Second)})
		}
		return vs
	}
	tests := []struct {
		secs     []int
		med, p90 float64
	}{
		{nil, 0, 0},
		{[]int{7}, 7, 7},
		{[]int{1, 2}, 1, 2},
		{[]int{5, 1, 4, 2, 3}, 3, 5},
		{[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5, 9},
	}
	for _, tt := range tests {
		a := funnel.NewAggregator(funnel.ByNone, nil, "", "")
		for _, v := range mk(tt.secs...) {
			a.Add(v)
		}
		c := a.Report().Total
		if c.ClaimMedianS != tt.med || c.ClaimP90S != tt.p90 {
			t.Errorf("%v: median %v p90 %v, want %v %v", tt.secs, c.ClaimMedianS, c.ClaimP90S, tt.med, tt.p90)
		}
	}
}

func TestCSV(t *testing.T) {
	a := funnel.NewAggregator(funnel.ByBranch, nil, "2026-11-23", "2026-11-24")
	for _, v := range fold(t, day()) {
		a.Add(v)
	}
	r := a.Report()
	var b bytes.Buffer
	if err := funnel.WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || !reflect.DeepEqual(recs[0], funnel.CountsHeader) {
		t.Fatalf("csv %q", recs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	last := recs[3]
	if last[col["branch"]] != "total" || last[col["arrivals"]] != "6" || last[col["activation_rate"]] != "0.6667" ||
		last[col["claim_p90_s"]] != "90" || recs[1][col["branch"]] != "B001" || recs[2][col["activated"]] != "1" {
		t.Fatalf("csv rows %q", recs[1:])
	}

	b.Reset()
	if err := funnel.WriteStaffCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	recs, err = csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[1][1] != "lobby-B001" || recs[1][4] != "1" {
		t.Fatalf("staff csv %q", recs)
	}
}

func TestCSVFormulaGuard(t *testing.T) {
	a := funnel.NewAggregator(funnel.ByBranch, nil, "", "")
	a.Add(&funnel.Visit{Branch: "-1", ID: "v", OpenedAt: t0})
	var b bytes.Buffer
	if err := funnel.WriteCSV(&b, a.Report()); err != nil {
		t.Fatal(err)
	}
	recs, _ := csv.NewReader(&b).ReadAll()
	if recs[1][0] != "'-1" {
		t.Fatalf("branch cell %q, want the formula guard", recs[1][0])
	}
}
