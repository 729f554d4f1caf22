package edge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/hub"
)

// eventsHub stands in for the hub's events endpoint: it stores events by
// id, once, in the order they first came, and can be told to fail.
type eventsHub struct {
	srv *httptest.Server

	mu       sync.Mutex
	mode     string // "", "down" (503, nothing stored), "refuse" (401, nothing stored), "lose" (store, then 502), "drop" (store, then close the connection), "hang" (store, then wait for the client to go)
	byID     map[string]hub.EventWire
	order    []string
	received map[string]int // how many times each id was posted
	posts    int
	postedAt []time.Time   // when each post came
	hanging  chan struct{} // closed when a "hang" request has stored its batch
}

func newEventsHub(t *testing.T) *eventsHub {
	t.Helper()
	h := &eventsHub{byID: map[string]hub.EventWire{}, received: map[string]int{}, hanging: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *eventsHub) setMode(m string) { h.mu.Lock(); h.mode = m; h.mu.Unlock() }

func (h *eventsHub) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != hub.EventsPath("B001") {
		http.NotFound(w, r)
		return
	}
	var b hub.EventBatch
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Validate() != nil {
		http.Error(w, "bad batch", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.posts++
	h.postedAt = append(h.postedAt, time.Now())
	mode := h.mode
	switch mode {
	case "down":
		h.mu.Unlock()
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	case "refuse":
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(hub.ErrorResponse{Code: "unauthorized", Message: "unknown or revoked credential"})
		return
	}
	var ack hub.EventAck
	for _, e := range b.Events {
		h.received[e.ID]++
		if _, ok := h.byID[e.ID]; ok {
			ack.Duplicates++
			continue
		}
		h.byID[e.ID] = e
		h.order = append(h.order, e.ID)
		ack.Accepted++
	}
	h.mu.Unlock()
	switch mode {
	case "lose":
		http.Error(w, "bad gateway", http.StatusBadGateway)
	case "drop":
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case "hang":
		close(h.hanging)
		<-r.Context().Done()
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ack)
	}
}

// kindsByVisit returns the kinds the hub holds for every visit, in the
// order they arrived.
func (h *eventsHub) kindsByVisit() map[string][]hub.EventKind {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]hub.EventKind{}
	for _, id := range h.order {
		e := h.byID[id]
		out[e.Visit] = append(out[e.Visit], e.Kind)
	}
	return out
}

func (h *eventsHub) stored() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.byID) }

// outboxEdge is a node on a real bbolt file at path, provisioned like
// mustNode's on first use.
type outboxEdge struct {
	node *edge.Node
	db   *bolt.DB
	clk  *clock
	rec  *recorder
}

func mustOutboxEdge(t *testing.T, path string, clk *clock, opts ...bolt.Option) *outboxEdge {
	t.Helper()
	db, err := bolt.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var meta edge.Meta
	if err := db.View(t.Context(), func(tx edge.Tx) error { meta, err = tx.Meta(); return err }); err != nil {
		t.Fatal(err)
	}
	if meta.SnapshotVersion == 0 {
		dict := huiyan.DefaultTagDict()
		cs := []*huiyan.Customer{
			{ID: "C1", DisplayName: "林*华", Tier: huiyan.TierNormal, HomeBranch: "B001", MBankStatus: huiyan.MBankDormant, MBankIdleDays: 200,
				Risk: "R2", AUMBand: "aum_10k_50k", Lifecycle: huiyan.LifecycleChurning, Tokens: []huiyan.Ident{id(huiyan.IdentIDCard, tok(1)), id(huiyan.IdentMBank, tok(2))}},
			{ID: "C2", DisplayName: "王*", Tier: huiyan.TierGold, HomeBranch: "B001", MBankStatus: huiyan.MBankNone,
				Risk: "R3", AUMBand: "aum_50k_200k", Lifecycle: huiyan.LifecycleMature, Tokens: []huiyan.Ident{id(huiyan.IdentIDCard, tok(3))}},
		}
		staff := []huiyan.Staff{
			{ID: "lobby-B001", Branch: "B001", Role: huiyan.RoleLobby, DisplayName: "陈强"},
			{ID: "lobby2-B001", Branch: "B001", Role: huiyan.RoleLobby, DisplayName: "刘菲"},
			{ID: "supervisor-B001", Branch: "B001", Role: huiyan.RoleSupervisor, DisplayName: "张敏"},
		}
		seq := func(yield func(*huiyan.Customer, error) bool) {
			for _, c := range cs {
				if !yield(c, nil) {
					return
				}
			}
		}
		if err := db.ReplaceSnapshot(t.Context(), edge.Meta{Branch: "B001", SnapshotVersion: 1, KeyID: "k1", DictVersion: dict.Version()}, dict, staff, seq, nil); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	n := edge.NewNode(db, edge.Config{Branch: "B001", Clock: clk.Now, CloseEvery: time.Hour})
	n.SetPublisher(rec)
	if err := n.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return &outboxEdge{node: n, db: db, clk: clk, rec: rec}
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 23, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))}
}

