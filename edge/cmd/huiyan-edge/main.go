// Command huiyan-edge runs a branch edge (DESIGN.md, "Commands"): the
// embedded MQTT broker or a client of an external one, the bbolt cache, the
// recognition and visits, and the PAD app and websocket. With no flags it
// runs the demo defaults.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/edge/ecode"
	"huiyan/edge/mqtt"
	"huiyan/edge/wheel"
	"huiyan/hub"
	pad "huiyan/pad-api"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "huiyan-edge:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// usageError is a bad flag or config: exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "import":
			return runImport(ctx, args[1:], stdout, stderr)
		case "hash-password":
			return runHashPassword(args[1:], os.Stdin, stdout, stderr)
		}
	}
	m := NewMain()
	if err := m.ParseFlags(args, stderr); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	<-ctx.Done()
	m.Logger.Info("shutting down")
	return m.Close()
}

// Main is the edge program: end-to-end tests build one, Run it and Close it.
type Main struct {
	Config Config
	Logger *slog.Logger

	DB     *bolt.DB
	Node   *edge.Node
	Broker *mqtt.Broker // nil with an external broker
	Ingest *mqtt.Ingest
	PAD    *pad.Server
	Sender *edge.Sender // nil without a hub
	// ECode issues and verifies the branch's e-codes.
	ECode *ecode.Issuer
	// Heartbeat posts the edge's status to the hub; nil without a hub.
	Heartbeat *edge.Heartbeat
	// Wheel is the branch's prize wheel (wheel.db); always open, with the
	// hub's table, else wheel_prizes', else none (wheel.go).
	Wheel *wheel.Wheel
	// prizes keeps Wheel on the table the data set carries.
	prizes *edge.WheelPrizes

	httpSrv    *http.Server
	httpLn     net.Listener
	cancel     context.CancelFunc
	ingestDone chan struct{}
	purgeDone  chan struct{}
	syncDone   chan struct{}
	senderDone chan struct{}
	beatDone   chan struct{}
	registry   *prometheus.Registry
}

