package http_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/funnel"
	"huiyan/hub/funnel/funneltest"
	hubhttp "huiyan/hub/http"
	"huiyan/hub/store"
)

// edgeClient is a branch's hub client with its own credential.
func edgeClient(tb testing.TB, st *store.Store, base, branch string) (*hub.Client, string) {
	tb.Helper()
	cred, err := st.IssueCredential(context.Background(), branch)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := hub.NewClient(base, cred, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c, cred
}

// postScript sends the scripted days as the branches' edges do, in
// batches of n, and returns the summed acknowledgements and whether a
// batch had to be sent again: like an edge, it resends a batch answered
// 503 (a leader change under load), for at most 30 s.
func postScript(tb testing.TB, clients map[string]*hub.Client, n int) (hub.EventAck, bool) {
	tb.Helper()
	var sum hub.EventAck
	resent := false
	for _, b := range []string{funneltest.B1, funneltest.B2} {
		evs := funneltest.Events(b)
		for len(evs) > 0 {
			k := min(n, len(evs))
			deadline := time.Now().Add(30 * time.Second)
			for {
				ack, err := clients[b].PostEvents(context.Background(), b, hub.EventBatch{Events: evs[:k]})
				if err == nil {
					sum.Accepted += ack.Accepted
					sum.Duplicates += ack.Duplicates
					break
				}
				if !errors.Is(err, hub.ErrUnavailable) || time.Now().After(deadline) {
					tb.Fatalf("post %d events of %s: %v", k, b, err)
				}
				resent = true
				time.Sleep(50 * time.Millisecond)
			}
			evs = evs[k:]
		}
	}
	return sum, resent
}

func scriptLen() int {
	return len(funneltest.Events(funneltest.B1)) + len(funneltest.Events(funneltest.B2))
}

func get(tb testing.TB, u, token string, hdr ...string) (int, http.Header, []byte) {
	tb.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func funnelURL(base string, q url.Values) string { return base + "/v1/reports/funnel?" + q.Encode() }

func scriptQuery(branch, by string) url.Values {
	q := url.Values{"from": {funneltest.Day1}, "to": {funneltest.Day2}}
	if branch != "" {
		q.Set("branch", branch)
	}
	if by != "" {
		q.Set("by", by)
	}
	return q
}

// countsFromCSV reads a funnel CSV record back into Counts, so that the
// CSV is checked against the same figures as the JSON.
func countsFromCSV(tb testing.TB, header, rec []string) funnel.Counts {
	tb.Helper()
	c := funnel.Counts{ByChannel: map[string]int{}, Signals: map[string]int{}, Outcomes: map[string]int{}}
	for i, h := range header {
		v := rec[i]
		num := func() float64 {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatalf("column %s: %q is not a number", h, v)
			}
			return f
		}
		switch {
		case h == "branch":
			c.Branch = v
		case h == "day":
			c.Day = v
		case strings.HasPrefix(h, "arrivals_"):
			c.ByChannel[strings.TrimPrefix(h, "arrivals_")] = int(num())
		case strings.HasPrefix(h, "signals_"):
			c.Signals[strings.TrimPrefix(h, "signals_")] = int(num())
		case strings.HasPrefix(h, "outcome_"):
			c.Outcomes[strings.TrimPrefix(h, "outcome_")] = int(num())
		default:
			f := map[string]*int{"arrivals": &c.Arrivals, "recognised": &c.Recognised, "new_faces": &c.NewFaces,
				"claimed": &c.Claimed, "served": &c.Served, "need_activation": &c.NeedActivation, "activated": &c.Activated,
				"no_mbank": &c.NoMBank, "new_users": &c.NewUsers, "refused_scans": &c.RefusedScans}
			g := map[string]*float64{"activation_rate": &c.ActivationRate, "new_user_rate": &c.NewUserRate,
				"claim_median_s": &c.ClaimMedianS, "claim_p90_s": &c.ClaimP90S}
			switch {
			case f[h] != nil:
				*f[h] = int(num())
			case g[h] != nil:
				*g[h] = num()
			default:
				tb.Fatalf("unknown column %s", h)
			}
		}
	}
	return c
}

func TestEventsAndReports(t *testing.T) {
	st, srv := MustOpenServer(t)
	ctx := context.Background()
	c1, cred1 := edgeClient(t, st, srv.URL, funneltest.B1)
	c2, _ := edgeClient(t, st, srv.URL, funneltest.B2)
	clients := map[string]*hub.Client{funneltest.B1: c1, funneltest.B2: c2}
	n := scriptLen()

	t.Run("Ingest", func(t *testing.T) {
		if ack, _ := postScript(t, clients, 4); ack.Accepted != n || ack.Duplicates != 0 {
			t.Fatalf("ack %+v, want %d accepted", ack, n)
		}
	})

	t.Run("LostAckResent", func(t *testing.T) {
		// A proxy that passes the batch to the hub and loses its answer:
		// the hub committed it, the edge saw a 502 and sends it again.
		target, _ := url.Parse(srv.URL)
		lossy := httptest.NewServer(&httputil.ReverseProxy{
			Rewrite:        func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
			ModifyResponse: func(*http.Response) error { return errors.New("answer lost") },
			ErrorHandler:   func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
		})
		defer lossy.Close()
		lc, err := hub.NewClient(lossy.URL, cred1, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := reportJSON(t, srv.URL)
		extra := []hub.EventWire{{ID: "x1:1:opened", Kind: hub.EventOpened, At: time.Date(2026, 11, 24, 15, 0, 0, 0, funnel.CST),
			Visit: "x1", Channel: huiyan.ChannelCounter, Recognised: true, MBankAtOpen: huiyan.MBankDormant, Tier: huiyan.TierGold}}
		batch := hub.EventBatch{Events: append(funneltest.Events(funneltest.B1)[:3], extra...)}
		if _, err := lc.PostEvents(ctx, funneltest.B1, batch); !errors.Is(err, hub.ErrUnavailable) {
			t.Fatalf("through the lossy proxy: err=%v, want unavailable", err)
		}
		ack, err := c1.PostEvents(ctx, funneltest.B1, batch)
		if err != nil || ack.Accepted != 0 || ack.Duplicates != 4 {
			t.Fatalf("resend: %+v %v, want 4 duplicates", ack, err)
		}
		// The lost batch's one new visit counts once, nothing else moved.
		after := reportJSON(t, srv.URL)
		var b, a funnel.Report
		json.Unmarshal(before, &b)
		json.Unmarshal(after, &a)
		if a.Total.Arrivals != b.Total.Arrivals+1 || a.Total.NeedActivation != b.Total.NeedActivation+1 || a.Total.Claimed != b.Total.Claimed {
			t.Fatalf("arrivals %d → %d, need activation %d → %d", b.Total.Arrivals, a.Total.Arrivals, b.Total.NeedActivation, a.Total.NeedActivation)
		}
		// And a whole resend of the script is all duplicates.
		if ack, _ := postScript(t, clients, hub.MaxEventBatch); ack.Accepted != 0 || ack.Duplicates != n {
			t.Fatalf("resend %+v, want %d duplicates", ack, n)
		}
		// Once the days are purged, a late resend brings nothing back: the
		// events are older than the retention horizon.
		if _, err := st.PurgeEvents(ctx, time.Date(2026, 11, 25, 0, 0, 0, 0, funnel.CST)); err != nil {
			t.Fatal(err)
		}
		if ack, _ := postScript(t, clients, 50); ack.Accepted != 0 || ack.Duplicates != n {
			t.Fatalf("after purge: %+v, want %d answered as duplicates", ack, n)
		}
		var purged funnel.Report
		if err := json.Unmarshal(reportJSON(t, srv.URL), &purged); err != nil {
			t.Fatal(err)
		}
		if purged.Total.Arrivals != 0 || len(purged.Rows) != 0 {
			t.Fatalf("purged days still reported: %+v", purged.Total)
		}
	})
}

func reportJSON(tb testing.TB, base string) []byte {
	tb.Helper()
	status, _, b := get(tb, funnelURL(base, scriptQuery("", "branch_day")), adminToken)
	if status != http.StatusOK {
		tb.Fatalf("report: %d %s", status, b)
	}
	return b
}

func TestReports(t *testing.T) {
	st, srv := MustOpenServer(t)
	c1, cred1 := edgeClient(t, st, srv.URL, funneltest.B1)
	c2, _ := edgeClient(t, st, srv.URL, funneltest.B2)
	if ack, _ := postScript(t, map[string]*hub.Client{funneltest.B1: c1, funneltest.B2: c2}, 10); ack.Accepted != scriptLen() {
		t.Fatalf("%+v", ack)
	}

	t.Run("JSON", func(t *testing.T) {
		for _, branch := range []string{"", funneltest.B1, funneltest.B2} {
			for _, by := range []string{"", "branch", "day", "branch_day", "staff"} {
				status, hdr, b := get(t, funnelURL(srv.URL, scriptQuery(branch, by)), adminToken)
				if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
					t.Fatalf("%q by %q: %d %s %s", branch, by, status, hdr.Get("Content-Type"), b)
				}
				var r funnel.Report
				if err := json.Unmarshal(b, &r); err != nil {
					t.Fatal(err)
				}
				if r.From != funneltest.Day1 || r.To != funneltest.Day2 {
					t.Fatalf("range %s–%s", r.From, r.To)
				}
				if err := funneltest.CheckReport(&r, branch); err != nil {
					t.Fatalf("%q by %q: %v", branch, by, err)
				}
			}
		}
	})

	t.Run("CSV", func(t *testing.T) {
		for _, tc := range []struct {
			name, branch string
			hdr          []string
			format       string
		}{
			{"AllBranches", "", nil, "csv"},
			{"OneBranch", funneltest.B2, nil, "csv"},
			{"Accept", "", []string{"Accept", "text/csv"}, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := scriptQuery(tc.branch, "branch_day")
				if tc.format != "" {
					q.Set("format", tc.format)
				}
				status, hdr, b := get(t, funnelURL(srv.URL, q), adminToken, tc.hdr...)
				if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
					t.Fatalf("%d %s %s", status, hdr.Get("Content-Type"), b)
				}
				name := "all"
				if tc.branch != "" {
					name = tc.branch
				}
				want := `attachment; filename="funnel_` + name + `_2026-11-23_2026-11-24_branch_day.csv"`
				if cd := hdr.Get("Content-Disposition"); cd != want {
					t.Fatalf("Content-Disposition %q, want %q", cd, want)
				}
				recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				var rows []funneltest.Figures
				for _, f := range funneltest.Rows {
					if tc.branch == "" || f.Branch == tc.branch {
						rows = append(rows, f)
					}
				}
				if len(recs) != len(rows)+2 || strings.Join(recs[0], ",") != strings.Join(funnel.CountsHeader, ",") {
					t.Fatalf("%d records, want header, %d rows, total: %q", len(recs), len(rows), recs)
				}
				for i, f := range rows {
					c := countsFromCSV(t, recs[0], recs[i+1])
					if c.Branch != f.Branch || c.Day != f.Day {
						t.Fatalf("CSV row %d is %s/%s, want %s/%s", i, c.Branch, c.Day, f.Branch, f.Day)
					}
					if err := f.Check(&c); err != nil {
						t.Fatalf("CSV: %v", err)
					}
				}
				total := countsFromCSV(t, recs[0], recs[len(recs)-1])
				if total.Branch != "total" {
					t.Fatalf("last row %q", recs[len(recs)-1])
				}
				if tc.branch == "" {
					if err := funneltest.Total.Check(&total); err != nil {
						t.Fatalf("CSV total: %v", err)
					}
				}
			})
		}
	})

	t.Run("StaffCSV", func(t *testing.T) {
		q := scriptQuery("", "staff")
		q.Set("format", "csv")
		status, hdr, b := get(t, funnelURL(srv.URL, q), adminToken)
		if status != http.StatusOK || !strings.Contains(hdr.Get("Content-Disposition"), "_staff.csv") {
			t.Fatalf("%d %v %s", status, hdr, b)
		}
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(funneltest.Staff)+1 || strings.Join(recs[0], ",") != strings.Join(funnel.StaffHeader, ",") {
			t.Fatalf("staff CSV %q", recs)
		}
		for i, s := range funneltest.Staff {
			rec := recs[i+1]
			atoi := func(j int) int { v, _ := strconv.Atoi(rec[j]); return v }
			got := funnel.Staff{Branch: rec[0], Staff: rec[1], Claims: atoi(2), Served: atoi(3), Activated: atoi(4), NewUsers: atoi(5)}
			if err := s.Check(&got); err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
		}
	})

	t.Run("DefaultToday", func(t *testing.T) {
		status, _, b := get(t, srv.URL+"/v1/reports/funnel", adminToken)
		if status != http.StatusOK {
			t.Fatalf("%d %s", status, b)
		}
		var r funnel.Report
		json.Unmarshal(b, &r)
		if today := funnel.Day(time.Now(), nil); r.From != today || r.To != today {
			t.Fatalf("range %s–%s, want today %s", r.From, r.To, today)
		}
	})

	t.Run("ErrParams", func(t *testing.T) {
		for _, tc := range []struct{ name, query, want string }{
			{"Backwards", "from=2026-11-24&to=2026-11-23", "before"},
			{"TooLong", "from=2025-01-01&to=2026-01-02", "at most 366"},
			{"BadDay", "from=2026-11-31&to=2026-12-01", "YYYY-MM-DD"},
			{"BadBranch", "branch=B%201", "branch"},
			{"BadBy", "by=week", "by"},
			{"BadFormat", "format=xlsx", "format"},
			{"Unknown", "form=2026-11-23", "unknown parameter"},
			{"Twice", "branch=B001&branch=B002", "2 times"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, _, b := get(t, srv.URL+"/v1/reports/funnel?"+tc.query, adminToken)
				var er hub.ErrorResponse
				json.Unmarshal(b, &er)
				if status != http.StatusBadRequest || er.Code != huiyan.EInvalid || !strings.Contains(er.Message, tc.want) {
					t.Fatalf("%d %s, want 400 mentioning %q", status, b, tc.want)
				}
			})
		}
	})

	t.Run("Auth", func(t *testing.T) {
		u := funnelURL(srv.URL, scriptQuery("", ""))
		for _, tc := range []struct {
			name, token string
			want        int
		}{
			{"ErrNoCredential", "", http.StatusUnauthorized},
			{"ErrUnknownCredential", "hyc1_B001_notarealcredential", http.StatusUnauthorized},
			{"ErrEdgeCredential", cred1, http.StatusForbidden},
			{"Admin", adminToken, http.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if status, _, b := get(t, u, tc.token); status != tc.want {
					t.Fatalf("%d %s, want %d", status, b, tc.want)
				}
			})
		}
	})
}

