package firmware

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"huiyan"
)

// Limits of the arrival payload (DESIGN.md, "MQTT contract"). The schema in
// schema/arrival.schema.json states the same numbers; lengths of free text
// (code, attr values) are in characters, as JSON Schema counts them.
const (
	Version         = 1        // the payload version, field "v"
	MaxPayload      = 16 << 10 // bytes of an arrival payload
	MaxIDLen        = 128      // characters of id
	MaxIdents       = 8        // idents per arrival
	MaxKeyIDLen     = 16       // characters of an ident's key id
	MaxAttrs        = 32       // entries of attrs
	MaxAttrKeyLen   = 64       // characters of an attrs key
	MaxAttrValueLen = 256      // characters of an attrs value
	MaxCodeLen      = 512      // characters of code
	MaxSpinLen      = 64       // characters of spin
)

// The patterns are shared, letter for letter, with the JSON Schemas; a test
// keeps them equal. Decode does not run them as regular expressions: it
// checks the same rules with the matchers of scan.go, which TestMatchers and
// FuzzMatchers keep equal to these patterns.
const (
	idPattern      = `^[0-9A-Za-z._:-]{1,128}$`
	devicePattern  = `^[0-9A-Za-z_-]{1,64}$`
	keyPattern     = `^[0-9A-Za-z_-]{1,16}$`
	tokenPattern   = `^[0-9a-f]{64}$`
	spinPattern    = `^[0-9A-Za-z._:-]{1,64}$`
	prizePattern   = `^([0-9A-Za-z._:-]{1,64})?$`
	attrKeyPattern = `^[0-9A-Za-z_.-]{1,64}$`
	textPattern    = `^[^\x00-\x1f\x7f]*$`
	tsPattern      = `^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`
)

// ValidKeyID reports whether s can name a token key: 1 to 16 characters of
// [0-9A-Za-z_-] (DESIGN.md, "Identity token": "k1").
func ValidKeyID(s string) bool { return allIn(s, keyChars, 1, MaxKeyIDLen) }

// ValidToken reports whether s has the shape of an identity token: 64
// lower-case hex characters, as Token makes them.
func ValidToken(s string) bool { return allIn(s, tokenChars, 64, 64) }

// validEventID reports whether s matches idPattern.
func validEventID[S ~string | ~[]byte](s S) bool { return allIn(s, idChars, 1, MaxIDLen) }

// validSpin reports whether s matches spinPattern.
func validSpin[S ~string | ~[]byte](s S) bool { return allIn(s, idChars, 1, MaxSpinLen) }

// Arrival is the wire form of an arrival payload, v1 (DESIGN.md, "MQTT
// contract"). Decode converts it to a huiyan.Arrival; EncodeArrival makes it
// from one.
type Arrival struct {
	V       int               `json:"v"`
	ID      string            `json:"id"`
	TS      string            `json:"ts"` // RFC 3339 with an explicit offset
	Device  string            `json:"device"`
	Channel string            `json:"channel"`
	Idents  []Ident           `json:"idents"`
	Attrs   map[string]string `json:"attrs,omitempty"`
	Code    string            `json:"code,omitempty"` // ecode only: the scanned text, as scanned (an HY1 e-code: edge/ecode/README.md)
	Spin    string            `json:"spin,omitempty"` // wheel only
}

// Ident is the wire form of one identity token in an arrival.
type Ident struct {
	Kind  string `json:"kind"`
	Key   string `json:"key"`
	Token string `json:"token"`
}

