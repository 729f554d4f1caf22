package bolt

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub/funnel"
)

func fullFunnel() *funnel.Visit {
	return &funnel.Visit{
		Branch: "310101", ID: "v20261123T093001-0a1b2c3d4e5f",
		OpenedAt: t0, Channel: huiyan.ChannelCounter, Signals: [3]int{1, 2, 0},
		Recognised: true, MBankAtOpen: huiyan.MBankDormant, Tier: huiyan.TierGold,
		ClaimedBy: "lobby-310101", ClaimedAt: t0.Add(30 * time.Second),
		Outcome: huiyan.OutcomeActivated, OutcomeBy: "lobby-310101", OutcomeAt: t0.Add(3 * time.Minute),
		Converted: huiyan.ConversionActivated, ConvertedAt: t0.Add(2 * time.Minute), AttributedTo: "wealth-310101",
		ClosedAt: t0.Add(time.Hour),
	}
}

func TestFunnelRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    *funnel.Visit
	}{
		{"Full", fullFunnel()},
		{"NewFace", &funnel.Visit{Branch: "B001", ID: "v2", OpenedAt: t0, Channel: huiyan.ChannelWheel, Signals: [3]int{0, 0, 1}}},
		// A value the enumeration tables do not know is kept as text.
		{"UnknownEnums", &funnel.Visit{ID: "v3", OpenedAt: t0, Channel: "kiosk", Outcome: "callback", Tier: "black"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeFunnel(appendFunnel(nil, tc.v))
			if err != nil {
				t.Fatal(err)
			}
			want := *tc.v
			normalize(&want)
			normalize(got)
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("decoded=%+v, want %+v", got, &want)
			}
		})
	}
}

// TestFunnelDecodeCorrupt: every truncation, a trailing byte and a wrong
// number of signal counts are ErrCorrupt; another version byte is
// ErrRecordVersion; changed bytes never panic.
func TestFunnelDecodeCorrupt(t *testing.T) {
	good := appendFunnel(nil, fullFunnel())
	for n := range len(good) {
		if _, err := decodeFunnel(good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: err=%v, want ErrCorrupt", n, len(good), err)
		}
	}
	if _, err := decodeFunnel(append(bytes.Clone(good), 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte: err=%v, want ErrCorrupt", err)
	}
	for _, v := range []byte{0, 2, 0xff} {
		b := bytes.Clone(good)
		b[0] = v
		if _, err := decodeFunnel(b); !errors.Is(err, ErrRecordVersion) {
			t.Errorf("version=%d: err=%v, want ErrRecordVersion", v, err)
		}
	}
	// The signal counts follow the branch, the id, the time and the
	// channel: write four instead of three.
	head := appendEnum(appendTime(appendString(appendString([]byte{funnelV1}, "B"), "v"), t0), channelEnum, "counter")
	four := appendInt(appendInt(appendInt(appendInt(appendUvarint(bytes.Clone(head), 4), 1), 0), 0), 0)
	if _, err := decodeFunnel(four); !errors.Is(err, ErrCorrupt) {
		t.Errorf("four signal counts: err=%v, want ErrCorrupt", err)
	}
	b := bytes.Clone(good)
	for i := 1; i < len(b); i++ {
		for _, x := range []byte{0x00, 0x7f, 0x80, 0xff} {
			old := b[i]
			b[i] = x
			_, _ = decodeFunnel(b) // must not panic
			b[i] = old
		}
	}
}
