package edge_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/hub"
)

// testHub serves one branch's manifests and chunks as the hub does, built
// with the real contract code (records, chunks, signatures).
type testHub struct {
	t       testing.TB
	priv    ed25519.PrivateKey
	keys    hub.KeySet
	mu      sync.Mutex
	env     []byte // the newest manifest envelope
	version int64
	chunks  map[string][]byte
	tamper  func(sha string, b []byte) []byte // serve other bytes than the manifest says
	applied atomic.Int64
	srv     *httptest.Server
}

const hubToken = "edge-credential-B001"

func newTestHub(t testing.TB) *testHub {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pemb, _ := hub.MarshalPublicKeyPEM(pub)
	keys, err := hub.ParsePublicKeys(pemb)
	if err != nil {
		t.Fatal(err)
	}
	h := &testHub{t: t, priv: priv, keys: keys, chunks: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/branches/{b}/manifest", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+hubToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		have, _ := strconv.ParseInt(r.URL.Query().Get("have"), 10, 64)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.env == nil || have >= h.version {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(h.env)
	})
	mux.HandleFunc("GET /v1/branches/{b}/chunks/{sha}", func(w http.ResponseWriter, r *http.Request) {
		sha := r.PathValue("sha")
		h.mu.Lock()
		b, ok := h.chunks[sha]
		if ok && h.tamper != nil {
			b = h.tamper(sha, b)
		}
		h.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		hub.ServeChunk(w, r, sha, bytes.NewReader(b))
	})
	mux.HandleFunc("POST /v1/branches/{b}/applied", func(w http.ResponseWriter, r *http.Request) {
		var rep hub.AppliedReport
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.applied.Store(rep.Version)
		w.WriteHeader(http.StatusNoContent)
	})
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// publish makes version v of the branch from records and signs it with
// priv (the hub's key unless a test forges), expiring after ttl.
func (h *testHub) publish(v, base int64, recs []hub.Record, priv ed25519.PrivateKey, branch string, ttl time.Duration) {
	h.publishAt(v, base, recs, priv, branch, time.Now(), ttl)
}

