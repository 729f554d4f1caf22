// Package funneltest is a scripted two-day, two-branch stream of visit
// events with the funnel figures it must give, worked out by hand below.
// Tests of anything that carries events to a report (the hub's ingest and
// report API, the edge's fold) feed Events in and compare with Rows,
// Total and Staff: the figures are the script's, not the code's.
package funneltest

import (
	"fmt"
	"time"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/funnel"
)

// Days are the script's two days (CST).
const (
	Day1 = "2026-11-23"
	Day2 = "2026-11-24"
)

// Branches are the script's two branches.
const (
	B1 = "B001"
	B2 = "B002"
)

// base is 09:00 on Day1 in Beijing.
var base = time.Date(2026, 11, 23, 9, 0, 0, 0, funnel.CST)

// Visit is one visit's events, in the order they happened.
type Visit struct {
	Branch string
	Events []hub.EventWire
}

type script struct {
	visit string
	seq   int
	at    time.Time
	evs   []hub.EventWire
}

// ev appends an event of kind d after the visit's opening; ids follow the
// edge's {visit}:{seq}:{kind}.
func (s *script) ev(kind hub.EventKind, d time.Duration, f func(*hub.EventWire)) *script {
	s.seq++
	e := hub.EventWire{ID: fmt.Sprintf("%s:%d:%s", s.visit, s.seq, kind), Kind: kind, At: s.at.Add(d), Visit: s.visit}
	if f != nil {
		f(&e)
	}
	s.evs = append(s.evs, e)
	return s
}

func open(visit string, at time.Time, ch huiyan.Channel, mbank huiyan.MBankStatus) *script {
	s := &script{visit: visit, at: at}
	return s.ev(hub.EventOpened, 0, func(e *hub.EventWire) {
		e.Channel = ch
		if mbank != "" {
			e.Recognised, e.MBankAtOpen, e.Tier = true, mbank, huiyan.TierGold
		}
	})
}

func staff(id string) func(*hub.EventWire) { return func(e *hub.EventWire) { e.Staff = id } }

func outcome(id string, o huiyan.Outcome) func(*hub.EventWire) {
	return func(e *hub.EventWire) { e.Staff, e.Outcome = id, o }
}

func conv(c huiyan.Conversion, id string) func(*hub.EventWire) {
	return func(e *hub.EventWire) { e.Conversion, e.Staff = c, id }
}

func touch(ch huiyan.Channel) func(*hub.EventWire) { return func(e *hub.EventWire) { e.Channel = ch } }

const (
	lobby1  = "lobby-" + B1
	wealth1 = "wealth-" + B1
	lobby2  = "lobby-" + B2
)

