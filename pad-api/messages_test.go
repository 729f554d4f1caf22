package pad_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"huiyan"
	pad "huiyan/pad-api"
)

// wireShape is the PAD contract (DESIGN.md, "PAD contract", plus the
// documented extensions), written out by hand: the keys every object may
// have and the kind of each value ("" scalar, "[]x" list of x).
var wireShape = map[string]map[string]string{
	"msg:" + pad.TypeHello:   {"type": "", "seq": "", "staff": "staff", "branch": "", "server_time": "time"},
	"msg:" + pad.TypeArrival: {"type": "", "seq": "", "visit": "visit", "profile": "profile", "actions": "[]action"},
	"msg:" + pad.TypeVisit:   {"type": "", "seq": "", "visit": "visit", "profile": "profile"},
	"msg:" + pad.TypeDevice:  {"type": "", "seq": "", "device": "", "status": ""},
	"msg:" + pad.TypeError:   {"type": "", "code": "", "message": "", "request": "", "visit": ""},
	"msg:" + pad.TypeState:   {"type": "", "seq": "", "visits": "[]card", "devices": "[]device"},
	"msg:" + pad.TypePong:    {"type": ""},
	"staff":                  {"id": "", "name": "", "role": ""},
	"visit":                  {"id": "", "opened_at": "time", "channel": "", "touchpoints": "[]touchpoint", "claimed_by": "", "outcome": "", "converted": "", "closed_at": "time"},
	"touchpoint":             {"event_id": "", "channel": "", "device": "", "at": "time"},
	"profile":                {"customer_id": "", "display_name": "", "tier": "", "tags": "[]tag", "mbank_status": "", "lifecycle": "", "maturities": "[]maturity", "your_customer": "", "new_face": "", "opt_out": ""},
	"tag":                    {"code": "", "name": "", "name_en": "", "kind": ""},
	"maturity":               {"product": "", "date": "date"},
	"action":                 {"code": "", "title": "", "script": "", "role": "", "priority": "", "reason": ""},
	"card":                   {"visit": "visit", "profile": "profile", "actions": "[]action"},
	"device":                 {"device": "", "channel": "", "status": "", "since": "time"},
}

