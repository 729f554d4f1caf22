package hub_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub"
)

// tok returns a token-shaped string made from a label. Real tokens are
// HMACs (firmware.Token); hub must not import firmware, and the reader only
// cares about the shape.
func tok(label string) string {
	s := sha256.Sum256([]byte(label))
	return hex.EncodeToString(s[:])
}

var columns = strings.Split(hub.SnapshotHeader, ",")

// rec is one snapshot row by column name.
type rec map[string]string

// goodRec returns a valid row for customer id; tokens derive from the id.
func goodRec(id string) rec {
	return rec{
		"customer_id":     id,
		"display_name":    "林*华",
		"tier":            "gold",
		"home_branch":     "B001",
		"branches":        "B002;B001;B002",
		"manager":         "account-B001",
		"mbank_status":    "dormant",
		"mbank_idle_days": "120",
		"risk":            "R3",
		"aum_band":        "aum_50k_200k",
		"lifecycle":       "mature",
		"opt_out":         "0",
		"tags":            "wealth_enthusiast;fund_sip;mbank_dormant;wealth_enthusiast",
		"maturities":      "td_1y:2026-12-01;wm_closed_90d:2026-11-30",
		"idcard_token":    tok("idcard:" + id),
		"bankcard_tokens": tok("card1:"+id) + ";" + tok("card2:"+id),
		"mbank_token":     tok("mbank:" + id),
		"phone_token":     "",
	}
}

func (r rec) with(kv ...string) rec {
	out := rec{}
	for k, v := range r {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (r rec) csv() string {
	vals := make([]string, len(columns))
	for i, c := range columns {
		vals[i] = r[c]
	}
	return strings.Join(vals, ",")
}

// json writes the row as a JSON Lines object the way a JSON exporter would:
// numbers for mbank_idle_days and opt_out, arrays for lists.
func (r rec) json() string {
	m := map[string]any{}
	for _, c := range columns {
		v := r[c]
		switch c {
		case "mbank_idle_days":
			if v == "" {
				m[c] = nil
			} else {
				m[c] = json.Number(v)
			}
		case "opt_out":
			m[c] = v == "1"
		case "branches", "tags", "maturities", "bankcard_tokens":
			items := []string{}
			if v != "" {
				items = strings.Split(v, ";")
			}
			m[c] = items
		default:
			m[c] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func csvFile(lines ...string) string {
	return hub.SnapshotHeader + "\n" + strings.Join(lines, "\n") + "\n"
}

func opts() hub.SnapshotOptions { return hub.SnapshotOptions{KeyID: "k1"} }

func MustNewReader(tb testing.TB, format hub.Format, data string, o hub.SnapshotOptions) *hub.SnapshotReader {
	tb.Helper()
	r, err := hub.NewSnapshotReader(strings.NewReader(data), format, huiyan.DefaultTagDict(), o)
	if err != nil {
		tb.Fatalf("NewSnapshotReader: %v", err)
	}
	return r
}

// result is what one Next returned.
type result struct {
	c   *huiyan.Customer
	err *hub.LineError
}

// readAll reads to the end, failing on a fatal error.
func readAll(tb testing.TB, r *hub.SnapshotReader) []result {
	tb.Helper()
	var out []result
	for {
		c, err := r.Next()
		if err == io.EOF {
			return out
		}
		var le *hub.LineError
		if err != nil && !errors.As(err, &le) {
			tb.Fatalf("Next: fatal error %v", err)
		}
		out = append(out, result{c, le})
	}
}

func TestSnapshotHeader(t *testing.T) {
	// Copied from DESIGN.md, "Hub contract": the header is a contract.
	const design = "customer_id,display_name,tier,home_branch,branches,manager,mbank_status,mbank_idle_days,risk,aum_band,lifecycle,opt_out,tags,maturities,idcard_token,bankcard_tokens,mbank_token,phone_token"
	if hub.SnapshotHeader != design {
		t.Fatalf("SnapshotHeader=%q, want %q", hub.SnapshotHeader, design)
	}
}

func TestLineError_Error(t *testing.T) {
	e := &hub.LineError{Line: 17, Field: "tier", Reason: `unknown tier "silver"`}
	if got, want := e.Error(), `line 17: field tier: unknown tier "silver"`; got != want {
		t.Fatalf("Error()=%q, want %q", got, want)
	}
	e = &hub.LineError{Line: 3, Reason: "17 fields, want 18"}
	if got, want := e.Error(), "line 3: 17 fields, want 18"; got != want {
		t.Fatalf("Error()=%q, want %q", got, want)
	}
}

func TestSnapshotReader_CSV(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		r := MustNewReader(t, hub.FormatCSV, csvFile(goodRec("C000001").csv()), opts())
		c, err := r.Next()
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		checkGoodCustomer(t, c, "C000001")
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("Next at end: err=%v, want io.EOF", err)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("Next after end: err=%v, want io.EOF", err)
		}
		if r.Rows() != 1 || r.Errors() != 0 || r.Skipped() != 0 {
			t.Fatalf("rows=%d errors=%d skipped=%d, want 1 0 0", r.Rows(), r.Errors(), r.Skipped())
		}
	})

	t.Run("Variants", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			rec   rec
			check func(t *testing.T, c *huiyan.Customer)
		}{
			{"NeverLoggedIn", goodRec("C1").with("mbank_status", "none", "mbank_idle_days", "", "tags", "mbank_none"), func(t *testing.T, c *huiyan.Customer) {
				if c.MBankIdleDays != -1 {
					t.Fatalf("MBankIdleDays=%d, want -1", c.MBankIdleDays)
				}
			}},
			{"Registered", goodRec("C1").with("mbank_status", "registered", "mbank_idle_days", "", "tags", ""), func(t *testing.T, c *huiyan.Customer) {
				if c.MBankStatus != huiyan.MBankRegistered || c.Tags != nil {
					t.Fatalf("status=%q tags=%v, want registered and no tags", c.MBankStatus, c.Tags)
				}
			}},
			{"ActiveZeroDays", goodRec("C1").with("mbank_status", "active", "mbank_idle_days", "0", "tags", ""), func(t *testing.T, c *huiyan.Customer) {
				if c.MBankIdleDays != 0 {
					t.Fatalf("MBankIdleDays=%d, want 0", c.MBankIdleDays)
				}
			}},
			{"ActiveEightyNine", goodRec("C1").with("mbank_status", "active", "mbank_idle_days", "89", "tags", "mbank_active"), nil},
			{"DormantNinety", goodRec("C1").with("mbank_idle_days", "90"), nil},
			{"OptOut", goodRec("C1").with("opt_out", "1"), func(t *testing.T, c *huiyan.Customer) {
				if !c.OptOut {
					t.Fatal("OptOut=false, want true")
				}
			}},
			{"NoManagerNoBranchesNoMaturities", goodRec("C1").with("manager", "", "branches", "", "maturities", ""), func(t *testing.T, c *huiyan.Customer) {
				if c.Manager != "" || c.Branches != nil || c.Maturities != nil {
					t.Fatalf("manager=%q branches=%v maturities=%v, want empty", c.Manager, c.Branches, c.Maturities)
				}
			}},
			{"PhoneTokenOnly", goodRec("C1").with("idcard_token", "", "bankcard_tokens", "", "mbank_token", "", "phone_token", tok("p")), func(t *testing.T, c *huiyan.Customer) {
				want := []huiyan.Ident{{Kind: huiyan.IdentPhone, KeyID: "k1", Token: tok("p")}}
				if !slices.Equal(c.Tokens, want) {
					t.Fatalf("Tokens=%v, want %v", c.Tokens, want)
				}
			}},
			{"EightBankCards", goodRec("C1").with("bankcard_tokens", tokens("card", 8)), func(t *testing.T, c *huiyan.Customer) {
				if len(c.Tokens) != 10 {
					t.Fatalf("len(Tokens)=%d, want 10", len(c.Tokens))
				}
			}},
			{"MaturityDuplicates", goodRec("C1").with("maturities", "td_1y:2026-12-01;td_1y:2026-12-01;td_3m:2026-12-01"), func(t *testing.T, c *huiyan.Customer) {
				if len(c.Maturities) != 2 || c.Maturities[0].Product != "td_1y" || c.Maturities[1].Product != "td_3m" {
					t.Fatalf("Maturities=%v, want td_1y and td_3m on 2026-12-01", c.Maturities)
				}
			}},
			{"LeapDay", goodRec("C1").with("maturities", "td_1y:2028-02-29"), nil},
			{"DigitsID", goodRec("123456789012").with(), nil},
			{"SixteenDigitsID", goodRec("1234567890123456").with(), nil},
			{"TwoCharName", goodRec("C1").with("display_name", "王*"), nil},
			{"LongName", goodRec("C1").with("display_name", "欧**峰"), nil},
			{"Private", goodRec("C1").with("tier", "private", "aum_band", "aum_6m_plus"), nil},
			{"QuotedFields", nil, nil}, // below
		} {
			t.Run(tt.name, func(t *testing.T) {
				line := ""
				if tt.rec == nil {
					// Every field quoted, as some exporters write them.
					g := goodRec("C000001")
					vals := make([]string, len(columns))
					for i, col := range columns {
						vals[i] = `"` + g[col] + `"`
					}
					line = strings.Join(vals, ",")
				} else {
					line = tt.rec.csv()
				}
				r := MustNewReader(t, hub.FormatCSV, csvFile(line), opts())
				c, err := r.Next()
				if err != nil {
					t.Fatalf("Next: %v", err)
				}
				if tt.rec == nil {
					checkGoodCustomer(t, c, "C000001")
				}
				if tt.check != nil {
					tt.check(t, c)
				}
			})
		}
	})

	t.Run("CRLFAndBOMAndBlankLines", func(t *testing.T) {
		data := "\uFEFF" + hub.SnapshotHeader + "\r\n\r\n" + goodRec("C000001").csv() + "\r\n\n" + goodRec("C2").csv() // no final newline
		r := MustNewReader(t, hub.FormatCSV, data, opts())
		res := readAll(t, r)
		if len(res) != 2 || res[0].err != nil || res[1].err != nil {
			t.Fatalf("got %v, want two customers", res)
		}
		checkGoodCustomer(t, res[0].c, "C000001")
		if r.Rows() != 2 {
			t.Fatalf("Rows=%d, want 2", r.Rows())
		}
	})
}