func mustSender(t *testing.T, e *outboxEdge, h *eventsHub, m *edge.OutboxMetrics, cfg edge.SenderConfig) *edge.Sender {
	t.Helper()
	c, err := hub.NewClient(h.srv.URL, "edge-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Branch, cfg.Client, cfg.Clock, cfg.Metrics = "B001", c, e.clk.Now, m
	if cfg.Poll == 0 {
		cfg.Poll = 5 * time.Millisecond
	}
	if cfg.Backoff == 0 {
		cfg.Backoff, cfg.MaxBackoff = 2*time.Millisecond, 20*time.Millisecond
	}
	return edge.NewSender(e.db, cfg)
}

// scriptedDay runs the visits the tests expect (wantKinds): C1 at the
// counter, then scanning the e-code (an activation), claimed, released by
// a supervisor, an outcome by another lobby manager (who so claims it);
// C2 (no mobile banking) scans the e-code (a new user); a new face at the
// counter; then everything closes.
func scriptedDay(t *testing.T, e *outboxEdge) (v1, v2, v3 string) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	lastVisit := func() string {
		evs := e.rec.take()
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Visit != nil {
				return evs[i].Visit.ID
			}
		}
		t.Fatal("no visit event")
		return ""
	}
	must(e.node.HandleArrival(ctx, arrival(huiyan.ChannelCounter, "sc-01", e.clk.Now(), id(huiyan.IdentIDCard, tok(1)))))
	v1 = lastVisit()
	e.clk.Add(time.Minute)
	must(e.node.HandleArrival(ctx, arrival(huiyan.ChannelECode, "ecode-01", e.clk.Now(), id(huiyan.IdentMBank, tok(2)))))
	must(e.node.Claim(ctx, "lobby-B001", v1))
	must(e.node.Release(ctx, "supervisor-B001", v1))
	must(e.node.Outcome(ctx, "lobby2-B001", v1, huiyan.OutcomeActivated))
	must(e.node.HandleArrival(ctx, arrival(huiyan.ChannelECode, "ecode-01", e.clk.Now(), id(huiyan.IdentIDCard, tok(3)))))
	v2 = lastVisit()
	must(e.node.HandleArrival(ctx, arrival(huiyan.ChannelCounter, "sc-01", e.clk.Now(), id(huiyan.IdentIDCard, tok(9)))))
	v3 = lastVisit()
	e.clk.Add(31 * time.Minute)
	must(e.node.CloseExpired(ctx))
	return v1, v2, v3
}

var (
	wantV1 = []hub.EventKind{hub.EventOpened, hub.EventTouch, hub.EventConverted, hub.EventClaimed, hub.EventReleased,
		hub.EventClaimed, hub.EventOutcome, hub.EventClosed}
	wantV2      = []hub.EventKind{hub.EventOpened, hub.EventConverted, hub.EventClosed}
	wantV3      = []hub.EventKind{hub.EventOpened, hub.EventClosed}
	wantScripts = len(wantV1) + len(wantV2) + len(wantV3)
)

// metric returns the value of the gauge or counter name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		if g := mf.GetMetric()[0].GetGauge(); g != nil {
			return g.GetValue()
		}
		return mf.GetMetric()[0].GetCounter().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func outboxStats(t *testing.T, db *bolt.DB) edge.OutboxStats {
	t.Helper()
	var st edge.OutboxStats
	if err := db.View(context.Background(), func(tx edge.Tx) error { var err error; st, err = tx.OutboxStats(); return err }); err != nil {
		t.Fatal(err)
	}
	return st
}

