// Command huiyan-hub runs one node of the hub cluster (DESIGN.md,
// "Commands"): the raft store, the /v1 API, /healthz and /metrics. With
// no flags it runs a single-node demo cluster on 127.0.0.1:9000. The
// subcommands import and credential are HQ's and the operator's tools.
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
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
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"huiyan/hub"
	hubhttp "huiyan/hub/http"
	"huiyan/hub/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "huiyan-hub:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	var u usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
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
		case "credential":
			return runCredential(ctx, args[1:], stdout, stderr)
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

// Main is one hub node: end-to-end tests build one, Run it and Close it.
type Main struct {
	Config Config
	Logger *slog.Logger

	Store  *store.Store
	Server *hubhttp.Server

	httpSrv *http.Server
	httpLn  net.Listener
	serving chan struct{}
	tls     *tlsMaterial // what the config's TLS files hold

	// The node's background work (retention), stopped by Close before the
	// store closes.
	bgCancel context.CancelFunc
	bgDone   chan struct{}
}

// NewMain returns a Main with the default config.
func NewMain() *Main {
	return &Main{Config: DefaultConfig(), Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
}

// ParseFlags reads the flags and the config file they name. Flags override
// the file; the file overrides the defaults.
func (m *Main) ParseFlags(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("huiyan-hub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := m.Config
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: huiyan-hub [flags]
       huiyan-hub import [-hub URL] [-token T] tags.csv|tags.jsonl[.gz] [staff.csv]
       huiyan-hub credential [-hub URL] [-token T] BRANCH

Runs one hub node. With no flags: a single-node demo cluster, HTTP on
http://%s, raft on %s, data in %s.
A node joins a cluster with -join and the admin token of the member it
joins through (give every node the same -admin-token or admin_token).

Off loopback the cluster runs over mutual TLS: every node needs the cluster
CA, its own certificate and key (-cluster-ca, -cluster-cert, -cluster-key)
and the cluster secret (-cluster-secret); deploy/gen-tls.sh makes them. A
node whose -raft address is not loopback refuses to start without them.
With them the HTTP listener serves https (the node certificate, or
-tls-cert/-tls-key) and -join takes https://host:port or host:port.

Flags:
`, def.HTTP, def.Raft, def.DataDir)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "YAML config `file` (keys: the yaml names of Config in hub/cmd/huiyan-hub/config.go)")
	id := fs.String("id", "", "node `id`, unique in the cluster (default "+def.ID+")")
	data := fs.String("data", "", "data `dir` (default "+def.DataDir+")")
	httpAddr := fs.String("http", "", "HTTP listen `addr` for /v1, /healthz, /metrics (default "+def.HTTP+")")
	raftAddr := fs.String("raft", "", "raft listen `addr` (default "+def.Raft+")")
	adminToken := fs.String("admin-token", "", "admin `token` (default: made at first start into {data}/admin.token)")
	bootstrap := fs.Bool("bootstrap", false, "start a new cluster with this node (the default with no -join)")
	join := fs.String("join", "", "join the cluster through a member's HTTP `addr` (host:port, http://host:port or https://host:port; host:port is https with cluster TLS)")
	signingKey := fs.String("signing-key", "", "PKCS#8 PEM ed25519 signing key `file`, the same on every node (default: the cluster makes one)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	clusterCA := fs.String("cluster-ca", "", "cluster CA certificate `file` (PEM): raft peers and forwarding members must chain to it (cluster_tls.ca)")
	clusterCert := fs.String("cluster-cert", "", "this node's certificate `file` (PEM, signed by the cluster CA, server and client auth, SANs: the raft and HTTP advertise hosts) (cluster_tls.cert)")
	clusterKey := fs.String("cluster-key", "", "this node's private key `file` (PEM) (cluster_tls.key)")
	clusterSecret := fs.String("cluster-secret", "", "cluster secret `file`, the same on every node: followers sign forwarded writes with it (cluster_secret; required with -cluster-ca)")
	tlsCert := fs.String("tls-cert", "", "HTTP listener certificate `file` (PEM; default with -cluster-cert: the node certificate) (tls_cert)")
	tlsKey := fs.String("tls-key", "", "HTTP listener private key `file` (PEM) (tls_key)")
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
	if set["bootstrap"] && set["join"] {
		return usageError{errors.New("-bootstrap and -join are exclusive")}
	}
	c := &m.Config
	for name, apply := range map[string]func(){
		"id":          func() { c.ID = *id },
		"data":        func() { c.DataDir = *data },
		"http":        func() { c.HTTP = *httpAddr },
		"raft":        func() { c.Raft = *raftAddr },
		"admin-token": func() { c.AdminToken = *adminToken },
		"bootstrap":   func() { c.Bootstrap, c.Join = *bootstrap, "" },
		"join":        func() { c.Join, c.Bootstrap = *join, false },
		"signing-key": func() { c.SigningKey = *signingKey },
		"log-level":   func() { c.LogLevel = *logLevel },

		"cluster-ca":     func() { c.ClusterTLS.CA = *clusterCA },
		"cluster-cert":   func() { c.ClusterTLS.Cert = *clusterCert },
		"cluster-key":    func() { c.ClusterTLS.Key = *clusterKey },
		"cluster-secret": func() { c.ClusterSecret = *clusterSecret },
		"tls-cert":       func() { c.TLSCert = *tlsCert },
		"tls-key":        func() { c.TLSKey = *tlsKey },
	} {
		if set[name] {
			apply()
		}
	}
	if c.Join != "" {
		// A joining node never bootstraps, whatever the file says.
		c.Bootstrap = false
	}
	if err := c.Validate(); err != nil {
		return usageError{err}
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	m.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// Run opens the store, starts the HTTP server and, with Join, joins the
// cluster; it returns once the node serves. The HTTP listener opens first
// so that the address the node advertises is the one it has (port 0 in
// tests), and the store before the server so that no request finds it
// missing.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	log := m.Logger.With("node", c.ID)
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	token, err := m.adminToken(log)
	if err != nil {
		return err
	}
	mat, err := c.loadTLS()
	if err != nil {
		return usageError{err}
	}
	m.tls = mat
	for _, f := range []struct{ key, path string }{{"cluster_tls.key", c.ClusterTLS.Key}, {"cluster_secret", c.ClusterSecret}, {"tls_key", c.TLSKey}} {
		if st, err := os.Stat(f.path); f.path != "" && err == nil && st.Mode().Perm()&0o077 != 0 {
			log.Warn("secret file is readable by others: chmod 600 it", "key", f.key, "path", f.path, "mode", st.Mode().Perm().String())
		}
	}
	var key ed25519.PrivateKey
	if c.SigningKey != "" {
		b, err := os.ReadFile(c.SigningKey)
		if err != nil {
			return usageError{fmt.Errorf("signing key: %w", err)}
		}
		if key, err = hub.ParsePrivateKeyPEM(b); err != nil {
			return usageError{err}
		}
	}

	if m.httpLn, err = net.Listen("tcp", c.HTTP); err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	advertise := c.HTTPAdvertise
	if advertise == "" {
		advertise = m.httpLn.Addr().String()
		if ip := net.ParseIP(hostOf(advertise)); ip != nil && ip.IsUnspecified() {
			return usageError{fmt.Errorf("http: %s listens on every address: set http_advertise to the address other members reach", c.HTTP)}
		}
	}
	if mat.http == nil && !store.IsLoopback(advertise) {
		log.Warn("HTTP is plain http off loopback: bearer tokens and customer data cross the network in clear; set cluster_tls or tls_cert/tls_key, or put a TLS proxy in front", "http", advertise)
	}
	if mat.cas != nil && mat.http != nil {
		// Followers forward to this address over https and check its name.
		if err := mat.http.Leaf.VerifyHostname(hostOf(advertise)); err != nil {
			return usageError{fmt.Errorf("tls_cert (or cluster_tls.cert): does not name the HTTP advertise host %s that followers forward to: %w", hostOf(advertise), err)}
		}
	}
	var clusterTLS *store.ClusterTLS
	if mat.cas != nil {
		clusterTLS = &store.ClusterTLS{CAs: mat.cas, Cert: mat.node}
	}
	t := c.RaftTuning
	m.Store = store.New(store.Config{
		ID: c.ID, Dir: c.DataDir, RaftBind: c.Raft, RaftAdvertise: c.RaftAdvertise, HTTPAddr: advertise,
		ClusterTLS: clusterTLS, Bootstrap: c.Bootstrap, SigningKey: key, Retain: c.RetainVersions,
		HeartbeatTimeout: t.HeartbeatTimeout, ElectionTimeout: t.ElectionTimeout, LeaderLeaseTimeout: t.LeaderLeaseTimeout,
		SnapshotThreshold: t.SnapshotThreshold, SnapshotInterval: t.SnapshotInterval, TrailingLogs: t.TrailingLogs,
		Logger: m.Logger.With("component", "store"),
	})
	if err := m.Store.Open(ctx); err != nil {
		return err
	}
	// Retention runs on every node; only the leader purges, through raft.
	bg, cancel := context.WithCancel(context.Background())
	m.bgCancel, m.bgDone = cancel, make(chan struct{})
	go func() {
		defer close(m.bgDone)
		keep := time.Duration(c.RetentionDays) * 24 * time.Hour
		if err := m.Store.RunRetention(bg, time.Hour, keep); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, store.ErrClosed) {
			log.Error("retention", "err", err)
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := m.Store.RegisterMetrics(reg); err != nil {
		return err
	}
	if err := m.Store.RegisterTransportMetrics(reg); err != nil {
		return err
	}
	fc := hubhttp.ForwardingConfig{Secrets: mat.secrets, ClusterCAs: mat.cas, HTTPS: mat.http != nil}
	if mat.cas != nil {
		fc.Cert = &mat.node
	}
	fwd, err := hubhttp.NewForwarding(fc)
	if err != nil {
		return usageError{err}
	}
	m.Server = hubhttp.NewServer(m.Store, hubhttp.Options{
		AdminToken: token, KeyID: c.TokenKey, Version: version, Forwarding: fwd,
		Logger: log.With("component", "http"), Registry: reg,
	})
	// ReadHeaderTimeout also bounds the TLS handshake (net/http takes the
	// smallest of its timeouts for it): a silent client holds one
	// goroutine for 10 s, never the listener.
	m.httpSrv = &http.Server{Handler: m.Server.Handler(), ReadHeaderTimeout: 10 * time.Second,
		// net/http's own errors (a failed TLS handshake: a member with a
		// wrong certificate, plain http to the https port) go to the
		// node's log, not to the standard logger.
		ErrorLog: slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn)}
	if mat.http != nil {
		m.httpSrv.TLSConfig = hubhttp.ServerTLS(*mat.http, mat.cas)
	}
	m.serving = make(chan struct{})
	go func() {
		defer close(m.serving)
		var err error
		if mat.http != nil {
			err = m.httpSrv.ServeTLS(m.httpLn, "", "")
		} else {
			err = m.httpSrv.Serve(m.httpLn)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()

	if c.Join != "" {
		if err := m.join(ctx, token); err != nil {
			return err
		}
	}
	log.Info("hub running", "version", version, "http", m.URL(), "cluster_tls", mat.cas != nil,
		"raft", m.Store.RaftAddr(), "bootstrap", c.Bootstrap, "join", c.Join, "snapshot_version", m.Store.LatestVersion())
	return nil
}

// URL is the base URL of the HTTP server: https:// when it serves TLS.
func (m *Main) URL() string {
	scheme := "http"
	if m.tls != nil && m.tls.http != nil {
		scheme = "https"
	}
	return scheme + "://" + m.httpLn.Addr().String()
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

// HTTPAddr is the address the HTTP server listens on.
func (m *Main) HTTPAddr() string { return m.httpLn.Addr().String() }

// adminToken returns the configured token, or the one in
// {data}/admin.token, made (0600) at first start. It logs the path, never
// the token.
func (m *Main) adminToken(log *slog.Logger) (string, error) {
	if m.Config.AdminToken != "" {
		return m.Config.AdminToken, nil
	}
	path := filepath.Join(m.Config.DataDir, "admin.token")
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
				log.Warn("admin token file is readable by others: chmod 600 it", "path", path, "mode", st.Mode().Perm().String())
			}
			log.Info("admin token from file", "path", path)
			return t, nil
		}
		// An empty file is what a crash between create and write leaves:
		// make a token anew.
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("admin token: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	t := base64.RawURLEncoding.EncodeToString(b)
	// Written to a temporary file, synced and renamed into place: a crash
	// never leaves a half-written token.
	f, err := os.CreateTemp(m.Config.DataDir, "admin.token.tmp-*")
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	_, err = f.WriteString(t + "\n")
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("admin token: %w", err)
	}
	log.Info("made an admin token", "path", path)
	return t, nil
}

// join asks a member to add this node, retrying while the member is
// unreachable or the cluster has no leader, for up to a minute.
func (m *Main) join(ctx context.Context, token string) error {
	base, err := joinURL(m.Config.Join)
	if err != nil {
		return usageError{err}
	}
	client := http.DefaultClient
	if m.tls.http != nil && !strings.Contains(m.Config.Join, "://") {
		// host:port of a member that serves https, as this one does.
		base.Scheme = "https"
	}
	if m.tls.cas != nil {
		// The member is verified against the cluster CA, and this node
		// presents its certificate: a join needs it with cluster TLS.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = hubhttp.ClientTLS(m.tls.node, m.tls.cas)
		defer t.CloseIdleConnections()
		client = &http.Client{Transport: t}
	}
	body, _ := json.Marshal(hubhttp.JoinRequest{ID: m.Config.ID, RaftAddr: m.Store.RaftAddr(), HTTPAddr: m.Store.HTTPAddr()})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+"/v1/join", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil && tlsRefused(err) {
			// A certificate refused on either side does not heal by
			// retrying for a minute.
			return fmt.Errorf("join through %s: TLS refused (check cluster_tls: the same CA on every node, a certificate naming the member's host): %w", base.Host, err)
		}
		if err == nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				m.Logger.Info("joined the cluster", "through", base.Host)
				return nil
			case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
				return fmt.Errorf("join through %s refused (%d): start this node with the admin token of the member (-admin-token)", base.Host, resp.StatusCode)
			case resp.StatusCode < 500:
				return fmt.Errorf("join through %s: %d %s", base.Host, resp.StatusCode, bytes.TrimSpace(msg))
			}
			err = fmt.Errorf("%d %s", resp.StatusCode, bytes.TrimSpace(msg))
		}
		last = err
		m.Logger.Warn("join failed, retrying", "through", base.Host, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("join through %s: %w", base.Host, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// tlsRefused reports whether err is a TLS failure no retry mends: a
// certificate this side could not verify, or an alert from the other
// side refusing ours.
func tlsRefused(err error) bool {
	var ve *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var oe *net.OpError
	return errors.As(err, &ve) || errors.As(err, &ue) || errors.As(err, &he) ||
		(errors.As(err, &oe) && oe.Op == "remote error")
}

// Close shuts the node down in this order:
//
//  1. the HTTP server stops taking requests and waits (up to 10 s) for the
//     ones in flight, so that no new write or import starts on a node
//     that is going away; an import still running past that is failed
//     by the next leader, and HQ uploads again;
//  2. a leader hands leadership to another voter, so that the cluster
//     takes writes again at once instead of after an election timeout;
//  3. the store: raft, its log and the state, last, when nothing can
//     write to them any more.
func (m *Main) Close() error {
	if m.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := m.httpSrv.Shutdown(ctx); err != nil {
			m.httpSrv.Close()
		}
		cancel()
		<-m.serving
	} else if m.httpLn != nil {
		m.httpLn.Close()
	}
	if m.Store == nil {
		return nil
	}
	if m.bgCancel != nil {
		m.bgCancel()
		<-m.bgDone
	}
	if err := m.Store.StepDown(); err != nil {
		m.Logger.Warn("leadership transfer", "err", err)
	}
	if err := m.Store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}
