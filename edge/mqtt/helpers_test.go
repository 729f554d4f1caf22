package mqtt_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"huiyan/edge/mqtt"
	firmware "huiyan/firmware-contracts"
)

const branch = "B001"

// secretMarker is put in every test payload where a token would be. No log
// line may ever contain it.
const secretMarker = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed"

// payload returns a small arrival-like payload with the given id. The
// ingest does not decode payloads, so it needs only the id (for rejects).
func payload(id string) []byte {
	return fmt.Appendf(nil, `{"v":1,"id":%q,"idents":[{"kind":"idcard","key":"k1","token":%q}]}`, id, secretMarker)
}

func arrivalTopic(t testing.TB, device string) string {
	t.Helper()
	s, err := firmware.ArrivalTopic(branch, "counter", device)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func statusTopic(t testing.TB, device string) string {
	t.Helper()
	s, err := firmware.StatusTopic(branch, device)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rejectTopic(t testing.TB, device string) string {
	t.Helper()
	s, err := firmware.RejectTopic(branch, device)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// poll waits until cond holds, failing the test after 10 seconds.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// logBuffer collects log output of a test. It is dumped when the test
// fails and checked for payload contents when it ends.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newLogger returns a debug logger into a buffer that fails the test if a
// payload ever reaches the log.
func newLogger(t testing.TB) *slog.Logger {
	t.Helper()
	buf := &logBuffer{}
	t.Cleanup(func() {
		out := buf.String()
		if strings.Contains(out, secretMarker) {
			t.Errorf("a payload reached the log:\n%s", out)
		}
		if t.Failed() {
			t.Logf("log:\n%s", out)
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// call is one Handler invocation.
type call struct {
	Kind     string // "arrival" or "status"
	Topic    firmware.Topic
	Device   string
	Status   string
	Retained bool
	ID       string // the payload's id
	Size     int
	Err      error // what the Handler returned
}

// recorder is a Handler that records every call and returns what decide
// says (nil when decide is nil).
type recorder struct {
	mu     sync.Mutex
	calls  []call
	decide func(ctx context.Context, c call) error
}

func (r *recorder) HandleArrival(ctx context.Context, t firmware.Topic, p []byte) error {
	var v struct{ ID string }
	_ = json.Unmarshal(p, &v) // not firmware.PeekID: it reads nothing over 16 KiB
	return r.record(ctx, call{Kind: "arrival", Topic: t, Device: t.Device, ID: v.ID, Size: len(p)})
}

func (r *recorder) HandleStatus(ctx context.Context, device, status string, retained bool) error {
	return r.record(ctx, call{Kind: "status", Device: device, Status: status, Retained: retained})
}

func (r *recorder) record(ctx context.Context, c call) error {
	r.mu.Lock()
	decide := r.decide
	r.mu.Unlock()
	if decide != nil {
		c.Err = decide(ctx, c)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return c.Err
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// handled returns the ids of the arrivals handled successfully, in order.
func (r *recorder) handled() []string {
	var ids []string
	for _, c := range r.snapshot() {
		if c.Kind == "arrival" && c.Err == nil {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// count returns how many times the arrival id was handed to the Handler.
func (r *recorder) count(id string) int {
	n := 0
	for _, c := range r.snapshot() {
		if c.Kind == "arrival" && c.ID == id {
			n++
		}
	}
	return n
}

func (r *recorder) hasHandled(id string) func() bool {
	return func() bool {
		for _, got := range r.handled() {
			if got == id {
				return true
			}
		}
		return false
	}
}

func (r *recorder) status(device string) (call, bool) {
	calls := r.snapshot()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Kind == "status" && calls[i].Device == device {
			return calls[i], true
		}
	}
	return call{}, false
}

// env is a broker for the contract suite and how to log in to it.
type env struct {
	URL      string
	EdgeUser string
	EdgePass string
	// Device returns the credential of a device ("" for anonymous).
	Device func(device string) (user, pass string)
	// Held, when set, waits until the broker holds n unacknowledged QoS 1
	// messages. mochi acknowledges a publish before it queues it for the
	// subscribers, and loses one queued while the subscriber's session is
	// being taken over by its new connection; tests that reconnect right
	// after publishing wait for it. Mosquitto queues before it acknowledges.
	Held func(t testing.TB, n int)
}

// ingest is a running Ingest.
type ingest struct {
	*mqtt.Ingest
	Rejected *prometheus.CounterVec
	errc     chan error
}

// startIngest runs an Ingest for h with clientID and waits until it is
// connected and subscribed. It is closed when the test ends.
func startIngest(t testing.TB, e env, h mqtt.Handler, clientID string, logger *slog.Logger) *ingest {
	t.Helper()
	rejected := mqtt.NewRejectedCounter()
	in := mqtt.NewIngest(mqtt.IngestConfig{
		Broker:               e.URL,
		ClientID:             clientID,
		Username:             e.EdgeUser,
		Password:             e.EdgePass,
		Branch:               branch,
		ConnectTimeout:       5 * time.Second,
		MaxReconnectInterval: time.Second,
		Rejected:             rejected,
	}, h, logger)
	errc := make(chan error, 1)
	go func() { errc <- in.Run(context.Background()) }()
	t.Cleanup(in.Close)
	poll(t, "ingest connected and subscribed", func() bool {
		select {
		case err := <-errc:
			t.Fatalf("Run: %v", err)
		default:
		}
		return in.Connected()
	})
	return &ingest{Ingest: in, Rejected: rejected, errc: errc}
}

// counter returns the value of huiyan_edge_rejected_total{code}.
func (in *ingest) counter(t testing.TB, code string) float64 {
	t.Helper()
	var m dto.Metric
	if err := in.Rejected.WithLabelValues(code).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func randomID(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// deviceOptions returns paho options for a device client: clean session,
// no reconnection, so that the tests see every disconnection.
func deviceOptions(e env, device string) *paho.ClientOptions {
	user, pass := e.Device(device)
	return paho.NewClientOptions().
		AddBroker(e.URL).
		SetClientID(randomID("dev-" + device)).
		SetUsername(user).
		SetPassword(pass).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second)
}

// dial connects a paho client and disconnects it when the test ends.
func dial(t testing.TB, opts *paho.ClientOptions) paho.Client {
	t.Helper()
	c := paho.NewClient(opts)
	if err := wait(c.Connect()); err != nil {
		t.Fatalf("device connect: %v", err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func wait(tok paho.Token) error {
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("timed out")
	}
	return tok.Error()
}

func publish(t testing.TB, c paho.Client, topic string, qos byte, retained bool, p []byte) {
	t.Helper()
	if err := wait(c.Publish(topic, qos, retained, p)); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// subscribe subscribes c to filter and returns the channel its messages
// arrive on.
func subscribe(t testing.TB, c paho.Client, filter string) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 64)
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { ch <- m })
	if err := wait(tok); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	if code := tok.(*paho.SubscribeToken).Result()[filter]; code > 2 {
		t.Fatalf("subscribe %s: refused with %#x", filter, code)
	}
	return ch
}

func receive(t testing.TB, ch <-chan paho.Message, what string) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}

// rawConn is a hand-driven MQTT 3.1.1 connection, for what paho will not
// do: drop the TCP connection without DISCONNECT, or send a packet the
// broker must refuse.
type rawConn struct{ net.Conn }

// dialRaw connects over TCP and sends CONNECT, with a Last Will when
// willTopic is set, and checks the CONNACK.
func dialRaw(t testing.TB, e env, device, willTopic, willPayload string) *rawConn {
	t.Helper()
	c, code := rawConnect(t, e, device, randomID("raw-"+device), willTopic, willPayload)
	if code != packets.Accepted {
		t.Fatalf("CONNACK return code = %d, want accepted", code)
	}
	return c
}

// rawConnect connects over TCP, sends CONNECT and returns the CONNACK's
// return code.
func rawConnect(t testing.TB, e env, device, clientID, willTopic, willPayload string) (*rawConn, byte) {
	t.Helper()
	addr := strings.TrimPrefix(e.URL, "tcp://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.ClientIdentifier = clientID
	cp.CleanSession = true
	cp.Keepalive = 60
	if user, pass := e.Device(device); user != "" {
		cp.UsernameFlag, cp.Username = true, user
		cp.PasswordFlag, cp.Password = true, []byte(pass)
	}
	if willTopic != "" {
		cp.WillFlag, cp.WillTopic, cp.WillMessage, cp.WillQos, cp.WillRetain = true, willTopic, []byte(willPayload), 1, true
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := cp.Write(conn); err != nil {
		t.Fatal(err)
	}
	p, err := packets.ReadPacket(conn)
	if err != nil {
		t.Fatalf("read CONNACK: %v", err)
	}
	ack, ok := p.(*packets.ConnackPacket)
	if !ok {
		t.Fatalf("got %v, want CONNACK", p)
	}
	_ = conn.SetDeadline(time.Time{})
	return &rawConn{conn}, ack.ReturnCode
}

// publishQoS0 writes a QoS 0 PUBLISH.
func (c *rawConn) publishQoS0(t testing.TB, topic string, p []byte) {
	t.Helper()
	pp := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pp.TopicName, pp.Payload = topic, p
	if err := pp.Write(c); err != nil {
		t.Fatal(err)
	}
}

// waitClosed reads until the broker closes the connection, ignoring what
// it sends (a v5-style DISCONNECT, say), and fails after 10 seconds.
func (c *rawConn) waitClosed(t testing.TB) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the broker kept the connection open")
	}
}
