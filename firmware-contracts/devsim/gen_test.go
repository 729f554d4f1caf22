package devsim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/firmware-contracts"
	"huiyan/firmware-contracts/devsim"
	"huiyan/hub/prizes"
)

// The headers exactly as DESIGN.md writes them.
const (
	wantTagsHeader  = "customer_id,display_name,tier,home_branch,branches,manager,mbank_status,mbank_idle_days,risk,aum_band,lifecycle,opt_out,tags,maturities,idcard_token,bankcard_tokens,mbank_token,phone_token"
	wantStaffHeader = "staff_id,branch,role,display_name,pin_hash"
)

// testConfig is a small data set; PIN hashing is made cheap, the one thing
// the default work factor would slow down.
func testConfig(seed int64) devsim.GenConfig {
	return devsim.GenConfig{Customers: 4000, Branches: 5, Seed: seed, PINIterations: 1000}
}

type row map[string]string

// MustGen generates cfg into a temporary directory and returns it.
func MustGen(tb testing.TB, cfg devsim.GenConfig) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "out", "nested") // Gen creates it
	res, err := devsim.Gen(context.Background(), cfg, dir)
	if err != nil {
		tb.Fatal(err)
	}
	if res.Customers != cfg.Customers || res.TagsPath != filepath.Join(dir, devsim.TagsFile) || res.TagsBytes == 0 {
		tb.Fatalf("result=%+v", res)
	}
	return dir
}

// MustReadCSV reads a generated file, checks its header and that every
// line has as many fields as the header.
func MustReadCSV(tb testing.TB, path, header string) []row {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	if first != header {
		tb.Fatalf("%s header=%q, want %q", filepath.Base(path), first, header)
	}
	r := csv.NewReader(bytes.NewReader(data))
	cols := strings.Split(header, ",")
	r.FieldsPerRecord = len(cols)
	recs, err := r.ReadAll()
	if err != nil {
		tb.Fatalf("%s: %v", filepath.Base(path), err)
	}
	var rows []row
	for _, rec := range recs[1:] {
		m := row{}
		for i, c := range cols {
			m[c] = rec[i]
		}
		rows = append(rows, m)
	}
	return rows
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ";")
}

