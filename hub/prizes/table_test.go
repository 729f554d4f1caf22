package prizes_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"huiyan/hub/prizes"
)

// docTable is the example of the package documentation.
const docTable = `# Branch prize wheel, winter campaign
campaign,2026-winter
starts,2026-11-01
ends,2026-12-31
spins_per_day,1
spins_per_day,2,B002
unknown_customers,deny
weight_scale,1000000
branch,prize_code,name_zh,name_en,weight,inventory,starts,ends
B001,cash-8,8元红包,8 yuan red packet,100000,200,,
B001,cup,保温杯,Thermos cup,20000,50,2026-11-15,
B001,,谢谢参与,Thanks for playing,rest,unlimited,,
B002,cash-8,8元红包,8 yuan red packet,150000,300,,
B002,,谢谢参与,Thanks for playing,rest,,,
`

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, prizes.CST) }

func TestParse(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ts, err := prizes.Parse(strings.NewReader(docTable))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]*prizes.PrizeTable{
			"B001": {Branch: "B001", Campaign: "2026-winter", Starts: day(2026, 11, 1), Ends: day(2027, 1, 1), SpinsPerDay: 1, Scale: 1_000_000,
				Entries: []prizes.Entry{
					{Code: "cash-8", NameZH: "8元红包", NameEN: "8 yuan red packet", Weight: 100_000, Inventory: 200},
					{Code: "cup", NameZH: "保温杯", NameEN: "Thermos cup", Weight: 20_000, Inventory: 50, Starts: day(2026, 11, 15)},
					{NameZH: "谢谢参与", NameEN: "Thanks for playing", Weight: 880_000, Inventory: prizes.Unlimited},
				}},
			"B002": {Branch: "B002", Campaign: "2026-winter", Starts: day(2026, 11, 1), Ends: day(2027, 1, 1), SpinsPerDay: 2, Scale: 1_000_000,
				Entries: []prizes.Entry{
					{Code: "cash-8", NameZH: "8元红包", NameEN: "8 yuan red packet", Weight: 150_000, Inventory: 300},
					{NameZH: "谢谢参与", NameEN: "Thanks for playing", Weight: 850_000, Inventory: prizes.Unlimited},
				}},
		}
		if len(ts) != len(want) {
			t.Fatalf("tables for %d branches, want %d", len(ts), len(want))
		}
		for b, w := range want {
			if got := ts[b]; !tablesEqual(got, w) {
				t.Errorf("branch %s:\n got %+v\nwant %+v", b, got, w)
			}
		}
	})
	t.Run("Variants", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			file  string
			check func(*prizes.PrizeTable) bool
		}{
			{"BOMAndCRLF", "\ufeffcampaign,c1\r\nstarts,2026-11-01\r\nends,2026-11-30\r\n" + prizes.Header + "\r\nB001,,谢谢参与,,rest,,,\r\n",
				func(t *prizes.PrizeTable) bool {
					return t.Campaign == "c1" && len(t.Entries) == 1 && t.Entries[0].Weight == 1_000_000
				}},
			{"ExplicitRest", "campaign,c1\nstarts,2026-11-01\nends,2026-11-30\nweight_scale,100\n" + prizes.Header + "\nB001,a,甲,,30,1,,\nB001,,谢谢参与,,70,,,\n",
				func(t *prizes.PrizeTable) bool { return t.Scale == 100 && t.Entries[1].Weight == 70 }},
			{"ZeroRest", "campaign,c1\nstarts,2026-11-01\nends,2026-11-30\nweight_scale,10\n" + prizes.Header + "\nB001,,谢谢参与,,rest,,,\nB001,a,甲,,10,unlimited,,\n",
				func(t *prizes.PrizeTable) bool {
					return t.Entries[0].Weight == 0 && t.Entries[1].Inventory == prizes.Unlimited
				}},
			{"RFC3339AndAllow", "campaign,c1\nstarts,2026-11-01T09:00:00+08:00\nends,2026-11-01T17:00:00Z\nunknown_customers,allow\n" + prizes.Header + "\nB001,,谢谢参与,,rest,,,\n",
				func(t *prizes.PrizeTable) bool {
					return t.AllowUnknown && t.Starts.Equal(time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC)) && t.Ends.Equal(time.Date(2026, 11, 1, 17, 0, 0, 0, time.UTC))
				}},
			{"BranchSettingWins", "campaign,c1\ncampaign,c2,B001\nstarts,2026-11-01\nends,2026-11-30\n" + prizes.Header + "\nB001,,谢谢参与,,rest,,,\n",
				func(t *prizes.PrizeTable) bool { return t.Campaign == "c2" }},
			{"QuotedName", "campaign,c1\nstarts,2026-11-01\nends,2026-11-30\n" + prizes.Header + "\nB001,a,\"红包, 8元\",\"Red packet, 8\",1,1,,\nB001,,谢谢参与,,rest,,,\n",
				func(t *prizes.PrizeTable) bool { return t.Entries[0].NameZH == "红包, 8元" }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ts, err := prizes.Parse(strings.NewReader(tt.file))
				if err != nil {
					t.Fatal(err)
				}
				if tb := ts["B001"]; tb == nil || !tt.check(tb) {
					t.Fatalf("table %+v", tb)
				}
			})
		}
	})
	t.Run("RoundTrip", func(t *testing.T) {
		ts, err := prizes.Parse(strings.NewReader(docTable))
		if err != nil {
			t.Fatal(err)
		}
		for b, tb := range ts {
			var buf bytes.Buffer
			if err := tb.Format(&buf); err != nil {
				t.Fatal(err)
			}
			again, err := prizes.Parse(&buf)
			if err != nil {
				t.Fatalf("branch %s: Format's output does not parse: %v", b, err)
			}
			if !tablesEqual(again[b], tb) || again[b].Fingerprint() != tb.Fingerprint() {
				t.Fatalf("branch %s: round trip changed the table:\n got %+v\nwant %+v", b, again[b], tb)
			}
		}
		if ts["B001"].Fingerprint() == ts["B002"].Fingerprint() {
			t.Fatal("two different tables have the same fingerprint")
		}
	})
}