// Visits returns the script: ten visits, each with its events in order.
func Visits() []Visit {
	at := func(day int, hh, mm int) time.Time {
		return base.AddDate(0, 0, day).Add(time.Duration(hh-9)*time.Hour + time.Duration(mm)*time.Minute)
	}
	s := time.Second
	vs := []struct {
		branch string
		s      *script
	}{
		// B001, Day1.
		// v1: registered at the counter, lobby claims after 20 s, scans
		// lobby's staff code: activation credited to lobby.
		{B1, open("v1", at(0, 9, 0), huiyan.ChannelCounter, huiyan.MBankRegistered).
			ev(hub.EventClaimed, 20*s, staff(lobby1)).
			ev(hub.EventTouch, 90*s, touch(huiyan.ChannelECode)).
			ev(hub.EventConverted, 90*s, conv(huiyan.ConversionActivated, lobby1)).
			ev(hub.EventOutcome, 120*s, outcome(lobby1, huiyan.OutcomeActivated)).
			ev(hub.EventClosed, 40*time.Minute, nil)},
		// v2: dormant, wealth claims after 40 s, declined.
		{B1, open("v2", at(0, 10, 0), huiyan.ChannelCounter, huiyan.MBankDormant).
			ev(hub.EventClaimed, 40*s, staff(wealth1)).
			ev(hub.EventOutcome, 300*s, outcome(wealth1, huiyan.OutcomeDeclined))},
		// v3: no mobile banking, lobby claims after 60 s, new user
		// credited to lobby, served.
		{B1, open("v3", at(0, 11, 0), huiyan.ChannelCounter, huiyan.MBankNone).
			ev(hub.EventClaimed, 60*s, staff(lobby1)).
			ev(hub.EventTouch, 200*s, touch(huiyan.ChannelECode)).
			ev(hub.EventConverted, 200*s, conv(huiyan.ConversionNewUser, lobby1)).
			ev(hub.EventOutcome, 260*s, outcome(lobby1, huiyan.OutcomeServed))},
		// v4: a new face scanning the e-code; nobody claims it.
		{B1, open("v4", at(0, 14, 0), huiyan.ChannelECode, "")},
		// v5: active customer at the wheel at 23:50; lobby claims after
		// 120 s, releases, and refers them after midnight: the visit
		// counts on the day it opened.
		{B1, open("v5", at(0, 23, 50), huiyan.ChannelWheel, huiyan.MBankActive).
			ev(hub.EventClaimed, 120*s, staff(lobby1)).
			ev(hub.EventReleased, 180*s, staff(lobby1)).
			ev(hub.EventOutcome, 15*time.Minute, outcome(lobby1, huiyan.OutcomeReferred))},
		// B002, Day1.
		// w1: registered, scans the branch code (credited to the branch),
		// lobby claims after 10 s and records the activation.
		{B2, open("w1", at(0, 9, 30), huiyan.ChannelCounter, huiyan.MBankRegistered).
			ev(hub.EventClaimed, 10*s, staff(lobby2)).
			ev(hub.EventTouch, 30*s, touch(huiyan.ChannelECode)).
			ev(hub.EventConverted, 30*s, conv(huiyan.ConversionActivated, "")).
			ev(hub.EventOutcome, 60*s, outcome(lobby2, huiyan.OutcomeActivated))},
		// w2: no mobile banking, claimed after 30 s, no contact.
		{B2, open("w2", at(0, 15, 0), huiyan.ChannelCounter, huiyan.MBankNone).
			ev(hub.EventClaimed, 30*s, staff(lobby2)).
			ev(hub.EventOutcome, 100*s, outcome(lobby2, huiyan.OutcomeNoContact))},
		// B001, Day2.
		// v6: dormant, wealth claims after 50 s, activation credited to
		// wealth.
		{B1, open("v6", at(1, 10, 0), huiyan.ChannelCounter, huiyan.MBankDormant).
			ev(hub.EventClaimed, 50*s, staff(wealth1)).
			ev(hub.EventTouch, 70*s, touch(huiyan.ChannelECode)).
			ev(hub.EventConverted, 70*s, conv(huiyan.ConversionActivated, wealth1)).
			ev(hub.EventOutcome, 80*s, outcome(wealth1, huiyan.OutcomeActivated))},
		// v7: a new face by e-code, lobby claims after 5 s, follow-up.
		{B1, open("v7", at(1, 11, 0), huiyan.ChannelECode, "").
			ev(hub.EventClaimed, 5*s, staff(lobby1)).
			ev(hub.EventOutcome, 60*s, outcome(lobby1, huiyan.OutcomeFollowUp))},
		// B002, Day2.
		// w3: no mobile banking at the wheel at 00:30 Beijing time (16:30
		// UTC on Day1: the day is China's), new user credited to lobby,
		// never claimed.
		{B2, open("w3", at(1, 0, 30), huiyan.ChannelWheel, huiyan.MBankNone).
			ev(hub.EventTouch, 60*s, touch(huiyan.ChannelECode)).
			ev(hub.EventConverted, 60*s, conv(huiyan.ConversionNewUser, lobby2))},
	}
	out := make([]Visit, len(vs))
	for i, v := range vs {
		out[i] = Visit{Branch: v.branch, Events: v.s.evs}
	}
	return out
}

