package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/ecode"
	"huiyan/firmware-contracts/devsim"
	"huiyan/hub"
	"huiyan/hub/funnel"
	hubhttp "huiyan/hub/http"
	"huiyan/hub/store"
)

// hqAdminToken is the admin token of the test hub.
const hqAdminToken = "test-hq-admin-token-0123456789"

// hq is a one-member hub cluster as huiyan-hub runs it, for the edge's
// end-to-end tests that need HQ itself: hub/store on hashicorp/raft (its
// own data dir, raft on a loopback port) behind hub/http's /v1 API. The
// edge binary never links these packages; only this test does.
type hq struct {
	URL    string // http://127.0.0.1:port
	KeyDir string // where the store writes hub.pub
	Store  *store.Store
}

func mustRunHQ(tb testing.TB) *hq {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "hub")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	log := testLogger(tb).With("component", "hub")
	st := store.New(store.Config{ID: "hq1", Dir: dir, RaftBind: "127.0.0.1:0", HTTPAddr: ln.Addr().String(), Bootstrap: true,
		HeartbeatTimeout: time.Second, ElectionTimeout: time.Second, LeaderLeaseTimeout: 500 * time.Millisecond,
		SnapshotInterval: time.Hour, Logger: log})
	if err := st.Open(context.Background()); err != nil {
		ln.Close()
		tb.Fatalf("open hub store: %v", err)
	}
	srv := &http.Server{Handler: hubhttp.NewServer(st, hubhttp.Options{AdminToken: hqAdminToken, Logger: log}).Handler(),
		ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("hub http: %v", err)
		}
	}()
	tb.Cleanup(func() {
		_ = srv.Close()
		if err := st.Close(); err != nil {
			tb.Errorf("close hub store: %v", err)
		}
	})
	h := &hq{URL: "http://" + ln.Addr().String(), KeyDir: dir, Store: st}
	waitFor(tb, "the hub leads its one-member cluster", 15*time.Second, st.IsLeader)
	waitFor(tb, "the hub's public key in hub.pub", 10*time.Second, func() bool {
		_, err := os.Stat(h.keyFile())
		return err == nil
	})
	return h
}

func (h *hq) keyFile() string { return filepath.Join(h.KeyDir, "hub.pub") }

// call makes an admin request to the hub and returns the status and body.
func (h *hq) call(tb testing.TB, method, path string, body io.Reader, contentType string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, h.URL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+hqAdminToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, b
}

// importFiles uploads HQ's snapshot and staff roster, as `huiyan-hub
// import` does, and returns the committed version.
func (h *hq) importFiles(tb testing.TB, tags, staff string) uint64 {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for field, path := range map[string]string{"tags": tags, "staff": staff} {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		w, err := mw.CreateFormFile(field, filepath.Base(path))
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			tb.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	status, body := h.call(tb, http.MethodPost, "/v1/imports", &buf, mw.FormDataContentType())
	var imp store.Import
	if err := json.Unmarshal(body, &imp); status != http.StatusCreated || err != nil || imp.Status != store.StatusCommitted {
		tb.Fatalf("hub import: %d %s", status, body)
	}
	return imp.Version
}

// credential issues the credential of branch's edge.
func (h *hq) credential(tb testing.TB, branch string) string {
	tb.Helper()
	status, body := h.call(tb, http.MethodPost, "/v1/credentials/"+branch, nil, "")
	var cr hubhttp.CredentialResponse
	if err := json.Unmarshal(body, &cr); status != http.StatusCreated || err != nil || cr.Credential == "" {
		tb.Fatalf("hub credential: %d %s", status, body)
	}
	return cr.Credential
}

// staffFunnel is the hub's GET /v1/reports/funnel?by=staff for the branch.
func (h *hq) staffFunnel(tb testing.TB, from, to string) funnel.Report {
	tb.Helper()
	status, body := h.call(tb, http.MethodGet, "/v1/reports/funnel?branch="+testBranch+"&from="+from+"&to="+to+"&by=staff", nil, "")
	var rep funnel.Report
	if err := json.Unmarshal(body, &rep); status != http.StatusOK || err != nil {
		tb.Fatalf("hub funnel: %d %s", status, body)
	}
	return rep
}

// activations is a report's leaderboard as staff id → activations
// credited, leaving out staff with none.
func activations(rows []funnel.Staff) map[string]int {
	out := map[string]int{}
	for _, s := range rows {
		if s.Activated > 0 {
			out[s.Staff] += s.Activated
		}
	}
	return out
}

// myCode is the staff member's marketing code as their PAD shows it:
// /pad/mycode in their session, read back from its QR PNG with a real
// decoder.
func myCode(t *testing.T, base, staff string) string {
	t.Helper()
	cookie := login(t, base, staff)
	get := func(path string) []byte {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s as %s: %s %s", path, staff, resp.Status, b)
		}
		return b
	}
	var info ecode.CodeInfo
	if err := json.Unmarshal(get("/pad/mycode"), &info); err != nil {
		t.Fatal(err)
	}
	if content := decodeQR(t, get(info.QR)); info.Staff != staff || content != info.Content {
		t.Fatalf("mycode of %s: %+v, its QR holds %q", staff, info, content)
	}
	return info.Content
}

