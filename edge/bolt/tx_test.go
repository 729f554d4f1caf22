package bolt_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
)

func TestTx_BeforeSnapshot(t *testing.T) {
	db := MustOpenDB(t)
	mustView(t, db, func(tx edge.Tx) error {
		if m, err := tx.Meta(); err != nil || m.SnapshotVersion != 0 {
			t.Errorf("meta=%+v, %v, want version 0", m, err)
		}
		if _, err := tx.Dict(); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("dict err=%v, want ErrNotFound", err)
		}
		if _, err := tx.CustomerByToken(token(huiyan.IdentIDCard, 1)); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("customer by token err=%v, want ErrNotFound", err)
		}
		if _, err := tx.Customer("C0000000001"); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("customer err=%v, want ErrNotFound", err)
		}
		if _, err := tx.Staff("lobby-310101"); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("staff err=%v, want ErrNotFound", err)
		}
		if l, err := tx.StaffList(); len(l) != 0 || err != nil {
			t.Errorf("staff list=%v, %v, want none", l, err)
		}
		return nil
	})
}

func TestTx_Customers(t *testing.T) {
	db := MustOpenDB(t)
	mustReplace(t, db, 3, 0, 100)
	mustView(t, db, func(tx edge.Tx) error {
		m, err := tx.Meta()
		if err != nil {
			return err
		}
		want := testMeta(3)
		want.Customers, want.DictVersion = 100, huiyan.DictVersion
		if !equal(m, want) {
			t.Errorf("meta=%+v, want %+v", m, want)
		}
		d, err := tx.Dict()
		if err != nil {
			return err
		}
		if got, want := len(d.Tags()), len(huiyan.DefaultTagDict().Tags()); got != want || d.Version() != huiyan.DictVersion {
			t.Errorf("dict has %d tags, version %d, want %d, %d", got, d.Version(), want, huiyan.DictVersion)
		}

		for _, i := range []int{0, 1, 42, 99} {
			want := testCustomer(i, 3)
			for _, id := range want.Tokens {
				c, err := tx.CustomerByToken(id.Token)
				if err != nil {
					t.Fatalf("customer %d by %s token: %v", i, id.Kind, err)
				}
				if !equal(c, want) {
					t.Errorf("customer %d by %s token=%+v, want %+v", i, id.Kind, c, want)
				}
			}
			c, err := tx.Customer(want.ID)
			if err != nil {
				t.Fatalf("customer %d: %v", i, err)
			}
			if !equal(c, want) {
				t.Errorf("customer %d=%+v, want %+v", i, c, want)
			}
		}
		if c, err := tx.CustomerByToken(strings.ToUpper(token(huiyan.IdentPhone, 7))); err != nil || c.ID != testCustomer(7, 3).ID {
			t.Errorf("upper-case token: %v, %v, want customer 7", c, err)
		}

		t.Run("ErrNotFound", func(t *testing.T) {
			for _, tok := range []string{token(huiyan.IdentIDCard, 100), token(huiyan.IdentMBank, 1), "", "not-hex", strings.Repeat("g", 64)} {
				if _, err := tx.CustomerByToken(tok); !errors.Is(err, edge.ErrNotFound) {
					t.Errorf("token %q: err=%v, want ErrNotFound", tok, err)
				}
			}
			for _, id := range []string{"", "C9999999999"} {
				if _, err := tx.Customer(id); !errors.Is(err, edge.ErrNotFound) {
					t.Errorf("customer %q: err=%v, want ErrNotFound", id, err)
				}
			}
		})
		return nil
	})

	t.Run("Copies", func(t *testing.T) {
		var first *huiyan.Customer
		mustView(t, db, func(tx edge.Tx) error {
			var err error
			first, err = tx.Customer(testCustomer(5, 3).ID)
			return err
		})
		first.Tags[0], first.Tokens[0].Token = -1, "x"
		mustView(t, db, func(tx edge.Tx) error {
			c, err := tx.Customer(testCustomer(5, 3).ID)
			if err != nil {
				return err
			}
			if !equal(c, testCustomer(5, 3)) {
				t.Errorf("changing a returned customer changed the store")
			}
			return nil
		})
	})
}

