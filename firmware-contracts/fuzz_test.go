package firmware_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

// fuzzTopic is the arrival topic a payload claims, so that the fuzzer gets
// past the topic checks; the counter topic of sc-01 when it claims none.
func fuzzTopic(b []byte) firmware.Topic {
	var p struct{ Device, Channel string }
	_ = json.Unmarshal(b, &p)
	t := firmware.Topic{Kind: firmware.TopicArrival, Branch: firmware.FixtureBranch, Channel: huiyan.Channel(p.Channel), Device: p.Device}
	if t.Validate() != nil {
		t.Channel, t.Device = huiyan.ChannelCounter, "sc-01"
	}
	return t
}

// checkError fails unless err is a *huiyan.Error with a known code.
func checkError(t *testing.T, err error) {
	t.Helper()
	var he *huiyan.Error
	if !errors.As(err, &he) || !slices.Contains(firmware.Codes(), he.Code) || he.Message == "" {
		t.Fatalf("error %#v is not a *huiyan.Error with a known code and a message", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, fx := range firmware.Fixtures() {
		f.Add(fx.Payload)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tp := fuzzTopic(b)
		a, err := firmware.Decode(tp, b)
		if err != nil {
			checkError(t, err)
			return
		}
		if len(b) > firmware.MaxPayload {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if id := firmware.PeekID(b); id != a.EventID {
			t.Fatalf("PeekID = %q, Decode found %q", id, a.EventID)
		}
		b2 := firmware.EncodeArrival(a)
		a2, err := firmware.Decode(tp, b2)
		if err != nil {
			t.Fatalf("Decode(EncodeArrival(a)): %v\n%s", err, b2)
		}
		if !equalArrival(a, a2) {
			t.Fatalf("round trip differs:\n%+v\n%+v", a, a2)
		}
	})
}

// FuzzSchemaAgreement looks for payloads on which the arrival schema and
// Decode disagree, outside the rules JSON Schema cannot express.
func FuzzSchemaAgreement(f *testing.F) {
	for _, fx := range firmware.Fixtures() {
		if strings.Contains(fx.Topic, "/arrival/") {
			f.Add(fx.Payload)
		}
	}
	mustSchema(f, "arrival.schema.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > firmware.MaxPayload || !utf8.Valid(b) {
			return
		}
		_, err := firmware.Decode(fuzzTopic(b), b)
		code := huiyan.ErrorCode(err)
		if slices.Contains(outsideSchema, code) ||
			code == firmware.EBadIdents && strings.Contains(huiyan.ErrorMessage(err), "same token") {
			return // duplicate tokens in idents that differ in kind or key
		}
		ok, verr := schemaValid(t, "arrival.schema.json", b)
		if ok != (err == nil) {
			t.Fatalf("schema valid=%v (%v), Decode: %v", ok, verr, err)
		}
	})
}

func FuzzParseTopic(f *testing.F) {
	for _, fx := range firmware.Fixtures() {
		f.Add(fx.Topic)
	}
	for _, s := range []string{
		"huiyan/v1/B001/reject/sc-01", "huiyan/v1/B001/wheel/wh-01/result",
		"huiyan/v1/B001/arrival/+/+", "huiyan/v1/B001/device/+/status", "huiyan/v1/#", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := firmware.ParseTopic(s)
		if err != nil {
			if huiyan.ErrorCode(err) != firmware.EBadTopic || tp != (firmware.Topic{}) {
				t.Fatalf("ParseTopic(%q) = %+v, %v", s, tp, err)
			}
			if strings.Contains(huiyan.ErrorMessage(err), s) && len(s) > 10 {
				t.Fatalf("message %q repeats the topic", huiyan.ErrorMessage(err))
			}
			return
		}
		if tp.Validate() != nil || tp.String() != s {
			t.Fatalf("ParseTopic(%q) = %+v, which is %q", s, tp, tp.String())
		}
		if strings.ContainsAny(s, "+#\x00") || strings.Contains(s, "//") || strings.HasSuffix(s, "/") {
			t.Fatalf("ParseTopic accepted %q", s)
		}
		var built string
		switch tp.Kind {
		case firmware.TopicArrival:
			built, err = firmware.ArrivalTopic(tp.Branch, tp.Channel, tp.Device)
		case firmware.TopicStatus:
			built, err = firmware.StatusTopic(tp.Branch, tp.Device)
		case firmware.TopicReject:
			built, err = firmware.RejectTopic(tp.Branch, tp.Device)
		case firmware.TopicWheelResult:
			built, err = firmware.WheelResultTopic(tp.Branch, tp.Device)
		}
		if err != nil || built != s {
			t.Fatalf("builder for %+v = %q, %v, want %q", tp, built, err, s)
		}
	})
}