// post sends a JSON body with a bearer token.
func post(tb testing.TB, u, token string, body any) (int, []byte) {
	tb.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	req, _ := http.NewRequest("POST", u, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(tb, req)
}

func TestEdgeStatusAndBranches(t *testing.T) {
	st, srv := MustOpenServer(t)
	c1, cred1 := edgeClient(t, st, srv.URL, "B001")
	edgeClient(t, st, srv.URL, "B002")
	now := time.Now().UTC()
	status := hub.EdgeStatus{At: now, Version: "v9", SnapshotVersion: 2, OutboxDepth: 40, OutboxOldest: now.Add(-2 * time.Hour),
		Devices: []hub.DeviceStatus{{Device: "sc-01", Channel: huiyan.ChannelCounter, Online: true, Since: now.Add(-time.Hour)},
			{Device: "wh-01", Channel: huiyan.ChannelWheel, Online: false, Since: now.Add(-time.Minute)}}}
	if err := c1.ReportStatus(context.Background(), "B001", status); err != nil {
		t.Fatal(err)
	}

	t.Run("Branches", func(t *testing.T) {
		code, _, b := get(t, srv.URL+"/v1/branches", adminToken)
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, b)
		}
		var resp hubhttp.BranchesResponse
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatal(err)
		}
		byID := map[string]store.Branch{}
		for _, br := range resp.Branches {
			byID[br.ID] = br
		}
		b1, b2 := byID["B001"], byID["B002"]
		if b1.EdgeState != store.EdgeOnline || b1.OutboxDepth == nil || *b1.OutboxDepth != 40 || !b1.OutboxOldest.Equal(status.OutboxOldest) ||
			b1.EdgeSnapshotVersion != 2 || b1.EdgeVersion != "v9" || b1.DevicesOnline != 1 || b1.DevicesOffline != 1 || len(b1.Devices) != 2 ||
			b1.Devices[1].ID != "wh-01" || b1.Devices[1].Online || time.Since(b1.LastSeen) > time.Minute {
			t.Fatalf("B001 %+v", b1)
		}
		// The JSON names the dashboard reads, flat on the branch.
		var raw struct {
			Branches []map[string]any `json:"branches"`
		}
		json.Unmarshal(b, &raw)
		for _, m := range raw.Branches {
			_, hasDepth := m["outbox_depth"]
			switch m["branch"] {
			case "B001":
				devs, _ := m["devices"].([]any)
				d, _ := devs[0].(map[string]any)
				if !hasDepth || m["last_seen"] == nil || m["outbox_oldest"] == nil || d["device"] != "sc-01" || d["online"] != true {
					t.Fatalf("B001 JSON %v", m)
				}
			case "B002":
				if hasDepth || m["devices"] != nil || m["edge_state"] != "unknown" {
					t.Fatalf("B002 JSON %v: a branch never seen must not show an empty outbox", m)
				}
			}
		}
		if b2.EdgeState != store.EdgeUnknown || b2.OutboxDepth != nil {
			t.Fatalf("B002 %+v", b2)
		}
	})

	t.Run("Auth", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, token string
			body              any
			want              int
		}{
			{"StatusErrNoCredential", "/v1/branches/B001/status", "", status, http.StatusUnauthorized},
			{"StatusErrWrongCredential", "/v1/branches/B001/status", "hyc1_B001_wrong", status, http.StatusUnauthorized},
			{"StatusErrOtherBranch", "/v1/branches/B002/status", cred1, status, http.StatusForbidden},
			{"StatusErrInvalid", "/v1/branches/B001/status", cred1, map[string]any{"at": now, "outbox_depth": -1}, http.StatusBadRequest},
			{"StatusErrUnknownField", "/v1/branches/B001/status", cred1, map[string]any{"at": now, "customer": "x"}, http.StatusBadRequest},
			{"StatusOK", "/v1/branches/B001/status", cred1, status, http.StatusNoContent},
			{"EventsErrNoCredential", "/v1/branches/B001/events", "", hub.EventBatch{}, http.StatusUnauthorized},
			{"EventsErrWrongCredential", "/v1/branches/B001/events", "hyc1_B001_wrong", hub.EventBatch{}, http.StatusUnauthorized},
			{"EventsErrOtherBranch", "/v1/branches/B002/events", cred1, hub.EventBatch{Events: funneltest.Events("B001")[:1]}, http.StatusForbidden},
			{"EventsErrEmpty", "/v1/branches/B001/events", cred1, hub.EventBatch{}, http.StatusBadRequest},
			{"BranchesErrEdge", "/v1/branches", cred1, nil, http.StatusForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var code int
				var b []byte
				if tc.body == nil {
					code, _, b = get(t, srv.URL+tc.path, tc.token)
				} else {
					code, b = post(t, srv.URL+tc.path, tc.token, tc.body)
				}
				if code != tc.want {
					t.Fatalf("%d %s, want %d", code, b, tc.want)
				}
			})
		}
	})
}

