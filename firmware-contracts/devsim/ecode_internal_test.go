package devsim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// fakeEdge answers the e-code routes the simulator reads, with codes that
// expire when the test says: the choice of code is the logic under test
// here (TestECode_Devsim in edge/cmd/huiyan-edge runs it against a real
// edge).
type fakeEdge struct {
	n        atomic.Int64
	expires  time.Time
	sessions atomic.Int64 // logins so far; the first session is refused once
	refused  atomic.Bool
}

func (f *fakeEdge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code := func(prefix string) {
		n := f.n.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{"content": prefix + time.Duration(n).String(), "expires_at": f.expires.Format(time.RFC3339Nano)})
	}
	switch r.URL.Path {
	case "/ecode/ecode-01/code.json":
		code("display-")
	case "/pad/login":
		f.sessions.Add(1)
		http.SetCookie(w, &http.Cookie{Name: "huiyan_pad", Value: "s" + time.Duration(f.sessions.Load()).String()})
	case "/pad/mycode":
		ck, err := r.Cookie("huiyan_pad")
		if err != nil || (ck.Value == "s1ns" && f.refused.CompareAndSwap(false, true)) {
			w.WriteHeader(http.StatusUnauthorized) // the first session ends once: log in again
			return
		}
		code("staff-")
	default:
		http.NotFound(w, r)
	}
}

func TestCodeSource(t *testing.T) {
	ctx := context.Background()
	fe := &fakeEdge{expires: time.Now().Add(time.Hour)}
	srv := httptest.NewServer(fe)
	t.Cleanup(srv.Close)
	cs, err := newCodeSource(srv.URL, "B001", DemoPIN)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		kind        ScanKind
		expiredBy   bool // codes fetched so far have expired
		wantKind    ScanKind
		wantContent string
	}{
		{"ReplayWithNothingExpiredScansTheDisplay", ScanReplay, false, ScanBranch, "display-1ns"},
		{"Staff", ScanStaff, false, ScanStaff, "staff-2ns"},
		{"ReplayOfAnExpiredCode", ScanReplay, true, ScanReplay, "display-1ns"},
		{"Display", ScanBranch, true, ScanBranch, "display-3ns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.expiredBy {
				cs.mu.Lock()
				for i := range cs.seen {
					cs.seen[i].expires = time.Now().Add(-time.Second)
				}
				cs.mu.Unlock()
			}
			got, kind, err := cs.code(ctx, tc.kind, "ecode-01", 0)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.wantContent || kind != tc.wantKind {
				t.Fatalf("code %q (%s), want %q (%s)", got, kind, tc.wantContent, tc.wantKind)
			}
		})
	}
	if n := fe.sessions.Load(); n != 2 {
		t.Fatalf("%d logins, want 2 (the first session ended once)", n)
	}
	if _, err := newCodeSource("127.0.0.1:8080", "B001", DemoPIN); err == nil {
		t.Fatal("accepted an edge address without a scheme")
	}
}
