package mqtt

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	mochibolt "github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

// MaxPacket is the largest MQTT packet the broker accepts: 256 KiB (DESIGN.md,
// "MQTT contract": "the broker accepts packets up to 256 KiB so that the edge
// itself sees, and refuses, a payload over 16 KiB"). A larger packet makes
// the broker drop the connection.
const MaxPacket = 256 << 10

// Defaults filled in by NewBroker.
const (
	DefaultListen   = "127.0.0.1:1883"
	DefaultEdgeUser = "huiyan-edge"
)

// sessionExpiry is how long the broker keeps the session (subscriptions and
// queued QoS 1 messages) of a client that went away: a week. The edge's own
// ingest session is the one that matters; a device's queued rejects older
// than that are of no use to anybody.
const sessionExpiry = 7 * 24 * 3600

// ErrBrokerClosed is returned by Start after Close.
var ErrBrokerClosed = errors.New("mqtt: broker closed")

// DeviceCredential lets one branch device connect to the embedded broker.
// A device authenticates with Username and a password (Password, or better
// PasswordHash), or with a TLS client certificate whose subject common name
// is CommonName; either way it acts as Device and nothing else.
type DeviceCredential struct {
	// Device is the device id: the {device} level of its topics.
	Device string
	// Username is what the device sends in CONNECT. Unique among devices and
	// not the edge's user. May be empty for a certificate-only device.
	Username string
	// Password is the plain-text password. Prefer PasswordHash: config
	// files then hold no usable secret. Set one or the other.
	Password string
	// PasswordHash is the password hashed with huiyan.HashPIN
	// ("pbkdf2-sha256$iterations$salt$key", PBKDF2-SHA256, the format of the
	// staff PINs). Each CONNECT with a password costs one PBKDF2 run, so
	// keep the iterations at huiyan.PINIterations or so.
	PasswordHash string
	// CommonName, when set, authenticates a client that connects without a
	// username over a TLS listener and presents a certificate that verifies
	// against BrokerConfig.TLS.ClientCAs and carries this subject CN.
	CommonName string
}

// BrokerConfig configures the embedded broker.
type BrokerConfig struct {
	// Listen is the host:port to listen on; DefaultListen when empty. Port 0
	// picks a free port (see Broker.Addr).
	Listen string
	// Branch is the branch id: every topic the broker allows is under
	// huiyan/v1/{Branch}/.
	Branch string
	// Devices are the device credentials. With none, the broker runs in
	// demo mode: anonymous devices may connect and publish arrivals and
	// statuses for any device id of the branch. Demo mode is refused unless
	// Listen is a loopback address (DESIGN.md, "MQTT contract").
	Devices []DeviceCredential
	// EdgeUser and EdgePassword are the credential of the edge's own ingest
	// client, which may publish and subscribe to anything under
	// huiyan/v1/{Branch}/. EdgeUser defaults to DefaultEdgeUser; an empty
	// EdgePassword gets a random one, read it back with EdgeCredential.
	EdgeUser     string
	EdgePassword string
	// TLS, when set, makes the listener TLS-only (ssl://). Set ClientAuth to
	// tls.VerifyClientCertIfGiven (or RequireAndVerifyClientCert) and
	// ClientCAs to let devices authenticate by certificate (see
	// DeviceCredential.CommonName). The caller loads the files: components
	// read no files of their own.
	TLS *tls.Config
	// MaxPacket is the largest packet accepted, in bytes; MaxPacket when 0.
	MaxPacket uint32
	// StorePath, when set, is a bbolt file (mochi's storage hook) where the
	// broker keeps sessions, undelivered QoS 1 messages and retained
	// statuses, so that a restart of the edge process loses none of what
	// the broker had accepted from the devices. Empty keeps them in memory.
	// Give it a file of its own, not the edge's database.
	StorePath string
	// Handler, when set, gets the branch's arrivals and statuses inside the
	// broker, before the device's publish is acknowledged (see directHook):
	// the edge then needs no Ingest, and a PUBACK means committed.
	Handler Handler
	// Rejected counts the refusals made for Handler, by reject code; may be
	// nil. Make it with NewRejectedCounter.
	Rejected *prometheus.CounterVec
}

