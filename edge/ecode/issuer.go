package ecode

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

// Defaults of Config.
const (
	DefaultPeriod = 60 * time.Second
	// DefaultSkew is how far the clocks of the edge and of whoever checks
	// a code (the mobile-banking backend) may disagree.
	DefaultSkew = 10 * time.Second
	// MaxSkew bounds Skew: more would keep a code alive long after its
	// display moved on.
	MaxSkew = 5 * time.Minute
)

// ErrUnknownSubject is returned by Issue for a display that is not one of
// the branch's.
var ErrUnknownSubject = errors.New("unknown e-code subject")

// Config configures an Issuer.
type Config struct {
	Branch string
	Key    Key
	// Period is how long a display shows one code before the next.
	// Default DefaultPeriod; between MinPeriod and MaxPeriod, whole seconds.
	Period time.Duration
	// Skew is the clock difference tolerated. Default DefaultSkew.
	Skew time.Duration
	// Displays are the device ids of the branch's e-code displays: the
	// only subjects of branch codes.
	Displays []string
	// URLPrefix, when set, goes in front of the code in the QR code, so
	// that a phone's camera app opens the mobile-banking app on a URL
	// (https://…/ecode?c=); the code stays at its end, where Parse finds it.
	URLPrefix string
	// Legacy accepts scanned text that holds no HY1 code at all as a scan
	// of the branch code, for a branch still showing static printed codes
	// while its displays are installed. Off by default: with it on, a
	// photo of a printed code converts from anywhere.
	Legacy bool
}

// Issuer makes the branch's codes and judges scanned ones. It is safe for
// concurrent use.
type Issuer struct {
	cfg Config
}

// NewIssuer checks cfg and returns an issuer.
func NewIssuer(cfg Config) (*Issuer, error) {
	if cfg.Period == 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultSkew
	}
	switch {
	case !huiyan.ValidBranchID(cfg.Branch):
		return nil, fmt.Errorf("ecode: branch %q is not a branch id", cfg.Branch)
	case cfg.Key == (Key{}):
		return nil, fmt.Errorf("ecode: no key")
	case cfg.Period < MinPeriod || cfg.Period > MaxPeriod || cfg.Period%time.Second != 0:
		return nil, fmt.Errorf("ecode: period %s must be whole seconds from %s to %s", cfg.Period, MinPeriod, MaxPeriod)
	case cfg.Skew < 0 || cfg.Skew > MaxSkew:
		return nil, fmt.Errorf("ecode: skew %s must be from 0 to %s", cfg.Skew, MaxSkew)
	case strings.Contains(cfg.URLPrefix, Version+"."):
		return nil, fmt.Errorf("ecode: the URL prefix must not contain %q", Version+".")
	}
	for _, d := range cfg.Displays {
		if !firmware.ValidDeviceID(d) {
			return nil, fmt.Errorf("ecode: display %q is not a device id", d)
		}
	}
	cfg.Displays = slices.Clone(cfg.Displays)
	return &Issuer{cfg: cfg}, nil
}

// Branch is the branch the issuer serves.
func (is *Issuer) Branch() string { return is.cfg.Branch }

// Period is the rotation period of the codes it issues.
func (is *Issuer) Period() time.Duration { return is.cfg.Period }

// Displays returns the known displays.
func (is *Issuer) Displays() []string { return slices.Clone(is.cfg.Displays) }

// KnownDisplay reports whether id is one of the branch's e-code displays.
func (is *Issuer) KnownDisplay(id string) bool { return slices.Contains(is.cfg.Displays, id) }

// Issued is a code as a display or a PAD shows it.
type Issued struct {
	Code    Code
	Text    string // the code's text: what a scan's "code" field carries
	Content string // what the QR code holds: URLPrefix + Text
	// RefreshAt is when the display should show the next code (the end
	// of the code's window); ExpiresAt is the last moment Verify accepts
	// it (the end of the window after it, plus the skew).
	RefreshAt time.Time
	ExpiresAt time.Time
}

// Issue returns the code of subject for the window that holds now. A
// branch code's subject must be a known display (ErrUnknownSubject); a
// staff code's subject is the caller's to check against the roster.
func (is *Issuer) Issue(kind Kind, subject string, now time.Time) (Issued, error) {
	return is.IssueWindow(kind, subject, is.Window(now))
}

