package pad

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

	t.Run("Bounded", func(t *testing.T) {
		l := newLimiter(5, time.Minute, time.Minute, 100)
		for i := range 10000 {
			k := fmt.Sprintf("addr:10.0.%d.%d", i/256, i%256)
			if _, ok := l.acquire(t0, k); ok {
				l.failed(t0, k)
			}
		}
		if n := l.size(); n > 100 {
			t.Errorf("entries=%d, want at most 100", n)
		}
	})

	t.Run("LockedSurvivesFlood", func(t *testing.T) {
		l := newLimiter(2, time.Minute, time.Hour, 50)
		for range 2 {
			l.acquire(t0, "staff:victim")
			l.failed(t0, "staff:victim")
		}
		for i := range 1000 {
			k := fmt.Sprintf("staff:made-up-%d", i)
			l.acquire(t0, k)
			l.passed([]string{k})
		}
		if _, ok := l.acquire(t0, "staff:victim"); ok {
			t.Error("a flood of new keys evicted a locked key")
		}
	})

	t.Run("Reserve", func(t *testing.T) {
		l := newLimiter(3, time.Minute, time.Minute, 10)
		for i := range 3 {
			if _, ok := l.acquire(t0, "k"); !ok {
				t.Fatalf("attempt %d refused", i)
			}
		}
		wait, ok := l.acquire(t0, "k")
		if ok || wait != time.Second {
			t.Errorf("fourth in flight: ok=%v wait=%v, want refused for 1s", ok, wait)
		}
		l.passed([]string{"k"})
		if _, ok := l.acquire(t0, "k"); !ok {
			t.Error("refused after one passed")
		}
	})

	t.Run("ResetOnSuccess", func(t *testing.T) {
		l := newLimiter(3, time.Minute, time.Minute, 10)
		for range 2 {
			l.acquire(t0, "staff:a", "addr:x")
			l.failed(t0, "staff:a", "addr:x")
		}
		l.acquire(t0, "staff:a", "addr:x")
		l.passed([]string{"staff:a", "addr:x"}, "staff:a")
		l.acquire(t0, "staff:a", "addr:y")
		l.failed(t0, "staff:a", "addr:y")
		if _, ok := l.acquire(t0, "staff:a", "addr:y"); !ok {
			t.Error("staff key still counts failures from before a good PIN")
		}
		l.passed([]string{"staff:a", "addr:y"})
		l.acquire(t0, "addr:x")
		l.failed(t0, "addr:x")
		if wait, ok := l.acquire(t0, "addr:x"); ok || wait != time.Minute {
			t.Errorf("address: ok=%v wait=%v, want locked for a minute (a good PIN does not reset an address)", ok, wait)
		}
	})
}

func TestAddrKey(t *testing.T) {
	for _, tt := range []struct{ remote, want string }{
		{"192.0.2.7:51000", "addr:192.0.2.7"},
		{"[::ffff:192.0.2.7]:51000", "addr:192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "addr:2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "addr:2001:db8:1:2::/64"},
		{"pipe", "addr:pipe"},
	} {
		if got := addrKey(tt.remote); got != tt.want {
			t.Errorf("addrKey(%q)=%q, want %q", tt.remote, got, tt.want)
		}
	}
}
