package bolt

import (
	"reflect"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub"
)

// outboxEvents is one event of every kind, with every field its kind uses,
// and one with values the enumeration tables do not know.
func outboxEvents() []hub.EventWire {
	v := "v20261123T093001-0a1b2c3d4e5f"
	return []hub.EventWire{
		{ID: v + ":1:opened", Kind: hub.EventOpened, At: t0, Visit: v, Channel: huiyan.ChannelCounter, Recognised: true,
			MBankAtOpen: huiyan.MBankDormant, Tier: huiyan.TierPlatinum},
		{ID: v + ":1:opened-face", Kind: hub.EventOpened, At: t0.Add(time.Nanosecond), Visit: v, Channel: huiyan.ChannelECode},
		{ID: v + ":2:touch", Kind: hub.EventTouch, At: t0.UTC(), Visit: v, Channel: huiyan.ChannelWheel},
		{ID: v + ":2:touch-refused", Kind: hub.EventTouch, At: t0, Visit: v, Channel: huiyan.ChannelECode, Refused: "expired"},
		{ID: v + ":3:claimed", Kind: hub.EventClaimed, At: t0, Visit: v, Staff: "lobby-B001"},
		{ID: v + ":4:released", Kind: hub.EventReleased, At: t0, Visit: v, Staff: "lobby-B001"},
		{ID: v + ":5:outcome", Kind: hub.EventOutcome, At: t0, Visit: v, Staff: "wealth-B001", Outcome: huiyan.OutcomeReferred},
		{ID: v + ":6:converted", Kind: hub.EventConverted, At: t0, Visit: v, Conversion: huiyan.ConversionNewUser, Staff: "lobby-B001"},
		{ID: v + ":7:closed", Kind: hub.EventClosed, At: t0, Visit: v},
		{ID: "x", Kind: "future_kind", At: t0, Visit: "v", Channel: "kiosk", MBankAtOpen: "frozen", Tier: "black",
			Outcome: "moved", Conversion: "upsold"},
	}
}

func TestOutboxRoundTrip(t *testing.T) {
	for _, e := range outboxEvents() {
		t.Run(string(e.Kind), func(t *testing.T) {
			b := appendOutbox(nil, &e)
			got, err := decodeOutbox(b)
			if err != nil {
				t.Fatal(err)
			}
			if !got.At.Equal(e.At) {
				t.Errorf("at=%v, want %v", got.At, e.At)
			}
			if _, off := got.At.Zone(); off != func() int { _, o := e.At.Zone(); return o }() {
				t.Errorf("zone offset=%d, want the original", off)
			}
			at, err := outboxAt(b)
			if err != nil || !at.Equal(e.At) {
				t.Errorf("outboxAt=%v, %v, want %v", at, err, e.At)
			}
			normalize(&got)
			normalize(&e)
			if !reflect.DeepEqual(got, e) {
				t.Errorf("decoded=%+v, want %+v", got, e)
			}
		})
	}
}

// TestOutboxRecordSize keeps the estimate behind DefaultOutboxMaxDepth
// honest: a record with a real visit id in it is at most 128 bytes.
func TestOutboxRecordSize(t *testing.T) {
	for _, e := range outboxEvents()[:9] {
		if n := len(appendOutbox(nil, &e)); n > 128 {
			t.Errorf("%s: %d bytes, want at most 128", e.Kind, n)
		}
	}
}

// TestOutboxV1 reads a record written by the first layout (before
// Refused): outbox records written by an older edge are sent after an
// upgrade.
func TestOutboxV1(t *testing.T) {
	e := outboxEvents()[0]
	b := appendOutbox(nil, &e)
	b = b[:len(b)-1] // the empty Refused string: one length byte
	b[0] = outboxV1
	got, err := decodeOutbox(b)
	if err != nil {
		t.Fatal(err)
	}
	normalize(&got)
	normalize(&e)
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("decoded=%+v, want %+v", got, e)
	}
}
