package ecode

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

// Format constants (README.md, "The code").
const (
	// Version is the first field of every code: the format, so that a
	// later format can live next to this one.
	Version = "HY1"
	// KeyLen is the length of an e-code key in bytes.
	KeyLen = 32
	// MACLen is how many bytes of the HMAC-SHA256 a code carries: 128 bits
	// are far beyond guessing within a code's lifetime and keep the QR
	// code small (22 base64url characters).
	MACLen = 16
	// MinPeriod and MaxPeriod bound the rotation period a code may name.
	// Below 10 s a phone cannot focus, scan and send before the code
	// dies; above an hour a photo taken in the branch works from home.
	MinPeriod = 10 * time.Second
	MaxPeriod = time.Hour
	// MaxLen is the longest code: version, kind, a 32-character branch, a
	// 64-character subject, period, window and MAC with their dots.
	MaxLen = len(Version) + 1 + 1 + 1 + huiyan.MaxBranchIDLen + 1 + huiyan.MaxStaffIDLen + 1 + 4 + 1 + 12 + 1 + macTextLen
)

// macTextLen is the length of the MAC as unpadded base64url.
const macTextLen = (MACLen*8 + 5) / 6

// ErrFormat is wrapped by the errors of Parse: the text is not a code of
// this format.
var ErrFormat = errors.New("not an e-code")

// ErrKey is wrapped by the errors of ParseKey.
var ErrKey = errors.New("bad e-code key")

// macEncoding is unpadded base64url that refuses non-zero trailing bits,
// so that every MAC has exactly one text.
var macEncoding = base64.RawURLEncoding.Strict()

// Kind says what a code stands for.
type Kind string

// Kinds.
const (
	KindBranch Kind = "b" // a branch e-code display (网点e码); subject: the display's device id
	KindStaff  Kind = "s" // a staff marketing code (营销e码); subject: the staff id
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindBranch || k == KindStaff }

// validSubject reports whether s can be the subject of a code of kind k.
func (k Kind) validSubject(s string) bool {
	switch k {
	case KindBranch:
		return firmware.ValidDeviceID(s)
	case KindStaff:
		return huiyan.ValidStaffID(s)
	}
	return false
}

// Code is one e-code: who it stands for, in which branch, and the time
// window it was issued for. Its text form is
//
//	HY1.{kind}.{branch}.{subject}.{period}.{window}.{mac}
//
// with period the rotation period in seconds, window floor(unix time /
// period), both in decimal, and mac the first MACLen bytes of
// HMAC-SHA256(branch key, everything before the last dot), unpadded
// base64url (README.md).
type Code struct {
	Kind    Kind
	Branch  string
	Subject string // the display's device id, or the staff id
	Period  int64  // seconds
	Window  int64  // floor(unix seconds / Period)
	MAC     [MACLen]byte
}

// signed is the part of the text the MAC covers.
func (c Code) signed() string {
	var b strings.Builder
	b.Grow(MaxLen)
	b.WriteString(Version)
	b.WriteByte('.')
	b.WriteString(string(c.Kind))
	b.WriteByte('.')
	b.WriteString(c.Branch)
	b.WriteByte('.')
	b.WriteString(c.Subject)
	b.WriteByte('.')
	b.WriteString(strconv.FormatInt(c.Period, 10))
	b.WriteByte('.')
	b.WriteString(strconv.FormatInt(c.Window, 10))
	return b.String()
}

// String returns the code's text.
func (c Code) String() string {
	return c.signed() + "." + macEncoding.EncodeToString(c.MAC[:])
}

// Start is when the code's window begins.
func (c Code) Start() time.Time { return time.Unix(c.Window*c.Period, 0) }

// End is when the code's window ends and its display shows the next one.
func (c Code) End() time.Time { return time.Unix((c.Window+1)*c.Period, 0) }