func tokens(label string, n int) string {
	var s []string
	for i := range n {
		s = append(s, tok(fmt.Sprint(label, i)))
	}
	return strings.Join(s, ";")
}

// checkGoodCustomer checks every field of goodRec(id) as read.
func checkGoodCustomer(t *testing.T, c *huiyan.Customer, id string) {
	t.Helper()
	dict := huiyan.DefaultTagDict()
	var wantTags []int
	for _, code := range []string{"wealth_enthusiast", "fund_sip", "mbank_dormant"} {
		wantTags = append(wantTags, dict.ByCode(code).ID)
	}
	slices.Sort(wantTags)
	switch {
	case c.ID != id:
		t.Fatalf("ID=%q, want %q", c.ID, id)
	case c.DisplayName != "林*华":
		t.Fatalf("DisplayName=%q", c.DisplayName)
	case c.Tier != huiyan.TierGold:
		t.Fatalf("Tier=%q", c.Tier)
	case c.HomeBranch != "B001":
		t.Fatalf("HomeBranch=%q", c.HomeBranch)
	case !slices.Equal(c.Branches, []string{"B002"}):
		t.Fatalf("Branches=%q, want [B002] (deduplicated, without the home branch)", c.Branches)
	case c.Manager != "account-B001":
		t.Fatalf("Manager=%q", c.Manager)
	case c.MBankStatus != huiyan.MBankDormant || c.MBankIdleDays != 120:
		t.Fatalf("MBank=%q %d, want dormant 120", c.MBankStatus, c.MBankIdleDays)
	case c.Risk != "R3" || c.AUMBand != "aum_50k_200k" || c.Lifecycle != huiyan.LifecycleMature || c.OptOut:
		t.Fatalf("risk=%q aum=%q lifecycle=%q optout=%v", c.Risk, c.AUMBand, c.Lifecycle, c.OptOut)
	case !slices.Equal(c.Tags, wantTags):
		t.Fatalf("Tags=%v, want %v (sorted, deduplicated)", c.Tags, wantTags)
	}
	cst := time.FixedZone("CST", 8*3600)
	wantMat := []huiyan.Maturity{
		{Product: "wm_closed_90d", Date: time.Date(2026, 11, 30, 0, 0, 0, 0, cst)},
		{Product: "td_1y", Date: time.Date(2026, 12, 1, 0, 0, 0, 0, cst)},
	}
	if len(c.Maturities) != len(wantMat) {
		t.Fatalf("Maturities=%v, want %v", c.Maturities, wantMat)
	}
	for i, m := range c.Maturities {
		if m.Product != wantMat[i].Product || !m.Date.Equal(wantMat[i].Date) {
			t.Fatalf("Maturities[%d]=%v %v, want %v %v", i, m.Product, m.Date, wantMat[i].Product, wantMat[i].Date)
		}
		if _, off := m.Date.Zone(); off != 8*3600 {
			t.Fatalf("Maturities[%d] zone offset=%d, want +08:00", i, off)
		}
	}
	wantTok := []huiyan.Ident{
		{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: tok("idcard:" + id)},
		{Kind: huiyan.IdentBankCard, KeyID: "k1", Token: tok("card1:" + id)},
		{Kind: huiyan.IdentBankCard, KeyID: "k1", Token: tok("card2:" + id)},
		{Kind: huiyan.IdentMBank, KeyID: "k1", Token: tok("mbank:" + id)},
	}
	if !slices.Equal(c.Tokens, wantTok) {
		t.Fatalf("Tokens=%v, want %v", c.Tokens, wantTok)
	}
}

// badCase is one invalid row: goodRec("C000001") with the changes in mods.
type badCase struct {
	name   string
	mods   []string // column, value, column, value …
	line   string   // instead of mods: the raw CSV line
	field  string
	reason string // a substring of the reason
}

