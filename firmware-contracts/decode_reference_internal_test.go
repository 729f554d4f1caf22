package firmware

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"huiyan"
)

// This file keeps the first implementation of Decode and PeekID, over
// encoding/json's Decoder and the regular expressions of the schemas, as
// the reference that the fast scanner of payload.go must agree with on
// every input: verdict, code, message and result (TestDecodeReference,
// FuzzDecodeReference). It was the code of Decode until issue 8; it is slow
// and obviously right. A change of the contract changes both.

var (
	refIDRe      = regexp.MustCompile(idPattern)
	refDeviceRe  = regexp.MustCompile(devicePattern)
	refKeyRe     = regexp.MustCompile(keyPattern)
	refTokenRe   = regexp.MustCompile(tokenPattern)
	refSpinRe    = regexp.MustCompile(spinPattern)
	refAttrKeyRe = regexp.MustCompile(attrKeyPattern)
	refTextRe    = regexp.MustCompile(textPattern)
	refTSRe      = regexp.MustCompile(tsPattern)
)

func refValidKeyID(s string) bool    { return len(s) <= MaxKeyIDLen && refKeyRe.MatchString(s) }
func refValidToken(s string) bool    { return len(s) == 64 && refTokenRe.MatchString(s) }
func refValidEventID(s string) bool  { return len(s) <= MaxIDLen && refIDRe.MatchString(s) }
func refValidDeviceID(s string) bool { return len(s) <= MaxDeviceIDLen && refDeviceRe.MatchString(s) }

var refArrivalFields = []string{"v", "id", "ts", "device", "channel", "idents", "attrs", "code", "spin"}

