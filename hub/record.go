package hub

import (
	"fmt"
	"slices"
	"time"

	"huiyan"
)

// Op is what a record does to the edge's data set.
type Op string

// Record operations. A chunk line is one record (see Record).
const (
	OpUpsert Op = "upsert" // store the customer, replacing one with the same id
	OpDelete Op = "delete" // remove the customer with the id, and its aliases
	OpStaff  Op = "staff"  // replace the branch's whole staff roster
	OpDict   Op = "dict"   // replace the tag dictionary
	OpPrizes Op = "prizes" // replace the branch's prize wheel table (issue 7)
)

// Record is one entry of the data a manifest brings: a customer to store
// or to remove, the branch's staff roster, the tag dictionary or the
// branch's prize wheel table.
//
// The records of a manifest are the records of its chunks, in manifest
// order, and follow these rules (StreamChecker checks them):
//
//   - the dictionary and the roster come first: a full snapshot starts
//     with exactly one OpDict record and one OpStaff record (an empty
//     roster is an OpStaff record with no staff); a delta has an OpDict
//     record only when the dictionary changed since its base, and an
//     OpStaff record only when the roster did. The OpDict record's
//     version is the manifest's dict_version;
//   - then, before any customer, at most one OpPrizes record: the branch's
//     prize table (Prizes). A full snapshot has one once HQ has ever sent
//     prize tables through the hub (an empty one when the branch has no
//     table) and none before; a delta has one only when the branch's table
//     changed since its base (another Fingerprint, or the first word about
//     it);
//   - then the customers, OpUpsert and OpDelete, in strictly increasing
//     order of customer id (byte-wise, Go string order), so no id appears
//     twice. A full snapshot has no OpDelete: what it does not hold is
//     gone.
//
// Putting the roster and the dictionary in the stream, rather than in
// files of their own, keeps the manifest to the fields DESIGN.md fixes
// and gives them the same integrity and atomicity as the customers: an
// edge applies all records of a manifest, or none.
type Record struct {
	Op Op
	// Customer is the customer an OpUpsert record stores; an OpDelete
	// record uses only its ID.
	Customer *huiyan.Customer
	// Staff is the roster of an OpStaff record: every staff member of the
	// branch. Empty means the branch has no staff accounts.
	Staff []huiyan.Staff
	// Dict is the dictionary of an OpDict record.
	Dict *huiyan.TagDict
	// Prizes is the prize table of an OpPrizes record.
	Prizes *Prizes
}

// ID returns the customer id of an OpUpsert or OpDelete record, or "".
func (r *Record) ID() string {
	if (r.Op == OpUpsert || r.Op == OpDelete) && r.Customer != nil {
		return r.Customer.ID
	}
	return ""
}

// Upsert returns the record that stores c.
func Upsert(c *huiyan.Customer) Record { return Record{Op: OpUpsert, Customer: c} }

// Delete returns the record that removes the customer with the id.
func Delete(id string) Record { return Record{Op: OpDelete, Customer: &huiyan.Customer{ID: id}} }

// recordWire is one line of a chunk:
//
//	{"op":"upsert","customer":{…CustomerWire…}}
//	{"op":"delete","customer_id":"C000123"}
//	{"op":"staff","staff":[{…StaffWire…},…]}
//	{"op":"dict","dict":{"version":1,"tags":[{…TagWire…},…]}}
//	{"op":"prizes","prizes":{"branch":"B001","fingerprint":"…","table":"campaign,…"}}
type recordWire struct {
	Op         Op            `json:"op"`
	Customer   *CustomerWire `json:"customer,omitempty"`
	CustomerID string        `json:"customer_id,omitempty"`
	Staff      []StaffWire   `json:"staff,omitempty"`
	Dict       *DictWire     `json:"dict,omitempty"`
	Prizes     *Prizes       `json:"prizes,omitempty"`
}

