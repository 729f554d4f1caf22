package edge

import (
	"sort"
	"time"

	"huiyan"
)

// maturityHorizon is how far ahead a profile lists maturing products: the
// reminder practice works 30, 15, 7 and 1 days ahead.
const maturityHorizon = 30 * 24 * time.Hour

// compose builds the card of a new visit: the masked profile, the suggested
// actions and who is to see them.
func (n *Node) compose(v *huiyan.Visit, c *huiyan.Customer, ch huiyan.Channel, now time.Time) *huiyan.Card {
	in := RuleInput{Customer: c, Channel: ch, Now: now}
	p := &huiyan.Profile{}
	if c != nil {
		in.ManagerOnShift = c.Manager != "" && n.onShift(c.Manager, now)
		p = n.profile(c, now)
	}
	actions := n.rules.Load().Evaluate(in)
	return &huiyan.Card{Visit: v, Profile: p, Actions: actions, Audience: route(c, actions)}
}

// profile is what staff may see of a customer: the masked name and what the
// job needs, tags in display order.
func (n *Node) profile(c *huiyan.Customer, now time.Time) *huiyan.Profile {
	dict := n.dict.Load()
	p := &huiyan.Profile{
		CustomerID:    c.ID,
		DisplayName:   c.DisplayName,
		Tier:          c.Tier,
		MBankStatus:   c.MBankStatus,
		MBankIdleDays: c.MBankIdleDays,
		Lifecycle:     c.Lifecycle,
		OptOut:        c.OptOut,
		Manager:       c.Manager,
	}
	for _, id := range c.Tags {
		if t := dict.ByID(id); t != nil {
			p.Tags = append(p.Tags, huiyan.ProfileTag{Code: t.Code, NameZH: t.NameZH, NameEN: t.NameEN, Kind: t.Kind, Priority: t.Priority})
		}
	}
	sort.SliceStable(p.Tags, func(i, j int) bool { return p.Tags[i].Priority < p.Tags[j].Priority })
	for _, m := range c.Maturities {
		if d := m.Date.Sub(now); d > -24*time.Hour && d <= maturityHorizon {
			p.Maturities = append(p.Maturities, m)
		}
	}
	sort.Slice(p.Maturities, func(i, j int) bool { return p.Maturities[i].Date.Before(p.Maturities[j].Date) })
	return p
}

// route decides who sees a visit (DESIGN.md, issue 3): every arrival goes to
// the lobby; VIPs and wealth signals (an action for a wealth manager) to the
// wealth managers; a customer with an assigned account manager to that
// person. Supervisors see everything.
func route(c *huiyan.Customer, actions []huiyan.Action) huiyan.Audience {
	a := huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby}}
	wealth := c != nil && c.Tier.VIP()
	for _, act := range actions {
		wealth = wealth || act.Role == huiyan.RoleWealth
	}
	if wealth {
		a.Roles = append(a.Roles, huiyan.RoleWealth)
	}
	if c != nil && c.Manager != "" {
		a.Staff = []string{c.Manager}
	}
	return a
}
