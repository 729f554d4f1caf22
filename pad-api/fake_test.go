package pad_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"huiyan"
	pad "huiyan/pad-api"
)

const testPIN = "246810"

// fakeClock is a clock the tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 23, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeBackend is an in-memory pad.Backend: a roster, sessions, a feed with
// a retention floor, open cards and devices.
type fakeBackend struct {
	clock *fakeClock

	mu       sync.Mutex
	staff    map[string]huiyan.Staff
	sessions map[string]pad.Session
	tokens   int
	feed     []huiyan.FeedEvent
	oldest   uint64 // events before it are no longer retained
	newest   uint64
	cards    map[string]huiyan.Card
	devices  []huiyan.DeviceState
	claimErr error
	// afterNewest, when set, runs once after Newest has read the newest
	// seq: an event committed in the gap between the read and the hello.
	afterNewest func()

	logins atomic.Int32 // Login calls

	// pubMu serialises append and Publish, as the edge must.
	pubMu sync.Mutex
	srv   *pad.Server
}

var _ pad.Backend = (*fakeBackend)(nil)

func newFakeBackend(clock *fakeClock) *fakeBackend {
	f := &fakeBackend{
		clock:    clock,
		staff:    map[string]huiyan.Staff{},
		sessions: map[string]pad.Session{},
		cards:    map[string]huiyan.Card{},
		oldest:   1,
	}
	for _, s := range []huiyan.Staff{
		{ID: "lobby-1", Role: huiyan.RoleLobby, DisplayName: "王*"},
		{ID: "lobby-2", Role: huiyan.RoleLobby, DisplayName: "李*"},
		{ID: "wealth-1", Role: huiyan.RoleWealth, DisplayName: "张*"},
		{ID: "account-1", Role: huiyan.RoleAccount, DisplayName: "赵*"},
		{ID: "account-2", Role: huiyan.RoleAccount, DisplayName: "钱*"},
		{ID: "super-1", Role: huiyan.RoleSupervisor, DisplayName: "孙*"},
	} {
		s.Branch = "0101"
		s.PINHash = "pbkdf2-sha256$never-on-the-wire"
		f.staff[s.ID] = s
	}
	return f
}

func (f *fakeBackend) Login(ctx context.Context, staffID, pin string) (pad.Session, error) {
	f.logins.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.staff[staffID]
	if !ok || pin != testPIN {
		return pad.Session{}, huiyan.Errorf(huiyan.EUnauthorized, "wrong staff id or PIN")
	}
	f.tokens++
	s := pad.Session{Token: fmt.Sprintf("tok-%d-%s", f.tokens, staffID), Staff: st, Branch: "0101", Expires: f.clock.Now().Add(pad.SessionTTL)}
	f.sessions[s.Token] = s
	return s, nil
}

func (f *fakeBackend) Logout(ctx context.Context, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, token)
	return nil
}

func (f *fakeBackend) Session(ctx context.Context, token string) (pad.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[token]
	if !ok || !f.clock.Now().Before(s.Expires) {
		return pad.Session{}, huiyan.Errorf(huiyan.EUnauthorized, "session expired")
	}
	return s, nil
}

func (f *fakeBackend) FeedAfter(ctx context.Context, after uint64, limit int) ([]huiyan.FeedEvent, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if after > f.newest || after+1 < f.oldest {
		return nil, false, nil
	}
	var out []huiyan.FeedEvent
	for _, e := range f.feed {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, true, nil
}

func (f *fakeBackend) State(ctx context.Context) (uint64, []huiyan.Card, []huiyan.DeviceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cards []huiyan.Card
	for _, c := range f.cards {
		cards = append(cards, c)
	}
	return f.newest, cards, append([]huiyan.DeviceState(nil), f.devices...), nil
}

func (f *fakeBackend) Newest(ctx context.Context) (uint64, error) {
	f.mu.Lock()
	newest, hook := f.newest, f.afterNewest
	f.afterNewest = nil
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	return newest, nil
}

func (f *fakeBackend) Claim(ctx context.Context, staffID, visitID string) error {
	f.mu.Lock()
	err := f.claimErr
	c, ok := f.cards[visitID]
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if !ok {
		return huiyan.Errorf(huiyan.ENotFound, "no open visit %s", visitID)
	}
	v := *c.Visit
	v.ClaimedBy = staffID
	f.append(huiyan.FeedEvent{Kind: huiyan.FeedVisit, Audience: c.Audience, Visit: &v})
	return nil
}

func (f *fakeBackend) Release(ctx context.Context, staffID, visitID string) error {
	return huiyan.Errorf(huiyan.EForbidden, "only the claimer may release")
}

func (f *fakeBackend) Outcome(ctx context.Context, staffID, visitID string, o huiyan.Outcome) error {
	return huiyan.Errorf(huiyan.ENotFound, "no open visit %s", visitID)
}

// append commits an event (and the card of an arrival) and publishes it,
// in seq order.
func (f *fakeBackend) append(e huiyan.FeedEvent) uint64 {
	f.pubMu.Lock()
	defer f.pubMu.Unlock()
	f.mu.Lock()
	f.newest++
	e.Seq = f.newest
	e.At = f.clock.Now()
	f.feed = append(f.feed, e)
	if e.Kind == huiyan.FeedArrival {
		f.cards[e.Visit.ID] = huiyan.Card{Visit: e.Visit, Profile: e.Profile, Actions: e.Actions, Audience: e.Audience}
	}
	if e.Kind == huiyan.FeedDevice {
		f.devices = append(f.devices, huiyan.DeviceState{Device: e.Device, Channel: huiyan.ChannelCounter, Status: e.DeviceStatus, Since: e.At})
	}
	srv := f.srv
	f.mu.Unlock()
	if srv != nil {
		srv.Publish(e)
	}
	return e.Seq
}

// forget drops events before seq, as the edge's retention does.
func (f *fakeBackend) forget(before uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.oldest = before
	var kept []huiyan.FeedEvent
	for _, e := range f.feed {
		if e.Seq >= before {
			kept = append(kept, e)
		}
	}
	f.feed = kept
}

func (f *fakeBackend) setClaimErr(err error) {
	f.mu.Lock()
	f.claimErr = err
	f.mu.Unlock()
}

// Event builders.

var lobbyOnly = huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby}}

