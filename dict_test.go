package huiyan_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"huiyan"
)

func TestDefaultTagDict(t *testing.T) {
	d := huiyan.DefaultTagDict()
	if d.Version() != huiyan.DictVersion {
		t.Fatalf("version=%d, want %d", d.Version(), huiyan.DictVersion)
	}
	if d != huiyan.DefaultTagDict() {
		t.Fatal("DefaultTagDict parsed the embedded file twice")
	}

	t.Run("Counts", func(t *testing.T) {
		for _, c := range []struct {
			kind huiyan.TagKind
			want int
		}{
			{huiyan.TagBranch, 154},
			{huiyan.TagPredictive, 8},
			{huiyan.TagStatus, len(huiyan.MBankStatuses)},
		} {
			if got := d.Count(c.kind); got != c.want {
				t.Errorf("Count(%s)=%d, want %d", c.kind, got, c.want)
			}
		}
		if got, want := len(d.Tags()), 154+8+len(huiyan.MBankStatuses); got != want {
			t.Errorf("len(Tags)=%d, want %d", got, want)
		}
	})

	t.Run("Entries", func(t *testing.T) {
		codes := map[string]bool{}
		names := map[string]string{}
		for _, tag := range d.Tags() {
			if !huiyan.IsLowerSnake(tag.Code) {
				t.Errorf("tag %d: code %q is not lower_snake", tag.ID, tag.Code)
			}
			if codes[tag.Code] {
				t.Errorf("tag %d: duplicate code %q", tag.ID, tag.Code)
			}
			codes[tag.Code] = true
			if strings.TrimSpace(tag.NameZH) == "" || strings.TrimSpace(tag.NameEN) == "" {
				t.Errorf("tag %q: empty name", tag.Code)
			}
			if prev, ok := names[tag.NameZH]; ok {
				t.Errorf("tag %q: name_zh %q already used by %q", tag.Code, tag.NameZH, prev)
			}
			names[tag.NameZH] = tag.Code
			if huiyan.TagCategoryByCode(tag.Category) == nil {
				t.Errorf("tag %q: category %q not in TagCategories", tag.Code, tag.Category)
			}
			var lo, hi int
			switch tag.Kind {
			case huiyan.TagBranch:
				lo, hi = 1, 200
			case huiyan.TagPredictive:
				lo, hi = 201, 300
			case huiyan.TagStatus:
				lo, hi = 301, 400
			}
			if tag.ID < lo || tag.ID >= hi {
				t.Errorf("tag %q: id %d outside the %s range %d-%d", tag.Code, tag.ID, tag.Kind, lo, hi-1)
			}
			if tag.Kind == huiyan.TagPredictive && tag.Priority >= 20 {
				t.Errorf("predictive tag %q: priority %d, want under 20", tag.Code, tag.Priority)
			}
			if got := d.ByCode(tag.Code); got == nil || got.ID != tag.ID {
				t.Errorf("ByCode(%q) does not find id %d", tag.Code, tag.ID)
			}
			if got := d.ByID(tag.ID); got == nil || got.Code != tag.Code {
				t.Errorf("ByID(%d) does not find %q", tag.ID, tag.Code)
			}
		}
	})

	t.Run("NamedTags", func(t *testing.T) {
		for _, c := range []struct {
			code, nameZH string
			kind         huiyan.TagKind
		}{
			{huiyan.TagPotentialVIP, "潜力贵宾客户", huiyan.TagPredictive},
			{huiyan.TagChurnRiskVIP, "高流失倾向贵宾客户", huiyan.TagPredictive},
			{huiyan.TagMBankNone, "掌银未注册", huiyan.TagStatus},
			{huiyan.TagMBankRegister, "掌银已注册未使用", huiyan.TagStatus},
			{huiyan.TagMBankDormant, "掌银睡眠", huiyan.TagStatus},
			{huiyan.TagMBankActive, "掌银活跃", huiyan.TagStatus},
			{"wealth_enthusiast", "理财爱好者", huiyan.TagBranch},
			{"car_owner", "有车一族", huiyan.TagBranch},
			{"mbank_customer", "掌银客户", huiyan.TagBranch},
		} {
			tag := d.ByCode(c.code)
			switch {
			case tag == nil:
				t.Errorf("tag %q missing", c.code)
			case tag.NameZH != c.nameZH || tag.Kind != c.kind:
				t.Errorf("tag %q: name_zh=%q kind=%s, want %q %s", c.code, tag.NameZH, tag.Kind, c.nameZH, c.kind)
			}
		}
	})

	t.Run("StatusTags", func(t *testing.T) {
		for _, s := range huiyan.MBankStatuses {
			tag := d.ByCode(huiyan.StatusTagCode(s))
			if tag == nil || tag.Kind != huiyan.TagStatus {
				t.Errorf("status %s: no status tag %q", s, huiyan.StatusTagCode(s))
			}
		}
	})
}

func TestTagCategories(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range huiyan.TagCategories {
		if !huiyan.IsLowerSnake(c.Code) || c.NameZH == "" || c.NameEN == "" || seen[c.Code] {
			t.Errorf("category %+v: bad or duplicate", c)
		}
		seen[c.Code] = true
	}
}