// CustomerWire is a customer as chunks carry it: the pseudonymous fields
// of huiyan.Customer and nothing else, named as in the HQ snapshot header
// (DESIGN.md, "Hub contract"). Tags are dictionary ids, not codes: the
// dictionary travels in the same stream. Maturity dates are YYYY-MM-DD in
// UTC+8 (the branch's day); mbank_idle_days is absent for "never".
type CustomerWire struct {
	ID            string         `json:"customer_id"`
	DisplayName   string         `json:"display_name"`
	Tier          string         `json:"tier"`
	HomeBranch    string         `json:"home_branch"`
	Branches      []string       `json:"branches,omitempty"`
	Manager       string         `json:"manager,omitempty"`
	MBankStatus   string         `json:"mbank_status"`
	MBankIdleDays *int           `json:"mbank_idle_days,omitempty"`
	Risk          string         `json:"risk"`
	AUMBand       string         `json:"aum_band"`
	Lifecycle     string         `json:"lifecycle"`
	OptOut        bool           `json:"opt_out,omitempty"`
	Tags          []int          `json:"tags,omitempty"`
	Maturities    []MaturityWire `json:"maturities,omitempty"`
	Tokens        []TokenWire    `json:"tokens"`
}

// MaturityWire is a product maturity: a product code and its day.
type MaturityWire struct {
	Product string `json:"product"`
	Date    string `json:"date"` // YYYY-MM-DD, UTC+8
}

// TokenWire is an identity token as arrival payloads carry it: kind, key
// id and 64 lower-case hex characters.
type TokenWire struct {
	Kind  string `json:"kind"`
	Key   string `json:"key"`
	Token string `json:"token"`
}

// StaffWire is a staff member, named as in staff.csv (DESIGN.md, "PAD
// login"). pin_hash is a slow hash, never a PIN.
type StaffWire struct {
	ID          string `json:"staff_id"`
	Branch      string `json:"branch"`
	Role        string `json:"role"`
	DisplayName string `json:"display_name"`
	PINHash     string `json:"pin_hash"`
}

// DictWire is the tag dictionary.
type DictWire struct {
	Version int       `json:"version"`
	Tags    []TagWire `json:"tags"`
}

// TagWire is one tag, named as in tagdict.csv.
type TagWire struct {
	ID       int    `json:"id"`
	Code     string `json:"code"`
	NameZH   string `json:"name_zh"`
	NameEN   string `json:"name_en"`
	Kind     string `json:"kind"`
	Category string `json:"category"`
	Priority int    `json:"priority"`
}

// NewCustomerWire converts a customer to its wire form. Every field of the
// result is a copy.
func NewCustomerWire(c *huiyan.Customer) CustomerWire {
	w := CustomerWire{
		ID:          c.ID,
		DisplayName: c.DisplayName,
		Tier:        string(c.Tier),
		HomeBranch:  c.HomeBranch,
		Branches:    slices.Clone(c.Branches),
		Manager:     c.Manager,
		MBankStatus: string(c.MBankStatus),
		Risk:        string(c.Risk),
		AUMBand:     c.AUMBand,
		Lifecycle:   string(c.Lifecycle),
		OptOut:      c.OptOut,
		Tags:        slices.Clone(c.Tags),
	}
	if c.MBankIdleDays >= 0 {
		d := c.MBankIdleDays
		w.MBankIdleDays = &d
	}
	if len(c.Maturities) > 0 {
		w.Maturities = make([]MaturityWire, len(c.Maturities))
		for i, m := range c.Maturities {
			w.Maturities[i] = MaturityWire{Product: m.Product, Date: m.Date.In(shanghai).Format(time.DateOnly)}
		}
	}
	w.Tokens = make([]TokenWire, len(c.Tokens))
	for i, t := range c.Tokens {
		w.Tokens[i] = TokenWire{Kind: string(t.Kind), Key: t.KeyID, Token: t.Token}
	}
	return w
}

