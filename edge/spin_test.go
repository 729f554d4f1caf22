package edge_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/ecode"
	"huiyan/edge/wheel"
	firmware "huiyan/firmware-contracts"
)

// spyWheel is a real wheel (its own wheel.db) that keeps the requests it
// was given and can be made to fail, to see what the node asks and how it
// recovers.
type spyWheel struct {
	*wheel.Wheel
	mu     sync.Mutex
	reqs   []wheel.SpinRequest
	fail   error // returned by the next Spin, once
	refuse error // returned by every Spin
}

func (s *spyWheel) Spin(ctx context.Context, req wheel.SpinRequest) (wheel.Result, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	err := s.fail
	s.fail = nil
	if s.refuse != nil {
		err = s.refuse
	}
	s.mu.Unlock()
	if err != nil {
		return wheel.Result{}, err
	}
	return s.Wheel.Spin(ctx, req)
}

func (s *spyWheel) last(t *testing.T) wheel.SpinRequest {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("the wheel was asked for no spin")
	}
	return s.reqs[len(s.reqs)-1]
}

// sink is a WheelResults that keeps the payloads it was given and can be
// made to fail.
type sink struct {
	mu   sync.Mutex
	got  []firmware.WheelResult
	fail error
}

func (s *sink) PublishWheelResult(_ context.Context, device string, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		err := s.fail
		s.fail = nil
		return err
	}
	r, err := firmware.DecodeWheelResult(payload)
	if err != nil {
		return err
	}
	s.got = append(s.got, r)
	return nil
}

func (s *sink) take() []firmware.WheelResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.got
	s.got = nil
	return out
}

// wheelNode is a node with e-code verification (as ecodeNode), a wheel
// with a table whose campaign holds the test clock, and a result sink.
func wheelNode(t *testing.T) (*edge.Node, *clock, *spyWheel, *sink, *ecode.Issuer) {
	t.Helper()
	return wheelNodeWith(t, wheel.Options{})
}

