package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

// ErrNotConnected is returned by the publish helpers when Run is not
// running or has not connected yet. Once it has, they wait (up to their
// ctx) through reconnections.
var ErrNotConnected = errors.New("mqtt: not connected to the broker")

// Handler receives what the devices of the branch publish. It decodes the
// payload itself (firmware.Decode, firmware.ParseStatus) and must be
// idempotent: a message is redelivered until the Handler has accepted or
// refused it, and may be redelivered once more after that when the
// connection drops before the broker got the acknowledgement.
//
// A nil error acknowledges the message. A *huiyan.Error refuses it for good:
// the ingest publishes a reject to the device and acknowledges the message.
// Any other error, or a *huiyan.Error with code huiyan.EUnavailable or
// huiyan.EInternal, is transient: the message is not acknowledged and is
// handled again after the ingest reconnects.
type Handler interface {
	// HandleArrival handles an arrival payload published on t (a valid
	// arrival topic of the edge's branch). payload may be up to the broker's
	// packet limit; refusing one over firmware.MaxPayload is the Handler's.
	HandleArrival(ctx context.Context, t firmware.Topic, payload []byte) error
	// HandleStatus handles a device status: the payload as text ("online",
	// "offline" or anything a device sent, for firmware.ParseStatus), or ""
	// when the retained status was cleared. retained is set for a status
	// the broker kept from before the edge subscribed.
	HandleStatus(ctx context.Context, device, status string, retained bool) error
}

// IngestConfig configures the edge's ingest client.
type IngestConfig struct {
	// Broker is the broker URL: tcp://host:port or ssl://host:port.
	Broker string
	// ClientID identifies the edge's persistent session; it must stay the
	// same across restarts so the broker keeps queuing arrivals while the
	// edge is down. Default "huiyan-edge-{branch}". Rejects and wheel
	// results go out on a second connection, ClientID + "-out": an external
	// broker's ACL must let the edge's credential use both.
	ClientID string
	// Username and Password: the edge's broker credential.
	Username string
	Password string
	// Branch is the edge's branch id.
	Branch string
	// TLS configures ssl:// connections; nil uses the system roots.
	TLS *tls.Config
	// ConnectTimeout bounds one connection attempt; default 10s.
	ConnectTimeout time.Duration
	// MaxReconnectInterval caps the backoff between reconnection attempts;
	// default 30s.
	MaxReconnectInterval time.Duration
	// PublishTimeout bounds waiting for the broker to take a reject that the
	// ingest publishes for a refused message; default 10s.
	PublishTimeout time.Duration
	// Rejected counts refused messages by reject code; may be nil. Make it
	// with NewRejectedCounter so that it is huiyan_edge_rejected_total{code}.
	Rejected *prometheus.CounterVec
}

// NewRejectedCounter returns huiyan_edge_rejected_total{code} (DESIGN.md,
// "MQTT contract"), with every code of firmware.Codes()
// initialised to zero. The caller registers it.
func NewRejectedCounter() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "huiyan_edge_rejected_total",
		Help: "Device messages the edge refused and answered on the reject topic, by reject code.",
	}, []string{"code"})
	for _, code := range firmware.Codes() {
		c.WithLabelValues(code)
	}
	return c
}

// Ingest is the edge's MQTT client. It subscribes at QoS 1 to the arrival
// and device status topics of its branch with a persistent session
// (CleanSession false, ClientID), hands every message to the Handler in the
// order the broker sent it, one at a time, and acknowledges it only when
// the Handler is done with it (paho's automatic acknowledgement is off).
//
// Redelivery: an MQTT 3.1.1 broker resends an unacknowledged QoS 1 message
// only when the session resumes on a new connection. So after a transient
// Handler error the ingest disconnects, drops the messages it had received
// but not handled (they are unacknowledged too), waits a backoff (200ms
// doubling up to MaxReconnectInterval, reset by the next success) and
// connects again with a fresh paho client and the same client id; the
// broker then resends every unacknowledged message (Mosquitto in order;
// mochi v2.7.9 only in the order of the second each arrived in, so the
// Handler must order by the payload's ts, not by delivery). A lost
// connection is handled the same way, so a message is never handled on a
// connection its acknowledgement cannot travel on. The ingest therefore
// runs its own reconnection loop instead of paho's AutoReconnect: it also
// needs each CONNACK's session-present flag (see subscribe).
//
// Rejects and wheel results go out on a second, clean-session connection
// (ClientID + "-out", paho AutoReconnect and ConnectRetry): mochi keeps the
// packet ids of both directions in one table, so a QoS 1 PUBLISH from the
// ingest connection would delete the broker's record of an unacknowledged
// arrival with the same id, and that arrival would not be redelivered.
type Ingest struct {
	cfg IngestConfig
	h   Handler
	log *slog.Logger

	q *queue

	mu         sync.Mutex
	sub        paho.Client // the current ingest connection; nil between connections
	subscribed bool        // sub's subscriptions are in place
	pub        paho.Client // the publishing connection while Run runs
	cancel     context.CancelFunc
	done       chan struct{} // closed when Run returns; nil before Run
}

