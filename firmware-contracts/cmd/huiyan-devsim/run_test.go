package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"huiyan"
	firmware "huiyan/firmware-contracts"
	"huiyan/firmware-contracts/mqtttest"
)

// TestRun_Mosquitto runs the simulator against a real Mosquitto: every
// arrival it reports sent reaches a paho subscriber and is accepted by
// firmware.Decode, the mix has counters, e-code scans, wheel spins, known
// customers and new faces, and the conversion path (counter, then e-code
// scan carrying the same customer's ID-card token) is there. A malformed
// fixture sent through the same broker is refused with its documented code.
func TestRun_Mosquitto(t *testing.T) {
	broker := mqtttest.StartMosquitto(t)
	dir := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := run(t, "gen", "-customers", "400", "-branches", "2", "-seed", "7", "-out", dir); code != exitOK {
		t.Fatalf("gen: exit=%d %s", code, stderr)
	}

	type got struct {
		topic   string
		payload []byte
	}
	var mu sync.Mutex
	var msgs []got
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("test-sub"))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	filter, _ := firmware.ArrivalFilter("B001")
	if tok := sub.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		msgs = append(msgs, got{m.Topic(), append([]byte(nil), m.Payload()...)})
		mu.Unlock()
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	const count = 120
	code, stdout, stderr := run(t, "run", "-data", dir, "-broker", broker.URL(), "-branch", "B001",
		"-rate", "400", "-count", fmt.Sprint(count), "-followup", "20ms", "-unknown", "0.2", "-seed", "11")
	if code != exitOK {
		t.Fatalf("run: exit=%d stderr=%s", code, stderr)
	}
	var sent int
	summary := stdout[strings.LastIndex(strings.TrimRight(stdout, "\n"), "\n")+1:]
	if _, err := fmt.Sscanf(summary, "sent %d arrivals", &sent); err != nil || sent != count {
		t.Fatalf("summary %q: sent=%d err=%v, want %d", summary, sent, err, count)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(msgs)
		mu.Unlock()
		if n >= sent || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(msgs) != sent {
		t.Fatalf("subscriber got %d arrivals, simulator sent %d", len(msgs), sent)
	}
	channels := map[huiyan.Channel]int{}
	ids := map[string]bool{}
	counterTokens := map[string]bool{}
	var scansAfterCounter int
	for _, m := range msgs {
		tp, err := firmware.ParseTopic(m.topic)
		if err != nil {
			t.Fatalf("topic %q: %v", m.topic, err)
		}
		a, err := firmware.Decode(tp, m.payload)
		if err != nil {
			t.Fatalf("Decode(%s): %v", m.topic, err)
		}
		if ids[a.Device+"/"+a.EventID] {
			t.Fatalf("event id %s sent twice", a.EventID)
		}
		ids[a.Device+"/"+a.EventID] = true
		channels[a.Channel]++
		for _, id := range a.Idents {
			if a.Channel == huiyan.ChannelCounter && id.Kind == huiyan.IdentIDCard {
				counterTokens[id.Token] = true
			}
			if a.Channel == huiyan.ChannelECode && id.Kind == huiyan.IdentIDCard && counterTokens[id.Token] {
				scansAfterCounter++
			}
		}
	}
	for _, ch := range huiyan.Channels {
		if channels[ch] == 0 {
			t.Errorf("no %s arrivals in %d: %v", ch, sent, channels)
		}
	}
	if scansAfterCounter == 0 {
		t.Errorf("no e-code scan followed a counter arrival of the same customer")
	}
	if !strings.Contains(stdout, "new face") || !strings.Contains(stdout, "known, mobile banking") {
		t.Errorf("output does not show both known customers and new faces")
	}

	// The same broker carries a malformed payload; Decode refuses it with
	// the fixture's documented code.
	for _, f := range firmware.Fixtures() {
		if f.Code != firmware.EBadToken {
			continue
		}
		tp, err := firmware.ParseTopic(f.Topic)
		if err != nil {
			continue
		}
		// A client of its own, so the earlier wildcard route does not take it.
		fsub := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("test-fixture"))
		if tok := fsub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("fixture subscriber connect: %v", tok.Error())
		}
		defer fsub.Disconnect(100)
		recv := make(chan []byte, 1)
		if tok := fsub.Subscribe(f.Topic, 1, func(_ paho.Client, m paho.Message) {
			select {
			case recv <- append([]byte(nil), m.Payload()...):
			default:
			}
		}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", f.Topic, tok.Error())
		}
		if tok := sub.Publish(f.Topic, 1, false, f.Payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish fixture: %v", tok.Error())
		}
		select {
		case p := <-recv:
			_, err := firmware.Decode(tp, p)
			if huiyan.ErrorCode(err) != firmware.EBadToken {
				t.Fatalf("fixture %s through Mosquitto: code %q, want %q", f.Name, huiyan.ErrorCode(err), firmware.EBadToken)
			}
			var rej firmware.Reject
			if err := json.Unmarshal(firmware.EncodeReject("x", err, time.Now()), &rej); err != nil || rej.Code != firmware.EBadToken || rej.Message == "" {
				t.Fatalf("reject %+v err=%v", rej, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("fixture %s not received", f.Name)
		}
		return
	}
	t.Fatal("no bad_token fixture on a parsable topic")
}
