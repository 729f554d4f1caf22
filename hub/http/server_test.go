package http_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"huiyan/firmware-contracts/devsim"
	"huiyan/hub"
	hubhttp "huiyan/hub/http"
	"huiyan/hub/store"
)

const adminToken = "admin-token-for-tests-0123"

// MustOpenServer runs a one-node cluster and its API on httptest.
func MustOpenServer(tb testing.TB) (*store.Store, *httptest.Server) {
	tb.Helper()
	st := store.New(store.Config{
		ID: "n1", Dir: tb.TempDir(), RaftBind: "127.0.0.1:0", HTTPAddr: "127.0.0.1:1", Bootstrap: true,
		HeartbeatTimeout: 250 * time.Millisecond, ElectionTimeout: 250 * time.Millisecond, LeaderLeaseTimeout: 150 * time.Millisecond,
		WALSegmentBytes: 1 << 20, MmapBytes: 16 << 20,
	})
	if err := st.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ks, _ := st.PublicKeys(); st.IsLeader() && len(ks) == 1 {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv := httptest.NewServer(hubhttp.NewServer(st, hubhttp.Options{AdminToken: adminToken, Logger: slog.New(slog.DiscardHandler)}).Handler())
	tb.Cleanup(srv.Close)
	return st, srv
}

func do(tb testing.TB, req *http.Request) (int, []byte) {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestServer_ForwardedHeaders(t *testing.T) {
	_, srv := MustOpenServer(t)
	for _, tc := range []struct {
		name string
		sig  string
		at   string
	}{
		{"ErrForged", strings.Repeat("0", 64), strconv.FormatInt(time.Now().Unix(), 10)},
		{"ErrOld", strings.Repeat("0", 64), strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/credentials/B001", nil)
			req.Header.Set("X-Huiyan-Principal", "admin")
			req.Header.Set("X-Huiyan-Forwarded-By", "n2")
			req.Header.Set("X-Huiyan-Forwarded-At", tc.at)
			req.Header.Set("X-Huiyan-Forward-Signature", tc.sig)
			if st, b := do(t, req); st != http.StatusUnauthorized {
				t.Fatalf("%d %s, want 401", st, b)
			}
		})
	}
}

func TestServer_ImportBody(t *testing.T) {
	st, srv := MustOpenServer(t)
	var tags bytes.Buffer
	zw := gzip.NewWriter(&tags)
	if err := devsim.WriteTags(context.Background(), devsim.GenConfig{Customers: 50, Branches: 2, Seed: 3}, zw); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	for _, tc := range []struct {
		name, query string
		want        int
	}{
		{"ErrNoFormat", "", http.StatusBadRequest},
		{"OK", "?name=tags.csv.gz", http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/imports"+tc.query, bytes.NewReader(tags.Bytes()))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			status, b := do(t, req)
			if status != tc.want {
				t.Fatalf("%d %s, want %d", status, b, tc.want)
			}
			if status == http.StatusCreated {
				var imp store.Import
				json.Unmarshal(b, &imp)
				if imp.Version != 1 || imp.Customers != 50 || st.LatestVersion() != 1 {
					t.Fatalf("import %+v", imp)
				}
			}
		})
	}
	// One import at a time: 409 while another runs.
	run, err := st.BeginImport(context.Background(), store.ImportOptions{Format: hub.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/imports?format=csv", bytes.NewReader(tags.Bytes()))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if status, b := do(t, req); status != http.StatusConflict {
		t.Fatalf("%d %s, want 409 while an import runs", status, b)
	}
	run.Fail(context.Background(), "test")
}
