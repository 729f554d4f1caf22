package edge_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	firmware "huiyan/firmware-contracts"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a Publisher that keeps what it was given.
type recorder struct {
	mu  sync.Mutex
	evs []huiyan.FeedEvent
}

func (r *recorder) Publish(e huiyan.FeedEvent) { r.mu.Lock(); r.evs = append(r.evs, e); r.mu.Unlock() }
func (r *recorder) take() []huiyan.FeedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.evs
	r.evs = nil
	return out
}

func tok(n byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = "0123456789abcdef"[(int(n)+i)%16]
	}
	return string(b)
}

// fixture: a node on a real bbolt file with three customers and a roster.
func mustNode(t *testing.T) (*edge.Node, *clock, *recorder) {
	t.Helper()
	return mustNodeWith(t, nil)
}

// mustNodeWith is mustNode with changes to the node's config.
func mustNodeWith(t *testing.T, change func(*edge.Config)) (*edge.Node, *clock, *recorder) {
	t.Helper()
	return mustNodeOn(t, mustFixtureDB(t), change)
}

// mustFixtureDB is a real bbolt file holding the fixture's snapshot.
func mustFixtureDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dict := huiyan.DefaultTagDict()
	cs := []*huiyan.Customer{
		{ID: "C1", DisplayName: "林*华", Tier: huiyan.TierNormal, HomeBranch: "B001", MBankStatus: huiyan.MBankDormant, MBankIdleDays: 200,
			Risk: "R2", AUMBand: "aum_10k_50k", Lifecycle: huiyan.LifecycleChurning, Tokens: []huiyan.Ident{{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: tok(1)}, {Kind: huiyan.IdentMBank, KeyID: "k1", Token: tok(2)}}},
		{ID: "C2", DisplayName: "王*", Tier: huiyan.TierGold, HomeBranch: "B001", MBankStatus: huiyan.MBankActive, MBankIdleDays: 3,
			Risk: "R3", AUMBand: "aum_50k_200k", Lifecycle: huiyan.LifecycleMature, Manager: "account-B001", Tokens: []huiyan.Ident{{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: tok(3)}, {Kind: huiyan.IdentMBank, KeyID: "k1", Token: tok(4)}}},
	}
	staff := []huiyan.Staff{
		{ID: "lobby-B001", Branch: "B001", Role: huiyan.RoleLobby, DisplayName: "陈强"},
		{ID: "lobby2-B001", Branch: "B001", Role: huiyan.RoleLobby, DisplayName: "刘菲"},
		{ID: "supervisor-B001", Branch: "B001", Role: huiyan.RoleSupervisor, DisplayName: "张敏"},
	}
	for i := range staff {
		staff[i].PINHash, _ = huiyan.HashPIN("246810", []byte("salt-salt-"+staff[i].ID), 1000)
	}
	seq := func(yield func(*huiyan.Customer, error) bool) {
		for _, c := range cs {
			if !yield(c, nil) {
				return
			}
		}
	}
	if err := db.ReplaceSnapshot(context.Background(), edge.Meta{Branch: "B001", SnapshotVersion: 1, KeyID: "k1", DictVersion: dict.Version()}, dict, staff, seq, nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// mustNodeOn opens a node of the fixture on store.
func mustNodeOn(t *testing.T, store edge.Store, change func(*edge.Config)) (*edge.Node, *clock, *recorder) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 23, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))}
	rec := &recorder{}
	cfg := edge.Config{Branch: "B001", Clock: clk.Now, CloseEvery: time.Hour}
	if change != nil {
		change(&cfg)
	}
	n := edge.NewNode(store, cfg)
	n.SetPublisher(rec)
	if err := n.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, clk, rec
}

var seqN int

func arrival(ch huiyan.Channel, device string, at time.Time, ids ...huiyan.Ident) huiyan.Arrival {
	seqN++
	a := huiyan.Arrival{EventID: device + "-" + string(rune('a'+seqN%26)) + time.Duration(seqN).String(), Branch: "B001", Device: device, Channel: ch, At: at, Idents: ids}
	if ch == huiyan.ChannelECode {
		a.Code = "code"
	}
	return a
}

func id(kind huiyan.IdentKind, t string) huiyan.Ident {
	return huiyan.Ident{Kind: kind, KeyID: "k1", Token: t}
}

