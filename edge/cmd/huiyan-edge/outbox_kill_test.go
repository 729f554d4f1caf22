package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub"
)

// holdingHub is a stand-in for the hub's event endpoint: it records every
// event it is sent (by id, with how often) and, while holding, keeps the
// answer to a batch back until the test lets it go — the edge is killed in
// between, so the batch is stored at the hub but never acknowledged.
type holdingHub struct {
	mu      sync.Mutex
	seen    map[string]int
	posts   int
	holding bool
	release chan struct{}
	got     chan struct{} // a batch arrived while holding
}

func (h *holdingHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/events") {
		// Manifests, heartbeats and reports: not this test's business.
		http.Error(w, `{"code":"not_found","message":"no data here"}`, http.StatusNotFound)
		return
	}
	var b hub.EventBatch
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Validate() != nil {
		http.Error(w, "bad batch", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.posts++
	ack := hub.EventAck{}
	for _, e := range b.Events {
		if h.seen[e.ID]++; h.seen[e.ID] == 1 {
			ack.Accepted++
		} else {
			ack.Duplicates++
		}
	}
	hold := h.holding
	h.mu.Unlock()
	if hold {
		select {
		case h.got <- struct{}{}:
		default:
		}
		<-h.release
		return // the edge is gone; no answer
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ack)
}

func (h *holdingHub) snapshot() (map[string]int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[string]int, len(h.seen))
	for k, v := range h.seen {
		m[k] = v
	}
	return m, h.posts
}

// TestEdge_OutboxSurvivesKill: the edge binary sends its visit events to a
// hub that stores a batch but holds its answer; the edge is killed with
// SIGKILL while it waits. Restarted on the same data dir, it sends the
// batch again (the hub counts it as duplicates, never twice) and the
// events of the arrivals made after the restart: every visit's opening
// arrives, none is lost, none is counted twice.
func TestEdge_OutboxSurvivesKill(t *testing.T) {
	ds := mustDataSet(t)
	bin := buildEdge(t)

	h := &holdingHub{seen: map[string]int{}, holding: true, release: make(chan struct{}), got: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		h.mu.Lock()
		if h.holding {
			close(h.release)
			h.holding = false
		}
		h.mu.Unlock()
		srv.Close()
	})
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "hub.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	mqttAddr := freeAddr(t)
	args := []string{"-mqtt-listen", mqttAddr, "-hub", "http://" + ln.Addr().String(), "-hub-key", keyFile, "-hub-token", "test-credential"}

	e := startEdge(t, bin, ds.Dir, args...)
	dev := newDevice(t, "tcp://"+mqttAddr, "sc-01")
	before := []string{
		dev.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 601))),
		dev.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 602))),
	}
	select {
	case <-h.got:
	case <-time.After(20 * time.Second):
		t.Fatal("no batch reached the hub")
	}
	if err := e.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = e.cmd.Process.Wait()
	dev.client.Disconnect(0)
	stored, _ := h.snapshot()
	if len(stored) == 0 {
		t.Fatal("the held batch stored nothing")
	}
	h.mu.Lock()
	h.holding = false
	close(h.release)
	h.mu.Unlock()

	startEdge(t, bin, ds.Dir, args...)
	dev2 := newDevice(t, "tcp://"+mqttAddr, "sc-02") // its own message ids
	after := dev2.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 603)))

	// Every visit opened (two before the kill, one after) reaches the hub
	// exactly once as a distinct event, and the batch held across the
	// kill was sent again.
	var seen map[string]int
	waitFor(t, "three visit openings at the hub", 30*time.Second, func() bool {
		seen, _ = h.snapshot()
		n := 0
		for id := range seen {
			if strings.HasSuffix(id, ":opened") {
				n++
			}
		}
		return n == 3
	})
	resent := false
	for id := range stored {
		if seen[id] >= 2 {
			resent = true
		}
	}
	if !resent {
		t.Fatalf("no event of the batch held across the kill was sent again: stored %v, now %v", stored, seen)
	}
	t.Logf("arrivals %v then %s; the hub holds %d distinct events", before, after, len(seen))
}