// Broker is the branch's embedded MQTT broker: mochi-mqtt with the contract's
// authentication and topic ACL.
//
// Retained messages (the device statuses) and Last Wills are on, as in
// mochi's defaults, but messages never expire by age: mochi's default would
// drop a retained "online" status and the messages queued for an offline
// edge after 24 hours. Sessions of clients that went away are kept for a
// week, with at most 8192 undelivered QoS 1 messages each (mochi's
// default; more are dropped with a WARN).
//
// Without StorePath the broker's state is in memory, and a restart of the
// edge process loses the QoS 1 messages the broker had accepted from
// devices and not yet delivered to the ingest. With StorePath they are on
// disk, except in one small window: mochi acknowledges a device's publish
// just before it records the message for its subscribers.
type Broker struct {
	cfg    BrokerConfig
	log    *slog.Logger
	demo   bool
	server *mochi.Server
	hook   *authHook
	tcp    *listeners.TCP

	mu      sync.Mutex
	started bool
	closed  bool

	// inline is the started server, for PublishWheelResult: read without
	// mu, since it is called from inside OnPublish while Close may hold mu
	// and wait for that very client.
	inline atomic.Pointer[mochi.Server]
}

// NewBroker checks cfg and returns a broker ready to Start. It fails when a
// credential is malformed or duplicated, and when no device credential is
// configured and the listener is not on a loopback address: "no device
// credentials configured: anonymous devices are allowed only on a loopback
// listener".
func NewBroker(cfg BrokerConfig, logger *slog.Logger) (*Broker, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.EdgeUser == "" {
		cfg.EdgeUser = DefaultEdgeUser
	}
	if cfg.EdgePassword == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		cfg.EdgePassword = hex.EncodeToString(b)
	}
	if cfg.MaxPacket == 0 {
		cfg.MaxPacket = MaxPacket
	}
	if !huiyan.ValidBranchID(cfg.Branch) {
		return nil, fmt.Errorf("mqtt broker: branch %q is not a branch id", cfg.Branch)
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("mqtt broker: listen address %q: %w", cfg.Listen, err)
	}
	h := &authHook{
		branch:   cfg.Branch,
		prefix:   firmware.TopicRoot + "/" + cfg.Branch + "/",
		edgeUser: cfg.EdgeUser,
		edgePass: cfg.EdgePassword,
		byUser:   map[string]DeviceCredential{},
		byCN:     map[string]DeviceCredential{},
		log:      logger,
	}
	seen := map[string]bool{}
	for i, d := range cfg.Devices {
		switch {
		case !firmware.ValidDeviceID(d.Device):
			return nil, fmt.Errorf("mqtt broker: device credential %d: %q is not a device id", i, d.Device)
		case seen[d.Device]:
			return nil, fmt.Errorf("mqtt broker: device %s: more than one credential", d.Device)
		case d.Username == "" && d.CommonName == "":
			return nil, fmt.Errorf("mqtt broker: device %s: neither a username nor a certificate common name", d.Device)
		case d.Username != "" && (d.Password == "") == (d.PasswordHash == ""):
			return nil, fmt.Errorf("mqtt broker: device %s: set exactly one of password and password hash", d.Device)
		case d.PasswordHash != "" && !strings.HasPrefix(d.PasswordHash, "pbkdf2-sha256$"):
			return nil, fmt.Errorf("mqtt broker: device %s: password hash is not a pbkdf2-sha256 hash from huiyan.HashPIN", d.Device)
		case d.Username == cfg.EdgeUser:
			return nil, fmt.Errorf("mqtt broker: device %s: username is the edge's", d.Device)
		}
		if d.CommonName != "" && cfg.TLS == nil {
			return nil, fmt.Errorf("mqtt broker: device %s: a certificate common name needs a TLS listener", d.Device)
		}
		if _, dup := h.byUser[d.Username]; dup && d.Username != "" {
			return nil, fmt.Errorf("mqtt broker: device %s: username used by another device", d.Device)
		}
		if _, dup := h.byCN[d.CommonName]; dup && d.CommonName != "" {
			return nil, fmt.Errorf("mqtt broker: device %s: common name used by another device", d.Device)
		}
		seen[d.Device] = true
		if d.Username != "" {
			h.byUser[d.Username] = d
		}
		if d.CommonName != "" {
			h.byCN[d.CommonName] = d
		}
	}
	b := &Broker{cfg: cfg, log: logger}
	if len(cfg.Devices) == 0 {
		if !isLoopback(host) {
			return nil, errors.New("mqtt broker: no device credentials configured: anonymous devices are allowed only on a loopback listener")
		}
		b.demo = true
		h.demo = true
	}
	b.hook = h
	return b, nil
}

