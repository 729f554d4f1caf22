package edge

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/template"
	"time"

	"huiyan"
)

//go:embed rules.json
var defaultRules []byte

// Condition says when a rule fires. Every set field must hold (AND); an
// empty field holds always. A rule without new_face applies only to known
// customers: there is nothing to say about a stranger's tags.
type Condition struct {
	Channels           []huiyan.Channel     `json:"channels,omitempty"`
	MBankStatus        []huiyan.MBankStatus `json:"mbank_status,omitempty"`
	TagsAny            []string             `json:"tags_any,omitempty"`
	MinTier            huiyan.Tier          `json:"min_tier,omitempty"`
	Lifecycle          []huiyan.Lifecycle   `json:"lifecycle,omitempty"`
	MaturityWithinDays int                  `json:"maturity_within_days,omitempty"`
	ManagerOnShift     bool                 `json:"manager_on_shift,omitempty"`
	NewFace            bool                 `json:"new_face,omitempty"`
	OptOut             bool                 `json:"opt_out,omitempty"`
}

// Rule turns a customer's situation into a suggested action. Title, Script
// and Reason are text/template strings over RuleData. Marketing rules are
// never applied to customers who opted out of personalised marketing
// (PIPL art. 24): they get service help only.
type Rule struct {
	Code      string      `json:"code"`
	Title     string      `json:"title"`
	Script    string      `json:"script"`
	Reason    string      `json:"reason"`
	Role      huiyan.Role `json:"role"`
	Priority  int         `json:"priority"`
	Marketing bool        `json:"marketing"`
	When      Condition   `json:"when"`

	title, script, reason *template.Template
	tagIDs                []int
}

// RuleSet is a compiled, immutable set of rules, safe for concurrent use.
// Rules are data so that HQ can ship new ones without a new binary.
type RuleSet struct {
	Version int
	rules   []*Rule
}

// RuleInput is what rules are evaluated against.
type RuleInput struct {
	Customer       *huiyan.Customer // nil for a new face
	Channel        huiyan.Channel
	Now            time.Time
	ManagerOnShift bool
}

// RuleData is what the templates see.
type RuleData struct {
	DisplayName    string
	TierZH         string
	MBankStatus    string
	MBankStatusZH  string
	Risk           string
	ProductName    string // the earliest product maturing within the rule's window
	MaturityDate   string // YYYY-MM-DD
	DaysToMaturity int
}

// DefaultRules returns the shipped rule set, compiled against dict.
func DefaultRules(dict *huiyan.TagDict) (*RuleSet, error) {
	return ParseRules(strings.NewReader(string(defaultRules)), dict)
}