// poll waits for cond with a deadline (STYLE.md: never sleep for a result).
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runSender(t *testing.T, s *edge.Sender) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func checkDay(t *testing.T, h *eventsHub, v1, v2, v3 string) {
	t.Helper()
	got := h.kindsByVisit()
	for v, want := range map[string][]hub.EventKind{v1: wantV1, v2: wantV2, v3: wantV3} {
		if !slices.Equal(got[v], want) {
			t.Errorf("visit %s: hub has %v, want %v", v, got[v], want)
		}
	}
	if n := h.stored(); n != wantScripts {
		t.Errorf("hub stored %d events, want %d", n, wantScripts)
	}
}

func TestSender_HubDownThenBack(t *testing.T) {
	h := newEventsHub(t)
	h.setMode("down")
	e := mustOutboxEdge(t, filepath.Join(t.TempDir(), "edge.db"), newClock())
	reg := prometheus.NewRegistry()
	m := edge.NewOutboxMetrics(reg)
	s := mustSender(t, e, h, m, edge.SenderConfig{WarnDepth: 5})
	runSender(t, s)

	// The hub is down: the branch keeps working and the outbox grows.
	v1, v2, v3 := scriptedDay(t, e)
	if st := outboxStats(t, e.db); st.Depth != wantScripts {
		t.Fatalf("outbox depth=%d, want %d", st.Depth, wantScripts)
	}
	poll(t, "failed posts", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.posts >= 3 })
	poll(t, "the depth gauge", func() bool { return metric(t, reg, "huiyan_edge_outbox_depth") == float64(wantScripts) })
	if w := s.Warn(); !strings.Contains(w, "outbox holds") {
		t.Errorf("warn=%q, want the depth warning", w)
	}
	if h.stored() != 0 {
		t.Fatalf("hub stored %d events while down", h.stored())
	}

	// The hub is back: everything arrives once, in order per visit.
	h.setMode("")
	poll(t, "an empty outbox", func() bool { return outboxStats(t, e.db).Depth == 0 })
	checkDay(t, h, v1, v2, v3)
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, n := range h.received {
		if n != 1 {
			t.Errorf("event %s posted %d times, want once", id, n)
		}
	}
	poll(t, "the sent counter", func() bool { return metric(t, reg, "huiyan_edge_outbox_sent_total") == float64(wantScripts) })
	if metric(t, reg, "huiyan_edge_outbox_send_failures_total") < 1 {
		t.Errorf("failures=%v, want some", metric(t, reg, "huiyan_edge_outbox_send_failures_total"))
	}
	poll(t, "no warning", func() bool { return s.Warn() == "" })

	// Events of one change are in the outbox with the change: a later
	// change goes after them, and the ids are stable ("{visit}:{seq}:{kind}").
	for _, id := range h.order {
		ev := h.byID[id]
		if !strings.HasPrefix(id, ev.Visit+":") || !strings.HasSuffix(id, ":"+string(ev.Kind)) {
			t.Errorf("id %q of a %s event of %s: want {visit}:{seq}:{kind}", id, ev.Kind, ev.Visit)
		}
	}
}

func TestSender_LostAck(t *testing.T) {
	for _, mode := range []string{"lose", "drop"} {
		t.Run(mode, func(t *testing.T) {
			h := newEventsHub(t)
			e := mustOutboxEdge(t, filepath.Join(t.TempDir(), "edge.db"), newClock())
			v1, v2, v3 := scriptedDay(t, e)
			h.setMode(mode)
			s := mustSender(t, e, h, nil, edge.SenderConfig{Batch: 4})
			if _, err := s.SendOnce(t.Context()); err == nil {
				t.Fatal("send with a lost answer: err=nil")
			}
			if st := outboxStats(t, e.db); st.Depth != wantScripts {
				t.Fatalf("outbox depth=%d after a lost answer, want %d (nothing acknowledged)", st.Depth, wantScripts)
			}
			if h.stored() != 4 {
				t.Fatalf("hub stored %d events, want the first batch of 4", h.stored())
			}
			h.setMode("")
			runSender(t, s)
			poll(t, "an empty outbox", func() bool { return outboxStats(t, e.db).Depth == 0 })
			checkDay(t, h, v1, v2, v3)
			h.mu.Lock()
			defer h.mu.Unlock()
			resent := 0
			for _, n := range h.received {
				if n > 1 {
					resent++
				}
			}
			if resent != 4 {
				t.Errorf("%d events posted more than once, want the 4 of the lost batch", resent)
			}
		})
	}
}