func arrivalEvent(visitID, manager string, aud huiyan.Audience) huiyan.FeedEvent {
	at := time.Date(2026, 11, 23, 9, 30, 1, 250e6, time.FixedZone("CST", 8*3600))
	return huiyan.FeedEvent{
		Kind:     huiyan.FeedArrival,
		Audience: aud,
		Visit: &huiyan.Visit{
			ID: visitID, Branch: "0101", CustomerID: "C000123", OpenedAt: at, LastSeenAt: at,
			Channel:     huiyan.ChannelCounter,
			Touchpoints: []huiyan.Touchpoint{{EventID: "sc-01-000123", Channel: huiyan.ChannelCounter, Device: "sc-01", At: at}},
			MBankAtOpen: huiyan.MBankDormant,
		},
		Profile: &huiyan.Profile{
			CustomerID: "C000123", DisplayName: "林*华", Tier: huiyan.TierGold,
			Tags: []huiyan.ProfileTag{
				{Code: huiyan.TagPotentialVIP, NameZH: "潜力贵宾客户", NameEN: "Potential VIP", Kind: huiyan.TagPredictive, Priority: 1},
				{Code: huiyan.TagMBankDormant, NameZH: "掌银睡眠", NameEN: "Mobile banking dormant", Kind: huiyan.TagStatus, Priority: 2},
			},
			MBankStatus: huiyan.MBankDormant, MBankIdleDays: 200, Lifecycle: huiyan.LifecycleChurning,
			Maturities: []huiyan.Maturity{{Product: "td_3y", Date: time.Date(2026, 12, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))}},
			Manager:    manager,
		},
		Actions: []huiyan.Action{{Code: "guide_ecode_scan", Title: "引导扫网点e码", Script: "您好……", Role: huiyan.RoleLobby, Priority: 10, Reason: "掌银睡眠"}},
	}
}

func deviceEvent(device, status string, aud huiyan.Audience) huiyan.FeedEvent {
	return huiyan.FeedEvent{Kind: huiyan.FeedDevice, Audience: aud, Device: device, DeviceStatus: status}
}

var everyone = huiyan.Audience{Roles: huiyan.Roles}

// harness is a pad.Server on an httptest server with a fake backend.
type harness struct {
	t     *testing.T
	clock *fakeClock
	fake  *fakeBackend
	srv   *pad.Server
	ts    *httptest.Server
	reg   *prometheus.Registry
	stall *stallListener
}

func newHarness(t *testing.T, opts pad.Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(), reg: prometheus.NewRegistry()}
	h.fake = newFakeBackend(h.clock)
	opts.Clock = h.clock.Now
	opts.Registerer = h.reg
	if opts.Branch == "" {
		opts.Branch = "0101"
	}
	h.srv = pad.NewServer(h.fake, opts)
	h.fake.srv = h.srv
	h.ts = httptest.NewUnstartedServer(h.srv.Handler())
	h.stall = &stallListener{Listener: h.ts.Listener, conns: map[string]*stallConn{}}
	h.ts.Listener = h.stall
	h.ts.Start()
	t.Cleanup(func() {
		h.srv.Close()
		h.ts.Close()
	})
	return h
}