func TestTx_Staff(t *testing.T) {
	db := MustOpenDB(t)
	mustReplace(t, db, 1, 0, 1)
	mustView(t, db, func(tx edge.Tx) error {
		s, err := tx.Staff("lobby-310101")
		if err != nil {
			return err
		}
		if *s != testStaff[0] {
			t.Errorf("staff=%+v, want %+v", *s, testStaff[0])
		}
		if _, err := tx.Staff("wealth-310101"); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("missing staff err=%v, want ErrNotFound", err)
		}
		list, err := tx.StaffList()
		if err != nil {
			return err
		}
		want := []huiyan.Staff{testStaff[1], testStaff[0]} // by id
		if !slices.Equal(list, want) {
			t.Errorf("staff list=%+v, want %+v", list, want)
		}
		return nil
	})

	// A nil roster keeps the current one, an empty one clears it.
	ctx := t.Context()
	if err := db.ReplaceSnapshot(ctx, testMeta(2), nil, nil, customers(0, 1, 2), nil); err != nil {
		t.Fatal(err)
	}
	mustView(t, db, func(tx edge.Tx) error {
		if l, _ := tx.StaffList(); len(l) != 2 {
			t.Errorf("nil staff: %d staff, want 2 kept", len(l))
		}
		if m, _ := tx.Meta(); m.DictVersion != huiyan.DictVersion {
			t.Errorf("nil dict: dict version=%d, want %d kept", m.DictVersion, huiyan.DictVersion)
		}
		if _, err := tx.Dict(); err != nil {
			t.Errorf("nil dict: %v, want the old one kept", err)
		}
		return nil
	})
	if err := db.ReplaceSnapshot(ctx, testMeta(3), nil, []huiyan.Staff{}, customers(0, 1, 3), nil); err != nil {
		t.Fatal(err)
	}
	mustView(t, db, func(tx edge.Tx) error {
		if l, _ := tx.StaffList(); len(l) != 0 {
			t.Errorf("empty staff: %d staff, want none", len(l))
		}
		return nil
	})
}

func TestTx_EventSeen(t *testing.T) {
	db := MustOpenDB(t)
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	mustUpdate(t, db, func(tx edge.Tx) error {
		if _, err := tx.EventSeen("sc-01", "e1"); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("err=%v, want ErrNotFound", err)
		}
		if err := tx.MarkEventSeen("sc-01", "e1", "v1", at); err != nil {
			return err
		}
		if err := tx.MarkEventSeen("sc-01", "", "v1", at); err == nil {
			t.Error("marked an empty event id")
		}
		return nil
	})
	mustView(t, db, func(tx edge.Tx) error {
		if v, err := tx.EventSeen("sc-01", "e1"); v != "v1" || err != nil {
			t.Errorf("seen=%q, %v, want v1", v, err)
		}
		// The key separates device and event id: no collision.
		for _, k := range [][2]string{{"sc-0", "1e1"}, {"sc-01e", "1"}, {"sc-02", "e1"}, {"sc-01", "e2"}} {
			if _, err := tx.EventSeen(k[0], k[1]); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("%v: err=%v, want ErrNotFound", k, err)
			}
		}
		return nil
	})
}

