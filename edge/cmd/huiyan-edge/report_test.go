package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/hub"
	"huiyan/hub/funnel"
	pad "huiyan/pad-api"
)

// mustRunEdgeWith runs an edge on dir like mustRunEdge, with the config
// changed by edit first.
func mustRunEdgeWith(tb testing.TB, dir string, edit func(*Config)) *Main {
	tb.Helper()
	m := NewMain()
	m.Logger = testLogger(tb)
	m.Config.DataDir, m.Config.HTTP, m.Config.MQTT.Listen = dir, "127.0.0.1:0", "127.0.0.1:0"
	writeTestECodeKey(tb, dir)
	edit(&m.Config)
	if err := m.Config.Validate(); err != nil {
		tb.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		tb.Fatalf("run edge: %v", err)
	}
	var once sync.Once
	tb.Cleanup(func() { once.Do(func() { m.Close() }) })
	return m
}

// branchDay is a short scripted branch day played through real devices
// (MQTT) and a lobby PAD (websocket), with the figures it must give.
type branchDay struct {
	Registered, NoMBank, Active *huiyan.Customer
	Total                       funnel.Counts // claim times aside: they are wall-clock
}

// playBranchDay runs, through the edge m:
//
//	a registered customer at the counter, claimed by lobby, scans the
//	  e-code with mobile banking (activated), lobby records activated;
//	a customer without mobile banking registers on the spot: the e-code
//	  scan carries a new mbank token and the ID card (new user);
//	an active customer plays the wheel;
//	a new face at the counter, claimed by lobby, who records declined.
func playBranchDay(t *testing.T, m *Main, ds *dataSet) branchDay {
	t.Helper()
	const wait = 10 * time.Second
	counter := newDevice(t, m.BrokerURL(), "sc-07")
	ecode := newDevice(t, m.BrokerURL(), "ecode-01") // the default e-code display
	wheel := newDevice(t, m.BrokerURL(), "wheel-07")
	lobby, _ := dialPAD(t, m, "lobby-B001")
	d := branchDay{
		Registered: ds.find(t, "registered with an ID card and mbank token", func(c *huiyan.Customer) bool {
			return c.MBankStatus == huiyan.MBankRegistered && token(c, huiyan.IdentIDCard) != "" && token(c, huiyan.IdentMBank) != ""
		}),
		NoMBank: ds.find(t, "without mobile banking, with an ID card", func(c *huiyan.Customer) bool {
			return c.MBankStatus == huiyan.MBankNone && token(c, huiyan.IdentIDCard) != ""
		}),
		Active: ds.find(t, "active with an mbank token", func(c *huiyan.Customer) bool {
			return c.MBankStatus == huiyan.MBankActive && token(c, huiyan.IdentMBank) != ""
		}),
	}
	card := func(c *huiyan.Customer) huiyan.Ident { return ident(huiyan.IdentIDCard, token(c, huiyan.IdentIDCard)) }
	change := func(v string, f func(padMsg) bool) {
		t.Helper()
		lobby.next(func(m padMsg) bool { return m.Type == pad.TypeVisit && m.Visit.ID == v && f(m) }, wait)
	}

	v1 := lobby.next(arrivalOf(counter.arrive(huiyan.ChannelCounter, card(d.Registered))), wait).Visit.ID
	lobby.send(pad.ClaimMsg{Type: pad.TypeClaim, Visit: v1})
	change(v1, func(m padMsg) bool { return m.Visit.ClaimedBy == "lobby-B001" })
	scan := lobby.next(arrivalOf(ecode.arrive(huiyan.ChannelECode, ident(huiyan.IdentMBank, token(d.Registered, huiyan.IdentMBank)))), wait)
	if scan.Visit.ID != v1 || scan.Visit.Converted != huiyan.ConversionActivated {
		t.Fatalf("scan: %s, want visit %s activated", scan.Raw, v1)
	}
	lobby.send(pad.OutcomeMsg{Type: pad.TypeOutcome, Visit: v1, Result: huiyan.OutcomeActivated})
	change(v1, func(m padMsg) bool { return m.Visit.Outcome == huiyan.OutcomeActivated })

	nu := lobby.next(arrivalOf(ecode.arrive(huiyan.ChannelECode, ident(huiyan.IdentMBank, strangerToken(t, 700)), card(d.NoMBank))), wait)
	if nu.Visit.Converted != huiyan.ConversionNewUser {
		t.Fatalf("registration scan: %s, want a new user", nu.Raw)
	}
	// The wheel is played by scanning with mobile banking.
	lobby.next(arrivalOf(wheel.arrive(huiyan.ChannelWheel, ident(huiyan.IdentMBank, token(d.Active, huiyan.IdentMBank)))), wait)

	v4 := lobby.next(arrivalOf(counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 701)))), wait).Visit.ID
	lobby.send(pad.OutcomeMsg{Type: pad.TypeOutcome, Visit: v4, Result: huiyan.OutcomeDeclined})
	change(v4, func(m padMsg) bool { return m.Visit.Outcome == huiyan.OutcomeDeclined })

	d.Total = funnel.Counts{
		Arrivals: 4, ByChannel: map[string]int{"counter": 2, "ecode": 1, "wheel": 1},
		Signals:    map[string]int{"counter": 2, "ecode": 2, "wheel": 1},
		Recognised: 3, NewFaces: 1, Claimed: 2, Served: 1,
		NeedActivation: 1, Activated: 1, ActivationRate: 1, NoMBank: 1, NewUsers: 1, NewUserRate: 1,
		Outcomes: map[string]int{"activated": 1, "declined": 1},
	}
	return d
}

