package huiyan

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Tier is a customer's service tier.
type Tier string

// Tiers, lowest first.
const (
	TierNormal   Tier = "normal"   // 普通
	TierGold     Tier = "gold"     // 金卡
	TierPlatinum Tier = "platinum" // 白金
	TierDiamond  Tier = "diamond"  // 钻石
	TierPrivate  Tier = "private"  // 私行
)

// Tiers lists every tier, lowest first.
var Tiers = []Tier{TierNormal, TierGold, TierPlatinum, TierDiamond, TierPrivate}

// Valid reports whether t is a known tier.
func (t Tier) Valid() bool { return t.Rank() >= 0 }

// Rank orders tiers: 0 for normal up to 4 for private banking, -1 if unknown.
func (t Tier) Rank() int {
	for i, x := range Tiers {
		if x == t {
			return i
		}
	}
	return -1
}

// VIP reports whether the tier is served by wealth managers (gold and up).
func (t Tier) VIP() bool { return t.Rank() >= TierGold.Rank() }

// NameZH is the tier's Chinese name as branch staff say it.
func (t Tier) NameZH() string {
	switch t {
	case TierNormal:
		return "普通"
	case TierGold:
		return "金卡"
	case TierPlatinum:
		return "白金"
	case TierDiamond:
		return "钻石"
	case TierPrivate:
		return "私行"
	}
	return ""
}

// MBankStatus is a customer's mobile-banking (掌银) status.
type MBankStatus string

// Mobile-banking statuses.
const (
	MBankNone       MBankStatus = "none"       // never registered
	MBankRegistered MBankStatus = "registered" // registered, never used
	MBankDormant    MBankStatus = "dormant"    // no login for DormantAfterDays or more
	MBankActive     MBankStatus = "active"
)

// DormantAfterDays is the idle time after which mobile banking counts as dormant.
const DormantAfterDays = 90

// MBankStatuses lists every mobile-banking status.
var MBankStatuses = []MBankStatus{MBankNone, MBankRegistered, MBankDormant, MBankActive}

// Valid reports whether s is a known status.
func (s MBankStatus) Valid() bool {
	switch s {
	case MBankNone, MBankRegistered, MBankDormant, MBankActive:
		return true
	}
	return false
}

// NeedsActivation reports whether a scan of the branch e-code would count as
// an activation (促活): registered but never used, or dormant.
func (s MBankStatus) NeedsActivation() bool {
	return s == MBankRegistered || s == MBankDormant
}

// Lifecycle is a customer's lifecycle stage.
type Lifecycle string

// Lifecycle stages.
const (
	LifecycleOnboarding Lifecycle = "onboarding" // 新手期
	LifecycleGrowth     Lifecycle = "growth"     // 成长期
	LifecycleMature     Lifecycle = "mature"     // 成熟期
	LifecycleChurning   Lifecycle = "churning"   // 流失期
	LifecycleDormant    Lifecycle = "dormant"    // 休眠期
)

// Lifecycles lists every lifecycle stage in order.
var Lifecycles = []Lifecycle{LifecycleOnboarding, LifecycleGrowth, LifecycleMature, LifecycleChurning, LifecycleDormant}

// Valid reports whether l is a known stage.
func (l Lifecycle) Valid() bool {
	for _, x := range Lifecycles {
		if x == l {
			return true
		}
	}
	return false
}

// Risk is a customer's assessed risk tolerance, R1 (conservative) to R5
// (aggressive); products may only be suggested at or below it.
type Risk string

// Risks lists every risk level in order.
var Risks = []Risk{"R1", "R2", "R3", "R4", "R5"}

// Valid reports whether r is R1 to R5.
func (r Risk) Valid() bool {
	return len(r) == 2 && r[0] == 'R' && r[1] >= '1' && r[1] <= '5'
}

// Maturity is a product the customer holds and the day it matures.
type Maturity struct {
	Product string    // product code, see Products
	Date    time.Time // the day, at midnight in the branch's time zone
}

// Customer is what the edge caches of one customer: pseudonymous id and
// masked name only, never an identity number or a full name.
type Customer struct {
	ID            string // HQ's opaque pseudonymous id, at most 32 characters
	DisplayName   string // masked, see MaskName
	Tier          Tier
	HomeBranch    string
	Branches      []string // other branches where the customer is cached
	Manager       string   // assigned account manager's staff id, may be empty
	Tags          []int    // tag ids from the TagDict, sorted
	MBankStatus   MBankStatus
	MBankIdleDays int // days since the last mobile-banking login; -1 if never
	Risk          Risk
	AUMBand       string // an AUMBand code
	Lifecycle     Lifecycle
	OptOut        bool // PIPL art. 24: service help only, no marketing
	Maturities    []Maturity
	// Tokens are the customer's identity tokens (aliases), all under the
	// data set's key id. They are pseudonymous: kept so that a new snapshot
	// can drop the aliases a customer no longer has.
	Tokens []Ident
}

// HasTag reports whether the customer carries the tag id.
func (c *Customer) HasTag(id int) bool {
	for _, t := range c.Tags {
		if t == id {
			return true
		}
	}
	return false
}

// MaskName masks a full name for display (DESIGN.md, "Data model"): the first
// character is kept, the last one too for names of three or more characters,
// every other character becomes '*': 林*华, 王*, 欧**峰. A one-character name
// becomes that character and one '*', so that no name is ever shown whole.
func MaskName(full string) string {
	r := []rune(strings.TrimSpace(full))
	switch n := len(r); {
	case n == 0:
		return ""
	case n <= 2:
		return string(r[0]) + "*"
	default:
		return string(r[0]) + strings.Repeat("*", n-2) + string(r[n-1])
	}
}

// IsMaskedName reports whether s has the shape MaskName produces, so that an
// importer can refuse a snapshot that carries full names by mistake.
func IsMaskedName(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	r := []rune(s)
	n := len(r)
	if n < 2 || r[0] == '*' {
		return false
	}
	if n == 2 {
		return r[1] == '*'
	}
	if r[n-1] == '*' {
		return false
	}
	for _, c := range r[1 : n-1] {
		if c != '*' {
			return false
		}
	}
	return true
}