// Events returns every event of the branch's visits, in the order an
// edge sends them: by time (each visit's events stay in order).
func Events(branch string) []hub.EventWire {
	var out []hub.EventWire
	for _, v := range Visits() {
		if v.Branch == branch {
			out = append(out, v.Events...)
		}
	}
	// A stable insertion sort by time keeps a visit's events in order
	// (they never go back in time) while interleaving visits.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].At.Before(out[j-1].At); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Figures is one report row as the script makes it.
type Figures struct {
	Branch, Day                           string
	Arrivals, Counter, ECode, Wheel       int
	Recognised, NewFaces, Claimed, Served int
	NeedActivation, Activated, NoMBank    int
	NewUsers                              int
	ActivationRate, NewUserRate           float64
	ClaimMedianS, ClaimP90S               float64
	Outcomes                              map[huiyan.Outcome]int
}

// Rows are the figures by branch and day (funnel.ByBranchDay).
//
//	B001 Day1: v1–v5. Claims after 20, 40, 60, 120 s: median (rank 2 of
//	  4) 40, p90 (rank 4) 120. Served: v1 activated, v3 served, v5
//	  referred (v2 declined). Need activation v1, v2; activated v1: 0.5.
//	  No mobile banking v3, new user: 1.
//	B002 Day1: w1, w2. Claims 10, 30 s: median 10, p90 30. Served w1.
//	  Need activation w1, activated: 1. No mobile banking w2, none won: 0.
//	B001 Day2: v6, v7. Claims 50, 5 s: median 5, p90 50. Served both.
//	  Need activation v6, activated: 1.
//	B002 Day2: w3. Unclaimed. No mobile banking w3, new user: 1.
var Rows = []Figures{
	{Branch: B1, Day: Day1, Arrivals: 5, Counter: 3, ECode: 1, Wheel: 1, Recognised: 4, NewFaces: 1, Claimed: 4, Served: 3,
		NeedActivation: 2, Activated: 1, NoMBank: 1, NewUsers: 1, ActivationRate: 0.5, NewUserRate: 1, ClaimMedianS: 40, ClaimP90S: 120,
		Outcomes: map[huiyan.Outcome]int{huiyan.OutcomeActivated: 1, huiyan.OutcomeDeclined: 1, huiyan.OutcomeServed: 1, huiyan.OutcomeReferred: 1}},
	{Branch: B1, Day: Day2, Arrivals: 2, Counter: 1, ECode: 1, Recognised: 1, NewFaces: 1, Claimed: 2, Served: 2,
		NeedActivation: 1, Activated: 1, ActivationRate: 1, ClaimMedianS: 5, ClaimP90S: 50,
		Outcomes: map[huiyan.Outcome]int{huiyan.OutcomeActivated: 1, huiyan.OutcomeFollowUp: 1}},
	{Branch: B2, Day: Day1, Arrivals: 2, Counter: 2, Recognised: 2, Claimed: 2, Served: 1,
		NeedActivation: 1, Activated: 1, NoMBank: 1, ActivationRate: 1, ClaimMedianS: 10, ClaimP90S: 30,
		Outcomes: map[huiyan.Outcome]int{huiyan.OutcomeActivated: 1, huiyan.OutcomeNoContact: 1}},
	{Branch: B2, Day: Day2, Arrivals: 1, Wheel: 1, Recognised: 1, NoMBank: 1, NewUsers: 1, NewUserRate: 1,
		Outcomes: map[huiyan.Outcome]int{}},
}

// Total is the whole script: claims after 5, 10, 20, 30, 40, 50, 60 and
// 120 s give a median (rank 4 of 8) of 30 and a p90 (rank 8) of 120;
// activated 3 of 4, new users 2 of 3.
var Total = Figures{Arrivals: 10, Counter: 6, ECode: 2, Wheel: 2, Recognised: 8, NewFaces: 2, Claimed: 8, Served: 6,
	NeedActivation: 4, Activated: 3, NoMBank: 3, NewUsers: 2, ActivationRate: 0.75, NewUserRate: 0.6667, ClaimMedianS: 30, ClaimP90S: 120,
	Outcomes: map[huiyan.Outcome]int{huiyan.OutcomeActivated: 3, huiyan.OutcomeDeclined: 1, huiyan.OutcomeServed: 1,
		huiyan.OutcomeReferred: 1, huiyan.OutcomeFollowUp: 1, huiyan.OutcomeNoContact: 1}}

// StaffRow is one line of the staff leaderboard as the script makes it.
type StaffRow struct {
	Branch, Staff                       string
	Claims, Served, Activated, NewUsers int
}

// Staff is the leaderboard over both days, in its order (activations,
// then new users, then claims): lobby-B001 won v1 and v3 and claimed v1,
// v3, v5, v7 and served v1, v3, v5, v7; wealth-B001 won v6, claimed v2 and
// v6 and served v6; lobby-B002 won w3 (w1 was the branch's), claimed w1
// and w2 and served w1.
var Staff = []StaffRow{
	{Branch: B1, Staff: lobby1, Claims: 4, Served: 4, Activated: 1, NewUsers: 1},
	{Branch: B1, Staff: wealth1, Claims: 2, Served: 1, Activated: 1},
	{Branch: B2, Staff: lobby2, Claims: 2, Served: 1, NewUsers: 1},
}

// Check compares a report row with the figures and says what differs.
func (f Figures) Check(c *funnel.Counts) error {
	type pair struct {
		name      string
		got, want float64
	}
	ps := []pair{
		{"arrivals", float64(c.Arrivals), float64(f.Arrivals)},
		{"by_channel.counter", float64(c.ByChannel["counter"]), float64(f.Counter)},
		{"by_channel.ecode", float64(c.ByChannel["ecode"]), float64(f.ECode)},
		{"by_channel.wheel", float64(c.ByChannel["wheel"]), float64(f.Wheel)},
		{"recognised", float64(c.Recognised), float64(f.Recognised)},
		{"new_faces", float64(c.NewFaces), float64(f.NewFaces)},
		{"claimed", float64(c.Claimed), float64(f.Claimed)},
		{"served", float64(c.Served), float64(f.Served)},
		{"need_activation", float64(c.NeedActivation), float64(f.NeedActivation)},
		{"activated", float64(c.Activated), float64(f.Activated)},
		{"no_mbank", float64(c.NoMBank), float64(f.NoMBank)},
		{"new_users", float64(c.NewUsers), float64(f.NewUsers)},
		{"activation_rate", c.ActivationRate, f.ActivationRate},
		{"new_user_rate", c.NewUserRate, f.NewUserRate},
		{"claim_median_s", c.ClaimMedianS, f.ClaimMedianS},
		{"claim_p90_s", c.ClaimP90S, f.ClaimP90S},
	}
	for _, o := range huiyan.Outcomes {
		ps = append(ps, pair{"outcomes." + string(o), float64(c.Outcomes[string(o)]), float64(f.Outcomes[o])})
	}
	for _, p := range ps {
		if p.got != p.want {
			return fmt.Errorf("%s/%s: %s=%v, want %v", f.Branch, f.Day, p.name, p.got, p.want)
		}
	}
	return nil
}

// Check compares a leaderboard line with the row.
func (s StaffRow) Check(got *funnel.Staff) error {
	if got.Branch != s.Branch || got.Staff != s.Staff || got.Claims != s.Claims || got.Served != s.Served ||
		got.Activated != s.Activated || got.NewUsers != s.NewUsers {
		return fmt.Errorf("staff row %s/%s: claims=%d served=%d activated=%d new_users=%d, want %+v",
			got.Branch, got.Staff, got.Claims, got.Served, got.Activated, got.NewUsers, s)
	}
	return nil
}

// Branches are the figures by branch over both days (funnel.ByBranch).
//
//	B001: claims after 5, 20, 40, 50, 60, 120 s: median (rank 3 of 6) 40,
//	  p90 (rank 6) 120; activated 2 of 3 (v1, v6 of v1, v2, v6).
//	B002: claims after 10, 30 s; activated 1 of 1, new users 1 of 2.
var Branches = []Figures{
	{Branch: B1, Arrivals: 7, Counter: 4, ECode: 2, Wheel: 1, Recognised: 5, NewFaces: 2, Claimed: 6, Served: 5,
		NeedActivation: 3, Activated: 2, NoMBank: 1, NewUsers: 1, ActivationRate: 0.6667, NewUserRate: 1, ClaimMedianS: 40, ClaimP90S: 120,
		Outcomes: map[huiyan.Outcome]int{huiyan.OutcomeActivated: 2, huiyan.OutcomeDeclined: 1, huiyan.OutcomeServed: 1,
			huiyan.OutcomeReferred: 1, huiyan.OutcomeFollowUp: 1}},
	{Branch: B2, Arrivals: 3, Counter: 2, Wheel: 1, Recognised: 3, Claimed: 2, Served: 1,
		NeedActivation: 1, Activated: 1, NoMBank: 2, NewUsers: 1, ActivationRate: 1, NewUserRate: 0.5, ClaimMedianS: 10, ClaimP90S: 30,
		Outcomes: map[huiyan.Outcome]int{huiyan.OutcomeActivated: 1, huiyan.OutcomeNoContact: 1}},
}

// DayRows are the figures by day over both branches (funnel.ByDay).
//
//	Day1: claims after 10, 20, 30, 40, 60, 120 s: median (rank 3 of 6)
//	  30, p90 120; activated 2 of 3, new users 1 of 2.
//	Day2: claims after 5, 50 s; activated 1 of 1, new users 1 of 1.
var DayRows = []Figures{
	{Day: Day1, Arrivals: 7, Counter: 5, ECode: 1, Wheel: 1, Recognised: 6, NewFaces: 1, Claimed: 6, Served: 4,
		NeedActivation: 3, Activated: 2, NoMBank: 2, NewUsers: 1, ActivationRate: 0.6667, NewUserRate: 0.5, ClaimMedianS: 30, ClaimP90S: 120,
		Outcomes: map[huiyan.Outcome]int{huiyan.OutcomeActivated: 2, huiyan.OutcomeDeclined: 1, huiyan.OutcomeServed: 1,
			huiyan.OutcomeReferred: 1, huiyan.OutcomeNoContact: 1}},
	{Day: Day2, Arrivals: 3, Counter: 1, ECode: 1, Wheel: 1, Recognised: 2, NewFaces: 1, Claimed: 2, Served: 2,
		NeedActivation: 1, Activated: 1, NoMBank: 1, NewUsers: 1, ActivationRate: 1, NewUserRate: 1, ClaimMedianS: 5, ClaimP90S: 50,
		Outcomes: map[huiyan.Outcome]int{huiyan.OutcomeActivated: 1, huiyan.OutcomeFollowUp: 1}},
}

// CheckReport compares a report over both days of the script with its
// figures: the rows its grouping makes and its total, for one branch or
// ("" ) for both.
func CheckReport(r *funnel.Report, branch string) error {
	pick := func(fs []Figures) []Figures {
		var out []Figures
		for _, f := range fs {
			if branch == "" || f.Branch == branch {
				out = append(out, f)
			}
		}
		return out
	}
	var rows []Figures
	total := Total
	if branch != "" {
		total = pick(Branches)[0]
	}
	switch r.Group {
	case funnel.ByBranchDay:
		rows = pick(Rows)
	case funnel.ByBranch:
		rows = pick(Branches)
	case funnel.ByDay:
		if branch == "" {
			rows = DayRows
		} else {
			// One branch by day is its branch-and-day rows, without the
			// branch.
			for _, f := range pick(Rows) {
				f.Branch = ""
				rows = append(rows, f)
			}
		}
	}
	if len(r.Rows) != len(rows) {
		return fmt.Errorf("%d rows, want %d", len(r.Rows), len(rows))
	}
	for i := range rows {
		if r.Rows[i].Branch != rows[i].Branch || r.Rows[i].Day != rows[i].Day {
			return fmt.Errorf("row %d is %q/%q, want %q/%q", i, r.Rows[i].Branch, r.Rows[i].Day, rows[i].Branch, rows[i].Day)
		}
		if err := rows[i].Check(&r.Rows[i]); err != nil {
			return err
		}
	}
	if err := total.Check(&r.Total); err != nil {
		return fmt.Errorf("total: %w", err)
	}
	var staff []StaffRow
	for _, s := range Staff {
		if branch == "" || s.Branch == branch {
			staff = append(staff, s)
		}
	}
	if len(r.Staff) != len(staff) {
		return fmt.Errorf("%d staff rows, want %d", len(r.Staff), len(staff))
	}
	for i := range staff {
		if err := staff[i].Check(&r.Staff[i]); err != nil {
			return err
		}
	}
	return nil
}
