package firmware_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

// check runs a fixture as the edge does on receipt: the topic first, then
// the payload by the topic's kind.
func check(f firmware.Fixture) (huiyan.Arrival, error) {
	tp, err := firmware.ParseTopic(f.Topic)
	if err != nil {
		return huiyan.Arrival{}, err
	}
	switch tp.Kind {
	case firmware.TopicArrival:
		return firmware.Decode(tp, f.Payload)
	case firmware.TopicStatus:
		_, err := firmware.ParseStatus(f.Payload)
		return huiyan.Arrival{}, err
	}
	return huiyan.Arrival{}, fmt.Errorf("fixture on a %s topic", tp.Kind)
}

func TestFixtures(t *testing.T) {
	fs := firmware.Fixtures()
	names := map[string]bool{}
	var valid, malformed int
	covered := map[string]bool{}
	for _, f := range fs {
		t.Run(f.Name, func(t *testing.T) {
			if names[f.Name] {
				t.Fatalf("duplicate fixture name")
			}
			names[f.Name] = true
			_, err := check(f)
			if got := huiyan.ErrorCode(err); got != f.Code {
				t.Fatalf("code=%q (%v), want %q", got, err, f.Code)
			}
			if err != nil {
				var he *huiyan.Error
				if !errors.As(err, &he) {
					t.Fatalf("error %T is not a *huiyan.Error", err)
				}
				checkMessageSafe(t, f.Payload, he.Message)
			}
		})
		covered[f.Code] = true
		if f.Code == "" {
			valid++
		} else {
			malformed++
		}
	}
	for _, code := range firmware.Codes() {
		edgeOnly := code == firmware.EUnknownKey || code == firmware.EDuplicate || code == firmware.EWrongBranch
		if !edgeOnly && !covered[code] {
			t.Errorf("no fixture for code %q", code)
		}
	}
	if valid < 12 || malformed < 28 {
		t.Errorf("%d valid and %d malformed fixtures, want at least 12 and 28", valid, malformed)
	}
	t.Logf("%d fixtures: %d valid, %d malformed", len(fs), valid, malformed)
}

var hex64 = regexp.MustCompile(`[0-9a-fA-F]{64}`)