// ParseRules reads a rule file ({"version":N,"rules":[…]}) and compiles it,
// refusing unknown roles, unknown tag codes, duplicate codes and templates
// that do not parse or do not run on sample data.
func ParseRules(r io.Reader, dict *huiyan.TagDict) (*RuleSet, error) {
	var f struct {
		Version int     `json:"version"`
		Rules   []*Rule `json:"rules"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	seen := map[string]bool{}
	for i, rule := range f.Rules {
		if rule.Code == "" || seen[rule.Code] {
			return nil, fmt.Errorf("rule %d: missing or duplicate code %q", i, rule.Code)
		}
		seen[rule.Code] = true
		if !rule.Role.Valid() {
			return nil, fmt.Errorf("rule %s: unknown role %q", rule.Code, rule.Role)
		}
		if rule.When.MinTier != "" && !rule.When.MinTier.Valid() {
			return nil, fmt.Errorf("rule %s: unknown tier %q", rule.Code, rule.When.MinTier)
		}
		for _, code := range rule.When.TagsAny {
			t := dict.ByCode(code)
			if t == nil {
				return nil, fmt.Errorf("rule %s: unknown tag %q", rule.Code, code)
			}
			rule.tagIDs = append(rule.tagIDs, t.ID)
		}
		var err error
		for _, p := range []struct {
			dst **template.Template
			src string
		}{{&rule.title, rule.Title}, {&rule.script, rule.Script}, {&rule.reason, rule.Reason}} {
			if *p.dst, err = template.New(rule.Code).Option("missingkey=error").Parse(p.src); err != nil {
				return nil, fmt.Errorf("rule %s: %w", rule.Code, err)
			}
			if err := (*p.dst).Execute(io.Discard, RuleData{}); err != nil {
				return nil, fmt.Errorf("rule %s: %w", rule.Code, err)
			}
		}
	}
	return &RuleSet{Version: f.Version, rules: f.Rules}, nil
}

// Evaluate returns the actions the rules suggest, most urgent first.
func (rs *RuleSet) Evaluate(in RuleInput) []huiyan.Action {
	var out []huiyan.Action
	for _, r := range rs.rules {
		data, ok := r.match(in)
		if !ok {
			continue
		}
		out = append(out, huiyan.Action{
			Code:     r.Code,
			Title:    render(r.title, data),
			Script:   render(r.script, data),
			Role:     r.Role,
			Priority: r.Priority,
			Reason:   render(r.reason, data),
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority < out[j].Priority })
	return out
}

func (r *Rule) match(in RuleInput) (RuleData, bool) {
	c, w := in.Customer, &r.When
	if c == nil {
		return RuleData{}, w.NewFace && (len(w.Channels) == 0 || contains(w.Channels, in.Channel))
	}
	switch {
	case w.NewFace:
		return RuleData{}, false
	case r.Marketing && c.OptOut:
		return RuleData{}, false
	case w.OptOut && !c.OptOut:
		return RuleData{}, false
	case len(w.Channels) > 0 && !contains(w.Channels, in.Channel):
		return RuleData{}, false
	case len(w.MBankStatus) > 0 && !contains(w.MBankStatus, c.MBankStatus):
		return RuleData{}, false
	case w.MinTier != "" && c.Tier.Rank() < w.MinTier.Rank():
		return RuleData{}, false
	case len(w.Lifecycle) > 0 && !contains(w.Lifecycle, c.Lifecycle):
		return RuleData{}, false
	case w.ManagerOnShift && !in.ManagerOnShift:
		return RuleData{}, false
	case len(r.tagIDs) > 0 && !hasAnyTag(c, r.tagIDs):
		return RuleData{}, false
	}
	d := RuleData{
		DisplayName:   c.DisplayName,
		TierZH:        c.Tier.NameZH(),
		MBankStatus:   string(c.MBankStatus),
		MBankStatusZH: mbankStatusZH(c.MBankStatus),
		Risk:          string(c.Risk),
	}
	if w.MaturityWithinDays > 0 {
		m, days, ok := nextMaturity(c.Maturities, in.Now, w.MaturityWithinDays)
		if !ok {
			return RuleData{}, false
		}
		d.ProductName = productName(m.Product)
		d.MaturityDate = m.Date.Format(time.DateOnly)
		d.DaysToMaturity = days
	}
	return d, true
}

// nextMaturity returns the earliest maturity from today to within days.
func nextMaturity(ms []huiyan.Maturity, now time.Time, within int) (huiyan.Maturity, int, bool) {
	y, mo, d := now.In(branchZone).Date()
	today := time.Date(y, mo, d, 0, 0, 0, 0, branchZone)
	var best huiyan.Maturity
	bestDays := -1
	for _, m := range ms {
		days := int(m.Date.Sub(today).Round(time.Hour).Hours() / 24)
		if days < 0 || days > within {
			continue
		}
		if bestDays < 0 || days < bestDays {
			best, bestDays = m, days
		}
	}
	return best, bestDays, bestDays >= 0
}

// branchZone is China Standard Time: branches and maturity dates live in it.
// A fixed zone avoids depending on tzdata on the branch box.
var branchZone = time.FixedZone("CST", 8*3600)

func productName(code string) string {
	if p := huiyan.ProductByCode(code); p != nil {
		return p.NameZH
	}
	return code
}

func mbankStatusZH(s huiyan.MBankStatus) string {
	switch s {
	case huiyan.MBankNone:
		return "未开通"
	case huiyan.MBankRegistered:
		return "已注册未使用"
	case huiyan.MBankDormant:
		return "睡眠（90天以上未登录）"
	case huiyan.MBankActive:
		return "活跃"
	}
	return string(s)
}

func render(t *template.Template, d RuleData) string {
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		// Templates were executed on sample data at parse time; a failure
		// here is a bug, and an empty string is safer than a half sentence.
		return ""
	}
	return b.String()
}

func hasAnyTag(c *huiyan.Customer, ids []int) bool {
	for _, id := range ids {
		if c.HasTag(id) {
			return true
		}
	}
	return false
}

func contains[T comparable](xs []T, x T) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
