package mqtt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"huiyan"
	"huiyan/edge/mqtt"
	firmware "huiyan/firmware-contracts"
	"huiyan/firmware-contracts/mqtttest"
)

// TestContract_Embedded runs the ingest contract against the embedded broker
// with device credentials.
func TestContract_Embedded(t *testing.T) {
	testContract(t, func(t *testing.T) env {
		b := mustStartBroker(t, mqtt.BrokerConfig{Listen: "127.0.0.1:0", Branch: branch, Devices: testDevices(t)})
		user, pass := b.EdgeCredential()
		return env{URL: b.URL(), EdgeUser: user, EdgePass: pass, Device: testDeviceCredential,
			Held: func(t testing.TB, n int) {
				t.Helper()
				poll(t, fmt.Sprintf("the broker to hold %d messages", n), func() bool { return b.Inflight() == n })
			}}
	})
}

// TestContract_Mosquitto runs the same contract against Mosquitto, the
// broker a branch may run instead of the embedded one (anonymous access, as
// mqtttest configures it).
func TestContract_Mosquitto(t *testing.T) {
	testContract(t, func(t *testing.T) env {
		m := mqtttest.StartMosquitto(t)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("mosquitto log:\n%s", m.Log())
			}
		})
		return env{URL: m.URL(), Device: func(string) (string, string) { return "", "" }}
	})
}

