package huiyan

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
)

// DictVersion is the version of the shipped tag dictionary (tagdict.csv).
// HQ bumps it when it adds tags; ids are never reused (DESIGN.md, "Data model").
const DictVersion = 1

// TagDictHeader is the header line of a tag dictionary CSV file.
const TagDictHeader = "id,code,name_zh,name_en,kind,category,priority"

// The shipped dictionary, tagdict.csv, holds the 154 branch tags (慧眼迎客's
// 分行特色标签), the 8 predictive tags and the 4 mobile-banking status tags.
//
// Id ranges: branch tags 1–154, predictive tags 201–208, status tags 301–304.
// Tags HQ adds later take the next free id of their kind's range (155…,
// 209…, 305…); an id is never reused, even for a retired tag.
//
// Priority orders tags on the PAD, lower first:
//
//	 1–9   safety: fraud alerts and restricted accounts, seen before anything else
//	10–19  predictive tags (potential VIP, churn-risk VIP, outflow alert …)
//	20–29  mobile banking not active (the lobby's activation target) and what
//	       blocks a sale: expired risk assessment, expiring ID
//	30–39  VIP-relevant wealth signals: large purchases, large CDs, deposits
//	       declining or maturing, outbound transfers, 掌银客户
//	40–59  other wealth, pension, deposits, insurance
//	60–79  credit, business, cards, payment habits, mobile banking active
//	80–99  channel use, life stage, lifestyle, products held
//
//go:embed tagdict.csv
var tagDictCSV []byte

var defaultTagDict = sync.OnceValue(func() *TagDict {
	d, err := ParseTagDict(bytes.NewReader(tagDictCSV), DictVersion)
	if err != nil {
		panic("huiyan: embedded tagdict.csv is broken: " + err.Error())
	}
	return d
})

// DefaultTagDict returns the shipped tag dictionary, parsed once. It panics
// only if the embedded tagdict.csv is broken, which a test rules out.
func DefaultTagDict() *TagDict { return defaultTagDict() }

// TagDictLineError is one bad line of a tag dictionary file.
type TagDictLineError struct {
	Line int // 1-based line number in the file; the header is line 1
	Msg  string
}

// Error implements the error interface.
func (e *TagDictLineError) Error() string {
	return fmt.Sprintf("tag dictionary line %d: %s", e.Line, e.Msg)
}

// maxDictLineErrors bounds how many line errors ParseTagDict reports.
const maxDictLineErrors = 50