// isLoopback reports whether host (from host:port) is a loopback name or
// address. An empty host means every interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Start binds the listener and starts serving. When it returns nil, clients
// can connect at Addr at once. ctx bounds only the start; the broker runs
// until Close.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrBrokerClosed
	case b.started:
		return errors.New("mqtt broker: already started")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = b.cfg.MaxPacket
	caps.MaximumMessageExpiryInterval = 0 // retained statuses and queued arrivals never expire by age
	caps.MaximumSessionExpiryInterval = sessionExpiry
	server := mochi.New(&mochi.Options{
		Capabilities:           caps,
		Logger:                 slog.New(redactHandler{b.log.With("lib", "mochi").Handler()}),
		SysTopicResendInterval: 60,
		InlineClient:           b.cfg.Handler != nil, // to publish rejects
	})
	b.hook.server = server
	if err := server.AddHook(b.hook, nil); err != nil {
		return fmt.Errorf("mqtt broker: add auth hook: %w", err)
	}
	if b.cfg.Handler != nil {
		dh := &directHook{branch: b.cfg.Branch, h: b.cfg.Handler, server: server, log: b.log, rejected: b.cfg.Rejected}
		if err := server.AddHook(dh, nil); err != nil {
			return fmt.Errorf("mqtt broker: add direct hook: %w", err)
		}
	}
	if b.cfg.StorePath != "" {
		err := server.AddHook(&store{new(mochibolt.Hook)}, &mochibolt.Options{
			Path:    b.cfg.StorePath,
			Options: &bbolt.Options{Timeout: time.Second},
		})
		if err != nil {
			_ = server.Close()
			return fmt.Errorf("mqtt broker: open store %s: %w", b.cfg.StorePath, err)
		}
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "huiyan", Address: b.cfg.Listen, TLSConfig: b.cfg.TLS})
	if err := server.AddListener(tcp); err != nil {
		_ = server.Close()
		return fmt.Errorf("mqtt broker: listen on %s: %w", b.cfg.Listen, err)
	}
	if err := server.Serve(); err != nil {
		_ = server.Close()
		return fmt.Errorf("mqtt broker: serve: %w", err)
	}
	b.server, b.tcp, b.started = server, tcp, true
	b.inline.Store(server)
	if b.demo {
		b.log.Warn("mqtt broker in anonymous demo mode: no device credentials configured, any local client may publish as any device",
			"addr", tcp.Address(), "branch", b.cfg.Branch)
	}
	b.log.Info("mqtt broker listening", "addr", tcp.Address(), "branch", b.cfg.Branch,
		"tls", b.cfg.TLS != nil, "devices", len(b.cfg.Devices), "store", b.cfg.StorePath)
	return nil
}

// Close stops the listener and disconnects every client. The Last Wills
// of the devices are not delivered to anybody: the edge is going down too.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.server == nil {
		return nil
	}
	// mochi v2.7.9's Server.Close finds the clients to disconnect with
	// Clients.GetByListener, which takes the table's read lock twice: a
	// client leaving at that moment (Clients.Delete waiting for the write
	// lock in between) deadlocks the shutdown. So the listener is closed
	// here first, with a closer that takes the lock once; Server.Close then
	// sees the listener ended and skips its own closer.
	b.tcp.Close(func(listener string) {
		for _, cl := range b.server.Clients.GetAll() {
			if cl.Net.Listener == listener && !cl.Closed() {
				_ = b.server.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
	return b.server.Close()
}

// Addr returns the listener's host:port, with the actual port once started
// (useful with port 0), the configured address before.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tcp != nil {
		return b.tcp.Address()
	}
	return b.cfg.Listen
}

// URL returns the address as the ingest client takes it: tcp://host:port,
// or ssl://host:port with TLS.
func (b *Broker) URL() string {
	if b.cfg.TLS != nil {
		return "ssl://" + b.Addr()
	}
	return "tcp://" + b.Addr()
}

// EdgeCredential returns the username and password of the edge's ingest
// client, including a generated password.
func (b *Broker) EdgeCredential() (user, password string) {
	return b.cfg.EdgeUser, b.cfg.EdgePassword
}

// Demo reports whether the broker accepts anonymous devices.
func (b *Broker) Demo() bool { return b.demo }

// Clients returns the number of connected clients, the edge's own included;
// -1 before Start and after Close. The edge reports it on /healthz.
func (b *Broker) Clients() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.server == nil || b.closed {
		return -1
	}
	return int(atomic.LoadInt64(&b.server.Info.ClientsConnected))
}