func TestTx_Visits(t *testing.T) {
	db := MustOpenDB(t)
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	v1 := &huiyan.Visit{ID: "v1", Branch: "310101", CustomerID: "C1", OpenedAt: at, LastSeenAt: at, Channel: huiyan.ChannelCounter,
		Touchpoints: []huiyan.Touchpoint{{EventID: "e1", Channel: huiyan.ChannelCounter, Device: "sc-01", At: at}}}
	v2 := &huiyan.Visit{ID: "v2", Branch: "310101", OpenedAt: at.Add(-time.Minute), LastSeenAt: at, Channel: huiyan.ChannelECode}

	t.Run("ErrNotFound", func(t *testing.T) {
		mustView(t, db, func(tx edge.Tx) error {
			if _, err := tx.Visit("v1"); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("visit err=%v, want ErrNotFound", err)
			}
			if _, err := tx.OpenVisitFor("C1"); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("open visit err=%v, want ErrNotFound", err)
			}
			if l, err := tx.OpenVisits(); len(l) != 0 || err != nil {
				t.Errorf("open visits=%v, %v, want none", l, err)
			}
			return nil
		})
	})

	t.Run("Open", func(t *testing.T) {
		mustUpdate(t, db, func(tx edge.Tx) error {
			if err := tx.PutVisit(v1, "C1"); err != nil {
				return err
			}
			return tx.PutVisit(v2, "face:abc")
		})
		mustView(t, db, func(tx edge.Tx) error {
			got, err := tx.OpenVisitFor("C1")
			if err != nil {
				return err
			}
			if !equal(got, v1) {
				t.Errorf("open visit=%+v, want %+v", got, v1)
			}
			if got, err := tx.Visit("v2"); err != nil || !equal(got, v2) {
				t.Errorf("visit=%+v, %v, want %+v", got, err, v2)
			}
			l, err := tx.OpenVisits()
			if err != nil {
				return err
			}
			if len(l) != 2 || l[0].ID != "v2" || l[1].ID != "v1" {
				t.Errorf("open visits=%v, want v2, v1 (oldest first)", l)
			}
			return nil
		})
	})

	t.Run("EmptySubjectKeepsIt", func(t *testing.T) {
		mustUpdate(t, db, func(tx edge.Tx) error {
			v := *v2
			v.ClaimedBy = "lobby-310101"
			return tx.PutVisit(&v, "")
		})
		mustView(t, db, func(tx edge.Tx) error {
			if got, err := tx.OpenVisitFor("face:abc"); err != nil || got.ClaimedBy != "lobby-310101" {
				t.Errorf("open visit=%+v, %v, want the claimed v2", got, err)
			}
			return nil
		})
	})

	t.Run("ErrNoSubject", func(t *testing.T) {
		err := db.Update(t.Context(), func(tx edge.Tx) error {
			return tx.PutVisit(&huiyan.Visit{ID: "v3", OpenedAt: at}, "")
		})
		if err == nil {
			t.Error("stored a new open visit without a subject")
		}
	})

	t.Run("Closed", func(t *testing.T) {
		mustUpdate(t, db, func(tx edge.Tx) error {
			v := *v1
			v.ClosedAt = at.Add(30 * time.Minute)
			if err := tx.PutVisit(&v, "C1"); err != nil {
				return err
			}
			v = *v2
			v.ClosedAt = at.Add(30 * time.Minute)
			return tx.PutVisit(&v, "") // the subject it was stored under
		})
		mustView(t, db, func(tx edge.Tx) error {
			for _, s := range []string{"C1", "face:abc"} {
				if _, err := tx.OpenVisitFor(s); !errors.Is(err, edge.ErrNotFound) {
					t.Errorf("open visit for %s err=%v, want ErrNotFound", s, err)
				}
			}
			if l, err := tx.OpenVisits(); len(l) != 0 || err != nil {
				t.Errorf("open visits=%v, %v, want none", l, err)
			}
			if v, err := tx.Visit("v1"); err != nil || v.ClosedAt.IsZero() {
				t.Errorf("closed visit=%+v, %v, want it kept with ClosedAt", v, err)
			}
			return nil
		})
	})

	t.Run("ClosingAnOlderVisitKeepsTheNewer", func(t *testing.T) {
		mustUpdate(t, db, func(tx edge.Tx) error {
			a := &huiyan.Visit{ID: "a", OpenedAt: at}
			b := &huiyan.Visit{ID: "b", OpenedAt: at.Add(time.Hour)}
			if err := tx.PutVisit(a, "C9"); err != nil {
				return err
			}
			if err := tx.PutVisit(b, "C9"); err != nil { // takes over the subject
				return err
			}
			a.ClosedAt = at.Add(time.Hour)
			return tx.PutVisit(a, "")
		})
		mustView(t, db, func(tx edge.Tx) error {
			if v, err := tx.OpenVisitFor("C9"); err != nil || v.ID != "b" {
				t.Errorf("open visit=%v, %v, want b", v, err)
			}
			return nil
		})
	})

	t.Run("MovedSubject", func(t *testing.T) {
		mustUpdate(t, db, func(tx edge.Tx) error {
			v := &huiyan.Visit{ID: "m", OpenedAt: at}
			if err := tx.PutVisit(v, "face:x"); err != nil {
				return err
			}
			return tx.PutVisit(v, "C7") // the new face was recognised
		})
		mustView(t, db, func(tx edge.Tx) error {
			if _, err := tx.OpenVisitFor("face:x"); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("old subject err=%v, want ErrNotFound", err)
			}
			if v, err := tx.OpenVisitFor("C7"); err != nil || v.ID != "m" {
				t.Errorf("new subject=%v, %v, want m", v, err)
			}
			return nil
		})
	})
}

