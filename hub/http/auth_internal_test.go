package http

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"huiyan/hub/store"
)

// TestForward_Replay: a correctly signed forwarded request is accepted once;
// the same request again — a capture replayed — is refused, as is one
// whose nonce was stripped.
func TestForward_Replay(t *testing.T) {
	st := store.New(store.Config{
		ID: "n1", Dir: t.TempDir(), RaftBind: "127.0.0.1:0", HTTPAddr: "127.0.0.1:1", Bootstrap: true,
		HeartbeatTimeout: 250 * time.Millisecond, ElectionTimeout: 250 * time.Millisecond, LeaderLeaseTimeout: 150 * time.Millisecond,
		WALSegmentBytes: 1 << 20, MmapBytes: 16 << 20,
	})
	if err := st.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(10 * time.Second)
	for ks, _ := st.PublicKeys(); !st.IsLeader() || len(ks) != 1; ks, _ = st.PublicKeys() {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := NewServer(st, Options{AdminToken: "admin-token-for-tests-0123"})
	key, err := s.forwardKey()
	if err != nil {
		t.Fatal(err)
	}
	signed := func(nonce string) *http.Request {
		r := httptest.NewRequest("POST", "/v1/credentials/B001", nil)
		at := strconv.FormatInt(time.Now().Unix(), 10)
		r.Header.Set(hdrPrincipal, "admin")
		r.Header.Set(hdrForwardBy, "n2")
		r.Header.Set(hdrForwardAt, at)
		if nonce != "" {
			r.Header.Set(hdrForwardNonce, nonce)
		}
		r.Header.Set(hdrForwardSig, forwardMAC(key, r, "admin", "n2", at))
		return r
	}
	nonce := newNonce()
	for i, tc := range []struct {
		name string
		req  *http.Request
		want int
	}{
		{"OK", signed(nonce), http.StatusCreated},
		{"ErrReplayed", signed(nonce), http.StatusUnauthorized},
		{"ErrNoNonce", signed(""), http.StatusUnauthorized},
	} {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, tc.req)
		if w.Code != tc.want {
			t.Fatalf("%d %s: %d %s, want %d", i, tc.name, w.Code, w.Body, tc.want)
		}
	}
}
