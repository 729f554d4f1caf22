package pad_test

import (
	"encoding/json"
	"testing"
	"time"

	"huiyan"
	pad "huiyan/pad-api"
)

// benchArrival is a realistic arrival card: a known customer with eight
// tags, a maturing product and two suggested actions, the size of what the
// default rules put on a PAD.
func benchArrival() huiyan.FeedEvent {
	cst := time.FixedZone("CST", 8*3600)
	at := time.Date(2026, 11, 23, 9, 30, 1, 250_000_000, cst)
	p := &huiyan.Profile{
		CustomerID: "C0000012345", DisplayName: "林*华", Tier: huiyan.TierGold,
		MBankStatus: huiyan.MBankDormant, MBankIdleDays: 120, Lifecycle: huiyan.LifecycleGrowth, Manager: "account-B001",
		Maturities: []huiyan.Maturity{{Product: "CD-3Y", Date: time.Date(2026, 12, 1, 0, 0, 0, 0, cst)}},
	}
	for _, tag := range huiyan.DefaultTagDict().Tags()[:8] {
		p.Tags = append(p.Tags, huiyan.ProfileTag{Code: tag.Code, NameZH: tag.NameZH, NameEN: tag.NameEN, Kind: tag.Kind, Priority: tag.Priority})
	}
	return huiyan.FeedEvent{
		Seq: 123456, Kind: huiyan.FeedArrival, At: at,
		Audience: huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby, huiyan.RoleWealth}, Staff: []string{"account-B001"}},
		Visit: &huiyan.Visit{ID: "v-20261123-9f3a61c2", Branch: "B001", CustomerID: p.CustomerID, OpenedAt: at, LastSeenAt: at,
			Channel: huiyan.ChannelCounter, MBankAtOpen: huiyan.MBankDormant,
			Touchpoints: []huiyan.Touchpoint{{EventID: "sc-01-000123", Channel: huiyan.ChannelCounter, Device: "sc-01", At: at}}},
		Profile: p,
		Actions: []huiyan.Action{
			{Code: "guide_ecode_scan", Title: "引导扫网点e码激活掌银", Script: "您好，看您的手机银行有一段时间没用了，扫一下这个网点e码就能重新激活，还能参加智惠转盘抽奖。", Role: huiyan.RoleLobby, Priority: 1, Reason: "掌银睡眠 120 天"},
			{Code: "maturity_followup", Title: "到期产品续作", Script: "您有一笔三年期存款 12 月 1 日到期，我们理财经理可以为您介绍续作方案。", Role: huiyan.RoleWealth, Priority: 2, Reason: "产品 30 天内到期"},
		},
	}
}

// BenchmarkEncodeArrival is the PAD server's work per arrival and variant
// (Server.Publish encodes each event at most twice, with and without
// your_customer, whatever the number of PADs): the wire conversion and the
// JSON encoding of the message every PAD in the audience receives.
//
//	go test -run '^$' -bench EncodeArrival -benchmem ./pad-api/
func BenchmarkEncodeArrival(b *testing.B) {
	e := benchArrival()
	for _, tc := range []struct{ name, viewer string }{
		{"Lobby", "lobby-B001"},
		{"YourCustomer", "account-B001"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				m, err := pad.EventFor(e, tc.viewer)
				if err != nil {
					b.Fatal(err)
				}
				data, err := json.Marshal(m)
				if err != nil {
					b.Fatal(err)
				}
				size = len(data)
			}
			if size == 0 {
				b.Fatal("empty message")
			}
			b.ReportMetric(float64(size), "msg-B")
		})
	}
}