// NewIngest returns an ingest for cfg that hands messages to h. Defaults
// are filled in here; nothing connects before Run.
func NewIngest(cfg IngestConfig, h Handler, logger *slog.Logger) *Ingest {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "huiyan-edge-" + cfg.Branch
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.MaxReconnectInterval <= 0 {
		cfg.MaxReconnectInterval = 30 * time.Second
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 10 * time.Second
	}
	return &Ingest{
		cfg: cfg,
		h:   h,
		log: logger,
		q:   newQueue(),
	}
}

// Errors that end one connection of Run's loop.
var (
	errRestart = errors.New("mqtt ingest: message not handled, resuming the session to get it again")
	errLost    = errors.New("mqtt ingest: connection lost")
)

// Run connects, subscribes and handles messages until ctx is cancelled or
// Close is called (it then returns nil), or the broker refuses the
// subscriptions of a new session (a configuration error, returned). A
// broker that is down or refuses the credential is retried with backoff
// and logged at WARN.
func (in *Ingest) Run(ctx context.Context) error {
	if !huiyan.ValidBranchID(in.cfg.Branch) {
		return fmt.Errorf("mqtt ingest: branch %q is not a branch id", in.cfg.Branch)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in.mu.Lock()
	if in.done != nil {
		in.mu.Unlock()
		return errors.New("mqtt ingest: Run called twice")
	}
	in.cancel = cancel
	in.done = make(chan struct{})
	pub := paho.NewClient(in.options(in.cfg.ClientID+"-out", true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(5 * time.Second).
		SetMaxReconnectInterval(in.cfg.MaxReconnectInterval).
		SetConnectionNotificationHandler(func(_ paho.Client, n paho.ConnectionNotification) {
			switch n := n.(type) {
			case paho.ConnectionNotificationFailed:
				in.log.Warn("mqtt publisher connect failed", "broker", in.cfg.Broker, "error", n.Reason)
			case paho.ConnectionNotificationLost:
				in.log.Warn("mqtt publisher connection lost", "broker", in.cfg.Broker, "error", n.Reason)
			}
		}))
	in.mu.Unlock()
	defer close(in.done)
	defer func() {
		in.mu.Lock()
		in.pub = nil
		in.mu.Unlock()
		pub.Disconnect(250)
	}()
	// Wait for the publisher before taking messages: paho drops what a
	// clean-session client publishes before its first connection is up
	// (Connect resets the store), so an early reject would never leave.
	// Later reconnections keep what is published meanwhile.
	select {
	case <-pub.Connect().Done():
	case <-ctx.Done():
		return nil
	}
	in.mu.Lock()
	in.pub = pub
	in.mu.Unlock()

	retry := newBackoff(200*time.Millisecond, in.cfg.MaxReconnectInterval)     // after a Handler failure
	reconnect := newBackoff(500*time.Millisecond, in.cfg.MaxReconnectInterval) // after a connection failure
	for gen := uint64(1); ; gen++ {
		err := in.session(ctx, gen, retry, reconnect)
		in.disconnect()
		in.q.reset() // unacknowledged: the broker resends them on the next connection
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errRestart):
			wait = retry.next()
		case errors.Is(err, errLost):
			in.log.Warn("mqtt ingest disconnected, reconnecting", "broker", in.cfg.Broker, "error", err)
			wait = reconnect.next()
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// session runs one connection of generation gen: connect, subscribe,
// handle messages until the connection ends.
func (in *Ingest) session(ctx context.Context, gen uint64, retry, reconnect *backoff) error {
	lost := make(chan struct{})
	var once sync.Once
	c := paho.NewClient(in.options(in.cfg.ClientID, false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		// The handler only queues: a paho handler that blocks stops paho
		// reading the connection. Messages of a resumed session arrive
		// before our SUBSCRIBE is answered, so they are routed by the
		// default handler, not by a subscription callback.
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			in.q.push(item{gen: gen, msg: m})
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			in.log.Warn("mqtt connection lost", "broker", in.cfg.Broker, "error", err)
			once.Do(func() { close(lost) })
		}))
	in.mu.Lock()
	in.sub, in.subscribed = c, false
	in.mu.Unlock()

	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("%w: connect: %w", errLost, err)
	}
	resumed := tok.(*paho.ConnectToken).SessionPresent()
	in.log.Info("mqtt connected", "broker", in.cfg.Broker, "client_id", in.cfg.ClientID, "session_present", resumed)
	if err := in.subscribe(ctx, c, resumed); err != nil {
		return err
	}
	reconnect.reset()
	in.mu.Lock()
	in.subscribed = true
	in.mu.Unlock()

	return in.handle(ctx, gen, lost, retry)
}

// maxInFlight bounds the messages handled at once (handle).
const maxInFlight = 64

// work is a message being handled: done receives its outcome, finished
// is closed after that (the next message of its device waits for it).
type work struct {
	msg      paho.Message
	done     chan outcome
	finished chan struct{}
}

// handle takes the session's messages until it ends. Messages of
// different devices are handled at once (up to maxInFlight), so that the
// node can commit arrivals that come together in one transaction (edge
// DESIGN.md, "Group commit") instead of one fsync after the other; the
// messages of one device are handled in order, each after the one before.
// Acknowledgements go in the order the messages came, as MQTT 3.1.1 asks
// (4.6.0-2): a message is acknowledged only when it and every message
// before it are handled. A message the handler failed (outcomeRetry) ends
// the session: no message starts after it, those already under way (of
// other devices) finish, and the broker resends whatever was not
// acknowledged (the node answers one it had committed as a duplicate).
func (in *Ingest) handle(ctx context.Context, gen uint64, lost <-chan struct{}, retry *backoff) error {
	acks := make(chan *work, maxInFlight)
	failed := make(chan struct{}) // closed by the acker on outcomeRetry
	ackerDone := make(chan struct{})
	go func() {
		defer close(ackerDone)
		ok := true
		for w := range acks {
			o := <-w.done
			if !ok {
				continue // after a failure nothing more is acknowledged
			}
			switch o {
			case outcomeAck:
				w.msg.Ack()
				retry.reset()
			case outcomeRetry:
				ok = false
				close(failed)
			}
		}
	}()
	// stop ends pop when the connection is lost or a message failed.
	stop := make(chan struct{})
	go func() {
		select {
		case <-lost:
		case <-failed:
		case <-ackerDone:
		}
		close(stop)
	}()
	last := map[string]*work{} // the latest message of each device
	var sessionFailed atomic.Bool
	var err error
	for {
		var it item
		if it, err = in.q.pop(ctx, stop); err != nil {
			break
		}
		if it.gen != gen {
			continue // from an earlier connection: the broker resends it
		}
		w := &work{msg: it.msg, done: make(chan outcome, 1), finished: make(chan struct{})}
		dev := deviceOf(it.msg.Topic())
		prev := last[dev]
		last[dev] = w
		go func() {
			defer close(w.finished)
			if prev != nil {
				<-prev.finished
			}
			if sessionFailed.Load() {
				w.done <- outcomeRetry // not started: resent after the restart
				return
			}
			o := in.process(ctx, w.msg)
			if o == outcomeRetry {
				sessionFailed.Store(true)
			}
			w.done <- o
		}()
		acks <- w // blocks at maxInFlight: the acker frees a place per message
	}
	close(acks)
	<-ackerDone // every message started is handled
	select {
	case <-failed:
		return errRestart
	default:
	}
	if errors.Is(err, errLost) {
		select {
		case <-lost:
		default:
			return errRestart // stop closed by the failure, not the connection
		}
	}
	return err
}

// options are the paho options both connections share.
func (in *Ingest) options(clientID string, clean bool) *paho.ClientOptions {
	opts := paho.NewClientOptions().
		AddBroker(in.cfg.Broker).
		SetClientID(clientID).
		SetUsername(in.cfg.Username).
		SetPassword(in.cfg.Password).
		SetProtocolVersion(4). // MQTT 3.1.1, no silent fallback to 3.1
		SetCleanSession(clean).
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		SetConnectTimeout(in.cfg.ConnectTimeout).
		SetKeepAlive(30 * time.Second)
	if in.cfg.TLS != nil {
		opts.SetTLSConfig(in.cfg.TLS)
	}
	return opts
}

// subscribe subscribes c to the branch's arrival and status topics. On a
// new session a refusal is a configuration error (the edge's credential or
// the broker's ACL) and is returned as such. On a resumed session the
// broker still has the subscriptions, and mochi refuses a SUBSCRIBE whose
// packet id equals that of a message it is redelivering, so a refusal there
// is only logged.
func (in *Ingest) subscribe(ctx context.Context, c paho.Client, resumed bool) error {
	arrivals, _ := firmware.ArrivalFilter(in.cfg.Branch) // branch checked by Run
	statuses, _ := firmware.StatusFilter(in.cfg.Branch)
	tok := c.SubscribeMultiple(map[string]byte{arrivals: 1, statuses: 1}, nil)
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(in.cfg.ConnectTimeout):
		return fmt.Errorf("%w: subscribe timed out", errLost)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("%w: subscribe: %w", errLost, err)
	}
	for f, code := range tok.(*paho.SubscribeToken).Result() {
		switch {
		case code <= 2:
		case resumed:
			in.log.Info("mqtt resubscription refused on a resumed session, which keeps its subscriptions", "filter", f, "code", code)
		default:
			return fmt.Errorf("mqtt ingest: the broker refused the subscription to %s (code %#x): check the edge's broker credential and ACL", f, code)
		}
	}
	in.log.Info("mqtt subscribed", "broker", in.cfg.Broker)
	return nil
}

