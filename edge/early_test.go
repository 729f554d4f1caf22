package edge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/edge/wheel"
	pad "huiyan/pad-api"
)

// gatedStore is a real bbolt store whose read-write transactions run a
// hook after their function and before their commit: the hook can look at
// the world while only the commit is left, and fail the commit by
// returning an error (bbolt then rolls back, as after a failed write).
type gatedStore struct {
	*bolt.DB
	mu      sync.Mutex
	hook    func() error
	updates int // read-write transactions that reached their commit
}

func (s *gatedStore) commits() int { s.mu.Lock(); defer s.mu.Unlock(); return s.updates }

func (s *gatedStore) setHook(h func() error) { s.mu.Lock(); s.hook = h; s.mu.Unlock() }

func (s *gatedStore) Update(ctx context.Context, fn func(edge.Tx) error) error {
	return s.DB.Update(ctx, func(tx edge.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		s.mu.Lock()
		h := s.hook
		s.updates++
		s.mu.Unlock()
		if h != nil {
			return h()
		}
		return nil
	})
}

// wsPAD is a real websocket PAD of the test's PAD server.
type wsPAD struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialPAD(t *testing.T, n *edge.Node, ts *httptest.Server) (*wsPAD, pad.HelloMsg) {
	t.Helper()
	return dialPADAs(t, ts, loginPAD(t, n))
}

// loginPAD logs the lobby manager in and returns the session token.
func loginPAD(t *testing.T, n *edge.Node) string {
	t.Helper()
	sess, err := n.Login(t.Context(), "lobby-B001", "246810")
	if err != nil {
		t.Fatal(err)
	}
	return sess.Token
}

func dialPADAs(t *testing.T, ts *httptest.Server, token string) (*wsPAD, pad.HelloMsg) {
	t.Helper()
	h := http.Header{}
	h.Set("Cookie", (&http.Cookie{Name: pad.CookieName, Value: token}).String())
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/pad/ws", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	p := &wsPAD{t: t, ws: ws}
	var hello pad.HelloMsg
	p.read(pad.TypeHello, &hello)
	return p, hello
}

// next reads the next message, its type and its bytes.
func (p *wsPAD) next() (string, []byte, error) {
	_ = p.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := p.ws.ReadMessage()
	if err != nil {
		return "", nil, err
	}
	var m struct{ Type string }
	if err := json.Unmarshal(data, &m); err != nil {
		return "", nil, err
	}
	return m.Type, data, nil
}

// read reads messages until one of type typ, into v; device messages (the
// fixture's first arrival makes its counter known) are passed over.
func (p *wsPAD) read(typ string, v any) {
	p.t.Helper()
	for {
		got, data, err := p.next()
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if got == pad.TypeDevice && typ != pad.TypeDevice {
			continue
		}
		if got != typ {
			p.t.Fatalf("got %s %s, want %s", got, data, typ)
		}
		if err := json.Unmarshal(data, v); err != nil {
			p.t.Fatal(err)
		}
		return
	}
}

func (p *wsPAD) resume(after uint64) {
	p.t.Helper()
	if err := p.ws.WriteJSON(pad.ResumeMsg{Type: pad.TypeResume, AfterSeq: after}); err != nil {
		p.t.Fatal(err)
	}
}

