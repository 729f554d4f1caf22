package devsim

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"huiyan"
)

// The customer model. Every customer is drawn from two random streams of
// its own, seeded from (seed, index): the core stream, which decides
// everything about the person and depends on nothing else — so customer i is
// the same person whatever -customers, -branches or the reference date — and
// the place stream, which decides home branch, other cached branches and
// manager and so depends on the roster. Shares below are the targets; gen
// tests check them within a statistical tolerance.
//
//	tier          normal 80 %, gold 12 %, platinum 5 %, diamond 2.5 %, private 0.5 %
//	aum_band      implied by the tier (huiyan.AUMBands never straddle a tier
//	              threshold): normal 55 % aum_0_10k / 45 % aum_10k_50k; gold
//	              70 % aum_50k_200k / 30 % aum_200k_500k; platinum aum_500k_2m;
//	              diamond aum_2m_6m; private aum_6m_plus
//	mbank_status  none 20 %, registered 12 %, dormant 18 %, active 50 %
//	age           18–85 by status (none and dormant older, active younger);
//	              VIPs under 35 are moved up 20 years with probability 0.6
//	lifecycle     by mobile-banking status (rows sum to 100):
//	                         onboarding growth mature churning dormant
//	              active          10       32     48      10       0
//	              registered      35       20     15      10      20
//	              dormant          0        8     30      30      32
//	              none             8       15     35      15      27
//	              overall ≈ onboarding 11 %, growth 23 %, mature 38 %,
//	              churning 15 %, dormant 14 %; an active user is never in
//	              the dormant stage, a dormant user never onboarding
//	tenure        onboarding under 365 days; otherwise 1 year to (age − 18) years
//	idle days     active: 55 % 0–6, 30 % 7–29, 15 % 30–89 (churning: 30–89);
//	              dormant: 90 + exponential(mean 250), +180 in the dormant
//	              stage, capped at 2000 and at the tenure; registered and
//	              none: never logged in, written as an empty mbank_idle_days
//	risk          R1 8 %, R2 28 %, R3 42 %, R4 16 %, R5 6 %; 65 and older
//	              R1 25 %, R2 45 %, R3 25 %, R4 5 %
//	opt_out       8 %
//	manager       gold and up 70 %, normal 20 % (≈ 30 % overall): an
//	              account-role staff id of the home branch
//	home branch   branches differ in size (log-normal weights, σ 0.5)
//	branches      ≈ 10 % are also cached in 1 (70 %) or 2 (30 %) other
//	              branches: 80 % of those tagged multi_branch_visitor, 8.5 %
//	              of the rest
//	branch tags   3–15 per customer (mean ≈ 7; ≈ 1 % are cut at 15, those
//	              under 3 topped up with common tags such as local_resident),
//	              drawn by tagRules: each tag has a base prevalence scaled by
//	              age, tier, status, lifecycle and the tags drawn before it
//	              (car_loan needs car_owner, mortgage home_owner,
//	              mbank_customer an active or dormant status, retiree age 55+,
//	              equity_investor risk R3+ …). Most common: mbank_customer
//	              52 %, home_owner 22 %, local_resident 20 %, retiree 18 %,
//	              term_deposit_pref 17 %, car_owner 15 %, credit_card_holder
//	              15 %; rarest: family_trust_interest, student_loan, fraud_alert
//	              (0.2–0.3 %). deposit_maturing is set exactly when a deposit or
//	              CD matures within 30 days.
//	predictive    potential_vip ≈ 5 % of normal tier (2 % under ¥10k, 8.7 %
//	              ¥10k–50k), never a VIP; churn_risk_vip ≈ 10 % of VIPs
//	              (churning 35 %, dormant stage 15 %, others 4 %), never normal;
//	              the six others 1–6 %, by their own conditions
//	status tag    exactly the one matching mbank_status
//	maturities    gold and up 41 %, normal 21 % (≈ 25 % overall) hold 1 (70 %),
//	              2 (22 %) or 3 (8 %) products maturing 0–60 days after the
//	              reference date; wealth products only for risk R2 and up,
//	              large CDs only from ¥200k
//	cards         one debit card; a second card (a credit card, or a second
//	              debit card) for credit_card_holder or multi_debit_card

// tierWeights are the tier shares in basis points, in huiyan.Tiers order.
var tierWeights = []int{8000, 1200, 500, 250, 50}

// mbankWeights are the mobile-banking status shares in percent, in
// huiyan.MBankStatuses order (none, registered, dormant, active).
var mbankWeights = []int{20, 12, 18, 50}

// lifeWeights[status] are the lifecycle shares given the status, in
// huiyan.Lifecycles order.
var lifeWeights = [4][]int{
	{8, 15, 35, 15, 27},  // none
	{35, 20, 15, 10, 20}, // registered
	{0, 8, 30, 30, 32},   // dormant
	{10, 32, 48, 10, 0},  // active
}

// ageBuckets and ageWeights[status]: 18–24, 25–34, 35–44, 45–54, 55–64, 65–85.
var (
	ageBuckets = [][2]int{{18, 24}, {25, 34}, {35, 44}, {45, 54}, {55, 64}, {65, 85}}
	ageWeights = [4][]int{
		{5, 8, 12, 20, 25, 30},   // none
		{10, 22, 22, 20, 16, 10}, // registered
		{6, 18, 22, 22, 18, 14},  // dormant
		{12, 30, 26, 18, 10, 4},  // active
	}
	riskWeights       = []int{8, 28, 42, 16, 6}
	seniorRiskWeights = []int{25, 45, 25, 5, 0}
)