// Customer validates the wire form and converts it to the domain. The
// rules are those of the HQ snapshot reader where they concern the shape
// of a value (ids, masked name, enumerations fixed by DESIGN.md, tokens,
// idle days against the status), but product, AUM band and tag codes are
// checked only for their shape: a hub newer than the edge may know codes
// the edge's build does not, and the PAD shows an unknown code as it is.
// The error says which field is wrong, never its value.
func (w *CustomerWire) Customer() (*huiyan.Customer, error) {
	c := &huiyan.Customer{
		ID:            w.ID,
		DisplayName:   w.DisplayName,
		Tier:          huiyan.Tier(w.Tier),
		HomeBranch:    w.HomeBranch,
		Branches:      slices.Clone(w.Branches),
		Manager:       w.Manager,
		MBankStatus:   huiyan.MBankStatus(w.MBankStatus),
		MBankIdleDays: -1,
		Risk:          huiyan.Risk(w.Risk),
		AUMBand:       w.AUMBand,
		Lifecycle:     huiyan.Lifecycle(w.Lifecycle),
		OptOut:        w.OptOut,
		Tags:          slices.Clone(w.Tags),
	}
	if w.MBankIdleDays != nil {
		if *w.MBankIdleDays < 0 {
			return nil, fmt.Errorf("customer: mbank_idle_days: negative")
		}
		c.MBankIdleDays = *w.MBankIdleDays
	}
	if len(w.Maturities) > 0 {
		c.Maturities = make([]huiyan.Maturity, len(w.Maturities))
		for i, m := range w.Maturities {
			d, ok := parseDate(m.Date)
			if !ok {
				return nil, fmt.Errorf("customer: maturities: item %d: date must be YYYY-MM-DD", i+1)
			}
			c.Maturities[i] = huiyan.Maturity{Product: m.Product, Date: d}
		}
	}
	c.Tokens = make([]huiyan.Ident, len(w.Tokens))
	for i, t := range w.Tokens {
		c.Tokens[i] = huiyan.Ident{Kind: huiyan.IdentKind(t.Kind), KeyID: t.Key, Token: t.Token}
	}
	if err := checkCustomer(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkCustomer applies the rules of CustomerWire.Customer to a domain
// customer: the edge's check when it decodes a chunk, and the hub's when
// it builds one. The error names the field, never its value.
func checkCustomer(c *huiyan.Customer) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("customer: %s: %s", field, fmt.Sprintf(format, args...))
	}
	if reason := checkCustomerID(c.ID); reason != "" {
		return bad("customer_id", "%s", reason)
	}
	switch {
	case !huiyan.IsMaskedName(c.DisplayName):
		return bad("display_name", "not a masked name")
	case !c.Tier.Valid():
		return bad("tier", "unknown tier")
	case !huiyan.ValidBranchID(c.HomeBranch):
		return bad("home_branch", "invalid branch id")
	case c.Manager != "" && !huiyan.ValidStaffID(c.Manager):
		return bad("manager", "invalid staff id")
	case !c.MBankStatus.Valid():
		return bad("mbank_status", "unknown status")
	case c.MBankIdleDays < -1 || c.MBankIdleDays > maxIdleDays:
		return bad("mbank_idle_days", "out of range 0 to %d", maxIdleDays)
	case !c.Risk.Valid():
		return bad("risk", "unknown risk level")
	case !huiyan.IsLowerSnake(c.AUMBand):
		return bad("aum_band", "not a code")
	case !c.Lifecycle.Valid():
		return bad("lifecycle", "unknown stage")
	}
	if reason := checkIdle(c.MBankStatus, c.MBankIdleDays); reason != "" {
		return bad("mbank_idle_days", "%s", reason)
	}
	for i, b := range c.Branches {
		if !huiyan.ValidBranchID(b) || b == c.HomeBranch || slices.Contains(c.Branches[:i], b) {
			return bad("branches", "item %d: invalid, repeated or the home branch", i+1)
		}
	}
	for i, t := range c.Tags {
		if t <= 0 || (i > 0 && t <= c.Tags[i-1]) {
			return bad("tags", "item %d: ids must be positive and strictly increasing", i+1)
		}
	}
	for i, m := range c.Maturities {
		if !huiyan.IsLowerSnake(m.Product) {
			return bad("maturities", "item %d: product is not a code", i+1)
		}
		if y := m.Date.In(shanghai).Year(); y < 1970 || y > 2199 {
			return bad("maturities", "item %d: date out of range (1970 to 2199)", i+1)
		}
	}
	if len(c.Tokens) == 0 || len(c.Tokens) > maxTokens {
		return bad("tokens", "%d tokens, want 1 to %d", len(c.Tokens), maxTokens)
	}
	for i, t := range c.Tokens {
		switch {
		case !t.Kind.Valid():
			return bad("tokens", "item %d: unknown kind", i+1)
		case !validKeyID(t.KeyID):
			return bad("tokens", "item %d: invalid key id", i+1)
		case !validToken(t.Token):
			return bad("tokens", "item %d: token must be 64 lower-case hex characters", i+1)
		}
		for _, prev := range c.Tokens[:i] {
			if prev.Token == t.Token {
				return bad("tokens", "item %d: repeated token", i+1)
			}
		}
	}
	return nil
}