// client returns an HTTP client whose connections come from the loopback
// address ip (127.0.0.x), so tests can be several client addresses.
func client(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func (h *harness) post(c *http.Client, path, body string, header http.Header) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.ts.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (h *harness) loginFrom(ip, staff, pin string) *http.Response {
	h.t.Helper()
	body, _ := json.Marshal(pad.LoginRequest{Staff: staff, PIN: pin})
	return h.post(client(ip), "/pad/login", string(body), nil)
}

// login logs staff in and returns the session cookie.
func (h *harness) login(staff string) *http.Cookie {
	h.t.Helper()
	resp := h.loginFrom("127.0.0.1", staff, testPIN)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("login %s: status=%d, want 200", staff, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == pad.CookieName {
			return c
		}
	}
	h.t.Fatalf("login %s: no %s cookie", staff, pad.CookieName)
	return nil
}

func (h *harness) wsURL() string { return "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/pad/ws" }

func (h *harness) dial(cookie *http.Cookie, header http.Header) (*websocket.Conn, *http.Response, error) {
	if header == nil {
		header = http.Header{}
	}
	if cookie != nil {
		header.Set("Cookie", cookie.String())
	}
	return websocket.DefaultDialer.Dial(h.wsURL(), header)
}

// pad is a websocket client that reads in the background.
type padClient struct {
	t     *testing.T
	ws    *websocket.Conn
	msgs  chan []byte
	err   error // set before done is closed
	done  chan struct{}
	local string
}

// connect logs staff in, opens /pad/ws and returns the client and its hello.
func (h *harness) connect(staff string) (*padClient, pad.HelloMsg) {
	h.t.Helper()
	ws, _, err := h.dial(h.login(staff), nil)
	if err != nil {
		h.t.Fatalf("dial %s: %v", staff, err)
	}
	c := startClient(h.t, ws)
	var hello pad.HelloMsg
	c.expect(pad.TypeHello, &hello)
	return c, hello
}

func startClient(t *testing.T, ws *websocket.Conn) *padClient {
	c := &padClient{t: t, ws: ws, msgs: make(chan []byte, 4096), done: make(chan struct{}), local: ws.LocalAddr().String()}
	go func() {
		defer close(c.done)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				c.err = err
				return
			}
			c.msgs <- data
		}
	}()
	t.Cleanup(func() { ws.Close() })
	return c
}

const wait = 5 * time.Second

// next returns the next message, failing after a deadline.
func (c *padClient) next() []byte {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m
		default:
		}
		c.t.Fatalf("connection ended: %v", c.err)
	case <-time.After(wait):
		c.t.Fatalf("no message within %v", wait)
	}
	return nil
}

func msgType(t *testing.T, data []byte) string {
	t.Helper()
	var m struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("message %s: %v", data, err)
	}
	return m.Type
}

// expect reads the next message, checks its type and decodes it into v.
func (c *padClient) expect(typ string, v any) []byte {
	c.t.Helper()
	data := c.next()
	if got := msgType(c.t, data); got != typ {
		c.t.Fatalf("message type=%q, want %q: %s", got, typ, data)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			c.t.Fatal(err)
		}
	}
	return data
}

func (c *padClient) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// closed waits for the connection to end and returns why.
func (c *padClient) closed() error {
	c.t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(wait):
		c.t.Fatalf("connection still open after %v", wait)
	}
	return nil
}

// seqOf returns a feed message's seq.
func seqOf(t *testing.T, data []byte) uint64 {
	t.Helper()
	var m struct {
		Seq *uint64 `json:"seq"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.Seq == nil {
		t.Fatalf("message without seq: %s", data)
	}
	return *m.Seq
}

// poll calls cond until it is true or the deadline passes.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, wait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// counter returns a metric's value from the registry.
func (h *harness) counter(name string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
		}
	}
	return 0
}

// stallListener hands out connections whose writes can be stalled, as if
// the PAD's network stopped draining: a slow PAD, deterministically.
type stallListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[string]*stallConn // by remote address
}

func (l *stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &stallConn{Conn: c, closed: make(chan struct{})}
	l.mu.Lock()
	l.conns[c.RemoteAddr().String()] = sc
	l.mu.Unlock()
	return sc, nil
}

// stall makes the server's writes to the client at addr block until the
// server closes the connection.
func (l *stallListener) stall(t *testing.T, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conns[addr]
	if c == nil {
		t.Fatalf("no server connection from %s", addr)
	}
	c.stalled.Store(true)
}

type stallConn struct {
	net.Conn
	stalled atomic.Bool
	once    sync.Once
	closed  chan struct{}
}

func (c *stallConn) Write(b []byte) (int, error) {
	if c.stalled.Load() {
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.Conn.Write(b)
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func originHeader(h *harness) http.Header {
	u, _ := url.Parse(h.ts.URL)
	return http.Header{"Origin": {"http://" + u.Host}}
}