func TestTx_Cards(t *testing.T) {
	db := MustOpenDB(t)
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	card := &huiyan.Card{
		Visit:    &huiyan.Visit{ID: "v1", OpenedAt: at},
		Profile:  &huiyan.Profile{CustomerID: "C1", DisplayName: "林*华", Tier: huiyan.TierGold, Tags: []huiyan.ProfileTag{{Code: "potential_vip", NameZH: "潜力贵宾客户", NameEN: "Potential VIP", Kind: huiyan.TagPredictive}}},
		Actions:  []huiyan.Action{{Code: "guide_ecode_scan", Title: "引导扫码", Role: huiyan.RoleLobby}},
		Audience: huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby}, Staff: []string{"account-310101"}},
	}
	mustUpdate(t, db, func(tx edge.Tx) error {
		if _, err := tx.Card("v1"); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("err=%v, want ErrNotFound", err)
		}
		if err := tx.PutCard(&huiyan.Card{}); err == nil {
			t.Error("stored a card without a visit")
		}
		return tx.PutCard(card)
	})
	mustView(t, db, func(tx edge.Tx) error {
		got, err := tx.Card("v1")
		if err != nil {
			return err
		}
		if !equal(got, card) {
			t.Errorf("card=%+v, want %+v", got, card)
		}
		return nil
	})
}

func TestTx_Feed(t *testing.T) {
	db := MustOpenDB(t)
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	var seqs []uint64
	add := func(n int) {
		t.Helper()
		mustUpdate(t, db, func(tx edge.Tx) error {
			for range n {
				e := &huiyan.FeedEvent{Kind: huiyan.FeedDevice, At: at, Device: "sc-01", DeviceStatus: huiyan.DeviceOnline,
					Audience: huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby}}}
				if err := tx.AppendFeed(e); err != nil {
					return err
				}
				seqs = append(seqs, e.Seq)
			}
			return nil
		})
	}

	mustView(t, db, func(tx edge.Tx) error {
		if o, n, err := tx.FeedRange(); o != 0 || n != 0 || err != nil {
			t.Errorf("empty range=(%d, %d, %v), want (0, 0)", o, n, err)
		}
		if l, err := tx.FeedAfter(0, 10); len(l) != 0 || err != nil {
			t.Errorf("empty feed=%v, %v", l, err)
		}
		return nil
	})
	add(3)
	db = mustReopen(t, db)
	add(2)
	db = mustReopen(t, db)
	add(1)
	if want := []uint64{1, 2, 3, 4, 5, 6}; !slices.Equal(seqs, want) {
		t.Fatalf("seqs=%v, want %v (strictly increasing across reopen)", seqs, want)
	}
	mustView(t, db, func(tx edge.Tx) error {
		if o, n, err := tx.FeedRange(); o != 1 || n != 6 || err != nil {
			t.Errorf("range=(%d, %d, %v), want (1, 6)", o, n, err)
		}
		all, err := tx.FeedAfter(0, 0)
		if err != nil {
			return err
		}
		if len(all) != 6 || all[0].Seq != 1 || all[5].Seq != 6 {
			t.Errorf("feed after 0 = %d events, want 1..6", len(all))
		}
		want := huiyan.FeedEvent{Seq: 1, Kind: huiyan.FeedDevice, At: at, Device: "sc-01", DeviceStatus: huiyan.DeviceOnline,
			Audience: huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby}}}
		if !equal(all[0], want) {
			t.Errorf("event=%+v, want %+v", all[0], want)
		}
		for _, tc := range []struct {
			after     uint64
			limit     int
			wantFirst uint64
			wantN     int
		}{{2, 2, 3, 2}, {5, 10, 6, 1}, {6, 10, 0, 0}, {^uint64(0), 10, 0, 0}, {0, -1, 1, 6}} {
			l, err := tx.FeedAfter(tc.after, tc.limit)
			if err != nil {
				return err
			}
			if len(l) != tc.wantN || (tc.wantN > 0 && l[0].Seq != tc.wantFirst) {
				t.Errorf("FeedAfter(%d, %d) = %d events, want %d from %d", tc.after, tc.limit, len(l), tc.wantN, tc.wantFirst)
			}
		}
		return nil
	})
}