type outcome int

const (
	outcomeAck   outcome = iota // done with: acknowledge
	outcomeRetry                // transient failure: leave unacknowledged, redeliver
)

// process routes one message and says what to do with it.
func (in *Ingest) process(ctx context.Context, m paho.Message) outcome {
	t, err := firmware.ParseTopic(m.Topic())
	if err != nil {
		return in.refuse(ctx, "", deviceOf(m.Topic()), m, err)
	}
	if t.Branch != in.cfg.Branch {
		return in.refuse(ctx, t.Branch, t.Device, m,
			huiyan.Errorf(firmware.EWrongBranch, "topic: this edge serves branch %s, the topic names another branch", in.cfg.Branch))
	}
	switch t.Kind {
	case firmware.TopicArrival:
		err = in.h.HandleArrival(ctx, t, m.Payload())
	case firmware.TopicStatus:
		err = in.h.HandleStatus(ctx, t.Device, string(m.Payload()), m.Retained())
	default:
		// Our own reject or wheel result topics: only a broader
		// subscription than ours delivers them. Nothing to do.
		return outcomeAck
	}
	switch {
	case err == nil:
		return outcomeAck
	case permanent(err):
		return in.refuse(ctx, "", t.Device, m, err)
	default:
		if ctx.Err() == nil {
			in.log.Warn("mqtt message not handled, will be redelivered", "topic", m.Topic(),
				"msg_id", m.MessageID(), "error", err)
		}
		return outcomeRetry
	}
}