// Inflight returns the number of QoS 1 messages the broker holds for
// delivery that the receiving client has not acknowledged yet, including
// those queued for a session that is offline; -1 before Start and after
// Close. A number that keeps growing means the ingest is down or stuck:
// export it as a gauge. It walks every session, so call it at scrape
// time, not per message.
func (b *Broker) Inflight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.server == nil || b.closed {
		return -1
	}
	n := 0
	for _, cl := range b.server.Clients.GetAll() {
		for _, pk := range cl.State.Inflight.GetAll(false) {
			if pk.FixedHeader.Type == packets.Publish { // not the acks of a client's own publishes
				n++
			}
		}
	}
	return n
}

// role is what an authenticated client may do.
type role int

const (
	roleNone   role = iota
	roleEdge        // the edge's ingest: anything under huiyan/v1/{branch}/
	roleDevice      // one device: its own arrival and status topics, its reject and wheel result topics
	roleAnon        // demo mode: any device of the branch
)

type identity struct {
	role   role
	device string
}

// authHook is the broker's authentication and ACL (DESIGN.md, "MQTT
// contract": devices "may publish only under their own branch and device id").
type authHook struct {
	mochi.HookBase
	branch   string
	prefix   string // huiyan/v1/{branch}/
	edgeUser string
	edgePass string
	byUser   map[string]DeviceCredential
	byCN     map[string]DeviceCredential
	demo     bool
	server   *mochi.Server
	log      *slog.Logger
}

func (h *authHook) ID() string { return "huiyan-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

// identify returns what a client is, from what it presented at CONNECT.
// It checks no password: a client that is connected passed
// OnConnectAuthenticate with the same username. ACL checks call it for
// offline sessions too, so it needs nothing of a live connection.
func (h *authHook) identify(cl *mochi.Client) identity {
	user := string(cl.Properties.Username)
	switch {
	case user == h.edgeUser:
		return identity{role: roleEdge}
	case user != "" && h.byUser[user].Device != "":
		return identity{role: roleDevice, device: h.byUser[user].Device}
	case h.demo:
		return identity{role: roleAnon}
	case user == "":
		if cn, ok := verifiedCN(cl); ok && h.byCN[cn].Device != "" {
			return identity{role: roleDevice, device: h.byCN[cn].Device}
		}
	}
	return identity{}
}

// verifiedCN returns the subject common name of the client's certificate
// when the TLS listener verified it against its ClientCAs.
func verifiedCN(cl *mochi.Client) (string, bool) {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return "", false
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return "", false
	}
	return st.VerifiedChains[0][0].Subject.CommonName, true
}

// OnConnectAuthenticate checks the credential, that the Last Will (if any)
// goes to a topic the client may publish to, and that the client id is not
// one another identity's session holds (a device must not take over the
// edge's persistent session and the arrivals queued in it).
func (h *authHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	pass := pk.Connect.Password
	var id identity
	switch {
	case user == h.edgeUser:
		if subtle.ConstantTimeCompare(pass, []byte(h.edgePass)) != 1 {
			return h.refuse(cl, "wrong edge password")
		}
		id = identity{role: roleEdge}
	case user != "" && h.byUser[user].Device != "":
		d := h.byUser[user]
		if !checkPassword(d, pass) {
			return h.refuse(cl, "wrong device password")
		}
		id = identity{role: roleDevice, device: d.Device}
	case h.demo:
		id = identity{role: roleAnon}
	case user == "":
		if cn, ok := verifiedCN(cl); ok && h.byCN[cn].Device != "" {
			id = identity{role: roleDevice, device: h.byCN[cn].Device}
			break
		}
		return h.refuse(cl, "no credential")
	default:
		return h.refuse(cl, "unknown username")
	}
	if id != h.identify(cl) { // cannot happen: both read the same CONNECT
		return h.refuse(cl, "inconsistent identity")
	}
	if atomic.LoadUint32(&cl.Properties.Will.Flag) == 1 && !h.mayPublish(id, cl.Properties.Will.TopicName) {
		return h.refuse(cl, "last will topic not allowed")
	}
	if old, ok := h.server.Clients.Get(cl.ID); ok && h.identify(old) != id {
		return h.refuse(cl, "client id held by another identity")
	}
	h.log.Debug("mqtt client authenticated", "client", cl.ID, "device", id.device, "remote", cl.Net.Remote)
	return true
}

func (h *authHook) refuse(cl *mochi.Client, reason string) bool {
	h.log.Warn("mqtt connection refused", "reason", reason, "client", cl.ID, "remote", cl.Net.Remote)
	return false
}