func (h *testHub) publishAt(v, base int64, recs []hub.Record, priv ed25519.PrivateKey, branch string, created time.Time, ttl time.Duration) {
	h.t.Helper()
	seq := func(yield func(hub.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
	chunks, err := hub.BuildChunks(seq, 64<<10)
	if err != nil {
		h.t.Fatal(err)
	}
	m := hub.Manifest{Branch: branch, Version: v, BaseVersion: base, Full: base == 0, CreatedAt: created,
		ExpiresAt: created.Add(ttl), DictVersion: huiyan.DefaultTagDict().Version()}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range chunks {
		m.Chunks = append(m.Chunks, c.Ref())
		h.chunks[c.SHA256] = c.Data
	}
	env, err := hub.Sign(priv, "", m)
	if err != nil {
		h.t.Fatal(err)
	}
	h.env, _ = json.Marshal(env)
	h.version = v
}

func customers(n, version int) []*huiyan.Customer {
	var cs []*huiyan.Customer
	for i := range n {
		cs = append(cs, &huiyan.Customer{ID: fmt.Sprintf("C%06d", i), DisplayName: "林*华", Tier: huiyan.TierNormal,
			HomeBranch: "B001", MBankStatus: huiyan.MBankActive, MBankIdleDays: version, Risk: "R2", AUMBand: "aum_10k_50k",
			Lifecycle: huiyan.LifecycleGrowth, Tokens: []huiyan.Ident{{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: fmt.Sprintf("%064x", i+1)}}})
	}
	return cs
}

func fullRecords(cs []*huiyan.Customer) []hub.Record {
	staff := []huiyan.Staff{{ID: "lobby-B001", Branch: "B001", Role: huiyan.RoleLobby, DisplayName: "陈强", PINHash: "pbkdf2-sha256$1000$c2FsdHNhbHQ$" + strings.Repeat("A", 43)}}
	recs := []hub.Record{{Op: hub.OpDict, Dict: huiyan.DefaultTagDict()}, {Op: hub.OpStaff, Staff: staff}}
	for _, c := range cs {
		recs = append(recs, hub.Upsert(c))
	}
	return recs
}

func mustSyncer(t testing.TB, h *testHub) (*edge.Syncer, *bolt.DB) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := hub.NewClient(h.srv.URL, hubToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return edge.NewSyncer(db, edge.SyncConfig{Branch: "B001", KeyID: "k1", Client: c, Keys: h.keys,
		ChunkDir: filepath.Join(t.TempDir(), "chunks")}), db
}

func held(t *testing.T, db *bolt.DB) (edge.Meta, map[string]int) {
	t.Helper()
	var meta edge.Meta
	_ = db.View(context.Background(), func(tx edge.Tx) error {
		meta, _ = tx.Meta()
		return nil
	})
	got := map[string]int{}
	for c, err := range db.Customers(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got[c.ID] = c.MBankIdleDays
	}
	return meta, got
}

func TestSyncer_FullThenDelta(t *testing.T) {
	h := newTestHub(t)
	s, db := mustSyncer(t, h)
	ctx := context.Background()
	h.publish(1, 0, fullRecords(customers(3000, 1)), h.priv, "B001", time.Hour)
	if ok, err := s.SyncOnce(ctx); err != nil || !ok {
		t.Fatalf("full: applied=%v err=%v", ok, err)
	}
	meta, got := held(t, db)
	if meta.SnapshotVersion != 1 || len(got) != 3000 || meta.Customers != 3000 {
		t.Fatalf("after full: version %d, %d customers (meta %d)", meta.SnapshotVersion, len(got), meta.Customers)
	}
	if h.applied.Load() != 1 {
		t.Fatalf("hub told version %d, want 1", h.applied.Load())
	}

	// Version 2: C000010 changes, C000020 goes, C009999 is new.
	changed := customers(11, 2)[10]
	added := customers(1, 2)[0]
	added.ID = "C009999"
	added.Tokens[0].Token = fmt.Sprintf("%064x", 999999)
	h.publish(2, 1, []hub.Record{hub.Upsert(changed), hub.Delete("C000020"), hub.Upsert(added)}, h.priv, "B001", time.Hour)
	if ok, err := s.SyncOnce(ctx); err != nil || !ok {
		t.Fatalf("delta: applied=%v err=%v", ok, err)
	}
	meta, got = held(t, db)
	if meta.SnapshotVersion != 2 || len(got) != 3000 || got["C000010"] != 2 || got["C000011"] != 1 {
		t.Fatalf("after delta: version %d, %d customers, C000010=%d C000011=%d", meta.SnapshotVersion, len(got), got["C000010"], got["C000011"])
	}
	if _, ok := got["C000020"]; ok {
		t.Fatal("deleted customer still held")
	}
	if _, ok := got["C009999"]; !ok {
		t.Fatal("added customer missing")
	}
	if ok, err := s.SyncOnce(ctx); err != nil || ok {
		t.Fatalf("nothing newer: applied=%v err=%v", ok, err)
	}
}

func TestSyncer_Refusals(t *testing.T) {
	ctx := context.Background()
	_, otherKey, _ := ed25519.GenerateKey(nil)
	for _, tc := range []struct {
		name  string
		setup func(h *testHub)
		want  error
	}{
		{"ErrBadSignature", func(h *testHub) {
			h.publish(3, 0, fullRecords(customers(10, 3)), otherKey, "B001", time.Hour)
		}, hub.ErrBadSignature},
		{"ErrWrongBranch", func(h *testHub) {
			h.publish(3, 0, fullRecords(customers(10, 3)), h.priv, "B002", time.Hour)
		}, hub.ErrWrongBranch},
		{"ErrExpired", func(h *testHub) {
			h.publishAt(3, 0, fullRecords(customers(10, 3)), h.priv, "B001", time.Now().Add(-2*time.Hour), time.Hour)
		}, hub.ErrExpired},
		{"ErrChunkHash", func(h *testHub) {
			h.publish(3, 0, fullRecords(customers(500, 3)), h.priv, "B001", time.Hour)
			h.tamper = func(_ string, b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 1; return c }
		}, hub.ErrChunkHash},
		{"ErrChunkSize", func(h *testHub) {
			h.publish(3, 0, fullRecords(customers(500, 3)), h.priv, "B001", time.Hour)
			h.tamper = func(_ string, b []byte) []byte { return append(bytes.Clone(b), make([]byte, 4096)...) }
		}, hub.ErrChunkSize},
		{"ErrRollback", func(h *testHub) {
			h.publish(1, 0, fullRecords(customers(10, 1)), h.priv, "B001", time.Hour)
			h.version = 9 // a confused hub offers version 1 to an edge at version 2
		}, hub.ErrRollback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHub(t)
			s, db := mustSyncer(t, h)
			h.publish(2, 0, fullRecords(customers(100, 2)), h.priv, "B001", time.Hour)
			if _, err := s.SyncOnce(ctx); err != nil {
				t.Fatal(err)
			}
			tc.setup(h)
			_, err := s.SyncOnce(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err=%v, want %v", err, tc.want)
			}
			meta, got := held(t, db)
			if meta.SnapshotVersion != 2 || len(got) != 100 || got["C000000"] != 2 {
				t.Fatalf("after a refusal: version %d with %d customers, want version 2 with its 100", meta.SnapshotVersion, len(got))
			}
		})
	}
}

// TestSyncer_ServesWhileApplying: arrivals keep being handled while a full
// snapshot is applied, and each sees the old data or the new, never none.
func TestSyncer_ServesWhileApplying(t *testing.T) {
	h := newTestHub(t)
	s, db := mustSyncer(t, h)
	ctx := context.Background()
	h.publish(1, 0, fullRecords(customers(200, 1)), h.priv, "B001", time.Hour)
	if _, err := s.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	n := edge.NewNode(db, edge.Config{Branch: "B001"})
	if err := n.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	h.publish(2, 0, fullRecords(customers(20000, 2)), h.priv, "B001", time.Hour)
	done := make(chan error, 1)
	go func() { _, err := s.SyncOnce(ctx); done <- err }()
	served := 0
	for i := 0; ; i++ {
		a := huiyan.Arrival{EventID: fmt.Sprintf("e-%d", i), Branch: "B001", Device: "sc-01", Channel: huiyan.ChannelCounter,
			At: time.Now(), Idents: []huiyan.Ident{{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: fmt.Sprintf("%064x", i%200+1)}}}
		if err := n.HandleArrival(ctx, a); err != nil {
			t.Fatalf("arrival %d during apply: %v", i, err)
		}
		served++
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if meta, got := held(t, db); meta.SnapshotVersion != 2 || len(got) != 20000 {
				t.Fatalf("after apply: version %d, %d customers", meta.SnapshotVersion, len(got))
			}
			t.Logf("%d arrivals served during the apply of 20,000 customers", served)
			return
		default:
		}
		if i > 100000 {
			t.Fatal("apply did not finish")
		}
	}
}