var badCases = []badCase{
	{name: "IDRequired", mods: []string{"customer_id", ""}, field: "customer_id", reason: "required"},
	{name: "IDBadChars", mods: []string{"customer_id", "C 01"}, field: "customer_id", reason: "customer_id must be 1 to 32 characters"},
	{name: "IDTooLong", mods: []string{"customer_id", strings.Repeat("C", 33)}, field: "customer_id", reason: "must be 1 to 32"},
	{name: "IDCard18", mods: []string{"customer_id", "110101199003070011"}, field: "customer_id", reason: "looks like an ID-card number"},
	{name: "IDCard18X", mods: []string{"customer_id", "11010119900307001X"}, field: "customer_id", reason: "looks like an ID-card number"},
	{name: "IDCard15", mods: []string{"customer_id", "110101900307001"}, field: "customer_id", reason: "looks like an ID-card number"},
	{name: "IDToken", mods: []string{"customer_id", tok("x")}, field: "customer_id", reason: "looks like an identity token"},
	{name: "NameRequired", mods: []string{"display_name", ""}, field: "display_name", reason: "required"},
	{name: "NameFull", mods: []string{"display_name", "林小华"}, field: "display_name", reason: "display_name must be masked, e.g. 林*华"},
	{name: "NameFullTwo", mods: []string{"display_name", "王小"}, field: "display_name", reason: "must be masked"},
	{name: "NameLatin", mods: []string{"display_name", "Lin Xiaohua"}, field: "display_name", reason: "must be masked"},
	{name: "NameStarFirst", mods: []string{"display_name", "*华"}, field: "display_name", reason: "must be masked"},
	{name: "TierUnknown", mods: []string{"tier", "silver"}, field: "tier", reason: `unknown tier "silver"`},
	{name: "TierCase", mods: []string{"tier", "Gold"}, field: "tier", reason: `unknown tier "Gold"`},
	{name: "TierRequired", mods: []string{"tier", ""}, field: "tier", reason: "required"},
	{name: "HomeRequired", mods: []string{"home_branch", ""}, field: "home_branch", reason: "required"},
	{name: "HomeBad", mods: []string{"home_branch", "B/01"}, field: "home_branch", reason: `invalid branch id "B/01"`},
	{name: "BranchesBad", mods: []string{"branches", "B002;B 3"}, field: "branches", reason: `invalid branch id "B 3"`},
	{name: "BranchesEmptyItem", mods: []string{"branches", "B002;;B003"}, field: "branches", reason: "empty item"},
	{name: "BranchesTrailingSemicolon", mods: []string{"branches", "B002;"}, field: "branches", reason: "empty item"},
	{name: "ManagerBad", mods: []string{"manager", "li si"}, field: "manager", reason: `invalid staff id "li si"`},
	{name: "StatusUnknown", mods: []string{"mbank_status", "sleeping"}, field: "mbank_status", reason: `unknown mbank_status "sleeping"`},
	{name: "StatusRequired", mods: []string{"mbank_status", ""}, field: "mbank_status", reason: "required"},
	{name: "IdleNegative", mods: []string{"mbank_idle_days", "-1"}, field: "mbank_idle_days", reason: "whole number of days"},
	{name: "IdleText", mods: []string{"mbank_idle_days", "abc"}, field: "mbank_idle_days", reason: "whole number of days"},
	{name: "IdleFraction", mods: []string{"mbank_idle_days", "120.5"}, field: "mbank_idle_days", reason: "whole number of days"},
	{name: "IdleLeadingZero", mods: []string{"mbank_idle_days", "0120"}, field: "mbank_idle_days", reason: "whole number of days"},
	{name: "IdleHuge", mods: []string{"mbank_idle_days", "36501"}, field: "mbank_idle_days", reason: "whole number of days"},
	{name: "DormantTooRecent", mods: []string{"mbank_idle_days", "89"}, field: "mbank_idle_days", reason: "dormant needs at least 90 days, got 89"},
	{name: "DormantNever", mods: []string{"mbank_idle_days", ""}, field: "mbank_idle_days", reason: "dormant needs at least 90 days, got empty"},
	{name: "ActiveTooIdle", mods: []string{"mbank_status", "active", "mbank_idle_days", "90", "tags", ""}, field: "mbank_idle_days", reason: "active needs 0 to 89 days, got 90"},
	{name: "ActiveNever", mods: []string{"mbank_status", "active", "mbank_idle_days", "", "tags", ""}, field: "mbank_idle_days", reason: "active needs"},
	{name: "NoneWithDays", mods: []string{"mbank_status", "none", "mbank_idle_days", "3", "tags", ""}, field: "mbank_idle_days", reason: "must be empty for mbank_status none"},
	{name: "RegisteredWithDays", mods: []string{"mbank_status", "registered", "mbank_idle_days", "3", "tags", ""}, field: "mbank_idle_days", reason: "must be empty for mbank_status registered"},
	{name: "RiskUnknown", mods: []string{"risk", "R6"}, field: "risk", reason: `unknown risk level "R6"`},
	{name: "RiskLower", mods: []string{"risk", "r3"}, field: "risk", reason: `unknown risk level "r3"`},
	{name: "AUMUnknown", mods: []string{"aum_band", "aum_1m"}, field: "aum_band", reason: `unknown aum_band "aum_1m"`},
	{name: "AUMRequired", mods: []string{"aum_band", ""}, field: "aum_band", reason: "required"},
	{name: "LifecycleUnknown", mods: []string{"lifecycle", "retired"}, field: "lifecycle", reason: `unknown lifecycle "retired"`},
	{name: "OptOutEmpty", mods: []string{"opt_out", ""}, field: "opt_out", reason: "must be 0 or 1"},
	{name: "OptOutYes", mods: []string{"opt_out", "yes"}, field: "opt_out", reason: `must be 0 or 1, got "yes"`},
	{name: "OptOutTrueInCSV", mods: []string{"opt_out", "true"}, field: "opt_out", reason: "must be 0 or 1"},
	{name: "TagUnknown", mods: []string{"tags", "fund_sip;no_such_tag"}, field: "tags", reason: `unknown tag "no_such_tag"`},
	{name: "TagEmptyItem", mods: []string{"tags", "fund_sip;;wealth_enthusiast"}, field: "tags", reason: "empty item"},
	{name: "TagStatusContradicts", mods: []string{"tags", "mbank_active"}, field: "tags", reason: `status tag "mbank_active" contradicts mbank_status "dormant"`},
	{name: "MaturityNoColon", mods: []string{"maturities", "td_1y"}, field: "maturities", reason: "must be product_code:YYYY-MM-DD"},
	{name: "MaturityUnknownProduct", mods: []string{"maturities", "gold_bar:2026-01-01"}, field: "maturities", reason: `unknown product "gold_bar"`},
	{name: "MaturityBadDate", mods: []string{"maturities", "td_1y:2026-02-30"}, field: "maturities", reason: "must be a real date"},
	{name: "MaturityShortDate", mods: []string{"maturities", "td_1y:2026-2-3"}, field: "maturities", reason: "must be a real date"},
	{name: "MaturityOtherFormat", mods: []string{"maturities", "td_1y:2026/12/01"}, field: "maturities", reason: "must be a real date"},
	{name: "MaturityNotLeap", mods: []string{"maturities", "td_1y:2027-02-29"}, field: "maturities", reason: "must be a real date"},
	{name: "MaturityMonth13", mods: []string{"maturities", "td_1y:2027-13-01"}, field: "maturities", reason: "must be a real date"},
	{name: "MaturityDay0", mods: []string{"maturities", "td_1y:2027-01-00"}, field: "maturities", reason: "must be a real date"},
	{name: "MaturityOutOfRange", mods: []string{"maturities", "td_1y:0001-01-01"}, field: "maturities", reason: "out of range"},
	{name: "TokenUpper", mods: []string{"idcard_token", strings.ToUpper(tok("a"))}, field: "idcard_token", reason: "must be 64 lower-case hex"},
	{name: "TokenShort", mods: []string{"idcard_token", tok("a")[:63]}, field: "idcard_token", reason: "must be 64 lower-case hex"},
	{name: "TokenRawIDCard", mods: []string{"idcard_token", "110101199003070011"}, field: "idcard_token", reason: "looks like a raw number, not a token"},
	{name: "TokenPhone", mods: []string{"phone_token", "+8613800138000"}, field: "phone_token", reason: "must be 64 lower-case hex"},
	{name: "TokenMBankBad", mods: []string{"mbank_token", "user42"}, field: "mbank_token", reason: "must be 64 lower-case hex"},
	{name: "BankCardBad", mods: []string{"bankcard_tokens", tok("a") + ";6222020200112233445"}, field: "bankcard_tokens", reason: "token 2 looks like a raw number"},
	{name: "BankCardTooMany", mods: []string{"bankcard_tokens", tokens("card", 9)}, field: "bankcard_tokens", reason: "9 tokens, at most 8"},
	{name: "BankCardEmptyItem", mods: []string{"bankcard_tokens", tok("a") + ";"}, field: "bankcard_tokens", reason: "empty item"},
	{name: "TokenRepeatedInList", mods: []string{"bankcard_tokens", tok("a") + ";" + tok("a")}, field: "bankcard_tokens", reason: "token 2 repeats the token in bankcard_tokens"},
	{name: "TokenRepeatedAcrossKinds", mods: []string{"mbank_token", tok("idcard:C000001")}, field: "mbank_token", reason: "repeats the token in idcard_token"},
	{name: "NoToken", mods: []string{"idcard_token", "", "bankcard_tokens", "", "mbank_token", "", "phone_token", ""}, field: "", reason: "no identity token"},
	{name: "FieldCount", line: strings.Repeat("x,", 16) + "x", field: "", reason: "17 fields, want 18"},
	{name: "FieldCountMore", line: goodRec("C000001").csv() + ",", field: "", reason: "19 fields, want 18"},
	{name: "BareQuote", line: `C000001,林"华` + strings.Repeat(",", 16), field: "display_name", reason: `bare "`},
	{name: "UnclosedQuote", line: `C000001,"林*华` + strings.Repeat(",", 16), field: "display_name", reason: "quoted field not closed"},
	{name: "AfterQuote", line: `C000001,"林*华"x` + strings.Repeat(",", 16), field: "display_name", reason: "extraneous character"},
}

func TestSnapshotReader_Validation(t *testing.T) {
	next := goodRec("C000002").csv()
	for _, tt := range badCases {
		t.Run(tt.name, func(t *testing.T) {
			line := tt.line
			if line == "" {
				line = goodRec("C000001").with(tt.mods...).csv()
			}
			r := MustNewReader(t, hub.FormatCSV, csvFile(line, next), opts())
			checkBadThenGood(t, r, tt)
		})
	}
}