// Parse reads a code from scanned text. The code is the text from the last
// occurrence of "HY1." on, so a scan of a QR code that holds a URL with
// the code at its end (…?c=HY1.…) parses too; what comes before it is not
// covered by the MAC and is ignored. Parse checks the format only, not the
// MAC nor the time: that is Issuer.Verify. Errors wrap ErrFormat and name
// the field, never echo it.
func Parse(text string) (Code, error) {
	i := strings.LastIndex(text, Version+".")
	if i < 0 {
		return Code{}, fmt.Errorf("no %s code in the text: %w", Version, ErrFormat)
	}
	s := text[i:]
	if len(s) > MaxLen {
		return Code{}, fmt.Errorf("longer than %d characters: %w", MaxLen, ErrFormat)
	}
	parts := strings.Split(s, ".")
	// Staff ids may hold dots; every other field cannot. So the subject is
	// whatever lies between the branch and the last three fields.
	if len(parts) < 7 {
		return Code{}, fmt.Errorf("%d fields, want 7: %w", len(parts), ErrFormat)
	}
	n := len(parts)
	c := Code{Kind: Kind(parts[1]), Branch: parts[2], Subject: strings.Join(parts[3:n-3], ".")}
	switch {
	case !c.Kind.Valid():
		return Code{}, fmt.Errorf("kind must be b or s: %w", ErrFormat)
	case !huiyan.ValidBranchID(c.Branch):
		return Code{}, fmt.Errorf("branch is not a branch id: %w", ErrFormat)
	case !c.Kind.validSubject(c.Subject):
		return Code{}, fmt.Errorf("subject is not a %s: %w", subjectName(c.Kind), ErrFormat)
	}
	var ok bool
	if c.Period, ok = decimal(parts[n-3], 4); !ok || c.Period < int64(MinPeriod/time.Second) || c.Period > int64(MaxPeriod/time.Second) {
		return Code{}, fmt.Errorf("period must be %d to %d seconds in decimal: %w", int64(MinPeriod/time.Second), int64(MaxPeriod/time.Second), ErrFormat)
	}
	if c.Window, ok = decimal(parts[n-2], 12); !ok {
		return Code{}, fmt.Errorf("window must be 1 to 12 decimal digits without leading zeros: %w", ErrFormat)
	}
	mac := parts[n-1]
	if len(mac) != macTextLen {
		return Code{}, fmt.Errorf("mac must be %d base64url characters: %w", macTextLen, ErrFormat)
	}
	m, err := macEncoding.DecodeString(mac)
	if err != nil || len(m) != MACLen {
		return Code{}, fmt.Errorf("mac must be %d base64url characters: %w", macTextLen, ErrFormat)
	}
	copy(c.MAC[:], m)
	return c, nil
}

func subjectName(k Kind) string {
	if k == KindStaff {
		return "staff id"
	}
	return "device id"
}

// decimal parses 1 to max decimal digits without a sign or leading zeros
// (so that a code has one text only).
func decimal(s string, max int) (int64, bool) {
	if len(s) == 0 || len(s) > max || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// Key is a branch's e-code key: the edge signs its codes with it, and the
// mobile-banking backend, given the same key, can verify them. Its String
// and GoString hide it, so that it never reaches a log by accident.
type Key [KeyLen]byte

// NewKey returns a random key.
func NewKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("e-code key: %w", err)
	}
	return k, nil
}

// ParseKey reads a key file: 64 hex characters, white space around them
// allowed (a trailing newline).
func ParseKey(b []byte) (Key, error) {
	s := strings.TrimSpace(string(b))
	if len(s) != 2*KeyLen {
		return Key{}, fmt.Errorf("want %d hex characters, found %d: %w", 2*KeyLen, len(s), ErrKey)
	}
	var k Key
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return Key{}, fmt.Errorf("not hex: %w", ErrKey)
	}
	if k == (Key{}) {
		return Key{}, fmt.Errorf("all zero: %w", ErrKey)
	}
	return k, nil
}

// MarshalText returns the key file's content without the newline: 64
// lower-case hex characters.
func (k Key) MarshalText() ([]byte, error) {
	b := make([]byte, 2*KeyLen)
	hex.Encode(b, k[:])
	return b, nil
}

// String hides the key.
func (Key) String() string { return "ecode.Key(hidden)" }

// GoString hides the key from %#v.
func (Key) GoString() string { return "ecode.Key(hidden)" }

// Sign returns c with its MAC set under key.
func Sign(key Key, c Code) Code {
	c.MAC = mac(key, c.signed())
	return c
}

// Authentic reports whether c's MAC is the one key makes, in constant time.
func Authentic(key Key, c Code) bool {
	want := mac(key, c.signed())
	return hmac.Equal(want[:], c.MAC[:])
}

func mac(key Key, signed string) [MACLen]byte {
	h := hmac.New(sha256.New, key[:])
	h.Write([]byte(signed))
	var out [MACLen]byte
	copy(out[:], h.Sum(nil))
	return out
}
