package ecode_test

import (
	"strings"
	"testing"
	"time"

	"huiyan/edge/ecode"
)

func TestVerify(t *testing.T) {
	is := mustIssuer(t, ecode.Config{}) // period 60 s, skew 10 s
	other := mustIssuer(t, ecode.Config{Branch: "B002"})
	otherKey := mustIssuer(t, ecode.Config{Key: ecode.Key{1}})
	roster := map[string]bool{"lobby-B001": true, "wealth-B001": true}
	onRoster := func(id string) bool { return roster[id] }

	branch := mustIssue(t, is, ecode.KindBranch, "ecode-01", t0.Add(20*time.Second)) // window [t0, t0+60s)
	staff := mustIssue(t, is, ecode.KindStaff, "lobby-B001", t0)
	gone := mustIssue(t, is, ecode.KindStaff, "left-B001", t0)
	flip := func(s string) string { // one bit of the MAC's first byte
		i := strings.LastIndexByte(s, '.') + 1
		c := s[i]
		r := byte('A')
		if c == 'A' {
			r = 'B'
		}
		return s[:i] + string(r) + s[i+1:]
	}
	retimed := strings.Replace(branch.Text, ".60.", ".30.", 1) // the period is signed too
	unknownDisplay, err := ecode.NewIssuer(ecode.Config{Branch: "B001", Key: testKey(), Displays: []string{"ecode-09"}})
	if err != nil {
		t.Fatal(err)
	}
	retired := mustIssue(t, unknownDisplay, ecode.KindBranch, "ecode-09", t0)

	for _, tc := range []struct {
		name  string
		text  string
		at    time.Time
		want  ecode.Verdict
		staff string
	}{
		{"Fresh", branch.Text, t0.Add(30 * time.Second), ecode.OK, ""},
		{"FreshAtWindowStart", branch.Text, t0, ecode.OK, ""},
		{"FreshURL", "https://mbank.example.invalid/e?c=" + branch.Text, t0.Add(time.Second), ecode.OK, ""},
		{"PreviousWindow", branch.Text, t0.Add(90 * time.Second), ecode.OK, ""},
		{"PreviousWindowWithinSkew", branch.Text, t0.Add(129 * time.Second), ecode.OK, ""},
		{"ExpiredTwoWindowsOld", branch.Text, t0.Add(121 * time.Second).Add(9 * time.Second), ecode.Expired, ""},
		{"ExpiredHours", branch.Text, t0.Add(3 * time.Hour), ecode.Expired, ""},
		{"FutureWithinSkew", branch.Text, t0.Add(-10 * time.Second), ecode.OK, ""},
		{"ExpiredFuture", branch.Text, t0.Add(-11 * time.Second), ecode.Expired, ""},
		{"ForgedMAC", flip(branch.Text), t0.Add(time.Second), ecode.Forged, ""},
		{"ForgedOtherKey", mustIssue(t, otherKey, ecode.KindBranch, "ecode-01", t0).Text, t0.Add(time.Second), ecode.Forged, ""},
		{"ForgedPeriod", retimed, t0.Add(time.Second), ecode.Forged, ""},
		{"ForgedSubject", strings.Replace(branch.Text, "ecode-01", "ecode-02", 1), t0.Add(time.Second), ecode.Forged, ""},
		{"Truncated", branch.Text[:len(branch.Text)-1], t0.Add(time.Second), ecode.Forged, ""},
		{"Garbage", "huiyan-ecode:B001:ecode-01", t0, ecode.Forged, ""},
		{"WrongBranch", mustIssue(t, other, ecode.KindBranch, "ecode-01", t0).Text, t0.Add(time.Second), ecode.WrongBranch, ""},
		{"UnknownDisplay", retired.Text, t0.Add(time.Second), ecode.UnknownSubject, ""},
		{"Staff", staff.Text, t0.Add(time.Second), ecode.OK, "lobby-B001"},
		{"StaffExpired", staff.Text, t0.Add(5 * time.Minute), ecode.Expired, ""},
		{"StaffNotOnRoster", gone.Text, t0.Add(time.Second), ecode.UnknownSubject, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := is.Verify(tc.text, tc.at, onRoster)
			if r.Verdict != tc.want {
				t.Fatalf("verdict=%s, want %s", r.Verdict, tc.want)
			}
			if r.Verdict.Present() != (tc.want == ecode.OK) {
				t.Fatalf("Present()=%v for %s", r.Verdict.Present(), r.Verdict)
			}
			if r.Staff() != tc.staff {
				t.Fatalf("staff=%q, want %q", r.Staff(), tc.staff)
			}
		})
	}
}

