package hub_test

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub"
)

func TestCustomerHash(t *testing.T) {
	base := newGen(1).customer(1, "B001")
	base.Branches = []string{"B002", "B003"}
	base.Maturities = []huiyan.Maturity{
		{Product: "td_1y", Date: time.Date(2026, 12, 1, 0, 0, 0, 0, cst)},
		{Product: "wm_closed_90d", Date: time.Date(2027, 1, 5, 0, 0, 0, 0, cst)},
	}
	h := hub.CustomerHash(base)
	if h != hub.CustomerHash(clone(base)) {
		t.Fatal("a copy hashes differently")
	}

	// Every field counts.
	for _, tt := range []struct {
		name string
		edit func(*huiyan.Customer)
	}{
		{"ID", func(c *huiyan.Customer) { c.ID += "x" }},
		{"DisplayName", func(c *huiyan.Customer) { c.DisplayName = "欧**峰" }},
		{"Tier", func(c *huiyan.Customer) { c.Tier = huiyan.Tiers[(c.Tier.Rank()+1)%5] }},
		{"HomeBranch", func(c *huiyan.Customer) { c.HomeBranch = "B009" }},
		{"Branches", func(c *huiyan.Customer) { c.Branches = c.Branches[:1] }},
		{"Manager", func(c *huiyan.Customer) { c.Manager = "account-B009" }},
		{"Tags", func(c *huiyan.Customer) { c.Tags = c.Tags[1:] }},
		{"MBankStatus", func(c *huiyan.Customer) { c.MBankStatus = "x" }},
		{"MBankIdleDays", func(c *huiyan.Customer) { c.MBankIdleDays += 1000 }},
		{"Risk", func(c *huiyan.Customer) { c.Risk = "R9" }},
		{"AUMBand", func(c *huiyan.Customer) { c.AUMBand = "aum_x" }},
		{"Lifecycle", func(c *huiyan.Customer) { c.Lifecycle = "x" }},
		{"OptOut", func(c *huiyan.Customer) { c.OptOut = !c.OptOut }},
		{"MaturityDay", func(c *huiyan.Customer) { c.Maturities[0].Date = c.Maturities[0].Date.AddDate(0, 0, 1) }},
		{"MaturityProduct", func(c *huiyan.Customer) { c.Maturities[0].Product = "td_2y" }},
		{"TokenValue", func(c *huiyan.Customer) { c.Tokens[0].Token = strings.Repeat("0", 64) }},
		{"TokenKey", func(c *huiyan.Customer) { c.Tokens[0].KeyID = "k2" }},
		{"TokenDropped", func(c *huiyan.Customer) { c.Tokens = c.Tokens[1:] }},
		// Length prefixes: moving a character from one field to the next
		// is a change.
		{"FieldBoundary", func(c *huiyan.Customer) {
			r := []rune(c.DisplayName)
			c.ID, c.DisplayName = c.ID+string(r[0]), string(r[1:])
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := clone(base)
			tt.edit(c)
			if hub.CustomerHash(c) == h {
				t.Fatal("change not seen by the hash")
			}
		})
	}

	// Order of lists and time zones do not count.
	for _, tt := range []struct {
		name string
		edit func(*huiyan.Customer)
	}{
		{"BranchOrder", func(c *huiyan.Customer) { slices.Reverse(c.Branches) }},
		{"TagOrder", func(c *huiyan.Customer) { slices.Reverse(c.Tags) }},
		{"TokenOrder", func(c *huiyan.Customer) { slices.Reverse(c.Tokens) }},
		{"MaturityOrder", func(c *huiyan.Customer) { slices.Reverse(c.Maturities) }},
		{"MaturityZone", func(c *huiyan.Customer) { c.Maturities[0].Date = c.Maturities[0].Date.UTC() }},
		{"NilVsEmpty", func(c *huiyan.Customer) { c.Branches = c.Branches[:0] }},
		{"NeverIsMinusOne", func(c *huiyan.Customer) {}},
	} {
		t.Run("Same/"+tt.name, func(t *testing.T) {
			c := clone(base)
			want := h
			if tt.name == "NilVsEmpty" {
				d := clone(base)
				d.Branches = nil
				want = hub.CustomerHash(d)
			}
			if tt.name == "NeverIsMinusOne" {
				c.MBankIdleDays = -7
				d := clone(base)
				d.MBankIdleDays = -1
				want = hub.CustomerHash(d)
			}
			tt.edit(c)
			if hub.CustomerHash(c) != want {
				t.Fatal("hash changed")
			}
		})
	}
}