func isToken(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// share checks that n of total is within four standard deviations (plus
// half a point) of the documented share p.
func share(t *testing.T, what string, n, total int, p float64) {
	t.Helper()
	got := float64(n) / float64(total)
	tol := 4*math.Sqrt(p*(1-p)/float64(total)) + 0.005
	if math.Abs(got-p) > tol {
		t.Errorf("%s share=%.4f, want %.4f±%.4f", what, got, p, tol)
	}
}

func TestGen(t *testing.T) {
	cfg := testConfig(7)
	dir := MustGen(t, cfg)
	rows := MustReadCSV(t, filepath.Join(dir, devsim.TagsFile), wantTagsHeader)
	staff := MustReadCSV(t, filepath.Join(dir, devsim.StaffFile), wantStaffHeader)
	if len(rows) != cfg.Customers {
		t.Fatalf("rows=%d, want %d", len(rows), cfg.Customers)
	}
	dict := huiyan.DefaultTagDict()
	ref := devsim.DefaultRef

	branches := map[string]bool{}
	for i := range cfg.Branches {
		id := devsim.BranchID(i)
		if !huiyan.ValidBranchID(id) {
			t.Fatalf("BranchID(%d)=%q is not a valid branch id", i, id)
		}
		branches[id] = true
	}
	staffByID := map[string]row{}
	for _, s := range staff {
		staffByID[s["staff_id"]] = s
	}

	t.Run("Staff", func(t *testing.T) {
		for b := range branches {
			for _, role := range huiyan.Roles {
				id := string(role) + "-" + b
				s, ok := staffByID[id]
				if !ok {
					t.Errorf("staff %q missing", id)
					continue
				}
				if s["branch"] != b || s["role"] != string(role) {
					t.Errorf("staff %q: branch=%q role=%q", id, s["branch"], s["role"])
				}
			}
		}
		if len(staff) < 5*len(branches) {
			t.Errorf("staff=%d, want at least 5 a branch", len(staff))
		}
		for i, s := range staff {
			if !huiyan.ValidStaffID(s["staff_id"]) || !branches[s["branch"]] || !huiyan.Role(s["role"]).Valid() || s["display_name"] == "" {
				t.Errorf("staff %+v: bad field", s)
			}
			if !strings.HasPrefix(s["staff_id"], s["role"]+"-"+s["branch"]) {
				t.Errorf("staff %q: id does not name role and branch", s["staff_id"])
			}
			if i%4 == 0 {
				if err := huiyan.VerifyPIN(s["pin_hash"], devsim.DemoPIN); err != nil {
					t.Errorf("staff %q: VerifyPIN=%v, want nil", s["staff_id"], err)
				}
				if err := huiyan.VerifyPIN(s["pin_hash"], "135790"); !errors.Is(err, huiyan.ErrPINMismatch) {
					t.Errorf("staff %q: wrong PIN gave %v", s["staff_id"], err)
				}
			}
		}
		if len(staffByID) != len(staff) {
			t.Error("duplicate staff ids")
		}
	})

	t.Run("Rows", func(t *testing.T) {
		ids := map[string]bool{}
		tokens := map[string]string{}
		for i, r := range rows {
			id := r["customer_id"]
			if !huiyan.ValidCustomerID(id) || len(id) > huiyan.MaxCustomerIDLen || ids[id] || id != devsim.CustomerID(cfg.Seed, i) {
				t.Errorf("row %d: customer_id %q invalid, duplicate or not CustomerID", i, id)
			}
			ids[id] = true
			if !huiyan.IsMaskedName(r["display_name"]) {
				t.Errorf("row %d: display_name %q is not masked", i, r["display_name"])
			}
			tier := huiyan.Tier(r["tier"])
			band := huiyan.AUMBandByCode(r["aum_band"])
			if !tier.Valid() || band == nil || band.Tier() != tier {
				t.Errorf("row %d: tier %q and aum_band %q disagree", i, r["tier"], r["aum_band"])
			}
			if !branches[r["home_branch"]] {
				t.Errorf("row %d: home_branch %q unknown", i, r["home_branch"])
			}
			for _, b := range split(r["branches"]) {
				if !branches[b] || b == r["home_branch"] {
					t.Errorf("row %d: branches %q: %q unknown or home", i, r["branches"], b)
				}
			}
			if m := r["manager"]; m != "" {
				s, ok := staffByID[m]
				if !ok || s["role"] != string(huiyan.RoleAccount) || s["branch"] != r["home_branch"] {
					t.Errorf("row %d: manager %q is not an account manager of %s", i, m, r["home_branch"])
				}
			}
			st := huiyan.MBankStatus(r["mbank_status"])
			if !st.Valid() {
				t.Errorf("row %d: mbank_status %q", i, st)
			}
			idle, idleErr := strconv.Atoi(r["mbank_idle_days"])
			switch st {
			case huiyan.MBankNone, huiyan.MBankRegistered:
				if r["mbank_idle_days"] != "" {
					t.Errorf("row %d: %s with mbank_idle_days %q, want empty (never)", i, st, r["mbank_idle_days"])
				}
			case huiyan.MBankActive:
				if idleErr != nil || idle < 0 || idle >= huiyan.DormantAfterDays {
					t.Errorf("row %d: active with mbank_idle_days %q", i, r["mbank_idle_days"])
				}
			case huiyan.MBankDormant:
				if idleErr != nil || idle < huiyan.DormantAfterDays {
					t.Errorf("row %d: dormant with mbank_idle_days %q", i, r["mbank_idle_days"])
				}
			}
			lc := huiyan.Lifecycle(r["lifecycle"])
			if !lc.Valid() || st == huiyan.MBankActive && lc == huiyan.LifecycleDormant {
				t.Errorf("row %d: lifecycle %q with status %s", i, lc, st)
			}
			if !huiyan.Risk(r["risk"]).Valid() {
				t.Errorf("row %d: risk %q", i, r["risk"])
			}
			if o := r["opt_out"]; o != "0" && o != "1" {
				t.Errorf("row %d: opt_out %q", i, o)
			}

			checkTags(t, i, r, dict)

			for _, m := range split(r["maturities"]) {
				code, date, ok := strings.Cut(m, ":")
				d, err := time.ParseInLocation(time.DateOnly, date, ref.Location())
				if !ok || huiyan.ProductByCode(code) == nil || err != nil {
					t.Errorf("row %d: maturity %q", i, m)
					continue
				}
				if d.Before(ref) || d.After(ref.AddDate(0, 0, devsim.MaturityWindowDays)) {
					t.Errorf("row %d: maturity %q outside %s + %d days", i, m, ref.Format(time.DateOnly), devsim.MaturityWindowDays)
				}
			}

			var toks []string
			toks = append(toks, r["idcard_token"], r["phone_token"])
			cards := split(r["bankcard_tokens"])
			if len(cards) < 1 || len(cards) > 2 {
				t.Errorf("row %d: %d bank cards, want 1 or 2", i, len(cards))
			}
			toks = append(toks, cards...)
			if (st == huiyan.MBankNone) != (r["mbank_token"] == "") {
				t.Errorf("row %d: status %s with mbank_token %q", i, st, r["mbank_token"])
			}
			if r["mbank_token"] != "" {
				toks = append(toks, r["mbank_token"])
			}
			for _, tok := range toks {
				if !isToken(tok) {
					t.Errorf("row %d: token %q is not 64 lower-case hex", i, tok)
				}
				if prev, dup := tokens[tok]; dup {
					t.Errorf("row %d: token %s also on %s", i, tok, prev)
				}
				tokens[tok] = id
			}
		}
	})

	t.Run("Shares", func(t *testing.T) {
		n := len(rows)
		count := map[string]int{}
		var normal, vip, potential, churn int
		for _, r := range rows {
			count["tier="+r["tier"]]++
			count["mbank="+r["mbank_status"]]++
			count["lifecycle="+r["lifecycle"]]++
			if r["opt_out"] == "1" {
				count["opt_out"]++
			}
			if r["manager"] != "" {
				count["manager"]++
			}
			if r["branches"] != "" {
				count["cached_elsewhere"]++
			}
			if r["maturities"] != "" {
				count["maturities"]++
			}
			if len(split(r["bankcard_tokens"])) == 2 {
				count["two_cards"]++
			}
			tags := "," + strings.ReplaceAll(r["tags"], ";", ",") + ","
			if huiyan.Tier(r["tier"]).VIP() {
				vip++
				if strings.Contains(tags, ","+huiyan.TagChurnRiskVIP+",") {
					churn++
				}
			} else {
				normal++
				if strings.Contains(tags, ","+huiyan.TagPotentialVIP+",") {
					potential++
				}
			}
		}
		for _, c := range []struct {
			key  string
			want float64
		}{
			{"tier=normal", .80}, {"tier=gold", .12}, {"tier=platinum", .05}, {"tier=diamond", .025}, {"tier=private", .005},
			{"mbank=none", .20}, {"mbank=registered", .12}, {"mbank=dormant", .18}, {"mbank=active", .50},
			{"lifecycle=onboarding", .108}, {"lifecycle=growth", .228}, {"lifecycle=mature", .382},
			{"lifecycle=churning", .146}, {"lifecycle=dormant", .136},
			{"opt_out", .08}, {"manager", .30}, {"cached_elsewhere", .10}, {"maturities", .25},
		} {
			share(t, c.key, count[c.key], n, c.want)
		}
		share(t, "potential_vip among normal", potential, normal, .05)
		share(t, "churn_risk_vip among VIPs", churn, vip, .10)
		if count["two_cards"] == 0 {
			t.Error("nobody has two bank cards")
		}
	})
}

// checkTags checks one row's tags against the dictionary and the model's
// consistency rules.
func checkTags(t *testing.T, i int, r row, dict *huiyan.TagDict) {
	t.Helper()
	has := map[string]bool{}
	nBranch, nStatus, lastID := 0, 0, 0
	for _, code := range split(r["tags"]) {
		tag := dict.ByCode(code)
		if tag == nil {
			t.Errorf("row %d: tag %q not in the dictionary", i, code)
			continue
		}
		if tag.ID <= lastID {
			t.Errorf("row %d: tags not in id order or duplicate at %q", i, code)
		}
		lastID = tag.ID
		has[code] = true
		switch tag.Kind {
		case huiyan.TagBranch:
			nBranch++
		case huiyan.TagStatus:
			nStatus++
		}
	}
	if nBranch < 3 || nBranch > 15 {
		t.Errorf("row %d: %d branch tags, want 3 to 15", i, nBranch)
	}
	st := huiyan.MBankStatus(r["mbank_status"])
	if nStatus != 1 || !has[huiyan.StatusTagCode(st)] {
		t.Errorf("row %d: tags %q lack exactly the status tag of %s", i, r["tags"], st)
	}
	tier := huiyan.Tier(r["tier"])
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{!has["mbank_customer"] || st == huiyan.MBankActive || st == huiyan.MBankDormant, "mbank_customer without active or dormant mobile banking"},
		{!has["mbank_heavy_login"] || st == huiyan.MBankActive, "mbank_heavy_login without active mobile banking"},
		{!has["car_loan"] || has["car_owner"], "car_loan without car_owner"},
		{!has["mortgage"] || has["home_owner"], "mortgage without home_owner"},
		{!has["credit_card_heavy"] || has["credit_card_holder"], "credit_card_heavy without credit_card_holder"},
		{!has["pension_payout"] || has["retiree"], "pension_payout without retiree"},
		{!has[huiyan.TagPotentialVIP] || !tier.VIP(), "potential_vip on a VIP"},
		{!has[huiyan.TagChurnRiskVIP] || tier.VIP(), "churn_risk_vip on a normal customer"},
		{!has["large_cd_holder"] || tier.VIP(), "large_cd_holder under ¥200k"},
	} {
		if !c.ok {
			t.Errorf("row %d: %s", i, c.what)
		}
	}
	soon := false
	for _, m := range split(r["maturities"]) {
		code, date, _ := strings.Cut(m, ":")
		d, _ := time.ParseInLocation(time.DateOnly, date, devsim.DefaultRef.Location())
		k := huiyan.ProductByCode(code)
		if k != nil && (k.Kind == huiyan.ProductTermDeposit || k.Kind == huiyan.ProductLargeCD) && !d.After(devsim.DefaultRef.AddDate(0, 0, 30)) {
			soon = true
		}
		if k != nil && huiyan.Risk(r["risk"]) < k.Risk {
			t.Errorf("row %d: %s holds %s (risk %s)", i, r["risk"], code, k.Risk)
		}
	}
	if soon != has["deposit_maturing"] {
		t.Errorf("row %d: deposit_maturing=%v, but a deposit matures within 30 days=%v", i, has["deposit_maturing"], soon)
	}
}