// TestStaffAttribution_EdgeToHub is issue 7's "a staff code scan
// attributes the activation to that staff member at the edge and at the
// hub", with real parts end to end: HQ imports the branch's snapshot and
// roster into a hub (raft, HTTP API) and issues the edge its credential;
// the edge syncs from it; customers who need activation arrive at a
// counter and scan, through MQTT, a staff member's code from their PAD
// (/pad/mycode). The supervisor's report on the edge credits that staff
// member, and once the outbox has drained the hub's funnel by staff
// credits the same staff member with exactly one activation. A branch
// code scan followed by a staff code moves the credit to the staff member
// at both ends (staff beats branch) without counting the activation
// twice, and a second staff member's code after that takes nothing (first
// touch among staff).
func TestStaffAttribution_EdgeToHub(t *testing.T) {
	began := time.Now()
	h := mustRunHQ(t)
	src := filepath.Join(t.TempDir(), "hq")
	if _, err := devsim.Gen(context.Background(), devsim.GenConfig{Customers: 300, Branches: 1, Seed: 5, PINIterations: 1000}, src); err != nil {
		t.Fatal(err)
	}
	version := h.importFiles(t, filepath.Join(src, "tags.csv"), filepath.Join(src, "staff.csv"))
	cred := h.credential(t, testBranch)

	m := mustRunEdgeWith(t, filepath.Join(t.TempDir(), "edge"), func(c *Config) {
		c.Hub = HubConfig{URL: h.URL, KeyFile: h.keyFile(), Token: cred}
	})
	base := "http://" + m.HTTPAddr()
	var hl health
	waitFor(t, "the edge synced the hub's snapshot", 20*time.Second, func() bool {
		hl = health{}
		getJSON(t, base+"/healthz", nil, &hl)
		return hl.SnapshotVersion == int64(version) && hl.Customers > 0
	})

	// The customers who need activation, from the data set the edge holds
	// now (synced from the hub), with the ID card the counter reads and
	// the mobile-banking token the scan carries.
	var needs []*huiyan.Customer
	f, format, err := hub.OpenSnapshotFile(filepath.Join(src, "tags.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := hub.NewSnapshotReader(f, format, huiyan.DefaultTagDict(), hub.SnapshotOptions{KeyID: "k1", Branch: testBranch})
	if err != nil {
		t.Fatal(err)
	}
	for c, err := range rd.All() {
		if err != nil {
			t.Fatal(err)
		}
		if (c.MBankStatus == huiyan.MBankRegistered || c.MBankStatus == huiyan.MBankDormant) &&
			token(c, huiyan.IdentIDCard) != "" && token(c, huiyan.IdentMBank) != "" && len(needs) < 2 {
			needs = append(needs, c)
		}
	}
	if len(needs) < 2 {
		t.Fatal("the data set has fewer than two customers who need activation")
	}

	counter := newDevice(t, m.BrokerURL(), "sc-01")
	display := newDevice(t, m.BrokerURL(), "ecode-01") // the scans reach the edge as the display's
	lobby, _ := dialPAD(t, m, "lobby-B001")
	super := login(t, base, "supervisor-B001")
	const wait = 10 * time.Second
	mbank := func(c *huiyan.Customer) huiyan.Ident { return ident(huiyan.IdentMBank, token(c, huiyan.IdentMBank)) }
	arrive := func(c *huiyan.Customer) string {
		t.Helper()
		return lobby.next(arrivalOf(counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, token(c, huiyan.IdentIDCard)))), wait).Visit.ID
	}
	scan := func(c *huiyan.Customer, code, visit string) {
		t.Helper()
		got := lobby.next(arrivalOf(display.scan(code, mbank(c))), wait).Visit
		if got.ID != visit || got.Converted != huiyan.ConversionActivated {
			t.Fatalf("scan: visit %s converted=%q, want %s activated", got.ID, got.Converted, visit)
		}
	}
	from, to := funnel.Day(began, nil), funnel.Day(time.Now(), nil)

	// both checks the credit at the edge (the stored visit, the
	// supervisor's report) and, once the outbox has drained, at the hub.
	both := func(t *testing.T, visit, attributed string, total int, credits map[string]int) {
		t.Helper()
		if v := storedVisit(t, m, visit); v.AttributedTo != attributed || v.Converted != huiyan.ConversionActivated {
			t.Fatalf("edge: visit %s converted=%q attributed to %q, want activated for %q", visit, v.Converted, v.AttributedTo, attributed)
		}
		var br edge.BranchReport
		if resp := getJSON(t, base+"/pad/report?from="+from+"&to="+to, super, &br); resp.StatusCode != http.StatusOK || br.Report == nil {
			t.Fatalf("edge report: status %d", resp.StatusCode)
		}
		if got := activations(br.Staff); br.Total.Activated != total || !maps.Equal(got, credits) {
			t.Fatalf("edge report: %d activations credited %v, want %d credited %v", br.Total.Activated, got, total, credits)
		}
		waitFor(t, "the outbox drained to the hub", 20*time.Second, func() bool {
			var st edge.OutboxStats
			err := m.DB.View(t.Context(), func(tx edge.Tx) error { var err error; st, err = tx.OutboxStats(); return err })
			return err == nil && st.Depth == 0
		})
		// The hub answered the last batch once it was committed: its
		// report holds it now.
		rep := h.staffFunnel(t, from, to)
		if got := activations(rep.Staff); rep.Total.Activated != total || !maps.Equal(got, credits) {
			t.Fatalf("hub report: %d activations credited %v, want %d credited %v", rep.Total.Activated, got, total, credits)
		}
		if rep.Total.Activated != br.Total.Activated || rep.Total.NeedActivation != br.Total.NeedActivation || rep.Total.Arrivals != br.Total.Arrivals {
			t.Fatalf("hub total %+v, edge total %+v: the two ends disagree", rep.Total, br.Total)
		}
	}

	a, b := needs[0], needs[1]
	var visitB string
	// The stages build on each other: a failed one stops the test.
	for _, stage := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"StaffCode", func(t *testing.T) {
			v := arrive(a)
			scan(a, myCode(t, base, "wealth-B001"), v)
			both(t, v, "wealth-B001", 1, map[string]int{"wealth-B001": 1})
		}},
		{"BranchCode", func(t *testing.T) {
			visitB = arrive(b)
			scan(b, testCode(t, ecode.KindBranch, "ecode-01", time.Now()), visitB)
			both(t, visitB, "", 2, map[string]int{"wealth-B001": 1})
		}},
		{"StaffBeatsBranch", func(t *testing.T) {
			scan(b, myCode(t, base, "lobby-B001"), visitB)
			both(t, visitB, "lobby-B001", 2, map[string]int{"wealth-B001": 1, "lobby-B001": 1})
		}},
		{"FirstTouchAmongStaff", func(t *testing.T) {
			scan(b, myCode(t, base, "account-B001"), visitB)
			both(t, visitB, "lobby-B001", 2, map[string]int{"wealth-B001": 1, "lobby-B001": 1})
		}},
	} {
		if !t.Run(stage.name, stage.run) {
			t.FailNow()
		}
	}
	for series, want := range map[string]float64{
		`huiyan_edge_conversions_total{conversion="activated"}`:                           2,
		`huiyan_edge_staff_conversions_total{conversion="activated",staff="wealth-B001"}`: 1,
		`huiyan_edge_staff_conversions_total{conversion="activated",staff="lobby-B001"}`:  1,
	} {
		if got := metric(t, base, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}
