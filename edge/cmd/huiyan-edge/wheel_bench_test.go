package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"huiyan"
	firmware "huiyan/firmware-contracts"
	"huiyan/firmware-contracts/devsim"
	"huiyan/hub"
)

// Issue 7 wants the wheel's result "within the same latency budget as a
// PAD push". BenchmarkWheelResult measures both in one run on one edge, so
// that their ratio says how far the result is from that budget.

// mbankTokens reads, in file order, the mobile-banking token of every
// customer of the data set that has one: a wheel spin is identified by the
// app's token, and not every generated customer has the app.
func (s *benchSet) mbankTokens(tb testing.TB) []string {
	tb.Helper()
	f, format, err := hub.OpenSnapshotFile(filepath.Join(s.src, devsim.TagsFile))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rd, err := hub.NewSnapshotReader(f, format, huiyan.DefaultTagDict(), hub.SnapshotOptions{KeyID: firmware.DemoKeyID, Branch: testBranch})
	if err != nil {
		tb.Fatal(err)
	}
	var toks []string
	for c, err := range rd.All() {
		if err != nil {
			tb.Fatal(err)
		}
		if t := token(c, huiyan.IdentMBank); t != "" {
			toks = append(toks, t)
		}
	}
	return toks
}

// mustRunWheelBenchEdge is mustRunBenchEdge with a prize table and the
// embedded broker.
func mustRunWheelBenchEdge(tb testing.TB, dir, prizes string) *Main {
	tb.Helper()
	return mustRunBenchEdgeWith(tb, dir, "", func(c *Config) { c.WheelPrizes = prizes })
}

// benchWheel is a prize wheel with its own MQTT connection that notes when
// the result of each benchmark spin first reached it, and counts rejects
// and results that are not a prize draw's (a refused spin would measure
// a shorter path).
type benchWheel struct {
	id       string
	topic    string
	client   paho.Client
	got      []atomic.Int64 // slot → unix nanoseconds of receipt, 0 until then
	rejects  atomic.Int64
	refused  atomic.Int64 // results with a reason other than a drawn no-prize
	badCount atomic.Int64 // results that did not decode or name no slot
}

func newBenchWheel(tb testing.TB, brokerURL, id string, slots int) *benchWheel {
	tb.Helper()
	w := &benchWheel{id: id, topic: mustTopic(tb, huiyan.ChannelWheel, id), got: make([]atomic.Int64, slots)}
	w.client = paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).
		SetClientID(fmt.Sprintf("bench-%s-%d", id, time.Now().UnixNano())).SetCleanSession(true))
	if tok := w.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("wheel %s connect: %v", id, tok.Error())
	}
	tb.Cleanup(func() { w.client.Disconnect(50) })
	rt, _ := firmware.RejectTopic(testBranch, id)
	if tok := w.client.Subscribe(rt, 1, func(paho.Client, paho.Message) { w.rejects.Add(1) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("wheel %s subscribe: %v", id, tok.Error())
	}
	resTopic, err := firmware.WheelResultTopic(testBranch, id)
	if err != nil {
		tb.Fatal(err)
	}
	prefix := id + "-"
	if tok := w.client.Subscribe(resTopic, 1, func(_ paho.Client, msg paho.Message) {
		now := time.Now().UnixNano()
		// A few hundred results in a run: decoding them is cheap, and it
		// checks that each one is a result and not just bytes on the topic.
		r, err := firmware.DecodeWheelResult(msg.Payload())
		if err != nil || !strings.HasPrefix(r.ID, prefix) {
			w.badCount.Add(1)
			return
		}
		n, err := strconv.Atoi(strings.TrimPrefix(r.ID, prefix))
		if err != nil || n < 0 || n >= len(w.got) {
			w.badCount.Add(1)
			return
		}
		if r.Reason != "" && r.Reason != firmware.WheelNoPrize {
			w.refused.Add(1)
		}
		w.got[n].CompareAndSwap(0, now)
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("wheel %s subscribe result: %v", id, tok.Error())
	}
	return w
}

// BenchmarkWheelResult publishes wheel spins open-loop at 20 per second
// from two wheels to an edge with a prize table, the embedded broker and
// 20 PADs connected (a lobby manager's PAD taking the time), each spin by
// a different known customer with the mobile-banking app, and reports, in
// ms from each spin's scheduled send time, p50/p90/p99/max of when the
// wheel got its result and of when the PAD got the spin's arrival card,
// and ratio-p99 = result p99 / PAD p99. One run; use -benchtime 1x.
//
//	go test -run '^$' -bench WheelResult -benchtime 1x ./edge/cmd/huiyan-edge/
func BenchmarkWheelResult(b *testing.B) {
	const rate = 20
	count := 200
	if benchQuick() {
		count = 30
	}
	var set *benchSet
	var toks []string
	asClient(func() {
		// About half the generated customers have the app; three times
		// the spins leaves room for the generator's mix.
		set = mustBenchSet(b, 3*count+50)
		toks = set.mbankTokens(b)
	})
	if len(toks) < count {
		b.Fatalf("the data set has %d customers with mobile banking, want %d", len(toks), count)
	}
	// Generous limits: no spin is refused for its customer's daily limit
	// or an empty stock, so every spin takes the full path (the draw and
	// its record in wheel.db).
	prizes := writePrizeTable(b, "bench-c1", 1000, prizeRow{Code: "cup", NameZH: "保温杯", NameEN: "Thermos cup", Weight: 100000, Inventory: 1000000})
	var dir string
	asClient(func() { dir = set.edgeDir(b) })
	m := mustRunWheelBenchEdge(b, dir, prizes)
	var staff []string
	for _, s := range set.staff {
		if s.role == huiyan.RoleLobby {
			staff = append([]string{s.id}, staff...) // a lobby manager's PAD first: it sees every arrival
		} else {
			staff = append(staff, s.id)
		}
	}
	var pads []*benchPAD
	var wheels []*benchWheel
	asClient(func() {
		pads = benchPADs(b, m, staff, benchPADCount, count)
		for i := range 2 {
			// devPrefix ids, so that eventSlots finds the spins in PAD messages.
			wheels = append(wheels, newBenchWheel(b, m.BrokerURL(), fmt.Sprintf("%sw%d", devPrefix, i+1), count))
		}
	})
	var result, padLat []time.Duration
	for b.Loop() {
		// One run is the measurement (its slots and customers are used
		// up); a -benchtime above 1x only spins.
		if len(result) == 0 {
			result, padLat = wheelRun(b, wheels, pads, toks, rate, count)
		}
	}
	reportPercentiles(b, "result", result)
	reportPercentiles(b, "pad", padLat)
	b.ReportMetric(pct(result, 99).Seconds()/pct(padLat, 99).Seconds(), "ratio-p99")
	b.ReportMetric(float64(count), "spins")
	b.ReportMetric(float64(len(pads)), "pads")
}

// wheelRun sends count spins at rate per second from the wheels in turn,
// spin i by the holder of toks[i], and returns for each spin the time from
// its scheduled send to its result on the wheel and to its card on pads[0].
// Times are taken from the schedule, not from when the publisher got round
// to it, so a late publisher shows in the figures (coordinated omission).
func wheelRun(tb testing.TB, wheels []*benchWheel, pads []*benchPAD, toks []string, rate, count int) (result, padLat []time.Duration) {
	tb.Helper()
	period := time.Second / time.Duration(rate)
	start := time.Now().Add(100 * time.Millisecond)
	sched := make([]time.Time, count)
	for i := range sched {
		sched[i] = start.Add(time.Duration(i) * period)
	}
	owner := make([]*benchWheel, count)
	var pubErr error
	asClient(func() {
		var toksPub []paho.Token
		for i := range count {
			time.Sleep(time.Until(sched[i]))
			w := wheels[i%len(wheels)]
			owner[i] = w
			ev := benchEventID(w.id, i)
			a := huiyan.Arrival{EventID: ev, Branch: testBranch, Device: w.id, Channel: huiyan.ChannelWheel,
				At: sched[i], Idents: []huiyan.Ident{ident(huiyan.IdentMBank, toks[i])}, Spin: "spin-" + ev}
			// Not waiting for the PUBACK: the schedule, not the edge, sets
			// the pace (and the edge publishes the result before it acks).
			toksPub = append(toksPub, w.client.Publish(w.topic, 1, false, firmware.EncodeArrival(a)))
		}
		for i, t := range toksPub {
			if !t.WaitTimeout(time.Minute) || t.Error() != nil {
				pubErr = fmt.Errorf("spin %d: publish: %w", i, t.Error())
				return
			}
		}
	})
	if pubErr != nil {
		tb.Fatal(pubErr)
	}
	// Everything was sent and acked; wait (bounded) for the last result
	// and card.
	deadline := time.Now().Add(30 * time.Second)
	for {
		noResult, noCard := 0, 0
		for i := range count {
			if owner[i].got[i].Load() == 0 {
				noResult++
			}
			if pads[0].got[i].Load() == 0 {
				noCard++
			}
		}
		if noResult == 0 && noCard == 0 {
			break
		}
		for _, p := range pads {
			if p.closed.Load() {
				tb.Fatalf("PAD %s was disconnected during the run (too slow a reader, or the edge failed)", p.staff)
			}
		}
		for _, w := range wheels {
			if n := w.rejects.Load(); n > 0 {
				tb.Fatalf("the edge rejected %d spins of wheel %s", n, w.id)
			}
			if n := w.badCount.Load(); n > 0 {
				tb.Fatalf("wheel %s got %d results that do not decode or name no spin of the run", w.id, n)
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after the run: %d of %d spins got no result, %d of %d never reached the PAD", noResult, count, noCard, count)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, w := range wheels {
		if n := w.refused.Load(); n > 0 {
			tb.Fatalf("wheel %s: %d spins were refused (limit, campaign or unknown customer), not drawn", w.id, n)
		}
	}
	for i := range count {
		result = append(result, time.Duration(owner[i].got[i].Load()-sched[i].UnixNano()))
		padLat = append(padLat, time.Duration(pads[0].got[i].Load()-sched[i].UnixNano()))
	}
	return result, padLat
}
