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
	join := fs.String("join", "", "join the cluster through a member's HTTP `addr` (host:port or http://host:port)")
	signingKey := fs.String("signing-key", "", "PKCS#8 PEM ed25519 signing key `file`, the same on every node (default: the cluster makes one)")
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
	t := c.RaftTuning
	m.Store = store.New(store.Config{
		ID: c.ID, Dir: c.DataDir, RaftBind: c.Raft, RaftAdvertise: c.RaftAdvertise, HTTPAddr: advertise,
		Bootstrap: c.Bootstrap, SigningKey: key, Retain: c.RetainVersions,
		HeartbeatTimeout: t.HeartbeatTimeout, ElectionTimeout: t.ElectionTimeout, LeaderLeaseTimeout: t.LeaderLeaseTimeout,
		SnapshotThreshold: t.SnapshotThreshold, SnapshotInterval: t.SnapshotInterval, TrailingLogs: t.TrailingLogs,
		Logger: m.Logger.With("component", "store"),
	})
	if err := m.Store.Open(ctx); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := m.Store.RegisterMetrics(reg); err != nil {
		return err
	}
	m.Server = hubhttp.NewServer(m.Store, hubhttp.Options{
		AdminToken: token, KeyID: c.TokenKey, Version: version,
		Logger: log.With("component", "http"), Registry: reg,
	})
	m.httpSrv = &http.Server{Handler: m.Server.Handler(), ReadHeaderTimeout: 10 * time.Second}
	m.serving = make(chan struct{})
	go func() {
		defer close(m.serving)
		if err := m.httpSrv.Serve(m.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()

	if c.Join != "" {
		if err := m.join(ctx, token); err != nil {
			return err
		}
	}
	log.Info("hub running", "version", version, "http", "http://"+m.httpLn.Addr().String(),
		"raft", m.Store.RaftAddr(), "bootstrap", c.Bootstrap, "join", c.Join, "snapshot_version", m.Store.LatestVersion())
	return nil
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
	body, _ := json.Marshal(hubhttp.JoinRequest{ID: m.Config.ID, RaftAddr: m.Store.RaftAddr(), HTTPAddr: m.Store.HTTPAddr()})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+"/v1/join", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
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
	if err := m.Store.StepDown(); err != nil {
		m.Logger.Warn("leadership transfer", "err", err)
	}
	if err := m.Store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}
