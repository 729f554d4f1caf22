package funneltest_test

import (
	"testing"

	"huiyan/hub/funnel"
	"huiyan/hub/funnel/funneltest"
)

// TestScript folds the script with the funnel package itself and checks
// the hand-worked figures, for every grouping, both branches and each.
// It is what makes the figures trustworthy for the tests that use them.
func TestScript(t *testing.T) {
	visits := map[string]*funnel.Visit{}
	for _, b := range []string{funneltest.B1, funneltest.B2} {
		evs := funneltest.Events(b)
		for i := range evs {
			if err := evs[i].Validate(); err != nil {
				t.Fatalf("%s: %v", evs[i].ID, err)
			}
			if i > 0 && evs[i].At.Before(evs[i-1].At) {
				t.Fatalf("%s: events out of time order", evs[i].ID)
			}
			v := visits[b+"/"+evs[i].Visit]
			if v == nil {
				v = &funnel.Visit{}
				visits[b+"/"+evs[i].Visit] = v
			}
			v.Apply(b, &evs[i])
		}
	}
	if len(visits) != 10 {
		t.Fatalf("%d visits, want 10", len(visits))
	}
	for _, branch := range []string{"", funneltest.B1, funneltest.B2} {
		for _, g := range []funnel.Group{funnel.ByNone, funnel.ByBranch, funnel.ByDay, funnel.ByBranchDay} {
			t.Run(branch+"/"+string(g), func(t *testing.T) {
				a := funnel.NewAggregator(g, nil, funneltest.Day1, funneltest.Day2)
				for _, v := range visits {
					if branch == "" || v.Branch == branch {
						a.Add(v)
					}
				}
				if err := funneltest.CheckReport(a.Report(), branch); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