// TestDecodeLinear checks that the cost of Decode grows with the size of the
// payload and not faster, on payloads built to hurt a careless parser: deep
// nesting, many idents, many attrs, long strings, many escapes. It compares
// the time per byte with that of a small valid payload, with generous
// slack, instead of trusting the wall clock.
func TestDecodeLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	tp := firmware.Topic{Kind: firmware.TopicArrival, Branch: "B001", Channel: huiyan.ChannelCounter, Device: "sc-01"}
	var small []byte
	for _, fx := range firmware.Fixtures() {
		if fx.Name == "valid/counter-idcard" {
			small = fx.Payload
		}
	}
	head := `{"v":1,"id":"sc-01-000300","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter",`
	tok := strings.Repeat("a", 64)
	ident := `{"kind":"idcard","key":"k1","token":"` + tok + `"},`
	fill := func(prefix, unit, suffix string) []byte {
		n := (firmware.MaxPayload - len(prefix) - len(suffix)) / len(unit)
		return []byte(prefix + strings.Repeat(unit, n) + suffix)
	}
	nest := (firmware.MaxPayload - len(head) - 200) / 2
	hostile := map[string][]byte{
		"nested-arrays-in-attrs": []byte(head + `"idents":[` + ident[:len(ident)-1] + `],"attrs":{"a":` + strings.Repeat("[", nest) + strings.Repeat("]", nest) + `}}`),
		"nested-objects-first":   []byte(`{"attrs":` + strings.Repeat(`{"a":`, nest/3) + `1` + strings.Repeat("}", nest/3) + `}`),
		"many-idents":            fill(head+`"idents":[`, ident, `{}]}`),
		"many-numbers-in-idents": fill(head+`"idents":[`, `1,`, `1]}`),
		"many-attrs":             manyAttrs(head + `"idents":[` + ident[:len(ident)-1] + `],"attrs":{`),
		"long-id":                fill(`{"v":1,"id":"`, `i`, `"}`),
		"escaped-attr-value":     fill(head+`"idents":[`+ident[:len(ident)-1]+`],"attrs":{"a":"`, `\u00e9`, `"}}`),
		"many-unknown-fields":    fill(`{`, `"x":1,`, `"y":1}`),
		"white-space":            fill(`{`, ` `, `}`),
	}
	cost := func(b []byte) time.Duration {
		best := time.Duration(1<<63 - 1)
		for range 7 {
			start := time.Now()
			for range 20 {
				_, _ = firmware.Decode(tp, b)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	perByte := func(b []byte) float64 { return float64(cost(b)) / float64(len(b)) }
	base := perByte(small)
	for name, b := range hostile {
		if len(b) > firmware.MaxPayload {
			t.Fatalf("%s: %d bytes, over the limit", name, len(b))
		}
		_, err := firmware.Decode(tp, b)
		// A quadratic parser would be ~50 times slower per byte on 16 KiB
		// than on the small payload; allow a ratio of 8.
		if r := perByte(b) / base; r > 8 {
			t.Errorf("%s (%d bytes, %s): %.1f times the time per byte of a %d-byte payload", name, len(b), huiyan.ErrorCode(err), r, len(small))
		} else {
			t.Logf("%s (%d bytes, %s): %.2f times the time per byte", name, len(b), huiyan.ErrorCode(err), r)
		}
	}
}

// manyAttrs fills a payload up to MaxPayload with distinct attrs.
func manyAttrs(prefix string) []byte {
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; b.Len() < firmware.MaxPayload-20; i++ {
		fmt.Fprintf(&b, `"k%d":"v",`, i)
	}
	b.WriteString(`"z":"v"}}`)
	return []byte(b.String())
}
