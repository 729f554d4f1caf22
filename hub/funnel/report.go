package funnel

import (
	"cmp"
	"math"
	"slices"
	"time"

	"huiyan"
)

// CST is China Standard Time, the default time zone of report days. A
// fixed zone: a branch box may lack the tz database, and China has no
// daylight saving time.
var CST = time.FixedZone("CST", 8*60*60)

// DayLayout is how a report writes a day.
const DayLayout = "2006-01-02"

// Group is how report rows are split.
type Group string

// Groups. Every report has a total; rows split it further.
const (
	ByNone      Group = ""           // the total only
	ByBranch    Group = "branch"     // a row per branch
	ByDay       Group = "day"        // a row per day
	ByBranchDay Group = "branch_day" // a row per branch and day
)

// Valid reports whether g is a known grouping.
func (g Group) Valid() bool {
	switch g {
	case ByNone, ByBranch, ByDay, ByBranchDay:
		return true
	}
	return false
}

// Counts is one row of the funnel (see the package documentation for what
// every field counts).
type Counts struct {
	Branch string `json:"branch,omitempty"`
	Day    string `json:"day,omitempty"`

	Arrivals       int            `json:"arrivals"`
	ByChannel      map[string]int `json:"by_channel"`
	Signals        map[string]int `json:"signals"`
	RefusedScans   int            `json:"refused_scans"`
	Recognised     int            `json:"recognised"`
	NewFaces       int            `json:"new_faces"`
	Claimed        int            `json:"claimed"`
	Served         int            `json:"served"`
	NeedActivation int            `json:"need_activation"`
	Activated      int            `json:"activated"`
	ActivationRate float64        `json:"activation_rate"`
	NoMBank        int            `json:"no_mbank"`
	NewUsers       int            `json:"new_users"`
	NewUserRate    float64        `json:"new_user_rate"`
	// ClaimMedianS and ClaimP90S are seconds from opening to first claim
	// over the claimed visits; 0 when none was claimed.
	ClaimMedianS float64        `json:"claim_median_s"`
	ClaimP90S    float64        `json:"claim_p90_s"`
	Outcomes     map[string]int `json:"outcomes"`

	claims []time.Duration
}

// Staff is one staff member's row.
type Staff struct {
	Staff     string         `json:"staff"`
	Branch    string         `json:"branch"`
	Claims    int            `json:"claims"`
	Served    int            `json:"served"`
	Activated int            `json:"activated"` // conversions credited to them
	NewUsers  int            `json:"new_users"`
	Outcomes  map[string]int `json:"outcomes"`
	// ClaimMedianS is the median time to their first claims, in seconds.
	ClaimMedianS float64 `json:"claim_median_s"`

	claims []time.Duration
}

// Report is the funnel over a set of visits.
type Report struct {
	From  string   `json:"from"` // first day, inclusive
	To    string   `json:"to"`   // last day, inclusive
	Group Group    `json:"group,omitempty"`
	Total Counts   `json:"total"`
	Rows  []Counts `json:"rows"`
	// Staff is ordered by activations credited (then new users, claims,
	// id): the leaderboard.
	Staff []Staff `json:"staff"`
}

// Aggregator sums visits into a Report. The zero value is not usable: use
// NewAggregator.
type Aggregator struct {
	group    Group
	loc      *time.Location
	from, to string
	total    Counts
	rows     map[[2]string]*Counts
	staff    map[[2]string]*Staff
}

// NewAggregator returns an Aggregator that splits rows by group, with days
// in loc (nil: CST), for the days from through to (YYYY-MM-DD, inclusive;
// only recorded in the report: the caller selects the visits).
func NewAggregator(group Group, loc *time.Location, from, to string) *Aggregator {
	if loc == nil {
		loc = CST
	}
	return &Aggregator{group: group, loc: loc, from: from, to: to,
		total: newCounts("", ""), rows: map[[2]string]*Counts{}, staff: map[[2]string]*Staff{}}
}

func newCounts(branch, day string) Counts {
	c := Counts{Branch: branch, Day: day, ByChannel: map[string]int{}, Signals: map[string]int{}, Outcomes: map[string]int{}}
	for _, ch := range huiyan.Channels {
		c.ByChannel[string(ch)], c.Signals[string(ch)] = 0, 0
	}
	return c
}

// Day is the report day a visit opened at t counts on.
func Day(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = CST
	}
	return t.In(loc).Format(DayLayout)
}

