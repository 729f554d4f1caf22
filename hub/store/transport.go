package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrClusterTLSRequired: the raft transport would listen or advertise off
// loopback in plain TCP. The raft log carries the cluster's signing key
// (when the cluster made it), the edges' credential hashes and every
// admin-issued change, so it never crosses a network unencrypted and
// unauthenticated (DESIGN.md in this folder, "Transport security").
var ErrClusterTLSRequired = errors.New("store: cluster TLS is required when raft is not on loopback")

// ClusterTLS is the material of the cluster's mutual TLS: every member
// presents Cert, a certificate issued by the cluster CA for both server
// and client authentication, and accepts a peer only if the peer's
// certificate chains to CAs. The cmd loads it from files (STYLE.md, habit
// 6); the store builds the TLS configurations itself so that the policy
// (TLS 1.3, both sides verified, the name checked against the dialled
// host) is in one place.
type ClusterTLS struct {
	// CAs are the cluster CA certificates. During a CA rotation it may hold
	// the old and the new CA.
	CAs *x509.CertPool
	// Cert is this node's certificate chain and key. Its SANs must name
	// the host of the raft advertise address (the address peers dial).
	Cert tls.Certificate
	// HandshakeTimeout bounds a TLS handshake on an accepted connection
	// (default 5s): a peer that connects and says nothing holds one
	// goroutine for that long, never the accept loop.
	HandshakeTimeout time.Duration
}

// Why an incoming raft connection was refused: the label of
// huiyan_hub_raft_tls_refused_total.
const (
	refusedNoCert   = "no_cert"   // the peer presented no certificate
	refusedBadCert  = "bad_cert"  // its certificate does not chain to the cluster CA (or is expired, or not for client auth)
	refusedNotTLS   = "not_tls"   // it spoke something other than TLS (a plain-TCP raft peer)
	refusedTimeout  = "timeout"   // it did not finish the handshake in time
	refusedOverload = "overload"  // too many handshakes in progress
	refusedOther    = "handshake" // any other handshake failure (version, cipher, protocol)
)

var refusedReasons = []string{refusedNoCert, refusedBadCert, refusedNotTLS, refusedTimeout, refusedOverload, refusedOther}

// errNoPeerCert is VerifyConnection's answer to a peer without a
// certificate, so that the refusal can be told apart from a bad one.
var errNoPeerCert = errors.New("peer presented no certificate")

const (
	// maxPendingHandshakes bounds the handshakes in progress: beyond it a
	// new connection is closed at once rather than letting a flood of
	// silent connections take memory without limit.
	maxPendingHandshakes = 128
	// refusalLogEvery: a refused address is logged once per this period,
	// so that a scanner or a misconfigured node that retries every few
	// milliseconds does not flood the log (the counter counts them all).
	refusalLogEvery  = time.Hour
	refusalLogMaxIPs = 1024
)

// tcpAddr is an advertise address kept as the operator wrote it. A host
// name is not resolved to an IP, because it is the name that peers dial
// and that the node's certificate must carry.
type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }

// tlsStream is a raft.StreamLayer over mutual TLS 1.3.
//
// Accept hands raft only connections whose handshake succeeded. Each
// handshake runs in its own goroutine under a deadline, so a peer that
// connects and stays silent, or a plain-TCP peer, never holds up the
// others; a refused peer is counted by reason and logged once per address
// and hour.
type tlsStream struct {
	ln        net.Listener
	advertise net.Addr
	server    *tls.Config
	client    *tls.Config
	timeout   time.Duration
	log       *slog.Logger

	conns   chan net.Conn
	pending chan struct{} // a slot per handshake in progress
	ctx     context.Context
	cancel  context.CancelFunc // Close
	close   sync.Once
	wg      sync.WaitGroup

	refused  map[string]*atomic.Uint64 // by reason, fixed at construction
	dialFail atomic.Uint64

	logMu    sync.Mutex
	loggedAt map[string]time.Time // by remote IP
}

var _ raft.StreamLayer = (*tlsStream)(nil)