// tablesEqual compares tables with time.Time.Equal (Parse's times and a
// literal's may carry different *time.Location values for the same zone).
func tablesEqual(a, b *prizes.PrizeTable) bool {
	if a == nil || b == nil {
		return a == b
	}
	norm := func(t *prizes.PrizeTable) prizes.PrizeTable {
		c := *t
		fix := func(x time.Time) time.Time {
			if x.IsZero() {
				return x
			}
			return x.UTC()
		}
		c.Starts, c.Ends = fix(c.Starts), fix(c.Ends)
		c.Entries = nil
		for _, e := range t.Entries {
			e.Starts, e.Ends = fix(e.Starts), fix(e.Ends)
			c.Entries = append(c.Entries, e)
		}
		return c
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestParse_Err(t *testing.T) {
	const set = "campaign,c1\nstarts,2026-11-01\nends,2026-11-30\n"
	const h = prizes.Header + "\n"
	const none = "B001,,谢谢参与,,rest,,,\n"
	for _, tt := range []struct {
		name  string
		file  string
		line  int
		field string
	}{
		{"Empty", "", 1, ""},
		{"NoHeader", set, 1, ""},
		{"HeaderWrongCase", set + "Branch,prize_code,name_zh,name_en,weight,inventory,starts,ends\n" + none, 4, ""},
		{"HeaderMissingColumn", set + "branch,prize_code,name_zh,name_en,weight,inventory,starts\n" + none, 4, ""},
		{"UnknownSetting", "campagne,c1\n" + set + h + none, 1, ""},
		{"SettingTwice", set + "campaign,c2\n" + h + none, 4, "campaign"},
		{"SettingBadBranch", set + "spins_per_day,2,B_1\n" + h + none, 4, "spins_per_day"},
		{"SettingForBranchWithoutRows", set + "spins_per_day,2,B009\n" + h + none, 4, "spins_per_day"},
		{"SettingOneField", set + "campaign\n" + h + none, 4, ""},
		{"BadCampaign", "campaign,winter 2026\nstarts,2026-11-01\nends,2026-11-30\n" + h + none, 1, "campaign"},
		{"NoCampaign", "starts,2026-11-01\nends,2026-11-30\n" + h + none, 4, "campaign"},
		{"NoEnds", "campaign,c1\nstarts,2026-11-01\n" + h + none, 4, "ends"},
		{"BadDate", "campaign,c1\nstarts,2026-11-31\nends,2026-12-30\n" + h + none, 2, "starts"},
		{"TimeWithoutOffset", "campaign,c1\nstarts,2026-11-01T09:00:00\nends,2026-12-30\n" + h + none, 2, "starts"},
		{"CampaignEndsBeforeStart", "campaign,c1\nstarts,2026-11-02\nends,2026-11-01T12:00:00+08:00\n" + h + none, 3, "ends"},
		{"SpinsPerDayZero", set + "spins_per_day,0\n" + h + none, 4, "spins_per_day"},
		{"SpinsPerDayHuge", set + "spins_per_day,1001\n" + h + none, 4, "spins_per_day"},
		{"UnknownYes", set + "unknown_customers,yes\n" + h + none, 4, "unknown_customers"},
		{"ScaleZero", set + "weight_scale,0\n" + h + none, 4, "weight_scale"},
		{"SettingAfterHeader", set + h + none + "spins_per_day,2\n", 6, ""},
		{"FieldCount", set + h + "B001,a,甲,,1,1,\n" + none, 5, ""},
		{"BadBranch", set + h + "B 001,a,甲,,1,1,,\n" + none, 5, "branch"},
		{"BadCode", set + h + "B001,a cup,甲,,1,1,,\n" + none, 5, "prize_code"},
		{"CodeTwice", set + h + "B001,a,甲,,1,1,,\nB001,a,乙,,1,1,,\n" + none, 6, "prize_code"},
		{"TwoNoPrizeRows", set + h + none + none, 6, "prize_code"},
		{"NoNoPrizeRow", set + "weight_scale,10\n" + h + "B001,a,甲,,10,1,,\n", 6, "prize_code"},
		{"NoNameZH", set + h + "B001,a,,cup,1,1,,\n" + none, 5, "name_zh"},
		{"NameControl", set + h + "B001,a,甲\t乙,,1,1,,\n" + none, 5, "name_zh"},
		{"NameTooLong", set + h + "B001,a," + strings.Repeat("奖", 65) + ",,1,1,,\n" + none, 5, "name_zh"},
		{"NameENTooLong", set + h + "B001,a,甲," + strings.Repeat("x", 65) + ",1,1,,\n" + none, 5, "name_en"},
		{"WeightZero", set + h + "B001,a,甲,,0,1,,\n" + none, 5, "weight"},
		{"WeightNegative", set + h + "B001,a,甲,,-1,1,,\n" + none, 5, "weight"},
		{"WeightFraction", set + h + "B001,a,甲,,0.5,1,,\n" + none, 5, "weight"},
		{"RestOnPrize", set + h + "B001,a,甲,,rest,1,,\n" + none, 5, "weight"},
		{"WeightsOverScale", set + "weight_scale,10\n" + h + "B001,a,甲,,6,1,,\nB001,b,乙,,6,1,,\n" + none, 6, "weight"},
		{"WeightsUnderScaleNoRest", set + "weight_scale,10\n" + h + "B001,a,甲,,6,1,,\nB001,,谢谢参与,,3,,,\n", 6, "weight"},
		{"InventoryNegative", set + h + "B001,a,甲,,1,-5,,\n" + none, 5, "inventory"},
		{"InventoryEmpty", set + h + "B001,a,甲,,1,,,\n" + none, 5, "inventory"},
		{"NoPrizeInventory", set + h + "B001,,谢谢参与,,rest,100,,\n", 5, "inventory"},
		{"PrizeEndsBeforeStart", set + h + "B001,a,甲,,1,1,2026-11-20,2026-11-10\n" + none, 5, "ends"},
		{"PrizeBadStart", set + h + "B001,a,甲,,1,1,soon,\n" + none, 5, "starts"},
		{"BadQuote", set + h + "B001,a,\"甲,,1,1,,\n" + none, 5, ""},
		{"BadUTF8", set + h + "B001,a,\xff\xfe,,1,1,,\n" + none, 5, "name_zh"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := prizes.Parse(strings.NewReader(tt.file))
			var pe *prizes.ParseError
			if !errors.As(err, &pe) || ts != nil {
				t.Fatalf("Parse = %v, %v, want a *ParseError", ts, err)
			}
			if !errors.Is(err, prizes.ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			if got := pe.Lines[0]; got.Line != tt.line || got.Field != tt.field {
				t.Fatalf("first error %q: line=%d field=%q, want line=%d field=%q", got, got.Line, got.Field, tt.line, tt.field)
			}
		})
	}
	t.Run("EveryBadLine", func(t *testing.T) {
		file := set + h + "B001,a,甲,,0,1,,\nB001,b,乙,,1,-1,,\nB001,c,,,1,1,,\n" + none
		_, err := prizes.Parse(strings.NewReader(file))
		var pe *prizes.ParseError
		if !errors.As(err, &pe) || len(pe.Lines) != 3 {
			t.Fatalf("err = %v, want 3 bad lines", err)
		}
		for i, want := range []int{5, 6, 7} {
			if pe.Lines[i].Line != want {
				t.Errorf("bad line %d is line %d, want %d", i, pe.Lines[i].Line, want)
			}
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		big := set + h + none + strings.Repeat("# padding line\n", prizes.MaxTableBytes/15+1)
		_, err := prizes.Parse(strings.NewReader(big))
		if !errors.Is(err, prizes.ErrInvalid) || !strings.Contains(err.Error(), "over") {
			t.Fatalf("err = %v, want the file refused as too large", err)
		}
	})
	t.Run("TooManyRows", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(set + "weight_scale,1000\n" + h + none)
		for i := range prizes.MaxEntries {
			b.WriteString("B001,p" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ",奖,,1,1,,\n")
		}
		_, err := prizes.Parse(strings.NewReader(b.String()))
		if !errors.Is(err, prizes.ErrInvalid) || !strings.Contains(err.Error(), "more than") {
			t.Fatalf("err = %v, want too many rows", err)
		}
	})
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prizes.csv")
	if err := os.WriteFile(path, []byte(docTable), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		tb, err := prizes.Load(path, "B002")
		if err != nil || tb.Branch != "B002" || tb.SpinsPerDay != 2 {
			t.Fatalf("Load = %+v, %v", tb, err)
		}
	})
	t.Run("ErrNoTable", func(t *testing.T) {
		if _, err := prizes.Load(path, "B003"); !errors.Is(err, prizes.ErrNoTable) {
			t.Fatalf("err = %v, want ErrNoTable", err)
		}
	})
	t.Run("ErrNoFile", func(t *testing.T) {
		if _, err := prizes.Load(filepath.Join(t.TempDir(), "none.csv"), "B001"); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want os.ErrNotExist", err)
		}
	})
}

