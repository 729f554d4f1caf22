package edge

import (
	"testing"
	"time"

	"huiyan"
)

// BenchmarkCompose is the card a new visit gets inside the arrival's
// transaction: the masked profile (tags looked up in the dictionary and
// sorted for display, maturities in the window), the default rules
// evaluated (text/template rendering of title, script and reason) and the
// audience. White-box because compose is the node's own step; the node is
// built without a store, with the dictionary and rules Reload would load.
//
//	go test -run '^$' -bench Compose -benchmem ./edge/
func BenchmarkCompose(b *testing.B) {
	dict := huiyan.DefaultTagDict()
	rules, err := DefaultRules(dict)
	if err != nil {
		b.Fatal(err)
	}
	n := NewNode(nil, Config{Branch: "B001"})
	n.dict.Store(dict)
	n.rules.Store(rules)
	cst := time.FixedZone("CST", 8*3600)
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	// Eight branch tags and the two predictive tags rules look for.
	var tags []int
	for _, t := range dict.Tags() {
		if len(tags) < 8 && t.Kind == huiyan.TagBranch {
			tags = append(tags, t.ID)
		}
	}
	for _, code := range []string{"churn_risk_vip", "potential_vip"} {
		t := dict.ByCode(code)
		if t == nil {
			b.Fatalf("dictionary has no tag %s", code)
		}
		tags = append(tags, t.ID)
	}
	for _, tc := range []struct {
		name string
		c    *huiyan.Customer
		ch   huiyan.Channel
	}{
		// A dormant gold customer at churn risk with a deposit maturing in
		// five days: four rules fire, for lobby and wealth.
		{"Known", &huiyan.Customer{
			ID: "C0000012345", DisplayName: "林*华", Tier: huiyan.TierGold, HomeBranch: "B001", Manager: "account-B001",
			MBankStatus: huiyan.MBankDormant, MBankIdleDays: 120, Risk: "R3", AUMBand: "aum_50w_100w",
			Lifecycle: huiyan.LifecycleGrowth, Tags: tags,
			Maturities: []huiyan.Maturity{{Product: "CD-3Y", Date: now.AddDate(0, 0, 5)}, {Product: "WM-180D", Date: now.AddDate(0, 3, 0)}},
		}, huiyan.ChannelCounter},
		{"NewFace", nil, huiyan.ChannelCounter},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			v := &huiyan.Visit{ID: "v-1", Branch: "B001", OpenedAt: now, LastSeenAt: now, Channel: tc.ch}
			var actions int
			for b.Loop() {
				card := n.compose(v, tc.c, tc.ch, now)
				actions = len(card.Actions)
			}
			if actions == 0 {
				b.Fatal("no action on the card") // the rules always suggest something, even for a new face
			}
			b.ReportMetric(float64(actions), "actions")
		})
	}
}
