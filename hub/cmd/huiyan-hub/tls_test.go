package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	hubhttp "huiyan/hub/http"
	"huiyan/hub/internal/testutil"
	"huiyan/hub/store"
)

// tlsClient is what HQ's tools and edges use against a TLS cluster: the
// cluster CA as roots, no client certificate (they authenticate with
// their bearer token).
func tlsClient(tb testing.TB, ca *testutil.CA) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: ca.Pool()}
	tb.Cleanup(t.CloseIdleConnections)
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// do makes a request with the client and returns the status and body.
func do(tb testing.TB, c *http.Client, method, url, token string, body io.Reader, contentType string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// counter reads a counter of a node's registry through /metrics' source.
func counter(tb testing.TB, m *Main, name string, labels map[string]string) float64 {
	tb.Helper()
	reg := prometheus.NewRegistry()
	if err := m.Store.RegisterTransportMetrics(reg); err != nil {
		tb.Fatal(err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metric
				}
			}
			return mt.GetCounter().GetValue()
		}
	}
	tb.Fatalf("no %s%v", name, labels)
	return 0
}

// TestHub_ClusterTLS runs three nodes over the cluster's mutual TLS: n1
// bootstraps, n2 joins through n1, n3 through n2 (a follower, which
// forwards the join to the leader over https with its node certificate).
// Writes through a follower are forwarded over TLS and succeed; a node
// holding a certificate of another CA cannot join or talk raft, a client
// with only the admin token cannot add a voter, and the cluster goes on.
func TestHub_ClusterTLS(t *testing.T) {
	ca := testutil.NewCA(t, "huiyan cluster CA")
	secret := bytes.Repeat([]byte{42}, 32)
	n1c := withTLS(testConfig(t, "n1"), writeTLSFiles(t, ca, "n1", secret))
	n1c.Bootstrap = true
	nodes := []*Main{MustRunMain(t, n1c)}
	testPoll(t, "n1 leads", func() bool { return nodes[0].Store.IsLeader() }, 10*time.Second)
	for i, id := range []string{"n2", "n3"} {
		c := withTLS(testConfig(t, id), writeTLSFiles(t, ca, id, secret))
		c.Join = nodes[i].HTTPAddr() // host:port: https, since this node serves TLS
		nodes = append(nodes, MustRunMain(t, c))
	}
	hq := tlsClient(t, ca)
	url := func(m *Main, path string) string { return m.URL() + path }
	var leader *Main
	testPoll(t, "3 members and a leader everywhere", func() bool {
		for _, m := range nodes {
			var cr hubhttp.ClusterResponse
			st, b := do(t, hq, "GET", url(m, "/v1/cluster"), "", nil, "")
			if st != http.StatusOK || json.Unmarshal(b, &cr) != nil || len(cr.Members) != 3 || cr.Leader == "" {
				return false
			}
		}
		for _, m := range nodes {
			if m.Store.IsLeader() {
				leader = m
			}
		}
		return leader != nil
	}, 15*time.Second)
	var follower *Main
	for _, m := range nodes {
		if m != leader {
			follower = m
			break
		}
	}
	if !strings.HasPrefix(follower.URL(), "https://") {
		t.Fatalf("URL %s, want https", follower.URL())
	}

	t.Run("PlainHTTPRefused", func(t *testing.T) {
		resp, err := http.Get("http://" + follower.HTTPAddr() + "/healthz")
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatal("plain http served")
			}
		}
	})

	var cred string
	t.Run("ForwardedOverTLS", func(t *testing.T) {
		before := forwardedOK(t, hq, follower)
		st, b := do(t, hq, "POST", url(follower, "/v1/credentials/B001"), testToken, nil, "")
		if st != http.StatusCreated {
			t.Fatalf("credential through follower %s: %d %s", follower.Config.ID, st, b)
		}
		var cr hubhttp.CredentialResponse
		if err := json.Unmarshal(b, &cr); err != nil || !strings.HasPrefix(cr.Credential, store.CredentialPrefix) {
			t.Fatalf("credential response %s: %v", b, err)
		}
		cred = cr.Credential
		for _, m := range nodes {
			testPoll(t, "credential replicated to "+m.Config.ID, func() bool { _, ok := m.Store.Authenticate(cred); return ok }, 10*time.Second)
		}
		// An edge's report through the follower (forwarded with the edge
		// as principal).
		body := `{"version":1,"applied_at":"2026-11-23T09:00:00Z","full":true,"dict_version":1,"customers":10}`
		if st, b := do(t, hq, "POST", url(follower, "/v1/branches/B001/applied"), cred, strings.NewReader(body), "application/json"); st != http.StatusNoContent {
			t.Fatalf("applied through follower: %d %s", st, b)
		}
		if n := forwardedOK(t, hq, follower) - before; n != 2 {
			t.Fatalf("follower counted %v forwarded requests, want 2", n)
		}
	})

	t.Run("ImportThroughFollower", func(t *testing.T) {
		tags, staff := genFiles(t, 200, 3)
		body, ct := multipartBody(t, tags, staff)
		st, b := do(t, hq, "POST", url(follower, "/v1/imports"), testToken, body, ct)
		if st != http.StatusCreated {
			t.Fatalf("import: %d %s", st, b)
		}
		var imp store.Import
		if err := json.Unmarshal(b, &imp); err != nil || imp.Status != store.StatusCommitted {
			t.Fatalf("import %s: %v", b, err)
		}
		for _, m := range nodes {
			testPoll(t, "version on "+m.Config.ID, func() bool { return m.Store.LatestVersion() == imp.Version }, 10*time.Second)
		}
	})

	t.Run("ErrJoinWithOtherCA", func(t *testing.T) {
		// The intruder's certificate is another CA's; it trusts both CAs,
		// so that its own checks pass and it can verify the members.
		other := testutil.NewCA(t, "another CA")
		f := writeTLSFiles(t, other, "rogue", secret)
		if err := os.WriteFile(f.ca, append(ca.PEM(), other.PEM()...), 0o644); err != nil {
			t.Fatal(err)
		}
		c := withTLS(testConfig(t, "rogue"), f)
		c.Join = leader.HTTPAddr()
		m := &Main{Config: c, Logger: testLogger(t)}
		if err := m.Config.Validate(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := m.Run(context.Background())
		m.Close()
		if err == nil || !strings.Contains(err.Error(), "TLS refused") {
			t.Fatalf("run: %v, want its join refused by TLS", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("refusal took %s: TLS refusals must not be retried for a minute", d)
		}
	})

	t.Run("ErrJoinWithTokenOnly", func(t *testing.T) {
		// The admin token alone (no node certificate) does not add a voter.
		body := `{"id":"n9","raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2"}`
		for _, m := range nodes {
			if st, b := do(t, hq, "POST", url(m, "/v1/join"), testToken, strings.NewReader(body), "application/json"); st != http.StatusForbidden {
				t.Fatalf("join through %s: %d %s, want 403", m.Config.ID, st, b)
			}
		}
	})

	t.Run("ClusterUnaffected", func(t *testing.T) {
		for _, m := range nodes {
			ms, err := m.Store.Members()
			if err != nil || len(ms) != 3 {
				t.Fatalf("%s: members %+v, %v", m.Config.ID, ms, err)
			}
		}
		if st, b := do(t, hq, "POST", url(follower, "/v1/credentials/B002"), testToken, nil, ""); st != http.StatusCreated {
			t.Fatalf("credential after the intrusions: %d %s", st, b)
		}
		// Raft itself never saw a refused connection from a member.
		for _, m := range nodes {
			if n := counter(t, m, "huiyan_hub_raft_tls_refused_total", map[string]string{"reason": "bad_cert"}); n != 0 {
				t.Fatalf("%s refused %v raft connections with bad certificates", m.Config.ID, n)
			}
		}
	})
}

// forwardedOK reads huiyan_hub_forwarded_requests_total{result="ok"}
// from a node's /metrics.
func forwardedOK(tb testing.TB, c *http.Client, m *Main) float64 {
	tb.Helper()
	st, b := do(tb, c, "GET", m.URL()+"/metrics", "", nil, "")
	if st != http.StatusOK {
		tb.Fatalf("metrics: %d", st)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, `huiyan_hub_forwarded_requests_total{result="ok"} `); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	return 0 // not forwarded anything yet
}