// testContract is the ingest's behaviour against a real broker. newEnv starts
// a fresh broker for each subtest, so that persistent sessions do not leak
// between them.
func testContract(t *testing.T, newEnv func(t *testing.T) env) {
	t.Run("ArrivalHandledOnce", func(t *testing.T) {
		e := newEnv(t)
		rec := &recorder{}
		startIngest(t, e, rec, "huiyan-edge-"+branch, newLogger(t))
		dev := dial(t, deviceOptions(e, "sc-01"))

		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-1"))
		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-2")) // barrier
		poll(t, "sc-01-2 handled", rec.hasHandled("sc-01-2"))

		if n := rec.count("sc-01-1"); n != 1 {
			t.Fatalf("sc-01-1 handled %d times, want 1", n)
		}
		c := rec.snapshot()[0]
		want := firmware.Topic{Kind: firmware.TopicArrival, Branch: branch, Channel: huiyan.ChannelCounter, Device: "sc-01"}
		if c.Topic != want {
			t.Fatalf("topic = %+v, want %+v", c.Topic, want)
		}
	})

	t.Run("RefusedGetsReject", func(t *testing.T) {
		e := newEnv(t)
		rec := &recorder{decide: func(_ context.Context, c call) error {
			if c.ID == "sc-01-bad" {
				return huiyan.Errorf(firmware.EBadToken, "ident 0: token must be 64 lower-case hex characters")
			}
			return nil
		}}
		logger := newLogger(t)
		in := startIngest(t, e, rec, "huiyan-edge-"+branch, logger)
		dev := dial(t, deviceOptions(e, "sc-01"))
		rejects := subscribe(t, dev, rejectTopic(t, "sc-01"))

		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-bad"))
		m := receive(t, rejects, "the reject")
		r, err := firmware.DecodeReject(m.Payload())
		if err != nil {
			t.Fatalf("reject %s: %v", m.Payload(), err)
		}
		if r.ID != "sc-01-bad" || r.Code != firmware.EBadToken || r.Message == "" {
			t.Fatalf("reject = %+v, want id sc-01-bad, code %s and a message", r, firmware.EBadToken)
		}
		if got := in.counter(t, firmware.EBadToken); got != 1 {
			t.Fatalf("huiyan_edge_rejected_total{code=bad_token} = %v, want 1", got)
		}

		// The refused message was acknowledged: a new ingest on the same
		// session does not get it again. (The device may see the reject
		// before the edge knows the broker has it; closing then would
		// rightly leave the message unacknowledged. A barrier first.)
		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-barrier"))
		poll(t, "the barrier", rec.hasHandled("sc-01-barrier"))
		in.Close()
		startIngest(t, e, rec, "huiyan-edge-"+branch, logger)
		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-ok")) // barrier
		poll(t, "sc-01-ok handled", rec.hasHandled("sc-01-ok"))
		if n := rec.count("sc-01-bad"); n != 1 {
			t.Fatalf("refused message handed to the Handler %d times, want 1", n)
		}
	})

	t.Run("BadTopicGetsReject", func(t *testing.T) {
		e := newEnv(t)
		rec := &recorder{}
		in := startIngest(t, e, rec, "huiyan-edge-"+branch, newLogger(t))
		dev := dial(t, deviceOptions(e, "sc-01"))
		rejects := subscribe(t, dev, rejectTopic(t, "sc-01"))

		publish(t, dev, firmware.TopicRoot+"/"+branch+"/arrival/teller/sc-01", 1, false, payload("sc-01-7"))
		r, err := firmware.DecodeReject(receive(t, rejects, "the reject").Payload())
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != firmware.EBadTopic || r.ID != "sc-01-7" {
			t.Fatalf("reject = %+v, want code %s, id sc-01-7", r, firmware.EBadTopic)
		}
		if got := in.counter(t, firmware.EBadTopic); got != 1 {
			t.Fatalf("huiyan_edge_rejected_total{code=bad_topic} = %v, want 1", got)
		}
		if n := len(rec.snapshot()); n != 0 {
			t.Fatalf("Handler called %d times for a bad topic, want 0", n)
		}
	})

	t.Run("TransientErrorRedelivered", func(t *testing.T) {
		e := newEnv(t)
		var failed atomic.Bool
		rec := &recorder{decide: func(_ context.Context, c call) error {
			if c.ID == "sc-01-1" && failed.CompareAndSwap(false, true) {
				return errors.New("bolt: disk full")
			}
			return nil
		}}
		startIngest(t, e, rec, "huiyan-edge-"+branch, newLogger(t))
		dev := dial(t, deviceOptions(e, "sc-01"))
		ids := []string{"sc-01-1", "sc-01-2", "sc-01-3"}
		for _, id := range ids {
			publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload(id))
		}
		poll(t, "all three handled", func() bool { return len(rec.handled()) >= 3 })
		// Each exactly once; not necessarily in order: mochi resends a
		// session's messages sorted by the second they arrived in, in map
		// order within a second.
		got := rec.handled()
		slices.Sort(got)
		if !slices.Equal(got, ids) {
			t.Fatalf("handled %v, want %v, each once", got, ids)
		}
		if !failed.Load() {
			t.Fatal("the Handler never failed")
		}
		// One more message shows the session still works after the restart.
		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-4"))
		poll(t, "sc-01-4 handled", rec.hasHandled("sc-01-4"))
		if n := rec.count("sc-01-1"); n != 2 {
			t.Fatalf("sc-01-1 handed over %d times, want 2 (failed, redelivered)", n)
		}
	})

	t.Run("DevicesAtOnceAcksInOrder", func(t *testing.T) {
		// Two devices' messages are handled at once (the node can group
		// their commits), and acknowledged in the order they came: while
		// sc-01's message is still being handled, sc-02's later one is
		// handled but not acknowledged, so when sc-01's then fails, the
		// broker resends both.
		e := newEnv(t)
		release, entered := make(chan struct{}), make(chan struct{}, 1)
		var failed atomic.Bool
		rec := &recorder{decide: func(ctx context.Context, c call) error {
			if c.ID == "sc-01-1" && !failed.Load() {
				entered <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				failed.Store(true)
				return errors.New("bolt: disk full")
			}
			return nil
		}}
		startIngest(t, e, rec, "huiyan-edge-"+branch, newLogger(t))
		d1 := dial(t, deviceOptions(e, "sc-01"))
		d2 := dial(t, deviceOptions(e, "sc-02"))
		publish(t, d1, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-1"))
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("sc-01-1 never reached the Handler")
		}
		publish(t, d2, arrivalTopic(t, "sc-02"), 1, false, payload("sc-02-1"))
		// Handled while sc-01-1 is still under way: at once, not in turn.
		poll(t, "sc-02-1 handled while sc-01-1 waits", rec.hasHandled("sc-02-1"))
		close(release)
		// sc-01-1 failed: both come again, sc-02-1 too, since it came
		// after an unacknowledged message and was not acknowledged.
		poll(t, "sc-01-1 redelivered and handled", rec.hasHandled("sc-01-1"))
		poll(t, "sc-02-1 redelivered", func() bool { return rec.count("sc-02-1") == 2 })
	})

	t.Run("PersistentSession", func(t *testing.T) {
		e := newEnv(t)
		logger := newLogger(t)
		// The first ingest takes the first message and never finishes it.
		entered := make(chan struct{}, 1)
		stuck := &recorder{decide: func(ctx context.Context, _ call) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}}
		first := startIngest(t, e, stuck, "huiyan-edge-"+branch, logger)
		dev := dial(t, deviceOptions(e, "sc-01"))
		var ids []string
		for i := range 3 {
			ids = append(ids, fmt.Sprintf("sc-01-%d", i))
			publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload(ids[i]))
		}
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the first ingest never took a message")
		}
		first.Close() // the edge goes down without acknowledging anything

		// While the edge is down the broker queues for its session.
		for i := 3; i < 5; i++ {
			ids = append(ids, fmt.Sprintf("sc-01-%d", i))
			publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload(ids[i]))
		}
		if e.Held != nil {
			e.Held(t, len(ids))
		}
		rec := &recorder{}
		startIngest(t, e, rec, "huiyan-edge-"+branch, logger)
		poll(t, "all five handled", func() bool {
			for _, id := range ids {
				if !rec.hasHandled(id)() {
					return false
				}
			}
			return true
		})
	})

	t.Run("RetainedStatusToLateIngest", func(t *testing.T) {
		e := newEnv(t)
		dev := dial(t, deviceOptions(e, "sc-02"))
		publish(t, dev, statusTopic(t, "sc-02"), 1, true, []byte(firmware.StatusOnline))

		rec := &recorder{}
		startIngest(t, e, rec, "huiyan-edge-"+branch, newLogger(t))
		// mochi acknowledges a publish before it forwards it, so an ingest
		// subscribing in between also gets a live copy: look for the
		// retained one among all.
		poll(t, "the retained status", func() bool {
			for _, c := range rec.snapshot() {
				if c.Kind == "status" && c.Device == "sc-02" && c.Retained && c.Status == firmware.StatusOnline {
					return true
				}
			}
			return false
		})
	})

	t.Run("ClearedStatus", func(t *testing.T) {
		e := newEnv(t)
		rec := &recorder{}
		startIngest(t, e, rec, "huiyan-edge-"+branch, newLogger(t))
		dev := dial(t, deviceOptions(e, "sc-02"))
		publish(t, dev, statusTopic(t, "sc-02"), 1, true, []byte(firmware.StatusOnline))
		poll(t, "online", func() bool { c, _ := rec.status("sc-02"); return c.Status == firmware.StatusOnline })
		publish(t, dev, statusTopic(t, "sc-02"), 1, true, nil) // clears the retained status
		poll(t, "the cleared status", func() bool { c, _ := rec.status("sc-02"); return c.Status == "" })
	})

	t.Run("WheelResult", func(t *testing.T) {
		e := newEnv(t)
		in := startIngest(t, e, &recorder{}, "huiyan-edge-"+branch, newLogger(t))
		wheel := dial(t, deviceOptions(e, "wh-01"))
		topic, err := firmware.WheelResultTopic(branch, "wh-01")
		if err != nil {
			t.Fatal(err)
		}
		results := subscribe(t, wheel, topic)
		p, err := firmware.EncodeWheelResult("wh-01-1", "spin-1", "cash-8", "8元红包", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.PublishWheelResult(ctx, "wh-01", p); err != nil {
			t.Fatalf("PublishWheelResult: %v", err)
		}
		r, err := firmware.DecodeWheelResult(receive(t, results, "the wheel result").Payload())
		if err != nil || r.Spin != "spin-1" || r.Prize != "cash-8" {
			t.Fatalf("wheel result = %+v, %v", r, err)
		}

		// PublishReject for a refusal found outside the message flow.
		rejects := subscribe(t, wheel, rejectTopic(t, "wh-01"))
		if err := in.PublishReject(ctx, "wh-01", "wh-01-2", huiyan.Errorf(firmware.EBadSpin, "spin: already played")); err != nil {
			t.Fatalf("PublishReject: %v", err)
		}
		rj, err := firmware.DecodeReject(receive(t, rejects, "the reject").Payload())
		if err != nil || rj.ID != "wh-01-2" || rj.Code != firmware.EBadSpin {
			t.Fatalf("reject = %+v, %v", rj, err)
		}
		if got := in.counter(t, firmware.EBadSpin); got != 1 {
			t.Fatalf("huiyan_edge_rejected_total{code=bad_spin} = %v, want 1", got)
		}
	})

	t.Run("LastWillOnAbruptDrop", func(t *testing.T) {
		e := newEnv(t)
		rec := &recorder{}
		startIngest(t, e, rec, "huiyan-edge-"+branch, newLogger(t))
		raw := dialRaw(t, e, "sc-02", statusTopic(t, "sc-02"), firmware.StatusOffline)
		raw.publishQoS0(t, statusTopic(t, "sc-02"), []byte(firmware.StatusOnline))
		poll(t, "online", func() bool { c, _ := rec.status("sc-02"); return c.Status == firmware.StatusOnline })

		raw.Close() // no DISCONNECT: the broker must publish the Will
		poll(t, "the Last Will", func() bool { c, _ := rec.status("sc-02"); return c.Status == firmware.StatusOffline })

		// The Will was retained: an edge that starts later learns it too.
		late := &recorder{}
		startIngest(t, e, late, "huiyan-edge-late", newLogger(t))
		poll(t, "the retained Will", func() bool { c, _ := late.status("sc-02"); return c.Status == firmware.StatusOffline })
	})

	t.Run("PacketSizes", func(t *testing.T) {
		e := newEnv(t)
		rec := &recorder{}
		startIngest(t, e, rec, "huiyan-edge-"+branch, newLogger(t))
		dev := dial(t, deviceOptions(e, "sc-01"))

		// 20 KiB is over the payload limit but under the broker's: the
		// Handler must see it, to refuse it itself.
		big := payload("sc-01-big")
		big = append(big[:len(big)-1], []byte(`,"pad":"`+string(bytes.Repeat([]byte("x"), 20<<10))+`"}`)...)
		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, big)
		poll(t, "the 20 KiB payload", rec.hasHandled("sc-01-big"))
		if c := rec.snapshot()[0]; c.Size != len(big) {
			t.Fatalf("payload size = %d, want %d", c.Size, len(big))
		}

		// 300 KiB is over the broker's packet limit: the broker drops the
		// connection and nobody gets the message.
		raw := dialRaw(t, e, "sc-01", "", "")
		huge := payload("sc-01-huge")
		huge = append(huge[:len(huge)-1], []byte(`,"pad":"`+string(bytes.Repeat([]byte("x"), 300<<10))+`"}`)...)
		pp := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		pp.TopicName, pp.Qos, pp.MessageID, pp.Payload = arrivalTopic(t, "sc-01"), 1, 1, huge
		_ = pp.Write(raw) // the broker may close before it has read it all
		raw.waitClosed(t)

		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-after")) // barrier
		poll(t, "the barrier", rec.hasHandled("sc-01-after"))
		if n := rec.count("sc-01-huge"); n != 0 {
			t.Fatalf("a 300 KiB packet reached the Handler %d times", n)
		}
	})
}