// NewMain returns a Main with the default config.
func NewMain() *Main {
	return &Main{Config: DefaultConfig(), Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
}

// ParseFlags reads the flags and the config file they name. Flags override
// the file; the file overrides the defaults.
func (m *Main) ParseFlags(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("huiyan-edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: huiyan-edge [flags]
       huiyan-edge import [-data DIR] [-branch ID] tags.csv [staff.csv]
       huiyan-edge hash-password < password

Runs a branch edge. With no flags: embedded MQTT broker on 127.0.0.1:1883,
PAD app, websocket, /healthz and /metrics on http://127.0.0.1:8080, and
the e-code display pages at /ecode/{display} (ecode_displays in the config).

Flags:
`)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "YAML config `file` (see deploy/edge.yaml)")
	branch := fs.String("branch", "", "branch `id` (default "+m.Config.Branch+")")
	data := fs.String("data", "", "data `dir` for the bbolt cache (default "+m.Config.DataDir+")")
	httpAddr := fs.String("http", "", "HTTP `addr` for the PAD app, /healthz, /metrics (default "+m.Config.HTTP+")")
	listen := fs.String("mqtt-listen", "", "run the embedded MQTT broker on `addr` (default "+m.Config.MQTT.Listen+")")
	broker := fs.String("mqtt-broker", "", "use the external MQTT broker at `URL` (tcp://host:port) instead of the embedded one")
	hubURL := fs.String("hub", "", "hub member `URL` to sync from")
	hubKey := fs.String("hub-key", "", "`file` with the hub's pinned public key(s), PEM")
	hubToken := fs.String("hub-token", "", "this edge's hub `credential`")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *configPath != "" {
		f, err := os.Open(*configPath)
		if err != nil {
			return usageError{fmt.Errorf("config: %w", err)}
		}
		err = ParseConfig(f, &m.Config)
		f.Close()
		if err != nil {
			return usageError{err}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c := &m.Config
	for name, apply := range map[string]func(){
		"branch":      func() { c.Branch = *branch },
		"data":        func() { c.DataDir = *data },
		"http":        func() { c.HTTP = *httpAddr },
		"mqtt-listen": func() { c.MQTT.Listen, c.MQTT.Broker = *listen, "" },
		"mqtt-broker": func() { c.MQTT.Broker, c.MQTT.Listen = *broker, "" },
		"hub":         func() { c.Hub.URL = *hubURL },
		"hub-key":     func() { c.Hub.KeyFile = *hubKey },
		"hub-token":   func() { c.Hub.Token = *hubToken },
		"log-level":   func() { c.LogLevel = *logLevel },
	} {
		if set[name] {
			apply()
		}
	}
	if set["mqtt-listen"] && set["mqtt-broker"] {
		return usageError{errors.New("-mqtt-listen and -mqtt-broker are exclusive")}
	}
	if err := c.Validate(); err != nil {
		return usageError{err}
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	m.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// Run opens the store and starts the node, the PAD server, the HTTP server,
// the broker and the ingest, in that order: everything an arrival needs is
// up before the first arrival can come in. It returns once all are running.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	log := m.Logger.With("branch", c.Branch)
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(c.DataDir, "edge.db"))
	if err != nil {
		return fmt.Errorf("open cache: %w", err)
	}
	m.DB = db
	meta, err := m.meta(ctx)
	if err != nil {
		return err
	}
	if meta.Branch != "" && meta.Branch != c.Branch {
		return usageError{fmt.Errorf("data dir %s holds branch %s, not %s", c.DataDir, meta.Branch, c.Branch)}
	}
	if meta.SnapshotVersion == 0 {
		log.Warn("no customer data yet: every arrival is a new face until `huiyan-edge import` or hub sync")
	}

	reg := prometheus.NewRegistry()
	m.registry = reg
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := edge.NewMetrics(reg)

	if m.ECode, err = m.openECode(log); err != nil {
		return err
	}
	if m.Wheel, err = m.openWheel(ctx, log.With("component", "wheel"), reg); err != nil {
		return err
	}
	m.Node = edge.NewNode(db, edge.Config{
		Branch: c.Branch, KeyID: c.KeyID, VisitWindow: c.VisitWindow, ECode: m.ECode, Wheel: m.Wheel,
		Logger: log.With("component", "node"), Metrics: metrics,
	})
	if err := m.Node.Open(ctx); err != nil {
		return err
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "huiyan_edge_visits_open", Help: "Visits open now.",
	}, m.openVisits))
	m.PAD = pad.NewServer(m.Node, pad.Options{
		Branch: c.Branch, Logger: log.With("component", "pad"), Secure: c.SecureCookie, Registerer: reg,
	})
	m.Node.SetPADs(m.PAD)

	mux := http.NewServeMux()
	mux.Handle("/", m.PAD.Handler())
	m.mountECode(mux, log.With("component", "ecode"))
	m.mountWheel(mux, log.With("component", "wheel"))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", m.handleHealth)
	if m.httpLn, err = net.Listen("tcp", c.HTTP); err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	m.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.httpSrv.Serve(m.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()

	handler := edge.MQTTHandler{Node: m.Node}
	ictx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.purgeDone = make(chan struct{})
	go func() {
		defer close(m.purgeDone)
		m.purgeLoop(ictx, log)
	}()
	brokerURL := c.MQTT.Broker
	if c.MQTT.Listen != "" {
		// The embedded broker hands arrivals to the node before it
		// acknowledges them to the device: a PUBACK means committed.
		var devs []mqtt.DeviceCredential
		for _, d := range c.MQTT.Devices {
			devs = append(devs, mqtt.DeviceCredential{Device: d.Device, Username: d.Username, PasswordHash: d.PasswordHash})
		}
		m.Broker, err = mqtt.NewBroker(mqtt.BrokerConfig{Listen: c.MQTT.Listen, Branch: c.Branch, Devices: devs,
			Handler: handler, Rejected: metrics.Rejected}, log.With("component", "broker"))
		if err != nil {
			return usageError{err}
		}
		// Spin results go out through the broker's inline client, from
		// inside the wheel's publish, before its PUBACK.
		m.Node.SetWheelResults(m.Broker)
		if err := m.Broker.Start(ctx); err != nil {
			return fmt.Errorf("mqtt broker: %w", err)
		}
		brokerURL = m.Broker.URL()
	} else {
		// An external broker (Mosquitto): the paho ingest acknowledges an
		// arrival to the broker only after the node committed it.
		m.Ingest = mqtt.NewIngest(mqtt.IngestConfig{
			Broker: brokerURL, ClientID: c.MQTT.ClientID, Username: c.MQTT.Username, Password: c.MQTT.Password,
			Branch: c.Branch, Rejected: metrics.Rejected,
		}, handler, log.With("component", "ingest"))
		m.Node.SetWheelResults(m.Ingest)
		m.ingestDone = make(chan struct{})
		go func() {
			defer close(m.ingestDone)
			if err := m.Ingest.Run(ictx); err != nil && ictx.Err() == nil {
				log.Error("ingest stopped", "err", err)
			}
		}()
	}
	if c.Hub.URL != "" {
		if err := m.startSync(ictx, log, metrics); err != nil {
			return err
		}
	}
	log.Info("edge running", "version", version, "http", "http://"+m.httpLn.Addr().String(),
		"mqtt", brokerURL, "snapshot_version", meta.SnapshotVersion, "customers", meta.Customers)
	return nil
}

// startSync starts the hub sync client: the hub's pinned public keys come
// from the key file (several PEM blocks during a key rotation).
func (m *Main) startSync(ctx context.Context, log *slog.Logger, metrics *edge.Metrics) error {
	c := m.Config
	pemBytes, err := os.ReadFile(c.Hub.KeyFile)
	if err != nil {
		return usageError{fmt.Errorf("hub.key_file: %w", err)}
	}
	keys, err := hub.ParsePublicKeys(pemBytes)
	if err != nil {
		return usageError{fmt.Errorf("hub.key_file %s: %w", c.Hub.KeyFile, err)}
	}
	client, err := hub.NewClient(c.Hub.URL, c.Hub.Token, &http.Client{Timeout: 5 * time.Minute})
	if err != nil {
		return usageError{fmt.Errorf("hub: %w", err)}
	}
	s := edge.NewSyncer(m.DB, edge.SyncConfig{
		Branch: c.Branch, KeyID: c.KeyID, Client: client, Keys: keys,
		ChunkDir: filepath.Join(c.DataDir, "chunks"), Logger: log.With("component", "sync"), Metrics: metrics,
		Applied: m.afterSync,
	})
	m.syncDone = make(chan struct{})
	go func() {
		defer close(m.syncDone)
		_ = s.Run(ctx)
	}()
	// Visit events go back to HQ from the durable outbox, in order, each
	// once: the node writes them in the transaction that records the visit.
	m.Sender = edge.NewSender(m.DB, edge.SenderConfig{Branch: c.Branch, Client: client,
		Logger: log.With("component", "outbox"), Metrics: edge.NewOutboxMetrics(m.registry)})
	m.senderDone = make(chan struct{})
	go func() {
		defer close(m.senderDone)
		_ = m.Sender.Run(ctx)
	}()
	// The status for the HQ dashboard: every minute, and soon after a
	// device goes online or offline.
	m.Heartbeat = edge.NewHeartbeat(m.DB, edge.HeartbeatConfig{Branch: c.Branch, Client: client, Version: version,
		Logger: log.With("component", "heartbeat")})
	m.beatDone = make(chan struct{})
	go func() {
		defer close(m.beatDone)
		_ = m.Heartbeat.Run(ctx)
	}()
	// The node tells them of what it commits: new outbox events wake the
	// sender at once, device changes bring the next heartbeat forward.
	m.Node.SetPublisher(edge.Publishers{m.Sender, m.Heartbeat})
	return nil
}

// purgeEvery is how often old dedupe marks, feed events, expired sessions
// and visits past their retention are removed.
const purgeEvery = time.Hour

// purgeLoop keeps the cache from growing without bound: dedupe marks after
// 7 days, feed events beyond the retained window, expired sessions, visits
// and their funnel facts past the configured retention (default 180 days).
func (m *Main) purgeLoop(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		st, err := m.DB.Purge(ctx, time.Now(), bolt.PurgePolicy{VisitRetention: m.Config.Retention})
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Error("purge", "err", err)
		case st != (bolt.PurgeStats{}):
			log.Info("purged", "dedupe", st.Dedupe, "feed", st.Feed, "sessions", st.Sessions, "visits", st.Visits, "funnel", st.Funnel)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Main) openVisits() float64 {
	var n int
	_ = m.DB.View(context.Background(), func(tx edge.Tx) error {
		vs, err := tx.OpenVisits()
		n = len(vs)
		return err
	})
	return float64(n)
}

// HTTPAddr is the address the HTTP server listens on.
func (m *Main) HTTPAddr() string { return m.httpLn.Addr().String() }

func (m *Main) meta(ctx context.Context) (edge.Meta, error) {
	var meta edge.Meta
	err := m.DB.View(ctx, func(tx edge.Tx) error {
		var err error
		meta, err = tx.Meta()
		return err
	})
	if err != nil && !errors.Is(err, edge.ErrNotFound) {
		return meta, fmt.Errorf("read cache meta: %w", err)
	}
	return meta, nil
}

// Close shuts the edge down in this order, so that nothing acknowledged is
// lost and nothing is left half done:
//
//  1. intake: the external broker's ingest (the arrival being handled
//     commits and is acknowledged; unacknowledged ones stay with the
//     broker) or the embedded broker (the arrival being handled commits
//     before its PUBACK; devices are disconnected, they queue and retry);
//  2. the purge loop and the hub sync (an apply in progress is abandoned:
//     the store keeps the old data, and the next start resumes downloads);
//  3. the node's background work (closing expired visits);
//  4. the PAD connections (going away; PADs reconnect and resume by seq) and
//     the HTTP server;
//  5. the prize wheel (wheel.db): no arrival can spin any more, and the
//     audit export of the HTTP server has ended;
//  6. the store, last, when nothing can write to it any more.
func (m *Main) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	if m.Ingest != nil {
		m.Ingest.Close()
		<-m.ingestDone
	}
	if m.Broker != nil {
		if err := m.Broker.Close(); err != nil {
			m.Logger.Warn("close broker", "err", err)
		}
	}
	if m.purgeDone != nil {
		<-m.purgeDone
	}
	if m.syncDone != nil {
		<-m.syncDone // an apply in progress is abandoned; the old data stays
	}
	if m.senderDone != nil {
		<-m.senderDone // a batch in flight is resent at the next start
	}
	if m.beatDone != nil {
		<-m.beatDone
	}
	if m.Node != nil {
		m.Node.Close()
	}
	if m.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = m.PAD.Shutdown(ctx)
		_ = m.httpSrv.Shutdown(ctx)
		cancel()
	}
	if m.Wheel != nil {
		if err := m.Wheel.Close(); err != nil {
			m.Logger.Warn("close wheel", "err", err)
		}
	}
	if m.DB != nil {
		if err := m.DB.Close(); err != nil {
			return fmt.Errorf("close cache: %w", err)
		}
	}
	return nil
}