// checkMessageSafe fails when a reject message repeats a string value of the
// payload (a token, an attr value, a raw number) or anything like a token.
func checkMessageSafe(t *testing.T, payload []byte, msg string) {
	t.Helper()
	if msg == "" || len(msg) > 200 {
		t.Errorf("message %q: want 1 to 200 characters", msg)
	}
	if hex64.MatchString(msg) {
		t.Errorf("message %q carries a token", msg)
	}
	words := []string{"counter", "ecode", "wheel", "idcard", "bankcard", "mbank", "phone", "online", "offline"}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if len(v) >= 4 && !slices.Contains(words, v) && strings.Contains(msg, v) {
				t.Errorf("message %q repeats the payload value %q", msg, v)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var doc any
	if json.Unmarshal(payload, &doc) == nil {
		walk(doc)
	}
	for _, raw := range []string{"110101199003079999", "林*华"} {
		if strings.Contains(msg, raw) {
			t.Errorf("message %q carries customer data", msg)
		}
	}
}

func TestDecode(t *testing.T) {
	tp := firmware.Topic{Kind: firmware.TopicArrival, Branch: "B001", Channel: huiyan.ChannelCounter, Device: "sc-01"}
	tok, err := firmware.Token(firmware.DemoKey, huiyan.IdentIDCard, "110101199003079999")
	if err != nil {
		t.Fatal(err)
	}
	payload := `{"v":1,"id":"sc-01-000123","ts":"2026-11-23T09:30:01.250+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"` + tok + `"}],"attrs":{"counter_no":"3","business":"card_replace"}}`

	t.Run("OK", func(t *testing.T) {
		a, err := firmware.Decode(tp, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		want := huiyan.Arrival{
			EventID: "sc-01-000123",
			Branch:  "B001",
			Device:  "sc-01",
			Channel: huiyan.ChannelCounter,
			At:      time.Date(2026, 11, 23, 1, 30, 1, 250e6, time.UTC),
			Idents:  []huiyan.Ident{{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: tok}},
			Attrs:   map[string]string{"counter_no": "3", "business": "card_replace"},
		}
		if !equalArrival(a, want) {
			t.Fatalf("Decode =\n%+v, want\n%+v", a, want)
		}
		if _, off := a.At.Zone(); off != 8*3600 {
			t.Errorf("offset=%d, want %d: Decode keeps the device's offset", off, 8*3600)
		}
	})
	t.Run("VersionAsNumber", func(t *testing.T) {
		for _, v := range []string{"1.0", "1e0", "10e-1", "0.1E+1", "100e-2"} {
			if _, err := firmware.Decode(tp, []byte(strings.Replace(payload, `"v":1`, `"v":`+v, 1))); err != nil {
				t.Errorf("v=%s: %v; JSON Schema's const 1 accepts it", v, err)
			}
		}
		for _, v := range []string{"0", "-1", "2", "1.5", "0.1", "11e-1", "1e1", "1e99999999999999999999", "true", "null", "[1]"} {
			_, err := firmware.Decode(tp, []byte(strings.Replace(payload, `"v":1`, `"v":`+v, 1)))
			if code := huiyan.ErrorCode(err); code != firmware.EBadVersion {
				t.Errorf("v=%s: code=%q, want %q", v, code, firmware.EBadVersion)
			}
		}
	})
	t.Run("ErrTopic", func(t *testing.T) {
		for _, bad := range []firmware.Topic{
			{Kind: firmware.TopicStatus, Branch: "B001", Device: "sc-01"},
			{Kind: firmware.TopicArrival, Branch: "B001", Channel: "kiosk", Device: "sc-01"},
			{},
		} {
			_, err := firmware.Decode(bad, []byte(payload))
			if code := huiyan.ErrorCode(err); code != firmware.EBadTopic {
				t.Errorf("Decode(%+v): code=%q, want %q", bad, code, firmware.EBadTopic)
			}
		}
	})
	t.Run("ErrTokenMessage", func(t *testing.T) {
		_, err := firmware.Decode(tp, []byte(strings.Replace(payload, tok, strings.ToUpper(tok), 1)))
		if msg := huiyan.ErrorMessage(err); msg != "ident 0: token must be 64 lower-case hex characters" {
			t.Fatalf("message=%q", msg)
		}
	})
	t.Run("EmptyAttrs", func(t *testing.T) {
		a, err := firmware.Decode(tp, []byte(strings.Replace(payload, `{"counter_no":"3","business":"card_replace"}`, `{}`, 1)))
		if err != nil || a.Attrs != nil {
			t.Fatalf("attrs=%v, err=%v; want nil attrs", a.Attrs, err)
		}
	})
}

func TestEncodeArrival(t *testing.T) {
	for _, f := range firmware.Fixtures() {
		if f.Code != "" {
			continue
		}
		tp, err := firmware.ParseTopic(f.Topic)
		if err != nil || tp.Kind != firmware.TopicArrival {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			a, err := firmware.Decode(tp, f.Payload)
			if err != nil {
				t.Fatal(err)
			}
			b := firmware.EncodeArrival(a)
			a2, err := firmware.Decode(tp, b)
			if err != nil {
				t.Fatalf("Decode(EncodeArrival): %v\n%s", err, b)
			}
			if !equalArrival(a, a2) {
				t.Fatalf("round trip:\n%+v\n%+v", a, a2)
			}
		})
	}
	t.Run("NoHTMLEscaping", func(t *testing.T) {
		b := firmware.EncodeArrival(huiyan.Arrival{Code: "https://x.invalid/?a=1&b=<2>"})
		if !strings.Contains(string(b), `"code":"https://x.invalid/?a=1&b=<2>"`) {
			t.Fatalf("%s", b)
		}
	})
}

// equalArrival compares arrivals with time.Time.Equal and nil and empty
// attrs alike.
func equalArrival(a, b huiyan.Arrival) bool {
	if !a.At.Equal(b.At) || (len(a.Attrs) != 0 || len(b.Attrs) != 0) && !reflect.DeepEqual(a.Attrs, b.Attrs) {
		return false
	}
	a.At, b.At, a.Attrs, b.Attrs = time.Time{}, time.Time{}, nil, nil
	return reflect.DeepEqual(a, b)
}

func TestPeekID(t *testing.T) {
	for _, tt := range []struct {
		payload, want string
	}{
		{`{"v":1,"id":"sc-01-000123","idents":"garbage"}`, "sc-01-000123"},
		{`{"id":"a:b.c_d-e"}`, "a:b.c_d-e"},
		{` {"v":2, "id" : "x1"} `, "x1"},
		{`{"id":"first","id":"second"}`, "first"},
		{`{"id":"has space"}`, ""},
		{`{"id":"110101 19900307 9999"}`, ""},
		{`{"id":12}`, ""},
		{`{"v":1}`, ""},
		{`{"id":"x1"`, ""},
		{`{"id":"x1"} trailing`, ""},
		{`["id","x1"]`, ""},
		{`{"id":"x1","pad":"` + strings.Repeat(" ", firmware.MaxPayload) + `"}`, "x1"},
		{`{"id":"x1","pad":"` + strings.Repeat(" ", firmware.MaxPeek) + `"}`, ""},
		{"{\"id\":\"x1\",\"bad\":\"\xff\"}", ""},
		{``, ""},
	} {
		if got := firmware.PeekID([]byte(tt.payload)); got != tt.want {
			t.Errorf("PeekID(%.40q) = %q, want %q", tt.payload, got, tt.want)
		}
	}
	for _, f := range firmware.Fixtures() {
		if (f.Code == firmware.EBadToken || f.Code == firmware.ETooLarge) && firmware.PeekID(f.Payload) == "" {
			t.Errorf("%s: PeekID found no id", f.Name)
		}
	}
}

func TestEncodeReject(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 30, 1, 412e6, time.FixedZone("CST", 8*3600))
	for _, tt := range []struct {
		name string
		id   string
		err  error
		want firmware.Reject
	}{
		{"OK", "sc-01-000123", huiyan.Errorf(firmware.EBadToken, "ident 0: token must be 64 lower-case hex characters"),
			firmware.Reject{V: 1, ID: "sc-01-000123", Code: "bad_token", Message: "ident 0: token must be 64 lower-case hex characters", TS: "2026-11-23T09:30:01.412+08:00"}},
		{"Wrapped", "", fmt.Errorf("ingest: %w", huiyan.Errorf(firmware.EUnknownKey, "ident 0: key k9 is not configured")),
			firmware.Reject{V: 1, ID: "", Code: "unknown_key", Message: "ident 0: key k9 is not configured", TS: "2026-11-23T09:30:01.412+08:00"}},
		{"ErrInternal", "sc-01-1", errors.New("bolt: disk full at /var/lib/huiyan"),
			firmware.Reject{V: 1, ID: "sc-01-1", Code: "internal", Message: "internal error", TS: "2026-11-23T09:30:01.412+08:00"}},
		{"ErrNil", "sc-01-1", nil,
			firmware.Reject{V: 1, ID: "sc-01-1", Code: "internal", Message: "internal error", TS: "2026-11-23T09:30:01.412+08:00"}},
		{"ErrBadID", "110101 19900307 9999", huiyan.Errorf(firmware.EBadID, "id must be …"),
			firmware.Reject{V: 1, ID: "", Code: "bad_id", Message: "id must be …", TS: "2026-11-23T09:30:01.412+08:00"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := firmware.EncodeReject(tt.id, tt.err, now)
			validate(t, "reject.schema.json", b)
			got, err := firmware.DecodeReject(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("DESIGNExample", func(t *testing.T) {
		b := firmware.EncodeReject("sc-01-000123", huiyan.Errorf("bad_token", "ident 0: token must be 64 lower-case hex characters"), now)
		want := `{"v":1,"id":"sc-01-000123","code":"bad_token","message":"ident 0: token must be 64 lower-case hex characters","ts":"2026-11-23T09:30:01.412+08:00"}`
		if string(b) != want {
			t.Fatalf("got  %s\nwant %s", b, want)
		}
	})
	t.Run("ErrDecode", func(t *testing.T) {
		for _, s := range []string{``, `{}`, `{"v":2,"code":"x"}`, `[]`} {
			if _, err := firmware.DecodeReject([]byte(s)); err == nil {
				t.Errorf("DecodeReject(%q): no error", s)
			}
		}
	})
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]string{
		"online": firmware.StatusOnline, "offline": firmware.StatusOffline,
		"": "", `"online"`: "", "ONLINE": "", "online\n": "", " offline": "", "on": "",
	} {
		got, err := firmware.ParseStatus([]byte(in))
		if want == "" {
			if code := huiyan.ErrorCode(err); code != firmware.EBadStatus {
				t.Errorf("ParseStatus(%q): code=%q, want %q", in, code, firmware.EBadStatus)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseStatus(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
}

func TestEncodeWheelResult(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 350e6, time.FixedZone("CST", 8*3600))
	t.Run("OK", func(t *testing.T) {
		for _, tt := range []struct{ prize, name string }{{"cup", "保温杯"}, {"", "谢谢参与"}, {"", ""}} {
			b, err := firmware.EncodeWheelResult("wh-01-000001", "spin-1", tt.prize, tt.name, now)
			if err != nil {
				t.Fatal(err)
			}
			validate(t, "wheel-result.schema.json", b)
			got, err := firmware.DecodeWheelResult(b)
			want := firmware.WheelResult{V: 1, ID: "wh-01-000001", Spin: "spin-1", Prize: tt.prize, PrizeName: tt.name, TS: "2026-11-23T10:00:00.350+08:00"}
			if err != nil || got != want {
				t.Fatalf("DecodeWheelResult = %+v, %v, want %+v", got, err, want)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, in := range [][4]string{
			{"", "spin-1", "cup", "x"},
			{"wh 1", "spin-1", "cup", "x"},
			{"wh-1", "", "cup", "x"},
			{"wh-1", "spin 1", "cup", "x"},
			{"wh-1", "spin-1", "a cup", "x"},
			{"wh-1", "spin-1", strings.Repeat("p", 65), "x"},
			{"wh-1", "spin-1", "cup", strings.Repeat("名", 65)},
			{"wh-1", "spin-1", "cup", "a\nb"},
		} {
			_, err := firmware.EncodeWheelResult(in[0], in[1], in[2], in[3], now)
			if code := huiyan.ErrorCode(err); code != huiyan.EInvalid {
				t.Errorf("EncodeWheelResult(%q): code=%q, want %q", in, code, huiyan.EInvalid)
			}
		}
	})
	t.Run("DecodeIgnoresNewFields", func(t *testing.T) {
		_, err := firmware.DecodeWheelResult([]byte(`{"v":1,"id":"wh-1","spin":"s","prize":"","prize_name":"","ts":"2026-11-23T10:00:00Z","coupon":"later"}`))
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Reasons", func(t *testing.T) {
		for _, reason := range firmware.WheelReasons() {
			r := firmware.WheelResult{ID: "wh-01-000001", Spin: "spin-1", PrizeName: "谢谢参与", PrizeNameEN: "Thanks for playing",
				Reason: reason, TS: now.Format(firmware.ReplyTimeLayout)}
			b, err := r.Encode()
			if err != nil {
				t.Fatalf("reason %s: %v", reason, err)
			}
			validate(t, "wheel-result.schema.json", b)
			got, err := firmware.DecodeWheelResult(b)
			r.V = 1
			if err != nil || got != r {
				t.Fatalf("DecodeWheelResult = %+v, %v, want %+v", got, err, r)
			}
		}
	})
	t.Run("ErrReason", func(t *testing.T) {
		ts := now.Format(firmware.ReplyTimeLayout)
		for _, r := range []firmware.WheelResult{
			{ID: "wh-1", Spin: "s", Prize: "cup", PrizeName: "保温杯", Reason: firmware.WheelNoPrize, TS: ts}, // a win has no reason
			{ID: "wh-1", Spin: "s", PrizeName: "谢谢参与", Reason: "wheel_broken", TS: ts},                     // the edge sends known reasons only
			{ID: "wh-1", Spin: "s", PrizeName: "谢谢参与", Reason: "No_Prize", TS: ts},
			{ID: "wh-1", Spin: "s", Prize: "cup", PrizeName: "保温杯", PrizeNameEN: "a\tb", TS: ts},
		} {
			if _, err := r.Encode(); huiyan.ErrorCode(err) != huiyan.EInvalid {
				t.Errorf("Encode(%+v): err=%v, want code %q", r, err, huiyan.EInvalid)
			}
		}
	})
}

// TestWheelResultSchemaAgreement checks that the schema and
// DecodeWheelResult give every wheel result fixture the same verdict.
func TestWheelResultSchemaAgreement(t *testing.T) {
	for _, f := range firmware.WheelResultFixtures() {
		t.Run(f.Name, func(t *testing.T) {
			ok, serr := schemaValid(t, "wheel-result.schema.json", []byte(f.Payload))
			_, derr := firmware.DecodeWheelResult([]byte(f.Payload))
			if ok != f.Valid || (derr == nil) != f.Valid {
				t.Fatalf("valid=%v, but schema says %v (%v) and DecodeWheelResult says %v", f.Valid, ok, serr, derr)
			}
		})
	}
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	re := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	for _, c := range firmware.Codes() {
		if seen[c] || !re.MatchString(c) {
			t.Errorf("code %q: duplicate or not a lower-case machine string", c)
		}
		seen[c] = true
	}
}