func kinds(evs []huiyan.FeedEvent) []huiyan.FeedKind {
	var out []huiyan.FeedKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func TestNode_VisitWindow(t *testing.T) {
	n, clk, rec := mustNode(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n.HandleArrival(ctx, arrival(huiyan.ChannelCounter, "sc-01", clk.Now(), id(huiyan.IdentIDCard, tok(1)))))
	evs := rec.take()
	if !slices.Equal(kinds(evs), []huiyan.FeedKind{huiyan.FeedArrival, huiyan.FeedDevice}) {
		t.Fatalf("first arrival gave %v, want arrival and the new device", kinds(evs))
	}
	v1 := evs[0].Visit.ID

	t.Run("JoinsWithinWindow", func(t *testing.T) {
		clk.Add(29 * time.Minute)
		must(n.HandleArrival(ctx, arrival(huiyan.ChannelCounter, "sc-01", clk.Now(), id(huiyan.IdentIDCard, tok(1)))))
		evs := rec.take()
		if len(evs) != 1 || evs[0].Kind != huiyan.FeedVisit || evs[0].Visit.ID != v1 || len(evs[0].Visit.Touchpoints) != 2 {
			t.Fatalf("got %v, want a visit update of %s with 2 touchpoints", kinds(evs), v1)
		}
	})
	t.Run("NewVisitAfterWindow", func(t *testing.T) {
		clk.Add(31 * time.Minute) // 31 min after the last signal
		must(n.HandleArrival(ctx, arrival(huiyan.ChannelCounter, "sc-01", clk.Now(), id(huiyan.IdentIDCard, tok(1)))))
		evs := rec.take()
		if !slices.Equal(kinds(evs), []huiyan.FeedKind{huiyan.FeedVisit, huiyan.FeedArrival}) {
			t.Fatalf("got %v, want the old visit closed then a new arrival", kinds(evs))
		}
		if evs[0].Visit.ID != v1 || evs[0].Visit.ClosedAt.IsZero() || evs[1].Visit.ID == v1 {
			t.Fatalf("closed %s (at %v), opened %s", evs[0].Visit.ID, evs[0].Visit.ClosedAt, evs[1].Visit.ID)
		}
		if evs[0].Seq >= evs[1].Seq {
			t.Fatalf("seq %d then %d: not increasing", evs[0].Seq, evs[1].Seq)
		}
	})
	t.Run("CloseExpired", func(t *testing.T) {
		clk.Add(30 * time.Minute)
		must(n.CloseExpired(ctx))
		evs := rec.take()
		if len(evs) != 1 || evs[0].Visit.ClosedAt.IsZero() {
			t.Fatalf("got %v, want one closing visit event", kinds(evs))
		}
		_, cards, _, err := n.State(ctx)
		must(err)
		if len(cards) != 0 {
			t.Fatalf("%d open cards after closing, want 0", len(cards))
		}
	})
}

func TestNode_Conversion(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		first huiyan.Arrival
		scan  huiyan.Arrival
		want  huiyan.Conversion
	}{
		{"DormantActivates", arrival(huiyan.ChannelCounter, "sc-01", time.Time{}, id(huiyan.IdentIDCard, tok(1))),
			arrival(huiyan.ChannelECode, "ec-01", time.Time{}, id(huiyan.IdentMBank, tok(2))), huiyan.ConversionActivated},
		{"ActiveDoesNotConvert", arrival(huiyan.ChannelCounter, "sc-01", time.Time{}, id(huiyan.IdentIDCard, tok(3))),
			arrival(huiyan.ChannelECode, "ec-01", time.Time{}, id(huiyan.IdentMBank, tok(4))), huiyan.ConversionNone},
		{"NewFaceNeverConverts", arrival(huiyan.ChannelCounter, "sc-01", time.Time{}, id(huiyan.IdentIDCard, tok(9))),
			arrival(huiyan.ChannelECode, "ec-01", time.Time{}, id(huiyan.IdentMBank, tok(10)), id(huiyan.IdentIDCard, tok(9))), huiyan.ConversionNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, _, rec := mustNode(t)
			if err := n.HandleArrival(ctx, tc.first); err != nil {
				t.Fatal(err)
			}
			first := rec.take()[0]
			if err := n.HandleArrival(ctx, tc.scan); err != nil {
				t.Fatal(err)
			}
			var got *huiyan.Visit
			for _, e := range rec.take() {
				if e.Visit != nil {
					got = e.Visit
				}
			}
			if got.ID != first.Visit.ID {
				t.Fatalf("scan went to visit %s, want %s", got.ID, first.Visit.ID)
			}
			if got.Converted != tc.want {
				t.Fatalf("converted=%q, want %q", got.Converted, tc.want)
			}
		})
	}
}