// permanent reports whether err refuses a message for good.
func permanent(err error) bool {
	var e *huiyan.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code != huiyan.EUnavailable && e.Code != huiyan.EInternal
}

// refuse publishes a reject for m to device on branch (the edge's when "")
// and says to acknowledge m. Without a device id to address, the refusal is
// only counted and logged. When the reject cannot be published, m stays
// unacknowledged so that it is refused again after the reconnection.
func (in *Ingest) refuse(ctx context.Context, branch, device string, m paho.Message, err error) outcome {
	id := firmware.PeekID(m.Payload()) // "" for a status, or a payload without a valid id
	if !firmware.ValidDeviceID(device) {
		in.count(huiyan.ErrorCode(err))
		in.log.Warn("mqtt message refused, no device to reply to", "topic", m.Topic(),
			"code", huiyan.ErrorCode(err))
		return outcomeAck
	}
	pctx, cancel := context.WithTimeout(ctx, in.cfg.PublishTimeout)
	defer cancel()
	if perr := in.publishReject(pctx, branch, device, id, err); perr != nil {
		if ctx.Err() == nil {
			in.log.Warn("mqtt reject not published, message will be redelivered", "device", device,
				"event_id", id, "code", huiyan.ErrorCode(err), "error", perr)
		}
		return outcomeRetry
	}
	return outcomeAck
}

// PublishReject tells device why its message id ("" when unknown) was
// refused: it publishes firmware.EncodeReject(id, err) on
// huiyan/v1/{branch}/reject/{device} at QoS 1, waits until the broker has
// it (or ctx ends), and counts it in Rejected by code.
func (in *Ingest) PublishReject(ctx context.Context, device, id string, err error) error {
	return in.publishReject(ctx, "", device, id, err)
}

func (in *Ingest) publishReject(ctx context.Context, branch, device, id string, err error) error {
	if branch == "" {
		branch = in.cfg.Branch
	}
	code := huiyan.ErrorCode(err)
	in.count(code)
	in.log.Info("mqtt message refused", "device", device, "event_id", id, "code", code)
	topic, terr := firmware.RejectTopic(branch, device)
	if terr != nil {
		return fmt.Errorf("mqtt reject: %w", terr)
	}
	return in.publish(ctx, topic, firmware.EncodeReject(id, err, time.Now()))
}

