package devsim_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"huiyan/firmware-contracts"
	"huiyan/firmware-contracts/devsim"
	"huiyan/firmware-contracts/mqtttest"
)

// TestSim_WheelResults runs the simulator against a real Mosquitto with a
// stand-in edge that answers two wheel spins of every three (a prize, then
// no prize) and ignores the third: the run counts the results and reports
// the ignored spins as missing once the timeout has passed.
func TestSim_WheelResults(t *testing.T) {
	dir := MustGen(t, devsim.GenConfig{Customers: 200, Branches: 1, Seed: 5, PINIterations: 1000})
	broker := mqtttest.StartMosquitto(t)

	var mu sync.Mutex
	var answered, won, ignored, n int
	edge := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("stand-in-edge").SetCleanSession(true))
	if tok := edge.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v\n%s", tok.Error(), broker.Log())
	}
	defer edge.Disconnect(100)
	answer := func(c paho.Client, m paho.Message) {
		tp, err := firmware.ParseTopic(m.Topic())
		if err != nil {
			t.Errorf("topic %s: %v", m.Topic(), err)
			return
		}
		a, err := firmware.Decode(tp, m.Payload())
		if err != nil {
			t.Errorf("wheel arrival: %v", err)
			return
		}
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		prize, name := "", "谢谢参与"
		switch k % 3 {
		case 0:
			mu.Lock()
			ignored++
			mu.Unlock()
			return
		case 1:
			prize, name = "cup", "保温杯"
		}
		p, err := firmware.EncodeWheelResult(a.EventID, a.Spin, prize, name, time.Now())
		if err != nil {
			t.Error(err)
			return
		}
		topic, _ := firmware.WheelResultTopic(tp.Branch, tp.Device)
		// Published from the handler's goroutine: wait in another one,
		// paho delivers acknowledgements on the one running handlers.
		tok := c.Publish(topic, 1, false, p)
		go func() {
			if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Errorf("publish result: %v", tok.Error())
			}
		}()
		mu.Lock()
		answered++
		if prize != "" {
			won++
		}
		mu.Unlock()
	}
	if tok := edge.Subscribe(fmt.Sprintf("huiyan/v1/%s/arrival/wheel/+", "B001"), 1, answer); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	cfg := devsim.DefaultSimConfig()
	cfg.DataDir, cfg.Broker, cfg.Branch = dir, broker.URL(), "B001"
	cfg.Rate, cfg.Count, cfg.Seed, cfg.FollowUpShare = 500, 120, 11, 0
	cfg.ResultTimeout = 300 * time.Millisecond
	sim, err := devsim.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := sim.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("stats %+v; stand-in edge answered %d (%d won), ignored %d", st, answered, won, ignored)
	switch {
	case st.Wheel < 6:
		t.Fatalf("only %d wheel spins in %d arrivals: the test needs a few of each kind", st.Wheel, st.Sent)
	case n != st.Wheel:
		t.Fatalf("the edge saw %d spins, the simulator sent %d", n, st.Wheel)
	case st.WheelResults != answered || st.WheelWon != won || st.WheelReasons[""] != answered-won:
		t.Fatalf("results %d (won %d, no prize %v), want %d (won %d)", st.WheelResults, st.WheelWon, st.WheelReasons, answered, won)
	case st.WheelMissing != ignored || st.WheelLate != 0:
		t.Fatalf("missing %d, late %d; want %d missing", st.WheelMissing, st.WheelLate, ignored)
	}
}