func TestTx_Sessions(t *testing.T) {
	db := MustOpenDB(t)
	s := edge.Session{TokenHash: strings.Repeat("ab", 32), StaffID: "lobby-310101",
		Created: time.Date(2026, 11, 23, 8, 0, 0, 0, cst), Expires: time.Date(2026, 11, 23, 20, 0, 0, 0, cst)}
	mustUpdate(t, db, func(tx edge.Tx) error {
		if _, err := tx.Session(s.TokenHash); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("err=%v, want ErrNotFound", err)
		}
		if err := tx.PutSession(edge.Session{}); err == nil {
			t.Error("stored a session without a token hash")
		}
		return tx.PutSession(s)
	})
	db = mustReopen(t, db) // sessions survive a restart
	mustUpdate(t, db, func(tx edge.Tx) error {
		got, err := tx.Session(s.TokenHash)
		if err != nil {
			return err
		}
		if !equal(got, s) {
			t.Errorf("session=%+v, want %+v", got, s)
		}
		if err := tx.DeleteSession(s.TokenHash); err != nil {
			return err
		}
		if _, err := tx.Session(s.TokenHash); !errors.Is(err, edge.ErrNotFound) {
			t.Errorf("deleted session err=%v, want ErrNotFound", err)
		}
		if err := tx.DeleteSession(s.TokenHash); err != nil {
			t.Errorf("deleting again: %v, want nil", err)
		}
		return nil
	})
}

func TestTx_Devices(t *testing.T) {
	db := MustOpenDB(t)
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	mustUpdate(t, db, func(tx edge.Tx) error {
		for _, d := range []huiyan.DeviceState{
			{Device: "wh-01", Channel: huiyan.ChannelWheel, Status: huiyan.DeviceOnline, Since: at},
			{Device: "sc-01", Channel: huiyan.ChannelCounter, Status: huiyan.DeviceOnline, Since: at},
			{Device: "sc-01", Channel: huiyan.ChannelCounter, Status: huiyan.DeviceOffline, Since: at.Add(time.Hour)},
		} {
			if err := tx.PutDevice(d); err != nil {
				return err
			}
		}
		if err := tx.PutDevice(huiyan.DeviceState{}); err == nil {
			t.Error("stored a device without an id")
		}
		return nil
	})
	mustView(t, db, func(tx edge.Tx) error {
		l, err := tx.Devices()
		if err != nil {
			return err
		}
		want := []huiyan.DeviceState{
			{Device: "sc-01", Channel: huiyan.ChannelCounter, Status: huiyan.DeviceOffline, Since: at.Add(time.Hour)},
			{Device: "wh-01", Channel: huiyan.ChannelWheel, Status: huiyan.DeviceOnline, Since: at},
		}
		if !equal(l, want) {
			t.Errorf("devices=%+v, want %+v", l, want)
		}
		return nil
	})
}