func newest(t *testing.T, n *edge.Node) uint64 {
	t.Helper()
	s, err := n.Newest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func stateVisits(st pad.StateMsg) []string {
	var ids []string
	for _, c := range st.Visits {
		ids = append(ids, c.Visit.ID)
	}
	return ids
}

// TestNode_PADSeesArrivalBeforeCommit: the PAD has an arrival while only
// its commit is left (the fsync is off the PAD-visible path), HandleArrival
// still returns only once it is durable; an arrival whose commit fails is
// retracted — every PAD is made to resync and gets a state without it — and
// its seq never names another event, not even after a restart.
func TestNode_PADSeesArrivalBeforeCommit(t *testing.T) {
	ctx := t.Context()
	store := &gatedStore{DB: mustFixtureDB(t)}
	n, clk, rec := mustNodeOn(t, store, nil)
	srv := pad.NewServer(n, pad.Options{Branch: "B001", Clock: clk.Now})
	n.SetPADs(srv)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(func() { _ = srv.Close() })

	p, _ := dialPAD(t, n, ts)
	pResume, _ := dialPAD(t, n, ts)
	lateToken := loginPAD(t, n) // a login writes: not while the commit is held

	// 1. Shown before the commit. While only the commit is left, a PAD
	// that connects and one that resumes from scratch get it too: after
	// what the store has, the server sends what is in flight.
	var early, late, resumed pad.ArrivalMsg
	var lateHello pad.HelloMsg
	var resumedState pad.StateMsg
	var durableWhileShown uint64
	store.setHook(func() error {
		p.read(pad.TypeArrival, &early)
		durableWhileShown = newest(t, n)
		var pLate *wsPAD
		pLate, lateHello = dialPADAs(t, ts, lateToken)
		pLate.read(pad.TypeArrival, &late)
		pResume.read(pad.TypeArrival, &resumed) // live
		pResume.resume(0)
		pResume.read(pad.TypeState, &resumedState)
		pResume.read(pad.TypeArrival, &resumed)
		return nil
	})
	if err := n.HandleArrival(ctx, arrival(huiyan.ChannelCounter, "sc-01", clk.Now(), id(huiyan.IdentIDCard, tok(1)))); err != nil {
		t.Fatal(err)
	}
	store.setHook(nil)
	if early.Seq == 0 || durableWhileShown >= early.Seq {
		t.Fatalf("PAD had seq %d while the store's newest was %d: want it shown before its commit", early.Seq, durableWhileShown)
	}
	if lateHello.Seq >= early.Seq || late.Seq != early.Seq || late.Visit.ID != early.Visit.ID {
		t.Fatalf("a PAD connecting in flight: hello %d, then seq %d visit %s; want the arrival %d (%s) after a hello before it",
			lateHello.Seq, late.Seq, late.Visit.ID, early.Seq, early.Visit.ID)
	}
	if resumedState.Seq >= early.Seq || len(resumedState.Visits) != 0 || resumed.Seq != early.Seq {
		t.Fatalf("a PAD resuming in flight: state seq %d with %d visits, then seq %d; want the state before %d and then the arrival",
			resumedState.Seq, len(resumedState.Visits), resumed.Seq, early.Seq)
	}
	// The committed publishers (outbox, heartbeat) have it only now: the
	// arrival and the counter's first-seen device event.
	evs := rec.take()
	if len(evs) != 2 || evs[0].Seq != early.Seq || evs[0].Kind != huiyan.FeedArrival {
		t.Fatalf("committed publishers got %v, want the arrival (seq %d) and its device", kinds(evs), early.Seq)
	}
	if got := newest(t, n); got != evs[1].Seq {
		t.Fatalf("after HandleArrival newest = %d, want %d: it must return once the arrival is durable", got, evs[1].Seq)
	}

	// 2. A commit that fails after the PAD saw the arrival.
	var phantom pad.ArrivalMsg
	store.setHook(func() error {
		p.read(pad.TypeArrival, &phantom)
		return errors.New("write /data/edge.db: input/output error")
	})
	redelivered := arrival(huiyan.ChannelCounter, "sc-01", clk.Now(), id(huiyan.IdentIDCard, tok(3)))
	if err := n.HandleArrival(ctx, redelivered); err == nil {
		t.Fatal("HandleArrival: nil after a failed commit, want an error (the device must not be acknowledged)")
	}
	store.setHook(nil)
	if phantom.Seq <= early.Seq {
		t.Fatalf("phantom seq %d, want after %d", phantom.Seq, early.Seq)
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Fatalf("committed publishers got %v for a failed commit, want nothing", kinds(evs))
	}
	// The PAD is told to resync: an error, then "try again later".
	var ce *websocket.CloseError
	for {
		typ, data, err := p.next()
		if errors.As(err, &ce) {
			break
		}
		if err != nil {
			t.Fatalf("after the retraction: %v, want a close frame", err)
		}
		if typ != pad.TypeError {
			t.Fatalf("after the retraction got %s, want error then close", data)
		}
	}
	if ce.Code != websocket.CloseTryAgainLater {
		t.Fatalf("close code %d, want %d (try again later)", ce.Code, websocket.CloseTryAgainLater)
	}
	// A transaction that appends nothing (no visit to close) commits the
	// skip: the newest seq moves past the phantom's, never onto it (a
	// resume from the newest seq is not checked against the feed).
	if err := n.CloseExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got := newest(t, n); got <= phantom.Seq {
		t.Fatalf("newest seq %d after the skip, want past the phantom's %d", got, phantom.Seq)
	}
	// The PAD comes back and resumes after the seq it was shown: a state
	// without the phantom visit.
	p2, hello := dialPAD(t, n, ts)
	if hello.Seq != phantom.Seq+1 {
		t.Fatalf("hello seq %d, want %d: one past the phantom, naming no event", hello.Seq, phantom.Seq+1)
	}
	p2.resume(phantom.Seq)
	var st pad.StateMsg
	p2.read(pad.TypeState, &st)
	if ids := stateVisits(st); len(ids) != 1 || ids[0] != early.Visit.ID {
		t.Fatalf("state after the retraction has visits %v, want only %s", ids, early.Visit.ID)
	}

	// 3. The device resends; the arrival commits under a seq past the
	// phantom's, and a PAD resuming from the phantom's seq gets the state.
	if err := n.HandleArrival(ctx, redelivered); err != nil {
		t.Fatal(err)
	}
	var again pad.ArrivalMsg
	p2.read(pad.TypeArrival, &again)
	if again.Seq <= phantom.Seq || again.Visit.ID == phantom.Visit.ID {
		t.Fatalf("redelivery: seq %d visit %s, want a seq after the phantom's %d and a new visit", again.Seq, again.Visit.ID, phantom.Seq)
	}
	p3, _ := dialPAD(t, n, ts)
	p3.resume(phantom.Seq)
	p3.read(pad.TypeState, &st)
	if ids := stateVisits(st); len(ids) != 2 || !strings.Contains(strings.Join(ids, " "), again.Visit.ID) || strings.Contains(strings.Join(ids, " "), phantom.Visit.ID) {
		t.Fatalf("state for a PAD resuming from the phantom: visits %v, want %s and %s", ids, early.Visit.ID, again.Visit.ID)
	}
	// A PAD resuming from a real seq is replayed, not reset.
	p4, _ := dialPAD(t, n, ts)
	p4.resume(early.Seq)
	var replayed pad.ArrivalMsg
	p4.read(pad.TypeArrival, &replayed)
	if replayed.Seq != again.Seq {
		t.Fatalf("resume after %d replayed seq %d, want %d", early.Seq, replayed.Seq, again.Seq)
	}

	// 4. A restart (the last run may have died between showing an arrival
	// and committing it): the first new event skips FeedGap seqs.
	before := newest(t, n)
	n.Close()
	n2 := edge.NewNode(store, edge.Config{Branch: "B001", Clock: clk.Now, CloseEvery: time.Hour})
	if err := n2.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n2.Close() })
	// The skip is on disk before any arrival: a second crash before the
	// first commit must not let a third run reuse this run's seqs.
	if got := newest(t, n2); got != before+edge.FeedGap {
		t.Fatalf("newest seq %d right after Open, want %d + %d committed", got, before, edge.FeedGap)
	}
	srv2 := pad.NewServer(n2, pad.Options{Branch: "B001", Clock: clk.Now})
	n2.SetPADs(srv2)
	ts2 := httptest.NewServer(srv2.Handler())
	t.Cleanup(ts2.Close)
	t.Cleanup(func() { _ = srv2.Close() })
	p5, _ := dialPAD(t, n2, ts2)
	if err := n2.HandleArrival(ctx, arrival(huiyan.ChannelCounter, "sc-01", clk.Now(), id(huiyan.IdentIDCard, tok(9)))); err != nil {
		t.Fatal(err)
	}
	var after pad.ArrivalMsg
	p5.read(pad.TypeArrival, &after)
	if after.Seq <= before+edge.FeedGap {
		t.Fatalf("first seq after a restart %d, want more than %d + %d", after.Seq, before, edge.FeedGap)
	}
	// What the dead run might have shown (before+1) names nothing now.
	p6, _ := dialPAD(t, n2, ts2)
	p6.resume(before + 1)
	p6.read(pad.TypeState, &st)
}

