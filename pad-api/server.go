package pad

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"huiyan"
)

// CookieName is the session cookie (DESIGN.md, "PAD login").
const CookieName = "huiyan_pad"

// Defaults for Options.
const (
	DefaultSendBuffer    = 256
	DefaultReadLimit     = 4 << 10
	DefaultPongWait      = 60 * time.Second
	DefaultWriteWait     = 10 * time.Second
	DefaultReplayLimit   = 1000
	DefaultLoginFailures = 5
	DefaultLoginWindow   = 15 * time.Minute
	DefaultLoginLockout  = 15 * time.Minute
	DefaultLoginKeys     = 10000
)

// Options configures a Server. Zero values take the defaults.
type Options struct {
	// Branch is the branch the hello message names; empty means the
	// session's branch.
	Branch string
	Logger *slog.Logger // default: discard
	// SendBuffer is how many messages may wait for a PAD. A PAD that lets
	// it fill is too slow: it is disconnected and resumes by seq, so that it
	// never holds up the branch. Default 256.
	SendBuffer int
	// ReadLimit is the largest message a PAD may send, in bytes; a larger
	// one closes the connection (1009). Default 4 KiB.
	ReadLimit int64
	// PongWait is how long a PAD may stay silent (no pong, no message)
	// before the connection is considered dead. Default 60s.
	PongWait time.Duration
	// PingPeriod is how often the server pings; it must be less than
	// PongWait and defaults to 9/10 of it (54s).
	PingPeriod time.Duration
	// WriteWait bounds every write to a PAD. Default 10s.
	WriteWait time.Duration
	// ReplayLimit is the page size of FeedAfter when a PAD resumes. Default 1000.
	ReplayLimit int
	// Secure sets the Secure flag of the session cookie: set it when the
	// PADs reach the edge over HTTPS.
	Secure bool
	// Clock tells the time for sessions, rate limits and hello. Default time.Now.
	Clock func() time.Time
	// Registerer, when set, gets the server's metrics: huiyan_pad_connections,
	// huiyan_pad_messages_sent_total, huiyan_pad_dropped_total,
	// huiyan_pad_login_failures_total, huiyan_pad_login_rate_limited_total.
	Registerer prometheus.Registerer

	// LoginFailures wrong PINs within LoginWindow lock a staff id, and
	// separately a client address, for LoginLockout (fixed, not growing, so
	// that an attacker cannot lock a colleague out for long). Defaults 5,
	// 15 minutes, 15 minutes.
	LoginFailures int
	LoginWindow   time.Duration
	LoginLockout  time.Duration
	// LoginKeys caps how many staff ids and addresses the rate limiter
	// remembers; beyond it the least recently seen unlocked one is
	// forgotten. Default 10000.
	LoginKeys int
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SendBuffer <= 0 {
		o.SendBuffer = DefaultSendBuffer
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = DefaultReadLimit
	}
	if o.PongWait <= 0 {
		o.PongWait = DefaultPongWait
	}
	if o.PingPeriod <= 0 || o.PingPeriod >= o.PongWait {
		o.PingPeriod = o.PongWait * 9 / 10
	}
	if o.WriteWait <= 0 {
		o.WriteWait = DefaultWriteWait
	}
	if o.ReplayLimit <= 0 {
		o.ReplayLimit = DefaultReplayLimit
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.LoginFailures <= 0 {
		o.LoginFailures = DefaultLoginFailures
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = DefaultLoginWindow
	}
	if o.LoginLockout <= 0 {
		o.LoginLockout = DefaultLoginLockout
	}
	if o.LoginKeys <= 0 {
		o.LoginKeys = DefaultLoginKeys
	}
}

// Server serves the PAD contract (DESIGN.md, "PAD contract" and "PAD
// login"): login, the /pad/ws websocket and the web app. The edge hands it
// every committed feed event with Publish.
type Server struct {
	backend Backend
	opts    Options
	log     *slog.Logger
	m       metrics

	upgrader websocket.Upgrader
	limiter  *limiter
	loginSem chan struct{} // bounds concurrent PIN checks: each is a slow hash
	handler  http.Handler

	// ctx is the parent of every connection's context; cancel aborts the
	// backend calls of all connections at shutdown.
	ctx    context.Context
	cancel context.CancelFunc

	// names are the staff seen in sessions, for GET /pad/staff.
	namesMu sync.Mutex
	names   map[string]knownStaff

	mu     sync.RWMutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup // one per connection

	// pubMu is held by Publish, Committed and Retract, and by a connection
	// taking a copy of inflight: the events published and not yet known
	// to be committed, in seq order (see Publish).
	pubMu    sync.Mutex
	inflight []huiyan.FeedEvent
}

// MaxInFlight bounds the events a backend may publish before their commit
// (Publish): the node shows at most 256 of one transaction early.
const MaxInFlight = 1024

type metrics struct {
	conns         prometheus.Gauge
	sent          prometheus.Counter
	dropped       prometheus.Counter
	loginFailures prometheus.Counter
	loginLimited  prometheus.Counter
}

// NewServer returns a server on backend. It panics if opts.Registerer
// already has the pad metrics.
func NewServer(backend Backend, opts Options) *Server {
	opts.setDefaults()
	s := &Server{
		backend:  backend,
		opts:     opts,
		log:      opts.Logger,
		limiter:  newLimiter(opts.LoginFailures, opts.LoginWindow, opts.LoginLockout, opts.LoginKeys),
		loginSem: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		conns:    make(map[*conn]struct{}),
		names:    make(map[string]knownStaff),
		m: metrics{
			conns: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "huiyan_pad_connections", Help: "Open PAD websocket connections.",
			}),
			sent: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "huiyan_pad_messages_sent_total", Help: "Messages written to PADs.",
			}),
			dropped: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "huiyan_pad_dropped_total", Help: "PAD connections closed because the PAD did not keep up.",
			}),
			loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "huiyan_pad_login_failures_total", Help: "PAD logins refused for a wrong staff id or PIN.",
			}),
			loginLimited: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "huiyan_pad_login_rate_limited_total", Help: "PAD logins refused by the wrong-PIN rate limit.",
			}),
		},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		CheckOrigin:     sameOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			writeError(w, status, codeForStatus(status), reason.Error())
		},
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(s.m.conns, s.m.sent, s.m.dropped, s.m.loginFailures, s.m.loginLimited)
	}
	s.handler = s.routes()
	return s
}

