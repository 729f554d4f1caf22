package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"huiyan/firmware-contracts/devsim"
	"huiyan/hub"
	hubhttp "huiyan/hub/http"
	"huiyan/hub/store"
)

const testToken = "test-admin-token-0123456789"

func testLogger(tb testing.TB) *slog.Logger {
	if os.Getenv("HUIYAN_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testConfig is a node on loopback ports with short raft timings.
func testConfig(tb testing.TB, id string) Config {
	c := DefaultConfig()
	c.ID, c.DataDir = id, tb.TempDir()
	c.HTTP, c.Raft = "127.0.0.1:0", "127.0.0.1:0"
	c.AdminToken = testToken
	c.Bootstrap = false
	c.RetainVersions = 3
	c.RaftTuning = RaftTuning{HeartbeatTimeout: time.Second, ElectionTimeout: time.Second, LeaderLeaseTimeout: 500 * time.Millisecond, SnapshotInterval: time.Hour}
	return c
}

// MustRunMain runs a node and closes it at the end of the test.
func MustRunMain(tb testing.TB, c Config) *Main {
	tb.Helper()
	m := &Main{Config: c, Logger: testLogger(tb).With("node", c.ID)}
	if err := m.Config.Validate(); err != nil {
		tb.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		tb.Fatalf("run %s: %v", c.ID, err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

func testPoll(tb testing.TB, what string, cond func() bool, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// call makes a request and returns the status and body.
func call(tb testing.TB, method, url, token string, body io.Reader, contentType string) (int, []byte) {
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
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func getJSON(tb testing.TB, url, token string, v any) int {
	tb.Helper()
	status, b := call(tb, http.MethodGet, url, token, nil, "")
	if status == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			tb.Fatalf("GET %s: %v: %s", url, err, b)
		}
	}
	return status
}

func genFiles(tb testing.TB, customers, branches int) (tags, staff []byte) {
	tb.Helper()
	cfg := devsim.GenConfig{Customers: customers, Branches: branches, Seed: 11, PINIterations: 1000}
	var t, s bytes.Buffer
	if err := devsim.WriteTags(context.Background(), cfg, &t); err != nil {
		tb.Fatal(err)
	}
	if _, err := devsim.WriteStaff(context.Background(), cfg, &s); err != nil {
		tb.Fatal(err)
	}
	return t.Bytes(), s.Bytes()
}

// multipartBody is an upload of the tags (and staff) files.
func multipartBody(tb testing.TB, tags, staff []byte) (*bytes.Buffer, string) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("tags", "tags.csv")
	w.Write(tags)
	if staff != nil {
		w, _ = mw.CreateFormFile("staff", "staff.csv")
		w.Write(staff)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// TestHub_Cluster runs three nodes: n1 bootstraps, n2 joins through n1,
// n3 through n2 (a follower, which forwards the join to the leader).
func TestHub_Cluster(t *testing.T) {
	n1c := testConfig(t, "n1")
	n1c.Bootstrap = true
	nodes := []*Main{MustRunMain(t, n1c)}
	testPoll(t, "n1 leads", func() bool { return nodes[0].Store.IsLeader() }, 10*time.Second)
	for i, id := range []string{"n2", "n3"} {
		c := testConfig(t, id)
		c.Join = "http://" + nodes[i].HTTPAddr()
		nodes = append(nodes, MustRunMain(t, c))
	}
	url := func(m *Main, path string) string { return "http://" + m.HTTPAddr() + path }
	alive := func() []*Main {
		var out []*Main
		for _, m := range nodes {
			if m != nil {
				out = append(out, m)
			}
		}
		return out
	}
	leaderOf := func(t *testing.T) *Main {
		t.Helper()
		var l *Main
		testPoll(t, "a leader", func() bool {
			for _, m := range alive() {
				if m.Store.IsLeader() {
					l = m
					return true
				}
			}
			return false
		}, 15*time.Second)
		return l
	}
	follower := func(t *testing.T) *Main {
		l := leaderOf(t)
		for _, m := range alive() {
			if m != l {
				return m
			}
		}
		t.Fatal("no follower")
		return nil
	}

	t.Run("Cluster", func(t *testing.T) {
		l := leaderOf(t)
		testPoll(t, "3 members everywhere", func() bool {
			for _, m := range alive() {
				var cr hubhttp.ClusterResponse
				if getJSON(t, url(m, "/v1/cluster"), "", &cr) != http.StatusOK || len(cr.Members) != 3 || cr.Leader != l.Config.ID {
					return false
				}
				for _, mem := range cr.Members {
					if mem.HTTPAddr == "" || mem.RaftAddr == "" || mem.State == "" {
						return false
					}
				}
			}
			return true
		}, 15*time.Second)
		var h hubhttp.HealthResponse
		if st := getJSON(t, url(follower(t), "/healthz"), "", &h); st != http.StatusOK || h.Status != "ok" || h.Leader != l.Config.ID {
			t.Fatalf("healthz %d %+v", st, h)
		}
	})

	t.Run("KeysAndHubPub", func(t *testing.T) {
		var first []byte
		for _, m := range alive() {
			var kr hub.KeysResponse
			testPoll(t, "keys", func() bool { return getJSON(t, url(m, "/v1/keys"), "", &kr) == 200 && len(kr.Keys) == 1 }, 10*time.Second)
			if kr.Keys[0].Alg != "ed25519" || len(kr.Keys[0].PublicKey) != 32 {
				t.Fatalf("keys %+v", kr)
			}
			pub := filepath.Join(m.Config.DataDir, "hub.pub")
			testPoll(t, "hub.pub", func() bool { _, err := os.Stat(pub); return err == nil }, 10*time.Second)
			b, _ := os.ReadFile(pub)
			ks, err := hub.ParsePublicKeys(b)
			if err != nil || ks.IDs()[0] != kr.Keys[0].KeyID {
				t.Fatalf("hub.pub of %s: %v", m.Config.ID, err)
			}
			if first != nil && !bytes.Equal(first, b) {
				t.Fatalf("hub.pub of %s differs", m.Config.ID)
			}
			first = b
		}
	})

	var cred string
	t.Run("Auth", func(t *testing.T) {
		f := follower(t)
		// A credential issued through a follower (forwarded to the leader).
		st, b := call(t, "POST", url(f, "/v1/credentials/B001"), testToken, nil, "")
		if st != http.StatusCreated {
			t.Fatalf("credential: %d %s", st, b)
		}
		var cr hubhttp.CredentialResponse
		json.Unmarshal(b, &cr)
		cred = cr.Credential
		for _, tc := range []struct {
			name, method, path, token string
			want                      int
		}{
			{"ErrMissing", "GET", "/v1/branches", "", 401},
			{"ErrUnknown", "GET", "/v1/branches", "nope", 401},
			{"ErrEdgeOnAdmin", "GET", "/v1/branches", cred, 403},
			{"ErrEdgeCredential", "POST", "/v1/credentials/B001", cred, 403},
			{"OKAdmin", "GET", "/v1/branches", testToken, 200},
			{"ErrOtherBranch", "POST", "/v1/branches/B002/applied", cred, 403},
			{"OpenCluster", "GET", "/v1/cluster", "", 200},
			{"OpenMetrics", "GET", "/metrics", "", 200},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, m := range alive() {
					testPoll(t, "credential replicated", func() bool { _, ok := m.Store.Authenticate(cred); return ok }, 10*time.Second)
					if st, b := call(t, tc.method, url(m, tc.path), tc.token, nil, ""); st != tc.want {
						t.Fatalf("%s: %d %s, want %d", m.Config.ID, st, b, tc.want)
					}
				}
			})
		}
		// The edge reports its version through a follower.
		body := `{"version":1,"applied_at":"2026-11-23T09:00:00Z","full":true,"dict_version":1,"customers":10}`
		if st, b := call(t, "POST", url(f, "/v1/branches/B001/applied"), cred, strings.NewReader(body), "application/json"); st != http.StatusNoContent {
			t.Fatalf("applied: %d %s", st, b)
		}
		// No secret on the open endpoints.
		for _, p := range []string{"/v1/cluster", "/healthz", "/v1/keys", "/metrics"} {
			_, b := call(t, "GET", url(f, p), "", nil, "")
			if bytes.Contains(b, []byte(testToken)) || bytes.Contains(b, []byte(cred)) {
				t.Fatalf("%s reveals a secret", p)
			}
		}
	})

	t.Run("CredentialRotation", func(t *testing.T) {
		var out bytes.Buffer
		err := runCredential(context.Background(), []string{"-hub", url(follower(t), ""), "-token", testToken, "B001"}, &out, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		cred2 := lines[len(lines)-1]
		if !strings.HasPrefix(cred2, store.CredentialPrefix) || cred2 == cred {
			t.Fatalf("credential output %q", out.String())
		}
		for _, m := range alive() {
			testPoll(t, "rotation replicated", func() bool { _, ok := m.Store.Authenticate(cred2); return ok }, 10*time.Second)
			if st, _ := call(t, "POST", url(m, "/v1/branches/B001/events"), cred, strings.NewReader(`{}`), "application/json"); st != 401 {
				t.Fatalf("%s: old credential %d, want 401", m.Config.ID, st)
			}
		}
		cred = cred2
	})

	tags, staff := genFiles(t, 500, 6)
	t.Run("Import", func(t *testing.T) {
		body, ct := multipartBody(t, tags, staff)
		st, b := call(t, "POST", url(follower(t), "/v1/imports"), testToken, body, ct)
		if st != http.StatusCreated {
			t.Fatalf("import: %d %s", st, b)
		}
		var imp store.Import
		json.Unmarshal(b, &imp)
		if imp.Status != store.StatusCommitted || imp.Version != 1 || imp.Customers != 500 || imp.Staff == 0 {
			t.Fatalf("import %+v", imp)
		}
		for _, m := range alive() {
			testPoll(t, "version 1 everywhere", func() bool {
				var h hubhttp.HealthResponse
				return getJSON(t, url(m, "/healthz"), "", &h) == 200 && h.Version == 1
			}, 10*time.Second)
			var got store.Import
			if getJSON(t, url(m, "/v1/imports/"+imp.ID), testToken, &got) != 200 || got.Status != store.StatusCommitted {
				t.Fatalf("%s: import %+v", m.Config.ID, got)
			}
		}
	})

	t.Run("ImportRefused", func(t *testing.T) {
		bad := strings.Replace(string(tags), "\n", "\nC-bad,王*,silver,B001,,,none,,R1,A1,growth,0,,,,,,\n", 1)
		body, ct := multipartBody(t, []byte(bad), nil)
		st, b := call(t, "POST", url(follower(t), "/v1/imports"), testToken, body, ct)
		if st != http.StatusUnprocessableEntity {
			t.Fatalf("bad import: %d %s", st, b)
		}
		var imp store.Import
		json.Unmarshal(b, &imp)
		if imp.Status != store.StatusRefused || imp.Errors == 0 || imp.LineErrors[0].Line != 2 {
			t.Fatalf("import %+v", imp)
		}
		for _, m := range alive() {
			if v := m.Store.LatestVersion(); v != 1 {
				t.Fatalf("%s: version %d after a refused import, want 1", m.Config.ID, v)
			}
		}
	})

	t.Run("ImportCommand", func(t *testing.T) {
		dir := t.TempDir()
		tp, sp := filepath.Join(dir, "tags.csv"), filepath.Join(dir, "staff.csv")
		os.WriteFile(tp, tags, 0o600)
		os.WriteFile(sp, staff, 0o600)
		var out, errOut bytes.Buffer
		if err := runImport(context.Background(), []string{"-hub", url(follower(t), ""), "-token", testToken, tp, sp}, &out, &errOut); err != nil {
			t.Fatalf("%v: %s", err, errOut.String())
		}
		if !strings.Contains(out.String(), "committed: version 2") {
			t.Fatalf("output %q", out.String())
		}
		bad := filepath.Join(dir, "bad.csv")
		os.WriteFile(bad, []byte(strings.Replace(string(tags), ",gold,", ",silver,", 1)), 0o600)
		out.Reset()
		errOut.Reset()
		err := runImport(context.Background(), []string{"-hub", url(follower(t), ""), "-token", testToken, bad}, &out, &errOut)
		if err == nil || exitCode(err) != 1 || !strings.Contains(errOut.String(), "bad.csv:") {
			t.Fatalf("err=%v stderr=%q", err, errOut.String())
		}
	})

	t.Run("LeaderKilled", func(t *testing.T) {
		l := leaderOf(t)
		for i, m := range nodes {
			if m == l {
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
				nodes[i] = nil
			}
		}
		nl := leaderOf(t)
		if nl == l {
			t.Fatal("the closed node leads")
		}
		// Writes go on, through either remaining node.
		for _, m := range alive() {
			st, b := call(t, "POST", url(m, "/v1/credentials/B005"), testToken, nil, "")
			if st != http.StatusCreated {
				t.Fatalf("credential through %s after failover: %d %s", m.Config.ID, st, b)
			}
		}
		var cr hubhttp.ClusterResponse
		getJSON(t, url(nl, "/v1/cluster"), "", &cr)
		if cr.Leader != nl.Config.ID {
			t.Fatalf("cluster leader %q, want %q", cr.Leader, nl.Config.ID)
		}
	})
}

func TestMain_AdminTokenFile(t *testing.T) {
	c := testConfig(t, "solo")
	c.AdminToken = ""
	c.Bootstrap = true
	// What a crash between creating the file and writing it would leave:
	// the node makes a token anew instead of refusing to start.
	if err := os.WriteFile(filepath.Join(c.DataDir, "admin.token"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	m := &Main{Config: c, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	path := filepath.Join(c.DataDir, "admin.token")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v mode %v, want 0600", err, fi.Mode())
	}
	b, _ := os.ReadFile(path)
	token := strings.TrimSpace(string(b))
	if len(token) < 32 || strings.Contains(logs.String(), token) || !strings.Contains(logs.String(), path) {
		t.Fatal("the token must be logged by path, never itself")
	}
	testPoll(t, "leader", func() bool { return m.Store.IsLeader() }, 10*time.Second)
	// The subcommand finds the token in the data dir.
	var out bytes.Buffer
	if err := runCredential(context.Background(), []string{"-hub", m.HTTPAddr(), "-data", c.DataDir, "B001"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(out.String()), store.CredentialPrefix) {
		t.Fatalf("output %q", out.String())
	}
}

// syncBuffer is a bytes.Buffer that raft's goroutines may log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestParseFlags(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		m := NewMain()
		if err := m.ParseFlags(nil, io.Discard); err != nil {
			t.Fatal(err)
		}
		if m.Config.HTTP != "127.0.0.1:9000" || !m.Config.Bootstrap || m.Config.Join != "" {
			t.Fatalf("defaults %+v", m.Config)
		}
	})
	t.Run("ConfigThenFlags", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "hub.yaml")
		os.WriteFile(path, []byte("id: h7\nhttp: 127.0.0.1:9100\nraft_tuning:\n  heartbeat_timeout: 500ms\n"), 0o600)
		m := NewMain()
		if err := m.ParseFlags([]string{"-config", path, "-http", "127.0.0.1:9200", "-join", "127.0.0.1:9000"}, io.Discard); err != nil {
			t.Fatal(err)
		}
		c := m.Config
		if c.ID != "h7" || c.HTTP != "127.0.0.1:9200" || c.Bootstrap || c.Join != "127.0.0.1:9000" || c.RaftTuning.HeartbeatTimeout != 500*time.Millisecond {
			t.Fatalf("config %+v", c)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		file string
		want string // in the error
	}{
		{"ErrBootstrapAndJoin", []string{"-bootstrap", "-join", "127.0.0.1:9000"}, "", "exclusive"},
		{"ErrHTTP", []string{"-http", "nope"}, "", "http:"},
		{"ErrJoin", []string{"-join", "ftp://x:1"}, "", "join:"},
		{"ErrJoinNoPort", []string{"-join", "hub1"}, "", "join:"},
		{"ErrShortToken", []string{"-admin-token", "short"}, "", "admin_token"},
		{"ErrLogLevel", []string{"-log-level", "loud"}, "", "log_level"},
		{"ErrUnknownKey", nil, "htp: 127.0.0.1:1\n", "htp"},
		{"ErrRetain", nil, "retain_versions: 0\n", "retain_versions"},
		{"ErrAdvertise", nil, "http_advertise: 0.0.0.0:9000\n", "http_advertise"},
		{"ErrArgs", []string{"extra"}, "", "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				path := filepath.Join(t.TempDir(), "hub.yaml")
				os.WriteFile(path, []byte(tc.file), 0o600)
				args = append([]string{"-config", path}, args...)
			}
			err := NewMain().ParseFlags(args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != 2 {
				t.Fatalf("err=%v, want usage error naming %q", err, tc.want)
			}
		})
	}
}