// newTLSStream listens on bind and returns the stream layer. advertise is
// the address peers dial ("" = the listener's address).
func newTLSStream(bind, advertise string, c *ClusterTLS, log *slog.Logger) (*tlsStream, error) {
	if c.CAs == nil || len(c.Cert.Certificate) == 0 {
		return nil, errors.New("store: cluster TLS needs the cluster CA and this node's certificate")
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	s := &tlsStream{
		ln:       ln,
		timeout:  c.HandshakeTimeout,
		log:      log,
		conns:    make(chan net.Conn),
		pending:  make(chan struct{}, maxPendingHandshakes),
		refused:  map[string]*atomic.Uint64{},
		loggedAt: map[string]time.Time{},
	}
	if s.timeout <= 0 {
		s.timeout = 5 * time.Second
	}
	for _, r := range refusedReasons {
		s.refused[r] = new(atomic.Uint64)
	}
	s.advertise = ln.Addr()
	if advertise != "" {
		s.advertise = tcpAddr(advertise)
	}
	host, _, err := net.SplitHostPort(s.advertise.String())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("store: raft advertise address: %w", err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		ln.Close()
		return nil, fmt.Errorf("store: raft address %s is not one peers can dial: set the advertise address", s.advertise)
	}
	if err := checkOwnCert(c, host); err != nil {
		ln.Close()
		return nil, err
	}
	cert := c.Cert
	s.server = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    c.CAs,
		// Every connection is a full handshake that verifies the peer's
		// certificate now (an expired one is refused at once, not when a
		// ticket runs out); raft pools its connections, so it costs little.
		SessionTicketsDisabled: true,
		// VerifyClientCertIfGiven plus VerifyConnection rather than
		// RequireAndVerifyClientCert: the library then verifies the chain
		// (with the client-auth usage) and this check refuses an empty
		// one with an error of ours, so that "no certificate" and "a
		// certificate from another CA" are counted apart.
		ClientAuth: tls.VerifyClientCertIfGiven,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || len(cs.VerifiedChains) == 0 {
				return errNoPeerCert
			}
			return nil
		},
	}
	s.client = &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    c.CAs,
		// Always present the node's certificate, even when the server's
		// list of acceptable CAs does not name its issuer: a node with a
		// certificate from the wrong CA is then refused as such (bad_cert
		// in the peer's log), not as one that sent none.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// checkOwnCert refuses to start a node whose own certificate its peers
// would refuse: one that does not chain to the cluster CA, is not valid
// for both server and client authentication, or does not name the host
// they dial. Found at start, the mistake is one line in the log; found by
// the peers, it is a node that silently never joins.
func checkOwnCert(c *ClusterTLS, host string) error {
	leaf := c.Cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Cert.Certificate[0]); err != nil {
			return fmt.Errorf("store: cluster certificate: %w", err)
		}
	}
	inter := x509.NewCertPool()
	for _, der := range c.Cert.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(ic)
		}
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.CAs, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			return fmt.Errorf("store: cluster certificate %q does not verify against the cluster CA for both server and client auth: %w", leaf.Subject.CommonName, err)
		}
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return fmt.Errorf("store: cluster certificate does not name the raft advertise host %s (peers dial it and check the name): %w", host, err)
	}
	return nil
}

// acceptLoop accepts TCP connections and hands each to a handshake
// goroutine.
func (s *tlsStream) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient accept error (EMFILE): back off a little.
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		select {
		case s.pending <- struct{}{}:
		default:
			s.refuse(c.RemoteAddr(), refusedOverload, errors.New("too many handshakes in progress"))
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.pending }()
			s.handshake(c)
		}()
	}
}

// handshake runs the server side of the handshake under the deadline and
// passes a good connection to Accept.
func (s *tlsStream) handshake(raw net.Conn) {
	tc := tls.Server(raw, s.server)
	// HandshakeContext closes the connection when ctx ends: the deadline,
	// or Close of the stream.
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		if s.ctx.Err() == nil {
			s.refuse(raw.RemoteAddr(), classify(err, ctx.Err()), err)
		}
		tc.Close()
		return
	}
	select {
	case s.conns <- tc:
	case <-s.ctx.Done():
		tc.Close()
	}
}

// classify maps a failed server handshake to a refusal reason.
func classify(err, ctxErr error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errNoPeerCert):
		return refusedNoCert
	case errors.As(err, new(*tls.CertificateVerificationError)):
		return refusedBadCert
	case errors.As(err, new(tls.RecordHeaderError)):
		return refusedNotTLS
	case ctxErr != nil || (errors.As(err, &ne) && ne.Timeout()):
		return refusedTimeout
	}
	return refusedOther
}

// refuse counts a refused connection and logs it unless its address was
// logged within refusalLogEvery.
func (s *tlsStream) refuse(addr net.Addr, reason string, err error) {
	s.refused[reason].Add(1)
	ip := addr.String()
	if h, _, e := net.SplitHostPort(ip); e == nil {
		ip = h
	}
	now := time.Now()
	s.logMu.Lock()
	last, seen := s.loggedAt[ip]
	logIt := !seen || now.Sub(last) > refusalLogEvery
	if logIt {
		if len(s.loggedAt) >= refusalLogMaxIPs {
			for k, at := range s.loggedAt {
				if now.Sub(at) > refusalLogEvery {
					delete(s.loggedAt, k)
				}
			}
		}
		if len(s.loggedAt) < refusalLogMaxIPs {
			s.loggedAt[ip] = now
		} else {
			logIt = false // flooded by many addresses: the counter still counts
		}
	}
	s.logMu.Unlock()
	if logIt {
		s.log.Warn("raft connection refused: not a cluster member (logged once an hour per address)",
			"remote", addr.String(), "reason", reason, "err", err)
	}
}