// ParseTagDict reads a tag dictionary in the tagdict.csv format: the header
// TagDictHeader, then one tag per line. It checks every line and reports
// each bad one (up to 50) as a *TagDictLineError, joined with errors.Join:
// wrong column count, bad or duplicate id, code that is not lower_snake or
// is a duplicate, empty name, unknown kind, bad category or priority.
func ParseTagDict(r io.Reader, version int) (*TagDict, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // column counts are checked per line below
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		return nil, &TagDictLineError{Line: 1, Msg: "empty file, want header " + TagDictHeader}
	} else if err != nil {
		return nil, fmt.Errorf("tag dictionary: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	if got := strings.Join(header, ","); got != TagDictHeader {
		return nil, &TagDictLineError{Line: 1, Msg: fmt.Sprintf("header %q, want %q", got, TagDictHeader)}
	}

	var (
		tags   []Tag
		errs   []error
		idLine = map[int]int{}
		cdLine = map[string]int{}
	)
	fail := func(line int, format string, args ...any) {
		errs = append(errs, &TagDictLineError{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	for len(errs) < maxDictLineErrors {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				fail(pe.StartLine, "%v", pe.Err)
				continue
			}
			return nil, fmt.Errorf("tag dictionary: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != 7 {
			fail(line, "%d columns, want 7", len(rec))
			continue
		}
		t, msg := parseTagRecord(rec)
		if msg != "" {
			fail(line, "%s", msg)
			continue
		}
		if first, ok := idLine[t.ID]; ok {
			fail(line, "duplicate id %d (first on line %d)", t.ID, first)
			continue
		}
		if first, ok := cdLine[t.Code]; ok {
			fail(line, "duplicate code %q (first on line %d)", t.Code, first)
			continue
		}
		idLine[t.ID], cdLine[t.Code] = line, line
		tags = append(tags, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return NewTagDict(version, tags)
}

func parseTagRecord(rec []string) (Tag, string) {
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	id, err := strconv.Atoi(rec[0])
	if err != nil || id <= 0 {
		return Tag{}, fmt.Sprintf("id %q must be a positive integer", rec[0])
	}
	t := Tag{ID: id, Code: rec[1], NameZH: rec[2], NameEN: rec[3], Kind: TagKind(rec[4]), Category: rec[5]}
	switch {
	case !IsLowerSnake(t.Code):
		return Tag{}, fmt.Sprintf("code %q must be lower_snake (a-z, 0-9, single underscores, at most 64 bytes)", t.Code)
	case t.NameZH == "" || t.NameEN == "":
		return Tag{}, fmt.Sprintf("tag %q: name_zh and name_en are required", t.Code)
	case !t.Kind.Valid():
		return Tag{}, fmt.Sprintf("tag %q: kind %q, want branch, predictive or status", t.Code, rec[4])
	case !IsLowerSnake(t.Category):
		return Tag{}, fmt.Sprintf("tag %q: category %q must be lower_snake", t.Code, t.Category)
	}
	p, err := strconv.Atoi(rec[6])
	if err != nil || p < 0 || p > 9999 {
		return Tag{}, fmt.Sprintf("tag %q: priority %q must be an integer from 0 to 9999", t.Code, rec[6])
	}
	t.Priority = p
	return t, ""
}

// IsLowerSnake reports whether s is a lower_snake code: 1 to 64 bytes of
// a-z and 0-9 in words joined by single underscores, starting with a letter.
// Tag, category, AUM band and product codes all have this shape.
func IsLowerSnake(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '_' && s[i-1] != '_':
		default:
			return false
		}
	}
	return true
}

// TagCategory names a group of tags for the PAD and reports.
type TagCategory struct {
	Code   string
	NameZH string
	NameEN string
}

// TagCategories lists the categories of the shipped dictionary in display
// order. HQ may add categories with new tags; a PAD shows an unknown
// category by its code.
var TagCategories = []TagCategory{
	{"prediction", "模型预测", "Predictions"},
	{"mbank", "掌银状态", "Mobile banking"},
	{"risk", "风险合规", "Risk and compliance"},
	{"wealth", "理财投资", "Wealth and investment"},
	{"deposit", "存款", "Deposits"},
	{"pension", "养老金融", "Pension"},
	{"insurance", "保险", "Insurance"},
	{"credit", "信贷", "Credit and loans"},
	{"card", "银行卡", "Cards"},
	{"payment", "支付结算", "Payment habits"},
	{"business", "经营商户", "Merchants and business"},
	{"channel", "渠道偏好", "Channel use"},
	{"life_stage", "人生阶段", "Life stage"},
	{"lifestyle", "资产与生活", "Assets and lifestyle"},
	{"product", "产品签约", "Products and services held"},
}

// TagCategoryByCode returns the category with the code, or nil.
func TagCategoryByCode(code string) *TagCategory {
	for i := range TagCategories {
		if TagCategories[i].Code == code {
			return &TagCategories[i]
		}
	}
	return nil
}

// AUMBand is a range of assets under management (金融资产, CNY) as HQ
// reports it: MinCNY inclusive, MaxCNY exclusive.
type AUMBand struct {
	Code   string
	NameZH string
	NameEN string
	MinCNY int64
	MaxCNY int64 // exclusive; math.MaxInt64 for the open top band
}

// Tier thresholds on assets under management (monthly average of financial
// assets), as large Chinese banks set them: 金卡 from ¥50,000, 白金 from
// ¥500,000, 钻石 from ¥2,000,000 and 私人银行 from ¥6,000,000. Banks and
// provinces differ slightly; these are the values Huiyan's demo data use.
const (
	GoldMinAUM     int64 = 50_000
	PlatinumMinAUM int64 = 500_000
	DiamondMinAUM  int64 = 2_000_000
	PrivateMinAUM  int64 = 6_000_000
)

// TierForAUM returns the tier that assets of cny qualify for.
func TierForAUM(cny int64) Tier {
	switch {
	case cny >= PrivateMinAUM:
		return TierPrivate
	case cny >= DiamondMinAUM:
		return TierDiamond
	case cny >= PlatinumMinAUM:
		return TierPlatinum
	case cny >= GoldMinAUM:
		return TierGold
	}
	return TierNormal
}

// AUMBands lists the AUM bands, lowest first. They are contiguous and no
// band straddles a tier threshold, so a band implies a tier (see Tier):
// normal customers fall in the two bands under ¥50k, gold in the two from
// ¥50k to ¥500k, and each higher tier has its own band.
var AUMBands = []AUMBand{
	{"aum_0_10k", "1万以下", "Under ¥10k", 0, 10_000},
	{"aum_10k_50k", "1万至5万", "¥10k to ¥50k", 10_000, GoldMinAUM},
	{"aum_50k_200k", "5万至20万", "¥50k to ¥200k", GoldMinAUM, 200_000},
	{"aum_200k_500k", "20万至50万", "¥200k to ¥500k", 200_000, PlatinumMinAUM},
	{"aum_500k_2m", "50万至200万", "¥500k to ¥2m", PlatinumMinAUM, DiamondMinAUM},
	{"aum_2m_6m", "200万至600万", "¥2m to ¥6m", DiamondMinAUM, PrivateMinAUM},
	{"aum_6m_plus", "600万以上", "¥6m and more", PrivateMinAUM, math.MaxInt64},
}

// Tier returns the tier the band's assets qualify for.
func (b AUMBand) Tier() Tier { return TierForAUM(b.MinCNY) }

// AUMBandByCode returns the band with the code, or nil. The caller must not
// modify it.
func AUMBandByCode(code string) *AUMBand {
	for i := range AUMBands {
		if AUMBands[i].Code == code {
			return &AUMBands[i]
		}
	}
	return nil
}

// AUMBandFor returns the band holding cny, or nil for a negative amount.
func AUMBandFor(cny int64) *AUMBand {
	for i := range AUMBands {
		if cny >= AUMBands[i].MinCNY && cny < AUMBands[i].MaxCNY {
			return &AUMBands[i]
		}
	}
	return nil
}

// Product kinds.
const (
	ProductTermDeposit       = "term_deposit"       // 定期存款
	ProductLargeCD           = "large_cd"           // 大额存单
	ProductWealth            = "wealth"             // 理财产品
	ProductStructuredDeposit = "structured_deposit" // 结构性存款
	ProductBond              = "bond"               // 储蓄国债
	ProductInsurance         = "insurance"          // 保险
)

// Product is a product that matures, for the maturity reminders the PAD
// shows 30, 15, 7 and 1 days ahead. Risk is the lowest customer risk level
// it may be offered to again (R1 for deposits, bonds and insurance).
type Product struct {
	Code   string
	NameZH string
	NameEN string
	Kind   string
	Risk   Risk
}

// Products lists the products whose maturities snapshots carry.
var Products = []Product{
	{"td_3m", "三个月定期存款", "3-month term deposit", ProductTermDeposit, "R1"},
	{"td_6m", "六个月定期存款", "6-month term deposit", ProductTermDeposit, "R1"},
	{"td_1y", "一年期定期存款", "1-year term deposit", ProductTermDeposit, "R1"},
	{"td_2y", "两年期定期存款", "2-year term deposit", ProductTermDeposit, "R1"},
	{"td_3y", "三年期定期存款", "3-year term deposit", ProductTermDeposit, "R1"},
	{"td_5y", "五年期定期存款", "5-year term deposit", ProductTermDeposit, "R1"},
	{"ldcd_1y", "一年期大额存单", "1-year large-denomination CD", ProductLargeCD, "R1"},
	{"ldcd_3y", "三年期大额存单", "3-year large-denomination CD", ProductLargeCD, "R1"},
	{"wm_min_hold_30d", "30天最短持有期理财", "30-day minimum-holding wealth product", ProductWealth, "R2"},
	{"wm_closed_90d", "90天封闭式理财", "90-day closed-end wealth product", ProductWealth, "R2"},
	{"wm_closed_180d", "180天封闭式理财", "180-day closed-end wealth product", ProductWealth, "R2"},
	{"wm_closed_1y", "一年期封闭式理财", "1-year closed-end wealth product", ProductWealth, "R2"},
	{"wm_pension_5y", "五年期养老理财", "5-year pension wealth product", ProductWealth, "R2"},
	{"sd_3m", "三个月结构性存款", "3-month structured deposit", ProductStructuredDeposit, "R1"},
	{"sd_6m", "六个月结构性存款", "6-month structured deposit", ProductStructuredDeposit, "R1"},
	{"bond_savings_3y", "三年期储蓄国债", "3-year savings bond", ProductBond, "R1"},
	{"bond_savings_5y", "五年期储蓄国债", "5-year savings bond", ProductBond, "R1"},
	{"ins_endowment", "两全保险满期", "Endowment insurance maturity", ProductInsurance, "R1"},
}

// ProductByCode returns the product with the code, or nil. The caller must
// not modify it.
func ProductByCode(code string) *Product {
	for i := range Products {
		if Products[i].Code == code {
			return &Products[i]
		}
	}
	return nil
}
