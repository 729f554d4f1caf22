package ecode_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"huiyan/edge/ecode"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from vectorInputs")

const vectorsFile = "testdata/vectors.json"

// vectorFile is testdata/vectors.json (README.md, "Test vectors").
type vectorFile struct {
	Comment  []string `json:"comment"`
	KeyHex   string   `json:"key_hex"`
	Branch   string   `json:"branch"`
	SkewS    int64    `json:"skew_s"`
	Displays []string `json:"displays"`
	Staff    []string `json:"staff"`
	Vectors  []vector `json:"vectors"`
}

type vector struct {
	Name    string `json:"name"`
	Text    string `json:"text"`
	Now     int64  `json:"now"`
	Verdict string `json:"verdict"`
	// For a text that parses: the bytes the MAC covers and the whole
	// HMAC-SHA256 under the file's key, to debug an implementation with.
	Signed  string `json:"signed,omitempty"`
	HMACHex string `json:"hmac_hex,omitempty"`
}

var (
	vecDisplays = []string{"ecode-01", "ecode-02"}
	vecStaff    = []string{"lobby-B001", "zhang.san-B001"}
)

// vectorInputs makes the vectors' texts with the reference code; only
// -update uses them: the committed file is the contract.
func vectorInputs(t *testing.T) []vector {
	t.Helper()
	is := mustIssuer(t, ecode.Config{Displays: vecDisplays})
	is30 := mustIssuer(t, ecode.Config{Displays: vecDisplays, Period: 30 * time.Second})
	retired := mustIssuer(t, ecode.Config{Displays: []string{"ecode-09"}})
	b002 := mustIssuer(t, ecode.Config{Branch: "B002", Displays: vecDisplays})
	otherKey := mustIssuer(t, ecode.Config{Displays: vecDisplays, Key: ecode.Key{0xaa, 0xbb}})
	at := t0.Add(25 * time.Second)
	code := func(is *ecode.Issuer, k ecode.Kind, s string) string { return mustIssue(t, is, k, s, at).Text }
	branch := code(is, ecode.KindBranch, "ecode-01")
	u := func(d time.Duration) int64 { return at.Add(d).Unix() }
	return []vector{
		{Name: "branch code in its window", Text: branch, Now: u(10 * time.Second), Verdict: "ok"},
		{Name: "branch code in the next window (a scan in flight across the rotation)", Text: branch, Now: u(60 * time.Second), Verdict: "ok"},
		{Name: "branch code at the last second of the next window plus skew", Text: branch, Now: t0.Add(129 * time.Second).Unix(), Verdict: "ok"},
		{Name: "branch code two windows later: a photo scanned from home", Text: branch, Now: t0.Add(130 * time.Second).Unix(), Verdict: "expired"},
		{Name: "branch code a day later", Text: branch, Now: u(24 * time.Hour), Verdict: "expired"},
		{Name: "branch code before its window beyond the skew (a wrong clock)", Text: branch, Now: t0.Add(-11 * time.Second).Unix(), Verdict: "expired"},
		{Name: "branch code inside a URL", Text: "https://mbank.example.invalid/ecode?c=" + branch, Now: u(0), Verdict: "ok"},
		{Name: "staff code", Text: code(is, ecode.KindStaff, "lobby-B001"), Now: u(0), Verdict: "ok"},
		{Name: "staff code of a staff id with a dot", Text: code(is, ecode.KindStaff, "zhang.san-B001"), Now: u(0), Verdict: "ok"},
		{Name: "staff code of someone not on the roster", Text: code(is, ecode.KindStaff, "left-B001"), Now: u(0), Verdict: "unknown_subject"},
		{Name: "branch code of a display no longer configured", Text: code(retired, ecode.KindBranch, "ecode-09"), Now: u(0), Verdict: "unknown_subject"},
		{Name: "code with a 30-second period, next window", Text: code(is30, ecode.KindBranch, "ecode-02"), Now: t0.Add(45 * time.Second).Unix(), Verdict: "ok"},
		{Name: "code with a 30-second period, two windows later", Text: code(is30, ecode.KindBranch, "ecode-02"), Now: t0.Add(70 * time.Second).Unix(), Verdict: "expired"},
		{Name: "code of another branch", Text: code(b002, ecode.KindBranch, "ecode-01"), Now: u(0), Verdict: "wrong_branch"},
		{Name: "code made with another key", Text: code(otherKey, ecode.KindBranch, "ecode-01"), Now: u(0), Verdict: "forged"},
		{Name: "subject changed after signing", Text: strings.Replace(branch, "ecode-01", "ecode-02", 1), Now: u(0), Verdict: "forged"},
		{Name: "window changed after signing", Text: strings.Replace(branch, ".60.", ".60.1", 1), Now: u(0), Verdict: "forged"},
		{Name: "truncated MAC", Text: branch[:len(branch)-2], Now: u(0), Verdict: "forged"},
		{Name: "not a code", Text: "huiyan-ecode:B001:ecode-01", Now: u(0), Verdict: "forged"},
	}
}

func TestVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	key, err := ecode.ParseKey([]byte(f.KeyHex))
	if err != nil {
		t.Fatal(err)
	}
	is := mustIssuer(t, ecode.Config{Branch: f.Branch, Key: key, Skew: time.Duration(f.SkewS) * time.Second, Displays: f.Displays})
	if len(f.Vectors) < 15 {
		t.Fatalf("%d vectors, want at least 15", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			r := is.Verify(v.Text, time.Unix(v.Now, 0), func(id string) bool { return slices.Contains(f.Staff, id) })
			if string(r.Verdict) != v.Verdict {
				t.Fatalf("verdict=%s, want %s", r.Verdict, v.Verdict)
			}
			if v.Signed == "" {
				return
			}
			h := hmac.New(sha256.New, key[:])
			h.Write([]byte(v.Signed))
			if got := hex.EncodeToString(h.Sum(nil)); got != v.HMACHex {
				t.Fatalf("hmac=%s, want %s", got, v.HMACHex)
			}
			c, err := ecode.Parse(v.Text)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(v.Text, c.String()) || !strings.HasPrefix(c.String(), v.Signed+".") {
				t.Fatalf("signed %q is not the code's text before its MAC", v.Signed)
			}
			switch r.Verdict {
			case ecode.OK, ecode.Expired, ecode.UnknownSubject: // authentic: the MAC is the HMAC's first 16 bytes
				if got := hex.EncodeToString(c.MAC[:]); got != v.HMACHex[:2*ecode.MACLen] {
					t.Fatalf("mac=%s, want the first %d bytes of %s", got, ecode.MACLen, v.HMACHex)
				}
			}
		})
	}
}

func writeVectors(t *testing.T) {
	t.Helper()
	key := testKey()
	kh, _ := key.MarshalText()
	f := vectorFile{
		Comment: []string{
			"E-code test vectors of Huiyan; see README.md next to this folder for the algorithm.",
			"Verify each text at unix time now with the key key_hex, as branch branch, with skew_s seconds of skew,",
			"the displays and staff given as the known subjects; expect verdict.",
			"signed and hmac_hex (the full HMAC-SHA256 of signed) are given for every text that parses, for debugging.",
		},
		KeyHex: string(kh), Branch: "B001", SkewS: int64(ecode.DefaultSkew / time.Second),
		Displays: vecDisplays, Staff: vecStaff,
	}
	for _, v := range vectorInputs(t) {
		if c, err := ecode.Parse(v.Text); err == nil {
			s := c.String()
			v.Signed = s[:strings.LastIndexByte(s, '.')]
			h := hmac.New(sha256.New, key[:])
			h.Write([]byte(v.Signed))
			v.HMACHex = hex.EncodeToString(h.Sum(nil))
		}
		f.Vectors = append(f.Vectors, v)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
