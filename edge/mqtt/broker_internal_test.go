package mqtt

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"huiyan"
)

func TestAuthHook_ACL(t *testing.T) {
	h := &authHook{branch: "B001", prefix: "huiyan/v1/B001/"}
	edge := identity{role: roleEdge}
	dev := identity{role: roleDevice, device: "sc-01"}
	anon := identity{role: roleAnon}
	none := identity{}
	for _, tc := range []struct {
		id    identity
		topic string
		write bool
		want  bool
	}{
		// The edge: everything under its branch, nothing else.
		{edge, "huiyan/v1/B001/#", false, true},
		{edge, "huiyan/v1/B001/arrival/+/+", false, true},
		{edge, "huiyan/v1/B001/reject/sc-01", true, true},
		{edge, "huiyan/v1/B001/wheel/wh-01/result", true, true},
		{edge, "huiyan/v1/B002/reject/sc-01", true, false},
		{edge, "huiyan/v1/+/arrival/+/+", false, false},
		{edge, "huiyan/#", false, false},
		{edge, "#", false, false},
		{edge, "$SYS/#", false, false},
		{edge, "huiyan/v1/B0011/reject/sc-01", true, false},

		// A device: its own arrival (any channel level) and status topics.
		{dev, "huiyan/v1/B001/arrival/counter/sc-01", true, true},
		{dev, "huiyan/v1/B001/arrival/ecode/sc-01", true, true},
		{dev, "huiyan/v1/B001/arrival/teller/sc-01", true, true}, // the edge rejects it: bad_topic
		{dev, "huiyan/v1/B001/device/sc-01/status", true, true},
		{dev, "huiyan/v1/B001/arrival/counter/sc-02", true, false},
		{dev, "huiyan/v1/B001/arrival/counter/sc-01/x", true, false},
		{dev, "huiyan/v1/B001/arrival//sc-01", true, false},
		{dev, "huiyan/v1/B001/device/sc-02/status", true, false},
		{dev, "huiyan/v1/B002/arrival/counter/sc-01", true, false},
		{dev, "huiyan/v1/B001/reject/sc-01", true, false},
		{dev, "huiyan/v1/B001/wheel/sc-01/result", true, false},
		// ... and reads only its own replies, without wildcards.
		{dev, "huiyan/v1/B001/reject/sc-01", false, true},
		{dev, "huiyan/v1/B001/wheel/sc-01/result", false, true},
		{dev, "huiyan/v1/B001/reject/sc-02", false, false},
		{dev, "huiyan/v1/B001/reject/+", false, false},
		{dev, "huiyan/v1/B001/reject/#", false, false},
		{dev, "huiyan/v1/B001/arrival/counter/sc-01", false, false},
		{dev, "huiyan/v1/B002/reject/sc-01", false, false},

		// Demo mode: any valid device of the branch.
		{anon, "huiyan/v1/B001/arrival/counter/any-1", true, true},
		{anon, "huiyan/v1/B001/device/any-2/status", true, true},
		{anon, "huiyan/v1/B001/device/bad.id/status", true, false},
		{anon, "huiyan/v1/B002/arrival/counter/any-1", true, false},
		{anon, "huiyan/v1/B001/reject/any-1", true, false},
		{anon, "huiyan/v1/B001/reject/any-1", false, true},
		{anon, "huiyan/v1/B001/reject/+", false, true},
		{anon, "huiyan/v1/B001/wheel/+/result", false, true},
		{anon, "huiyan/v1/B001/arrival/+/+", false, false},
		{anon, "huiyan/v1/B001/#", false, false},

		// Nobody.
		{none, "huiyan/v1/B001/arrival/counter/sc-01", true, false},
		{none, "huiyan/v1/B001/reject/sc-01", false, false},
	} {
		var got bool
		if tc.write {
			got = h.mayPublish(tc.id, tc.topic)
		} else {
			got = h.mayRead(tc.id, tc.topic)
		}
		if got != tc.want {
			t.Errorf("role=%d device=%q write=%v %s: allowed=%v, want %v", tc.id.role, tc.id.device, tc.write, tc.topic, got, tc.want)
		}
	}
}

func TestDeviceOf(t *testing.T) {
	for topic, want := range map[string]string{
		"huiyan/v1/B001/arrival/teller/sc-01": "sc-01",
		"huiyan/v1/B001/arrival/counter":      "",
		"huiyan/v1/B001/device/sc-01/status":  "sc-01",
		"huiyan/v1/B001/device/sc-01/state":   "",
		"huiyan/v1/B001/other/x/y":            "",
		"":                                    "",
	} {
		if got := deviceOf(topic); got != want {
			t.Errorf("deviceOf(%q) = %q, want %q", topic, got, want)
		}
	}
}

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{huiyan.Errorf("bad_token", "x"), true},
		{huiyan.Errorf(huiyan.ETooLarge, "x"), true},
		{errors.Join(errors.New("wrapped"), huiyan.Errorf("unknown_key", "x")), true},
		{huiyan.Errorf(huiyan.EUnavailable, "store down"), false},
		{huiyan.Errorf(huiyan.EInternal, "bug"), false},
		{errors.New("bolt: disk full"), false},
		{context.Canceled, false},
	} {
		if got := permanent(tc.err); got != tc.want {
			t.Errorf("permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestRedactHandler(t *testing.T) {
	var b strings.Builder
	log := slog.New(redactHandler{slog.NewTextHandler(&b, nil)}).With("pk", "withattrs-secret")
	log.Warn("error processing packet", "client", "c1", "pk", "secret-payload", "packet", "secret-2")
	log.Warn("", "error", "EOF")
	out := b.String()
	if strings.Contains(out, "secret") {
		t.Fatalf("packet in the log: %s", out)
	}
	if !strings.Contains(out, "client=c1") || !strings.Contains(out, `level=INFO msg="mqtt connection ended" error=EOF`) {
		t.Fatalf("log = %s", out)
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(200e6, 1e9)
	var got []int64
	for range 5 {
		got = append(got, int64(b.next()/1e6))
	}
	b.reset()
	got = append(got, int64(b.next()/1e6))
	want := []int64{200, 400, 800, 1000, 1000, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays = %v ms, want %v", got, want)
		}
	}
}
