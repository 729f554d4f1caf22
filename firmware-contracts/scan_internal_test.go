package firmware

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"huiyan"
)

// matcherCases pairs each pattern of payload.go with the matcher that
// stands for it in Decode, ValidDeviceID and WheelResult.validate.
var matcherCases = []struct {
	name    string
	re      *regexp.Regexp
	match   func(string) bool
	example string // a valid value, to mutate
	max     int    // the longest valid value, 0 when not a repetition
}{
	{"id", refIDRe, validEventID[string], "sc-01:2026.11_23", MaxIDLen},
	{"spin", refSpinRe, validSpin[string], "spin-20261123.0001", MaxSpinLen},
	{"device", refDeviceRe, ValidDeviceID, "sc_01-A", MaxDeviceIDLen},
	{"key", refKeyRe, ValidKeyID, "k_1-A", MaxKeyIDLen},
	{"token", refTokenRe, ValidToken, strings.Repeat("0123456789abcdef", 4), 64},
	{"attr key", refAttrKeyRe, func(s string) bool { return allIn(s, attrKeyChars, 1, MaxAttrKeyLen) }, "queue.ticket_no-1", MaxAttrKeyLen},
	{"timestamp", refTSRe, validTimestamp[string], "2026-11-23T09:30:01.250+08:00", 0},
	{"text", refTextRe, func(s string) bool { return validText(s, 0, len(s)) }, "柜台 3 & 4", 0},
}

// TestMatchers checks that each matcher accepts exactly what its pattern
// does, with the pattern's length limit where the old code had one, on
// every single byte, every length around the limit, and every one-byte
// change of a valid value.
func TestMatchers(t *testing.T) {
	for _, mc := range matcherCases {
		t.Run(mc.name, func(t *testing.T) {
			var inputs []string
			for c := range 256 {
				inputs = append(inputs, string([]byte{byte(c)}))
				// Every byte at every position of the example.
				for i := range len(mc.example) {
					b := []byte(mc.example)
					b[i] = byte(c)
					inputs = append(inputs, string(b))
				}
			}
			for i := range len(mc.example) + 1 {
				inputs = append(inputs, mc.example[:i], mc.example[i:], mc.example[:i]+"é"+mc.example[i:])
			}
			if mc.max > 0 {
				for n := mc.max - 1; n <= mc.max+1; n++ {
					inputs = append(inputs, strings.Repeat(mc.example[:1], n))
				}
			}
			inputs = append(inputs, "", "\xff", mc.example+"\xff", "\xc3", "长", mc.example+"\n", " "+mc.example)
			for _, s := range inputs {
				checkMatcher(t, mc.name, mc.re, mc.match, mc.max, s)
			}
		})
	}
	t.Run("timestamp-shapes", func(t *testing.T) {
		// Timestamps have their own shapes to try: every digit and sign at
		// every position, fractions of 0 to 10 digits, all offsets' forms.
		var inputs []string
		for _, ts := range []string{"2026-11-23T09:30:01Z", "2026-11-23T23:59:59.123456789-05:30", "2000-01-01T00:00:00+00:00"} {
			for i := range len(ts) {
				for _, c := range []byte("0123456789+-:.TZtz ") {
					b := []byte(ts)
					b[i] = c
					inputs = append(inputs, string(b), ts[:i]+ts[i+1:], ts[:i]+string(c)+ts[i:])
				}
			}
		}
		for n := range 11 {
			frac := "." + strings.Repeat("5", n)
			inputs = append(inputs, "2026-11-23T09:30:01"+frac+"Z", "2026-11-23T09:30:01"+frac+"+08:00", "2026-11-23T09:30:01"+frac)
		}
		for _, h := range []string{"00", "09", "19", "20", "23", "24", "29", "30", "99"} {
			inputs = append(inputs, "2026-11-23T"+h+":00:00Z", "2026-11-23T09:00:00+"+h+":00")
		}
		for _, m := range []string{"00", "59", "60", "69", "99"} {
			inputs = append(inputs, "2026-11-23T09:"+m+":00Z", "2026-11-23T09:00:"+m+"Z", "2026-11-23T09:00:00-08:"+m)
		}
		for _, s := range inputs {
			checkMatcher(t, "timestamp", refTSRe, validTimestamp[string], 0, s)
		}
	})
}