// TestSender_KilledMidSend cancels the sender while the hub holds a batch
// it has stored but not answered, closes the edge, reopens the same file and
// sends again: every event is at the hub once.
func TestSender_KilledMidSend(t *testing.T) {
	h := newEventsHub(t)
	path := filepath.Join(t.TempDir(), "edge.db")
	clk := newClock()
	e := mustOutboxEdge(t, path, clk)
	v1, v2, v3 := scriptedDay(t, e)
	h.setMode("hang")
	s := mustSender(t, e, h, nil, edge.SenderConfig{Batch: 5})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := s.SendOnce(ctx); errc <- err }()
	<-h.hanging
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled send: err=nil")
	}
	if err := e.node.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}

	h.setMode("")
	e = mustOutboxEdge(t, path, clk)
	if st := outboxStats(t, e.db); st.Depth != wantScripts {
		t.Fatalf("outbox depth after reopen=%d, want %d", st.Depth, wantScripts)
	}
	s = mustSender(t, e, h, nil, edge.SenderConfig{Batch: 5})
	for outboxStats(t, e.db).Depth > 0 {
		if _, err := s.SendOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	checkDay(t, h, v1, v2, v3)
}

// TestSender_Limit checks the policy at the limit (edge/DESIGN.md,
// "Outbox"): the oldest events are dropped, counted in the store and the
// metric, and /healthz warns; the newest are sent.
func TestSender_Limit(t *testing.T) {
	h := newEventsHub(t)
	h.setMode("down")
	e := mustOutboxEdge(t, filepath.Join(t.TempDir(), "edge.db"), newClock(), bolt.WithOutboxLimits(6, 0))
	reg := prometheus.NewRegistry()
	m := edge.NewOutboxMetrics(reg)
	s := mustSender(t, e, h, m, edge.SenderConfig{})
	if _, err := s.SendOnce(t.Context()); err != nil {
		t.Fatal(err) // an empty outbox: nothing to send
	}
	_, _, v3 := scriptedDay(t, e)
	st := outboxStats(t, e.db)
	if st.Depth != 6 || st.Dropped != uint64(wantScripts-6) {
		t.Fatalf("stats=%+v, want depth 6, dropped %d", st, wantScripts-6)
	}
	if _, err := s.SendOnce(t.Context()); err == nil {
		t.Fatal("send to a down hub: err=nil")
	}
	if got := metric(t, reg, "huiyan_edge_outbox_dropped_total"); got != float64(wantScripts-6) {
		t.Errorf("huiyan_edge_outbox_dropped_total=%v, want %d", got, wantScripts-6)
	}
	if w := s.Warn(); !strings.Contains(w, "dropped unsent") {
		t.Errorf("warn=%q, want the drop warning", w)
	}
	h.setMode("")
	for outboxStats(t, e.db).Depth > 0 {
		if _, err := s.SendOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// The newest six: the closes of all three visits and what came just
	// before them; the visit opened last is whole.
	if got := h.kindsByVisit()[v3]; !slices.Equal(got, wantV3) {
		t.Errorf("visit %s: hub has %v, want %v", v3, got, wantV3)
	}
	if n := h.stored(); n != 6 {
		t.Errorf("hub stored %d events, want 6", n)
	}
}

// TestSender_NoCustomerData marshals every event the hub got and looks for
// anything that names a customer: ids, names, tokens.
func TestSender_NoCustomerData(t *testing.T) {
	h := newEventsHub(t)
	e := mustOutboxEdge(t, filepath.Join(t.TempDir(), "edge.db"), newClock())
	scriptedDay(t, e)
	s := mustSender(t, e, h, nil, edge.SenderConfig{})
	for outboxStats(t, e.db).Depth > 0 {
		if _, err := s.SendOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.byID) != wantScripts {
		t.Fatalf("hub stored %d events, want %d", len(h.byID), wantScripts)
	}
	for _, ev := range h.byID {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, bad := range []string{`"C1"`, `"C2"`, "C1", "C2", "林", "王", tok(1)[:16], tok(2)[:16], tok(3)[:16], tok(9)[:16], "face:"} {
			if strings.Contains(s, bad) {
				t.Errorf("event %s carries %q: %s", ev.ID, bad, s)
			}
		}
		if ev.Kind == hub.EventOpened && ev.Recognised && (ev.Tier == "" || ev.MBankAtOpen == "") {
			t.Errorf("opened event %s of a known customer without tier or status: %s", ev.ID, s)
		}
	}
}

func (h *eventsHub) postCount() int { h.mu.Lock(); defer h.mu.Unlock(); return h.posts }

// TestSender_WakesOnCommit: with a poll far longer than the test, events
// still reach the hub, in order, because the node's publisher wakes the
// sender right after each commit.
func TestSender_WakesOnCommit(t *testing.T) {
	h := newEventsHub(t)
	e := mustOutboxEdge(t, filepath.Join(t.TempDir(), "edge.db"), newClock())
	s := mustSender(t, e, h, nil, edge.SenderConfig{Poll: time.Hour})
	e.node.SetPublisher(edge.Publishers{e.rec, s})
	runSender(t, s)
	// Run looked at the empty outbox once and now waits for an hour.
	poll(t, "the first look", func() bool { return s.Stats().MaxDepth > 0 })
	if n := h.postCount(); n != 0 {
		t.Fatalf("%d posts before any event", n)
	}

	v1, v2, v3 := scriptedDay(t, e)
	poll(t, "every event at the hub", func() bool { return h.stored() == wantScripts })
	checkDay(t, h, v1, v2, v3)
	poll(t, "an empty outbox", func() bool { return outboxStats(t, e.db).Depth == 0 })

	// One more change, one more wake-up.
	if err := e.node.HandleArrival(t.Context(), arrival(huiyan.ChannelCounter, "sc-01", e.clk.Now(), id(huiyan.IdentIDCard, tok(1)))); err != nil {
		t.Fatal(err)
	}
	poll(t, "the new visit's opening at the hub", func() bool { return h.stored() == wantScripts+1 })
}

// TestSender_Refused: a hub that refuses the credential (401) is tried
// once per MaxBackoff, however many events the branch commits; the
// outbox keeps everything, /healthz and the metric name the refusal, and
// when the credential works again everything arrives once, in order.
func TestSender_Refused(t *testing.T) {
	const maxBackoff = 60 * time.Millisecond
	h := newEventsHub(t)
	h.setMode("refuse")
	e := mustOutboxEdge(t, filepath.Join(t.TempDir(), "edge.db"), newClock())
	reg := prometheus.NewRegistry()
	m := edge.NewOutboxMetrics(reg)
	s := mustSender(t, e, h, m, edge.SenderConfig{Poll: time.Hour, Backoff: time.Millisecond, MaxBackoff: maxBackoff})
	e.node.SetPublisher(edge.Publishers{e.rec, s})

	// Events first, so that the first try is refused.
	v1, v2, v3 := scriptedDay(t, e)
	began := time.Now()
	runSender(t, s)
	poll(t, "three refused posts", func() bool { return h.postCount() >= 3 })
	// Commits during the refusal must not wake the sender.
	for i := range 20 {
		if err := e.node.HandleArrival(t.Context(), arrival(huiyan.ChannelCounter, "sc-02", e.clk.Now(), id(huiyan.IdentIDCard, tok(byte(5+i%3))))); err != nil {
			t.Fatal(err)
		}
	}
	poll(t, "two more refused posts", func() bool { return h.postCount() >= 5 })
	elapsed := time.Since(began)
	posts := h.postCount()
	// Every wait after a refusal is at least half the cap, so in elapsed
	// there is room for at most elapsed/(cap/2) + 1 posts (a lower bound
	// on sleeping, never an upper one: this cannot flake on a slow box).
	if limit := int(elapsed/(maxBackoff/2)) + 1; posts > limit {
		t.Errorf("%d posts in %s, want at most %d (one per backoff at the cap)", posts, elapsed, limit)
	}
	for i, w := range s.Waits() {
		if w < maxBackoff/2 || w > maxBackoff {
			t.Errorf("wait %d after a refusal = %s, want within [%s, %s]: the cap at once", i, w, maxBackoff/2, maxBackoff)
		}
	}
	if w := s.Warn(); !strings.Contains(w, "hub refuses this edge's credential") {
		t.Errorf("warn=%q, want it to name the refused credential", w)
	}
	if s.Refused() == "" {
		t.Error("Refused()=\"\", want the refusal")
	}
	if got := metric(t, reg, "huiyan_edge_hub_credential_refused"); got != 1 {
		t.Errorf("huiyan_edge_hub_credential_refused=%v, want 1", got)
	}
	st := outboxStats(t, e.db)
	if st.Dropped != 0 || st.Depth < wantScripts+20 {
		t.Errorf("outbox %+v, want everything kept (at least %d events, none dropped)", st, wantScripts+20)
	}
	if h.stored() != 0 {
		t.Fatalf("hub stored %d events while refusing", h.stored())
	}

	// The operator fixes the credential; a successful sync kicks.
	h.setMode("")
	s.Kick()
	poll(t, "an empty outbox", func() bool { return outboxStats(t, e.db).Depth == 0 })
	got := h.kindsByVisit()
	for v, want := range map[string][]hub.EventKind{v1: wantV1, v2: wantV2, v3: wantV3} {
		if !slices.Equal(got[v], want) {
			t.Errorf("visit %s: hub has %v, want %v", v, got[v], want)
		}
	}
	if n := h.stored(); n != st.Depth {
		t.Errorf("hub stored %d events, want the %d buffered", n, st.Depth)
	}
	poll(t, "the refusal cleared", func() bool { return s.Refused() == "" && s.Warn() == "" })
	if got := metric(t, reg, "huiyan_edge_hub_credential_refused"); got != 0 {
		t.Errorf("huiyan_edge_hub_credential_refused=%v, want 0", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, n := range h.received {
		if n != 1 {
			t.Errorf("event %s stored after %d posts, want 1", id, n)
		}
	}
}

// TestSender_BackoffGrows: waits after failures of an unavailable hub
// double from Backoff up to MaxBackoff (each within the jitter of its
// step), and Publish does not cut a backoff short.
func TestSender_BackoffGrows(t *testing.T) {
	const base, maxBackoff = 2 * time.Millisecond, 32 * time.Millisecond
	h := newEventsHub(t)
	h.setMode("down")
	e := mustOutboxEdge(t, filepath.Join(t.TempDir(), "edge.db"), newClock())
	s := mustSender(t, e, h, nil, edge.SenderConfig{Poll: time.Hour, Backoff: base, MaxBackoff: maxBackoff})
	e.node.SetPublisher(edge.Publishers{e.rec, s})
	runSender(t, s)
	scriptedDay(t, e) // its first commit wakes the idle sender: the first failure
	// Commits keep coming while it backs off; none may cut a wait short.
	for i := 0; len(s.Waits()) < 8; i++ {
		if i == 500 {
			t.Fatalf("only %d failures after %d arrivals", len(s.Waits()), i)
		}
		if err := e.node.HandleArrival(t.Context(), arrival(huiyan.ChannelCounter, "sc-02", e.clk.Now(), id(huiyan.IdentIDCard, tok(byte(5+i%3))))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // pace the arrivals: a few hundred at most
	}
	ws := s.Waits()[:8]
	h.mu.Lock()
	at := slices.Clone(h.postedAt)
	h.mu.Unlock()
	var slept time.Duration
	for _, w := range ws[:7] {
		slept += w
	}
	// Post 8 follows waits 1 to 7; a wait cut short would make it early.
	if len(at) < 8 || at[7].Sub(at[0]) < slept {
		t.Errorf("posts 1 to 8 %s apart, want at least the %s of waits between them", at[7].Sub(at[0]), slept)
	}
	step := base
	for i, w := range ws {
		if w < step/2 || w > step {
			t.Errorf("wait %d = %s, want within [%s, %s]", i+1, w, step/2, step)
		}
		step = min(2*step, maxBackoff)
	}
	if ws[7] < maxBackoff/2 {
		t.Errorf("eighth wait %s, want at the cap %s", ws[7], maxBackoff)
	}
	if w := s.Warn(); strings.Contains(w, "credential") {
		t.Errorf("warn=%q: an unavailable hub is not a refused credential", w)
	}
	if st := outboxStats(t, e.db); st.Depth < wantScripts || st.Dropped != 0 {
		t.Errorf("outbox %+v, want every event kept", st)
	}
}