func TestGen_Deterministic(t *testing.T) {
	cfg := testConfig(42)
	cfg.Customers = 3000
	a := MustGen(t, cfg)
	cfg.Workers = 1 // scheduling must not matter
	b := MustGen(t, cfg)
	cfg.Workers = 0
	cfg.Seed = 43
	c := MustGen(t, cfg)
	for _, f := range []string{devsim.TagsFile, devsim.StaffFile} {
		ha, hb, hc := fileHash(t, filepath.Join(a, f)), fileHash(t, filepath.Join(b, f)), fileHash(t, filepath.Join(c, f))
		if ha != hb {
			t.Errorf("%s: two runs with seed 42 differ", f)
		}
		if ha == hc {
			t.Errorf("%s: seeds 42 and 43 gave the same file", f)
		}
	}

	t.Run("WriteTags", func(t *testing.T) {
		var buf bytes.Buffer
		if err := devsim.WriteTags(context.Background(), testConfig(42), &buf); err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join(a, devsim.TagsFile))
		// a has 3000 customers, buf 4000: a customer does not depend on how many follow.
		if !bytes.HasPrefix(buf.Bytes(), want) {
			t.Fatal("WriteTags with more customers does not start with the smaller data set")
		}
	})
}

// A customer is the same person whatever the branch count and reference
// date: only home branch, other branches and manager move.
func TestGen_CustomerStable(t *testing.T) {
	gen := func(cfg devsim.GenConfig) []row {
		var buf bytes.Buffer
		if err := devsim.WriteTags(context.Background(), cfg, &buf); err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(&buf)
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var rows []row
		for _, rec := range recs[1:] {
			m := row{}
			for i, c := range recs[0] {
				m[c] = rec[i]
			}
			rows = append(rows, m)
		}
		return rows
	}
	a := gen(devsim.GenConfig{Customers: 300, Branches: 3, Seed: 5})
	b := gen(devsim.GenConfig{Customers: 300, Branches: 40, Seed: 5, Ref: time.Date(2027, 3, 1, 15, 0, 0, 0, time.UTC)})
	moved := 0
	for i := range a {
		for _, f := range []string{"customer_id", "display_name", "tier", "mbank_status", "risk", "tags", "idcard_token", "bankcard_tokens", "phone_token"} {
			if a[i][f] != b[i][f] {
				t.Errorf("row %d: %s %q became %q", i, f, a[i][f], b[i][f])
			}
		}
		if a[i]["home_branch"] != b[i]["home_branch"] {
			moved++
		}
		am, bm := split(a[i]["maturities"]), split(b[i]["maturities"])
		if len(am) != len(bm) {
			t.Fatalf("row %d: maturities %q and %q", i, am, bm)
		}
		for j := range am {
			ad, _ := time.Parse(time.DateOnly, am[j][strings.Index(am[j], ":")+1:])
			bd, _ := time.Parse(time.DateOnly, bm[j][strings.Index(bm[j], ":")+1:])
			// 2027-03-01 15:00 UTC is 2027-03-01 23:00 in China: 98 days after 2026-11-23.
			if got := int(bd.Sub(ad).Hours() / 24); got != 98 {
				t.Errorf("row %d: maturity moved %d days with the reference date, want 98", i, got)
			}
		}
	}
	if moved == 0 {
		t.Error("no customer moved to another home branch with 40 branches")
	}
}