var (
	offsetTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$`)
	day        = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// checkWire checks that a message has only contract keys, all the way down.
func checkWire(t *testing.T, data []byte) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	typ, _ := v["type"].(string)
	if wireShape["msg:"+typ] == nil {
		t.Fatalf("unknown message type %q", typ)
	}
	checkShape(t, typ, "msg:"+typ, v)
	for _, secret := range []string{"mgr-secret-007", "pbkdf2", "manager", "token", "idle", "risk", "aum", "pin"} {
		if bytes.Contains(bytes.ToLower(data), []byte(secret)) {
			t.Errorf("%s message carries %q: %s", typ, secret, data)
		}
	}
}

func checkShape(t *testing.T, path, kind string, v any) {
	t.Helper()
	switch {
	case kind == "":
		switch v.(type) {
		case map[string]any, []any:
			t.Errorf("%s: want a scalar, got %T", path, v)
		}
	case kind == "time":
		if s, _ := v.(string); !offsetTime.MatchString(s) {
			t.Errorf("%s=%v: want RFC 3339 with milliseconds and a numeric offset", path, v)
		}
	case kind == "date":
		if s, _ := v.(string); !day.MatchString(s) {
			t.Errorf("%s=%v: want YYYY-MM-DD", path, v)
		}
	case strings.HasPrefix(kind, "[]"):
		list, ok := v.([]any)
		if !ok {
			t.Errorf("%s: want a list, got %T (%v)", path, v, v)
			return
		}
		for _, x := range list {
			checkShape(t, path+"[]", kind[2:], x)
		}
	default:
		obj, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: want an object, got %T", path, v)
			return
		}
		shape := wireShape[kind]
		for k, x := range obj {
			sub, ok := shape[k]
			if !ok {
				t.Errorf("%s.%s: not in the contract", path, k)
				continue
			}
			checkShape(t, path+"."+k, sub, x)
		}
	}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestEventFor(t *testing.T) {
	const manager = "mgr-secret-007"
	e := arrivalEvent("v-1", manager, lobbyOnly)
	e.Seq = 42

	t.Run("Arrival", func(t *testing.T) {
		for _, tt := range []struct {
			viewer string
			yours  bool
		}{{manager, true}, {"lobby-1", false}, {"", false}} {
			m, err := pad.EventFor(e, tt.viewer)
			if err != nil {
				t.Fatal(err)
			}
			a := m.(pad.ArrivalMsg)
			if a.Profile.YourCustomer != tt.yours {
				t.Errorf("viewer %q: your_customer=%v, want %v", tt.viewer, a.Profile.YourCustomer, tt.yours)
			}
			checkWire(t, marshal(t, m))
		}
		m, _ := pad.EventFor(e, "lobby-1")
		got := m.(pad.ArrivalMsg)
		want := pad.ArrivalMsg{
			Type: pad.TypeArrival, Seq: 42,
			Visit: pad.Visit{ID: "v-1", OpenedAt: "2026-11-23T09:30:01.250+08:00", Channel: huiyan.ChannelCounter,
				Touchpoints: []pad.Touchpoint{{EventID: "sc-01-000123", Channel: huiyan.ChannelCounter, Device: "sc-01", At: "2026-11-23T09:30:01.250+08:00"}}},
			Profile: pad.Profile{CustomerID: "C000123", DisplayName: "林*华", Tier: huiyan.TierGold,
				Tags: []pad.Tag{
					{Code: huiyan.TagPotentialVIP, Name: "潜力贵宾客户", NameEN: "Potential VIP", Kind: huiyan.TagPredictive},
					{Code: huiyan.TagMBankDormant, Name: "掌银睡眠", NameEN: "Mobile banking dormant", Kind: huiyan.TagStatus},
				},
				MBankStatus: huiyan.MBankDormant, Lifecycle: huiyan.LifecycleChurning,
				Maturities: []pad.Maturity{{Product: "td_3y", Date: "2026-12-01"}}},
			Actions: []pad.Action{{Code: "guide_ecode_scan", Title: "引导扫网点e码", Script: "您好……", Role: huiyan.RoleLobby, Priority: 10, Reason: "掌银睡眠"}},
		}
		if string(marshal(t, got)) != string(marshal(t, want)) {
			t.Errorf("arrival\n got %s\nwant %s", marshal(t, got), marshal(t, want))
		}
	})

	t.Run("NewFace", func(t *testing.T) {
		nf := e
		nf.Profile = &huiyan.Profile{MBankStatus: huiyan.MBankNone}
		nf.Visit = &huiyan.Visit{ID: "v-2", OpenedAt: e.Visit.OpenedAt, Channel: huiyan.ChannelECode}
		m, _ := pad.EventFor(nf, "lobby-1")
		a := m.(pad.ArrivalMsg)
		if !a.Profile.NewFace || a.Profile.CustomerID != "" || a.Profile.Tags == nil || a.Visit.Touchpoints == nil {
			t.Errorf("new face=%+v, want new_face and empty lists", a)
		}
		nf.Profile = nil
		m, _ = pad.EventFor(nf, "lobby-1")
		if a := m.(pad.ArrivalMsg); !a.Profile.NewFace {
			t.Errorf("nil profile=%+v, want a new face", a.Profile)
		}
		checkWire(t, marshal(t, m))
	})

	t.Run("VisitClosed", func(t *testing.T) {
		v := *e.Visit
		v.ClaimedBy, v.Outcome, v.Converted = "lobby-1", huiyan.OutcomeActivated, huiyan.ConversionActivated
		v.ClosedAt = v.OpenedAt.Add(30 * time.Minute)
		ve := huiyan.FeedEvent{Seq: 43, Kind: huiyan.FeedVisit, Audience: lobbyOnly, Visit: &v}
		m, _ := pad.EventFor(ve, "lobby-1")
		data := marshal(t, m)
		checkWire(t, data)
		if !bytes.Contains(data, []byte(`"closed_at":"2026-11-23T10:00:01.250+08:00"`)) || bytes.Contains(data, []byte(`"profile"`)) {
			t.Errorf("visit=%s, want closed_at and no profile", data)
		}
		ve.Profile = e.Profile
		m, _ = pad.EventFor(ve, manager)
		if vm := m.(pad.VisitMsg); vm.Profile == nil || !vm.Profile.YourCustomer {
			t.Errorf("visit with profile=%+v, want the manager's profile", vm)
		}
		checkWire(t, marshal(t, m))
	})

	t.Run("Device", func(t *testing.T) {
		m, _ := pad.EventFor(deviceEvent("sc-01", huiyan.DeviceOffline, everyone), "x")
		if string(marshal(t, m)) != `{"type":"device","seq":0,"device":"sc-01","status":"offline"}` {
			t.Errorf("device=%s", marshal(t, m))
		}
	})

	t.Run("ErrUnknownKind", func(t *testing.T) {
		if _, err := pad.EventFor(huiyan.FeedEvent{Kind: "weather"}, "x"); err == nil {
			t.Error("want an error for an unknown kind")
		}
	})

	t.Run("State", func(t *testing.T) {
		staff := huiyan.Staff{ID: manager, Role: huiyan.RoleAccount}
		cards := []huiyan.Card{
			{Visit: e.Visit, Profile: e.Profile, Actions: e.Actions, Audience: huiyan.Audience{Staff: []string{manager}}},
			{Visit: e.Visit, Profile: e.Profile, Audience: lobbyOnly},
		}
		devs := []huiyan.DeviceState{{Device: "sc-01", Channel: huiyan.ChannelCounter, Status: huiyan.DeviceOnline, Since: e.Visit.OpenedAt}}
		st := pad.StateFor(9, cards, devs, &staff)
		if st.Seq != 9 || len(st.Visits) != 1 || !st.Visits[0].Profile.YourCustomer || len(st.Devices) != 1 {
			t.Errorf("state=%+v, want the manager's one card, your_customer, one device", st)
		}
		checkWire(t, marshal(t, st))
		empty := pad.StateFor(0, nil, nil, &staff)
		if data := marshal(t, empty); string(data) != `{"type":"state","seq":0,"visits":[],"devices":[]}` {
			t.Errorf("empty state=%s", data)
		}
	})
}

// TestWireLive checks every message a real connection carries.
func TestWireLive(t *testing.T) {
	h := newHarness(t, pad.Options{})
	const manager = "account-1"
	h.fake.append(arrivalEvent("v-1", manager, huiyan.Audience{Staff: []string{manager}}))
	pc, _ := h.connect(manager)
	var seen []string
	record := func(data []byte) {
		checkWire(t, data)
		if bytes.Contains(data, []byte(`"`+manager+`"`)) {
			t.Errorf("the manager's own id on the wire: %s", data)
		}
		seen = append(seen, msgType(t, data))
	}
	pc.send(pad.ResumeMsg{Type: pad.TypeResume, AfterSeq: 0})
	var st pad.StateMsg
	record(pc.expect(pad.TypeState, &st))
	if len(st.Visits) != 1 || !st.Visits[0].Profile.YourCustomer {
		t.Errorf("state=%+v, want v-1 as your customer", st)
	}
	h.fake.append(arrivalEvent("v-2", manager, huiyan.Audience{Staff: []string{manager}}))
	record(pc.expect(pad.TypeArrival, nil))
	h.fake.append(huiyan.FeedEvent{Kind: huiyan.FeedVisit, Audience: everyone, Visit: &huiyan.Visit{ID: "v-2", OpenedAt: time.Now()}})
	record(pc.expect(pad.TypeVisit, nil))
	h.fake.append(deviceEvent("sc-01", huiyan.DeviceOnline, everyone))
	record(pc.expect(pad.TypeDevice, nil))
	pc.send(pad.ClaimMsg{Type: pad.TypeClaim, Visit: "v-404"})
	record(pc.expect(pad.TypeError, nil))
	pc.send(pad.PingMsg{Type: pad.TypePing})
	record(pc.expect(pad.TypePong, nil))

	// The hello too, as it came.
	ws, _, err := h.dial(h.login("lobby-1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	record(startClient(t, ws).expect(pad.TypeHello, nil))
	sort.Strings(seen)
	if got := strings.Join(seen, " "); got != "arrival device error hello pong state visit" {
		t.Errorf("checked %s, want every server message type", got)
	}
}
