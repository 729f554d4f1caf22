package ecode_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"huiyan/edge/ecode"
)

// testKey is the key of the tests and of the vectors: the bytes 00 … 1f.
func testKey() ecode.Key {
	var k ecode.Key
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// t0 is 2026-11-23 09:30:00 +08:00, a window start for 60-second periods.
var t0 = time.Date(2026, 11, 23, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))

func mustIssuer(tb testing.TB, cfg ecode.Config) *ecode.Issuer {
	tb.Helper()
	if cfg.Branch == "" {
		cfg.Branch = "B001"
	}
	if cfg.Key == (ecode.Key{}) {
		cfg.Key = testKey()
	}
	if cfg.Displays == nil {
		cfg.Displays = []string{"ecode-01", "ecode-02"}
	}
	is, err := ecode.NewIssuer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return is
}

func mustIssue(tb testing.TB, is *ecode.Issuer, kind ecode.Kind, subject string, at time.Time) ecode.Issued {
	tb.Helper()
	c, err := is.Issue(kind, subject, at)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestParse(t *testing.T) {
	is := mustIssuer(t, ecode.Config{})
	good := mustIssue(t, is, ecode.KindBranch, "ecode-01", t0).Text
	staff := mustIssue(t, is, ecode.KindStaff, "zhang.san-B001", t0).Text
	mac := good[strings.LastIndexByte(good, '.')+1:]
	for _, tc := range []struct {
		name, text string
		ok         bool
		subject    string
	}{
		{"OK", good, true, "ecode-01"},
		{"OKStaffWithDots", staff, true, "zhang.san-B001"},
		{"OKAfterURL", "https://mbank.example.invalid/e?c=" + good, true, "ecode-01"},
		{"OKLastCodeWins", "HY1.junk " + good, true, "ecode-01"},
		{"ErrEmpty", "", false, ""},
		{"ErrNoCode", "huiyan-ecode:B001:ecode-01", false, ""},
		{"ErrTruncated", good[:len(good)-3], false, ""},
		{"ErrMissingMAC", good[:strings.LastIndexByte(good, '.')], false, ""},
		{"ErrTrailing", good + "x", false, ""},
		{"ErrKind", "HY1.x.B001.ecode-01.60.29577810." + mac, false, ""},
		{"ErrBranch", "HY1.b.B_01.ecode-01.60.29577810." + mac, false, ""},
		{"ErrEmptySubject", "HY1.b.B001..60.29577810." + mac, false, ""},
		{"ErrDeviceWithDot", "HY1.b.B001.ecode.01.60.29577810." + mac, false, ""},
		{"ErrPeriodShort", "HY1.b.B001.ecode-01.9.29577810." + mac, false, ""},
		{"ErrPeriodLong", "HY1.b.B001.ecode-01.3601.29577810." + mac, false, ""},
		{"ErrPeriodLeadingZero", "HY1.b.B001.ecode-01.060.29577810." + mac, false, ""},
		{"ErrWindowSign", "HY1.b.B001.ecode-01.60.-29577810." + mac, false, ""},
		{"ErrWindowLeadingZero", "HY1.b.B001.ecode-01.60.029577810." + mac, false, ""},
		{"ErrWindowHuge", "HY1.b.B001.ecode-01.60.1234567890123." + mac, false, ""},
		{"ErrMACPadding", "HY1.b.B001.ecode-01.60.29577810." + mac[:20] + "==", false, ""},
		{"ErrMACAlphabet", "HY1.b.B001.ecode-01.60.29577810." + mac[:21] + "+", false, ""},
		{"ErrMACTrailingBits", "HY1.b.B001.ecode-01.60.29577810." + mac[:21] + "B", false, ""}, // 16 bytes leave 4 spare bits: only A, Q, g or w ends a canonical MAC
		{"ErrSubjectTooLong", "HY1.s.B001." + strings.Repeat("a", 65) + ".60.29577810." + mac, false, ""},
		{"ErrTooLong", "HY1.s.B001." + strings.Repeat("a.", 100) + "a.60.29577810." + mac, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ecode.Parse(tc.text)
			if tc.ok {
				if err != nil {
					t.Fatalf("err=%v, want nil", err)
				}
				if c.Subject != tc.subject || c.Branch != "B001" || c.Period != 60 {
					t.Fatalf("code=%+v, want subject %s in B001, period 60", c, tc.subject)
				}
				return
			}
			if !errors.Is(err, ecode.ErrFormat) {
				t.Fatalf("err=%v, want ErrFormat", err)
			}
		})
	}
}

func TestParse_RoundTrip(t *testing.T) {
	is := mustIssuer(t, ecode.Config{Period: 45 * time.Second, Displays: []string{"ecode-01", "e_2"}})
	for _, subject := range []string{"ecode-01", "e_2"} {
		iss := mustIssue(t, is, ecode.KindBranch, subject, t0.Add(17*time.Second))
		c, err := ecode.Parse(iss.Text)
		if err != nil {
			t.Fatal(err)
		}
		if c != iss.Code || c.String() != iss.Text {
			t.Fatalf("parsed %+v (%s), want %+v (%s)", c, c, iss.Code, iss.Text)
		}
		if !ecode.Authentic(testKey(), c) {
			t.Fatal("an issued code is not authentic")
		}
	}
}

func TestParseKey(t *testing.T) {
	hexKey := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"OK", hexKey, true},
		{"OKNewline", hexKey + "\n", true},
		{"OKUpperCase", strings.ToUpper(hexKey), true},
		{"ErrShort", hexKey[:62], false},
		{"ErrNotHex", "zz" + hexKey[2:], false},
		{"ErrZero", strings.Repeat("0", 64), false},
		{"ErrRaw", string(make([]byte, 32)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ecode.ParseKey([]byte(tc.in))
			if !tc.ok {
				if !errors.Is(err, ecode.ErrKey) {
					t.Fatalf("err=%v, want ErrKey", err)
				}
				return
			}
			if err != nil || k != testKey() {
				t.Fatalf("key=%x err=%v, want the bytes 00…1f", k[:], err)
			}
			txt, _ := k.MarshalText()
			if string(txt) != hexKey {
				t.Fatalf("MarshalText=%s, want %s", txt, hexKey)
			}
		})
	}
	if s := testKey().String(); strings.Contains(s, "0001") {
		t.Fatalf("String()=%q shows the key", s)
	}
}

func TestNewIssuer(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ecode.Config
	}{
		{"ErrBranch", ecode.Config{Branch: "B 1", Key: testKey()}},
		{"ErrNoKey", ecode.Config{Branch: "B001"}},
		{"ErrPeriodShort", ecode.Config{Branch: "B001", Key: testKey(), Period: 5 * time.Second}},
		{"ErrPeriodFraction", ecode.Config{Branch: "B001", Key: testKey(), Period: 15500 * time.Millisecond}},
		{"ErrSkew", ecode.Config{Branch: "B001", Key: testKey(), Skew: time.Hour}},
		{"ErrDisplay", ecode.Config{Branch: "B001", Key: testKey(), Displays: []string{"ecode 01"}}},
		{"ErrPrefix", ecode.Config{Branch: "B001", Key: testKey(), URLPrefix: "https://x/HY1.y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ecode.NewIssuer(tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