// wheelNodeWith is wheelNode with the wheel opened with opts.
func wheelNodeWith(t *testing.T, opts wheel.Options) (*edge.Node, *clock, *spyWheel, *sink, *ecode.Issuer) {
	t.Helper()
	ts, err := wheel.Parse(strings.NewReader("campaign,c1\nstarts,2026-11-01\nends,2026-12-31\nspins_per_day,5\nunknown_customers,allow\n" +
		wheel.Header + "\nB001,cup,保温杯,Thermos cup,1000000,100,,\nB001,,谢谢参与,Thanks for playing,rest,,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := wheel.Open(filepath.Join(t.TempDir(), "wheel.db"), ts["B001"], opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	spy := &spyWheel{Wheel: w}
	var key ecode.Key
	for i := range key {
		key[i] = byte(0x40 + i)
	}
	is, err := ecode.NewIssuer(ecode.Config{Branch: "B001", Key: key, Displays: []string{"ec-01"}})
	if err != nil {
		t.Fatal(err)
	}
	n, clk, _ := mustNodeWith(t, func(c *edge.Config) { c.ECode, c.Wheel = is, spy })
	out := &sink{}
	n.SetWheelResults(out)
	return n, clk, spy, out, is
}

func spinOf(device string, ids ...huiyan.Ident) huiyan.Arrival {
	a := arrival(huiyan.ChannelWheel, device, time.Time{}, ids...)
	a.Spin = "spin-" + a.EventID
	return a
}

// TestNode_WheelPresence: the spin is the presence signal unless the
// visit's e-code scans were all refused (edge/DESIGN.md, "Prize wheel").
func TestNode_WheelPresence(t *testing.T) {
	ctx := context.Background()
	type before int
	const (
		counter before = iota
		goodScan
		refusedScan
	)
	for _, tt := range []struct {
		name    string
		before  []before // C1's signals before the spin, in order
		present bool
		reason  string
	}{
		{"SpinAlone", nil, true, ""},
		{"AfterCounter", []before{counter}, true, ""},
		{"AfterGoodScan", []before{goodScan}, true, ""},
		{"AfterRefusedScan", []before{counter, refusedScan}, false, firmware.WheelNotPresent},
		{"RefusedThenGood", []before{counter, refusedScan, goodScan}, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, clk, spy, out, is := wheelNode(t)
			for _, b := range tt.before {
				var a huiyan.Arrival
				switch b {
				case counter:
					a = arrival(huiyan.ChannelCounter, "sc-01", time.Time{}, id(huiyan.IdentIDCard, tok(1)))
				case goodScan:
					c, _ := is.Issue(ecode.KindBranch, "ec-01", clk.Now())
					a = scanOf(c.Text)
				case refusedScan:
					c, _ := is.Issue(ecode.KindBranch, "ec-01", clk.Now().Add(-time.Hour)) // a photo of an old code
					a = scanOf(c.Text)
				}
				if err := n.HandleArrival(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			a := spinOf("wh-01", id(huiyan.IdentMBank, tok(2)))
			if err := n.HandleArrival(ctx, a); err != nil {
				t.Fatal(err)
			}
			req := spy.last(t)
			if req.Present != tt.present || req.Customer != "C1" || req.Spin != a.Spin || req.Event != a.EventID || !req.At.Equal(clk.Now()) {
				t.Fatalf("request %+v, want present=%v for C1, spin %s at the node's clock", req, tt.present, a.Spin)
			}
			got := out.take()
			if len(got) != 1 || got[0].Spin != a.Spin || got[0].Reason != tt.reason {
				t.Fatalf("results %+v, want one for %s with reason %q", got, a.Spin, tt.reason)
			}
		})
	}
}

// TestNode_WheelRecovery: whatever fails between the arrival's commit and
// the result's publish, the redelivery sends the one recorded result.
func TestNode_WheelRecovery(t *testing.T) {
	ctx := context.Background()
	errDisk := errors.New("disk on fire")
	for _, tt := range []struct {
		name  string
		fault func(*spyWheel, *sink)
	}{
		{"SpinFails", func(w *spyWheel, _ *sink) { w.fail = errDisk }},
		{"PublishFails", func(_ *spyWheel, s *sink) { s.fail = errDisk }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, _, spy, out, _ := wheelNode(t)
			a := spinOf("wh-01", id(huiyan.IdentMBank, "f"+tok(9)[1:])) // a new face: allowed by this table
			tt.fault(spy, out)
			if err := n.HandleArrival(ctx, a); !errors.Is(err, errDisk) {
				t.Fatalf("first delivery: err=%v, want the failure (no acknowledgement)", err)
			}
			if got := out.take(); len(got) != 0 {
				t.Fatalf("results %+v after a failure, want none", got)
			}
			err := n.HandleArrival(ctx, a)
			if huiyan.ErrorCode(err) != firmware.EDuplicate {
				t.Fatalf("redelivery: err=%v, want duplicate", err)
			}
			got := out.take()
			if len(got) != 1 || got[0].Spin != a.Spin || got[0].Prize != "cup" || got[0].ID != a.EventID {
				t.Fatalf("redelivery sent %+v, want the cup for %s", got, a.Spin)
			}
			if err := n.HandleArrival(ctx, a); huiyan.ErrorCode(err) != firmware.EDuplicate {
				t.Fatalf("third delivery: err=%v, want duplicate", err)
			}
			if again := out.take(); len(again) != 1 || again[0] != got[0] {
				t.Fatalf("third delivery sent %+v, want %+v again", again, got[0])
			}
			if seq, _, err := spy.Head(ctx); err != nil || seq != 1 {
				t.Fatalf("audit seq=%d (%v), want one record", seq, err)
			}
		})
	}
}

// TestNode_WheelNoRoute: a node with a wheel but no result route keeps
// the arrival unacknowledged, with ErrNoWheelResults.
func TestNode_WheelNoRoute(t *testing.T) {
	w, err := wheel.Open(filepath.Join(t.TempDir(), "wheel.db"), nil, wheel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	n, _, _ := mustNodeWith(t, func(c *edge.Config) { c.Wheel = w })
	if err := n.HandleArrival(context.Background(), spinOf("wh-01", id(huiyan.IdentMBank, tok(4)))); !errors.Is(err, edge.ErrNoWheelResults) {
		t.Fatalf("err=%v, want ErrNoWheelResults", err)
	}
}

// TestNode_WheelRedelivered: every result the node sends again is the
// recorded one and is counted once in huiyan_edge_wheel_redelivered_total,
// whether the redelivery is the same arrival (answered by respin) or a new
// arrival id with a spin seen before; a result sent for the first time is
// not a redelivery, even when it is decided on the arrival's redelivery.
func TestNode_WheelRedelivered(t *testing.T) {
	ctx := context.Background()
	errDisk := errors.New("disk on fire")
	sameArrival := func(a huiyan.Arrival, _ int) huiyan.Arrival { return a }
	newArrival := func(a huiyan.Arrival, i int) huiyan.Arrival {
		a.EventID = fmt.Sprintf("%s-again%d", a.EventID, i) // the wheel lost its arrival id, kept the spin
		return a
	}
	for _, tt := range []struct {
		name  string
		fault func(*spyWheel, *sink)
		again func(huiyan.Arrival, int) huiyan.Arrival
		// sent: whether the first delivery sends a result; counted: the
		// metric after each of the two redeliveries.
		sent    bool
		counted [2]float64
	}{
		{"Answered", nil, sameArrival, true, [2]float64{1, 2}},
		{"PublishFailed", func(_ *spyWheel, s *sink) { s.fail = errDisk }, sameArrival, false, [2]float64{1, 2}},
		{"SpinFailed", func(w *spyWheel, _ *sink) { w.fail = errDisk }, sameArrival, false, [2]float64{0, 1}},
		{"NewArrivalSameSpin", nil, newArrival, true, [2]float64{1, 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := wheel.NewMetrics(nil)
			n, _, spy, out, _ := wheelNodeWith(t, wheel.Options{Metrics: m})
			a := spinOf("wh-01", id(huiyan.IdentMBank, tok(2)))
			if tt.fault != nil {
				tt.fault(spy, out)
			}
			err := n.HandleArrival(ctx, a)
			first := out.take()
			switch {
			case tt.sent && (err != nil || len(first) != 1):
				t.Fatalf("first delivery: err=%v, results %+v; want one result", err, first)
			case !tt.sent && (!errors.Is(err, errDisk) || len(first) != 0):
				t.Fatalf("first delivery: err=%v, results %+v; want the failure and no result", err, first)
			}
			if got := testutil.ToFloat64(m.Redelivered); got != 0 {
				t.Fatalf("redelivered=%v after the first delivery, want 0", got)
			}
			var recorded firmware.WheelResult
			for i, want := range tt.counted {
				err := n.HandleArrival(ctx, tt.again(a, i))
				if tt.again(a, i).EventID == a.EventID && huiyan.ErrorCode(err) != firmware.EDuplicate {
					t.Fatalf("redelivery %d: err=%v, want duplicate", i+1, err)
				}
				got := out.take()
				if len(got) != 1 || got[0].Spin != a.Spin || got[0].ID != a.EventID {
					t.Fatalf("redelivery %d sent %+v, want one result for spin %s of arrival %s", i+1, got, a.Spin, a.EventID)
				}
				if i == 0 && len(first) == 1 && got[0] != first[0] {
					t.Fatalf("redelivery sent %+v, want the recorded %+v", got[0], first[0])
				}
				if i == 1 && got[0] != recorded {
					t.Fatalf("second redelivery sent %+v, want %+v again", got[0], recorded)
				}
				recorded = got[0]
				if c := testutil.ToFloat64(m.Redelivered); c != want {
					t.Fatalf("redelivered=%v after redelivery %d, want %v", c, i+1, want)
				}
			}
			if seq, _, err := spy.Head(ctx); err != nil || seq != 1 {
				t.Fatalf("audit seq=%d (%v), want one record", seq, err)
			}
		})
	}
}

// TestNode_WheelInvalidSpin: a spin the wheel can never accept (an error
// wrapping wheel.ErrInvalid) is refused with bad_spin, which the broker
// hook and the ingest publish on the reject topic and acknowledge, instead
// of an error that keeps the arrival unacknowledged and redelivered
// forever. Nothing is recorded and no result is sent.
func TestNode_WheelInvalidSpin(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		edit func(*huiyan.Arrival, *spyWheel)
	}{
		// firmware.Decode refuses such a spin id; the node, handed it all
		// the same, must not loop on it.
		{"BadSpinID", func(a *huiyan.Arrival, _ *spyWheel) { a.Spin = "spin with spaces" }},
		{"WheelRefusesRequest", func(_ *huiyan.Arrival, w *spyWheel) {
			w.refuse = fmt.Errorf("wheel spin: %w: customer must be a pseudonymous customer id", wheel.ErrInvalid)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, _, spy, out, _ := wheelNode(t)
			a := spinOf("wh-01", id(huiyan.IdentMBank, tok(2)))
			tt.edit(&a, spy)
			// The first delivery is refused at once, the wheel's error in
			// the chain for the log.
			err := n.HandleArrival(ctx, a)
			if !errors.Is(err, wheel.ErrInvalid) {
				t.Fatalf("first delivery: err=%v, want the wheel's ErrInvalid", err)
			}
			if code := huiyan.ErrorCode(err); code != firmware.EBadSpin {
				t.Fatalf("first delivery: code %q, want bad_spin (refused and acknowledged)", code)
			}
			for i := range 2 {
				err := n.HandleArrival(ctx, a)
				if huiyan.ErrorCode(err) != firmware.EBadSpin || !errors.Is(err, wheel.ErrInvalid) {
					t.Fatalf("redelivery %d: err=%v, want bad_spin wrapping wheel.ErrInvalid (refused and acknowledged)", i+1, err)
				}
				if msg := huiyan.ErrorMessage(err); strings.Contains(msg, a.Spin) || strings.Contains(msg, "customer must") {
					t.Fatalf("reject message %q carries the payload or the wheel's internals", msg)
				}
			}
			if got := out.take(); len(got) != 0 {
				t.Fatalf("results %+v for a spin the wheel refused, want none", got)
			}
			if seq, _, err := spy.Head(ctx); err != nil || seq != 0 {
				t.Fatalf("audit seq=%d (%v), want no record", seq, err)
			}
		})
	}
}