// Handler returns the HTTP handler: POST /pad/login, POST /pad/logout,
// GET /pad/me, GET /pad/staff, GET /pad/ws, GET /pad/asyncapi.yaml and the web app at /.
func (s *Server) Handler() http.Handler { return s.handler }

// Connections returns how many PAD websockets are open.
func (s *Server) Connections() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.conns)
}

// Publish hands a committed feed event to every connection whose staff
// member is in the event's audience. It never blocks: each connection has a
// bounded queue, and a connection whose queue is full is closed (the PAD
// reconnects and resumes by seq).
//
// Call Publish once per event, in seq order (from under the lock that
// serialises feed appends), after the event is committed or, for an
// arrival, when only its commit is left; then call Committed once it is
// committed, or Retract if that commit failed. An event published out of
// order still reaches live connections, but a PAD that drops between the
// two may resume after the later one and miss the earlier one.
//
// In flight. An event published before its commit is not yet in what the
// backend reads (Newest, FeedAfter, State). So the server keeps it until
// Committed, and a connection that reads the backend (hello, a replay, a
// state) follows what it read with the in-flight events newer than it, as
// they were when the connection started holding: an event published just
// before a PAD connected or resumed is neither lost nor undone by the
// state.
func (s *Server) Publish(e huiyan.FeedEvent) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if len(s.inflight) >= MaxInFlight {
		// The backend broke the contract; the oldest is surely committed
		// by now or was lost with a crash.
		s.log.Error("pad publish: too many events in flight, dropping the oldest", "seq", s.inflight[0].Seq)
		s.inflight = slices.Delete(s.inflight, 0, 1)
	}
	s.inflight = append(s.inflight, e)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	// Messages differ between connections only in your_customer: encode
	// at most two variants, once each.
	var enc [2][]byte
	for c := range s.conns {
		if !e.Audience.Includes(&c.sess.Staff) {
			continue
		}
		i := 0
		if yours(e.Profile, c.sess.Staff.ID) {
			i = 1
		}
		if enc[i] == nil {
			b, err := encodeEvent(e, i == 1)
			if err != nil {
				s.log.Error("pad publish: cannot encode feed event", "seq", e.Seq, "kind", e.Kind, "err", err)
				return
			}
			enc[i] = b
		}
		c.offer(e.Seq, enc[i])
	}
}

