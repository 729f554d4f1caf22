package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"huiyan/hub/internal/testutil"
	"huiyan/hub/store"
)

// mustOpenLeader opens a one-node store on loopback and waits until it
// leads and has its signing key.
func mustOpenLeader(t *testing.T) *store.Store {
	t.Helper()
	st := store.New(store.Config{
		ID: "n1", Dir: t.TempDir(), RaftBind: "127.0.0.1:0", HTTPAddr: "127.0.0.1:1", Bootstrap: true,
		HeartbeatTimeout: 250 * time.Millisecond, ElectionTimeout: 250 * time.Millisecond, LeaderLeaseTimeout: 150 * time.Millisecond,
		WALSegmentBytes: 1 << 20, MmapBytes: 16 << 20,
	})
	if err := st.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for ks, _ := st.PublicKeys(); !st.IsLeader() || len(ks) != 1; ks, _ = st.PublicKeys() {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return st
}

// signedForward is a forwarded request as a follower n2 makes it, signed
// with key.
func signedForward(key []byte, nonce string) *http.Request {
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

// TestForward_Replay: a correctly signed forwarded request is accepted once;
// the same request again — a capture replayed — is refused, as is one
// whose nonce was stripped.
func TestForward_Replay(t *testing.T) {
	st := mustOpenLeader(t)
	s := NewServer(st, Options{AdminToken: "admin-token-for-tests-0123"})
	key, err := s.forwardKey()
	if err != nil {
		t.Fatal(err)
	}
	nonce := newNonce()
	for i, tc := range []struct {
		name string
		req  *http.Request
		want int
	}{
		{"OK", signedForward(key, nonce), http.StatusCreated},
		{"ErrReplayed", signedForward(key, nonce), http.StatusUnauthorized},
		{"ErrNoNonce", signedForward(key, ""), http.StatusUnauthorized},
	} {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, tc.req)
		if w.Code != tc.want {
			t.Fatalf("%d %s: %d %s, want %d", i, tc.name, w.Code, w.Body, tc.want)
		}
	}
}

// TestForward_ClusterSecret: with a cluster secret the leader takes only
// requests signed under a key of one of its secrets (the second one too,
// for rotation), no longer the key derived from the signing key; with
// cluster TLS, only over a connection with a verified cluster certificate.
func TestForward_ClusterSecret(t *testing.T) {
	st := mustOpenLeader(t)
	secA, secB := bytes.Repeat([]byte{'a'}, 32), bytes.Repeat([]byte{'b'}, 32)
	keyA, keyB := deriveForwardKey(secA, "huiyan hub forward v2"), deriveForwardKey(secB, "huiyan hub forward v2")
	priv, _, err := st.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	keyDemo := deriveForwardKey(priv.Seed(), "huiyan hub forward v1")
	ca := testutil.NewCA(t, "cluster CA")
	node := ca.Issue(t, "n2", "127.0.0.1")
	member := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{node.Leaf}, VerifiedChains: [][]*x509.Certificate{{node.Leaf, ca.Cert}}}
	withTLS := func(r *http.Request, cs *tls.ConnectionState) *http.Request { r.TLS = cs; return r }

	for _, tc := range []struct {
		name string
		fc   ForwardingConfig
		req  *http.Request
		want int
	}{
		{"OKSecret", ForwardingConfig{Secrets: [][]byte{secA}}, signedForward(keyA, newNonce()), http.StatusCreated},
		{"OKSecondSecret", ForwardingConfig{Secrets: [][]byte{secA, secB}}, signedForward(keyB, newNonce()), http.StatusCreated},
		{"ErrOtherSecret", ForwardingConfig{Secrets: [][]byte{secA}}, signedForward(keyB, newNonce()), http.StatusUnauthorized},
		{"ErrSigningKeyDerived", ForwardingConfig{Secrets: [][]byte{secA}}, signedForward(keyDemo, newNonce()), http.StatusUnauthorized},
		{"OKDemoWithoutSecret", ForwardingConfig{}, signedForward(keyDemo, newNonce()), http.StatusCreated},
		{"ErrNoClusterCert", ForwardingConfig{Secrets: [][]byte{secA}, ClusterCAs: ca.Pool(), Cert: &node},
			signedForward(keyA, newNonce()), http.StatusUnauthorized},
		{"OKClusterCert", ForwardingConfig{Secrets: [][]byte{secA}, ClusterCAs: ca.Pool(), Cert: &node},
			withTLS(signedForward(keyA, newNonce()), member), http.StatusCreated},
		{"ErrTLSWithoutClientCert", ForwardingConfig{Secrets: [][]byte{secA}, ClusterCAs: ca.Pool(), Cert: &node},
			withTLS(signedForward(keyA, newNonce()), &tls.ConnectionState{}), http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewForwarding(tc.fc)
			if err != nil {
				t.Fatal(err)
			}
			s := NewServer(st, Options{AdminToken: "admin-token-for-tests-0123", Forwarding: f})
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, tc.req)
			if w.Code != tc.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}

	t.Run("JoinNeedsClusterCert", func(t *testing.T) {
		f, err := NewForwarding(ForwardingConfig{Secrets: [][]byte{secA}, ClusterCAs: ca.Pool(), Cert: &node})
		if err != nil {
			t.Fatal(err)
		}
		s := NewServer(st, Options{AdminToken: "admin-token-for-tests-0123", Forwarding: f})
		for _, tc := range []struct {
			name string
			cs   *tls.ConnectionState
			want int
		}{
			{"ErrAdminTokenOnly", nil, http.StatusForbidden},
			// Past the guard, the empty body is what is refused.
			{"OKMember", member, http.StatusBadRequest},
		} {
			r := httptest.NewRequest("POST", "/v1/join", strings.NewReader(""))
			r.Header.Set("Authorization", "Bearer admin-token-for-tests-0123")
			r.TLS = tc.cs
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.want)
			}
		}
	})
}

func TestNewForwarding(t *testing.T) {
	ca := testutil.NewCA(t, "cluster CA")
	node := ca.Issue(t, "n1", "127.0.0.1")
	sec := bytes.Repeat([]byte{'s'}, 32)
	for _, tc := range []struct {
		name   string
		fc     ForwardingConfig
		want   string // in the error; "" = OK
		scheme string
	}{
		{"OKDemo", ForwardingConfig{}, "", "http"},
		{"OKHTTPS", ForwardingConfig{HTTPS: true}, "", "https"},
		{"OKClusterTLS", ForwardingConfig{Secrets: [][]byte{sec}, ClusterCAs: ca.Pool(), Cert: &node}, "", "https"},
		{"ErrShortSecret", ForwardingConfig{Secrets: [][]byte{sec[:31]}}, "at least 32", ""},
		{"ErrClusterTLSNoSecret", ForwardingConfig{ClusterCAs: ca.Pool(), Cert: &node}, "cluster secret", ""},
		{"ErrClusterTLSNoCert", ForwardingConfig{Secrets: [][]byte{sec}, ClusterCAs: ca.Pool()}, "certificate", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewForwarding(tc.fc)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err=%v, want one naming %q", err, tc.want)
			case tc.want == "" && f.scheme != tc.scheme:
				t.Fatalf("scheme=%q, want %q", f.scheme, tc.scheme)
			}
		})
	}
}