// PublishWheelResult publishes a wheel result payload (made with
// firmware.EncodeWheelResult) to the wheel device on
// huiyan/v1/{branch}/wheel/{device}/result at QoS 1 and waits until the
// broker has it or ctx ends.
func (in *Ingest) PublishWheelResult(ctx context.Context, device string, payload []byte) error {
	topic, err := firmware.WheelResultTopic(in.cfg.Branch, device)
	if err != nil {
		return fmt.Errorf("mqtt wheel result: %w", err)
	}
	return in.publish(ctx, topic, payload)
}

// publish sends at QoS 1 on the publishing connection. While that
// connection is reconnecting paho holds the message and sends it once
// connected; ctx bounds the wait.
func (in *Ingest) publish(ctx context.Context, topic string, payload []byte) error {
	in.mu.Lock()
	c := in.pub
	in.mu.Unlock()
	if c == nil {
		return ErrNotConnected
	}
	tok := c.Publish(topic, 1, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt publish %s: %w", topic, ctx.Err())
	}
}

func (in *Ingest) count(code string) {
	if in.cfg.Rejected != nil {
		in.cfg.Rejected.WithLabelValues(code).Inc()
	}
}

// Connected reports whether the ingest is connected to the broker with its
// subscriptions in place, for /healthz.
func (in *Ingest) Connected() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.sub != nil && in.subscribed && in.sub.IsConnectionOpen()
}

// Close stops Run, if it runs, and waits for it to return. Messages not yet
// handled stay unacknowledged in the broker's session for the next Ingest
// with the same client id.
func (in *Ingest) Close() {
	in.mu.Lock()
	cancel, done := in.cancel, in.done
	in.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// disconnect ends the current ingest connection, if any.
//
// Before the DISCONNECT it makes one round trip, an UNSUBSCRIBE of a filter
// the ingest never subscribes to (no ACL applies to it), so that the broker
// has processed every acknowledgement sent before. Without it a broker
// that handles the next connection's CONNECT before the rest of this one
// (mochi does, on its own goroutines) hands the resumed session messages
// that were already acknowledged, and they are handled twice.
func (in *Ingest) disconnect() {
	in.mu.Lock()
	c := in.sub
	in.sub, in.subscribed = nil, false
	in.mu.Unlock()
	if c == nil {
		return
	}
	if c.IsConnectionOpen() {
		c.Unsubscribe(firmware.TopicRoot + "/" + in.cfg.Branch + "/flush").WaitTimeout(time.Second)
	}
	c.Disconnect(250)
}

// deviceOf returns the device level of a topic that failed to parse, when
// its shape says where it is: .../arrival/{channel}/{device} or
// .../device/{device}/status. "" otherwise.
func deviceOf(topic string) string {
	l := strings.Split(topic, "/")
	n := len(l)
	switch {
	case n >= 2 && l[n-1] == "status" && n >= 3 && l[n-3] == "device":
		return l[n-2]
	case n >= 3 && l[n-3] == "arrival":
		return l[n-1]
	}
	return ""
}

// item is a received message and the connection generation it came on.
type item struct {
	gen uint64
	msg paho.Message
}

// queue is the unbounded FIFO between paho's router and Run. Unbounded so
// that paho's handler never blocks; the broker bounds what is in flight to
// one client.
type queue struct {
	mu    sync.Mutex
	items []item
	ready chan struct{} // a token when items may be non-empty
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) push(it item) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop returns the oldest item, waiting until there is one, ctx ends or
// lost is closed.
func (q *queue) pop(ctx context.Context, lost <-chan struct{}) (item, error) {
	for {
		select { // a dead connection's messages are not worth handling
		case <-lost:
			return item{}, errLost
		case <-ctx.Done():
			return item{}, ctx.Err()
		default:
		}
		q.mu.Lock()
		if len(q.items) > 0 {
			it := q.items[0]
			q.items[0] = item{}
			q.items = q.items[1:]
			q.mu.Unlock()
			return it, nil
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-lost:
			return item{}, errLost
		case <-ctx.Done():
			return item{}, ctx.Err()
		}
	}
}

func (q *queue) reset() {
	q.mu.Lock()
	q.items = nil
	q.mu.Unlock()
}

// backoff is an exponential delay between restarts.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	if max < min {
		max = min
	}
	return &backoff{min: min, max: max}
}

func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur < b.max:
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }
