package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"huiyan"
	firmware "huiyan/firmware-contracts"
	"huiyan/firmware-contracts/mqtttest"
)

// BenchmarkArrivalToPAD measures the time from a device's publish to the
// PAD's receipt of the card, one arrival at a time, next to the bare broker
// hop (publish → subscriber, QoS 1, same payload) measured in the same
// iterations on the same broker, so that the ratio holds on a noisy machine.
// The edge path includes decode, the bbolt commit with its fsync, the
// websocket write and the PAD's read.
//
//	go test -run '^$' -bench ArrivalToPAD -benchtime 300x ./edge/cmd/huiyan-edge/
func BenchmarkArrivalToPAD(b *testing.B) {
	for _, tc := range []struct {
		name   string
		broker func(b *testing.B) string
	}{
		{"Embedded", func(*testing.B) string { return "" }},
		{"Mosquitto", func(b *testing.B) string { return mqtttest.StartMosquitto(b).URL() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ds := mustDataSet(b)
			m := mustRunMain(b, ds.Dir, tc.broker(b))
			dev := newDevice(b, m.BrokerURL(), "sc-01")
			p, _ := dialPAD(b, m, "lobby-B001")
			hop := newHop(b, m)
			var e2e, bare []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := ds.Customers[i%len(ds.Customers)]
				tok := token(c, huiyan.IdentIDCard)
				if tok == "" {
					tok = strangerToken(b, i)
				}
				start := time.Now()
				id := dev.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, tok))
				p.next(arrivalOf(id), 10*time.Second)
				e2e = append(e2e, time.Since(start))
				bare = append(bare, hop.once(b, i))
			}
			b.StopTimer()
			reportPercentiles(b, "e2e", e2e)
			reportPercentiles(b, "hop", bare)
			b.ReportMetric(pct(e2e, 50).Seconds()/pct(bare, 50).Seconds(), "ratio-p50")
			b.ReportMetric(pct(e2e, 99).Seconds()/pct(bare, 99).Seconds(), "ratio-p99")
		})
	}
}

// hop is a bare publish → subscribe round through the broker, with a
// payload of the size of an arrival.
type hop struct {
	pub, sub paho.Client
	topic    string
	payload  []byte
	got      chan struct{}
}

func newHop(b *testing.B, m *Main) *hop {
	b.Helper()
	h := &hop{topic: "huiyan/v1/" + testBranch + "/bench/hop", got: make(chan struct{}, 1)}
	h.payload = firmware.EncodeArrival(huiyan.Arrival{EventID: "sc-09-000001", Branch: testBranch, Device: "sc-09",
		Channel: huiyan.ChannelCounter, At: time.Now(), Idents: []huiyan.Ident{ident(huiyan.IdentIDCard, strangerToken(b, 1))}})
	h.pub, h.sub = hopClient(b, m, "bench-hop-pub"), hopClient(b, m, "bench-hop-sub")
	if tok := h.sub.Subscribe(h.topic, 1, func(paho.Client, paho.Message) { h.got <- struct{}{} }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("hop subscribe: %v", tok.Error())
	}
	return h
}

// hopClient connects a reference client to the edge's broker, with the
// edge's own credential on the embedded broker (its ACL lets only the edge
// off the device topics).
func hopClient(tb testing.TB, m *Main, id string) paho.Client {
	tb.Helper()
	user, pass := "", ""
	if m.Broker != nil {
		user, pass = m.Broker.EdgeCredential()
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(m.BrokerURL()).
		SetClientID(fmt.Sprintf("%s-%d", id, time.Now().UnixNano())).SetUsername(user).SetPassword(pass))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("%s connect: %v", id, tok.Error())
	}
	tb.Cleanup(func() { c.Disconnect(50) })
	return c
}

func (h *hop) once(b *testing.B, i int) time.Duration {
	start := time.Now()
	if tok := h.pub.Publish(h.topic, 1, false, h.payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("hop publish %d: %v", i, tok.Error())
	}
	select {
	case <-h.got:
	case <-time.After(10 * time.Second):
		b.Fatalf("hop %d: not delivered", i)
	}
	return time.Since(start)
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func reportPercentiles(b *testing.B, name string, ds []time.Duration) {
	for _, p := range []int{50, 90, 99} {
		b.ReportMetric(float64(pct(ds, p).Microseconds())/1000, fmt.Sprintf("%s-p%d-ms", name, p))
	}
	b.ReportMetric(float64(slices.Max(ds).Microseconds())/1000, name+"-max-ms")
}
