package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"huiyan"
	firmware "huiyan/firmware-contracts"
	"huiyan/firmware-contracts/mqtttest"
	pad "huiyan/pad-api"
)

// TestEdge runs the issue-3 contract end to end with real parts — devices
// on paho, the broker, the edge with its bbolt cache, PADs on websockets —
// once through the embedded broker and once through a real Mosquitto.
func TestEdge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		broker func(t *testing.T) string // "" = the edge's embedded broker
	}{
		{"Embedded", func(*testing.T) string { return "" }},
		{"Mosquitto", func(t *testing.T) string { return mqtttest.StartMosquitto(t).URL() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := mustDataSet(t)
			m := mustRunMain(t, ds.Dir, tc.broker(t))
			testEdgeContract(t, m, ds)
		})
	}
}

func testEdgeContract(t *testing.T, m *Main, ds *dataSet) {
	dict := huiyan.DefaultTagDict()
	counter := newDevice(t, m.BrokerURL(), "sc-04") // fixtures use sc-01: their rejects must not mix
	ecode := newDevice(t, m.BrokerURL(), "ecode-01")
	lobby, _ := dialPAD(t, m, "lobby-B001")
	const wait = 10 * time.Second

	t.Run("KnownCustomerProfile", func(t *testing.T) {
		c := ds.find(t, "dormant at the counter, not opted out, with tags", func(c *huiyan.Customer) bool {
			return c.MBankStatus == huiyan.MBankDormant && !c.OptOut && len(c.Tags) >= 3 && token(c, huiyan.IdentIDCard) != ""
		})
		id := counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, token(c, huiyan.IdentIDCard)))
		msg := lobby.next(arrivalOf(id), wait)
		if msg.Type != pad.TypeArrival {
			t.Fatalf("got %s, want an arrival", msg.Type)
		}
		p := msg.Profile
		if p.CustomerID != c.ID || p.DisplayName != c.DisplayName || p.Tier != c.Tier || p.MBankStatus != huiyan.MBankDormant || p.NewFace {
			t.Fatalf("profile=%+v, want customer %s %s %s dormant", p, c.ID, c.DisplayName, c.Tier)
		}
		var want, got []string
		for _, id := range c.Tags {
			want = append(want, dict.ByID(id).Code)
		}
		for _, tg := range p.Tags {
			got = append(got, tg.Code)
			if tg.Name != dict.ByCode(tg.Code).NameZH {
				t.Errorf("tag %s name %q, want %q", tg.Code, tg.Name, dict.ByCode(tg.Code).NameZH)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("tags=%v, want %v", got, want)
		}
		if !hasAction(msg.Actions, "guide_ecode_scan") {
			t.Fatalf("actions=%+v, want guide_ecode_scan for a dormant customer at the counter", msg.Actions)
		}
		for _, tok := range c.Tokens {
			if strings.Contains(msg.Raw, tok.Token) {
				t.Fatal("a token reached the PAD")
			}
		}
	})

	t.Run("ActivationCounterThenECode", func(t *testing.T) {
		c := ds.find(t, "registered or dormant with an mbank token", func(c *huiyan.Customer) bool {
			return c.MBankStatus.NeedsActivation() && token(c, huiyan.IdentMBank) != "" && token(c, huiyan.IdentIDCard) != "" && c.ID != ""
		})
		id1 := counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, token(c, huiyan.IdentIDCard)))
		first := lobby.next(arrivalOf(id1), wait)
		id2 := ecode.arrive(huiyan.ChannelECode, ident(huiyan.IdentMBank, token(c, huiyan.IdentMBank)))
		second := lobby.next(arrivalOf(id2), wait)
		if second.Type != pad.TypeVisit || second.Visit.ID != first.Visit.ID {
			t.Fatalf("scan went to %s %s, want a visit update of %s", second.Type, second.Visit.ID, first.Visit.ID)
		}
		if second.Visit.Converted != huiyan.ConversionActivated {
			t.Fatalf("converted=%q, want activated", second.Visit.Converted)
		}
		if len(second.Visit.Touchpoints) != 2 {
			t.Fatalf("touchpoints=%d, want 2", len(second.Visit.Touchpoints))
		}
	})

	t.Run("NewUserCounterThenECode", func(t *testing.T) {
		c := ds.find(t, "without mobile banking", func(c *huiyan.Customer) bool {
			return c.MBankStatus == huiyan.MBankNone && token(c, huiyan.IdentIDCard) != ""
		})
		id1 := counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, token(c, huiyan.IdentIDCard)))
		lobby.next(arrivalOf(id1), wait)
		// Registered on the spot: a new mobile-banking token, and the ID card.
		id2 := ecode.arrive(huiyan.ChannelECode, ident(huiyan.IdentMBank, strangerToken(t, 1)), ident(huiyan.IdentIDCard, token(c, huiyan.IdentIDCard)))
		if v := lobby.next(arrivalOf(id2), wait).Visit; v.Converted != huiyan.ConversionNewUser {
			t.Fatalf("converted=%q, want new_user", v.Converted)
		}
	})

	t.Run("NewFace", func(t *testing.T) {
		id := counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 2)))
		msg := lobby.next(arrivalOf(id), wait)
		if msg.Type != pad.TypeArrival || !msg.Profile.NewFace || msg.Profile.CustomerID != "" || msg.Profile.DisplayName != "" {
			t.Fatalf("msg=%s, want a new-face arrival", msg.Raw)
		}
		if !hasAction(msg.Actions, "new_face_welcome") {
			t.Fatalf("actions=%+v, want new_face_welcome", msg.Actions)
		}
	})

	t.Run("ClaimIsExclusive", func(t *testing.T) {
		lobby2, _ := dialPAD(t, m, "supervisor-B001")
		id := counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 3)))
		v := lobby.next(arrivalOf(id), wait).Visit
		lobby2.next(arrivalOf(id), wait)
		lobby.send(pad.ClaimMsg{Type: pad.TypeClaim, Visit: v.ID})
		for _, p := range []*padClient{lobby, lobby2} {
			got := p.next(func(m padMsg) bool { return m.Type == pad.TypeVisit && m.Visit.ID == v.ID }, wait)
			if got.Visit.ClaimedBy != "lobby-B001" {
				t.Fatalf("claimed_by=%q, want lobby-B001", got.Visit.ClaimedBy)
			}
		}
		lobby2.send(pad.ClaimMsg{Type: pad.TypeClaim, Visit: v.ID})
		if e := lobby2.next(func(m padMsg) bool { return m.Type == pad.TypeError }, wait); e.Code != huiyan.EConflict {
			t.Fatalf("second claim: %s, want conflict", e.Raw)
		}
	})

	t.Run("RoutingByRole", func(t *testing.T) {
		wealth, _ := dialPAD(t, m, "wealth-B001")
		plain := ds.find(t, "a plain normal-tier customer", func(c *huiyan.Customer) bool {
			return c.Tier == huiyan.TierNormal && c.MBankStatus == huiyan.MBankActive && len(c.Maturities) == 0 &&
				!c.HasTag(dict.ByCode(huiyan.TagPotentialVIP).ID) && token(c, huiyan.IdentIDCard) != ""
		})
		vip := ds.find(t, "a VIP", func(c *huiyan.Customer) bool { return c.Tier.VIP() && token(c, huiyan.IdentIDCard) != "" })
		idPlain := counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, token(plain, huiyan.IdentIDCard)))
		idVIP := counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, token(vip, huiyan.IdentIDCard)))
		lobby.next(arrivalOf(idVIP), wait)
		got := wealth.next(func(m padMsg) bool { return m.Type == pad.TypeArrival }, wait)
		if arrivalOf(idPlain)(got) || !arrivalOf(idVIP)(got) {
			t.Fatalf("wealth manager's first arrival is %s, want only the VIP's", got.Raw)
		}
	})

	t.Run("ResumeMissesNothing", func(t *testing.T) {
		away, hello := dialPAD(t, m, "supervisor-B001")
		away.conn.Close()
		var ids []string
		for i := range 5 {
			ids = append(ids, counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 10+i))))
		}
		lobby.next(arrivalOf(ids[len(ids)-1]), wait)
		back, _ := redial(t, away.base, away.cookie)
		back.send(pad.ResumeMsg{Type: pad.TypeResume, AfterSeq: hello.Seq})
		// The stream restarts after hello.Seq. Live messages may come
		// before the replay (an arrival the PADs are shown while its
		// commit is under way follows the new connection's hello); the
		// replay starts with the first of the five, and then has them all,
		// in order.
		last := back.next(arrivalOf(ids[0]), wait).Seq
		for i, id := range ids {
			if i == 0 {
				continue
			}
			msg := back.next(func(m padMsg) bool { return m.Type == pad.TypeArrival }, wait)
			if !arrivalOf(id)(msg) {
				t.Fatalf("replayed %s, want the arrival of %s next", msg.Raw, id)
			}
			if msg.Seq <= last || msg.Seq <= hello.Seq {
				t.Fatalf("seq %d after %d (hello %d): not increasing", msg.Seq, last, hello.Seq)
			}
			last = msg.Seq
		}
	})

	t.Run("MalformedFixturesRejected", func(t *testing.T) {
		devices := map[string]*device{}
		checked := 0
		for i, f := range firmware.Fixtures() {
			tp, err := firmware.ParseTopic(f.Topic)
			want := f.Code
			if f.Code == "" && strings.Contains(f.Name, "unknown-key") {
				want = "unknown_key" // valid on the wire, but not this edge's key
			}
			if want == "" || err != nil || tp.Branch != testBranch || tp.Kind != firmware.TopicArrival {
				continue // valid fixtures, topics the broker's ACL keeps away, statuses
			}
			d := devices[tp.Device]
			if d == nil {
				d = newDevice(t, m.BrokerURL(), tp.Device)
				devices[tp.Device] = d
			}
			d.publishRaw(f.Topic, f.Payload)
			r := d.reject(wait)
			if r.Code != want || r.Message == "" {
				t.Fatalf("fixture %s: reject %+v, want code %s", f.Name, r, want)
			}
			if id := firmware.PeekID(f.Payload); r.ID != id {
				t.Errorf("fixture %s: reject id %q, want %q", f.Name, r.ID, id)
			}
			checked++
			if i%10 == 0 { // valid traffic keeps flowing between the bad
				id := counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 100+i)))
				lobby.next(arrivalOf(id), wait)
			}
		}
		if checked < 60 {
			t.Fatalf("checked %d malformed fixtures, want at least 60", checked)
		}
		id := counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 999)))
		lobby.next(arrivalOf(id), wait)
		counter.publishRaw(mustTopic(t, huiyan.ChannelCounter, "sc-04"), firmware.EncodeArrival(huiyan.Arrival{
			EventID: id, Branch: testBranch, Device: "sc-04", Channel: huiyan.ChannelCounter, At: time.Now(),
			Idents: []huiyan.Ident{ident(huiyan.IdentIDCard, strangerToken(t, 999))}}))
		if r := counter.reject(wait); r.Code != "duplicate" || r.ID != id {
			t.Fatalf("repeated id: reject %+v, want duplicate %s", r, id)
		}
	})
}

func hasAction(as []pad.Action, code string) bool {
	for _, a := range as {
		if a.Code == code {
			return true
		}
	}
	return false
}
