package ecode_test

import (
	"strings"
	"testing"
	"time"

	"huiyan/edge/ecode"
)

// FuzzParse: Parse never panics; what it accepts has exactly one text,
// the one it was read from (so a code cannot be varied to dodge a
// dedupe or a MAC check), and Verify gives every text a verdict.
func FuzzParse(f *testing.F) {
	is := mustIssuer(f, ecode.Config{})
	for _, s := range []string{
		mustIssue(f, is, ecode.KindBranch, "ecode-01", t0).Text,
		mustIssue(f, is, ecode.KindStaff, "zhang.san-B001", t0).Text,
		"https://mbank.example.invalid/e?c=" + mustIssue(f, is, ecode.KindBranch, "ecode-02", t0).Content,
		"HY1.b.B001.ecode-01.60.0.AAAAAAAAAAAAAAAAAAAAAA",
		"HY1.s.B001....60.1.AAAAAAAAAAAAAAAAAAAAAA",
		"HY1.", "HY1.HY1.", "huiyan-ecode:B001:ecode-01", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ecode.Parse(text)
		v := is.Verify(text, t0.Add(time.Second), nil).Verdict
		if !v.Present() && v != ecode.Expired && v != ecode.Forged && v != ecode.WrongBranch && v != ecode.UnknownSubject {
			t.Fatalf("verdict %q is not one of the verdicts", v)
		}
		if err != nil {
			if v != ecode.Forged {
				t.Fatalf("unparsable text got verdict %s, want forged", v)
			}
			return
		}
		s := c.String()
		if len(s) > ecode.MaxLen {
			t.Fatalf("accepted a code of %d characters, over MaxLen %d", len(s), ecode.MaxLen)
		}
		if !strings.HasSuffix(text, s) || text[strings.LastIndex(text, ecode.Version+"."):] != s {
			t.Fatalf("parsed %q from %q: not the text's own code", s, text)
		}
		again, err := ecode.Parse(s)
		if err != nil || again != c {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}