func TestNode_ClaimReleaseOutcome(t *testing.T) {
	n, _, rec := mustNode(t)
	ctx := context.Background()
	if err := n.HandleArrival(ctx, arrival(huiyan.ChannelCounter, "sc-01", time.Time{}, id(huiyan.IdentIDCard, tok(3)))); err != nil {
		t.Fatal(err)
	}
	arr := rec.take()[0]
	if !slices.Contains(arr.Audience.Roles, huiyan.RoleWealth) || !slices.Contains(arr.Audience.Staff, "account-B001") {
		t.Fatalf("audience %+v: a gold customer with a manager goes to wealth and to the manager", arr.Audience)
	}
	v := arr.Visit.ID
	code := func(err error) string { return huiyan.ErrorCode(err) }
	steps := []struct {
		name, staff string
		do          func(staff string) error
		want        string // error code, "" for success
	}{
		{"Claim", "lobby-B001", func(s string) error { return n.Claim(ctx, s, v) }, ""},
		{"ClaimAgainIsNoop", "lobby-B001", func(s string) error { return n.Claim(ctx, s, v) }, ""},
		{"ErrConflict", "lobby2-B001", func(s string) error { return n.Claim(ctx, s, v) }, huiyan.EConflict},
		{"ErrReleaseByOther", "lobby2-B001", func(s string) error { return n.Release(ctx, s, v) }, huiyan.EForbidden},
		{"ErrOutcomeByOther", "lobby2-B001", func(s string) error { return n.Outcome(ctx, s, v, huiyan.OutcomeServed) }, huiyan.EForbidden},
		{"ErrBadOutcome", "lobby-B001", func(s string) error { return n.Outcome(ctx, s, v, "bought_a_car") }, huiyan.EInvalid},
		{"Outcome", "lobby-B001", func(s string) error { return n.Outcome(ctx, s, v, huiyan.OutcomeServed) }, ""},
		{"SupervisorReleases", "supervisor-B001", func(s string) error { return n.Release(ctx, s, v) }, ""},
		{"ErrUnknownVisit", "lobby-B001", func(s string) error { return n.Claim(ctx, s, "v-nope") }, huiyan.ENotFound},
	}
	for _, st := range steps {
		if got := code(st.do(st.staff)); got != st.want {
			t.Fatalf("%s by %s: code %q, want %q", st.name, st.staff, got, st.want)
		}
	}
	evs := rec.take()
	if len(evs) != 3 { // claim, outcome, release: no-ops and refusals publish nothing
		t.Fatalf("%d visit events, want 3 (claim, outcome, release)", len(evs))
	}
	if last := evs[2].Visit; last.ClaimedBy != "" || last.Outcome != huiyan.OutcomeServed || last.OutcomeBy != "lobby-B001" {
		t.Fatalf("final visit %+v", last)
	}
	for _, e := range evs {
		if !slices.Equal(e.Audience.Roles, arr.Audience.Roles) {
			t.Fatalf("visit event audience %+v, want the arrival's %+v", e.Audience, arr.Audience)
		}
	}
}

func TestNode_Refusals(t *testing.T) {
	n, _, _ := mustNode(t)
	ctx := context.Background()
	a := arrival(huiyan.ChannelCounter, "sc-01", time.Time{}, id(huiyan.IdentIDCard, tok(1)))
	if err := n.HandleArrival(ctx, a); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		a    huiyan.Arrival
		want string
	}{
		{"ErrDuplicate", a, firmware.EDuplicate},
		{"ErrUnknownKey", func() huiyan.Arrival {
			b := arrival(huiyan.ChannelCounter, "sc-01", time.Time{}, id(huiyan.IdentIDCard, tok(1)))
			b.Idents[0].KeyID = "k9"
			return b
		}(), firmware.EUnknownKey},
		{"ErrWrongBranch", func() huiyan.Arrival {
			b := arrival(huiyan.ChannelCounter, "sc-01", time.Time{}, id(huiyan.IdentIDCard, tok(1)))
			b.Branch = "B002"
			return b
		}(), firmware.EWrongBranch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := n.HandleArrival(ctx, tc.a)
			var he *huiyan.Error
			if !errors.As(err, &he) || he.Code != tc.want {
				t.Fatalf("err=%v, want *huiyan.Error %s", err, tc.want)
			}
		})
	}
}