// TestNode_GroupCommit: arrivals that queue while a commit is under way
// share the next transaction, each returns only once it is durable, the
// PADs get every event once and in seq order, and a batch whose commit
// fails is retried arrival by arrival so that none is lost.
func TestNode_GroupCommit(t *testing.T) {
	ctx := t.Context()
	store := &gatedStore{DB: mustFixtureDB(t)}
	n, clk, rec := mustNodeOn(t, store, nil)
	pads := &padRecorder{}
	n.SetPADs(pads)

	for _, tt := range []struct {
		name     string
		failNext bool // fail the commit after the held one: the grouped batch
		base     byte // new-face tokens of this case
	}{
		{"Commit", false, 100},
		{"FailedCommit", true, 150},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The first transaction holds its commit until the others have
			// queued behind it.
			var calls atomic.Int32
			first, release := make(chan struct{}), make(chan struct{})
			store.setHook(func() error {
				switch calls.Add(1) {
				case 1:
					close(first)
					<-release
				case 2:
					if tt.failNext {
						return errors.New("write /data/edge.db: no space left on device")
					}
				}
				return nil
			})
			defer store.setHook(nil)
			before := store.commits()
			pads.take()
			rec.take()
			retractions := pads.retractions()
			const arrivals = 12
			errs := make(chan error, arrivals)
			as := make([]huiyan.Arrival, arrivals) // arrival() is not for goroutines
			for i := range as {
				as[i] = arrival(huiyan.ChannelCounter, "sc-02", clk.Now(), id(huiyan.IdentIDCard, rtok(5000+int(tt.base)+i)))
			}
			send := func(i int) { errs <- n.HandleArrival(ctx, as[i]) }
			go send(0)
			<-first // the first arrival is in its commit
			for i := 1; i < arrivals; i++ {
				go send(i)
			}
			time.Sleep(200 * time.Millisecond) // they queue behind the held commit
			close(release)
			for range arrivals {
				select {
				case err := <-errs:
					if err != nil {
						t.Fatalf("HandleArrival: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("an arrival did not return")
				}
			}
			commits := store.commits() - before
			var committed []huiyan.FeedEvent
			for _, e := range rec.take() {
				if e.Kind == huiyan.FeedArrival {
					committed = append(committed, e)
				}
			}
			if len(committed) != arrivals {
				t.Fatalf("committed publishers got %d arrivals, want %d", len(committed), arrivals)
			}
			// The held one, then the other eleven together (on a loaded
			// machine one may come late and make a batch of its own); with
			// a failure, the failed batch and then each of it alone.
			if !tt.failNext && commits > 3 {
				t.Fatalf("%d arrivals took %d transactions to their commit, want them grouped (2, at most 3)", arrivals, commits)
			}
			if tt.failNext && commits < 3 {
				t.Fatalf("%d arrivals took %d transactions with a failed batch, want the batch retried arrival by arrival", arrivals, commits)
			}
			// The PADs got every committed arrival, each seq once and in
			// order (a retracted seq was shown, then skipped, never reused),
			// and every seq is on disk as it was shown.
			shown := map[uint64]huiyan.FeedEvent{}
			var last uint64
			for _, e := range pads.take() {
				if e.Seq <= last {
					t.Fatalf("PADs got seq %d after %d", e.Seq, last)
				}
				last = e.Seq
				shown[e.Seq] = e
			}
			for _, e := range committed {
				if s, ok := shown[e.Seq]; !ok || s.Visit.ID != e.Visit.ID {
					t.Fatalf("committed seq %d (visit %s) did not reach the PADs as committed", e.Seq, e.Visit.ID)
				}
				got, _, err := n.FeedAfter(ctx, e.Seq-1, 1)
				if err != nil || len(got) != 1 || got[0].Seq != e.Seq || got[0].Visit.ID != e.Visit.ID {
					t.Fatalf("seq %d not on disk as published: %v %v", e.Seq, got, err)
				}
			}
			if got := pads.retractions() - retractions; tt.failNext != (got == 1) || got > 1 {
				t.Fatalf("%d retractions, want %d", got, map[bool]int{true: 1}[tt.failNext])
			}
		})
	}
}