// IssueWindow returns the code of subject for a given window.
func (is *Issuer) IssueWindow(kind Kind, subject string, window int64) (Issued, error) {
	switch {
	case !kind.Valid():
		return Issued{}, fmt.Errorf("ecode: kind %q: %w", kind, ErrFormat)
	case !kind.validSubject(subject):
		return Issued{}, fmt.Errorf("ecode: subject is not a %s: %w", subjectName(kind), ErrFormat)
	case kind == KindBranch && !is.KnownDisplay(subject):
		return Issued{}, fmt.Errorf("ecode: display %s: %w", subject, ErrUnknownSubject)
	case window < 0:
		return Issued{}, fmt.Errorf("ecode: window %d before 1970: %w", window, ErrFormat)
	}
	c := Sign(is.cfg.Key, Code{Kind: kind, Branch: is.cfg.Branch, Subject: subject,
		Period: int64(is.cfg.Period / time.Second), Window: window})
	text := c.String()
	return Issued{Code: c, Text: text, Content: is.cfg.URLPrefix + text, RefreshAt: c.End(),
		ExpiresAt: c.End().Add(is.cfg.Period + is.cfg.Skew)}, nil
}

// Window is the number of the window that holds now: floor(unix time /
// period); -1 before 1970.
func (is *Issuer) Window(now time.Time) int64 {
	p := int64(is.cfg.Period / time.Second)
	u := now.Unix()
	if u < 0 {
		return -1
	}
	return u / p
}

// Verdict is what Verify says of a scanned code. Only OK and Legacy are
// proof that the customer stood in front of the code: the others are
// scans of something else, counted but never credited.
type Verdict string

// Verdicts (README.md, "Verifying a code").
const (
	// OK: an authentic code of this branch, in its window or the one
	// after it (a scan in flight across a rotation), naming a known
	// display or a staff member on the branch's roster.
	OK Verdict = "ok"
	// Legacy: text without an HY1 code, accepted as the branch code
	// because Config.Legacy is on.
	Legacy Verdict = "legacy"
	// Expired: an authentic code outside its validity: older than its
	// window and the next (a photo scanned later), or from a window that
	// has not begun (a wrong clock).
	Expired Verdict = "expired"
	// Forged: not a code of this format, or a MAC the key does not make.
	Forged Verdict = "forged"
	// WrongBranch: a code of another branch.
	WrongBranch Verdict = "wrong_branch"
	// UnknownSubject: an authentic, fresh code of a display that is no
	// longer configured or of a staff member not on the roster (left,
	// moved to another branch).
	UnknownSubject Verdict = "unknown_subject"
)

// Verdicts lists every verdict, for metric labels.
var Verdicts = []Verdict{OK, Legacy, Expired, Forged, WrongBranch, UnknownSubject}

// Present reports whether the verdict proves presence: the scan counts.
func (v Verdict) Present() bool { return v == OK || v == Legacy }

// Result is the verdict on a scanned code and the code as parsed (zero
// when the text was not a code).
type Result struct {
	Verdict Verdict
	Code    Code
}

// Staff returns the staff member a present scan credits: the subject of a
// staff code, "" for the branch code.
func (r Result) Staff() string {
	if r.Verdict == OK && r.Code.Kind == KindStaff {
		return r.Code.Subject
	}
	return ""
}

// Verify judges text, the content of a scan, at now. The checks run in
// this order, the first failing one giving the verdict: the format
// (Forged, or Legacy for text without a code when Config.Legacy is on),
// the branch (WrongBranch: another branch's key, so its MAC cannot be
// checked here), the MAC (Forged), the window (Expired), the subject
// (UnknownSubject: a branch code's display must be configured, a staff
// code's subject must satisfy onRoster). onRoster is asked only about
// authentic, fresh staff codes; nil means every staff member is on it.
func (is *Issuer) Verify(text string, now time.Time, onRoster func(staffID string) bool) Result {
	c, err := Parse(text)
	if err != nil {
		if is.cfg.Legacy && !strings.Contains(text, Version+".") {
			return Result{Verdict: Legacy}
		}
		return Result{Verdict: Forged}
	}
	r := Result{Code: c}
	switch {
	case c.Branch != is.cfg.Branch:
		r.Verdict = WrongBranch
	case !Authentic(is.cfg.Key, c):
		r.Verdict = Forged
	case !is.fresh(c, now):
		r.Verdict = Expired
	case c.Kind == KindBranch && !is.KnownDisplay(c.Subject),
		c.Kind == KindStaff && onRoster != nil && !onRoster(c.Subject):
		r.Verdict = UnknownSubject
	default:
		r.Verdict = OK
	}
	return r
}

// fresh reports whether now falls in the code's validity: from the start
// of its window to the end of the window after it, widened by the skew on
// both sides. The period is the code's own (the MAC covers it), so codes
// issued before a change of the configured period stay good.
func (is *Issuer) fresh(c Code, now time.Time) bool {
	from := c.Start().Add(-is.cfg.Skew)
	until := c.End().Add(time.Duration(c.Period)*time.Second + is.cfg.Skew)
	return !now.Before(from) && now.Before(until)
}