const (
	optOutShare        = 0.08
	managerShareVIP    = 0.70
	managerShareNormal = 0.20
	maturityShareVIP   = 0.41
	maturityShareNorm  = 0.21
	minBranchTags      = 3
	maxBranchTags      = 15
	maxMaturities      = 3
)

// customer is one generated customer, reused row after row by a worker.
type customer struct {
	index  int
	tier   huiyan.Tier
	rank   int // tier rank, 0 normal … 4 private
	band   int // index into huiyan.AUMBands
	status int // index into huiyan.MBankStatuses
	mbank  huiyan.MBankStatus
	idle   int // days since the last mobile-banking login, -1 never
	age    int
	male   bool
	life   int // index into huiyan.Lifecycles
	tenure int // days as a customer
	risk   int // 1 … 5
	optOut bool
	name   string // masked

	tags   tagSet
	drawn  [len(tagSet{}) * 64]int16 // positions of branch tags in the order they were drawn
	nDrawn int

	mats  [maxMaturities]maturity
	nMats int

	// place stream
	home    int
	others  [2]int
	nOthers int
	manager int // index among the home branch's account staff, -1 none

	ids Idents
}

type maturity struct {
	product int // index into huiyan.Products
	day     int // days after the reference date, 0 … MaturityWindowDays
}

func (c *customer) vip() bool             { return c.rank >= 1 }
func (c *customer) ageIn(lo, hi int) bool { return c.age >= lo && c.age <= hi }
func (c *customer) has(pos int) bool      { return c.tags.has(pos) }
func (c *customer) active() bool          { return c.mbank == huiyan.MBankActive }
func (c *customer) stage(l int) bool      { return c.life == l }

// tagSet is a set of tag positions (indexes into TagDict.Tags(), so in id
// order).
type tagSet [4]uint64

func (s *tagSet) has(pos int) bool { return s[pos>>6]&(1<<(pos&63)) != 0 }
func (s *tagSet) add(pos int)      { s[pos>>6] |= 1 << (pos & 63) }
func (s *tagSet) del(pos int)      { s[pos>>6] &^= 1 << (pos & 63) }

// Lifecycle indexes into huiyan.Lifecycles.
const (
	lcOnboarding = iota
	lcGrowth
	lcMature
	lcChurning
	lcDormant
)

// tagRule gives the probability that a customer carries a tag, from what
// was drawn before it; 0 means never.
type tagRule struct {
	pos   int
	p     func(c *customer) float64
	exact bool // p is the share itself, not scaled by tagScale
}

// tagScale scales the branch-tag rules' probabilities (all but the exact
// ones) so that a customer carries about 7 branch tags: the rules state
// relative prevalence and correlations, the scale sets the density.
const tagScale = 0.5

// model is what the generator derives from the tag dictionary once.
type model struct {
	dict      *huiyan.TagDict
	codes     []string // tag code by position
	rules     []tagRule
	predict   []tagRule
	filler    []int
	statusPos [4]int
	depMat    int // deposit_maturing
	credit    int // credit_card_holder
	multiCard int // multi_debit_card
	multiBr   int // multi_branch_visitor
	bandLDCD  int // lowest band that may hold a large CD
	// maturity product choice
	wealthEnth, largeCD, bondPref, lifeIns int
}

var defaultModel = sync.OnceValues(func() (*model, error) { return newModel(huiyan.DefaultTagDict()) })

func newModel(d *huiyan.TagDict) (*model, error) {
	m := &model{dict: d}
	tags := d.Tags()
	if len(tags) > len(tagSet{})*64 {
		return nil, fmt.Errorf("devsim: %d tags do not fit a tag set", len(tags))
	}
	pos := make(map[string]int, len(tags))
	for i, t := range tags {
		m.codes = append(m.codes, t.Code)
		pos[t.Code] = i
	}
	var missing []string
	at := func(code string) int {
		p, ok := pos[code]
		if !ok {
			missing = append(missing, code)
		}
		return p
	}
	for i, s := range huiyan.MBankStatuses {
		m.statusPos[i] = at(huiyan.StatusTagCode(s))
	}
	m.depMat = at("deposit_maturing")
	m.rules, m.predict = tagRules(at)
	m.credit, m.multiCard, m.multiBr = at("credit_card_holder"), at("multi_debit_card"), at("multi_branch_visitor")
	m.wealthEnth, m.largeCD, m.bondPref, m.lifeIns = at("wealth_enthusiast"), at("large_cd_holder"), at("savings_bond_pref"), at("life_insurance")
	for _, code := range []string{"local_resident", "supermarket_regular", "sms_alert", "social_security_card", "wallet_linked", "self_service_user", "branch_preference"} {
		m.filler = append(m.filler, at(code))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("devsim: tag dictionary lacks %q", missing)
	}
	// Every branch tag has exactly one rule (deposit_maturing is derived).
	seen := map[int]bool{m.depMat: true}
	for _, r := range m.rules {
		if seen[r.pos] || tags[r.pos].Kind != huiyan.TagBranch {
			return nil, fmt.Errorf("devsim: rule for %q is duplicate or not a branch tag", tags[r.pos].Code)
		}
		seen[r.pos] = true
	}
	for _, t := range tags {
		if t.Kind == huiyan.TagBranch && !seen[pos[t.Code]] {
			return nil, fmt.Errorf("devsim: branch tag %q has no rule", t.Code)
		}
	}
	m.bandLDCD = bandIndex("aum_200k_500k")
	return m, nil
}