// FuzzMatchers looks for a string on which a matcher and its pattern
// disagree.
func FuzzMatchers(f *testing.F) {
	for _, mc := range matcherCases {
		f.Add(mc.example)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, mc := range matcherCases {
			checkMatcher(t, mc.name, mc.re, mc.match, mc.max, s)
		}
	})
}

func checkMatcher(t *testing.T, name string, re *regexp.Regexp, match func(string) bool, max int, s string) {
	t.Helper()
	want := re.MatchString(s)
	if max > 0 {
		want = want && len(s) <= max
	}
	if name == "text" {
		want = refValidText(s, 0, len(s))
	}
	if got := match(s); got != want {
		t.Errorf("%s(%q) = %v, the pattern says %v", name, s, got, want)
	}
	if name == "timestamp" {
		if got := validTimestamp([]byte(s)); got != want {
			t.Errorf("%s([]byte(%q)) = %v, the pattern says %v", name, s, got, want)
		}
	}
}

// TestEachMember checks the scanner against encoding/json's Decoder on
// valid objects with what a device may put in them: white space in every
// place, escapes, nesting, strings with brackets and quotes in them,
// numbers at the end of objects and arrays.
func TestEachMember(t *testing.T) {
	for _, obj := range []string{
		`{}`,
		" \t\r\n{ \t\r\n} \t\r\n",
		`{"a":1}`,
		`{"a":-1.5e+3,"b":true,"c":false,"d":null,"e":0}`,
		"{ \"a\" :\n1 , \"b\"\t:\t[ 1 , 2 ] ,\"c\":{ } }",
		`{"\u0076":1,"\"q\"":"\\","e\u0301":"\ud83d\ude00","lone":"\ud800"}`,
		`{"a":"}]{[,:\"","b":[{"c":["}"]},"]"],"d":{"e":{"f":[[[]]]}}}`,
		`{"a":[1,[2,[3]],{"b":4}],"z":"end"}`,
		`{"a":"","":"","\/":"\b\f\n\r\t"}`,
		`{"a":{"a":1,"a":2},"a":3}`,
		`{"a":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}`,
	} {
		t.Run(fmt.Sprintf("%.30s", obj), func(t *testing.T) {
			if !json.Valid([]byte(obj)) {
				t.Fatalf("not valid JSON: %s", obj)
			}
			type member struct{ name, val string }
			var got, want []member
			err := eachMember([]byte(obj), func(_ int, name, val []byte) error {
				got = append(got, member{string(name), string(val)})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			err = refEachMember([]byte(obj), func(_ int, name string, val json.RawMessage) error {
				want = append(want, member{name, string(val)})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("members\n%q, the Decoder finds\n%q", got, want)
			}
			// The elements of every array value, likewise.
			for _, m := range want {
				if m.val[0] != '[' {
					continue
				}
				var ge, we []string
				_ = eachElement([]byte(m.val), func(_ int, val []byte) error { ge = append(ge, string(val)); return nil })
				_ = refEachElement([]byte(m.val), func(_ int, val json.RawMessage) error { we = append(we, string(val)); return nil })
				if !reflect.DeepEqual(ge, we) {
					t.Fatalf("elements of %s\n%q, the Decoder finds\n%q", m.val, ge, we)
				}
			}
		})
	}
}

// referenceTopic is the arrival topic a payload claims, as fuzzTopic in
// fuzz_test.go: the counter topic of sc-01 when it claims none.
func referenceTopic(b []byte) Topic {
	var p struct{ Device, Channel string }
	_ = json.Unmarshal(b, &p)
	t := Topic{Kind: TopicArrival, Branch: FixtureBranch, Channel: huiyan.Channel(p.Channel), Device: p.Device}
	if t.Validate() != nil {
		t.Channel, t.Device = huiyan.ChannelCounter, "sc-01"
	}
	return t
}

// checkReference fails unless Decode and PeekID give b exactly what the
// reference implementation gives it: the same arrival, or an error of the
// same type, code and message.
func checkReference(t *testing.T, tp Topic, b []byte) {
	t.Helper()
	got, gerr := Decode(tp, b)
	want, werr := refDecode(tp, b)
	var ghe, whe *huiyan.Error
	if errors.As(gerr, &ghe) != errors.As(werr, &whe) || (gerr == nil) != (werr == nil) ||
		huiyan.ErrorCode(gerr) != huiyan.ErrorCode(werr) || huiyan.ErrorMessage(gerr) != huiyan.ErrorMessage(werr) {
		t.Fatalf("Decode: %v, the reference: %v\npayload %.300q", gerr, werr, b)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode =\n%#v, the reference\n%#v\npayload %.300q", got, want, b)
	}
	if g, w := PeekID(b), refPeekID(b); g != w {
		t.Fatalf("PeekID = %q, the reference %q\npayload %.300q", g, w, b)
	}
}

// TestDecodeReference runs Decode and the reference on the fixtures and on
// variants of every valid arrival fixture: each field, top-level and of
// the first ident and attrs, dropped, doubled, its name escaped, its value
// replaced by values of every JSON type, with white space everywhere.
func TestDecodeReference(t *testing.T) {
	values := []string{
		`null`, `true`, `false`, `0`, `1`, `-1`, `1.0`, `10e-1`, `1e400`, `""`, `"x"`, `"\u0041"`, `"\ud800"`,
		`"a\u0000b"`, `"\u007f"`, `"\"\\\/"`, `[]`, `{}`, `[1]`, `["a"]`, `{"a":"b","a":"c"}`, `{"b":1}`,
		`[{"kind":"mbank","key":"k1","token":"` + strings.Repeat("ab", 32) + `"}]`,
		`"sc-01"`, `"counter"`, `"ecode"`, `"wheel"`, `"idcard"`, `"mbank"`, `"k1"`, `"2026-11-23T09:30:01Z"`,
	}
	n, codes := 0, map[string]int{}
	for _, f := range Fixtures() {
		tp, err := ParseTopic(f.Topic)
		if err != nil || tp.Kind != TopicArrival {
			continue
		}
		checkReference(t, tp, f.Payload)
		n++
		if f.Code != "" || len(f.Payload) > MaxPayload/2 {
			continue
		}
		for _, v := range variants(t, f.Payload, values) {
			checkReference(t, tp, v)
			n++
			if claimed := referenceTopic(v); claimed != tp {
				checkReference(t, claimed, v)
				n++
			}
			_, err := Decode(referenceTopic(v), v)
			codes[huiyan.ErrorCode(err)]++
		}
	}
	// Every check of Decode's after the syntax must be reached, or the
	// variants test less than they seem to.
	for _, c := range Codes() {
		if notHere := c == ETooLarge || c == EBadTopic || c == EBadStatus || c == EUnknownKey || c == EDuplicate || c == EWrongBranch; !notHere && codes[c] == 0 {
			t.Errorf("no variant earns %s", c)
		}
	}
	t.Logf("%d payloads agree; verdicts of the variants: %v", n, codes)
}

// variants returns variants of the valid payload p: see TestDecodeReference.
func variants(t *testing.T, p []byte, values []string) [][]byte {
	t.Helper()
	quote := func(s string) string { return `"` + s + `"` } // the fixtures' names need no escapes
	escape := func(s string) string { return fmt.Sprintf(`"\u%04x%s"`, s[0], s[1:]) }
	type member struct{ key, val string } // key: the name as JSON
	members := func(obj string) []member {
		var ms []member
		if err := refEachMember([]byte(obj), func(_ int, name string, val json.RawMessage) error {
			ms = append(ms, member{quote(name), string(val)})
			return nil
		}); err != nil {
			t.Fatalf("fixture: %v", err)
		}
		return ms
	}
	join := func(ms []member) string {
		var b strings.Builder
		b.WriteByte('{')
		for i, m := range ms {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s:%s", m.key, m.val)
		}
		b.WriteByte('}')
		return b.String()
	}
	// mutate returns the variants of obj; inner, when set, gives those of
	// a member's value, to put back in place.
	mutate := func(obj string, inner func(name, val string) []string) []string {
		ms := members(obj)
		var out []string
		for i, m := range ms {
			name := m.key[1 : len(m.key)-1]
			with := func(key, val string) string {
				c := append([]member(nil), ms...)
				c[i] = member{key, val}
				return join(c)
			}
			out = append(out,
				join(append(append([]member(nil), ms[:i]...), ms[i+1:]...)), // dropped
				join(append(append([]member(nil), ms...), m)),               // doubled
				with(escape(name), m.val),
				with(quote(name+"x"), m.val),
			)
			if s, ok := strings.CutPrefix(m.val, `"`); ok && len(s) > 1 {
				out = append(out, with(m.key, escape(s[:len(s)-1]))) // an escape in the value
			}
			for _, v := range values {
				out = append(out, with(m.key, v))
			}
			if inner != nil {
				for _, v := range inner(name, m.val) {
					out = append(out, with(m.key, v))
				}
			}
		}
		return out
	}
	objs := mutate(string(p), func(name, val string) []string {
		switch {
		case name == "attrs" && val != "{}":
			return mutate(val, nil)
		case name == "idents":
			// The first ident's variants, and the ident alone, doubled
			// and as the ninth.
			start := skipSpace([]byte(val), 1)
			end := skipValue([]byte(val), start)
			first := val[start:end]
			var out []string
			for _, v := range mutate(first, nil) {
				out = append(out, "["+v+val[end:])
			}
			return append(out, "["+first+"]", "["+first+","+first+"]", "["+strings.Repeat(first+",", MaxIdents)+first+"]")
		}
		return nil
	})
	out := make([][]byte, 0, 2*len(objs))
	for _, o := range objs {
		spaced := strings.NewReplacer(",", " ,\n\t", ":", "\r: ", "{", "{ ", "[", " [ ").Replace(o)
		out = append(out, []byte(o))
		if json.Valid([]byte(spaced)) { // a ":" in a value breaks it; others have the shape
			out = append(out, []byte(" "+spaced+" \n"))
		}
	}
	return out
}

// FuzzDecodeReference looks for a payload on which Decode or PeekID and
// the reference implementation disagree in any way.
func FuzzDecodeReference(f *testing.F) {
	for _, fx := range Fixtures() {
		if strings.Contains(fx.Topic, "/arrival/") {
			f.Add(fx.Payload)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkReference(t, referenceTopic(b), b)
	})
}

// TestDecodeAllocs keeps Decode cheap in allocations (issue 8: 203 for the
// common arrival before the scanner, 9 after): a copy of each string the
// arrival keeps, its idents slice and attrs map, the location of an offset
// time.Parse does not cache, and little else. The bounds leave a few for
// the race detector, which adds some.
func TestDecodeAllocs(t *testing.T) {
	byName := map[string]Fixture{}
	for _, f := range Fixtures() {
		byName[f.Name] = f
	}
	for _, tt := range []struct {
		fixture string
		max     float64
	}{
		{"valid/counter-idcard", 12},                   // 9: id, ts, key, token, idents, 2 attrs, the map
		{"valid/counter-idcard-bankcard-phone", 12},    // 8: three idents, no attrs
		{"valid/ecode-mbank-idcard", 10},               // 7: code, no attrs
		{"valid/counter-pretty-printed-any-order", 10}, // 8: white space costs nothing; -05:30 does
		{"unknown_field/top-level-name", 4},            // 2: the error alone
		{"bad_token/upper-case-hex", 6},                // 3: up to the error
	} {
		f, ok := byName[tt.fixture]
		if !ok {
			t.Fatalf("no fixture %s", tt.fixture)
		}
		tp, err := ParseTopic(f.Topic)
		if err != nil {
			t.Fatal(err)
		}
		got := testing.AllocsPerRun(100, func() { _, _ = Decode(tp, f.Payload) })
		if got > tt.max {
			t.Errorf("%s: %.0f allocations, want at most %.0f", f.Name, got, tt.max)
		}
		t.Logf("%s: %.0f allocations", f.Name, got)
	}
}
