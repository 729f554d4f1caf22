package http

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/store"
)

// Options configures a Server. AdminToken is required.
type Options struct {
	// AdminToken is this node's admin token (DESIGN.md, "Commands"). Admin
	// calls carry it as Authorization: Bearer; it is compared in constant
	// time and never logged.
	AdminToken string
	// KeyID is the key id of the identity tokens in uploaded snapshots
	// (default "k1").
	KeyID string
	// MaxUploadBytes bounds one upload (default 64 GiB: a province's
	// snapshot is some 15 GB uncompressed).
	MaxUploadBytes int64
	// MaxStaffBytes bounds a staff roster held in memory (default 64 MiB).
	MaxStaffBytes int64
	// Version is the hub's version, for /healthz.
	Version string
	// Forwarding secures the writes a follower forwards to the leader
	// (NewForwarding: the cluster secret, https with the cluster CA and
	// this node's certificate). Nil: the loopback demo's plain http, its
	// HMAC key derived from the signing key.
	Forwarding *Forwarding

	Logger *slog.Logger
	// Registry receives the HTTP metrics and serves /metrics; nil makes a
	// private one.
	Registry *prometheus.Registry
}

// Server is the hub's /v1 API, /healthz and /metrics on one node.
type Server struct {
	st      *store.Store
	opts    Options
	log     *slog.Logger
	metrics *metrics
	mux     *http.ServeMux
	started time.Time
	sync    syncCache
	nonces  nonceCache
}

// NewServer returns the API of the node whose store is st.
func NewServer(st *store.Store, opts Options) *Server {
	if opts.KeyID == "" {
		opts.KeyID = "k1"
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = 64 << 30
	}
	if opts.MaxStaffBytes <= 0 {
		opts.MaxStaffBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	s := &Server{st: st, opts: opts, log: opts.Logger, started: time.Now()}
	s.metrics = newMetrics(opts.Registry)
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

// routes registers every endpoint with its guard: open (no credential),
// admin, or edge (the branch's own credential, or the admin token).
// Writes run on the leader; a follower proxies them there (see forward).
func (s *Server) routes() {
	m := s.mux
	s.registerDashboard(m)
	m.HandleFunc("GET /healthz", s.handleHealth)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
	m.HandleFunc("GET /v1/cluster", s.handleCluster)
	m.HandleFunc("GET /v1/keys", s.handleKeys)

	m.HandleFunc("POST /v1/join", s.admin(s.leader(s.handleJoin)))
	m.HandleFunc("POST /v1/imports", s.admin(s.leader(s.handleImport)))
	m.HandleFunc("GET /v1/imports", s.admin(s.handleImports))
	m.HandleFunc("GET /v1/imports/{id}", s.admin(s.handleGetImport))
	m.HandleFunc("GET /v1/versions", s.admin(s.handleVersions))
	m.HandleFunc("POST /v1/credentials/{branch}", s.admin(s.leader(s.handleCredential)))
	m.HandleFunc("GET /v1/branches", s.admin(s.handleBranches))

	m.HandleFunc("GET /v1/branches/{branch}/manifest", s.edge(s.handleManifest))
	m.HandleFunc("GET /v1/branches/{branch}/chunks/{sha256}", s.edge(s.handleChunk))
	m.HandleFunc("POST /v1/branches/{branch}/events", s.edge(s.leader(s.handleEvents)))
	m.HandleFunc("POST /v1/branches/{branch}/applied", s.edge(s.leader(s.handleApplied)))
	m.HandleFunc("POST /v1/branches/{branch}/status", s.edge(s.leader(s.handleStatus)))
	m.HandleFunc("GET /v1/reports/funnel", s.admin(s.handleFunnel))
}

// Handler returns the server's handler, with request metrics.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		s.mux.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter records the status code. It keeps Flush and the
// http.ResponseController features of the writer it wraps.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	authFails *prometheus.CounterVec
	forwarded *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huiyan_hub_http_requests_total",
			Help: "HTTP requests, by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "huiyan_hub_http_request_duration_seconds",
			Help:    "HTTP request time, by route (an import counts its whole upload).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"route"}),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huiyan_hub_auth_failures_total",
			Help: "Refused credentials, by reason (missing, unknown, forbidden, forward).",
		}, []string{"reason"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huiyan_hub_forwarded_requests_total",
			Help: "Writes this follower proxied to the leader, by result (ok or error).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.requests, m.duration, m.authFails, m.forwarded)
	return m
}

// writeJSON answers v with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError maps an error to its status once for the whole API (STYLE.md,
// habit 7) and answers hub.ErrorResponse. Internal errors are logged and
// answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := http.StatusInternalServerError, huiyan.EInternal, "internal error"
	var he *huiyan.Error
	switch {
	case errors.As(err, &he):
		code, msg = he.Code, he.Message
		status = map[string]int{
			huiyan.EInvalid: http.StatusBadRequest, huiyan.EConflict: http.StatusConflict,
			huiyan.ENotFound: http.StatusNotFound, huiyan.EUnauthorized: http.StatusUnauthorized,
			huiyan.EForbidden: http.StatusForbidden, huiyan.ETooLarge: http.StatusRequestEntityTooLarge,
			huiyan.EUnavailable: http.StatusServiceUnavailable,
		}[code]
		if status == 0 {
			status = http.StatusInternalServerError
		}
	case errors.Is(err, store.ErrNotFound):
		status, code, msg = http.StatusNotFound, huiyan.ENotFound, "not found"
	case errors.Is(err, store.ErrVersionGone):
		status, code, msg = http.StatusGone, "version_gone", "the version is no longer retained"
	case errors.Is(err, store.ErrNotLeader), errors.Is(err, store.ErrNoLeader), errors.Is(err, store.ErrLeadershipLost):
		status, code, msg = http.StatusServiceUnavailable, huiyan.EUnavailable, "the cluster has no leader right now; try again"
	case errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrBroken):
		status, code, msg = http.StatusServiceUnavailable, huiyan.EUnavailable, "this node is not serving; try another member"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status, code, msg = http.StatusServiceUnavailable, huiyan.EUnavailable, "timed out; try again"
	}
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, hub.ErrorResponse{Code: code, Message: msg})
}

// decodeJSON reads a small JSON body strictly.
func decodeJSON(r *http.Request, max int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return huiyan.Errorf(huiyan.ETooLarge, "body over %d bytes", max)
		}
		return huiyan.Errorf(huiyan.EInvalid, "bad JSON body: %v", err)
	}
	return nil
}
