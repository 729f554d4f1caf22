package edge_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/hub"
)

// statusHub records the heartbeats posted to it, and can refuse them.
type statusHub struct {
	srv *httptest.Server

	mu     sync.Mutex
	fail   bool
	bodies []hub.EdgeStatus
	auth   []string
}

func newStatusHub(t *testing.T) *statusHub {
	t.Helper()
	h := &statusHub{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != hub.StatusPath("B001") {
			http.NotFound(w, r)
			return
		}
		var st hub.EdgeStatus
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil || st.Validate() != nil {
			http.Error(w, "bad status", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.fail {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		h.bodies = append(h.bodies, st)
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *statusHub) got() []hub.EdgeStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hub.EdgeStatus(nil), h.bodies...)
}

// TestHeartbeat: the edge posts its status at once, again soon after a
// device changes, and a failed post is simply retried by a later beat.
func TestHeartbeat(t *testing.T) {
	h := newStatusHub(t)
	e := mustOutboxEdge(t, filepath.Join(t.TempDir(), "edge.db"), newClock())
	c, err := hub.NewClient(h.srv.URL, "edge-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	hb := edge.NewHeartbeat(e.db, edge.HeartbeatConfig{Branch: "B001", Client: c, Version: "v1.2.3",
		Every: time.Hour, Settle: 5 * time.Millisecond, Clock: e.clk.Now})

	// A device known before the heartbeat starts, and some outbox backlog.
	if err := e.node.HandleArrival(t.Context(), arrival(huiyan.ChannelCounter, "sc-01", e.clk.Now(), id(huiyan.IdentIDCard, tok(1)))); err != nil {
		t.Fatal(err)
	}
	e.node.SetPublisher(edge.Publishers{e.rec, hb})
	ctx := t.Context()
	done := make(chan struct{})
	go func() { defer close(done); _ = hb.Run(ctx) }()
	t.Cleanup(func() { <-done })

	poll(t, "the first heartbeat", func() bool { return len(h.got()) == 1 })
	first := h.got()[0]
	if first.SnapshotVersion != 1 || first.Version != "v1.2.3" || !first.At.Equal(e.clk.Now()) {
		t.Errorf("status=%+v, want snapshot 1, version v1.2.3, at the edge's clock", first)
	}
	if want := outboxStats(t, e.db); first.OutboxDepth != want.Depth || first.OutboxDepth == 0 || !first.OutboxOldest.Equal(want.Oldest) {
		t.Errorf("outbox depth %d oldest %s, want %d and %s", first.OutboxDepth, first.OutboxOldest, want.Depth, want.Oldest)
	}
	if len(first.Devices) != 1 || first.Devices[0] != (hub.DeviceStatus{Device: "sc-01", Channel: huiyan.ChannelCounter, Online: true, Since: first.Devices[0].Since}) || first.Devices[0].Since.IsZero() {
		t.Errorf("devices=%+v, want sc-01, a counter, online since its first arrival", first.Devices)
	}
	if h.auth[0] != "Bearer edge-token" {
		t.Errorf("Authorization=%q, want the edge's credential", h.auth[0])
	}

	// The counter goes offline: a heartbeat follows within Settle, not an hour.
	e.clk.Add(time.Minute)
	if err := e.node.HandleStatus(t.Context(), "sc-01", huiyan.DeviceOffline, ""); err != nil {
		t.Fatal(err)
	}
	poll(t, "the heartbeat after the device change", func() bool { return len(h.got()) == 2 })
	second := h.got()[1]
	if len(second.Devices) != 1 || second.Devices[0].Online || !second.Devices[0].Since.Equal(e.clk.Now()) || second.Devices[0].Channel != huiyan.ChannelCounter {
		t.Errorf("devices=%+v, want sc-01 offline since now, still a counter", second.Devices)
	}

	// A failed post is counted and the next change tries again.
	h.mu.Lock()
	h.fail = true
	h.mu.Unlock()
	if err := e.node.HandleStatus(t.Context(), "ecode-01", huiyan.DeviceOnline, huiyan.ChannelECode); err != nil {
		t.Fatal(err)
	}
	poll(t, "a failed heartbeat", func() bool { return hb.Failures() == 1 })
	h.mu.Lock()
	h.fail = false
	h.mu.Unlock()
	if err := e.node.HandleStatus(t.Context(), "wheel-01", huiyan.DeviceOnline, huiyan.ChannelWheel); err != nil {
		t.Fatal(err)
	}
	poll(t, "the heartbeat after the failure", func() bool { return len(h.got()) == 3 })
	if n := len(h.got()[2].Devices); n != 3 {
		t.Errorf("%d devices, want 3", n)
	}
	// The hub has the post before the heartbeat has the hub's answer.
	poll(t, "three heartbeats counted as sent", func() bool { return hb.Sent() == 3 })
}
