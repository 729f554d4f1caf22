package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
)

// BenchmarkCustomerByToken looks customers up by token in a branch cache of
// 100,000, each in its own read transaction as an arrival does ("View"),
// and many in one ("Lookup"). It reports the space a customer takes: its
// record bytes (customer record, aliases), the B+tree pages of the
// generation, and the file.
func BenchmarkCustomerByToken(b *testing.B) {
	const n = 100_000
	db := MustOpenDB(b)
	mustReplace(b, db, 1, 0, n)
	fi, err := os.Stat(db.Path())
	if err != nil {
		b.Fatal(err)
	}
	alloc, _, records, err := db.GenerationStats()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := make([]string, 4096)
	for i := range tokens {
		tokens[i] = testCustomer(rng.IntN(n), 1).Tokens[rng.IntN(3)].Token
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(records)/n, "data-B/customer")
		b.ReportMetric(float64(alloc)/n, "pages-B/customer")
		b.ReportMetric(float64(fi.Size())/n, "file-B/customer")
	}
	ctx := context.Background()

	b.Run("View", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			err := db.View(ctx, func(tx edge.Tx) error {
				_, err := tx.CustomerByToken(tokens[i%len(tokens)])
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
		report(b)
	})
	b.Run("Lookup", func(b *testing.B) {
		b.ReportAllocs()
		err := db.View(ctx, func(tx edge.Tx) error {
			i := 0
			for b.Loop() {
				if _, err := tx.CustomerByToken(tokens[i%len(tokens)]); err != nil {
					return err
				}
				i++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	b.Run("Miss", func(b *testing.B) {
		b.ReportAllocs()
		miss := token(huiyan.IdentIDCard, n+1)
		for b.Loop() {
			err := db.View(ctx, func(tx edge.Tx) error {
				_, err := tx.CustomerByToken(miss)
				return err
			})
			if !errors.Is(err, edge.ErrNotFound) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUpdateArrival is the write an arrival makes: one Update with
// EventSeen, PutVisit, AppendFeed (a realistic arrival event) and
// MarkEventSeen, committed and fsynced. Its time is mostly the fsync.
func BenchmarkUpdateArrival(b *testing.B) {
	db := MustOpenDB(b)
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	profile := &huiyan.Profile{
		CustomerID: "C0000012345", DisplayName: "林*华", Tier: huiyan.TierGold,
		MBankStatus: huiyan.MBankDormant, MBankIdleDays: 120, Lifecycle: huiyan.LifecycleGrowth, Manager: "account-310101",
		Maturities: []huiyan.Maturity{{Product: "CD-3Y", Date: time.Date(2026, 12, 1, 0, 0, 0, 0, cst)}},
	}
	for _, tag := range huiyan.DefaultTagDict().Tags()[:8] {
		profile.Tags = append(profile.Tags, huiyan.ProfileTag{Code: tag.Code, NameZH: tag.NameZH, NameEN: tag.NameEN, Kind: tag.Kind, Priority: tag.Priority})
	}
	actions := []huiyan.Action{
		{Code: "guide_ecode_scan", Title: "引导扫网点e码激活掌银", Script: "您好，看您的手机银行有一段时间没用了，扫一下这个网点e码就能重新激活，还能参加智惠转盘抽奖。", Role: huiyan.RoleLobby, Priority: 1, Reason: "掌银睡眠 120 天"},
		{Code: "maturity_followup", Title: "到期产品续作", Script: "您有一笔三年期存款 12 月 1 日到期，我们理财经理可以为您介绍续作方案。", Role: huiyan.RoleWealth, Priority: 2, Reason: "产品 30 天内到期"},
	}
	audience := huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby, huiyan.RoleWealth}, Staff: []string{"account-310101"}}
	ctx := context.Background()
	var size int

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		eventID := fmt.Sprintf("sc-01-%06d", i)
		err := db.Update(ctx, func(tx edge.Tx) error {
			if _, err := tx.EventSeen("sc-01", eventID); !errors.Is(err, edge.ErrNotFound) {
				return fmt.Errorf("event seen: %v", err)
			}
			at := now.Add(time.Duration(i) * time.Second)
			v := &huiyan.Visit{
				ID: fmt.Sprintf("v-%06d", i), Branch: "310101", CustomerID: profile.CustomerID,
				OpenedAt: at, LastSeenAt: at, Channel: huiyan.ChannelCounter, MBankAtOpen: huiyan.MBankDormant,
				Touchpoints: []huiyan.Touchpoint{{EventID: eventID, Channel: huiyan.ChannelCounter, Device: "sc-01", At: at}},
			}
			if err := tx.PutVisit(v, fmt.Sprintf("C%010d", i)); err != nil {
				return err
			}
			e := &huiyan.FeedEvent{Kind: huiyan.FeedArrival, At: at, Audience: audience, Visit: v, Profile: profile, Actions: actions}
			if err := tx.AppendFeed(e); err != nil {
				return err
			}
			if i == 1 { // encoding it again in every iteration would add to what is measured
				size = bolt.FeedRecordSize(e)
			}
			return tx.MarkEventSeen("sc-01", eventID, v.ID, at)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "feed-B/event")
}