// Accept returns the next connection whose TLS handshake succeeded.
func (s *tlsStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.ctx.Done():
		return nil, fmt.Errorf("raft tls listener: %w", net.ErrClosed)
	}
}

// Close stops accepting and ends the handshakes in progress. Connections
// already handed to raft are raft's to close.
func (s *tlsStream) Close() error {
	var err error
	s.close.Do(func() {
		s.cancel()
		err = s.ln.Close()
		s.wg.Wait()
	})
	return err
}

// Addr returns the advertise address: what raft records as this node's
// address and what peers dial.
func (s *tlsStream) Addr() net.Addr { return s.advertise }

// Dial connects to a peer and completes the handshake within timeout,
// verifying the peer's certificate against the cluster CA and the host of
// address. The host part of the raft address is the name checked, so a
// member must advertise a name (or IP) its certificate carries.
func (s *tlsStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	host, _, err := net.SplitHostPort(string(address))
	if err != nil {
		return nil, fmt.Errorf("raft tls dial %s: %w", address, err)
	}
	cfg := s.client.Clone()
	cfg.ServerName = host
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", string(address))
	if err != nil {
		s.dialFail.Add(1)
		return nil, fmt.Errorf("raft tls dial %s: %w", address, err)
	}
	return c, nil
}

// counts returns the counters for the metrics collector.
func (s *tlsStream) counts() (map[string]uint64, uint64) {
	out := make(map[string]uint64, len(s.refused))
	for r, n := range s.refused {
		out[r] = n.Load()
	}
	return out, s.dialFail.Load()
}

// openTransport builds the raft transport: mutual TLS when the config has
// ClusterTLS, else plain TCP, which only loopback addresses may use.
func (s *Store) openTransport(hcl hclog.Logger) (*raft.NetworkTransport, *tlsStream, error) {
	c := s.c
	if c.ClusterTLS == nil {
		for _, a := range []string{c.RaftBind, c.RaftAdvertise} {
			if a != "" && !IsLoopback(a) {
				return nil, nil, fmt.Errorf("store: raft address %s is not loopback and ClusterTLS is not set: %w", a, ErrClusterTLSRequired)
			}
		}
		var advertise net.Addr
		if c.RaftAdvertise != "" {
			var err error
			if advertise, err = net.ResolveTCPAddr("tcp", c.RaftAdvertise); err != nil {
				return nil, nil, fmt.Errorf("store: raft advertise address: %w", err)
			}
		}
		t, err := raft.NewTCPTransportWithLogger(c.RaftBind, advertise, 3, 10*time.Second, hcl.Named("transport"))
		if err != nil {
			return nil, nil, fmt.Errorf("store: raft transport: %w", err)
		}
		return t, nil, nil
	}
	st, err := newTLSStream(c.RaftBind, c.RaftAdvertise, c.ClusterTLS, s.log.With("component", "raft-tls"))
	if err != nil {
		return nil, nil, err
	}
	t := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  st,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  hcl.Named("transport"),
	})
	s.log.Info("raft transport: mutual TLS", "raft", st.Addr().String())
	return t, st, nil
}

// IsLoopback reports whether the host of addr (host:port) is a loopback
// address or "localhost". An empty host or an unspecified address
// (":9001", "0.0.0.0:9001") listens on every interface and is not
// loopback; neither is any other host name, which cannot be known without
// resolving it.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RegisterTransportMetrics registers huiyan_hub_raft_tls_refused_total
// (incoming raft connections refused, by reason) and
// huiyan_hub_raft_tls_dial_failures_total with reg. Without cluster TLS
// they stay at zero, so that dashboards need not know the mode.
func (s *Store) RegisterTransportMetrics(reg prometheus.Registerer) error {
	return reg.Register(transportCollector{s})
}

type transportCollector struct{ s *Store }

var (
	refusedDesc = prometheus.NewDesc("huiyan_hub_raft_tls_refused_total",
		"Incoming raft connections refused by the cluster's mutual TLS, by reason (no_cert, bad_cert, not_tls, timeout, overload, handshake).",
		[]string{"reason"}, nil)
	dialFailDesc = prometheus.NewDesc("huiyan_hub_raft_tls_dial_failures_total",
		"Outgoing raft connections whose TLS dial or handshake failed (a peer down, or one whose certificate does not verify).",
		nil, nil)
)

func (c transportCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- refusedDesc
	ch <- dialFailDesc
}

func (c transportCollector) Collect(ch chan<- prometheus.Metric) {
	var refused map[string]uint64
	var dial uint64
	if st := c.s.stream; st != nil {
		refused, dial = st.counts()
	}
	for _, r := range refusedReasons {
		ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(refused[r]), r)
	}
	ch <- prometheus.MustNewConstMetric(dialFailDesc, prometheus.CounterValue, float64(dial))
}
