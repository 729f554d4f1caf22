package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/wheel"
	firmware "huiyan/firmware-contracts"
	"huiyan/firmware-contracts/devsim"
	"huiyan/firmware-contracts/mqtttest"
	"huiyan/hub/funnel"
	pad "huiyan/pad-api"
)

// prizeRow is one prize of a test prize table.
type prizeRow struct {
	Code, NameZH, NameEN string
	Weight, Inventory    int // weight out of 1,000,000
}

// writePrizeTable writes a prizes.csv for the test branch: a campaign
// from yesterday to a month from now (CST), spinsPerDay spins a customer a
// day, unknown customers denied, the prizes given and the rest of the
// weight to 谢谢参与.
func writePrizeTable(tb testing.TB, campaign string, spinsPerDay int, prizes ...prizeRow) string {
	tb.Helper()
	awayFromCSTMidnight(tb)
	today := time.Now().In(funnel.CST)
	var b strings.Builder
	fmt.Fprintf(&b, "campaign,%s\nstarts,%s\nends,%s\nspins_per_day,%d\nunknown_customers,deny\n%s\n", campaign,
		today.AddDate(0, 0, -1).Format(time.DateOnly), today.AddDate(0, 1, 0).Format(time.DateOnly), spinsPerDay, wheel.Header)
	for _, p := range prizes {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%d,%d,,\n", testBranch, p.Code, p.NameZH, p.NameEN, p.Weight, p.Inventory)
	}
	fmt.Fprintf(&b, "%s,,谢谢参与,Thanks for playing,rest,unlimited,,\n", testBranch)
	path := filepath.Join(tb.TempDir(), "prizes.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// simWheel is a prize wheel as its firmware runs: a paho client that
// publishes spins at QoS 1 on its arrival topic and keeps, in the order
// they come, every result and reject the edge sends it. Its callbacks only
// append under a lock, so a burst of results never stalls the client, and
// its methods return errors instead of failing the test, so that many
// simWheels can run in goroutines.
type simWheel struct {
	id     string
	client paho.Client

	mu      sync.Mutex
	n       int // arrivals built
	results []firmware.WheelResult
	rejects []firmware.Reject
	bad     []string // payloads that did not decode
	taken   int      // results handed out by next
}

func newSimWheel(tb testing.TB, brokerURL, id string) *simWheel {
	tb.Helper()
	s := &simWheel{id: id}
	s.client = paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).
		SetClientID(fmt.Sprintf("test-%s-%d", id, time.Now().UnixNano())).SetCleanSession(true).
		SetConnectTimeout(10 * time.Second))
	if tok := s.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("wheel %s connect: %v", id, tok.Error())
	}
	tb.Cleanup(func() { s.client.Disconnect(50) })
	rt, err := firmware.WheelResultTopic(testBranch, id)
	if err != nil {
		tb.Fatal(err)
	}
	jt, err := firmware.RejectTopic(testBranch, id)
	if err != nil {
		tb.Fatal(err)
	}
	for topic, handle := range map[string]func([]byte){
		rt: func(b []byte) {
			r, err := firmware.DecodeWheelResult(b)
			s.mu.Lock()
			defer s.mu.Unlock()
			if err != nil {
				s.bad = append(s.bad, string(b))
				return
			}
			s.results = append(s.results, r)
		},
		jt: func(b []byte) {
			r, err := firmware.DecodeReject(b)
			s.mu.Lock()
			defer s.mu.Unlock()
			if err != nil {
				s.bad = append(s.bad, string(b))
				return
			}
			s.rejects = append(s.rejects, r)
		},
	} {
		if tok := s.client.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { handle(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			tb.Fatalf("wheel %s subscribe %s: %v", id, topic, tok.Error())
		}
	}
	return s
}

// build makes the wheel's next spin by the holder of the mbank token.
func (s *simWheel) build(mbank string) huiyan.Arrival {
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	return huiyan.Arrival{EventID: fmt.Sprintf("%s-%06d", s.id, n), Branch: testBranch, Device: s.id,
		Channel: huiyan.ChannelWheel, At: time.Now(), Idents: []huiyan.Ident{ident(huiyan.IdentMBank, mbank)},
		Spin: fmt.Sprintf("spin-%s-%06d", s.id, n)}
}

// publish sends the payload on the wheel's arrival topic and returns once
// the broker acknowledged it.
func (s *simWheel) publish(payload []byte) error {
	topic, err := firmware.ArrivalTopic(testBranch, huiyan.ChannelWheel, s.id)
	if err != nil {
		return err
	}
	tok := s.client.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(20 * time.Second) {
		return fmt.Errorf("wheel %s: no PUBACK within 20s", s.id)
	}
	return tok.Error()
}

// spin publishes a spin by the holder of the mbank token and returns it
// with its payload, so that a test can deliver it again.
func (s *simWheel) spin(tb testing.TB, mbank string) (huiyan.Arrival, []byte) {
	tb.Helper()
	a := s.build(mbank)
	b := firmware.EncodeArrival(a)
	if err := s.publish(b); err != nil {
		tb.Fatal(err)
	}
	return a, b
}

// all returns a copy of the results and rejects received so far, and the
// payloads that did not decode.
func (s *simWheel) all() ([]firmware.WheelResult, []firmware.Reject, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]firmware.WheelResult(nil), s.results...), append([]firmware.Reject(nil), s.rejects...), append([]string(nil), s.bad...)
}

// next returns the first result not returned before, waiting up to d.
func (s *simWheel) next(tb testing.TB, d time.Duration) firmware.WheelResult {
	tb.Helper()
	var r firmware.WheelResult
	waitFor(tb, fmt.Sprintf("wheel %s: result %d", s.id, s.taken+1), d, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.results) <= s.taken {
			return false
		}
		r = s.results[s.taken]
		s.taken++
		return true
	})
	return r
}