// checkBadThenGood reads a bad row on line 2 and the good row C000002 after it.
func checkBadThenGood(t *testing.T, r *hub.SnapshotReader, tt badCase) {
	t.Helper()
	c, err := r.Next()
	var le *hub.LineError
	if !errors.As(err, &le) {
		t.Fatalf("Next: customer=%v err=%v, want a *LineError", c, err)
	}
	if c != nil {
		t.Fatalf("Next: customer=%v with a LineError, want nil", c)
	}
	if le.Line != 2 || le.Field != tt.field || !strings.Contains(le.Reason, tt.reason) {
		t.Fatalf("LineError=%q (line=%d field=%q), want line 2 field %q reason containing %q", le, le.Line, le.Field, tt.field, tt.reason)
	}
	// The reader goes on after a bad row.
	c, err = r.Next()
	if err != nil || c.ID != "C000002" {
		t.Fatalf("Next after the bad row: customer=%v err=%v, want C000002", c, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next at end: err=%v, want io.EOF", err)
	}
	if r.Rows() != 2 || r.Errors() != 1 || r.Skipped() != 0 {
		t.Fatalf("rows=%d errors=%d skipped=%d, want 2 1 0", r.Rows(), r.Errors(), r.Skipped())
	}
}

func TestSnapshotReader_NoCustomerDataInReasons(t *testing.T) {
	// Reasons reach reports and logs: a full name, an identity number or
	// a customer id must never be echoed.
	secrets := []string{"林小华", "110101199003070011", "6222020200112233445"}
	for _, tt := range badCases {
		if tt.line != "" {
			continue
		}
		line := goodRec("C000001").with(tt.mods...).csv()
		r := MustNewReader(t, hub.FormatCSV, csvFile(line), opts())
		_, err := r.Next()
		if err == nil {
			t.Fatalf("%s: no error", tt.name)
		}
		for _, s := range append(secrets, "C000001") {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q echoes customer data %q", tt.name, err, s)
			}
		}
	}
}

func TestNewSnapshotReader(t *testing.T) {
	row := goodRec("C1").csv() + "\n"
	swap := strings.Replace(hub.SnapshotHeader, "tier,home_branch", "home_branch,tier", 1)
	for _, tt := range []struct {
		name string
		data string
		err  string // "" for OK
	}{
		{name: "OK", data: hub.SnapshotHeader + "\n" + row},
		{name: "OKHeaderOnly", data: hub.SnapshotHeader},
		{name: "OKQuotedHeader", data: `"customer_id",` + strings.TrimPrefix(hub.SnapshotHeader, "customer_id,") + "\n" + row},
		{name: "ErrWrongColumn", data: strings.Replace(hub.SnapshotHeader, "tier", "level", 1) + "\n" + row, err: `line 1: header column 3 is "level", want "tier"`},
		{name: "ErrSwappedColumns", data: swap + "\n", err: `header column 3 is "home_branch", want "tier"`},
		{name: "ErrMissingColumn", data: strings.TrimSuffix(hub.SnapshotHeader, ",phone_token") + "\n", err: `header column 18 is missing, want "phone_token"`},
		{name: "ErrExtraColumn", data: hub.SnapshotHeader + ",email\n", err: `header has 19 columns, want 18: unexpected column 19 "email"`},
		{name: "ErrUpperCase", data: strings.ToUpper(hub.SnapshotHeader) + "\n", err: `header column 1 is not a column name, want "customer_id"`},
		{name: "ErrNoHeader", data: row, err: `header column 1 is not a column name, want "customer_id"`},
		{name: "ErrSemicolons", data: strings.ReplaceAll(hub.SnapshotHeader, ",", ";") + "\n", err: `header column 1 is not a column name`},
		{name: "ErrBadQuote", data: `"customer_id,` + "\n", err: `header column 1: quoted field not closed`},
		{name: "ErrEmpty", data: "", err: "line 1: empty file, want the header customer_id,"},
		{name: "ErrBlank", data: "\n\r\n", err: "line 1: empty file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := hub.NewSnapshotReader(strings.NewReader(tt.data), hub.FormatCSV, huiyan.DefaultTagDict(), opts())
			if tt.err == "" {
				if err != nil {
					t.Fatalf("NewSnapshotReader: %v", err)
				}
				readAll(t, r)
				if r.Errors() != 0 {
					t.Fatalf("Errors=%d, want 0", r.Errors())
				}
				return
			}
			var le *hub.LineError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("NewSnapshotReader: err=%v, want a *LineError containing %q", err, tt.err)
			}
		})
	}
	t.Run("OKEmptyJSONL", func(t *testing.T) {
		r := MustNewReader(t, hub.FormatJSONL, "", opts())
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("Next: err=%v, want io.EOF", err)
		}
	})
}

func TestNewSnapshotReader_Options(t *testing.T) {
	dict := huiyan.DefaultTagDict()
	for _, tt := range []struct {
		name   string
		format hub.Format
		dict   *huiyan.TagDict
		opts   hub.SnapshotOptions
		err    string
	}{
		{"ErrNoKeyID", hub.FormatCSV, dict, hub.SnapshotOptions{}, "key id"},
		{"ErrKeyIDSpace", hub.FormatCSV, dict, hub.SnapshotOptions{KeyID: "k 1"}, "key id"},
		{"ErrBranchFilter", hub.FormatCSV, dict, hub.SnapshotOptions{KeyID: "k1", Branch: "B 1"}, "invalid branch filter"},
		{"ErrNoDict", hub.FormatCSV, nil, opts(), "no tag dictionary"},
		{"ErrFormat", hub.FormatUnknown, dict, opts(), "unknown format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hub.NewSnapshotReader(strings.NewReader(hub.SnapshotHeader+"\n"), tt.format, tt.dict, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("NewSnapshotReader: err=%v, want one containing %q", err, tt.err)
			}
		})
	}
}

func TestSnapshotReader_Duplicates(t *testing.T) {
	a := goodRec("C000001")
	t.Run("ErrDuplicateID", func(t *testing.T) {
		b := goodRec("C000002").with("customer_id", "C000001")
		r := MustNewReader(t, hub.FormatCSV, csvFile(a.csv(), b.csv()), opts())
		res := readAll(t, r)
		if len(res) != 2 || res[0].err != nil {
			t.Fatalf("got %v, want one customer and one error", res)
		}
		if e := res[1].err; e == nil || e.Line != 3 || e.Field != "customer_id" || e.Reason != "duplicate customer_id (first on line 2)" {
			t.Fatalf("second row: %v, want line 3 duplicate customer_id (first on line 2)", e)
		}
	})
	t.Run("ErrTokenOfAnotherCustomer", func(t *testing.T) {
		b := goodRec("C000002").with("phone_token", tok("card2:C000001"))
		r := MustNewReader(t, hub.FormatCSV, csvFile(a.csv(), b.csv()), opts())
		res := readAll(t, r)
		if e := res[1].err; e == nil || e.Line != 3 || e.Field != "phone_token" || !strings.Contains(e.Reason, "belongs to the customer on line 2") {
			t.Fatalf("second row: %v, want line 3 phone_token belongs to the customer on line 2", e)
		}
	})
	t.Run("RefusedRowDoesNotCount", func(t *testing.T) {
		bad := a.with("tier", "silver")
		r := MustNewReader(t, hub.FormatCSV, csvFile(bad.csv(), a.csv()), opts())
		res := readAll(t, r)
		if len(res) != 2 || res[0].err == nil || res[1].err != nil {
			t.Fatalf("got %v, want an error then a customer", res)
		}
	})
	t.Run("ErrAfterGrowth", func(t *testing.T) {
		// Enough rows to grow the duplicate sets several times.
		const n = 5000
		data := manyRows(hub.FormatCSV, n) + goodRec("C009999").with("mbank_token", tok("mbank:C000017")).csv() + "\n" + goodRec("C000123").csv() + "\n"
		r := MustNewReader(t, hub.FormatCSV, data, opts())
		res := readAll(t, r)
		if len(res) != n+2 || r.Errors() != 2 {
			t.Fatalf("got %d results, %d errors, want %d and 2", len(res), r.Errors(), n+2)
		}
		if e := res[n].err; e == nil || e.Field != "mbank_token" || e.Reason != "token already belongs to the customer on line 19" {
			t.Fatalf("row %d: %v, want mbank_token belongs to the customer on line 19", n+2, e)
		}
		if e := res[n+1].err; e == nil || e.Line != n+3 || e.Reason != "duplicate customer_id (first on line 125)" {
			t.Fatalf("row %d: %v, want duplicate customer_id (first on line 125)", n+3, e)
		}
	})
	t.Run("SkipDuplicateCheck", func(t *testing.T) {
		o := opts()
		o.SkipDuplicateCheck = true
		r := MustNewReader(t, hub.FormatCSV, csvFile(a.csv(), a.csv()), o)
		res := readAll(t, r)
		if len(res) != 2 || res[0].err != nil || res[1].err != nil {
			t.Fatalf("got %v, want two customers", res)
		}
	})
}

