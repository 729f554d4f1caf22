package hub_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"huiyan"
	"huiyan/hub"
)

// shippedDict is the shipped tagdict.csv, as HQ would upload it.
func shippedDict(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile("../tagdict.csv")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// withLines returns the dictionary file with lines appended.
func withLines(file string, lines ...string) string {
	return strings.TrimRight(file, "\n") + "\n" + strings.Join(lines, "\n") + "\n"
}

// without returns the dictionary file without the line of the tag code.
func without(file, code string) string {
	var out []string
	for l := range strings.Lines(file) {
		if f := strings.Split(l, ","); len(f) > 1 && f[1] == code {
			continue
		}
		out = append(out, strings.TrimRight(l, "\n"))
	}
	return strings.Join(out, "\n") + "\n"
}

func TestReadTagDict(t *testing.T) {
	shipped := shippedDict(t)
	history := hub.NewTagHistory(huiyan.DefaultTagDict())
	// v2 retired tag 7 and added 155; the history holds both.
	v2 := without(withLines(shipped, "155,drone_hobbyist,无人机爱好者,Drone hobbyist,branch,lifestyle,85"), huiyan.DefaultTagDict().ByID(7).Code)
	d2, errs, err := hub.ReadTagDict(strings.NewReader(v2), 2, history)
	if err != nil || len(errs) != 0 {
		t.Fatalf("v2: %v %v", errs, err)
	}
	history2 := hub.NewTagHistory(huiyan.DefaultTagDict(), d2)
	retired := huiyan.DefaultTagDict().ByID(7)

	for _, tt := range []struct {
		name    string
		file    string
		history *hub.TagHistory
		line    int // of the one line error wanted; -1 for none
		field   string
		reason  string // a part of it
		tags    int    // tags of the dictionary returned
	}{
		{name: "OKShipped", file: shipped, history: history, line: -1, tags: 166},
		{name: "OKFirstDictionary", file: shipped, line: -1, tags: 166},
		{name: "OKAddTag", file: withLines(shipped, "155,drone_hobbyist,无人机爱好者,Drone hobbyist,branch,lifestyle,85"), history: history, line: -1, tags: 167},
		{name: "OKRename", file: strings.Replace(shipped, "理财爱好者", "理财达人", 1), history: history, line: -1, tags: 166},
		{name: "OKRetire", file: without(shipped, "fund_sip"), history: history, line: -1, tags: 165},
		{name: "OKRetiredComesBack", file: withLines(v2, fmt.Sprintf("7,%s,%s,%s,%s,%s,50", retired.Code, retired.NameZH, retired.NameEN, retired.Kind, retired.Category)), history: history2, line: -1, tags: 167},
		{name: "OKBOMAndCRLF", file: "\ufeff" + strings.ReplaceAll(shipped, "\n", "\r\n"), history: history, line: -1, tags: 166},

		{name: "ErrRepointID", file: strings.Replace(shipped, "1,wealth_enthusiast,", "1,wealth_lover,", 1), history: history, line: 2, field: "id", reason: `id 1 is tag "wealth_enthusiast" in dictionary version 1`, tags: 166},
		{name: "ErrRetiredIDReused", file: withLines(v2, "7,brand_new,全新标签,Brand new,branch,lifestyle,85"), history: history2, line: 168, field: "id", reason: "id 7 is tag", tags: 167},
		{name: "ErrCodeMoved", file: withLines(without(shipped, "fund_sip"), "156,fund_sip,基金定投客户,Fund regular-investment plan,branch,wealth,42"), history: history, line: 167, field: "id", reason: `tag "fund_sip" has id 2`, tags: 166},
		{name: "ErrKindChanged", file: strings.Replace(shipped, "201,potential_vip,潜力贵宾客户,Potential VIP,predictive", "201,potential_vip,潜力贵宾客户,Potential VIP,branch", 1), history: history, line: 156, field: "kind", reason: "keeps its kind", tags: 166},
		{name: "ErrNewStatusTag", file: withLines(shipped, "305,mbank_frozen,掌银冻结,Mobile banking frozen,status,mbank,20"), history: history, line: 168, field: "kind", reason: "kind status is only for", tags: 167},
		{name: "ErrRequiredRemoved", file: without(shipped, huiyan.TagPotentialVIP), history: history, line: 0, field: "code", reason: "tag potential_vip is missing", tags: 165},
		{name: "ErrDuplicateID", file: withLines(shipped, "1,another,另一个,Another,branch,wealth,30"), history: history, line: 168, field: "id", reason: "duplicate id 1 (first on line 2)", tags: 166},
		{name: "ErrDuplicateCode", file: withLines(shipped, "155,fund_sip,另一个,Another,branch,wealth,30"), history: history, line: 168, field: "code", reason: `duplicate code "fund_sip" (first on line 3)`, tags: 166},
		{name: "ErrIDZero", file: withLines(shipped, "0,zero,零,Zero,branch,wealth,30"), history: history, line: 168, field: "id", reason: "whole number from 1 to 999999", tags: 166},
		{name: "ErrIDSign", file: withLines(shipped, "+155,plus,加,Plus,branch,wealth,30"), history: history, line: 168, field: "id", reason: "whole number", tags: 166},
		{name: "ErrCode", file: withLines(shipped, "155,Bad-Code,坏,Bad,branch,wealth,30"), history: history, line: 168, field: "code", reason: "lower_snake", tags: 166},
		{name: "ErrNameMissing", file: withLines(shipped, "155,no_name,,No name,branch,wealth,30"), history: history, line: 168, field: "name_zh", reason: "required", tags: 166},
		{name: "ErrNameTooLong", file: withLines(shipped, "155,long_name,长,"+strings.Repeat("x", 65)+",branch,wealth,30"), history: history, line: 168, field: "name_en", reason: "longer than 64", tags: 166},
		{name: "ErrKind", file: withLines(shipped, "155,bad_kind,坏,Bad,model,wealth,30"), history: history, line: 168, field: "kind", reason: `unknown kind "model"`, tags: 166},
		{name: "ErrCategory", file: withLines(shipped, "155,bad_cat,坏,Bad,branch,Wealth,30"), history: history, line: 168, field: "category", reason: "lower_snake", tags: 166},
		{name: "ErrPriority", file: withLines(shipped, "155,bad_prio,坏,Bad,branch,wealth,10000"), history: history, line: 168, field: "priority", reason: "0 to 9999", tags: 166},
		{name: "ErrFields", file: withLines(shipped, "155,short,短,Short,branch,wealth"), history: history, line: 168, reason: "6 fields, want 7", tags: 166},
		{name: "ErrQuote", file: withLines(shipped, `155,"open,开,Open,branch,wealth,30`), history: history, line: 168, field: "code", reason: "not closed", tags: 166},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, errs, err := hub.ReadTagDict(strings.NewReader(tt.file), 3, tt.history)
			if err != nil {
				t.Fatalf("ReadTagDict: %v", err)
			}
			if d.Version() != 3 || len(d.Tags()) != tt.tags {
				t.Fatalf("dictionary version %d with %d tags, want 3 with %d", d.Version(), len(d.Tags()), tt.tags)
			}
			if tt.line < 0 {
				if len(errs) != 0 {
					t.Fatalf("line errors %v, want none", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("line errors %v, want one", errs)
			}
			e := errs[0]
			if e.Line != tt.line || e.Field != tt.field || !strings.Contains(e.Reason, tt.reason) {
				t.Fatalf("line error %+v, want line %d field %q reason containing %q", e, tt.line, tt.field, tt.reason)
			}
		})
	}

	t.Run("ErrHeader", func(t *testing.T) {
		for _, in := range []string{"", "id,code,name_zh,name_en,kind,category\n", "customer_id,display_name\n"} {
			_, _, err := hub.ReadTagDict(strings.NewReader(in), 2, history)
			var le *hub.LineError
			if !errors.As(err, &le) || le.Line != 1 {
				t.Fatalf("header %q: %v, want a *LineError on line 1", in, err)
			}
		}
	})
	t.Run("ErrVersion", func(t *testing.T) {
		if _, _, err := hub.ReadTagDict(strings.NewReader(shipped), 0, history); err == nil {
			t.Fatal("version 0: no error")
		}
	})
}

func TestSameTags(t *testing.T) {
	a := huiyan.DefaultTagDict()
	same, _, err := hub.ReadTagDict(strings.NewReader(shippedDict(t)), 9, nil)
	if err != nil {
		t.Fatal(err)
	}
	renamed, _, err := hub.ReadTagDict(strings.NewReader(strings.Replace(shippedDict(t), "理财爱好者", "理财达人", 1)), 9, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !hub.SameTags(a, same) || hub.SameTags(a, renamed) {
		t.Fatalf("SameTags: same=%v renamed=%v, want true and false", hub.SameTags(a, same), hub.SameTags(a, renamed))
	}
}