// Add counts one visit. A visit whose opening was never folded in is
// skipped (see Visit.OpenedAt).
func (a *Aggregator) Add(v *Visit) {
	if v.OpenedAt.IsZero() {
		return
	}
	day := Day(v.OpenedAt, a.loc)
	a.total.add(v)
	if a.group != ByNone {
		var k [2]string
		switch a.group {
		case ByBranch:
			k = [2]string{v.Branch, ""}
		case ByDay:
			k = [2]string{"", day}
		case ByBranchDay:
			k = [2]string{v.Branch, day}
		}
		r := a.rows[k]
		if r == nil {
			c := newCounts(k[0], k[1])
			r = &c
			a.rows[k] = r
		}
		r.add(v)
	}
	if v.ClaimedBy != "" {
		s := a.staffRow(v.ClaimedBy, v.Branch)
		s.Claims++
		s.claims = append(s.claims, claimTime(v))
	}
	if v.OutcomeBy != "" {
		s := a.staffRow(v.OutcomeBy, v.Branch)
		s.Outcomes[string(v.Outcome)]++
		if v.Served() {
			s.Served++
		}
	}
	if v.AttributedTo != "" && v.Recognised {
		s := a.staffRow(v.AttributedTo, v.Branch)
		switch v.Converted {
		case huiyan.ConversionActivated:
			s.Activated++
		case huiyan.ConversionNewUser:
			s.NewUsers++
		}
	}
}

func (a *Aggregator) staffRow(id, branch string) *Staff {
	k := [2]string{branch, id}
	s := a.staff[k]
	if s == nil {
		s = &Staff{Staff: id, Branch: branch, Outcomes: map[string]int{}}
		a.staff[k] = s
	}
	return s
}

// claimTime is the time from opening to first claim, never negative (a
// PAD's claim cannot precede the opening; clocks on one edge agree).
func claimTime(v *Visit) time.Duration {
	return max(v.ClaimedAt.Sub(v.OpenedAt), 0)
}

func (c *Counts) add(v *Visit) {
	c.Arrivals++
	if v.Channel.Valid() {
		c.ByChannel[string(v.Channel)]++
	}
	for i, ch := range huiyan.Channels {
		c.Signals[string(ch)] += v.Signals[i]
	}
	c.RefusedScans += v.RefusedScans
	if !v.Recognised {
		c.NewFaces++
	} else {
		c.Recognised++
		switch {
		case v.MBankAtOpen.NeedsActivation():
			c.NeedActivation++
			if v.Converted == huiyan.ConversionActivated {
				c.Activated++
			}
		case v.MBankAtOpen == huiyan.MBankNone:
			c.NoMBank++
			if v.Converted == huiyan.ConversionNewUser {
				c.NewUsers++
			}
		}
	}
	if v.ClaimedBy != "" {
		c.Claimed++
		c.claims = append(c.claims, claimTime(v))
	}
	if v.Served() {
		c.Served++
	}
	if v.Outcome != "" {
		c.Outcomes[string(v.Outcome)]++
	}
}

func (c *Counts) finish() {
	c.ActivationRate = rate(c.Activated, c.NeedActivation)
	c.NewUserRate = rate(c.NewUsers, c.NoMBank)
	c.ClaimMedianS = percentile(c.claims, 50)
	c.ClaimP90S = percentile(c.claims, 90)
	c.claims = nil
}

// rate is n/d rounded to four decimals (0.8692 is 86.92 %), 0 when d is 0.
func rate(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(d)*1e4) / 1e4
}

// percentile is the nearest-rank p-th percentile of ds in seconds (to the
// millisecond), 0 for none. Nearest rank: the smallest value with at least
// p % of the values at or below it, so it is always an observed time.
func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := (p*len(ds) + 99) / 100 // ceil(p/100 × n)
	rank = max(rank, 1)
	return math.Round(ds[rank-1].Seconds()*1e3) / 1e3
}

// Report returns the funnel of the visits added so far. The Aggregator
// may not be used after.
func (a *Aggregator) Report() *Report {
	r := &Report{From: a.from, To: a.to, Group: a.group, Total: a.total, Rows: []Counts{}, Staff: []Staff{}}
	r.Total.finish()
	for _, c := range a.rows {
		c.finish()
		r.Rows = append(r.Rows, *c)
	}
	slices.SortFunc(r.Rows, func(x, y Counts) int {
		return cmp.Or(cmp.Compare(x.Branch, y.Branch), cmp.Compare(x.Day, y.Day))
	})
	for _, s := range a.staff {
		s.ClaimMedianS = percentile(s.claims, 50)
		s.claims = nil
		r.Staff = append(r.Staff, *s)
	}
	slices.SortFunc(r.Staff, func(x, y Staff) int {
		return cmp.Or(cmp.Compare(y.Activated, x.Activated), cmp.Compare(y.NewUsers, x.NewUsers),
			cmp.Compare(y.Claims, x.Claims), cmp.Compare(x.Branch, y.Branch), cmp.Compare(x.Staff, y.Staff))
	})
	return r
}
