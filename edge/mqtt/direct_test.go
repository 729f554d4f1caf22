package mqtt_test

import (
	"context"
	"testing"

	"huiyan"
	"huiyan/edge/mqtt"
	firmware "huiyan/firmware-contracts"
)

// TestBroker_Direct: with a Handler the broker hands arrivals and statuses
// to it before acknowledging them, answers a refusal on the reject topic,
// and hands over a Last Will too (mochi sends Wills without OnPublish).
func TestBroker_Direct(t *testing.T) {
	rec := &recorder{}
	b := mustStartBroker(t, mqtt.BrokerConfig{Listen: "127.0.0.1:0", Branch: branch, Devices: testDevices(t), Handler: rec})
	e := credentialEnv(b)

	dev := dial(t, deviceOptions(e, "sc-01"))
	rejects := subscribe(t, dev, rejectTopic(t, "sc-01"))
	publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-1")) // returns after the PUBACK
	if n := rec.count("sc-01-1"); n != 1 {
		t.Fatalf("handled %d times by the time of the PUBACK, want 1", n)
	}

	refusal := huiyan.Errorf(firmware.EBadToken, "ident 0: token must be 64 lower-case hex characters")
	rec.mu.Lock()
	rec.decide = func(_ context.Context, c call) error {
		if c.Kind == "arrival" {
			return refusal
		}
		return nil
	}
	rec.mu.Unlock()
	publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-2"))
	rj, err := firmware.DecodeReject(receive(t, rejects, "the reject").Payload())
	if err != nil || rj.ID != "sc-01-2" || rj.Code != firmware.EBadToken {
		t.Fatalf("reject=%+v err=%v", rj, err)
	}
	rec.mu.Lock()
	rec.decide = nil
	rec.mu.Unlock()

	raw := dialRaw(t, e, "sc-02", statusTopic(t, "sc-02"), firmware.StatusOffline)
	raw.publishQoS0(t, statusTopic(t, "sc-02"), []byte(firmware.StatusOnline))
	poll(t, "online", func() bool { c, _ := rec.status("sc-02"); return c.Status == firmware.StatusOnline })
	raw.Close() // no DISCONNECT: the broker publishes the Will
	poll(t, "the Last Will reaches the handler", func() bool { c, _ := rec.status("sc-02"); return c.Status == firmware.StatusOffline })
}
