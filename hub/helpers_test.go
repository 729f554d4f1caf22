package hub_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub"
)

// cst is UTC+8, the zone of maturity dates.
var cst = time.FixedZone("CST", 8*3600)

// MustKey returns a deterministic ed25519 key for a label.
func MustKey(tb testing.TB, label string) ed25519.PrivateKey {
	tb.Helper()
	var seed [ed25519.SeedSize]byte
	copy(seed[:], label)
	return ed25519.NewKeyFromSeed(seed[:])
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// MustKeySet pins the public keys of privs.
func MustKeySet(tb testing.TB, privs ...ed25519.PrivateKey) hub.KeySet {
	tb.Helper()
	var pubs []ed25519.PublicKey
	for _, p := range privs {
		pubs = append(pubs, pub(p))
	}
	ks, err := hub.NewKeySet(pubs...)
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

// gen makes realistic synthetic customers: masked names, enums consistent
// with each other, tags of the shipped dictionary, random (incompressible)
// tokens, as huiyan-devsim gen would.
type gen struct {
	r       *rand.Rand
	tags    []int // branch and predictive tag ids
	version int   // bumped by change, so changed customers differ
}

func newGen(seed uint64) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for _, t := range huiyan.DefaultTagDict().Tags() {
		if t.Kind != huiyan.TagStatus {
			g.tags = append(g.tags, t.ID)
		}
	}
	return g
}

var (
	surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗欧")
	given    = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀华")
	products = []string{"td_1y", "ldcd_3y", "wm_closed_90d", "bond_savings_3y", "sd_6m", "ins_endowment"}
)

func (g *gen) token() string {
	var b [32]byte
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return hex.EncodeToString(b[:])
}

// customer returns customer i of branch home.
func (g *gen) customer(i int, home string) *huiyan.Customer {
	r := g.r
	name := string(surnames[r.IntN(len(surnames))]) + "*"
	if r.IntN(2) == 0 {
		name += string(given[r.IntN(len(given))])
	}
	c := &huiyan.Customer{
		ID:          fmt.Sprintf("C%09d", i),
		DisplayName: name,
		Tier:        huiyan.Tiers[r.IntN(len(huiyan.Tiers))],
		HomeBranch:  home,
		Risk:        huiyan.Risks[r.IntN(len(huiyan.Risks))],
		AUMBand:     huiyan.AUMBands[r.IntN(len(huiyan.AUMBands))].Code,
		Lifecycle:   huiyan.Lifecycles[r.IntN(len(huiyan.Lifecycles))],
		OptOut:      r.IntN(20) == 0,
		MBankStatus: huiyan.MBankStatuses[r.IntN(len(huiyan.MBankStatuses))],
	}
	if r.IntN(10) == 0 {
		c.Branches = []string{fmt.Sprintf("B%03d", 100+r.IntN(50))}
	}
	if r.IntN(3) == 0 {
		c.Manager = "account-" + home
	}
	switch c.MBankStatus {
	case huiyan.MBankNone, huiyan.MBankRegistered:
		c.MBankIdleDays = -1
	case huiyan.MBankDormant:
		c.MBankIdleDays = huiyan.DormantAfterDays + r.IntN(900)
	default:
		c.MBankIdleDays = r.IntN(huiyan.DormantAfterDays)
	}
	for range 3 + r.IntN(10) {
		c.Tags = append(c.Tags, g.tags[r.IntN(len(g.tags))])
	}
	c.Tags = append(c.Tags, huiyan.DefaultTagDict().ByCode(huiyan.StatusTagCode(c.MBankStatus)).ID)
	slices.Sort(c.Tags)
	c.Tags = slices.Compact(c.Tags)
	for range r.IntN(3) {
		d := time.Date(2026, time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, cst)
		c.Maturities = append(c.Maturities, huiyan.Maturity{Product: products[r.IntN(len(products))], Date: d})
	}
	slices.SortFunc(c.Maturities, func(a, b huiyan.Maturity) int { return a.Date.Compare(b.Date) })
	c.Tokens = append(c.Tokens, huiyan.Ident{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: g.token()})
	for range 1 + r.IntN(2) {
		c.Tokens = append(c.Tokens, huiyan.Ident{Kind: huiyan.IdentBankCard, KeyID: "k1", Token: g.token()})
	}
	if c.MBankStatus != huiyan.MBankNone {
		c.Tokens = append(c.Tokens, huiyan.Ident{Kind: huiyan.IdentMBank, KeyID: "k1", Token: g.token()})
	}
	if r.IntN(2) == 0 {
		c.Tokens = append(c.Tokens, huiyan.Ident{Kind: huiyan.IdentPhone, KeyID: "k1", Token: g.token()})
	}
	return c
}

// change returns a copy of c with one field changed, as a nightly snapshot
// changes a customer: tags, status, tier or lifecycle.
func (g *gen) change(c *huiyan.Customer) *huiyan.Customer {
	d := clone(c)
	switch g.r.IntN(4) {
	case 0:
		d.Tags = append(d.Tags, 9999+g.version) // a tag id no customer had
		g.version++
	case 1:
		d.Tier = huiyan.Tiers[(d.Tier.Rank()+1)%len(huiyan.Tiers)]
	case 2:
		d.Lifecycle = huiyan.Lifecycles[(slices.Index(huiyan.Lifecycles, d.Lifecycle)+1)%len(huiyan.Lifecycles)]
	default:
		d.OptOut = !d.OptOut
	}
	return d
}

// customers returns n customers of branch B001, sorted by id.
func (g *gen) customers(n int) []*huiyan.Customer {
	cs := make([]*huiyan.Customer, n)
	for i := range cs {
		cs[i] = g.customer(i, "B001")
	}
	return cs
}

func clone(c *huiyan.Customer) *huiyan.Customer {
	d := *c
	d.Branches = slices.Clone(c.Branches)
	d.Tags = slices.Clone(c.Tags)
	d.Maturities = slices.Clone(c.Maturities)
	d.Tokens = slices.Clone(c.Tokens)
	return &d
}

// seq turns a slice into the iterator the package takes.
func seq(cs []*huiyan.Customer) iter.Seq2[*huiyan.Customer, error] {
	return func(yield func(*huiyan.Customer, error) bool) {
		for _, c := range cs {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// recSeq turns records into the iterator BuildChunks takes.
func recSeq(rs []hub.Record) iter.Seq2[hub.Record, error] {
	return func(yield func(hub.Record, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// collect gathers the records of an iterator, stopping at an error.
func collect(tb testing.TB, rs iter.Seq2[hub.Record, error]) []hub.Record {
	tb.Helper()
	var out []hub.Record
	for r, err := range rs {
		if err != nil {
			tb.Fatalf("records: %v", err)
		}
		out = append(out, r)
	}
	return out
}

// testStaff is a small valid roster of branch B001.
func testStaff(tb testing.TB) []huiyan.Staff {
	h := testPINHash(tb)
	return []huiyan.Staff{
		{ID: "lobby-B001", Branch: "B001", Role: huiyan.RoleLobby, DisplayName: "大堂 王*", PINHash: h},
		{ID: "wealth-B001", Branch: "B001", Role: huiyan.RoleWealth, DisplayName: "理财 李*", PINHash: h},
		{ID: "account-B001", Branch: "B001", Role: huiyan.RoleAccount, DisplayName: "客户经理 张*", PINHash: h},
	}
}