func TestCustomerIdents(t *testing.T) {
	const seed = 11
	var buf bytes.Buffer
	if err := devsim.WriteTags(context.Background(), devsim.GenConfig{Customers: 300, Branches: 2, Seed: seed}, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	token := func(kind huiyan.IdentKind, raw string) string {
		tok, err := firmware.Token(firmware.DemoKey, kind, raw)
		if err != nil {
			t.Fatalf("Token(%s, %q): %v", kind, raw, err)
		}
		return tok
	}
	for i, rec := range recs[1:] {
		id, err := devsim.CustomerIdents(seed, i)
		if err != nil {
			t.Fatal(err)
		}
		if len(id.IDCard) != 18 || id.IDCard[0] != '9' {
			t.Errorf("customer %d: idcard %q is not 18 characters in the synthetic 9xxxxx region", i, id.IDCard)
		}
		if !strings.HasPrefix(id.Phone, "+861") || len(id.Phone) != 14 {
			t.Errorf("customer %d: phone %q", i, id.Phone)
		}
		for j, card := range id.BankCards {
			if !luhn(card) || !strings.HasPrefix(card, "999") || (j == 0 && len(card) != 19) || len(card) < 16 {
				t.Errorf("customer %d: bank card %q", i, card)
			}
		}
		if got := token(huiyan.IdentIDCard, id.IDCard); got != rec[14] {
			t.Errorf("customer %d: idcard token %s, tags.csv has %s", i, got, rec[14])
		}
		var cards []string
		for _, c := range id.BankCards {
			cards = append(cards, token(huiyan.IdentBankCard, c))
		}
		if got := strings.Join(cards, ";"); got != rec[15] {
			t.Errorf("customer %d: bankcard tokens %s, tags.csv has %s", i, got, rec[15])
		}
		mb := ""
		if id.MBank != "" {
			mb = token(huiyan.IdentMBank, id.MBank)
		}
		if mb != rec[16] {
			t.Errorf("customer %d: mbank token %q, tags.csv has %q", i, mb, rec[16])
		}
		if got := token(huiyan.IdentPhone, id.Phone); got != rec[17] {
			t.Errorf("customer %d: phone token %s, tags.csv has %s", i, got, rec[17])
		}
		// The local number form gives the same token (firmware normalises).
		if got := token(huiyan.IdentPhone, id.Phone[3:]); got != rec[17] {
			t.Errorf("customer %d: phone token of the 11-digit form differs", i)
		}
	}
	if _, err := devsim.CustomerIdents(seed, -1); err == nil {
		t.Error("CustomerIdents(-1) gave no error")
	}
}

func luhn(s string) bool {
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if (len(s)-1-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func TestGen_DefaultPINIterations(t *testing.T) {
	var buf bytes.Buffer
	n, err := devsim.WriteStaff(context.Background(), devsim.GenConfig{Customers: 1, Branches: 1, Seed: 1}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	staff := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(staff) != n+1 || n < 4 {
		t.Fatalf("staff lines=%d n=%d", len(staff), n)
	}
	hash := staff[1][strings.LastIndex(staff[1], ",")+1:]
	if !strings.HasPrefix(hash, "pbkdf2-sha256$"+strconv.Itoa(huiyan.PINIterations)+"$") {
		t.Fatalf("hash %q does not use huiyan.PINIterations", hash)
	}
	if err := huiyan.VerifyPIN(hash, devsim.DemoPIN); err != nil {
		t.Fatalf("VerifyPIN=%v, want nil", err)
	}
}

func TestGenConfig_Validate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  devsim.GenConfig
		want string
	}{
		{"OK", devsim.GenConfig{Customers: 1, Branches: 1}, ""},
		{"ErrCustomers", devsim.GenConfig{Customers: 0, Branches: 1}, "customers"},
		{"ErrTooManyCustomers", devsim.GenConfig{Customers: devsim.MaxGenCustomers + 1, Branches: 1}, "customers"},
		{"ErrBranches", devsim.GenConfig{Customers: 1, Branches: 0}, "branches"},
		{"ErrTooManyBranches", devsim.GenConfig{Customers: 1, Branches: devsim.MaxGenBranches + 1}, "branches"},
		{"ErrPINIterations", devsim.GenConfig{Customers: 1, Branches: 1, PINIterations: 10}, "pin iterations"},
		{"ErrWorkers", devsim.GenConfig{Customers: 1, Branches: 1, Workers: -1}, "workers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)) {
				t.Fatalf("Validate=%v, want %q", err, c.want)
			}
		})
	}
}