// maxTokens is the most tokens a customer has: an ID card, a mobile-banking
// id, a phone and MaxBankCardTokens bank cards.
const maxTokens = 3 + MaxBankCardTokens

// NewStaffWire converts a roster to its wire form.
func NewStaffWire(staff []huiyan.Staff) []StaffWire {
	out := make([]StaffWire, len(staff))
	for i, s := range staff {
		out[i] = StaffWire{ID: s.ID, Branch: s.Branch, Role: string(s.Role), DisplayName: s.DisplayName, PINHash: s.PINHash}
	}
	return out
}

// staffFromWire validates a roster with the rules of ReadStaff (no staff id
// twice) and converts it. The result is never nil.
func staffFromWire(ws []StaffWire) ([]huiyan.Staff, error) {
	out := make([]huiyan.Staff, len(ws))
	for i, w := range ws {
		s := huiyan.Staff{ID: w.ID, Branch: w.Branch, Role: huiyan.Role(w.Role), DisplayName: w.DisplayName, PINHash: w.PINHash}
		if col, reason := checkStaff(&s); col >= 0 {
			return nil, fmt.Errorf("staff %d: %s: %s", i+1, staffColumns[col], reason)
		}
		if slices.ContainsFunc(out[:i], func(p huiyan.Staff) bool { return p.ID == s.ID }) {
			return nil, fmt.Errorf("staff %d: staff_id repeated", i+1)
		}
		out[i] = s
	}
	return out, nil
}

// NewDictWire converts a dictionary to its wire form, tags by id.
func NewDictWire(d *huiyan.TagDict) *DictWire {
	tags := d.Tags()
	w := &DictWire{Version: d.Version(), Tags: make([]TagWire, len(tags))}
	for i, t := range tags {
		w.Tags[i] = TagWire{ID: t.ID, Code: t.Code, NameZH: t.NameZH, NameEN: t.NameEN,
			Kind: string(t.Kind), Category: t.Category, Priority: t.Priority}
	}
	return w
}

// TagDict validates the wire form (huiyan.NewTagDict's rules, a version of
// at least 1) and builds the dictionary.
func (w *DictWire) TagDict() (*huiyan.TagDict, error) {
	if w.Version < 1 {
		return nil, fmt.Errorf("dict: version %d, want at least 1", w.Version)
	}
	tags := make([]huiyan.Tag, len(w.Tags))
	for i, t := range w.Tags {
		tags[i] = huiyan.Tag{ID: t.ID, Code: t.Code, NameZH: t.NameZH, NameEN: t.NameEN,
			Kind: huiyan.TagKind(t.Kind), Category: t.Category, Priority: t.Priority}
	}
	d, err := huiyan.NewTagDict(w.Version, tags)
	if err != nil {
		return nil, fmt.Errorf("dict: %w", err)
	}
	return d, nil
}