func bandIndex(code string) int {
	for i, b := range huiyan.AUMBands {
		if b.Code == code {
			return i
		}
	}
	panic("devsim: no AUM band " + code)
}

// pick draws an index with the given integer weights.
func pick(r *rand.Rand, w []int) int {
	total := 0
	for _, x := range w {
		total += x
	}
	x := r.IntN(total)
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w) - 1
}

// person fills c, whose index is set, from its core stream r: everything
// but branches and manager.
func (m *model) person(r *rand.Rand, c *customer, k *seedKeys) {
	c.rank = pick(r, tierWeights)
	c.tier = huiyan.Tiers[c.rank]
	switch c.tier {
	case huiyan.TierNormal:
		c.band = bandIndex2(r, 0, 55, 1, 45)
	case huiyan.TierGold:
		c.band = bandIndex2(r, 2, 70, 3, 30)
	case huiyan.TierPlatinum:
		c.band = 4
	case huiyan.TierDiamond:
		c.band = 5
	default:
		c.band = 6
	}

	c.status = pick(r, mbankWeights)
	c.mbank = huiyan.MBankStatuses[c.status]
	b := pick(r, ageWeights[c.status])
	if c.vip() && b < 2 && r.Float64() < 0.6 {
		b += 2
	}
	c.age = ageBuckets[b][0] + r.IntN(ageBuckets[b][1]-ageBuckets[b][0]+1)
	c.male = r.IntN(2) == 0
	c.life = pick(r, lifeWeights[c.status])
	if c.life == lcOnboarding {
		c.tenure = r.IntN(365)
	} else {
		c.tenure = 365 + r.IntN(max(1, c.age-19)*365+1)
	}

	switch c.mbank {
	case huiyan.MBankActive:
		switch x := r.Float64(); {
		case c.life == lcChurning:
			c.idle = 30 + r.IntN(60)
		case x < 0.55:
			c.idle = r.IntN(7)
		case x < 0.85:
			c.idle = 7 + r.IntN(23)
		default:
			c.idle = 30 + r.IntN(60)
		}
	case huiyan.MBankDormant:
		c.idle = huiyan.DormantAfterDays + int(r.ExpFloat64()*250)
		if c.life == lcDormant {
			c.idle += 180
		}
		c.idle = min(c.idle, 2000)
	default:
		c.idle = -1
	}
	// Nobody logged in before they were a customer. Dormant users are never
	// onboarding, so their tenure (365+ days) keeps them at 90 days or more.
	c.idle = min(c.idle, c.tenure)

	if c.age >= 65 {
		c.risk = 1 + pick(r, seniorRiskWeights)
	} else {
		c.risk = 1 + pick(r, riskWeights)
	}
	c.optOut = r.Float64() < optOutShare
	c.name = huiyan.MaskName(fullName(r, c.male, c.age))

	m.drawTags(r, c)
	m.drawMaturities(r, c)
	m.idents(r, c, k)
}

func bandIndex2(r *rand.Rand, a, wa, b, wb int) int {
	if r.IntN(wa+wb) < wa {
		return a
	}
	return b
}

func (m *model) drawTags(r *rand.Rand, c *customer) {
	c.tags = tagSet{}
	c.nDrawn = 0
	for _, rule := range m.rules {
		p := rule.p(c)
		if !rule.exact {
			p *= tagScale
		}
		if p > 0 && r.Float64() < p {
			c.tags.add(rule.pos)
			c.drawn[c.nDrawn] = int16(rule.pos)
			c.nDrawn++
		}
	}
	// At least minBranchTags: add common tags that need no condition.
	for tries := 0; c.nDrawn < minBranchTags && tries < 32; tries++ {
		p := m.filler[r.IntN(len(m.filler))]
		if !c.tags.has(p) {
			c.tags.add(p)
			c.drawn[c.nDrawn] = int16(p)
			c.nDrawn++
		}
	}
	// At most maxBranchTags: drop the last drawn. Rules come after the
	// rules they depend on, so this never leaves a tag without its premise.
	for c.nDrawn > maxBranchTags {
		c.nDrawn--
		c.tags.del(int(c.drawn[c.nDrawn]))
	}
	for _, rule := range m.predict {
		if p := rule.p(c); p > 0 && r.Float64() < p {
			c.tags.add(rule.pos)
		}
	}
	c.tags.add(m.statusPos[c.status])
}