func TestSnapshotReader_BranchFilter(t *testing.T) {
	home := goodRec("C1").with("home_branch", "B001", "branches", "")
	cached := goodRec("C2").with("home_branch", "B002", "branches", "B009;B001")
	other := goodRec("C3").with("home_branch", "B002", "branches", "B0011")
	otherBad := goodRec("C4").with("home_branch", "B003", "branches", "", "tier", "silver")
	prefix := goodRec("C5").with("home_branch", "B00", "branches", "")
	short := strings.Repeat("x,", 16) + "x"
	for _, format := range []hub.Format{hub.FormatCSV, hub.FormatJSONL} {
		t.Run(format.String(), func(t *testing.T) {
			var data string
			if format == hub.FormatCSV {
				data = csvFile(home.csv(), other.csv(), cached.csv(), otherBad.csv(), short, prefix.csv())
			} else {
				data = strings.Join([]string{home.json(), other.json(), cached.json(), otherBad.json(), "[1]", prefix.json()}, "\n")
			}
			o := opts()
			o.Branch = "B001"
			r := MustNewReader(t, format, data, o)
			var ids []string
			var errs []*hub.LineError
			for c, err := range r.All() {
				if err != nil {
					var le *hub.LineError
					if !errors.As(err, &le) {
						t.Fatalf("fatal error %v", err)
					}
					errs = append(errs, le)
					continue
				}
				ids = append(ids, c.ID)
			}
			if !slices.Equal(ids, []string{"C1", "C2"}) {
				t.Fatalf("customers=%v, want [C1 C2]", ids)
			}
			if len(errs) != 1 || errs[0].Line != 6-btoi(format == hub.FormatJSONL) {
				t.Fatalf("errors=%v, want one: the malformed line, whatever its branch", errs)
			}
			if r.Rows() != 6 || r.Skipped() != 3 || r.Errors() != 1 {
				t.Fatalf("rows=%d skipped=%d errors=%d, want 6 3 1", r.Rows(), r.Skipped(), r.Errors())
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSnapshotReader_LineLength(t *testing.T) {
	// A valid row of exactly n bytes: duplicate tags are allowed (and
	// removed), and the id takes up the remainder.
	rowOfLen := func(n int) string {
		base := goodRec("C").with("tags", "fund_sip").csv()
		pad := n - len(base)
		k := pad / len(";fund_sip")
		for ; k >= 0; k-- {
			rest := pad - k*len(";fund_sip")
			if rest <= 31 {
				return goodRec("C"+strings.Repeat("0", rest)).with("tags", "fund_sip"+strings.Repeat(";fund_sip", k)).csv()
			}
		}
		panic("cannot pad")
	}
	for _, tt := range []struct {
		name    string
		n       int
		ending  string
		tooLong bool
	}{
		{"OKAtLimit", hub.MaxLineBytes, "\n", false},
		{"OKAtLimitCRLF", hub.MaxLineBytes, "\r\n", false},
		{"ErrOneOver", hub.MaxLineBytes + 1, "\n", true},
		{"ErrOneOverCRLF", hub.MaxLineBytes + 1, "\r\n", true},
		{"ErrHuge", 5 * hub.MaxLineBytes, "\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			row := rowOfLen(tt.n)
			if len(row) != tt.n {
				t.Fatalf("test row is %d bytes, want %d", len(row), tt.n)
			}
			data := hub.SnapshotHeader + tt.ending + row + tt.ending + goodRec("C000002").csv() + tt.ending
			r := MustNewReader(t, hub.FormatCSV, data, opts())
			res := readAll(t, r)
			if len(res) != 2 || res[1].err != nil || res[1].c.ID != "C000002" {
				t.Fatalf("got %v, want the long row then C000002", res)
			}
			if tt.tooLong {
				if e := res[0].err; e == nil || e.Line != 2 || e.Field != "" || e.Reason != "line longer than 65536 bytes" {
					t.Fatalf("long row: %v, want line 2: line longer than 65536 bytes", e)
				}
			} else if res[0].err != nil {
				t.Fatalf("row at the limit: %v, want a customer", res[0].err)
			}
		})
	}
	t.Run("ErrHeaderTooLong", func(t *testing.T) {
		data := strings.Repeat("x", hub.MaxLineBytes+1) + "\n"
		_, err := hub.NewSnapshotReader(strings.NewReader(data), hub.FormatCSV, huiyan.DefaultTagDict(), opts())
		if err == nil || !strings.Contains(err.Error(), "header longer than") {
			t.Fatalf("err=%v, want header longer than", err)
		}
	})
	t.Run("ErrJSONLTooLong", func(t *testing.T) {
		long := `{"customer_id":"` + strings.Repeat("x", hub.MaxLineBytes) + `"}`
		r := MustNewReader(t, hub.FormatJSONL, long+"\n"+goodRec("C000002").json()+"\n", opts())
		res := readAll(t, r)
		if len(res) != 2 || res[0].err == nil || res[0].err.Line != 1 || res[1].err != nil {
			t.Fatalf("got %v, want line 1 too long then a customer", res)
		}
	})
}

func TestSnapshotReader_JSONL(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		g := goodRec("C000001")
		// The same row with lists as ;-strings, opt_out as a number.
		m := map[string]any{}
		for k, v := range g {
			m[k] = v
		}
		m["customer_id"] = "C000002"
		m["idcard_token"] = tok("idcard:C000002")
		m["bankcard_tokens"] = tok("card1:C000002") + ";" + tok("card2:C000002")
		m["mbank_token"] = tok("mbank:C000002")
		m["mbank_idle_days"] = 120
		m["opt_out"] = 0
		delete(m, "phone_token") // missing is empty
		b, _ := json.Marshal(m)
		data := "\uFEFF" + g.json() + "\r\n\n" + string(b) + "\n"
		r := MustNewReader(t, hub.FormatJSONL, data, opts())
		res := readAll(t, r)
		if len(res) != 2 || res[0].err != nil || res[1].err != nil {
			t.Fatalf("got %v, want two customers", res)
		}
		checkGoodCustomer(t, res[0].c, "C000001")
		checkGoodCustomer(t, res[1].c, "C000002")
	})
	t.Run("OKNullsAndBools", func(t *testing.T) {
		line := goodRec("C1").with("mbank_status", "none", "mbank_idle_days", "", "tags", "", "opt_out", "1").json()
		line = strings.Replace(line, `"manager":"account-B001"`, `"manager":null`, 1)
		r := MustNewReader(t, hub.FormatJSONL, line, opts())
		c, err := r.Next()
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if c.MBankIdleDays != -1 || !c.OptOut || c.Manager != "" {
			t.Fatalf("idle=%d optout=%v manager=%q, want -1 true empty", c.MBankIdleDays, c.OptOut, c.Manager)
		}
	})
	t.Run("OKEscapesAndWhitespace", func(t *testing.T) {
		line := goodRec("C1").json()
		line = strings.Replace(line, `"林*华"`, `"\u6797*\u534e"`, 1)
		line = strings.Replace(line, `"tier":`, `"\u0074ier":`, 1)
		line = strings.Replace(line, `"B002"`, `"B\u0030\u0030\u0032"`, 1)
		line = strings.ReplaceAll(line, `,"`, " ,\t\"")
		line = strings.ReplaceAll(line, `":`, `" :  `)
		line = "  " + strings.Replace(line, "{", "{ ", 1) + " \t"
		r := MustNewReader(t, hub.FormatJSONL, line, opts())
		c, err := r.Next()
		if err != nil || c.DisplayName != "林*华" || c.Tier != huiyan.TierGold || !slices.Equal(c.Branches, []string{"B002"}) {
			t.Fatalf("Next: %v %v, want 林*华 gold [B002]", c, err)
		}
	})
	t.Run("OKEmptyObjectIsABadRow", func(t *testing.T) {
		r := MustNewReader(t, hub.FormatJSONL, "{}\n", opts())
		_, err := r.Next()
		var le *hub.LineError
		if !errors.As(err, &le) || le.Field != "customer_id" || le.Reason != "required" {
			t.Fatalf("Next: %v, want customer_id required", err)
		}
	})

	good := goodRec("C000001").json()
	set := func(field, raw string) string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(good), &m); err != nil {
			panic(err)
		}
		m[field] = json.RawMessage(raw)
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	for _, tt := range []badCase{
		{name: "NotAnObject", line: `[1,2]`, reason: "not a JSON object"},
		{name: "InvalidJSON", line: `{"customer_id":"C1",`, reason: "invalid JSON"},
		{name: "UnknownField", line: set("email", `"x@example.com"`), reason: `unknown field "email"`},
		{name: "FieldCase", line: set("Tier", `"gold"`), reason: `unknown field "Tier"`},
		{name: "IDNumber", line: set("customer_id", `12345`), field: "customer_id", reason: "must be a JSON string"},
		{name: "IdleString", line: set("mbank_idle_days", `"120"`), field: "mbank_idle_days", reason: "must be a JSON integer"},
		{name: "IdleFraction", line: set("mbank_idle_days", `120.5`), field: "mbank_idle_days", reason: "whole number of days"},
		{name: "IdleExponent", line: set("mbank_idle_days", `1.2e2`), field: "mbank_idle_days", reason: "whole number of days"},
		{name: "IdleNegative", line: set("mbank_idle_days", `-3`), field: "mbank_idle_days", reason: "whole number of days"},
		{name: "OptOutString", line: set("opt_out", `"1"`), field: "opt_out", reason: "must be 0, 1, false or true"},
		{name: "OptOutTwo", line: set("opt_out", `2`), field: "opt_out", reason: "must be 0 or 1"},
		{name: "OptOutMissing", line: strings.Replace(good, `"opt_out":false,`, "", 1), field: "opt_out", reason: "must be 0 or 1"},
		{name: "TagsNumbers", line: set("tags", `[1,2]`), field: "tags", reason: "must be a JSON array of strings"},
		{name: "TagsObject", line: set("tags", `{"a":1}`), field: "tags", reason: "must be a JSON array of strings"},
		{name: "TagsItemWithSemicolon", line: set("tags", `["fund_sip;wealth_enthusiast"]`), field: "tags", reason: "item 1 is empty or contains ';'"},
		{name: "TagsEmptyItem", line: set("tags", `["fund_sip",""]`), field: "tags", reason: "item 2 is empty"},
		{name: "TagUnknown", line: set("tags", `["no_such_tag"]`), field: "tags", reason: `unknown tag "no_such_tag"`},
		{name: "NameFull", line: set("display_name", `"林小华"`), field: "display_name", reason: "must be masked"},
		{name: "TierBool", line: set("tier", `true`), field: "tier", reason: "must be a JSON string"},
		{name: "NestedArray", line: set("tags", `[["fund_sip"]]`), field: "tags", reason: "must be a JSON array of strings"},
		{name: "TierObject", line: set("tier", `{"x":"gold"}`), field: "tier", reason: "must be a JSON string"},
		{name: "TierArray", line: set("tier", `["gold"]`), field: "tier", reason: "must be a JSON string"},
		{name: "TierNumber", line: set("tier", `1`), field: "tier", reason: "must be a JSON string"},
		{name: "EscapedQuoteInName", line: set("display_name", `"林\"华"`), field: "display_name", reason: "must be masked"},
		{name: "DuplicateField", line: strings.Replace(good, `{`, `{"tier":"gold",`, 1), field: "tier", reason: "field given twice"},
		{name: "TrailingGarbage", line: good + ` x`, reason: "invalid JSON at byte"},
		{name: "TwoObjects", line: good + good, reason: "want the end of the line after the object"},
		{name: "TrailingComma", line: strings.TrimSuffix(good, "}") + ",}", reason: "want a field name"},
		{name: "MissingColon", line: strings.Replace(good, `"tier":`, `"tier" `, 1), reason: "want ':'"},
		{name: "MissingComma", line: strings.Replace(good, `,"tier":`, ` "tier":`, 1), reason: "want ',' or '}'"},
		{name: "Truncated", line: good[:len(good)/2], reason: "invalid JSON"},
		{name: "ControlCharInString", line: strings.Replace(good, `"林*华"`, "\"林\t华\"", 1), reason: "invalid JSON"},
		{name: "BadEscape", line: strings.Replace(good, `"林*华"`, `"林\x华"`, 1), reason: "invalid JSON"},
		{name: "ShortUnicodeEscape", line: strings.Replace(good, `"林*华"`, `"林\u12"`, 1), reason: "invalid JSON"},
		{name: "NumberLeadingZero", line: strings.Replace(good, `"mbank_idle_days":120`, `"mbank_idle_days":0120`, 1), reason: "invalid JSON"},
		{name: "NumberNoDigits", line: strings.Replace(good, `"mbank_idle_days":120`, `"mbank_idle_days":-`, 1), reason: "invalid JSON"},
		{name: "NumberDot", line: strings.Replace(good, `"mbank_idle_days":120`, `"mbank_idle_days":120.`, 1), reason: "invalid JSON"},
		{name: "BadLiteral", line: strings.Replace(good, `"opt_out":false`, `"opt_out":fals`, 1), reason: "invalid JSON"},
		{name: "Bareword", line: strings.Replace(good, `"tier":"gold"`, `"tier":gold`, 1), reason: "invalid JSON"},
		{name: "UnterminatedList", line: strings.Replace(good, `"tags":[`, `"tags":["fund_sip" `, 1), reason: "invalid JSON"},
		{name: "BankCardsArrayTooMany", line: set("bankcard_tokens", `["`+strings.ReplaceAll(tokens("c", 9), ";", `","`)+`"]`), field: "bankcard_tokens", reason: "9 tokens, at most 8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := "\n" + tt.line + "\n" + goodRec("C000002").json() + "\n" // line 1 blank
			r := MustNewReader(t, hub.FormatJSONL, data, opts())
			checkBadThenGood(t, r, tt)
		})
	}
}

