package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"huiyan"
	"huiyan/edge/ecode"
	firmware "huiyan/firmware-contracts"
	"huiyan/firmware-contracts/devsim"
	"huiyan/hub"
	pad "huiyan/pad-api"
)

const testBranch = "B001"

// dataSet is a generated HQ data set imported into an edge data dir.
type dataSet struct {
	Dir       string // the edge's data dir
	Customers []*huiyan.Customer
	used      map[string]bool
}

// mustDataSet generates a small data set and imports it with the real
// import command, as an operator would.
func mustDataSet(tb testing.TB) *dataSet {
	tb.Helper()
	src := filepath.Join(tb.TempDir(), "hq")
	if _, err := devsim.Gen(context.Background(), devsim.GenConfig{Customers: 600, Branches: 1, Seed: 5}, src); err != nil {
		tb.Fatalf("gen: %v", err)
	}
	dir := filepath.Join(tb.TempDir(), "edge")
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), []string{"-data", dir, "-branch", testBranch,
		filepath.Join(src, "tags.csv"), filepath.Join(src, "staff.csv")}, &out, &errb); err != nil {
		tb.Fatalf("import: %v\n%s", err, errb.String())
	}
	f, format, err := hub.OpenSnapshotFile(filepath.Join(src, "tags.csv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rd, err := hub.NewSnapshotReader(f, format, huiyan.DefaultTagDict(), hub.SnapshotOptions{KeyID: "k1", Branch: testBranch})
	if err != nil {
		tb.Fatal(err)
	}
	ds := &dataSet{Dir: dir}
	for c, err := range rd.All() {
		if err != nil {
			tb.Fatal(err)
		}
		ds.Customers = append(ds.Customers, c)
	}
	return ds
}

// find returns the first customer not returned before for which ok holds,
// so that subtests never share a visit.
func (ds *dataSet) find(tb testing.TB, what string, ok func(*huiyan.Customer) bool) *huiyan.Customer {
	tb.Helper()
	if ds.used == nil {
		ds.used = map[string]bool{}
	}
	for _, c := range ds.Customers {
		if !ds.used[c.ID] && ok(c) {
			ds.used[c.ID] = true
			return c
		}
	}
	tb.Fatalf("data set has no customer who is %s", what)
	return nil
}

func token(c *huiyan.Customer, kind huiyan.IdentKind) string {
	for _, id := range c.Tokens {
		if id.Kind == kind {
			return id.Token
		}
	}
	return ""
}

// mustRunMain runs an edge on dir with loopback ports picked by the kernel:
// the embedded broker when brokerURL is empty, else the external broker.
func mustRunMain(tb testing.TB, dir, brokerURL string) *Main {
	tb.Helper()
	m := NewMain()
	m.Logger = testLogger(tb)
	return runTestMain(tb, m, dir, brokerURL, nil)
}

// runTestMain configures m as mustRunMain does, applies change, runs it and
// waits for an external broker's ingest to connect.
func runTestMain(tb testing.TB, m *Main, dir, brokerURL string, change func(*Config)) *Main {
	tb.Helper()
	m.Config.DataDir, m.Config.HTTP = dir, "127.0.0.1:0"
	writeTestECodeKey(tb, dir)
	if brokerURL == "" {
		m.Config.MQTT.Listen = "127.0.0.1:0"
	} else {
		m.Config.MQTT.Listen, m.Config.MQTT.Broker = "", brokerURL
	}
	if change != nil {
		change(&m.Config)
	}
	if err := m.Config.Validate(); err != nil {
		tb.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		tb.Fatalf("run edge: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	if m.Ingest != nil {
		waitFor(tb, "ingest connected", 10*time.Second, func() bool { return m.Ingest.Connected() })
	}
	return m
}

// BrokerURL is where devices connect.
func (m *Main) BrokerURL() string {
	if m.Broker != nil {
		return m.Broker.URL()
	}
	return m.Config.MQTT.Broker
}

// testLogger keeps the edge's log and prints it only when the test fails.
func testLogger(tb testing.TB) *slog.Logger {
	var mu sync.Mutex
	var buf bytes.Buffer
	tb.Cleanup(func() {
		if tb.Failed() {
			mu.Lock()
			tb.Logf("edge log:\n%s", buf.String())
			mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// padMsg is any PAD message, decoded loosely so that tests can look at all.
type padMsg struct {
	Type    string       `json:"type"`
	Seq     uint64       `json:"seq"`
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Visit   *pad.Visit   `json:"visit"`
	Profile *pad.Profile `json:"profile"`
	Actions []pad.Action `json:"actions"`
	Visits  []pad.Card   `json:"visits"`
	Device  string       `json:"device"`
	Status  string       `json:"status"`
	Staff   *pad.Staff   `json:"staff"`
	Raw     string       `json:"-"`
}

// padClient is a PAD: a real websocket client with a session cookie.
type padClient struct {
	tb     testing.TB
	conn   *websocket.Conn
	msgs   chan padMsg
	cookie *http.Cookie
	base   string
}

// login logs staff in over HTTP and returns the session cookie.
func login(tb testing.TB, base, staff string) *http.Cookie {
	tb.Helper()
	body, _ := json.Marshal(pad.LoginRequest{Staff: staff, PIN: devsim.DemoPIN})
	resp, err := http.Post(base+"/pad/login", "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("login %s: %s %s", staff, resp.Status, b)
	}
	for _, c := range resp.Cookies() {
		if c.Name == pad.CookieName {
			return c
		}
	}
	tb.Fatalf("login %s: no session cookie", staff)
	return nil
}

// dialPAD connects a logged-in PAD; it reads the hello before returning.
func dialPAD(tb testing.TB, m *Main, staff string) (*padClient, padMsg) {
	tb.Helper()
	base := "http://" + m.HTTPAddr()
	return redial(tb, base, login(tb, base, staff))
}

func redial(tb testing.TB, base string, cookie *http.Cookie) (*padClient, padMsg) {
	tb.Helper()
	h := http.Header{}
	h.Add("Cookie", cookie.String())
	h.Add("Origin", base)
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/pad/ws", h)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		tb.Fatalf("dial pad: %v %s", err, status)
	}
	p := &padClient{tb: tb, conn: conn, msgs: make(chan padMsg, 1024), cookie: cookie, base: base}
	go func() {
		defer close(p.msgs)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var msg padMsg
			var head struct{ Type string }
			_ = json.Unmarshal(b, &head)
			if head.Type == pad.TypeError { // its "visit" is a visit id
				var e pad.ErrorMsg
				err = json.Unmarshal(b, &e)
				msg.Type, msg.Code, msg.Message = e.Type, e.Code, e.Message
			} else {
				err = json.Unmarshal(b, &msg)
			}
			if err != nil {
				tb.Errorf("pad: bad json %s: %v", b, err)
				return
			}
			msg.Raw = string(b)
			p.msgs <- msg
		}
	}()
	tb.Cleanup(func() { conn.Close() })
	hello := p.next(func(m padMsg) bool { return true }, 5*time.Second)
	if hello.Type != pad.TypeHello {
		tb.Fatalf("first message %s, want hello", hello.Raw)
	}
	return p, hello
}

func (p *padClient) send(v any) {
	p.tb.Helper()
	if err := p.conn.WriteJSON(v); err != nil {
		p.tb.Fatalf("pad send: %v", err)
	}
}

// next returns the next message for which match holds, skipping others.
func (p *padClient) next(match func(padMsg) bool, d time.Duration) padMsg {
	p.tb.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-p.msgs:
			if !ok {
				p.tb.Fatal("pad connection closed while waiting")
			}
			if match(m) {
				return m
			}
		case <-timer.C:
			p.tb.Fatalf("pad: no matching message within %s", d)
		}
	}
}

// arrivalOf matches the arrival or visit message carrying the event id.
func arrivalOf(eventID string) func(padMsg) bool {
	return func(m padMsg) bool {
		if m.Visit == nil || (m.Type != pad.TypeArrival && m.Type != pad.TypeVisit) {
			return false
		}
		for _, tp := range m.Visit.Touchpoints {
			if tp.EventID == eventID {
				return true
			}
		}
		return false
	}
}

// device is a simulated branch device with its own MQTT connection.
type device struct {
	tb      testing.TB
	id      string
	client  paho.Client
	n       int
	rejects chan firmware.Reject
}

func newDevice(tb testing.TB, brokerURL, id string) *device {
	tb.Helper()
	d := &device{tb: tb, id: id, rejects: make(chan firmware.Reject, 256)}
	d.client = paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).
		SetClientID(fmt.Sprintf("test-%s-%d", id, time.Now().UnixNano())).SetCleanSession(true))
	if tok := d.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("device %s connect: %v", id, tok.Error())
	}
	tb.Cleanup(func() { d.client.Disconnect(50) })
	rt, _ := firmware.RejectTopic(testBranch, id)
	if tok := d.client.Subscribe(rt, 1, func(_ paho.Client, m paho.Message) {
		r, err := firmware.DecodeReject(m.Payload())
		if err != nil {
			tb.Errorf("device %s: bad reject %q: %v", id, m.Payload(), err)
			return
		}
		d.rejects <- r
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("device %s subscribe: %v", id, tok.Error())
	}
	return d
}

