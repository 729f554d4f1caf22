package firmware

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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
// keeps them equal.
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

var (
	idRe      = regexp.MustCompile(idPattern)
	keyRe     = regexp.MustCompile(keyPattern)
	tokenRe   = regexp.MustCompile(tokenPattern)
	spinRe    = regexp.MustCompile(spinPattern)
	attrKeyRe = regexp.MustCompile(attrKeyPattern)
	textRe    = regexp.MustCompile(textPattern)
	tsRe      = regexp.MustCompile(tsPattern)
)

// ValidKeyID reports whether s can name a token key: 1 to 16 characters of
// [0-9A-Za-z_-] (DESIGN.md, "Identity token": "k1").
func ValidKeyID(s string) bool { return len(s) <= MaxKeyIDLen && keyRe.MatchString(s) }

// ValidToken reports whether s has the shape of an identity token: 64
// lower-case hex characters, as Token makes them.
func ValidToken(s string) bool { return len(s) == 64 && tokenRe.MatchString(s) }

func validEventID(s string) bool { return len(s) <= MaxIDLen && idRe.MatchString(s) }

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
// them.
var arrivalFields = []string{"v", "id", "ts", "device", "channel", "idents", "attrs", "code", "spin"}

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
	raw := make(map[string]json.RawMessage, len(arrivalFields))
	err := eachMember(b, func(i int, name string, val json.RawMessage) error {
		if !isField(name) {
			return errorf(EUnknownField, "member %d (from 0) is not a field of v1, which has v, id, ts, device, channel, idents, attrs, code and spin", i)
		}
		if _, dup := raw[name]; dup {
			return errorf(EDuplicateKey, "field %q appears twice", name)
		}
		raw[name] = val
		return nil
	})
	if err != nil {
		return huiyan.Arrival{}, err
	}
	a := huiyan.Arrival{Branch: t.Branch}
	v, ok := raw["v"]
	if !ok {
		return huiyan.Arrival{}, errorf(EBadVersion, "v is required")
	}
	if !isOne(v) {
		return huiyan.Arrival{}, errorf(EBadVersion, "v must be 1")
	}
	if a.EventID, ok = str(raw, "id"); !ok || !validEventID(a.EventID) {
		return huiyan.Arrival{}, errorf(EBadID, "id must be 1 to %d characters of [0-9A-Za-z._:-]", MaxIDLen)
	}
	ts, _ := str(raw, "ts")
	if a.At, err = parseTime(ts); err != nil {
		return huiyan.Arrival{}, err
	}
	if a.Device, ok = str(raw, "device"); !ok || !ValidDeviceID(a.Device) {
		return huiyan.Arrival{}, errorf(EBadDevice, "device must be 1 to %d characters of [0-9A-Za-z_-]", MaxDeviceIDLen)
	}
	if a.Device != t.Device {
		return huiyan.Arrival{}, errorf(ETopicMismatch, "device differs from the device level of the topic")
	}
	ch, _ := str(raw, "channel")
	if a.Channel = huiyan.Channel(ch); !a.Channel.Valid() {
		return huiyan.Arrival{}, errorf(EBadChannel, "channel must be counter, ecode or wheel")
	}
	if a.Channel != t.Channel {
		return huiyan.Arrival{}, errorf(ETopicMismatch, "channel differs from the channel level of the topic")
	}
	if a.Idents, err = decodeIdents(raw["idents"]); err != nil {
		return huiyan.Arrival{}, err
	}
	if val, ok := raw["attrs"]; ok {
		if a.Attrs, err = decodeAttrs(val); err != nil {
			return huiyan.Arrival{}, err
		}
	}
	if _, ok := raw["code"]; ok && a.Channel != huiyan.ChannelECode {
		return huiyan.Arrival{}, errorf(EBadField, "code is only for ecode arrivals")
	}
	if _, ok := raw["spin"]; ok && a.Channel != huiyan.ChannelWheel {
		return huiyan.Arrival{}, errorf(EBadField, "spin is only for wheel arrivals")
	}
	switch a.Channel {
	case huiyan.ChannelECode:
		if a.Code, ok = str(raw, "code"); !ok || !validText(a.Code, 1, MaxCodeLen) {
			return huiyan.Arrival{}, errorf(EBadCode, "ecode arrivals need a code of 1 to %d characters without control characters", MaxCodeLen)
		}
	case huiyan.ChannelWheel:
		if a.Spin, ok = str(raw, "spin"); !ok || len(a.Spin) > MaxSpinLen || !spinRe.MatchString(a.Spin) {
			return huiyan.Arrival{}, errorf(EBadSpin, "wheel arrivals need a spin of 1 to %d characters of [0-9A-Za-z._:-]", MaxSpinLen)
		}
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
	errStop := errors.New("stop")
	_ = eachMember(b, func(_ int, name string, val json.RawMessage) error {
		if name != "id" {
			return nil
		}
		if err := json.Unmarshal(val, &id); err != nil || !validEventID(id) {
			id = ""
		}
		return errStop
	})
	return id
}

