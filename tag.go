package huiyan

import (
	"fmt"
	"sort"
)

// TagKind says where a tag comes from.
type TagKind string

// Tag kinds.
const (
	TagBranch     TagKind = "branch"     // one of the 154 branch tags (理财爱好者, 有车一族 …)
	TagPredictive TagKind = "predictive" // one of the model's predictions (潜力贵宾客户 …)
	TagStatus     TagKind = "status"     // a mobile-banking status tag
)

// Valid reports whether k is a known kind.
func (k TagKind) Valid() bool {
	return k == TagBranch || k == TagPredictive || k == TagStatus
}

// Tag is one entry of the tag dictionary. ID is stable and never reused;
// Code is what snapshots carry; Priority orders tags on the PAD (lower first).
type Tag struct {
	ID       int
	Code     string
	NameZH   string
	NameEN   string
	Kind     TagKind
	Category string
	Priority int
}

// Codes of tags that the suggested-action rules and reports refer to by name.
// They are in the shipped dictionary; a test keeps them there.
const (
	TagPotentialVIP  = "potential_vip"    // 潜力贵宾客户
	TagChurnRiskVIP  = "churn_risk_vip"   // 高流失倾向贵宾客户
	TagMBankNone     = "mbank_none"       // 掌银未注册
	TagMBankRegister = "mbank_registered" // 掌银已注册未使用
	TagMBankDormant  = "mbank_dormant"    // 掌银睡眠
	TagMBankActive   = "mbank_active"     // 掌银活跃
)

// StatusTagCode returns the code of the status tag for a mobile-banking status.
func StatusTagCode(s MBankStatus) string {
	return "mbank_" + string(s)
}

// TagDict is the tag dictionary: every tag by id and by code. A TagDict is
// immutable once built and safe for concurrent use.
type TagDict struct {
	version int
	byID    map[int]*Tag
	byCode  map[string]*Tag
	tags    []Tag // sorted by ID
}

// NewTagDict builds a dictionary, refusing duplicate ids or codes, unknown
// kinds and empty names.
func NewTagDict(version int, tags []Tag) (*TagDict, error) {
	d := &TagDict{
		version: version,
		byID:    make(map[int]*Tag, len(tags)),
		byCode:  make(map[string]*Tag, len(tags)),
		tags:    append([]Tag(nil), tags...),
	}
	sort.Slice(d.tags, func(i, j int) bool { return d.tags[i].ID < d.tags[j].ID })
	for i := range d.tags {
		t := &d.tags[i]
		switch {
		case t.ID <= 0:
			return nil, fmt.Errorf("tag %q: id %d must be positive", t.Code, t.ID)
		case t.Code == "" || t.NameZH == "" || t.NameEN == "":
			return nil, fmt.Errorf("tag %d: code and both names are required", t.ID)
		case !t.Kind.Valid():
			return nil, fmt.Errorf("tag %q: unknown kind %q", t.Code, t.Kind)
		case d.byID[t.ID] != nil:
			return nil, fmt.Errorf("tag %q: duplicate id %d", t.Code, t.ID)
		case d.byCode[t.Code] != nil:
			return nil, fmt.Errorf("tag %d: duplicate code %q", t.ID, t.Code)
		}
		d.byID[t.ID] = t
		d.byCode[t.Code] = t
	}
	return d, nil
}

// Version is the dictionary's version; HQ bumps it when it adds tags.
func (d *TagDict) Version() int { return d.version }

// Tags returns every tag, ordered by id. The caller must not modify them.
func (d *TagDict) Tags() []Tag { return d.tags }

// ByID returns the tag with the id, or nil.
func (d *TagDict) ByID(id int) *Tag { return d.byID[id] }

// ByCode returns the tag with the code, or nil.
func (d *TagDict) ByCode(code string) *Tag { return d.byCode[code] }

// Count returns how many tags of the kind the dictionary has.
func (d *TagDict) Count(kind TagKind) int {
	n := 0
	for _, t := range d.tags {
		if t.Kind == kind {
			n++
		}
	}
	return n
}