// Committed says that every event up to seq through is committed: the
// backend has it.
func (s *Server) Committed(through uint64) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	i := 0
	for i < len(s.inflight) && s.inflight[i].Seq <= through {
		i++
	}
	s.inflight = slices.Delete(s.inflight, 0, i)
}

// inFlight returns a copy of the events in flight. Called with pubMu held.
func (s *Server) inFlightLocked() []huiyan.FeedEvent {
	if len(s.inflight) == 0 {
		return nil
	}
	return slices.Clone(s.inflight)
}

// Retract tells every PAD to drop the events it was published since its
// last durable seq: the backend gave the server an arrival before its
// commit, and the commit failed. Each connection is closed with
// "try again later"; the PAD reconnects and resumes from the last seq it
// saw, and a seq that names no event resumes with the state (see
// conn.replay), which no longer holds what did not commit. It never
// blocks.
func (s *Server) Retract(reason string) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	s.inflight = nil
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for c := range s.conns {
		c.closeWithError(huiyan.EUnavailable, msgUnavailable, websocket.CloseTryAgainLater, "retracted: "+reason)
		n++
	}
	s.log.Warn("pad feed retracted: every PAD resyncs", "reason", reason, "connections", n)
}

// Shutdown closes every connection with a going-away close frame and waits
// for them to end, or for ctx; then it closes what is left. New websocket
// upgrades are refused from the start. Shut the PAD server down before the
// HTTP server: hijacked websocket connections are not the HTTP server's to
// close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.kill("server shutting down", websocket.CloseGoingAway, "server shutting down", false)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		for _, c := range conns {
			c.ws.Close()
		}
		<-done
		return ctx.Err()
	}
}

// Close is Shutdown with WriteWait to say goodbye.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteWait)
	defer cancel()
	return s.Shutdown(ctx)
}

// register adds a connection, in the holding state (see conn), so that no
// event published from now on is missed. It returns false after Shutdown.
func (s *Server) register(c *conn) bool {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	c.inflight = s.inFlightLocked()
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.m.conns.Inc()
	return true
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.m.conns.Dec()
	s.wg.Done()
}

// endSession closes every connection of a session that has ended (logout).
func (s *Server) endSession(token string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for c := range s.conns {
		if c.sess.Token == token {
			c.closeWithError(huiyan.EUnauthorized, msgLoggedOut, websocket.ClosePolicyViolation, "logged out")
		}
	}
}

// maxKnownStaff bounds the names remembered for GET /pad/staff: a branch has
// tens of staff, and an edge serves one branch.
const maxKnownStaff = 1024

type knownStaff struct {
	branch string
	staff  Staff
}

// remember notes the display name of a session's staff member.
func (s *Server) remember(sess Session) {
	st := sess.Staff
	if st.ID == "" {
		return
	}
	k := knownStaff{branch: s.branchOf(sess), staff: Staff{ID: st.ID, Name: st.DisplayName, Role: st.Role}}
	s.namesMu.Lock()
	defer s.namesMu.Unlock()
	if _, ok := s.names[st.ID]; ok || len(s.names) < maxKnownStaff {
		s.names[st.ID] = k
	}
}

// seenStaff returns the remembered staff of a branch, by id.
func (s *Server) seenStaff(branch string) []Staff {
	s.namesMu.Lock()
	list := make([]Staff, 0, len(s.names))
	for _, k := range s.names {
		if k.branch == branch {
			list = append(list, k.staff)
		}
	}
	s.namesMu.Unlock()
	slices.SortFunc(list, func(a, b Staff) int { return strings.Compare(a.ID, b.ID) })
	return list
}
