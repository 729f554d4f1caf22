package store

import (
	"encoding/json"
	"fmt"
	"time"

	"huiyan"
)

// record is how the store keeps one customer: JSON with short names, one
// line per customer in an import batch and the same bytes as the value in
// the state database, so a follower stores what the leader encoded without
// encoding it again, and the SHA-256 of those bytes tells whether a
// customer changed between two snapshots. Field order is fixed by the
// struct and lists come sorted from hub.SnapshotReader, so one customer
// always encodes to the same bytes.
type record struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Tier       string     `json:"tier"`
	Home       string     `json:"home"`
	Branches   []string   `json:"branches,omitempty"`
	Manager    string     `json:"manager,omitempty"`
	Tags       []int      `json:"tags,omitempty"`
	MBank      string     `json:"mbank"`
	IdleDays   int        `json:"idle"`
	Risk       string     `json:"risk"`
	AUM        string     `json:"aum"`
	Lifecycle  string     `json:"lifecycle"`
	OptOut     bool       `json:"opt_out,omitempty"`
	Maturities []maturity `json:"maturities,omitempty"`
	Tokens     []token    `json:"tokens,omitempty"`
}

type maturity struct {
	Product string `json:"p"`
	Date    string `json:"d"` // 2006-01-02, in the branch's time zone
}

type token struct {
	Kind  string `json:"k"`
	KeyID string `json:"key"`
	Token string `json:"t"`
}

// branches returns the branches whose edges hold the customer: the home
// branch and the others.
func (r *record) branches() []string {
	return append([]string{r.Home}, r.Branches...)
}

// shanghai is UTC+8 without tzdata, as in package hub.
var shanghai = time.FixedZone("CST", 8*3600)

func encodeCustomer(c *huiyan.Customer) ([]byte, error) {
	r := record{
		ID: c.ID, Name: c.DisplayName, Tier: string(c.Tier), Home: c.HomeBranch,
		Branches: c.Branches, Manager: c.Manager, Tags: c.Tags,
		MBank: string(c.MBankStatus), IdleDays: c.MBankIdleDays, Risk: string(c.Risk),
		AUM: c.AUMBand, Lifecycle: string(c.Lifecycle), OptOut: c.OptOut,
	}
	for _, m := range c.Maturities {
		r.Maturities = append(r.Maturities, maturity{Product: m.Product, Date: m.Date.In(shanghai).Format(time.DateOnly)})
	}
	for _, t := range c.Tokens {
		r.Tokens = append(r.Tokens, token{Kind: string(t.Kind), KeyID: t.KeyID, Token: t.Token})
	}
	return json.Marshal(&r)
}

func decodeRecord(b []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode customer record: %w", err)
	}
	if !huiyan.ValidCustomerID(r.ID) || !huiyan.ValidBranchID(r.Home) {
		return nil, fmt.Errorf("decode customer record: bad id or home branch")
	}
	for _, b := range r.Branches {
		if !huiyan.ValidBranchID(b) {
			return nil, fmt.Errorf("decode customer record: bad branch")
		}
	}
	return &r, nil
}

// customer converts a stored record to the domain type.
func (r *record) customer() (*huiyan.Customer, error) {
	c := &huiyan.Customer{
		ID: r.ID, DisplayName: r.Name, Tier: huiyan.Tier(r.Tier), HomeBranch: r.Home,
		Branches: r.Branches, Manager: r.Manager, Tags: r.Tags,
		MBankStatus: huiyan.MBankStatus(r.MBank), MBankIdleDays: r.IdleDays,
		Risk: huiyan.Risk(r.Risk), AUMBand: r.AUM, Lifecycle: huiyan.Lifecycle(r.Lifecycle), OptOut: r.OptOut,
	}
	for _, m := range r.Maturities {
		d, err := time.ParseInLocation(time.DateOnly, m.Date, shanghai)
		if err != nil {
			return nil, fmt.Errorf("decode customer record: maturity date: %w", err)
		}
		c.Maturities = append(c.Maturities, huiyan.Maturity{Product: m.Product, Date: d})
	}
	for _, t := range r.Tokens {
		c.Tokens = append(c.Tokens, huiyan.Ident{Kind: huiyan.IdentKind(t.Kind), KeyID: t.KeyID, Token: t.Token})
	}
	return c, nil
}

// staffRecord is one staff row as the store keeps it.
type staffRecord struct {
	ID      string `json:"id"`
	Branch  string `json:"branch"`
	Role    string `json:"role"`
	Name    string `json:"name"`
	PINHash string `json:"pin_hash"`
}