func TestDiff(t *testing.T) {
	g := newGen(2)
	a, b, c, d := g.customer(1, "B001"), g.customer(2, "B001"), g.customer(3, "B001"), g.customer(4, "B001")
	b2 := g.change(b)
	type op struct {
		op hub.Op
		id string
	}
	for _, tt := range []struct {
		name     string
		old, cur []*huiyan.Customer
		want     []op
	}{
		{"Empty", nil, nil, nil},
		{"Unchanged", []*huiyan.Customer{a, b, c}, []*huiyan.Customer{clone(a), clone(b), clone(c)}, nil},
		{"AllNew", nil, []*huiyan.Customer{a, b}, []op{{hub.OpUpsert, a.ID}, {hub.OpUpsert, b.ID}}},
		{"AllGone", []*huiyan.Customer{a, b}, nil, []op{{hub.OpDelete, a.ID}, {hub.OpDelete, b.ID}}},
		{"Changed", []*huiyan.Customer{a, b, c}, []*huiyan.Customer{a, b2, c}, []op{{hub.OpUpsert, b.ID}}},
		{"Mixed", []*huiyan.Customer{a, b, c}, []*huiyan.Customer{b2, c, d},
			[]op{{hub.OpDelete, a.ID}, {hub.OpUpsert, b.ID}, {hub.OpUpsert, d.ID}}},
		{"Interleaved", []*huiyan.Customer{a, c}, []*huiyan.Customer{b, d},
			[]op{{hub.OpDelete, a.ID}, {hub.OpUpsert, b.ID}, {hub.OpDelete, c.ID}, {hub.OpUpsert, d.ID}}},
		{"FirstAndLast", []*huiyan.Customer{a, b, c}, []*huiyan.Customer{b, c, d},
			[]op{{hub.OpDelete, a.ID}, {hub.OpUpsert, d.ID}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []op
			for r, err := range hub.Diff(seq(tt.old), seq(tt.cur)) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, op{r.Op, r.ID()})
				if r.Op == hub.OpUpsert && r.Customer == nil {
					t.Fatal("upsert without the customer")
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Diff = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDiff_Errors(t *testing.T) {
	g := newGen(3)
	a, b := g.customer(1, "B001"), g.customer(2, "B001")
	boom := errors.New("store read failed")
	failing := func(yield func(*huiyan.Customer, error) bool) {
		if yield(a, nil) {
			yield(nil, boom)
		}
	}
	for _, tt := range []struct {
		name     string
		old, cur iter.Seq2[*huiyan.Customer, error]
		want     error
	}{
		{"UnsortedNew", seq(nil), seq([]*huiyan.Customer{b, a}), hub.ErrUnsorted},
		{"UnsortedOld", seq([]*huiyan.Customer{b, a}), seq(nil), hub.ErrUnsorted},
		{"RepeatedNew", seq(nil), seq([]*huiyan.Customer{a, a}), hub.ErrUnsorted},
		{"NewFails", seq(nil), failing, boom},
		{"OldFails", failing, seq(nil), boom},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			for _, e := range hub.Diff(tt.old, tt.cur) {
				if e != nil {
					err = e
				}
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if strings.Contains(fmt.Sprint(err), a.ID) || strings.Contains(fmt.Sprint(err), b.ID) {
				t.Fatalf("err = %v names a customer id", err)
			}
		})
	}
	n := 0
	for _, e := range hub.Diff(seq(nil), seq([]*huiyan.Customer{a, nil})) {
		if e != nil {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("nil customer: %d errors, want 1", n)
	}
}

// TestDiff_Property compares Diff with a map-based reference on random
// pairs of versions: applying the records to the old set gives the new one,
// no record is redundant, the records are sorted by id.
func TestDiff_Property(t *testing.T) {
	const rounds = 200
	r := rand.New(rand.NewPCG(7, 8))
	g := newGen(9)
	for round := range rounds {
		n := r.IntN(60)
		var old []*huiyan.Customer
		for i := range n {
			if r.IntN(4) > 0 {
				old = append(old, g.customer(i, "B001"))
			}
		}
		// The new version: drop some, change some, keep some, add some.
		byID := map[string]*huiyan.Customer{}
		for _, c := range old {
			switch r.IntN(5) {
			case 0: // dropped
			case 1:
				byID[c.ID] = g.change(c)
			default:
				byID[c.ID] = clone(c)
			}
		}
		for i := range r.IntN(10) {
			c := g.customer(n+i, "B001")
			byID[c.ID] = c
		}
		cur := make([]*huiyan.Customer, 0, len(byID))
		for _, id := range slices.Sorted(maps.Keys(byID)) {
			cur = append(cur, byID[id])
		}

		// The reference: what must change, by id.
		want := map[string]hub.Op{}
		oldByID := map[string]*huiyan.Customer{}
		for _, c := range old {
			oldByID[c.ID] = c
			if _, ok := byID[c.ID]; !ok {
				want[c.ID] = hub.OpDelete
			}
		}
		for id, c := range byID {
			if o, ok := oldByID[id]; !ok || hub.CustomerHash(o) != hub.CustomerHash(c) {
				want[id] = hub.OpUpsert
			}
		}

		got := map[string]hub.Op{}
		applied := maps.Clone(oldByID)
		prev := ""
		for rec, err := range hub.Diff(seq(old), seq(cur)) {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			id := rec.ID()
			if id <= prev {
				t.Fatalf("round %d: records not sorted by id", round)
			}
			prev = id
			got[id] = rec.Op
			if rec.Op == hub.OpDelete {
				delete(applied, id)
			} else {
				applied[id] = rec.Customer
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("round %d: Diff = %v, want %v", round, got, want)
		}
		if len(applied) != len(byID) {
			t.Fatalf("round %d: %d customers after applying, want %d", round, len(applied), len(byID))
		}
		for id, c := range byID {
			if hub.CustomerHash(applied[id]) != hub.CustomerHash(c) {
				t.Fatalf("round %d: customer differs after applying", round)
			}
		}
	}
}

func TestDiffDigests_EarlyStop(t *testing.T) {
	cs := newGen(4).customers(100)
	n := 0
	for range hub.Diff(seq(nil), seq(cs)) {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatalf("n=%d, want 3", n)
	}
}

func TestPlanBranch(t *testing.T) {
	g := newGen(5)
	home := g.customer(1, "B001")
	cached := g.customer(2, "B002")
	cached.Branches = []string{"B009", "B001"}
	other := g.customer(3, "B002")
	other.Branches = []string{"B009"}
	var ids []string
	for c, err := range hub.PlanBranch(seq([]*huiyan.Customer{home, cached, other}), "B001") {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if want := []string{home.ID, cached.ID}; !slices.Equal(ids, want) {
		t.Fatalf("PlanBranch = %v, want %v", ids, want)
	}
	if !hub.BelongsTo(cached, "B009") || hub.BelongsTo(home, "B009") {
		t.Fatal("BelongsTo is wrong")
	}
}

func TestFullAndDeltaRecords(t *testing.T) {
	g := newGen(6)
	cs := g.customers(5)
	dict := huiyan.DefaultTagDict()
	full := collect(t, hub.FullRecords(dict, nil, seq(cs)))
	if len(full) != 7 || full[0].Op != hub.OpDict || full[1].Op != hub.OpStaff || full[1].Staff == nil || full[2].Op != hub.OpUpsert {
		t.Fatalf("FullRecords = %v", full)
	}
	if _, err := hub.BuildChunks(hub.FullRecords(nil, nil, seq(cs)), 0); err == nil {
		t.Fatal("a full snapshot without a dictionary built")
	}

	next := slices.Clone(cs)
	next[2] = g.change(cs[2])
	delta := collect(t, hub.DeltaRecords(nil, nil, hub.Digests(seq(cs)), seq(next)))
	if len(delta) != 1 || delta[0].Op != hub.OpUpsert || delta[0].ID() != cs[2].ID {
		t.Fatalf("DeltaRecords = %v", delta)
	}
	delta = collect(t, hub.DeltaRecords(dict, []huiyan.Staff{}, hub.Digests(seq(cs)), seq(next)))
	if len(delta) != 3 || delta[0].Op != hub.OpDict || delta[1].Op != hub.OpStaff || len(delta[1].Staff) != 0 {
		t.Fatalf("DeltaRecords with dict and empty roster = %v", delta)
	}
}

func TestStaffHash(t *testing.T) {
	s := testStaff(t)
	h := hub.StaffHash(s)
	if hub.StaffHash(slices.Clone(s)) != h {
		t.Fatal("a copy hashes differently")
	}
	rev := slices.Clone(s)
	slices.Reverse(rev)
	if hub.StaffHash(rev) != h {
		t.Fatal("order counts")
	}
	changed := slices.Clone(s)
	changed[1].Role = huiyan.RoleSupervisor
	if hub.StaffHash(changed) == h {
		t.Fatal("a role change not seen")
	}
	if hub.StaffHash(nil) != hub.StaffHash([]huiyan.Staff{}) || hub.StaffHash(nil) == h {
		t.Fatal("empty roster hash wrong")
	}
}

// BenchmarkDiff diffs two versions of a branch of 100,000 customers with
// 1 % changed (half updated, a quarter removed, a quarter new), and
// chunks the delta: the hub's work for an edge one version behind. It
// reports the delta's compressed bytes per changed customer.
func BenchmarkDiff(b *testing.B) {
	const n = 100_000
	g := newGen(1)
	old := g.customers(n)
	cur := make([]*huiyan.Customer, 0, n)
	changed := 0
	for i, c := range old {
		switch {
		case i%100 == 0: // 0.5 %: updated
			if i%200 == 0 {
				cur = append(cur, g.change(c))
				changed++
			} else { // 0.25 %: removed
				if i%400 == 100 {
					changed++
					continue
				}
				cur = append(cur, c)
			}
		default:
			cur = append(cur, c)
		}
	}
	for i := range n / 400 { // 0.25 %: new
		cur = append(cur, g.customer(n+i, "B001"))
		changed++
	}
	digests := make([]hub.CustomerDigest, len(old))
	for i, c := range old {
		digests[i] = hub.CustomerDigest{ID: c.ID, Hash: hub.CustomerHash(c)}
	}
	digestSeq := func(yield func(hub.CustomerDigest, error) bool) {
		for _, d := range digests {
			if !yield(d, nil) {
				return
			}
		}
	}

	b.Run("Customers", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			k := 0
			for _, err := range hub.Diff(seq(old), seq(cur)) {
				if err != nil {
					b.Fatal(err)
				}
				k++
			}
			if k != changed {
				b.Fatalf("%d records, want %d", k, changed)
			}
		}
		b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "customers/s")
	})
	b.Run("Digests", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			k := 0
			for _, err := range hub.DiffDigests(digestSeq, seq(cur)) {
				if err != nil {
					b.Fatal(err)
				}
				k++
			}
			if k != changed {
				b.Fatalf("%d records, want %d", k, changed)
			}
		}
		b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "customers/s")
	})
	b.Run("DigestsAndChunks", func(b *testing.B) {
		b.ReportAllocs()
		var chunks []hub.Chunk
		for range b.N {
			var err error
			chunks, err = hub.BuildChunks(hub.DeltaRecords(nil, nil, digestSeq, seq(cur)), 0)
			if err != nil {
				b.Fatal(err)
			}
		}
		var size int64
		for _, c := range chunks {
			size += c.Size
		}
		b.ReportMetric(float64(changed), "changed")
		b.ReportMetric(float64(size), "delta_bytes")
		b.ReportMetric(float64(size)/float64(changed), "B/changed")
	})
}

func BenchmarkCustomerHash(b *testing.B) {
	c := newGen(1).customer(1, "B001")
	b.ReportAllocs()
	for range b.N {
		hub.CustomerHash(c)
	}
}