func TestDetectFormat(t *testing.T) {
	for _, tt := range []struct {
		name   string
		format hub.Format
		gz     bool
	}{
		{"tags.csv", hub.FormatCSV, false},
		{"/data/TAGS.CSV", hub.FormatCSV, false},
		{"tags.csv.gz", hub.FormatCSV, true},
		{"tags.CSV.GZ", hub.FormatCSV, true},
		{"tags.jsonl", hub.FormatJSONL, false},
		{"tags.jsonl.gz", hub.FormatJSONL, true},
		{"tags.ndjson", hub.FormatJSONL, false},
		{"tags.ndjson.gz", hub.FormatJSONL, true},
		{"tags.json", hub.FormatUnknown, false},
		{"tags.gz", hub.FormatUnknown, false},
		{"tags.csv.zip", hub.FormatUnknown, false},
		{"csv", hub.FormatUnknown, false},
	} {
		f, gz := hub.DetectFormat(tt.name)
		if f != tt.format || gz != tt.gz {
			t.Errorf("DetectFormat(%q)=%v,%v, want %v,%v", tt.name, f, gz, tt.format, tt.gz)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]hub.Format{"csv": hub.FormatCSV, "CSV": hub.FormatCSV, "jsonl": hub.FormatJSONL, "ndjson": hub.FormatJSONL} {
		if f, err := hub.ParseFormat(s); err != nil || f != want {
			t.Errorf("ParseFormat(%q)=%v,%v, want %v", s, f, err, want)
		}
	}
	if _, err := hub.ParseFormat("xlsx"); err == nil {
		t.Error("ParseFormat(xlsx): no error")
	}
}

func gzipBytes(tb testing.TB, s string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// manyRows returns n valid rows in the format.
func manyRows(format hub.Format, n int) string {
	var b strings.Builder
	if format == hub.FormatCSV {
		b.WriteString(hub.SnapshotHeader + "\n")
	}
	for i := range n {
		r := goodRec(fmt.Sprintf("C%06d", i))
		if format == hub.FormatCSV {
			b.WriteString(r.csv())
		} else {
			b.WriteString(r.json())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestOpenSnapshotFile(t *testing.T) {
	csvData := manyRows(hub.FormatCSV, 3)
	jsonData := manyRows(hub.FormatJSONL, 3)
	for _, tt := range []struct {
		name   string
		data   []byte
		format hub.Format
	}{
		{"tags.csv", []byte(csvData), hub.FormatCSV},
		{"tags.csv.gz", gzipBytes(t, csvData), hub.FormatCSV},
		{"tags.csv", gzipBytes(t, csvData), hub.FormatCSV}, // lost its .gz
		{"tags.jsonl", []byte(jsonData), hub.FormatJSONL},
		{"tags.jsonl.gz", gzipBytes(t, jsonData), hub.FormatJSONL},
		{"tags.ndjson.gz", gzipBytes(t, jsonData), hub.FormatJSONL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, format, err := hub.OpenSnapshotFile(writeFile(t, tt.name, tt.data))
			if err != nil {
				t.Fatalf("OpenSnapshotFile: %v", err)
			}
			defer f.Close()
			if format != tt.format {
				t.Fatalf("format=%v, want %v", format, tt.format)
			}
			r, err := hub.NewSnapshotReader(f, format, huiyan.DefaultTagDict(), opts())
			if err != nil {
				t.Fatalf("NewSnapshotReader: %v", err)
			}
			res := readAll(t, r)
			if len(res) != 3 || res[2].err != nil || res[2].c.ID != "C000002" {
				t.Fatalf("got %v, want 3 customers", res)
			}
			if err := f.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}

	for _, tt := range []struct {
		name string
		path string
		data []byte
		err  string
	}{
		{"ErrUnknownExtension", "tags.xlsx", []byte("x"), "unknown format"},
		{"ErrNotGzip", "tags.csv.gz", []byte(csvData), "gzip"},
		{"ErrEmptyGzip", "tags.csv.gz", nil, "empty file"},
		{"ErrMissing", "", nil, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "missing.csv")
			if tt.path != "" {
				path = writeFile(t, tt.path, tt.data)
			}
			f, _, err := hub.OpenSnapshotFile(path)
			if err == nil {
				f.Close()
				t.Fatal("OpenSnapshotFile: no error")
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err=%v, want one containing %q", err, tt.err)
			}
		})
	}
}

func TestSnapshotReader_FatalErrors(t *testing.T) {
	// A truncated gzip stream must end the import with an error, never
	// look like a shorter file.
	checkFatal := func(t *testing.T, r *hub.SnapshotReader, target error) {
		t.Helper()
		var err error
		n := 0
		for {
			_, err = r.Next()
			var le *hub.LineError
			if err == nil || errors.As(err, &le) {
				n++
				continue
			}
			break
		}
		if err == io.EOF {
			t.Fatalf("Next: io.EOF after %d rows, want a fatal error", n)
		}
		if !errors.Is(err, target) {
			t.Fatalf("Next: err=%v, want %v", err, target)
		}
		if _, err2 := r.Next(); err2 != err {
			t.Fatalf("Next after a fatal error: %v, want the same error again", err2)
		}
	}
	for _, format := range []hub.Format{hub.FormatCSV, hub.FormatJSONL} {
		gz := gzipBytes(t, manyRows(format, 2000))
		t.Run("TruncatedGzip/"+format.String(), func(t *testing.T) {
			for _, cut := range []int{len(gz) / 2, len(gz) - 4} { // mid-stream and in the trailer
				f, fmtGot, err := hub.OpenSnapshotFile(writeFile(t, "tags."+format.String()+".gz", gz[:cut]))
				if err != nil {
					t.Fatalf("OpenSnapshotFile: %v", err)
				}
				r, err := hub.NewSnapshotReader(f, fmtGot, huiyan.DefaultTagDict(), opts())
				if err != nil {
					t.Fatalf("NewSnapshotReader: %v", err)
				}
				checkFatal(t, r, io.ErrUnexpectedEOF)
				f.Close()
			}
		})
		t.Run("CorruptGzip/"+format.String(), func(t *testing.T) {
			bad := bytes.Clone(gz)
			bad[len(bad)-6] ^= 0xff // the CRC-32 in the trailer
			zr, err := gzip.NewReader(bytes.NewReader(bad))
			if err != nil {
				t.Fatal(err)
			}
			r, err := hub.NewSnapshotReader(zr, format, huiyan.DefaultTagDict(), opts())
			if err != nil {
				t.Fatalf("NewSnapshotReader: %v", err)
			}
			checkFatal(t, r, gzip.ErrChecksum)
		})
	}
	t.Run("ReadError", func(t *testing.T) {
		boom := errors.New("disk on fire")
		src := io.MultiReader(strings.NewReader(manyRows(hub.FormatCSV, 2)), &errReader{boom})
		r, err := hub.NewSnapshotReader(src, hub.FormatCSV, huiyan.DefaultTagDict(), opts())
		if err != nil {
			t.Fatalf("NewSnapshotReader: %v", err)
		}
		checkFatal(t, r, boom)
	})
	t.Run("ReadErrorInHeader", func(t *testing.T) {
		boom := errors.New("disk on fire")
		src := io.MultiReader(strings.NewReader("customer_id,disp"), &errReader{boom})
		_, err := hub.NewSnapshotReader(src, hub.FormatCSV, huiyan.DefaultTagDict(), opts())
		if !errors.Is(err, boom) {
			t.Fatalf("NewSnapshotReader: err=%v, want %v", err, boom)
		}
	})
	t.Run("AllStopsAtFatal", func(t *testing.T) {
		boom := errors.New("disk on fire")
		src := io.MultiReader(strings.NewReader(manyRows(hub.FormatCSV, 2)+"bad\n"), &errReader{boom})
		r, _ := hub.NewSnapshotReader(src, hub.FormatCSV, huiyan.DefaultTagDict(), opts())
		var got []string
		for c, err := range r.All() {
			switch {
			case c != nil:
				got = append(got, c.ID)
			case errors.Is(err, boom):
				got = append(got, "fatal")
			default:
				got = append(got, "line "+strconv.Itoa(err.(*hub.LineError).Line))
			}
		}
		if want := []string{"C000000", "C000001", "line 4", "fatal"}; !slices.Equal(got, want) {
			t.Fatalf("All gave %v, want %v", got, want)
		}
	})
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

// rowGen generates distinct CSV rows on the fly, so that a benchmark of
// any length reads unique ids and tokens without holding the file.
type rowGen struct {
	tmpl []byte // one row and its newline
	offs []int  // where the 8-hex-digit counters go
	n    uint32
	buf  []byte
}

func newRowGen() *rowGen {
	r := goodRec("C").with(
		"customer_id", "C00000000",
		"idcard_token", "00000000"+tok("a")[8:],
		"bankcard_tokens", "00000000"+tok("b")[8:],
		"mbank_token", "00000000"+tok("c")[8:],
	)
	line := r.csv() + "\n"
	g := &rowGen{tmpl: []byte(line)}
	g.offs = append(g.offs, 1) // after the C
	for _, col := range []string{"idcard_token", "bankcard_tokens", "mbank_token"} {
		g.offs = append(g.offs, strings.Index(line, r[col]))
	}
	return g
}

func (g *rowGen) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) {
		row := g.tmpl
		start := len(g.buf)
		g.buf = append(g.buf, row...)
		for _, off := range g.offs {
			hex.Encode(g.buf[start+off:start+off+8], []byte{byte(g.n >> 24), byte(g.n >> 16), byte(g.n >> 8), byte(g.n)})
		}
		g.n++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return n, nil
}

func BenchmarkSnapshotReaderCSV(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts hub.SnapshotOptions
	}{
		{"DuplicateCheck", hub.SnapshotOptions{KeyID: "k1"}},
		{"SkipDuplicateCheck", hub.SnapshotOptions{KeyID: "k1", SkipDuplicateCheck: true}},
		{"OtherBranch", hub.SnapshotOptions{KeyID: "k1", Branch: "B777"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := newRowGen()
			var rows io.Reader = g
			if bc.opts.Branch != "" {
				rows = &limitedGen{g: g, left: b.N}
			}
			src := io.MultiReader(strings.NewReader(hub.SnapshotHeader+"\n"), rows)
			r, err := hub.NewSnapshotReader(src, hub.FormatCSV, huiyan.DefaultTagDict(), bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(g.tmpl)))
			b.ReportAllocs()
			b.ResetTimer()
			if bc.opts.Branch != "" {
				// Every row is skipped: one Next reads them all.
				if _, err := r.Next(); err != io.EOF {
					b.Fatalf("Next: %v", err)
				}
				if r.Skipped() != b.N {
					b.Fatalf("skipped %d, want %d", r.Skipped(), b.N)
				}
			} else {
				for range b.N {
					if _, err := r.Next(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// limitedGen ends a rowGen after a number of rows.
type limitedGen struct {
	g    *rowGen
	left int
	cur  []byte
}

func (l *limitedGen) Read(p []byte) (int, error) {
	if len(l.cur) == 0 {
		if l.left == 0 {
			return 0, io.EOF
		}
		row := make([]byte, len(l.g.tmpl))
		if _, err := io.ReadFull(l.g, row); err != nil {
			return 0, err
		}
		l.cur = row
		l.left--
	}
	n := copy(p, l.cur)
	l.cur = l.cur[n:]
	return n, nil
}

func BenchmarkSnapshotReaderJSONL(b *testing.B) {
	line := goodRec("C1").json() + "\n"
	o := hub.SnapshotOptions{KeyID: "k1", SkipDuplicateCheck: true}
	src := &repeatReader{line: []byte(line)}
	r, err := hub.NewSnapshotReader(src, hub.FormatJSONL, huiyan.DefaultTagDict(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// repeatReader repeats one line forever.
type repeatReader struct {
	line []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}

// TestSnapshotReader_Spill: with SpillDir the duplicate checks find the
// same bad lines as in memory, reported after the last row; IDs lists the
// accepted ids in order; Close leaves nothing behind.
func TestSnapshotReader_Spill(t *testing.T) {
	a := goodRec("C000001")
	const n = 3000
	big := manyRows(hub.FormatCSV, n) +
		goodRec("C009999").with("mbank_token", tok("mbank:C000017")).csv() + "\n" +
		goodRec("C000123").csv() + "\n" +
		goodRec("C000123").csv() + "\n" // its id and its tokens all come a third time
	for _, tt := range []struct {
		name   string
		data   string
		memory int // SpillMemory: small enough to spill the big file in many runs
	}{
		{"OK", csvFile(a.csv(), goodRec("C000002").csv()), 0},
		{"ErrDuplicateID", csvFile(a.csv(), goodRec("C000002").with("customer_id", "C000001").csv()), 0},
		{"ErrTokenOfAnotherCustomer", csvFile(a.csv(), goodRec("C000002").with("phone_token", tok("card2:C000001")).csv()), 0},
		{"ErrRefusedRowDoesNotCount", csvFile(a.with("tier", "silver").csv(), a.csv()), 0},
		{"ErrManyRuns", big, 16 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := readAll(t, MustNewReader(t, hub.FormatCSV, tt.data, opts()))
			o := opts()
			o.SpillDir, o.SpillMemory = t.TempDir(), tt.memory
			r := MustNewReader(t, hub.FormatCSV, tt.data, o)
			spilled := readAll(t, r)

			// The same bad lines, whatever the order. In memory a row is
			// refused for its first problem only; spilled, the third
			// C000123 is reported for its id and for each of its tokens.
			key := func(e *hub.LineError) string { return fmt.Sprintf("%d %s %s", e.Line, e.Field, e.Reason) }
			var wantErrs, gotErrs []string
			for _, res := range mem {
				if res.err != nil {
					wantErrs = append(wantErrs, key(res.err))
				}
			}
			ids := map[string]bool{} // every row returned as a customer, duplicates too
			seenErr := false
			for i, res := range spilled {
				if res.c != nil {
					ids[res.c.ID] = true
				}
				switch {
				case res.err != nil:
					gotErrs = append(gotErrs, key(res.err))
					seenErr = seenErr || res.err.Field == "customer_id" || strings.HasSuffix(res.err.Field, "token") || strings.HasSuffix(res.err.Field, "tokens")
				case seenErr:
					t.Fatalf("result %d: a customer after a duplicate: duplicates must come after the last row", i)
				}
			}
			if tt.name == "ErrManyRuns" {
				// In memory a row refused for its id does not take part in
				// the token check; spilled it does: the second and third
				// C000123 are also reported for their 4 tokens each.
				var extra []string
				for _, e := range gotErrs {
					if !slices.Contains(wantErrs, e) {
						extra = append(extra, e)
						if !strings.HasPrefix(e, fmt.Sprint(n+3)) && !strings.HasPrefix(e, fmt.Sprint(n+4)) || !strings.HasSuffix(e, "token already belongs to the customer on line 125") {
							t.Fatalf("unexpected error %q", e)
						}
					}
				}
				if len(extra) != 8 {
					t.Fatalf("errors beyond the in-memory ones: %q, want the 4 tokens of lines %d and %d", extra, n+3, n+4)
				}
				gotErrs = slices.DeleteFunc(gotErrs, func(e string) bool { return slices.Contains(extra, e) })
			}
			slices.Sort(wantErrs)
			slices.Sort(gotErrs)
			if !slices.Equal(gotErrs, wantErrs) {
				t.Fatalf("spilled errors %q, want %q", gotErrs, wantErrs)
			}
			if r.Errors() != len(spilled)-countCustomers(spilled) {
				t.Fatalf("Errors()=%d, want %d", r.Errors(), len(spilled)-countCustomers(spilled))
			}

			var got []string
			for id, err := range r.IDs() {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, id)
			}
			want := slices.Sorted(maps.Keys(ids))
			if !slices.Equal(got, want) {
				t.Fatalf("IDs: %d ids, want the %d of the rows returned, once each, in order", len(got), len(want))
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(o.SpillDir); len(left) != 0 {
				t.Fatalf("after Close, %d entries left in the spill dir", len(left))
			}
		})
	}

	t.Run("ErrIDsBeforeEnd", func(t *testing.T) {
		o := opts()
		o.SpillDir = t.TempDir()
		r := MustNewReader(t, hub.FormatCSV, csvFile(a.csv()), o)
		defer r.Close()
		for _, err := range r.IDs() {
			if err == nil {
				t.Fatal("IDs before the end: no error")
			}
		}
	})
	t.Run("ErrIDsInMemory", func(t *testing.T) {
		r := MustNewReader(t, hub.FormatCSV, csvFile(a.csv()), opts())
		readAll(t, r)
		for _, err := range r.IDs() {
			if err == nil {
				t.Fatal("IDs without SpillDir: no error")
			}
		}
	})
	t.Run("BadHeaderLeavesNothing", func(t *testing.T) {
		o := opts()
		o.SpillDir = t.TempDir()
		if _, err := hub.NewSnapshotReader(strings.NewReader("nope\n"), hub.FormatCSV, huiyan.DefaultTagDict(), o); err == nil {
			t.Fatal("bad header: no error")
		}
		if left, _ := os.ReadDir(o.SpillDir); len(left) != 0 {
			t.Fatalf("%d entries left in the spill dir", len(left))
		}
	})
}

func countCustomers(res []result) int {
	n := 0
	for _, r := range res {
		if r.c != nil {
			n++
		}
	}
	return n
}

// TestSnapshotReader_SpillMemoryBounded reads n and 4n generated rows
// (made on the fly, so the file is never in memory) and measures the live
// heap after a forced collection at the points where the duplicate checks
// hold the most: after the last row, and while IDs streams the ids back.
// Spilled, 4n rows may not hold more than n rows plus a small margin. The
// in-memory checks, measured the same way, must grow by more than a
// megabyte: that shows the measurement would catch memory that grows with
// the file.
func TestSnapshotReader_SpillMemoryBounded(t *testing.T) {
	const n = 5000
	peak := func(t *testing.T, rows int, spill bool) uint64 {
		t.Helper()
		o := opts()
		if spill {
			o.SpillDir, o.SpillMemory = t.TempDir(), 64<<10
		}
		src := io.MultiReader(strings.NewReader(hub.SnapshotHeader+"\n"), &limitedGen{g: newRowGen(), left: rows})
		r, err := hub.NewSnapshotReader(src, hub.FormatCSV, huiyan.DefaultTagDict(), o)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for i := range rows {
			if _, err := r.Next(); err != nil {
				t.Fatalf("row %d: %v", i+2, err)
			}
		}
		high := liveHeap()
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("after the rows: %v, want io.EOF (no duplicates)", err)
		}
		if !spill {
			return high
		}
		i := 0
		for _, err := range r.IDs() {
			if err != nil {
				t.Fatal(err)
			}
			if i++; i == rows/2 {
				high = max(high, liveHeap())
			}
		}
		if i != rows {
			t.Fatalf("IDs gave %d ids, want %d", i, rows)
		}
		return high
	}
	for _, tt := range []struct {
		name  string
		spill bool
	}{{"Spilled", true}, {"InMemory", false}} {
		t.Run(tt.name, func(t *testing.T) {
			small, large := peak(t, n, tt.spill), peak(t, 4*n, tt.spill)
			t.Logf("live heap: %.2f MB for %d rows, %.2f MB for %d", float64(small)/1e6, n, float64(large)/1e6, 4*n)
			grew := int64(large) - int64(small)
			switch {
			case tt.spill && grew > 256<<10:
				t.Fatalf("spilled checks: %d rows hold %d bytes more than %d rows: memory grows with the file", 4*n, grew, n)
			case !tt.spill && grew < 1<<20:
				t.Fatalf("in-memory checks: %d rows hold only %d bytes more than %d rows: the measurement does not see growth", 4*n, grew, n)
			}
		})
	}
}

// liveHeap returns the heap in use right after a collection: what is live.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