// wire converts a record to its line form, or says why it cannot.
func (r *Record) wire() (recordWire, error) {
	switch r.Op {
	case OpUpsert:
		if r.Customer == nil {
			return recordWire{}, fmt.Errorf("upsert record without a customer")
		}
		cw := NewCustomerWire(r.Customer)
		return recordWire{Op: r.Op, Customer: &cw}, nil
	case OpDelete:
		if r.Customer == nil || r.Customer.ID == "" {
			return recordWire{}, fmt.Errorf("delete record without a customer id")
		}
		return recordWire{Op: r.Op, CustomerID: r.Customer.ID}, nil
	case OpStaff:
		return recordWire{Op: r.Op, Staff: NewStaffWire(r.Staff)}, nil
	case OpDict:
		if r.Dict == nil {
			return recordWire{}, fmt.Errorf("dict record without a dictionary")
		}
		return recordWire{Op: r.Op, Dict: NewDictWire(r.Dict)}, nil
	case OpPrizes:
		if r.Prizes == nil {
			return recordWire{}, fmt.Errorf("prizes record without a table")
		}
		p := *r.Prizes
		return recordWire{Op: r.Op, Prizes: &p}, nil
	}
	return recordWire{}, fmt.Errorf("unknown op %s", quote(string(r.Op)))
}

// check applies the validation the edge applies to the decoded record
// (recordWire.record) to a record about to be encoded.
func (r *Record) check() error {
	switch r.Op {
	case OpUpsert:
		return checkCustomer(r.Customer)
	case OpDelete:
		if reason := checkCustomerID(r.Customer.ID); reason != "" {
			return fmt.Errorf("delete: customer_id: %s", reason)
		}
	case OpStaff:
		_, err := staffFromWire(NewStaffWire(r.Staff))
		return err
	case OpDict:
		if r.Dict.Version() < 1 {
			return fmt.Errorf("dict: version %d, want at least 1", r.Dict.Version())
		}
	case OpPrizes:
		return r.Prizes.Validate()
	}
	return nil
}

// record validates a decoded line and converts it: only the field of its
// op may be set.
func (w *recordWire) record() (Record, error) {
	// only checks that the field of the op, and no other, is set. The
	// roster may be empty, so "set" for OpStaff is always true.
	only := func(own int) error {
		set := []bool{w.Customer != nil, w.CustomerID != "", true, w.Dict != nil, w.Prizes != nil}
		others := []bool{w.Customer != nil, w.CustomerID != "", w.Staff != nil, w.Dict != nil, w.Prizes != nil}
		for i, b := range others {
			if (i == own && !set[i]) || (i != own && b) {
				return fmt.Errorf("%s record with missing or extra fields", w.Op)
			}
		}
		return nil
	}
	switch w.Op {
	case OpUpsert:
		if err := only(0); err != nil {
			return Record{}, err
		}
		c, err := w.Customer.Customer()
		if err != nil {
			return Record{}, err
		}
		return Record{Op: OpUpsert, Customer: c}, nil
	case OpDelete:
		if err := only(1); err != nil {
			return Record{}, err
		}
		if reason := checkCustomerID(w.CustomerID); reason != "" {
			return Record{}, fmt.Errorf("delete: customer_id: %s", reason)
		}
		return Delete(w.CustomerID), nil
	case OpStaff:
		if err := only(2); err != nil {
			return Record{}, err
		}
		staff, err := staffFromWire(w.Staff)
		if err != nil {
			return Record{}, err
		}
		return Record{Op: OpStaff, Staff: staff}, nil
	case OpDict:
		if err := only(3); err != nil {
			return Record{}, err
		}
		d, err := w.Dict.TagDict()
		if err != nil {
			return Record{}, err
		}
		return Record{Op: OpDict, Dict: d}, nil
	case OpPrizes:
		if err := only(4); err != nil {
			return Record{}, err
		}
		if err := w.Prizes.Validate(); err != nil {
			return Record{}, err
		}
		p := *w.Prizes
		return Record{Op: OpPrizes, Prizes: &p}, nil
	}
	return Record{}, fmt.Errorf("unknown op %s", quote(string(w.Op)))
}