func TestAUMBands(t *testing.T) {
	bands := huiyan.AUMBands
	if len(bands) == 0 || bands[0].MinCNY != 0 || bands[len(bands)-1].MaxCNY != math.MaxInt64 {
		t.Fatal("AUM bands must start at 0 and end open")
	}
	seen := map[string]bool{}
	for i, b := range bands {
		if !huiyan.IsLowerSnake(b.Code) || b.NameZH == "" || b.NameEN == "" || seen[b.Code] {
			t.Errorf("band %q: bad code, empty name or duplicate", b.Code)
		}
		seen[b.Code] = true
		if b.MinCNY >= b.MaxCNY {
			t.Errorf("band %q: min=%d max=%d, want min < max", b.Code, b.MinCNY, b.MaxCNY)
		}
		if i > 0 && bands[i-1].MaxCNY != b.MinCNY {
			t.Errorf("band %q: min=%d, want %d (previous max): bands must be contiguous", b.Code, b.MinCNY, bands[i-1].MaxCNY)
		}
		if lo, hi := huiyan.TierForAUM(b.MinCNY), huiyan.TierForAUM(b.MaxCNY-1); lo != hi || b.Tier() != lo {
			t.Errorf("band %q straddles tiers %s and %s", b.Code, lo, hi)
		}
		if got := huiyan.AUMBandByCode(b.Code); got == nil || *got != b {
			t.Errorf("AUMBandByCode(%q)=%v", b.Code, got)
		}
		if got := huiyan.AUMBandFor(b.MinCNY); got == nil || got.Code != b.Code {
			t.Errorf("AUMBandFor(%d)=%v, want %q", b.MinCNY, got, b.Code)
		}
	}
	for _, tier := range huiyan.Tiers {
		n := 0
		for _, b := range bands {
			if b.Tier() == tier {
				n++
			}
		}
		if n == 0 {
			t.Errorf("tier %s has no AUM band", tier)
		}
	}
	for _, c := range []struct {
		cny  int64
		tier huiyan.Tier
	}{
		{0, huiyan.TierNormal}, {49_999, huiyan.TierNormal}, {50_000, huiyan.TierGold},
		{500_000, huiyan.TierPlatinum}, {2_000_000, huiyan.TierDiamond}, {6_000_000, huiyan.TierPrivate},
	} {
		if got := huiyan.TierForAUM(c.cny); got != c.tier {
			t.Errorf("TierForAUM(%d)=%s, want %s", c.cny, got, c.tier)
		}
	}
	if huiyan.AUMBandFor(-1) != nil || huiyan.AUMBandByCode("aum_unknown") != nil {
		t.Error("lookup of an unknown band must give nil")
	}
}

func TestProducts(t *testing.T) {
	if n := len(huiyan.Products); n < 12 || n > 20 {
		t.Fatalf("len(Products)=%d, want 12 to 20", n)
	}
	seen := map[string]bool{}
	kinds := map[string]bool{
		huiyan.ProductTermDeposit: true, huiyan.ProductLargeCD: true, huiyan.ProductWealth: true,
		huiyan.ProductStructuredDeposit: true, huiyan.ProductBond: true, huiyan.ProductInsurance: true,
	}
	for _, p := range huiyan.Products {
		if !huiyan.IsLowerSnake(p.Code) || p.NameZH == "" || p.NameEN == "" {
			t.Errorf("product %q: bad code or empty name", p.Code)
		}
		if seen[p.Code] {
			t.Errorf("product %q: duplicate code", p.Code)
		}
		seen[p.Code] = true
		if !kinds[p.Kind] {
			t.Errorf("product %q: unknown kind %q", p.Code, p.Kind)
		}
		if !p.Risk.Valid() {
			t.Errorf("product %q: risk %q", p.Code, p.Risk)
		}
		if got := huiyan.ProductByCode(p.Code); got == nil || *got != p {
			t.Errorf("ProductByCode(%q)=%v", p.Code, got)
		}
	}
	if huiyan.ProductByCode("td_99y") != nil {
		t.Error("ProductByCode of an unknown code must give nil")
	}
}