// EncodeArrival returns the v1 payload for a: the JSON a device publishes.
// It does not validate a; for an arrival that Decode returned, Decode
// accepts the result and returns an equal arrival. The device simulator and
// tests use it.
func EncodeArrival(a huiyan.Arrival) []byte {
	p := Arrival{
		V:       Version,
		ID:      a.EventID,
		TS:      a.At.Format(time.RFC3339Nano),
		Device:  a.Device,
		Channel: string(a.Channel),
		Idents:  make([]Ident, len(a.Idents)),
		Attrs:   a.Attrs,
		Code:    a.Code,
		Spin:    a.Spin,
	}
	for i, id := range a.Idents {
		p.Idents[i] = Ident{Kind: string(id.Kind), Key: id.KeyID, Token: id.Token}
	}
	return marshal(p)
}

// marshal encodes v without HTML escaping (a scanned URL keeps its "&") and
// without the encoder's trailing newline.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only strings, ints and maps of strings reach here.
		panic(fmt.Sprintf("firmware: marshal: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// arrivalFields are the top-level fields of v1, in the order Decode checks
// them; the f constants index them.
var arrivalFields = [...]string{"v", "id", "ts", "device", "channel", "idents", "attrs", "code", "spin"}

const (
	fV = iota
	fID
	fTS
	fDevice
	fChannel
	fIdents
	fAttrs
	fCode
	fSpin
)

// identFields are the fields of an ident.
var identFields = [...]string{"kind", "key", "token"}

// Decode parses and validates an arrival payload received on topic t, which
// must be an arrival topic (DESIGN.md, "MQTT contract"). It checks, in this
// order, and reports the first failure as a *huiyan.Error with one of the
// codes of this package:
//
//   - at most MaxPayload bytes (ETooLarge);
//   - valid UTF-8, one JSON object, nothing after it (EBadJSON);
//   - no key twice in any object (EDuplicateKey) and only the fields of v1
//     (EUnknownField): unknown fields are refused, not ignored, so that a
//     misspelt field is found on the bench and not in a branch;
//   - v is 1 (EBadVersion); id (EBadID); ts is RFC 3339 with an explicit
//     offset (EBadTimestamp);
//   - device (EBadDevice) and channel (EBadChannel) are valid and equal the
//     topic's (ETopicMismatch);
//   - idents: 1 to MaxIdents, each with a known kind, a key id and a 64-hex
//     token, no token twice (EBadIdents, EBadKind, EBadKey, EBadToken);
//   - attrs (EBadAttrs);
//   - code only and always on ecode (EBadField, EBadCode), spin only and
//     always on wheel (EBadField, EBadSpin);
//   - ecode and wheel arrivals carry an mbank ident (EBadIdents).
//
// Decode is pure: it does not look at the clock, so a device with a wrong
// clock is the edge's business, not the parser's. Whether the key id is one
// the edge knows (EUnknownKey) is also the edge's business. Use PeekID to
// find the id to put in the reject message when Decode fails.
//
// Decode runs for every arrival, so it is written to be cheap (issue 8):
// encoding/json checks the syntax once (checkJSON), then a scanner that
// trusts that check walks the bytes (scan.go), and only the strings that
// end up in the arrival are copied. decode_reference_internal_test.go keeps
// the first, plain implementation over encoding/json's Decoder, and the
// tests hold the two to the same verdict, message and result on every
// input.
func Decode(t Topic, b []byte) (huiyan.Arrival, error) {
	if t.Kind != TopicArrival {
		return huiyan.Arrival{}, topicErr("not an arrival topic")
	}
	if err := t.Validate(); err != nil {
		return huiyan.Arrival{}, err
	}
	if len(b) > MaxPayload {
		return huiyan.Arrival{}, errorf(ETooLarge, "payload is %d bytes; the limit is %d", len(b), MaxPayload)
	}
	if err := checkJSON(b); err != nil {
		return huiyan.Arrival{}, err
	}
	// raw holds the values of the fields by index, nil for a missing one
	// (a JSON value is never empty). The top level is read whole before any
	// value is checked: an unknown or repeated field anywhere wins over a
	// bad value before it.
	var raw [len(arrivalFields)][]byte
	err := eachMember(b, func(i int, name, val []byte) error {
		f := fieldIndex(arrivalFields[:], name)
		if f < 0 {
			return errorf(EUnknownField, "member %d (from 0) is not a field of v1, which has v, id, ts, device, channel, idents, attrs, code and spin", i)
		}
		if raw[f] != nil {
			return errorf(EDuplicateKey, "field %q appears twice", arrivalFields[f])
		}
		raw[f] = val
		return nil
	})
	if err != nil {
		return huiyan.Arrival{}, err
	}
	a := huiyan.Arrival{Branch: t.Branch}
	if raw[fV] == nil {
		return huiyan.Arrival{}, errorf(EBadVersion, "v is required")
	}
	if !isOne(raw[fV]) {
		return huiyan.Arrival{}, errorf(EBadVersion, "v must be 1")
	}
	id, ok := str(raw[fID])
	if !ok || !validEventID(id) {
		return huiyan.Arrival{}, errorf(EBadID, "id must be 1 to %d characters of [0-9A-Za-z._:-]", MaxIDLen)
	}
	a.EventID = string(id)
	ts, _ := str(raw[fTS])
	if a.At, err = parseTime(ts); err != nil {
		return huiyan.Arrival{}, err
	}
	dev, ok := str(raw[fDevice])
	if !ok || !allIn(dev, deviceChars, 1, MaxDeviceIDLen) {
		return huiyan.Arrival{}, errorf(EBadDevice, "device must be 1 to %d characters of [0-9A-Za-z_-]", MaxDeviceIDLen)
	}
	if string(dev) != t.Device {
		return huiyan.Arrival{}, errorf(ETopicMismatch, "device differs from the device level of the topic")
	}
	a.Device = t.Device // the same characters, without a copy
	ch, _ := str(raw[fChannel])
	if a.Channel = channelOf(ch); !a.Channel.Valid() {
		return huiyan.Arrival{}, errorf(EBadChannel, "channel must be counter, ecode or wheel")
	}
	if a.Channel != t.Channel {
		return huiyan.Arrival{}, errorf(ETopicMismatch, "channel differs from the channel level of the topic")
	}
	if a.Idents, err = decodeIdents(raw[fIdents]); err != nil {
		return huiyan.Arrival{}, err
	}
	if raw[fAttrs] != nil {
		if a.Attrs, err = decodeAttrs(raw[fAttrs]); err != nil {
			return huiyan.Arrival{}, err
		}
	}
	if raw[fCode] != nil && a.Channel != huiyan.ChannelECode {
		return huiyan.Arrival{}, errorf(EBadField, "code is only for ecode arrivals")
	}
	if raw[fSpin] != nil && a.Channel != huiyan.ChannelWheel {
		return huiyan.Arrival{}, errorf(EBadField, "spin is only for wheel arrivals")
	}
	switch a.Channel {
	case huiyan.ChannelECode:
		code, ok := str(raw[fCode])
		if a.Code = string(code); !ok || !validText(a.Code, 1, MaxCodeLen) {
			return huiyan.Arrival{}, errorf(EBadCode, "ecode arrivals need a code of 1 to %d characters without control characters", MaxCodeLen)
		}
	case huiyan.ChannelWheel:
		spin, ok := str(raw[fSpin])
		if !ok || !validSpin(spin) {
			return huiyan.Arrival{}, errorf(EBadSpin, "wheel arrivals need a spin of 1 to %d characters of [0-9A-Za-z._:-]", MaxSpinLen)
		}
		a.Spin = string(spin)
	}
	if a.Channel != huiyan.ChannelCounter && !hasKind(a.Idents, huiyan.IdentMBank) {
		return huiyan.Arrival{}, errorf(EBadIdents, "%s arrivals need an mbank ident", a.Channel)
	}
	return a, nil
}

// MaxPeek is the largest payload PeekID reads: the broker's packet limit
// (DESIGN.md, "MQTT contract": 256 KiB), so that even the reject for a
// payload over MaxPayload names its id.
const MaxPeek = 256 << 10

// PeekID returns the top-level "id" of a payload when it can be read and is
// a valid id, "" otherwise. The edge puts it in the reject message for a
// payload that Decode refused (DESIGN.md: "id empty when the payload had
// none"); it never returns anything but a valid id, so nothing else from a
// refused payload reaches the reject topic. It reads payloads of up to
// MaxPeek bytes, in linear time.
func PeekID(b []byte) string {
	if len(b) > MaxPeek || checkJSON(b) != nil {
		return ""
	}
	var id string
	_ = eachMember(b, func(_ int, name, val []byte) error {
		if string(name) != "id" {
			return nil
		}
		if s, ok := str(val); ok && validEventID(s) {
			id = string(s)
		}
		return errStop
	})
	return id
}

// errStop ends a walk early; it never leaves this package.
var errStop = errors.New("stop")

func decodeIdents(val []byte) ([]huiyan.Ident, error) {
	if val == nil {
		return nil, errorf(EBadIdents, "idents is required")
	}
	if val[0] != '[' {
		return nil, errorf(EBadIdents, "idents must be an array of 1 to %d idents", MaxIdents)
	}
	// Collect into an array on the stack and copy once: the arrival gets
	// a slice of its exact length and no append ever grows one.
	var buf [MaxIdents]huiyan.Ident
	n := 0
	err := eachElement(val, func(i int, val []byte) error {
		if i >= MaxIdents {
			return errorf(EBadIdents, "idents must be an array of 1 to %d idents", MaxIdents)
		}
		id, err := decodeIdent(i, val)
		if err != nil {
			return err
		}
		for _, o := range buf[:n] {
			if o.Token == id.Token {
				return errorf(EBadIdents, "ident %d: the same token as an earlier ident", i)
			}
		}
		buf[n] = id
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errorf(EBadIdents, "idents must be an array of 1 to %d idents", MaxIdents)
	}
	return slices.Clone(buf[:n]), nil
}

func decodeIdent(i int, val []byte) (huiyan.Ident, error) {
	if val[0] != '{' {
		return huiyan.Ident{}, errorf(EBadIdents, "ident %d must be an object with kind, key and token", i)
	}
	var raw [len(identFields)][]byte
	err := eachMember(val, func(j int, name, val []byte) error {
		f := fieldIndex(identFields[:], name)
		if f < 0 {
			return errorf(EUnknownField, "ident %d: member %d (from 0) is not a field of an ident, which has kind, key and token", i, j)
		}
		if raw[f] != nil {
			return errorf(EDuplicateKey, "ident %d: field %q appears twice", i, identFields[f])
		}
		raw[f] = val
		return nil
	})
	if err != nil {
		return huiyan.Ident{}, err
	}
	var id huiyan.Ident
	kind, _ := str(raw[0])
	if id.Kind = kindOf(kind); !id.Kind.Valid() {
		return huiyan.Ident{}, errorf(EBadKind, "ident %d: kind must be idcard, bankcard, mbank or phone", i)
	}
	key, ok := str(raw[1])
	if !ok || !allIn(key, keyChars, 1, MaxKeyIDLen) {
		return huiyan.Ident{}, errorf(EBadKey, "ident %d: key must be 1 to %d characters of [0-9A-Za-z_-]", i, MaxKeyIDLen)
	}
	token, ok := str(raw[2])
	if !ok || !allIn(token, tokenChars, 64, 64) {
		return huiyan.Ident{}, errorf(EBadToken, "ident %d: token must be 64 lower-case hex characters", i)
	}
	id.KeyID, id.Token = string(key), string(token)
	return id, nil
}

func decodeAttrs(val []byte) (map[string]string, error) {
	if val[0] != '{' {
		return nil, errorf(EBadAttrs, "attrs must be an object of at most %d strings", MaxAttrs)
	}
	var attrs map[string]string // made at the first entry: "attrs":{} gives nil
	err := eachMember(val, func(i int, name, val []byte) error {
		if i >= MaxAttrs {
			return errorf(EBadAttrs, "attrs must be an object of at most %d strings", MaxAttrs)
		}
		if !allIn(name, attrKeyChars, 1, MaxAttrKeyLen) {
			return errorf(EBadAttrs, "attrs: the key of entry %d must be 1 to %d characters of [0-9A-Za-z_.-]", i, MaxAttrKeyLen)
		}
		if _, dup := attrs[string(name)]; dup {
			return errorf(EDuplicateKey, "attrs: the key of entry %d appears twice", i)
		}
		v, ok := str(val)
		value := string(v)
		if !ok || !validText(value, 0, MaxAttrValueLen) {
			return errorf(EBadAttrs, "attrs: the value of entry %d must be a string of at most %d characters without control characters", i, MaxAttrValueLen)
		}
		if attrs == nil {
			attrs = make(map[string]string)
		}
		attrs[string(name)] = value
		return nil
	})
	if err != nil {
		return nil, err
	}
	return attrs, nil
}

func parseTime(s []byte) (time.Time, error) {
	const want = "ts must be an RFC 3339 date-time with seconds and an explicit offset, like 2026-11-23T09:30:01.250+08:00"
	if !validTimestamp(s) {
		return time.Time{}, errorf(EBadTimestamp, want)
	}
	if bytes.HasSuffix(s, []byte("-00:00")) {
		// RFC 3339, 4.3: -00:00 means "local offset unknown".
		return time.Time{}, errorf(EBadTimestamp, "ts: the offset -00:00 means unknown; send the device's real offset, like +08:00")
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return time.Time{}, errorf(EBadTimestamp, "ts is not a real date and time")
	}
	return t, nil
}

// validText reports whether s has min to max characters and no control
// characters (C0 and DEL), which would end up in logs and on tablets. The
// control characters are ASCII, so a test of each byte finds them: it is
// textPattern without a regular expression.
func validText(s string, min, max int) bool {
	if n := utf8.RuneCountInString(s); n < min || n > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func hasKind(ids []huiyan.Ident, k huiyan.IdentKind) bool {
	for _, id := range ids {
		if id.Kind == k {
			return true
		}
	}
	return false
}

// isOne reports whether n, a valid JSON value, is a number equal to 1:
// 1, 1.0, 10e-1 … as JSON Schema's "const": 1 compares numbers by value.
func isOne(n []byte) bool {
	if len(n) == 0 || n[0] < '0' || n[0] > '9' {
		return false // not a number, or negative
	}
	mant, exp := string(n), 0
	if i := strings.IndexAny(mant, "eE"); i >= 0 {
		e, err := strconv.Atoi(mant[i+1:])
		if err != nil || e > MaxPayload || e < -MaxPayload {
			return false // far beyond any exponent that could make 1
		}
		mant, exp = mant[:i], e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + exp // digits[:point] is the integer part
	trimmed := strings.TrimLeft(digits, "0")
	point -= len(digits) - len(trimmed)
	return strings.TrimRight(trimmed, "0") == "1" && point == 1
}

// checkJSON refuses what is not valid UTF-8 and exactly one JSON value.
// encoding/json would silently replace invalid UTF-8 and stop at the end of
// the first value. What passes it is what the scanner of scan.go may trust.
func checkJSON(b []byte) error {
	if !utf8.Valid(b) {
		return errorf(EBadJSON, "payload is not valid UTF-8")
	}
	if !json.Valid(b) {
		return errorf(EBadJSON, "payload is not one valid JSON value")
	}
	if b = bytes.TrimLeft(b, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return errorf(EBadJSON, "payload must be a JSON object")
	}
	return nil
}

func errorf(code, format string, args ...any) error {
	return huiyan.Errorf(code, format, args...)
}
