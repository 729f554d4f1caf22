package edge_test

import (
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
)

func mustRules(tb testing.TB) (*edge.RuleSet, *huiyan.TagDict) {
	tb.Helper()
	dict := huiyan.DefaultTagDict()
	rs, err := edge.DefaultRules(dict)
	if err != nil {
		tb.Fatal(err)
	}
	return rs, dict
}

func codes(actions []huiyan.Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, a.Code)
	}
	return out
}

func TestDefaultRules(t *testing.T) {
	rs, dict := mustRules(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	tag := func(code string) int {
		tg := dict.ByCode(code)
		if tg == nil {
			t.Fatalf("tag %s not in dictionary", code)
		}
		return tg.ID
	}
	base := func() *huiyan.Customer {
		return &huiyan.Customer{ID: "C1", DisplayName: "林*华", Tier: huiyan.TierNormal, MBankStatus: huiyan.MBankActive, Risk: "R3"}
	}
	for _, tc := range []struct {
		name     string
		customer func() *huiyan.Customer
		channel  huiyan.Channel
		onShift  bool
		want     []string // action codes in order
		script   string   // a substring the first action's script or reason must contain
	}{
		{"NoActionForActiveCustomer", base, huiyan.ChannelCounter, false, nil, ""},
		{"GuideECodeAtCounter", func() *huiyan.Customer { c := base(); c.MBankStatus = huiyan.MBankDormant; return c },
			huiyan.ChannelCounter, false, []string{"guide_ecode_scan"}, "睡眠"},
		{"GuideECodeOpenForNone", func() *huiyan.Customer { c := base(); c.MBankStatus = huiyan.MBankNone; return c },
			huiyan.ChannelCounter, false, []string{"guide_ecode_scan"}, "开通"},
		{"NoGuideWhenAlreadyScanning", func() *huiyan.Customer { c := base(); c.MBankStatus = huiyan.MBankDormant; return c },
			huiyan.ChannelECode, false, nil, ""},
		{"ChurnRiskVIP", func() *huiyan.Customer {
			c := base()
			c.Tier, c.Tags = huiyan.TierPlatinum, []int{tag(huiyan.TagChurnRiskVIP)}
			return c
		}, huiyan.ChannelECode, false, []string{"churn_risk_retention"}, "高流失"},
		{"PotentialVIP", func() *huiyan.Customer { c := base(); c.Tags = []int{tag(huiyan.TagPotentialVIP)}; return c },
			huiyan.ChannelWheel, false, []string{"potential_vip_consult"}, "潜力"},
		{"MaturityWithin7Days", func() *huiyan.Customer {
			c := base()
			c.Maturities = []huiyan.Maturity{{Product: "td_1y", Date: now.AddDate(0, 0, 20)}, {Product: "td_3y", Date: time.Date(2026, 11, 28, 0, 0, 0, 0, now.Location())}}
			return c
		}, huiyan.ChannelCounter, false, []string{"maturity_renewal"}, "2026-11-28"},
		{"MaturityTooFar", func() *huiyan.Customer {
			c := base()
			c.Maturities = []huiyan.Maturity{{Product: "td_1y", Date: now.AddDate(0, 0, 8)}}
			return c
		}, huiyan.ChannelCounter, false, nil, ""},
		{"YourCustomerFirst", func() *huiyan.Customer {
			c := base()
			c.Manager, c.MBankStatus = "account-B001", huiyan.MBankRegistered
			return c
		}, huiyan.ChannelCounter, true, []string{"your_customer_arrived", "guide_ecode_scan"}, "客户经理"},
		{"ManagerOffShift", func() *huiyan.Customer { c := base(); c.Manager = "account-B001"; return c },
			huiyan.ChannelCounter, false, nil, ""},
		{"OptOutGetsServiceOnly", func() *huiyan.Customer {
			c := base()
			c.OptOut, c.Tier = true, huiyan.TierDiamond
			c.Tags = []int{tag(huiyan.TagChurnRiskVIP), tag(huiyan.TagPotentialVIP)}
			c.Maturities = []huiyan.Maturity{{Product: "td_1y", Date: now.AddDate(0, 0, 2)}}
			return c
		}, huiyan.ChannelCounter, false, []string{"service_only"}, "个性化营销"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rs.Evaluate(edge.RuleInput{Customer: tc.customer(), Channel: tc.channel, Now: now, ManagerOnShift: tc.onShift})
			if strings.Join(codes(got), ",") != strings.Join(tc.want, ",") {
				t.Fatalf("actions=%v, want %v", codes(got), tc.want)
			}
			if tc.script != "" && !strings.Contains(got[0].Script+got[0].Reason+got[0].Title, tc.script) {
				t.Fatalf("action %s: title=%q script=%q reason=%q, want %q in one", got[0].Code, got[0].Title, got[0].Script, got[0].Reason, tc.script)
			}
			for _, a := range got {
				if a.Title == "" || a.Script == "" || a.Reason == "" || !a.Role.Valid() {
					t.Fatalf("action %+v: empty title/script/reason or bad role", a)
				}
			}
		})
	}
	t.Run("NewFace", func(t *testing.T) {
		got := rs.Evaluate(edge.RuleInput{Channel: huiyan.ChannelCounter, Now: now})
		if strings.Join(codes(got), ",") != "new_face_welcome" {
			t.Fatalf("actions=%v, want [new_face_welcome]", codes(got))
		}
	})
}

func TestParseRules(t *testing.T) {
	dict := huiyan.DefaultTagDict()
	for _, tc := range []struct{ name, src, want string }{
		{"ErrUnknownTag", `{"version":1,"rules":[{"code":"x","title":"t","script":"s","reason":"r","role":"lobby","when":{"tags_any":["no_such_tag"]}}]}`, "unknown tag"},
		{"ErrRole", `{"version":1,"rules":[{"code":"x","title":"t","script":"s","reason":"r","role":"teller"}]}`, "unknown role"},
		{"ErrDuplicate", `{"version":1,"rules":[{"code":"x","title":"t","script":"s","reason":"r","role":"lobby"},{"code":"x","title":"t","script":"s","reason":"r","role":"lobby"}]}`, "duplicate"},
		{"ErrTemplate", `{"version":1,"rules":[{"code":"x","title":"{{.Nope}}","script":"s","reason":"r","role":"lobby"}]}`, "Nope"},
		{"ErrUnknownField", `{"version":1,"rules":[{"code":"x","title":"t","script":"s","reason":"r","role":"lobby","colour":"red"}]}`, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := edge.ParseRules(strings.NewReader(tc.src), dict)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err=%v, want it to mention %q", err, tc.want)
			}
		})
	}
}