// refDecode is Decode as it was.
func refDecode(t Topic, b []byte) (huiyan.Arrival, error) {
	if t.Kind != TopicArrival {
		return huiyan.Arrival{}, topicErr("not an arrival topic")
	}
	if err := t.Validate(); err != nil {
		return huiyan.Arrival{}, err
	}
	if len(b) > MaxPayload {
		return huiyan.Arrival{}, errorf(ETooLarge, "payload is %d bytes; the limit is %d", len(b), MaxPayload)
	}
	if err := refCheckJSON(b); err != nil {
		return huiyan.Arrival{}, err
	}
	raw := make(map[string]json.RawMessage, len(refArrivalFields))
	err := refEachMember(b, func(i int, name string, val json.RawMessage) error {
		if !refIsField(name) {
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
	if !refIsOne(v) {
		return huiyan.Arrival{}, errorf(EBadVersion, "v must be 1")
	}
	if a.EventID, ok = refStr(raw, "id"); !ok || !refValidEventID(a.EventID) {
		return huiyan.Arrival{}, errorf(EBadID, "id must be 1 to %d characters of [0-9A-Za-z._:-]", MaxIDLen)
	}
	ts, _ := refStr(raw, "ts")
	if a.At, err = refParseTime(ts); err != nil {
		return huiyan.Arrival{}, err
	}
	if a.Device, ok = refStr(raw, "device"); !ok || !refValidDeviceID(a.Device) {
		return huiyan.Arrival{}, errorf(EBadDevice, "device must be 1 to %d characters of [0-9A-Za-z_-]", MaxDeviceIDLen)
	}
	if a.Device != t.Device {
		return huiyan.Arrival{}, errorf(ETopicMismatch, "device differs from the device level of the topic")
	}
	ch, _ := refStr(raw, "channel")
	if a.Channel = huiyan.Channel(ch); !a.Channel.Valid() {
		return huiyan.Arrival{}, errorf(EBadChannel, "channel must be counter, ecode or wheel")
	}
	if a.Channel != t.Channel {
		return huiyan.Arrival{}, errorf(ETopicMismatch, "channel differs from the channel level of the topic")
	}
	if a.Idents, err = refDecodeIdents(raw["idents"]); err != nil {
		return huiyan.Arrival{}, err
	}
	if val, ok := raw["attrs"]; ok {
		if a.Attrs, err = refDecodeAttrs(val); err != nil {
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
		if a.Code, ok = refStr(raw, "code"); !ok || !refValidText(a.Code, 1, MaxCodeLen) {
			return huiyan.Arrival{}, errorf(EBadCode, "ecode arrivals need a code of 1 to %d characters without control characters", MaxCodeLen)
		}
	case huiyan.ChannelWheel:
		if a.Spin, ok = refStr(raw, "spin"); !ok || len(a.Spin) > MaxSpinLen || !refSpinRe.MatchString(a.Spin) {
			return huiyan.Arrival{}, errorf(EBadSpin, "wheel arrivals need a spin of 1 to %d characters of [0-9A-Za-z._:-]", MaxSpinLen)
		}
	}
	if a.Channel != huiyan.ChannelCounter && !refHasKind(a.Idents, huiyan.IdentMBank) {
		return huiyan.Arrival{}, errorf(EBadIdents, "%s arrivals need an mbank ident", a.Channel)
	}
	return a, nil
}

// refPeekID is PeekID as it was.
func refPeekID(b []byte) string {
	if len(b) > MaxPeek || refCheckJSON(b) != nil {
		return ""
	}
	var id string
	errStop := errors.New("stop")
	_ = refEachMember(b, func(_ int, name string, val json.RawMessage) error {
		if name != "id" {
			return nil
		}
		if err := json.Unmarshal(val, &id); err != nil || !refValidEventID(id) {
			id = ""
		}
		return errStop
	})
	return id
}

func refDecodeIdents(val json.RawMessage) ([]huiyan.Ident, error) {
	if val == nil {
		return nil, errorf(EBadIdents, "idents is required")
	}
	if val[0] != '[' {
		return nil, errorf(EBadIdents, "idents must be an array of 1 to %d idents", MaxIdents)
	}
	var ids []huiyan.Ident
	err := refEachElement(val, func(i int, val json.RawMessage) error {
		if i >= MaxIdents {
			return errorf(EBadIdents, "idents must be an array of 1 to %d idents", MaxIdents)
		}
		id, err := refDecodeIdent(i, val)
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

func refDecodeIdent(i int, val json.RawMessage) (huiyan.Ident, error) {
	if val[0] != '{' {
		return huiyan.Ident{}, errorf(EBadIdents, "ident %d must be an object with kind, key and token", i)
	}
	raw := make(map[string]json.RawMessage, 3)
	err := refEachMember(val, func(j int, name string, val json.RawMessage) error {
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
	kind, _ := refStr(raw, "kind")
	if id.Kind = huiyan.IdentKind(kind); !id.Kind.Valid() {
		return huiyan.Ident{}, errorf(EBadKind, "ident %d: kind must be idcard, bankcard, mbank or phone", i)
	}
	var ok bool
	if id.KeyID, ok = refStr(raw, "key"); !ok || !refValidKeyID(id.KeyID) {
		return huiyan.Ident{}, errorf(EBadKey, "ident %d: key must be 1 to %d characters of [0-9A-Za-z_-]", i, MaxKeyIDLen)
	}
	if id.Token, ok = refStr(raw, "token"); !ok || !refValidToken(id.Token) {
		return huiyan.Ident{}, errorf(EBadToken, "ident %d: token must be 64 lower-case hex characters", i)
	}
	return id, nil
}

func refDecodeAttrs(val json.RawMessage) (map[string]string, error) {
	if val[0] != '{' {
		return nil, errorf(EBadAttrs, "attrs must be an object of at most %d strings", MaxAttrs)
	}
	attrs := make(map[string]string)
	err := refEachMember(val, func(i int, name string, val json.RawMessage) error {
		if i >= MaxAttrs {
			return errorf(EBadAttrs, "attrs must be an object of at most %d strings", MaxAttrs)
		}
		if len(name) > MaxAttrKeyLen || !refAttrKeyRe.MatchString(name) {
			return errorf(EBadAttrs, "attrs: the key of entry %d must be 1 to %d characters of [0-9A-Za-z_.-]", i, MaxAttrKeyLen)
		}
		if _, dup := attrs[name]; dup {
			return errorf(EDuplicateKey, "attrs: the key of entry %d appears twice", i)
		}
		var s string
		if val[0] != '"' || json.Unmarshal(val, &s) != nil || !refValidText(s, 0, MaxAttrValueLen) {
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

func refParseTime(s string) (time.Time, error) {
	const want = "ts must be an RFC 3339 date-time with seconds and an explicit offset, like 2026-11-23T09:30:01.250+08:00"
	if len(s) > 64 || !refTSRe.MatchString(s) {
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

// refValidText reports whether s has min to max characters and no control
// characters (C0 and DEL), which would end up in logs and on tablets.
func refValidText(s string, min, max int) bool {
	n := utf8.RuneCountInString(s)
	return n >= min && n <= max && refTextRe.MatchString(s)
}

func refHasKind(ids []huiyan.Ident, k huiyan.IdentKind) bool {
	for _, id := range ids {
		if id.Kind == k {
			return true
		}
	}
	return false
}

func refIsField(name string) bool {
	for _, f := range refArrivalFields {
		if f == name {
			return true
		}
	}
	return false
}

// refStr returns the string value of raw[name]; ok is false when the field is
// missing or not a string.
func refStr(raw map[string]json.RawMessage, name string) (s string, ok bool) {
	val := raw[name]
	if len(val) == 0 || val[0] != '"' {
		return "", false
	}
	if err := json.Unmarshal(val, &s); err != nil {
		return "", false
	}
	return s, true
}

// refIsOne reports whether n, a valid JSON value, is a number equal to 1:
// 1, 1.0, 10e-1 … as JSON Schema's "const": 1 compares numbers by value.
func refIsOne(n []byte) bool {
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

// refCheckJSON refuses what is not valid UTF-8 and exactly one JSON value.
// encoding/json would silently replace invalid UTF-8 and stop at the end of
// the first value.
func refCheckJSON(b []byte) error {
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

// refEachMember calls fn for the members of obj, a valid JSON object, in
// order, and stops at the first error fn returns.
func refEachMember(obj []byte, fn func(i int, name string, val json.RawMessage) error) error {
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

// refEachElement calls fn for the elements of arr, a valid JSON array, in
// order, and stops at the first error fn returns.
func refEachElement(arr []byte, fn func(i int, val json.RawMessage) error) error {
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