func (m *model) drawMaturities(r *rand.Rand, c *customer) {
	c.nMats = 0
	share := maturityShareNorm
	if c.vip() {
		share = maturityShareVIP
	}
	if r.Float64() >= share {
		return
	}
	n := 1
	switch x := r.Float64(); {
	case x < 0.08:
		n = 3
	case x < 0.30:
		n = 2
	}
	var w [32]float64
	total := 0.0
	for i, p := range huiyan.Products {
		w[i] = m.productWeight(c, i, p)
		total += w[i]
	}
	for c.nMats < n && total > 0 {
		x := r.Float64() * total
		i := 0
		for ; i < len(huiyan.Products)-1; i++ {
			if x < w[i] {
				break
			}
			x -= w[i]
		}
		if w[i] == 0 {
			break
		}
		total -= w[i]
		w[i] = 0
		c.mats[c.nMats] = maturity{product: i, day: r.IntN(MaturityWindowDays + 1)}
		c.nMats++
	}
	// Sort by day, then product: at most three entries.
	for i := 1; i < c.nMats; i++ {
		for j := i; j > 0 && less(c.mats[j], c.mats[j-1]); j-- {
			c.mats[j], c.mats[j-1] = c.mats[j-1], c.mats[j]
		}
	}
	for _, mt := range c.mats[:c.nMats] {
		k := huiyan.Products[mt.product].Kind
		if mt.day <= 30 && (k == huiyan.ProductTermDeposit || k == huiyan.ProductLargeCD) {
			c.tags.add(m.depMat)
			if c.nDrawn == maxBranchTags {
				c.nDrawn--
				c.tags.del(int(c.drawn[c.nDrawn]))
			}
			c.drawn[c.nDrawn] = int16(m.depMat)
			c.nDrawn++
			break
		}
	}
}

func less(a, b maturity) bool {
	return a.day < b.day || a.day == b.day && a.product < b.product
}

// productWeight is how likely the customer holds product p, relative to
// the others.
func (m *model) productWeight(c *customer, i int, p huiyan.Product) float64 {
	if int(p.Risk[1]-'0') > c.risk {
		return 0
	}
	w := 0.0
	switch p.Code {
	case "td_3m":
		w = 6
	case "td_6m":
		w = 8
	case "td_1y":
		w = 14
	case "td_2y":
		w = 5
	case "td_3y":
		w = 10
	case "td_5y":
		w = 4
	case "ldcd_1y", "ldcd_3y":
		if c.band < m.bandLDCD {
			return 0
		}
		w = 5
		if c.has(m.largeCD) {
			w *= 3
		}
	case "wm_min_hold_30d", "wm_closed_90d", "wm_closed_180d", "wm_closed_1y":
		w = 5
		if c.has(m.wealthEnth) {
			w *= 2.5
		}
		if c.band == 0 {
			w *= 0.3
		}
	case "wm_pension_5y":
		w = 1
		if c.age >= 45 {
			w = 3
		}
	case "sd_3m", "sd_6m":
		w = 3
		if !c.vip() {
			w = 1
		}
	case "bond_savings_3y", "bond_savings_5y":
		w = 2.5
		if c.age >= 50 {
			w *= 2.5
		}
		if c.has(m.bondPref) {
			w *= 4
		}
	case "ins_endowment":
		w = 2
		if c.has(m.lifeIns) {
			w *= 4
		}
	default:
		w = 1
	}
	return w
}