func decodeIdents(val json.RawMessage) ([]huiyan.Ident, error) {
	if val == nil {
		return nil, errorf(EBadIdents, "idents is required")
	}
	if val[0] != '[' {
		return nil, errorf(EBadIdents, "idents must be an array of 1 to %d idents", MaxIdents)
	}
	var ids []huiyan.Ident
	err := eachElement(val, func(i int, val json.RawMessage) error {
		if i >= MaxIdents {
			return errorf(EBadIdents, "idents must be an array of 1 to %d idents", MaxIdents)
		}
		id, err := decodeIdent(i, val)
		if err != nil {
			return err
		}
		for _, o := range ids {
			if o.Token == id.Token {
				return errorf(EBadIdents, "ident %d: the same token as an earlier ident", i)
			}
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errorf(EBadIdents, "idents must be an array of 1 to %d idents", MaxIdents)
	}
	return ids, nil
}

func decodeIdent(i int, val json.RawMessage) (huiyan.Ident, error) {
	if val[0] != '{' {
		return huiyan.Ident{}, errorf(EBadIdents, "ident %d must be an object with kind, key and token", i)
	}
	raw := make(map[string]json.RawMessage, 3)
	err := eachMember(val, func(j int, name string, val json.RawMessage) error {
		if name != "kind" && name != "key" && name != "token" {
			return errorf(EUnknownField, "ident %d: member %d (from 0) is not a field of an ident, which has kind, key and token", i, j)
		}
		if _, dup := raw[name]; dup {
			return errorf(EDuplicateKey, "ident %d: field %q appears twice", i, name)
		}
		raw[name] = val
		return nil
	})
	if err != nil {
		return huiyan.Ident{}, err
	}
	var id huiyan.Ident
	kind, _ := str(raw, "kind")
	if id.Kind = huiyan.IdentKind(kind); !id.Kind.Valid() {
		return huiyan.Ident{}, errorf(EBadKind, "ident %d: kind must be idcard, bankcard, mbank or phone", i)
	}
	var ok bool
	if id.KeyID, ok = str(raw, "key"); !ok || !ValidKeyID(id.KeyID) {
		return huiyan.Ident{}, errorf(EBadKey, "ident %d: key must be 1 to %d characters of [0-9A-Za-z_-]", i, MaxKeyIDLen)
	}
	if id.Token, ok = str(raw, "token"); !ok || !ValidToken(id.Token) {
		return huiyan.Ident{}, errorf(EBadToken, "ident %d: token must be 64 lower-case hex characters", i)
	}
	return id, nil
}

func decodeAttrs(val json.RawMessage) (map[string]string, error) {
	if val[0] != '{' {
		return nil, errorf(EBadAttrs, "attrs must be an object of at most %d strings", MaxAttrs)
	}
	attrs := make(map[string]string)
	err := eachMember(val, func(i int, name string, val json.RawMessage) error {
		if i >= MaxAttrs {
			return errorf(EBadAttrs, "attrs must be an object of at most %d strings", MaxAttrs)
		}
		if len(name) > MaxAttrKeyLen || !attrKeyRe.MatchString(name) {
			return errorf(EBadAttrs, "attrs: the key of entry %d must be 1 to %d characters of [0-9A-Za-z_.-]", i, MaxAttrKeyLen)
		}
		if _, dup := attrs[name]; dup {
			return errorf(EDuplicateKey, "attrs: the key of entry %d appears twice", i)
		}
		var s string
		if val[0] != '"' || json.Unmarshal(val, &s) != nil || !validText(s, 0, MaxAttrValueLen) {
			return errorf(EBadAttrs, "attrs: the value of entry %d must be a string of at most %d characters without control characters", i, MaxAttrValueLen)
		}
		attrs[name] = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(attrs) == 0 {
		return nil, nil
	}
	return attrs, nil
}

func parseTime(s string) (time.Time, error) {
	const want = "ts must be an RFC 3339 date-time with seconds and an explicit offset, like 2026-11-23T09:30:01.250+08:00"
	if len(s) > 64 || !tsRe.MatchString(s) {
		return time.Time{}, errorf(EBadTimestamp, want)
	}
	if strings.HasSuffix(s, "-00:00") {
		// RFC 3339, 4.3: -00:00 means "local offset unknown".
		return time.Time{}, errorf(EBadTimestamp, "ts: the offset -00:00 means unknown; send the device's real offset, like +08:00")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errorf(EBadTimestamp, "ts is not a real date and time")
	}
	return t, nil
}

// validText reports whether s has min to max characters and no control
// characters (C0 and DEL), which would end up in logs and on tablets.
func validText(s string, min, max int) bool {
	n := utf8.RuneCountInString(s)
	return n >= min && n <= max && textRe.MatchString(s)
}

func hasKind(ids []huiyan.Ident, k huiyan.IdentKind) bool {
	for _, id := range ids {
		if id.Kind == k {
			return true
		}
	}
	return false
}

func isField(name string) bool {
	for _, f := range arrivalFields {
		if f == name {
			return true
		}
	}
	return false
}

// str returns the string value of raw[name]; ok is false when the field is
// missing or not a string.
func str(raw map[string]json.RawMessage, name string) (s string, ok bool) {
	val := raw[name]
	if len(val) == 0 || val[0] != '"' {
		return "", false
	}
	if err := json.Unmarshal(val, &s); err != nil {
		return "", false
	}
	return s, true
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
// the first value.
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

// eachMember calls fn for the members of obj, a valid JSON object, in
// order, and stops at the first error fn returns.
func eachMember(obj []byte, fn func(i int, name string, val json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // '{'
		return errorf(EBadJSON, "payload is not one valid JSON value")
	}
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			return errorf(EBadJSON, "payload is not one valid JSON value")
		}
		name, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return errorf(EBadJSON, "payload is not one valid JSON value")
		}
		if err := fn(i, name, val); err != nil {
			return err
		}
	}
	return nil
}

// eachElement calls fn for the elements of arr, a valid JSON array, in
// order, and stops at the first error fn returns.
func eachElement(arr []byte, fn func(i int, val json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(arr))
	if _, err := dec.Token(); err != nil { // '['
		return errorf(EBadJSON, "payload is not one valid JSON value")
	}
	for i := 0; dec.More(); i++ {
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return errorf(EBadJSON, "payload is not one valid JSON value")
		}
		if err := fn(i, val); err != nil {
			return err
		}
	}
	return nil
}

func errorf(code, format string, args ...any) error {
	return huiyan.Errorf(code, format, args...)
}