func TestVerify_Legacy(t *testing.T) {
	on := mustIssuer(t, ecode.Config{Legacy: true})
	off := mustIssuer(t, ecode.Config{})
	for _, tc := range []struct {
		name    string
		is      *ecode.Issuer
		text    string
		want    ecode.Verdict
		present bool
	}{
		{"OnPrintedCode", on, "https://mbank.example.invalid/branch/B001", ecode.Legacy, true},
		{"OnBrokenHY1IsForged", on, "HY1.b.B001.ecode-01.60.1.short", ecode.Forged, false},
		{"OffPrintedCode", off, "https://mbank.example.invalid/branch/B001", ecode.Forged, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.is.Verify(tc.text, t0, nil)
			if r.Verdict != tc.want || r.Verdict.Present() != tc.present || r.Staff() != "" {
				t.Fatalf("verdict=%s present=%v staff=%q, want %s present=%v", r.Verdict, r.Verdict.Present(), r.Staff(), tc.want, tc.present)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	is := mustIssuer(t, ecode.Config{URLPrefix: "https://mbank.example.invalid/e?c="})
	at := t0.Add(59*time.Second + 999*time.Millisecond)
	c := mustIssue(t, is, ecode.KindBranch, "ecode-02", at)
	switch {
	case c.Code.Window != t0.Unix()/60:
		t.Fatalf("window=%d, want %d", c.Code.Window, t0.Unix()/60)
	case !c.RefreshAt.Equal(t0.Add(time.Minute)):
		t.Fatalf("refresh at %v, want %v", c.RefreshAt, t0.Add(time.Minute))
	case !c.ExpiresAt.Equal(t0.Add(2*time.Minute + 10*time.Second)):
		t.Fatalf("expires at %v, want the end of the next window plus the skew", c.ExpiresAt)
	case c.Content != "https://mbank.example.invalid/e?c="+c.Text:
		t.Fatalf("content=%q, want the prefix and the code", c.Content)
	}
	next := mustIssue(t, is, ecode.KindBranch, "ecode-02", at.Add(time.Millisecond))
	if next.Code.Window != c.Code.Window+1 || next.Text == c.Text {
		t.Fatalf("at the rotation: window %d → %d", c.Code.Window, next.Code.Window)
	}
	if _, err := is.Issue(ecode.KindBranch, "ecode-07", t0); err == nil {
		t.Fatal("issued a code for a display that is not configured")
	}
	if _, err := is.Issue(ecode.KindStaff, "no such id!", t0); err == nil {
		t.Fatal("issued a staff code for an invalid id")
	}
}

// TestVerify_PeriodChange: codes issued before the configured period
// changed stay good for their own validity (the period is in the code).
func TestVerify_PeriodChange(t *testing.T) {
	before := mustIssuer(t, ecode.Config{Period: 60 * time.Second})
	after := mustIssuer(t, ecode.Config{Period: 30 * time.Second})
	c := mustIssue(t, before, ecode.KindBranch, "ecode-01", t0)
	if v := after.Verify(c.Text, t0.Add(100*time.Second), nil).Verdict; v != ecode.OK {
		t.Fatalf("verdict=%s, want ok", v)
	}
}