// tagRules returns the branch-tag rules, in draw order (a rule comes after
// every tag it looks at), and the predictive-tag rules.
func tagRules(at func(string) int) (branch, predictive []tagRule) {
	var (
		homeOwner, carOwner, credit = at("home_owner"), at("car_owner"), at("credit_card_holder")
		payroll, retiree            = at("payroll"), at("retiree")
		wealthEnth, soleProp, smb   = at("wealth_enthusiast"), at("sole_proprietor"), at("small_business_owner")
		mortgage, carLoan           = at("mortgage"), at("car_loan")
		consumer, quickLoan         = at("consumer_loan"), at("online_quick_loan")
		ccHeavy, outbound           = at("credit_card_heavy"), at("outbound_traveller")
		college, childEdu           = at("college_student"), at("child_education")
		newlywed, newCitizen        = at("newlywed"), at("new_citizen")
		huinongCard, agriOp         = at("huinong_card"), at("agri_operator")
		goodCredit, fundHolder      = at("good_credit"), at("fund_holder")
		precious, termPref          = at("precious_metal_pref"), at("term_deposit_pref")
		multiProp, multiProduct     = at("multi_property"), at("multi_product")
		cashMgmt, largeOut          = at("cash_mgmt_wm"), at("large_transfer_out")
		idleHigh, personalPension   = at("idle_demand_high"), at("personal_pension")
		homeImprove, studyAbroad    = at("home_improvement"), at("study_abroad_family")
		youngPro                    = at("young_professional")
	)
	vipx := func(c *customer, f float64) float64 {
		if c.vip() {
			return f
		}
		return 1
	}
	when := func(ok bool, p float64) float64 {
		if ok {
			return p
		}
		return 0
	}
	either := func(ok bool, yes, no float64) float64 {
		if ok {
			return yes
		}
		return no
	}
	rule := func(code string, p func(c *customer) float64) tagRule { return tagRule{at(code), p, false} }
	exact := func(code string, p func(c *customer) float64) tagRule { return tagRule{at(code), p, true} }

	branch = []tagRule{
		// Risk and compliance first: trimming to 15 tags never drops them.
		exact("risk_assessment_expired", func(c *customer) float64 { return .08 * vipx(c, .6) }),
		exact("risk_assessment_due", func(c *customer) float64 { return .05 }),
		exact("kyc_incomplete", func(c *customer) float64 { return .04 * either(c.stage(lcDormant), 3, 1) }),
		exact("id_expiring", func(c *customer) float64 { return either(c.ageIn(26, 45), .05, .02) }),
		exact("account_restricted", func(c *customer) float64 { return .006 * either(c.stage(lcDormant), 3, 1) }),
		exact("fraud_alert", func(c *customer) float64 { return .003 }),

		// Anchors: assets, life stage, relationships other tags look at.
		rule("home_owner", func(c *customer) float64 {
			return .45 * vipx(c, 1.6) * either(c.age < 25, .2, either(c.age < 35, .7, 1))
		}),
		rule("car_owner", func(c *customer) float64 {
			return .30 * vipx(c, 1.8) * either(c.age < 23, .1, either(c.age >= 70, .3, 1))
		}),
		rule("credit_card_holder", func(c *customer) float64 {
			return .30 * vipx(c, 1.5) * either(c.age < 20, .1, either(c.age >= 70, .3, 1))
		}),
		rule("payroll", func(c *customer) float64 { return either(c.ageIn(22, 59), .30, .02) }),
		exact("retiree", func(c *customer) float64 {
			return either(c.age >= 60, .85, when(c.ageIn(55, 59), .25))
		}),
		exact("silver_customer", func(c *customer) float64 { return when(c.age >= 65, .9) }),
		rule("wealth_enthusiast", func(c *customer) float64 {
			return .08 * vipx(c, 4) * either(c.risk >= 3, 1.3, 1)
		}),
		exact("mbank_customer", func(c *customer) float64 {
			return either(c.active(), .85, when(c.mbank == huiyan.MBankDormant, .55))
		}),
		rule("sole_proprietor", func(c *customer) float64 { return when(c.ageIn(22, 70), .05*vipx(c, 2)) }),
		rule("small_business_owner", func(c *customer) float64 { return when(c.ageIn(28, 65), .025*vipx(c, 3)) }),
		rule("huinong_card", func(c *customer) float64 { return when(c.age >= 30, .05) }),
		rule("agri_operator", func(c *customer) float64 { return when(c.ageIn(25, 65), either(c.has(huinongCard), .12, .005)) }),
		rule("outbound_traveller", func(c *customer) float64 { return .04 * vipx(c, 3) * either(c.age >= 75, .2, 1) }),
		rule("new_citizen", func(c *customer) float64 { return when(c.ageIn(20, 45), .10) }),
		rule("college_student", func(c *customer) float64 { return when(c.ageIn(18, 23), .45) }),
		rule("young_professional", func(c *customer) float64 { return when(c.ageIn(22, 30) && !c.has(college), .5) }),
		rule("newlywed", func(c *customer) float64 { return when(c.ageIn(24, 34), .12) }),
		rule("child_education", func(c *customer) float64 { return when(c.ageIn(32, 52), .45) }),

		// Housing and cars.
		rule("mortgage", func(c *customer) float64 { return when(c.has(homeOwner) && c.age < 65, .40) }),
		rule("mortgage_paid_off", func(c *customer) float64 {
			return when(c.has(homeOwner) && !c.has(mortgage), .15*either(c.age >= 40, 1.5, 1))
		}),
		rule("multi_property", func(c *customer) float64 { return when(c.has(homeOwner), .08*vipx(c, 3)) }),
		rule("provident_fund_loan", func(c *customer) float64 { return when(c.has(mortgage), .30) }),
		rule("renovation_loan", func(c *customer) float64 { return when(c.has(homeOwner) && c.age < 60, .03) }),
		rule("home_improvement", func(c *customer) float64 { return when(c.has(homeOwner), either(c.has(newlywed), .25, .05)) }),
		rule("property_fee_payment", func(c *customer) float64 { return when(c.has(homeOwner), .15) }),
		rule("car_loan", func(c *customer) float64 { return when(c.has(carOwner) && c.age < 65, .18) }),
		rule("ev_owner", func(c *customer) float64 { return when(c.has(carOwner), .15*either(c.age < 45, 1.5, 1)) }),
		rule("etc_user", func(c *customer) float64 { return when(c.has(carOwner), .45) }),
		rule("fuel_spender", func(c *customer) float64 { return when(c.has(carOwner), .35) }),
		rule("property_insurance", func(c *customer) float64 { return either(c.has(carOwner), .20, .02) }),

		// Cards.
		rule("credit_card_heavy", func(c *customer) float64 { return when(c.has(credit), .30) }),
		rule("card_instalment", func(c *customer) float64 { return when(c.has(credit), .18) }),
		rule("credit_card_high_limit", func(c *customer) float64 { return when(c.has(credit), .10*vipx(c, 3)) }),
		rule("credit_card_dormant", func(c *customer) float64 { return when(c.has(credit) && !c.has(ccHeavy), .15) }),
		rule("co_branded_card", func(c *customer) float64 { return when(c.has(credit), .08) }),
		rule("overseas_card_use", func(c *customer) float64 { return either(c.has(outbound), .5, .005) }),
		rule("multi_debit_card", func(c *customer) float64 { return .08 }),
		rule("social_security_card", func(c *customer) float64 { return .25 * either(c.age >= 55, 1.5, 1) }),
		rule("quick_pay_linked", func(c *customer) float64 { return .30 * either(c.age >= 60, .3, 1) }),
		rule("card_expiring", func(c *customer) float64 { return .03 }),

		// Payment habits.
		rule("high_income_payroll", func(c *customer) float64 { return when(c.has(payroll), .12*vipx(c, 3)) }),
		rule("tax_payment", func(c *customer) float64 { return either(c.has(payroll), .35, .04) }),
		rule("bill_pay_regular", func(c *customer) float64 { return .12 * either(c.active(), 1.8, 1) }),
		rule("utility_autopay", func(c *customer) float64 { return .10 * either(c.has(homeOwner), 1.5, 1) }),
		rule("mobile_pay_heavy", func(c *customer) float64 { return either(c.age < 50, .22, .07) * either(c.active(), 1.3, .6) }),
		rule("wallet_linked", func(c *customer) float64 { return either(c.age < 60, .35, .12) }),
		rule("large_transfer_out", func(c *customer) float64 {
			return .03 * vipx(c, 2) * either(c.stage(lcChurning), 4, 1)
		}),
		rule("interbank_transfer", func(c *customer) float64 { return .08 * either(c.stage(lcChurning), 2, 1) }),
		rule("campus_payment", func(c *customer) float64 {
			return either(c.has(childEdu), .35, when(c.has(college), .3))
		}),
		rule("medical_payment", func(c *customer) float64 { return .06 * either(c.age >= 60, 2, 1) }),
		rule("remittance_receiver", func(c *customer) float64 { return .03 }),
		rule("subsidy_recipient", func(c *customer) float64 { return either(c.has(huinongCard), .5, .01) }),
		rule("rent_payment", func(c *customer) float64 {
			return .03 * either(c.has(newCitizen), 4, 1) * either(c.has(multiProp), 5, 1)
		}),
		rule("consumption_active", func(c *customer) float64 {
			return .15 * either(c.has(ccHeavy), 3, 1) * either(c.stage(lcDormant), .1, 1)
		}),

		// Pension and the later life stages.
		exact("pension_payout", func(c *customer) float64 { return when(c.has(retiree), .8) }),
		rule("enterprise_annuity", func(c *customer) float64 {
			return either(c.has(payroll) && c.age >= 30, .08, when(c.has(retiree), .06))
		}),
		rule("personal_pension", func(c *customer) float64 {
			return when(c.ageIn(20, 59), .05*either(c.has(payroll), 1.6, 1)*vipx(c, 1.8))
		}),
		rule("pension_wm", func(c *customer) float64 { return when(c.age >= 45 && c.risk >= 2, .05*vipx(c, 2)) }),
		rule("pre_retirement", func(c *customer) float64 {
			return when(!c.has(retiree), either(c.ageIn(55, 59), .8, when(c.ageIn(50, 54), .15)))
		}),
		exact("elderly_fraud_care", func(c *customer) float64 { return when(c.age >= 65, .3) }),

		// Other life stages and demographics.
		rule("student_loan", func(c *customer) float64 { return either(c.has(college), .08, when(c.ageIn(23, 28), .02)) }),
		rule("new_parents", func(c *customer) float64 { return when(c.ageIn(25, 40), .08*either(c.has(newlywed), 3, 1)) }),
		rule("study_abroad_family", func(c *customer) float64 { return when(c.has(childEdu), .03*vipx(c, 4)) }),
		rule("middle_aged_family", func(c *customer) float64 { return when(c.ageIn(40, 55), .35) }),
		rule("education_savings", func(c *customer) float64 { return when(c.has(childEdu), .08) }),
		rule("education_spending", func(c *customer) float64 {
			return either(c.has(childEdu), .25, when(c.has(youngPro), .08))
		}),
		rule("public_servant", func(c *customer) float64 { return when(c.ageIn(23, 60), .04) }),
		rule("teacher_medic", func(c *customer) float64 { return when(c.ageIn(23, 60), .05) }),
		rule("veteran", func(c *customer) float64 { return when(c.age >= 25, either(c.male, .03, .002)) }),
		rule("high_income_professional", func(c *customer) float64 { return when(c.ageIn(28, 55), .03*vipx(c, 4)) }),
		rule("corporate_executive", func(c *customer) float64 { return when(c.ageIn(30, 62), .012*vipx(c, 6)) }),
		exact("new_customer", func(c *customer) float64 { return when(c.tenure < 90, .9) }),
		rule("long_tenure", func(c *customer) float64 { return when(c.tenure >= 3650, .7) }),
		rule("local_resident", func(c *customer) float64 { return either(c.has(newCitizen), .1, .40) }),

		// Credit.
		rule("consumer_loan", func(c *customer) float64 { return when(c.ageIn(22, 55), .06) }),
		rule("online_quick_loan", func(c *customer) float64 { return when(c.ageIn(22, 55), .06*either(c.has(payroll), 2, 1)) }),
		rule("business_loan", func(c *customer) float64 { return either(c.has(soleProp) || c.has(smb), .35, .003) }),
		rule("huinong_eloan", func(c *customer) float64 {
			return when(c.has(huinongCard) || c.has(agriOp), .3)
		}),
		rule("good_credit", func(c *customer) float64 { return .18 }),
		rule("pre_approved_credit", func(c *customer) float64 {
			return when(c.ageIn(22, 60), .06*either(c.has(payroll), 2, 1)*either(c.has(goodCredit), 1.5, 1))
		}),
		rule("early_repayer", func(c *customer) float64 {
			return when(c.has(mortgage) || c.has(carLoan) || c.has(consumer), .10)
		}),
		rule("loan_maturing", func(c *customer) float64 {
			return when(c.has(mortgage) || c.has(carLoan) || c.has(consumer) || c.has(quickLoan), .08)
		}),
		rule("multi_lender", func(c *customer) float64 {
			return .01 * either(c.has(consumer) || c.has(quickLoan), 5, 1)
		}),

		// Business.
		rule("acquiring_merchant", func(c *customer) float64 { return when(c.has(soleProp) || c.has(smb), .4) }),

		// Wealth and investment.
		rule("fund_holder", func(c *customer) float64 {
			return .08 * either(c.has(wealthEnth), 3, 1) * [...]float64{0, .2, 1, 1.5, 1.5, 1.5}[c.risk]
		}),
		rule("fund_sip", func(c *customer) float64 {
			return when(c.risk >= 2, .06*either(c.ageIn(25, 50), 1.3, 1)*either(c.has(fundHolder), 2, 1))
		}),
		rule("precious_metal_pref", func(c *customer) float64 { return .04 * either(c.age >= 40, 1.4, 1) * vipx(c, 1.5) }),
		rule("gold_accumulation", func(c *customer) float64 { return either(c.has(precious), .4, .01) }),
		rule("bond_investor", func(c *customer) float64 { return .03 * vipx(c, 2) }),
		rule("savings_bond_pref", func(c *customer) float64 { return .04 * either(c.age >= 50, 2.5, 1) }),
		rule("stable_return_pref", func(c *customer) float64 { return .10 * either(c.risk <= 2, 1.8, 1) }),
		rule("equity_investor", func(c *customer) float64 { return either(c.risk >= 4, .35, when(c.risk == 3, .05)) }),
		rule("fx_customer", func(c *customer) float64 { return .015 * either(c.has(outbound), 5, 1) }),
		rule("securities_linked", func(c *customer) float64 { return when(c.risk >= 2, .04*either(c.risk >= 3, 2.5, 1)) }),
		rule("wm_high_frequency", func(c *customer) float64 { return when(c.has(wealthEnth), .2) }),
		rule("wm_large_purchase", func(c *customer) float64 {
			return when(c.vip(), either(c.has(wealthEnth), .35, .05))
		}),
		rule("diversified_allocation", func(c *customer) float64 { return when(c.vip(), .2) }),
		rule("trust_product_holder", func(c *customer) float64 { return either(c.rank >= 3, .3, when(c.rank == 2, .05)) }),
		rule("family_trust_interest", func(c *customer) float64 { return either(c.rank == 4, .25, when(c.rank == 3, .08)) }),
		rule("cash_mgmt_wm", func(c *customer) float64 { return when(c.risk >= 2, .10*either(c.has(wealthEnth), 2, 1)) }),
		rule("nav_wm_holder", func(c *customer) float64 { return when(c.risk >= 2, .06*either(c.has(wealthEnth), 3, 1)) }),
		rule("structured_deposit_holder", func(c *customer) float64 { return .04 * vipx(c, 2.5) }),
		rule("wm_first_purchase", func(c *customer) float64 { return when(!c.has(wealthEnth) && c.risk >= 2, .02) }),
		rule("wm_redeemed_recently", func(c *customer) float64 {
			return either(c.has(wealthEnth), .08, .01) * either(c.stage(lcChurning), 3, 1)
		}),
		rule("loss_sensitive", func(c *customer) float64 { return when(c.risk <= 2, .05*either(c.has(fundHolder), 2, 1)) }),

		// Deposits.
		rule("term_deposit_pref", func(c *customer) float64 {
			return .25 * either(c.age >= 50, 1.6, 1) * either(c.risk <= 2, 1.3, 1)
		}),
		rule("large_cd_holder", func(c *customer) float64 { return when(c.band >= 3, .35) }),
		rule("idle_demand_high", func(c *customer) float64 { return .05 * vipx(c, 2) }),
		rule("deposit_growth", func(c *customer) float64 {
			switch c.life {
			case lcGrowth:
				return .3
			case lcOnboarding:
				return .2
			case lcMature:
				return .08
			}
			return 0
		}),
		rule("deposit_decline", func(c *customer) float64 {
			return either(c.stage(lcChurning), .6, either(c.stage(lcDormant), .1, .02))
		}),
		rule("notice_deposit", func(c *customer) float64 { return when(c.vip(), .05) }),
		rule("smart_deposit", func(c *customer) float64 { return .04 }),
		rule("lump_sum_saver", func(c *customer) float64 { return either(c.has(termPref), .5, .05) }),
		rule("installment_saver", func(c *customer) float64 { return .03 * either(c.age < 30, 2, 1) }),
		rule("new_deposit", func(c *customer) float64 {
			return either(c.stage(lcOnboarding), .4, either(c.stage(lcGrowth), .15, .03))
		}),
		rule("auto_rollover", func(c *customer) float64 { return either(c.has(termPref), .4, .05) }),

		// Insurance.
		rule("life_insurance", func(c *customer) float64 { return .05 * either(c.ageIn(30, 60), 1.5, 1) * vipx(c, 2) }),
		rule("health_insurance", func(c *customer) float64 { return .05 }),
		rule("bancassurance_large", func(c *customer) float64 { return when(c.vip() && c.age >= 40, .12) }),

		// Lifestyle.
		rule("business_traveller", func(c *customer) float64 { return when(c.ageIn(25, 60), .05*vipx(c, 2.5)) }),
		rule("luxury_consumer", func(c *customer) float64 { return either(c.vip(), .12, .005) }),
		rule("pet_household", func(c *customer) float64 { return when(c.ageIn(22, 50), .05) }),
		rule("health_wellness", func(c *customer) float64 { return .05 * either(c.age >= 50, 1.8, 1) }),
		rule("online_shopper", func(c *customer) float64 { return .18 * either(c.age < 45, 1.5, either(c.age >= 60, .2, 1)) }),
		rule("dining_entertainment", func(c *customer) float64 { return .12 * either(c.age < 40, 1.5, 1) }),
		rule("supermarket_regular", func(c *customer) float64 { return .18 }),
		rule("culture_tourism", func(c *customer) float64 { return .05 }),

		// Channel use.
		rule("branch_preference", func(c *customer) float64 { return .15 * either(c.age >= 55, 2, 1) }),
		rule("counter_dependent", func(c *customer) float64 {
			p := either(c.age >= 60, .45, either(c.mbank == huiyan.MBankNone, .25, .04))
			return p * either(c.active(), .2, 1)
		}),
		rule("super_counter_user", func(c *customer) float64 { return .10 }),
		rule("self_service_user", func(c *customer) float64 { return .12 }),
		rule("internet_banking", func(c *customer) float64 { return .05 * either(c.ageIn(30, 55), 1.5, 1) }),
		rule("wechat_banking", func(c *customer) float64 { return .10 }),
		rule("wecom_contact", func(c *customer) float64 { return .08 * vipx(c, 3) }),
		rule("phone_banking", func(c *customer) float64 { return .03 }),
		rule("mbank_wealth_user", func(c *customer) float64 {
			return when(c.active(), either(c.has(wealthEnth) || c.has(fundHolder) || c.has(cashMgmt), .5, .05))
		}),
		rule("mbank_heavy_login", func(c *customer) float64 { return when(c.active() && c.idle <= 7, .35) }),
		rule("ecode_scanned", func(c *customer) float64 {
			return either(c.active(), .12, when(c.mbank == huiyan.MBankDormant, .05))
		}),
		rule("remote_video_user", func(c *customer) float64 { return .02 * either(c.age >= 60, 2, 1) }),
		rule("multi_branch_visitor", func(c *customer) float64 { return .04 }),

		// Products and services held.
		rule("multi_product", func(c *customer) float64 {
			return either(c.vip(), .35, .06) * either(c.stage(lcMature), 1.5, 1)
		}),
		rule("single_product", func(c *customer) float64 {
			return when(!c.has(multiProduct), .15*either(c.stage(lcOnboarding) || c.stage(lcDormant), 2, 1))
		}),
		rule("sms_alert", func(c *customer) float64 { return .35 }),
		rule("kbao_holder", func(c *customer) float64 { return when(c.age >= 30, .06*either(c.has(soleProp), 4, 1)) }),
		rule("points_member", func(c *customer) float64 { return .12 * either(c.has(credit), 2, 1) }),
		rule("benefits_member", func(c *customer) float64 { return either(c.vip(), .35, .03) }),
		rule("family_account", func(c *customer) float64 { return .04 * either(c.age >= 55, 2, 1) }),
	}

	predictive = []tagRule{
		rule(huiyan.TagPotentialVIP, func(c *customer) float64 {
			return when(c.rank == 0, either(c.band == 0, .02, .087))
		}),
		rule(huiyan.TagChurnRiskVIP, func(c *customer) float64 {
			return when(c.vip(), either(c.stage(lcChurning), .35, either(c.stage(lcDormant), .15, .04)))
		}),
		rule("large_outflow_alert", func(c *customer) float64 {
			return either(c.stage(lcChurning), .06, .01) * either(c.has(largeOut), 3, 1) * vipx(c, 1.5)
		}),
		rule("mbank_churn_propensity", func(c *customer) float64 {
			return when(c.active(), either(c.idle > 30, .30, .03))
		}),
		rule("wm_purchase_propensity", func(c *customer) float64 {
			return either(c.has(wealthEnth), .12, .04) * either(c.has(idleHigh), 2, 1) * either(c.risk == 1, .3, 1)
		}),
		rule("pension_account_propensity", func(c *customer) float64 {
			return when(c.ageIn(30, 59) && !c.has(personalPension), .05*either(c.has(payroll), 1.6, 1))
		}),
		rule("credit_card_propensity", func(c *customer) float64 {
			return when(!c.has(credit) && c.ageIn(22, 50), .06)
		}),
		rule("loan_demand_propensity", func(c *customer) float64 {
			return .03 * either(c.has(newlywed) || c.has(homeImprove) || c.has(soleProp), 3, 1) *
				either(c.has(studyAbroad), 2, 1)
		}),
	}
	return branch, predictive
}