// node is one member of a cluster with its API on a real listener.
type node struct {
	st  *store.Store
	srv *httptest.Server
}

// mustOpenHTTPCluster runs n members on loopback, each with its API at
// the address the cluster replicates, so that followers really proxy
// writes to the leader.
func mustOpenHTTPCluster(tb testing.TB, n int) []*node {
	tb.Helper()
	var nodes []*node
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		st := store.New(store.Config{
			ID: "n" + strconv.Itoa(i), Dir: tb.TempDir(), RaftBind: "127.0.0.1:0", HTTPAddr: ln.Addr().String(), Bootstrap: i == 0,
			HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond, LeaderLeaseTimeout: 250 * time.Millisecond,
			CommitTimeout: 5 * time.Millisecond, WALSegmentBytes: 1 << 20, MmapBytes: 16 << 20,
		})
		if err := st.Open(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		srv := httptest.NewUnstartedServer(hubhttp.NewServer(st, hubhttp.Options{AdminToken: adminToken, Logger: slog.New(slog.DiscardHandler)}).Handler())
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		tb.Cleanup(srv.Close)
		nodes = append(nodes, &node{st: st, srv: srv})
	}
	poll(tb, "n0 leads with a key", func() bool { ks, _ := nodes[0].st.PublicKeys(); return nodes[0].st.IsLeader() && len(ks) == 1 })
	for _, nd := range nodes[1:] {
		if err := nodes[0].st.Join(context.Background(), nd.st.ID(), nd.st.RaftAddr(), nd.st.HTTPAddr()); err != nil {
			tb.Fatal(err)
		}
	}
	poll(tb, "every member knows the leader's address and the key", func() bool {
		for _, nd := range nodes {
			ks, _ := nd.st.PublicKeys()
			if _, err := nd.st.LeaderHTTP(); err != nil || len(ks) != 1 {
				return false
			}
		}
		return true
	})
	return nodes
}