func TestParseTagDict(t *testing.T) {
	const header = "id,code,name_zh,name_en,kind,category,priority\n"
	const good = "1,wealth_enthusiast,理财爱好者,Wealth-management enthusiast,branch,wealth,30\n" +
		"201,potential_vip,潜力贵宾客户,Potential VIP,predictive,prediction,10\n"

	t.Run("OK", func(t *testing.T) {
		d, err := huiyan.ParseTagDict(strings.NewReader("\ufeff"+header+good+"301,mbank_none,掌银未注册,Mobile banking not registered,status,mbank,22\n"), 7)
		if err != nil {
			t.Fatal(err)
		}
		if d.Version() != 7 || len(d.Tags()) != 3 {
			t.Fatalf("version=%d tags=%d, want 7 and 3", d.Version(), len(d.Tags()))
		}
		if tag := d.ByCode("potential_vip"); tag == nil || tag.ID != 201 || tag.Priority != 10 || tag.Category != "prediction" {
			t.Fatalf("potential_vip=%+v", tag)
		}
	})

	for _, c := range []struct {
		name string
		in   string
		line int
		msg  string
	}{
		{"ErrEmpty", "", 1, "empty"},
		{"ErrHeader", "id,code,name,kind\n" + good, 1, "header"},
		{"ErrDuplicateID", header + good + "1,car_owner,有车一族,Car owner,branch,lifestyle,86\n", 4, "duplicate id 1 (first on line 2)"},
		{"ErrDuplicateCode", header + good + "2,wealth_enthusiast,理财,Wealth,branch,wealth,30\n", 4, "duplicate code"},
		{"ErrKind", header + "5,car_owner,有车一族,Car owner,segment,lifestyle,86\n", 2, "kind \"segment\""},
		{"ErrTooFewColumns", header + good + "5,car_owner,有车一族,Car owner,branch,lifestyle\n", 4, "6 columns, want 7"},
		{"ErrTooManyColumns", header + "5,car_owner,有车一族,Car owner,branch,lifestyle,86,x\n", 2, "8 columns"},
		{"ErrID", header + "x,car_owner,有车一族,Car owner,branch,lifestyle,86\n", 2, "positive integer"},
		{"ErrZeroID", header + "0,car_owner,有车一族,Car owner,branch,lifestyle,86\n", 2, "positive integer"},
		{"ErrCode", header + "5,CarOwner,有车一族,Car owner,branch,lifestyle,86\n", 2, "lower_snake"},
		{"ErrName", header + "5,car_owner,,Car owner,branch,lifestyle,86\n", 2, "name_zh and name_en"},
		{"ErrCategory", header + "5,car_owner,有车一族,Car owner,branch,Life Style,86\n", 2, "category"},
		{"ErrPriority", header + "5,car_owner,有车一族,Car owner,branch,lifestyle,high\n", 2, "priority"},
		{"ErrQuote", header + good + "5,car\"owner,有车一族,Car owner,branch,lifestyle,86\n", 4, "quote"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := huiyan.ParseTagDict(strings.NewReader(c.in), 1)
			if err == nil {
				t.Fatalf("ParseTagDict=%v, want an error", d)
			}
			var le *huiyan.TagDictLineError
			if !errors.As(err, &le) {
				t.Fatalf("err=%v, want a *TagDictLineError", err)
			}
			if le.Line != c.line || !strings.Contains(le.Msg, c.msg) {
				t.Fatalf("line=%d msg=%q, want line %d and %q", le.Line, le.Msg, c.line, c.msg)
			}
		})
	}

	t.Run("ErrEveryBadLine", func(t *testing.T) {
		in := header + "x,a,甲,A,branch,c,1\n" + good + "9,b,乙,B,weird,c,1\n"
		_, err := huiyan.ParseTagDict(strings.NewReader(in), 1)
		if err == nil {
			t.Fatal("want an error")
		}
		for _, want := range []string{"line 2:", "line 5:"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err=%q, want it to name %q", err, want)
			}
		}
	})
}

func TestIsLowerSnake(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"car_owner", true}, {"td_3m", true}, {"a", true}, {"etc_user", true},
		{"", false}, {"Car_owner", false}, {"_car", false}, {"car_", false}, {"car__owner", false},
		{"3m_td", false}, {"car-owner", false}, {"car owner", false}, {strings.Repeat("a", 65), false},
	} {
		if got := huiyan.IsLowerSnake(c.in); got != c.want {
			t.Errorf("IsLowerSnake(%q)=%v, want %v", c.in, got, c.want)
		}
	}
}

func TestMaskName(t *testing.T) {
	for _, c := range []struct {
		name, full, want string
	}{
		{"ThreeChars", "林晓华", "林*华"},
		{"TwoChars", "王芳", "王*"},
		{"CompoundSurname", "欧阳晓峰", "欧**峰"},
		{"FiveChars", "爱新觉罗恒", "爱***恒"},
		{"Empty", "", ""},
		{"Blank", "   ", ""},
		{"OneChar", "林", "林*"},
		{"TrimsSpace", " 陈静 ", "陈*"},
		{"Latin", "Smith", "S***h"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := huiyan.MaskName(c.full)
			if got != c.want {
				t.Fatalf("MaskName(%q)=%q, want %q", c.full, got, c.want)
			}
			if got != "" && !huiyan.IsMaskedName(got) {
				t.Fatalf("IsMaskedName(%q)=false for MaskName's own output", got)
			}
		})
	}
}

func TestIsMaskedName(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"林*华", true},
		{"王*", true},
		{"欧**峰", true},
		{"S***h", true},
		{"", false},
		{"林", false},
		{"*", false},
		{"**", false},
		{"*华", false},
		{"林晓华", false},
		{"王芳", false},
		{"欧阳晓峰", false},
		{"欧*晓峰", false},
		{"林*", true},
		{"林**", false},
		{"林*华*", false},
		{"\xff*", false},
	} {
		if got := huiyan.IsMaskedName(c.in); got != c.want {
			t.Errorf("IsMaskedName(%q)=%v, want %v", c.in, got, c.want)
		}
	}
}