func checkPassword(d DeviceCredential, pass []byte) bool {
	if d.PasswordHash != "" {
		return huiyan.VerifyPIN(d.PasswordHash, string(pass)) == nil
	}
	return subtle.ConstantTimeCompare(pass, []byte(d.Password)) == 1
}

// OnACLCheck allows a publish (write) to a topic, or a subscription to a
// filter and the delivery of a message on a topic (read).
func (h *authHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	id := h.identify(cl)
	if write {
		return h.mayPublish(id, topic)
	}
	return h.mayRead(id, topic)
}

func (h *authHook) mayPublish(id identity, topic string) bool {
	switch id.role {
	case roleEdge:
		return strings.HasPrefix(topic, h.prefix)
	case roleDevice:
		return h.deviceTopic(topic, id.device)
	case roleAnon:
		return h.deviceTopic(topic, "")
	}
	return false
}

// deviceTopic reports whether topic is an arrival (any channel level) or
// status topic of this branch for device, or for any valid device id when
// device is "". The channel is left to the edge to check, so that a device
// with a wrong channel gets a bad_topic reject instead of a silent drop.
func (h *authHook) deviceTopic(topic, device string) bool {
	rest, ok := strings.CutPrefix(topic, h.prefix)
	if !ok {
		return false
	}
	l := strings.Split(rest, "/")
	var dev string
	switch {
	case len(l) == 3 && l[0] == "arrival" && l[1] != "" && !strings.ContainsAny(l[1], "+#"):
		dev = l[2]
	case len(l) == 3 && l[0] == "device" && l[2] == "status":
		dev = l[1]
	default:
		return false
	}
	if device == "" {
		return firmware.ValidDeviceID(dev)
	}
	return dev == device
}

func (h *authHook) mayRead(id identity, filter string) bool {
	switch id.role {
	case roleEdge:
		return strings.HasPrefix(filter, h.prefix)
	case roleDevice:
		return firmware.MaySubscribe(h.branch, id.device, filter)
	case roleAnon:
		rest, ok := strings.CutPrefix(filter, h.prefix)
		if !ok {
			return false
		}
		l := strings.Split(rest, "/")
		var dev string
		switch {
		case len(l) == 2 && l[0] == "reject":
			dev = l[1]
		case len(l) == 3 && l[0] == "wheel" && l[2] == "result":
			dev = l[1]
		default:
			return false
		}
		return dev == "+" || firmware.ValidDeviceID(dev)
	}
	return false
}

// redactHandler keeps packets out of mochi's log records: mochi logs whole
// packets ("pk", "packet") on some errors, and an arrival's payload carries
// identity tokens. It also names mochi's nameless records: the WARNs of a
// connection that ended (logged at Info, since a device dropping its
// connection is routine) and the errors of the storage hook.
type redactHandler struct{ h slog.Handler }

func redacted(key string) bool {
	switch key {
	case "pk", "packet", "will", "payload":
		return true
	}
	return false
}

func (r redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	level, msg := rec.Level, rec.Message
	if msg == "" {
		msg = "mqtt broker error"
		if level == slog.LevelWarn {
			msg, level = "mqtt connection ended", slog.LevelInfo
			if !r.h.Enabled(ctx, level) {
				return nil
			}
		}
	}
	out := slog.NewRecord(rec.Time, level, msg, rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		if !redacted(a.Key) {
			out.AddAttrs(a)
		}
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	keep := make([]slog.Attr, 0, len(as))
	for _, a := range as {
		if !redacted(a.Key) {
			keep = append(keep, a)
		}
	}
	return redactHandler{r.h.WithAttrs(keep)}
}

func (r redactHandler) WithGroup(name string) slog.Handler { return redactHandler{r.h.WithGroup(name)} }

// store is mochi's bbolt storage hook with a repair: in mochi v2.7.9 it
// saves an undelivered QoS 1 message without its packet id, and a session
// restored with such messages fails on resume ("missing packet id"). The id
// is still the last part of the record's key (client id ":" packet id), so
// it is put back on load.
type store struct{ *mochibolt.Hook }

func (s *store) StoredInflightMessages() ([]storage.Message, error) {
	v, err := s.Hook.StoredInflightMessages()
	for i := range v {
		if v[i].PacketID != 0 {
			continue
		}
		if n, perr := strconv.ParseUint(v[i].ID[strings.LastIndexByte(v[i].ID, ':')+1:], 10, 16); perr == nil {
			v[i].PacketID = uint16(n)
		}
	}
	return v, err
}