func getJSON(t *testing.T, url string, cookie *http.Cookie, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != nil {
		req.Header.Set("Cookie", cookie.String())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, b)
		}
	}
	return resp
}

// TestEdge_Report: a supervisor's PAD gets the branch report over HTTP
// with exactly the scripted day's figures; the other roles get 403.
func TestEdge_Report(t *testing.T) {
	began := time.Now()
	ds := mustDataSet(t)
	m := mustRunEdgeWith(t, ds.Dir, func(*Config) {})
	base := "http://" + m.HTTPAddr()
	day := playBranchDay(t, m, ds)

	// From the day the script began to today, so that midnight cannot
	// split it.
	url := base + "/pad/report?from=" + funnel.Day(began, nil) + "&to=" + funnel.Day(time.Now(), nil)
	var br edge.BranchReport
	resp := getJSON(t, url, login(t, base, "supervisor-B001"), &br)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("supervisor: status=%d, want 200", resp.StatusCode)
	}
	got := br.Total
	if got.ClaimMedianS < 0 || got.ClaimP90S < got.ClaimMedianS {
		t.Errorf("claim times median %v p90 %v: want 0 <= median <= p90", got.ClaimMedianS, got.ClaimP90S)
	}
	got.ClaimMedianS, got.ClaimP90S = 0, 0
	want := day.Total
	for _, ch := range huiyan.Channels {
		want.ByChannel[string(ch)] += 0
		want.Signals[string(ch)] += 0
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("total=%s\nwant  %s", g, w)
	}
	if len(br.Staff) != 1 || br.Staff[0].Staff != "lobby-B001" || br.Staff[0].Claims != 2 || br.Staff[0].Served != 1 {
		t.Errorf("staff=%+v, want lobby-B001 with 2 claims, 1 served", br.Staff)
	}
	if br.StaffNames["lobby-B001"] == "" {
		t.Errorf("staff names=%v, want lobby-B001's", br.StaffNames)
	}
	// Counts and staff only: nothing that names a customer.
	raw := mustJSON(t, br)
	for _, c := range []*huiyan.Customer{day.Registered, day.NoMBank, day.Active} {
		if strings.Contains(raw, c.ID) || strings.Contains(raw, c.DisplayName) {
			t.Errorf("the report names customer %s", c.ID)
		}
	}

	for _, staff := range []string{"lobby-B001", "wealth-B001", "account-B001"} {
		var e pad.HTTPError
		if resp := getJSON(t, url, login(t, base, staff), &e); resp.StatusCode != http.StatusForbidden || e.Code != huiyan.EForbidden {
			t.Errorf("%s: status=%d code=%q, want 403 forbidden", staff, resp.StatusCode, e.Code)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hubKeyFile writes a fresh hub public key as hub.pub would hold it.
func hubKeyFile(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hub.pub")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEdge_HubRefusesCredential: an edge whose credential the hub refuses
// keeps serving and buffering, and says so on /healthz and /metrics.
func TestEdge_HubRefusesCredential(t *testing.T) {
	var mu sync.Mutex
	paths := map[string]int{}
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(hub.ErrorResponse{Code: "unauthorized", Message: "unknown or revoked credential"})
	}))
	t.Cleanup(refusing.Close)
	ds := mustDataSet(t)
	m := mustRunEdgeWith(t, ds.Dir, func(c *Config) {
		c.Hub = HubConfig{URL: refusing.URL, KeyFile: hubKeyFile(t), Token: "revoked-credential"}
	})
	base := "http://" + m.HTTPAddr()
	counter := newDevice(t, m.BrokerURL(), "sc-08")
	lobby, _ := dialPAD(t, m, "lobby-B001")
	lobby.next(arrivalOf(counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 800)))), 10*time.Second)

	var h health
	waitFor(t, "the refusal on /healthz", 10*time.Second, func() bool {
		h = health{}
		getJSON(t, base+"/healthz", nil, &h)
		return strings.Contains(strings.Join(h.Problems, "|"), "hub refuses this edge's credential")
	})
	if h.Status != "degraded" || h.OutboxDepth == 0 {
		t.Errorf("health=%+v, want degraded with the events kept", h)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "\nhuiyan_edge_hub_credential_refused 1\n") {
		t.Errorf("/metrics lacks huiyan_edge_hub_credential_refused 1")
	}
	mu.Lock()
	posts := paths["POST "+hub.EventsPath(testBranch)]
	mu.Unlock()
	if posts != 1 {
		// The first refusal backs off to the cap (30 s): one post, however
		// many events follow within the test.
		t.Errorf("%d event posts, want 1", posts)
	}
	var st edge.OutboxStats
	if err := m.DB.View(t.Context(), func(tx edge.Tx) error { st, err = tx.OutboxStats(); return err }); err != nil {
		t.Fatal(err)
	}
	if st.Depth == 0 || st.Dropped != 0 {
		t.Errorf("outbox %+v, want the events kept", st)
	}
}

func TestConfig_Retention(t *testing.T) {
	if got := DefaultConfig().Retention; got != bolt.DefaultVisitRetention {
		t.Errorf("default retention %s, want %s", got, bolt.DefaultVisitRetention)
	}
	for _, tc := range []struct {
		yaml string
		want time.Duration // 0: Validate refuses it, naming retention
	}{
		{"retention: 720h\n", 30 * 24 * time.Hour},
		{"retention: 4320h\n", 180 * 24 * time.Hour},
		{"retention: 168h\n", 7 * 24 * time.Hour},
		{"retention: 24h\n", 0},
		{"retention: 87601h\n", 0},
	} {
		t.Run(strings.TrimSpace(tc.yaml), func(t *testing.T) {
			c := DefaultConfig()
			if err := ParseConfig(strings.NewReader(tc.yaml), &c); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			switch {
			case tc.want == 0 && (err == nil || !strings.Contains(err.Error(), "retention")):
				t.Errorf("Validate=%v, want an error naming retention", err)
			case tc.want != 0 && (err != nil || c.Retention != tc.want):
				t.Errorf("retention=%s, %v, want %s", c.Retention, err, tc.want)
			}
		})
	}
}