// auditRows fetches the whole audit export as the supervisor, checks it
// with wheel.Verify and against the wheel's head, and returns its records
// (header dropped) in seq order.
func auditRows(tb testing.TB, m *Main) [][]string {
	tb.Helper()
	base := "http://" + m.HTTPAddr()
	status, body := getAudit(tb, base, login(tb, base, "supervisor-B001"), "")
	if status != http.StatusOK {
		tb.Fatalf("supervisor's audit export: %d %s", status, body)
	}
	sum, err := wheel.Verify(bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("audit export does not verify: %v", err)
	}
	seq, head, err := m.Wheel.Head(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if sum.FirstPrev != wheel.Genesis || sum.LastSeq != seq || sum.Head != head || uint64(sum.Records) != seq {
		tb.Fatalf("export %+v, want every record from the first up to the head %d %s", sum, seq, head)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	if strings.Join(rows[0], ",") != wheel.AuditHeader {
		tb.Fatalf("audit header %v", rows[0])
	}
	return rows[1:]
}

// The audit export's columns (wheel.AuditHeader) the tests compare.
const (
	auditSeq    = 0
	auditDevice = 2
	auditSpin   = 3
	auditEvent  = 4
	auditWho    = 5
	auditPrize  = 10
	auditReason = 11
)

// matchAudit checks that the audit rows are exactly the results the wheels
// received, record by record: one row per spin, in seq order, with the
// spin's first arrival id, the prize and the reason the wheel was told,
// and the spinner (who: the customer id, or "u:" and a salted hash for a
// new face, never a token).
func matchAudit(tb testing.TB, rows [][]string, got map[string]firmware.WheelResult, who map[string]string) {
	tb.Helper()
	if len(rows) != len(got) {
		tb.Fatalf("audit has %d records, the wheels got results for %d spins", len(rows), len(got))
	}
	for i, row := range rows {
		key := row[auditDevice] + "/" + row[auditSpin]
		r, ok := got[key]
		switch {
		case row[auditSeq] != fmt.Sprint(i+1):
			tb.Fatalf("audit row %d has seq %s", i+1, row[auditSeq])
		case !ok:
			tb.Fatalf("audit seq %s: spin %s that no wheel got a result for", row[auditSeq], key)
		case row[auditEvent] != r.ID || row[auditPrize] != r.Prize || row[auditReason] != r.Reason:
			tb.Fatalf("audit seq %s = event %s prize %q reason %q; the wheel was told event %s prize %q reason %q",
				row[auditSeq], row[auditEvent], row[auditPrize], row[auditReason], r.ID, r.Prize, r.Reason)
		}
		if w := who[key]; (w != "" && row[auditWho] != w) || (w == "" && (len(row[auditWho]) != 34 || !strings.HasPrefix(row[auditWho], "u:"))) {
			tb.Fatalf("audit seq %s: who %q, want %q (or u: and a salted hash for a new face)", row[auditSeq], row[auditWho], w)
		}
	}
}

// TestWheel_Mosquitto runs the prize wheel through a real edge whose
// devices talk to an external broker (a Mosquitto process): the paho
// ingest takes the spins and mqtt.Ingest.PublishWheelResult answers them
// on huiyan/v1/{branch}/wheel/{device}/result. A wheel (a paho client, as
// firmware) gets exactly one result per spin, with the spin's id; a spin
// delivered again gets the recorded result again and a duplicate reject;
// and the supervisor's audit export verifies and holds exactly the
// results the wheel was told.
func TestWheel_Mosquitto(t *testing.T) {
	broker := mqtttest.StartMosquitto(t)
	ds := mustDataSet(t)
	m := mustRunEdgeWith(t, ds.Dir, func(c *Config) {
		c.MQTT.Listen, c.MQTT.Broker = "", broker.URL()
		c.WheelPrizes = writePrizes(t) // the cup, always drawn, 10 in stock; one spin a day; new faces denied
	})
	if m.Ingest == nil || m.Broker != nil {
		t.Fatal("the edge does not run the external broker's ingest")
	}
	waitFor(t, "ingest connected", 10*time.Second, m.Ingest.Connected)
	base := "http://" + m.HTTPAddr()
	wh := newSimWheel(t, broker.URL(), "wh-01")
	const wait = 10 * time.Second
	mbank := func() *huiyan.Customer {
		return ds.find(t, "a customer with mobile banking", func(c *huiyan.Customer) bool { return token(c, huiyan.IdentMBank) != "" })
	}

	got := map[string]firmware.WheelResult{} // device/spin → the result
	who := map[string]string{}               // device/spin → customer id, "" for a new face
	// spin spins for the holder of tok (customer id, "" for a new face) and
	// checks the one result it gets.
	spin := func(tok, id, prize, reason string) (huiyan.Arrival, []byte, firmware.WheelResult) {
		t.Helper()
		a, payload := wh.spin(t, tok)
		r := wh.next(t, wait)
		if r.ID != a.EventID || r.Spin != a.Spin || r.Prize != prize || r.Reason != reason {
			t.Fatalf("result %+v, want spin %s (arrival %s) with prize %q reason %q", r, a.Spin, a.EventID, prize, reason)
		}
		got[a.Device+"/"+a.Spin], who[a.Device+"/"+a.Spin] = r, id
		return a, payload, r
	}

	first := mbank()
	a1, payload1, r1 := spin(token(first, huiyan.IdentMBank), first.ID, "cup", "")
	for range 3 {
		c := mbank()
		spin(token(c, huiyan.IdentMBank), c.ID, "cup", "")
	}

	// The wheel missed the answer and sends the spin again: the same
	// arrival id and spin. It gets the recorded result, then the duplicate
	// reject; nothing is drawn or recorded again.
	if err := wh.publish(payload1); err != nil {
		t.Fatal(err)
	}
	if again := wh.next(t, wait); again != r1 {
		t.Fatalf("redelivered spin: result %+v, want the recorded %+v", again, r1)
	}
	waitFor(t, "the duplicate reject", wait, func() bool { _, rej, _ := wh.all(); return len(rej) > 0 })
	if _, rej, _ := wh.all(); len(rej) != 1 || rej[0].Code != firmware.EDuplicate || rej[0].ID != a1.EventID {
		t.Fatalf("rejects %+v, want one duplicate for %s", rej, a1.EventID)
	}

	spin(token(first, huiyan.IdentMBank), first.ID, "", firmware.WheelLimitReached)
	spin(strangerToken(t, 31), "", "", firmware.WheelUnknownCustomer)
	// The ingest handles a device's messages in order and publishes the
	// results in order on one connection, and the broker keeps that order:
	// once the last spin's result is in, every result sent before it is.
	last := mbank()
	spin(token(last, huiyan.IdentMBank), last.ID, "cup", "")

	results, rejects, bad := wh.all()
	if len(results) != len(got)+1 || len(rejects) != 1 || len(bad) != 0 {
		t.Fatalf("the wheel got %d results, %d rejects, %d bad payloads; want %d results (one per spin, the redelivered one twice) and one reject",
			len(results), len(rejects), len(bad), len(got)+1)
	}
	matchAudit(t, auditRows(t, m), got, who)
	for series, want := range map[string]float64{
		`huiyan_edge_wheel_spins_total{result="won"}`:                                   5,
		`huiyan_edge_wheel_spins_total{result="` + firmware.WheelLimitReached + `"}`:    1,
		`huiyan_edge_wheel_spins_total{result="` + firmware.WheelUnknownCustomer + `"}`: 1,
		`huiyan_edge_wheel_redelivered_total`:                                           1,
		`huiyan_edge_rejected_total{code="duplicate"}`:                                  1,
	} {
		if v := metric(t, base, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
}

// TestWheel_ConcurrentDevices is issue 7's "the wheel never exceeds
// inventory or per-customer limits under 1,000 concurrent spins from
// simulated devices, the audit log matches the results exactly", through
// a real edge: 16 wheels (paho clients on the embedded broker) spin at
// once for many customers, a customer's repeated spins going to different
// wheels at the same moment, with small stocks that run out. Every spin
// gets exactly one result; no prize is given beyond its stock and no
// customer beyond spins_per_day (and no fewer: the limit is exact); the
// audit export verifies and equals, record by record, what the wheels
// were told.
func TestWheel_ConcurrentDevices(t *testing.T) {
	const (
		wheels = 16
		spins  = 1000
		limit  = 2
	)
	prizes := []prizeRow{
		{"red-8", "8元红包", "8 yuan red packet", 300000, 30},
		{"cup", "保温杯", "Thermos cup", 200000, 20},
		{"umbrella", "雨伞", "Umbrella", 100000, 5},
	}
	ds := mustDataSet(t)
	m := mustRunEdgeWith(t, ds.Dir, func(c *Config) {
		c.WheelPrizes = writePrizeTable(t, "load-1", limit, prizes...)
	})

	// The plan: customers spin 1 to 4 times (past the limit of 2), their
	// spins next to each other so that round-robin sends them to different
	// wheels at once; now and then a new face (denied).
	var pool []*huiyan.Customer
	for _, c := range ds.Customers {
		if token(c, huiyan.IdentMBank) != "" {
			pool = append(pool, c)
		}
	}
	if len(pool) < 100 {
		t.Fatalf("data set has %d customers with mobile banking, want at least 100", len(pool))
	}
	type plan struct {
		tok, who string // who: customer id, "" for a new face
	}
	var plans []plan
	repeat := []int{3, 1, 2, 1, 4, 2, 1}
	perCustomer := map[string]int{}
	strangers := 0
	for i := 0; len(plans) < spins; i++ {
		if i%12 == 11 {
			plans = append(plans, plan{tok: strangerToken(t, 100+i)})
			strangers++
			continue
		}
		c := pool[i%len(pool)]
		for range repeat[i%len(repeat)] {
			if len(plans) < spins {
				plans = append(plans, plan{tok: token(c, huiyan.IdentMBank), who: c.ID})
				perCustomer[c.ID]++
			}
		}
	}

	devs := make([]*simWheel, wheels)
	mine := make([][]huiyan.Arrival, wheels) // each wheel's spins, in order
	who := map[string]string{}
	for i := range devs {
		devs[i] = newSimWheel(t, m.BrokerURL(), fmt.Sprintf("wheel-%02d", i+1))
	}
	for j, p := range plans {
		d := devs[j%wheels]
		a := d.build(p.tok)
		mine[j%wheels] = append(mine[j%wheels], a)
		who[a.Device+"/"+a.Spin] = p.who
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make(chan error, wheels)
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Go(func() {
			for _, a := range mine[i] {
				if ctx.Err() != nil {
					errs <- fmt.Errorf("wheel %s: %w", d.id, ctx.Err())
					return
				}
				// The PUBACK comes after the result was published: a wheel
				// spins again only once the edge answered the spin before.
				if err := d.publish(firmware.EncodeArrival(a)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Each wheel's results come in the order of its spins: once the result
	// of its last spin is in, all are.
	for i, d := range devs {
		lastSpin := mine[i][len(mine[i])-1].Spin
		waitFor(t, "the result of "+d.id+"'s last spin", 20*time.Second, func() bool {
			rs, _, _ := d.all()
			return len(rs) > 0 && rs[len(rs)-1].Spin == lastSpin
		})
	}
	elapsed := time.Since(start)

	got := map[string]firmware.WheelResult{}
	won := map[string]int{}
	counted := map[string]int{} // customer → spins that counted towards the limit
	reasons := map[string]int{}
	for i, d := range devs {
		rs, rejects, bad := d.all()
		if len(rs) != len(mine[i]) || len(rejects) != 0 || len(bad) != 0 {
			t.Fatalf("wheel %s: %d results for %d spins, rejects %+v, bad payloads %q", d.id, len(rs), len(mine[i]), rejects, bad)
		}
		for k, r := range rs {
			a := mine[i][k]
			key := a.Device + "/" + a.Spin
			if r.Spin != a.Spin || r.ID != a.EventID {
				t.Fatalf("wheel %s: result %d is for spin %s (arrival %s), want %s (%s)", d.id, k, r.Spin, r.ID, a.Spin, a.EventID)
			}
			if _, dup := got[key]; dup {
				t.Fatalf("two results for spin %s", key)
			}
			got[key] = r
			switch {
			case r.Prize != "":
				won[r.Prize]++
				reasons["won"]++
			default:
				reasons[r.Reason]++
			}
			switch r.Reason {
			case "", firmware.WheelNoPrize, firmware.WheelInventoryOut, firmware.WheelPrizeClosed:
				counted[who[key]]++
			}
		}
	}
	t.Logf("%d spins from %d wheels answered in %s (%.0f spins/s): %v", len(got), wheels, elapsed.Round(time.Millisecond),
		float64(len(got))/elapsed.Seconds(), reasons)

	for _, p := range prizes {
		if won[p.Code] != p.Inventory {
			t.Errorf("prize %s won %d times, stock %d: want all of it given and not one more", p.Code, won[p.Code], p.Inventory)
		}
	}
	if reasons[firmware.WheelInventoryOut] == 0 || reasons[firmware.WheelLimitReached] == 0 || reasons[firmware.WheelUnknownCustomer] != strangers {
		t.Errorf("reasons %v: want stock run out, limits reached and %d new faces denied", reasons, strangers)
	}
	for id, n := range perCustomer {
		if want := min(n, limit); counted[id] != want {
			t.Errorf("customer %s spun %d times and %d counted, want %d (spins_per_day %d)", id, n, counted[id], want, limit)
		}
	}
	stock, err := m.Wheel.Stock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stock {
		if s.Inventory != wheel.Unlimited && (s.Left != 0 || s.Awarded != s.Inventory) {
			t.Errorf("stock %+v, want all given away", s)
		}
	}
	matchAudit(t, auditRows(t, m), got, who)
}

// TestWheel_OptOut is the PIPL decision of edge/DESIGN.md ("Prize
// wheel"): a customer who opted out of marketing may still spin, and
// nothing from the wheel triggers marketing to them. The card their
// wheel arrival puts on the PADs has no marketing action (service help
// only), while a customer in the same situation who did not opt out gets
// the marketing actions: the difference is the opt-out, not the data.
func TestWheel_OptOut(t *testing.T) {
	ds := mustDataSet(t)
	m := mustRunWheelEdge(t, ds.Dir, writePrizes(t))
	super, _ := dialPAD(t, m, "supervisor-B001") // the supervisor sees every card with all its actions
	wh := newSimWheel(t, m.BrokerURL(), "wh-01")

	// The marketing rules are the shipped ones marked marketing.
	raw, err := os.ReadFile(filepath.Join("..", "..", "rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Rules []struct {
			Code      string `json:"code"`
			Marketing bool   `json:"marketing"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	marketing := map[string]bool{}
	for _, r := range file.Rules {
		if r.Marketing {
			marketing[r.Code] = true
		}
	}
	rules, err := edge.DefaultRules(huiyan.DefaultTagDict())
	if err != nil {
		t.Fatal(err)
	}
	// wouldMarket: the rules would suggest marketing to c at the wheel if
	// c had not opted out.
	wouldMarket := func(c *huiyan.Customer) bool {
		cc := *c
		cc.OptOut = false
		for _, a := range rules.Evaluate(edge.RuleInput{Customer: &cc, Channel: huiyan.ChannelWheel, Now: time.Now()}) {
			if marketing[a.Code] {
				return true
			}
		}
		return false
	}
	if len(marketing) == 0 {
		t.Fatal("rules.json has no marketing rule: nothing to check")
	}

	for _, tc := range []struct {
		name      string
		optOut    bool
		marketing bool // whether the card has marketing actions
	}{
		{"OptedOut", true, false},
		{"NotOptedOut", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ds.find(t, fmt.Sprintf("with mobile banking, opt_out=%v, whom the rules would market to", tc.optOut), func(c *huiyan.Customer) bool {
				return c.OptOut == tc.optOut && token(c, huiyan.IdentMBank) != "" && wouldMarket(c)
			})
			a, _ := wh.spin(t, token(c, huiyan.IdentMBank))
			// They may spin: the wheel answers them like anyone else.
			if r := wh.next(t, 10*time.Second); r.Spin != a.Spin || r.Prize != "cup" || r.Reason != "" {
				t.Fatalf("result %+v, want the cup for spin %s", r, a.Spin)
			}
			card := super.next(arrivalOf(a.EventID), 10*time.Second)
			if card.Type != pad.TypeArrival || card.Profile == nil || card.Profile.CustomerID != c.ID {
				t.Fatalf("pad got %s, want the arrival card of %s", card.Raw, c.ID)
			}
			var codes []string
			market := false
			for _, act := range card.Actions {
				codes = append(codes, act.Code)
				market = market || marketing[act.Code]
			}
			if market != tc.marketing {
				t.Fatalf("card actions %v: marketing=%v, want %v", codes, market, tc.marketing)
			}
			if tc.optOut && !hasAction(card.Actions, "service_only") {
				t.Fatalf("card actions %v, want service_only for a customer who opted out", codes)
			}
		})
	}
}

// TestWheel_Devsim: huiyan-devsim run's wheel (it listens on its result
// topic, as firmware does) against a real edge with a prize table: every
// spin it sends gets its result in time, none is missing, late or
// unreadable, and the edge recorded each spin once.
func TestWheel_Devsim(t *testing.T) {
	src := filepath.Join(t.TempDir(), "hq")
	if _, err := devsim.Gen(context.Background(), devsim.GenConfig{Customers: 300, Branches: 1, Seed: 12, PINIterations: 1000}, src); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "edge")
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), []string{"-data", dir, "-branch", testBranch,
		filepath.Join(src, "tags.csv"), filepath.Join(src, "staff.csv")}, &out, &errb); err != nil {
		t.Fatalf("import: %v\n%s", err, errb.String())
	}
	m := mustRunEdgeWith(t, dir, func(c *Config) { c.WheelPrizes = writePrizes(t) })
	base := "http://" + m.HTTPAddr()
	cfg := devsim.DefaultSimConfig()
	cfg.DataDir, cfg.Broker, cfg.Branch, cfg.Edge = src, m.BrokerURL(), testBranch, base
	cfg.Rate, cfg.Count, cfg.Seed = 300, 200, 5
	cfg.FollowUpShare, cfg.ResultTimeout = 0, 5*time.Second
	var log bytes.Buffer
	cfg.Out = &log
	sim, err := devsim.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := sim.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	no := 0
	for _, n := range st.WheelReasons {
		no += n
	}
	switch {
	case st.Wheel < 10:
		t.Fatalf("stats %+v: only %d spins, the test needs a few", st, st.Wheel)
	case st.WheelResults != st.Wheel || st.WheelMissing != 0 || st.WheelLate != 0:
		t.Fatalf("stats %+v: want a result for each of the %d spins, none missing or late\n%s", st, st.Wheel, log.String())
	case st.WheelWon+no != st.WheelResults || st.WheelWon == 0:
		t.Fatalf("stats %+v: won %d + no prize %d != %d results, or nobody won", st, st.WheelWon, no, st.WheelResults)
	}
	if seq, _, err := m.Wheel.Head(context.Background()); err != nil || seq != uint64(st.Wheel) {
		t.Fatalf("the wheel recorded %d spins (%v), the simulator sent %d", seq, err, st.Wheel)
	}
	if v := metric(t, base, `huiyan_edge_wheel_spins_total{result="won"}`); v != float64(st.WheelWon) {
		t.Fatalf("won on the edge %v, the simulator's wheel was told %d", v, st.WheelWon)
	}
	if strings.Contains(log.String(), "no result within") {
		t.Fatalf("the simulator reports spins without a result:\n%s", log.String())
	}
}