func TestGen_Canceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := devsim.Gen(ctx, testConfig(1), dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("Gen=%v, want context.Canceled", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("a canceled Gen left %d files", len(entries))
	}
	if err := devsim.WriteTags(ctx, testConfig(1), io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteTags=%v, want context.Canceled", err)
	}
}

func TestBranchAndStaffID(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{devsim.BranchID(0), "B001"},
		{devsim.BranchID(998), "B999"},
		{devsim.BranchID(999), "B1000"},
		{devsim.StaffID(huiyan.RoleLobby, "B001", 1), "lobby-B001"},
		{devsim.StaffID(huiyan.RoleAccount, "B012", 3), "account-B012-3"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func BenchmarkWriteTags(b *testing.B) {
	cfg := devsim.GenConfig{Customers: 20_000, Branches: 20, Seed: 1}
	b.SetBytes(int64(cfg.Customers))
	for b.Loop() {
		if err := devsim.WriteTags(context.Background(), cfg, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGen_Prizes reads the generated prizes.csv as the hub does on an
// import: a valid table for every branch, whose campaign runs on the
// reference day and for years after it.
func TestGen_Prizes(t *testing.T) {
	cfg := testConfig(1)
	dir := MustGen(t, cfg)
	f, err := os.Open(filepath.Join(dir, devsim.PrizesFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tables, err := prizes.Parse(f)
	if err != nil {
		t.Fatalf("the hub refuses the generated prizes.csv: %v", err)
	}
	if len(tables) != cfg.Branches {
		t.Fatalf("%d tables, want one for each of %d branches", len(tables), cfg.Branches)
	}
	ref := cfg.RefDay()
	for i := range cfg.Branches {
		b := devsim.BranchID(i)
		tb := tables[b]
		switch {
		case tb == nil:
			t.Fatalf("no table for %s", b)
		case tb.Campaign != devsim.PrizesCampaign(cfg):
			t.Errorf("%s: campaign %q", b, tb.Campaign)
		case ref.Before(tb.Starts) || !ref.AddDate(2, 11, 0).Before(tb.Ends):
			t.Errorf("%s: campaign %s to %s does not run from %s for nearly three years", b, tb.Starts, tb.Ends, ref)
		case tb.SpinsPerDay != 1 || tb.AllowUnknown:
			t.Errorf("%s: %d spins a day, unknown customers allowed %v", b, tb.SpinsPerDay, tb.AllowUnknown)
		case len(tb.Entries) < 2 || tb.NoPrize().Weight == 0:
			t.Errorf("%s: entries %+v", b, tb.Entries)
		}
	}
	// The same for a second run: it depends on the branch count and the
	// reference day only.
	if again := MustGen(t, cfg); fileHash(t, filepath.Join(again, devsim.PrizesFile)) != fileHash(t, filepath.Join(dir, devsim.PrizesFile)) {
		t.Error("two runs wrote different prizes.csv")
	}
}