func TestPrizeTable_Validate(t *testing.T) {
	ok := func() *prizes.PrizeTable {
		return &prizes.PrizeTable{Branch: "B001", Campaign: "c1", Starts: day(2026, 11, 1), Ends: day(2026, 12, 1), SpinsPerDay: 1, Scale: 100,
			Entries: []prizes.Entry{{Code: "a", NameZH: "甲", Weight: 40, Inventory: 3}, {NameZH: "谢谢参与", Weight: 60, Inventory: prizes.Unlimited}}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*prizes.PrizeTable){
		"Branch":        func(t *prizes.PrizeTable) { t.Branch = "" },
		"Campaign":      func(t *prizes.PrizeTable) { t.Campaign = "a b" },
		"Window":        func(t *prizes.PrizeTable) { t.Ends = t.Starts },
		"SpinsPerDay":   func(t *prizes.PrizeTable) { t.SpinsPerDay = 0 },
		"Scale":         func(t *prizes.PrizeTable) { t.Scale = 0 },
		"SumUnder":      func(t *prizes.PrizeTable) { t.Entries[1].Weight = 59 },
		"SumOver":       func(t *prizes.PrizeTable) { t.Entries[1].Weight = 61 },
		"Overflow":      func(t *prizes.PrizeTable) { t.Entries[0].Weight = ^uint64(0) - 20 },
		"NoNoPrize":     func(t *prizes.PrizeTable) { t.Entries[1].Code = "b" },
		"NoPrizeStock":  func(t *prizes.PrizeTable) { t.Entries[1].Inventory = 5 },
		"PrizeWeight0":  func(t *prizes.PrizeTable) { t.Entries[0].Weight, t.Entries[1].Weight = 0, 100 },
		"Inventory":     func(t *prizes.PrizeTable) { t.Entries[0].Inventory = -2 },
		"Name":          func(t *prizes.PrizeTable) { t.Entries[0].NameZH = "" },
		"DuplicateCode": func(t *prizes.PrizeTable) { t.Entries = append(t.Entries[:1], t.Entries...) },
	} {
		t.Run("Err"+name, func(t *testing.T) {
			tb := ok()
			change(tb)
			if err := tb.Validate(); err == nil {
				t.Fatalf("Validate accepted %+v", tb)
			}
		})
	}
}

// FuzzParse: Parse never panics, and whatever it accepts is a valid table
// that Format writes back to the same table.
func FuzzParse(f *testing.F) {
	f.Add(docTable)
	f.Add("campaign,c1\nstarts,2026-11-01\nends,2026-11-30\nweight_scale,10\n" + prizes.Header + "\nB001,a,甲,,3,2,2026-11-02,2026-11-03\nB001,,谢谢参与,,rest,,,\n")
	f.Add("campaign,c1\nstarts,2026-11-01\nends,2026-11-30\n" + prizes.Header + "\nB001,\"a\",\"甲\"\"\",,1,1,,\nB001,,x,,999999,unlimited,,\n")
	f.Add("\ufeff# c\n\n" + prizes.Header + "\n")
	f.Fuzz(func(t *testing.T, file string) {
		ts, err := prizes.Parse(strings.NewReader(file))
		if err != nil {
			var pe *prizes.ParseError
			if !errors.As(err, &pe) || len(pe.Lines) == 0 {
				t.Fatalf("error %v is not a *ParseError with lines", err)
			}
			return
		}
		for b, tb := range ts {
			if err := tb.Validate(); err != nil {
				t.Fatalf("branch %s: Parse accepted an invalid table: %v", b, err)
			}
			var buf bytes.Buffer
			if err := tb.Format(&buf); err != nil {
				t.Fatal(err)
			}
			again, err := prizes.Parse(&buf)
			if err != nil || again[b].Fingerprint() != tb.Fingerprint() {
				t.Fatalf("branch %s: Format/Parse round trip: %v", b, err)
			}
		}
	})
}

// TestParse_HeaderOnly: a file with the header and no rows is valid and
// holds no table (how HQ withdraws every wheel); a file without the
// header is refused.
func TestParse_HeaderOnly(t *testing.T) {
	for _, tt := range []struct {
		name string
		file string
		ok   bool
	}{
		{"Header", prizes.Header + "\n", true},
		{"SettingsAndHeader", "# all wheels off\ncampaign,off\nstarts,2026-11-01\nends,2026-11-30\n" + prizes.Header + "\n", true},
		{"ErrEmpty", "", false},
		{"ErrCommentsOnly", "# nothing\n", false},
		{"ErrBranchSettingWithoutRows", "campaign,c1,B001\n" + prizes.Header + "\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := prizes.Parse(strings.NewReader(tt.file))
			switch {
			case tt.ok && (err != nil || ts == nil || len(ts) != 0):
				t.Fatalf("Parse = %v, %v, want no tables and no error", ts, err)
			case !tt.ok && !errors.Is(err, prizes.ErrInvalid):
				t.Fatalf("Parse = %v, %v, want ErrInvalid", ts, err)
			}
		})
	}
}