func poll(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCluster_EventsThroughFollower: an edge configured with a follower's
// address posts its events there; the follower proxies them to the
// leader, the answer comes back only once they are committed, a resend
// through another member counts once, and every member answers the same
// report.
func TestCluster_EventsThroughFollower(t *testing.T) {
	nodes := mustOpenHTTPCluster(t, 3)
	leader, f1, f2 := nodes[0], nodes[1], nodes[2]
	clients := map[string]*hub.Client{}
	creds := map[string]string{}
	for _, b := range []string{funneltest.B1, funneltest.B2} {
		_, cred := edgeClient(t, leader.st, leader.srv.URL, b)
		creds[b] = cred
		poll(t, "credential replicated", func() bool { _, ok := f1.st.Authenticate(cred); return ok })
		c, err := hub.NewClient(f1.srv.URL, cred, nil)
		if err != nil {
			t.Fatal(err)
		}
		clients[b] = c
	}
	n := scriptLen()
	// A resend forced by an unplanned election (a loaded machine) hides
	// how many of a batch were new; the report below must hold anyway.
	ack, resent := postScript(t, clients, 5)
	if !resent && leader.st.IsLeader() {
		if ack.Accepted != n || ack.Duplicates != 0 {
			t.Fatalf("through a follower: %+v, want %d accepted", ack, n)
		}
		// Acknowledged means applied on the leader: it has every event
		// the moment the last answer arrives, with no waiting.
		r, err := leader.st.Funnel(context.Background(), store.FunnelQuery{From: funneltest.Day1, To: funneltest.Day2})
		if err != nil || r.Total.Arrivals != funneltest.Total.Arrivals {
			t.Fatalf("leader after the acks: %+v %v", r.Total, err)
		}
	}
	for b := range clients {
		c, err := hub.NewClient(f2.srv.URL, creds[b], nil)
		if err != nil {
			t.Fatal(err)
		}
		clients[b] = c
	}
	if ack, _ := postScript(t, clients, 7); ack.Accepted != 0 || ack.Duplicates != n {
		t.Fatalf("resend through the other follower: %+v, want %d duplicates", ack, n)
	}
	if err := clients[funneltest.B1].ReportStatus(context.Background(), funneltest.B1, hub.EdgeStatus{At: time.Now(), Devices: []hub.DeviceStatus{}}); err != nil {
		t.Fatalf("status through a follower: %v", err)
	}
	for _, nd := range nodes {
		if nd.st.IsLeader() {
			leader = nd
		}
	}
	idx := leader.st.AppliedIndex()
	poll(t, "every member applies", func() bool {
		return nodes[0].st.AppliedIndex() >= idx && f1.st.AppliedIndex() >= idx && f2.st.AppliedIndex() >= idx
	})
	want := reportJSON(t, leader.srv.URL)
	var rep funnel.Report
	if err := json.Unmarshal(want, &rep); err != nil {
		t.Fatal(err)
	}
	if err := funneltest.CheckReport(&rep, ""); err != nil {
		t.Fatal(err)
	}
	for _, nd := range nodes {
		if got := reportJSON(t, nd.srv.URL); !bytes.Equal(got, want) {
			t.Fatalf("%s answers another report:\n%s\nleader:\n%s", nd.st.ID(), got, want)
		}
		bs, err := nd.st.Branches()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.ID == funneltest.B1 && b.EdgeState != store.EdgeOnline {
				t.Fatalf("%s: B001 %+v", nd.st.ID(), b)
			}
		}
	}
}