// arrive publishes an arrival and returns its event id.
func (d *device) arrive(ch huiyan.Channel, idents ...huiyan.Ident) string {
	d.tb.Helper()
	d.n++
	a := huiyan.Arrival{EventID: fmt.Sprintf("%s-%06d", d.id, d.n), Branch: testBranch, Device: d.id, Channel: ch,
		At: time.Now(), Idents: idents}
	switch ch {
	case huiyan.ChannelECode:
		a.Code = testCode(d.tb, ecode.KindBranch, d.id, time.Now()) // the code the display shows now
	case huiyan.ChannelWheel:
		a.Spin = "spin-" + a.EventID
	}
	d.publishRaw(mustTopic(d.tb, ch, d.id), firmware.EncodeArrival(a))
	return a.EventID
}

func (d *device) publishRaw(topic string, payload []byte) {
	d.tb.Helper()
	if tok := d.client.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		d.tb.Fatalf("device %s publish: %v", d.id, tok.Error())
	}
}

func (d *device) reject(dur time.Duration) firmware.Reject {
	d.tb.Helper()
	select {
	case r := <-d.rejects:
		return r
	case <-time.After(dur):
		d.tb.Fatalf("device %s: no reject within %s", d.id, dur)
	}
	return firmware.Reject{}
}

func mustTopic(tb testing.TB, ch huiyan.Channel, dev string) string {
	t, err := firmware.ArrivalTopic(testBranch, ch, dev)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func ident(kind huiyan.IdentKind, tok string) huiyan.Ident {
	return huiyan.Ident{Kind: kind, KeyID: firmware.DemoKeyID, Token: tok}
}

// strangerToken is the token of an identity number nobody in a data set has.
func strangerToken(tb testing.TB, n int) string {
	id := fmt.Sprintf("99000019900101%03d", n%1000)
	w := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(id[i]-'0') * w[i]
	}
	tok, err := firmware.Token(firmware.DemoKey, huiyan.IdentIDCard, id+string("10X98765432"[sum%11]))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}