func TestParseCanonical(t *testing.T) {
	ts, err := prizes.Parse(strings.NewReader(docTable))
	if err != nil {
		t.Fatal(err)
	}
	b001 := ts["B001"].Canonical()
	t.Run("OK", func(t *testing.T) {
		tb, err := prizes.ParseCanonical(b001, "B001")
		if err != nil {
			t.Fatal(err)
		}
		if !tablesEqual(tb, ts["B001"]) || tb.Fingerprint() != ts["B001"].Fingerprint() {
			t.Fatalf("table %+v, want %+v", tb, ts["B001"])
		}
		// The fingerprint is the SHA-256 of exactly the canonical text, so
		// that the hub can compute it without parsing.
		sum := sha256.Sum256([]byte(b001))
		if got, want := tb.Fingerprint(), hex.EncodeToString(sum[:8]); got != want {
			t.Fatalf("fingerprint %s, want %s (sha256 of the canonical text)", got, want)
		}
	})
	for _, tt := range []struct {
		name   string
		text   string
		branch string
		is     error
	}{
		{"ErrOtherBranch", b001, "B002", prizes.ErrNoTable},
		{"ErrTwoBranches", docTable, "B001", prizes.ErrInvalid},
		{"ErrNotCanonical", strings.Replace(b001, "2026-11-01T00:00:00+08:00", "2026-11-01", 1), "B001", prizes.ErrInvalid},
		{"ErrBadLine", strings.Replace(b001, ",unlimited", ",lots", 1), "B001", prizes.ErrInvalid},
		{"ErrEmpty", "", "B001", prizes.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tb, err := prizes.ParseCanonical(tt.text, tt.branch); !errors.Is(err, tt.is) || !errors.Is(err, prizes.ErrInvalid) {
				t.Fatalf("ParseCanonical = %+v, %v, want %v", tb, err, tt.is)
			}
		})
	}
}

func TestLineError_Error(t *testing.T) {
	for _, tt := range []struct {
		le   prizes.LineError
		want string
	}{
		{prizes.LineError{Line: 7, Field: "weight", Reason: "bad"}, "line 7: field weight: bad"},
		{prizes.LineError{Line: 0, Reason: "too large"}, "line 0: too large"},
	} {
		if got := tt.le.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