// padRecorder is a PADs that keeps what it was given.
type padRecorder struct {
	mu      sync.Mutex
	evs     []huiyan.FeedEvent
	retract int
}

func (p *padRecorder) Publish(e huiyan.FeedEvent) {
	p.mu.Lock()
	p.evs = append(p.evs, e)
	p.mu.Unlock()
}
func (p *padRecorder) Retract(string)   { p.mu.Lock(); p.retract++; p.mu.Unlock() }
func (p *padRecorder) Committed(uint64) {}
func (p *padRecorder) retractions() int { p.mu.Lock(); defer p.mu.Unlock(); return p.retract }
func (p *padRecorder) take() []huiyan.FeedEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.evs
	p.evs = nil
	return out
}

// TestNode_SpinDuringCommit: a wheel arrival's spin is decided while the
// arrival's own transaction commits (the two fsyncs overlap), its result
// is sent only after both; if the arrival's commit then fails, nothing is
// sent, and the device's redelivery gets the result decided the first
// time, with no second draw.
func TestNode_SpinDuringCommit(t *testing.T) {
	ctx := t.Context()
	ts, err := wheel.Parse(strings.NewReader("campaign,c1\nstarts,2026-11-01\nends,2026-12-31\nspins_per_day,5\nunknown_customers,allow\n" +
		wheel.Header + "\nB001,cup,保温杯,Thermos cup,500000,100,,\nB001,,谢谢参与,Thanks for playing,rest,,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := wheel.Open(filepath.Join(t.TempDir(), "wheel.db"), ts["B001"], wheel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	store := &gatedStore{DB: mustFixtureDB(t)}
	n, _, _ := mustNodeOn(t, store, func(c *edge.Config) { c.Wheel = w })
	out := &sink{}
	n.SetWheelResults(out)

	a := spinOf("wh-01", id(huiyan.IdentMBank, tok(2)))
	var decided wheel.Result
	store.setHook(func() error {
		// The arrival is written and not committed: the spin is under way
		// and lands in wheel.db without waiting for this commit.
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, err := w.Lookup(ctx, a.Device, a.Spin)
			if err == nil {
				decided = r
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the spin was not decided while the arrival's commit waited: %w", err)
			}
			time.Sleep(time.Millisecond)
		}
		if got := out.take(); len(got) != 0 {
			return fmt.Errorf("result %+v sent before the arrival's commit", got)
		}
		return errors.New("write /data/edge.db: input/output error")
	})
	if err := n.HandleArrival(ctx, a); err == nil || !strings.Contains(err.Error(), "input/output") {
		t.Fatalf("HandleArrival with a failed commit: %v, want the commit's error", err)
	}
	store.setHook(nil)
	if decided.Seq == 0 {
		t.Fatal("the spin was not decided during the commit")
	}
	if got := out.take(); len(got) != 0 {
		t.Fatalf("results %+v sent for an arrival that did not commit, want none", got)
	}
	// The device resends: the arrival is recorded now, and the wheel gets
	// the result decided the first time.
	if err := n.HandleArrival(ctx, a); err != nil {
		t.Fatal(err)
	}
	got := out.take()
	if len(got) != 1 || got[0].Spin != a.Spin || got[0].Prize != decided.Prize || got[0].Reason != decided.Reason {
		t.Fatalf("redelivery sent %+v, want the first decision (prize %q, reason %q)", got, decided.Prize, decided.Reason)
	}
	if again, err := w.Lookup(ctx, a.Device, a.Spin); err != nil || again.Seq != decided.Seq {
		t.Fatalf("audit record %d after the redelivery (%v), want still %d: no second draw", again.Seq, err, decided.Seq)
	}
}
