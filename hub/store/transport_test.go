package store_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"huiyan/hub/internal/testutil"
	"huiyan/hub/store"
)

// tlsConfig is testConfig with the cluster's mutual TLS: a node
// certificate from ca for 127.0.0.1, a short handshake deadline.
func tlsConfig(tb testing.TB, ca *testutil.CA, id string) store.Config {
	c := testConfig(tb, id, tb.TempDir())
	c.ClusterTLS = &store.ClusterTLS{CAs: ca.Pool(), Cert: ca.Issue(tb, id, "127.0.0.1"), HandshakeTimeout: 300 * time.Millisecond}
	return c
}

// mustOpenTLSCluster is mustOpenCluster over mutual TLS. Node i's config
// may be changed by edit before it opens.
func mustOpenTLSCluster(tb testing.TB, ca *testutil.CA, n int, edit func(i int, c *store.Config)) *cluster {
	tb.Helper()
	c := &cluster{top: tb}
	for i := range n {
		cfg := tlsConfig(tb, ca, "n"+string(rune('0'+i)))
		cfg.Bootstrap = i == 0
		if edit != nil {
			edit(i, &cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		c.nodes = append(c.nodes, MustOpenStore(tb, cfg))
	}
	testPoll(tb, "n0 leads", func() bool { return c.nodes[0].IsLeader() }, 10*time.Second)
	for _, s := range c.nodes[1:] {
		// Through whoever leads: on two loaded cores a leader may lose its
		// lease while a new member's first handshake is slow, and a
		// joining node retries, as huiyan-hub's join does.
		var err error
		testPoll(tb, "join "+s.ID(), func() bool {
			err = c.leader(tb).Join(context.Background(), s.ID(), s.RaftAddr(), "127.0.0.1:1")
			return !errors.Is(err, store.ErrNotLeader) && !errors.Is(err, store.ErrLeadershipLost)
		}, 15*time.Second)
		if err != nil {
			tb.Fatalf("join %s: %v", s.ID(), err)
		}
	}
	c.waitMembers(tb, n)
	return c
}

// peer is a raft transport that dials with whatever the test gives it: a
// certificate of the cluster, one of another CA, none, or plain TCP. It
// is what another machine on the network can do, not a stand-in for a
// member.
type peer struct {
	ln  net.Listener
	tls *tls.Config // nil: plain TCP
}

func (p *peer) Accept() (net.Conn, error) { return p.ln.Accept() }
func (p *peer) Close() error              { return p.ln.Close() }
func (p *peer) Addr() net.Addr            { return p.ln.Addr() }
func (p *peer) Dial(a raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if p.tls == nil {
		return net.DialTimeout("tcp", string(a), timeout)
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: p.tls}
	return d.Dial("tcp", string(a))
}

func newPeerTransport(tb testing.TB, cfg *tls.Config) *raft.NetworkTransport {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	t := raft.NewNetworkTransport(&peer{ln: ln, tls: cfg}, 1, 2*time.Second, io.Discard)
	tb.Cleanup(func() { t.Close() })
	return t
}

// heartbeat sends an AppendEntries with no entries for term and returns
// the member's answer.
func heartbeat(t *raft.NetworkTransport, target *store.Store, term uint64) (*raft.AppendEntriesResponse, error) {
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(t.LocalAddr())},
		Term:      term,
	}
	var resp raft.AppendEntriesResponse
	err := t.AppendEntries(raft.ServerID(target.ID()), raft.ServerAddress(target.RaftAddr()), req, &resp)
	return &resp, err
}

// refused reads huiyan_hub_raft_tls_refused_total{reason} of a store.
func refused(tb testing.TB, s *store.Store, reason string) float64 {
	tb.Helper()
	reg := prometheus.NewRegistry()
	if err := s.RegisterTransportMetrics(reg); err != nil {
		tb.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "huiyan_hub_raft_tls_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	tb.Fatalf("no huiyan_hub_raft_tls_refused_total{reason=%q}", reason)
	return 0
}

// lockedBuffer collects a node's logs, written by its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestTransport_MutualTLS: three nodes on loopback over mutual TLS elect a
// leader and replicate a credential and an import; whoever lacks a
// certificate of the cluster CA (another CA's, none, plain TCP, a silent
// connection) is refused, counted and logged once, and the cluster goes
// on as if nothing happened.
func TestTransport_MutualTLS(t *testing.T) {
	ca := testutil.NewCA(t, "huiyan cluster CA")
	var n0log lockedBuffer
	c := mustOpenTLSCluster(t, ca, 3, func(i int, cfg *store.Config) {
		if i == 0 {
			cfg.Logger = slog.New(slog.NewTextHandler(&n0log, nil))
		}
	})
	ctx := context.Background()
	l := c.leader(t)

	t.Run("Replicates", func(t *testing.T) {
		cred, err := l.IssueCredential(ctx, "B001")
		if err != nil {
			t.Fatal(err)
		}
		tags, staff := genTags(t, 200, 3)
		imp := mustImport(t, l, tags, staff)
		c.waitApplied(t, l)
		for _, s := range c.open() {
			if b, ok := s.Authenticate(cred); !ok || b != "B001" {
				t.Fatalf("%s: credential not replicated (branch %q)", s.ID(), b)
			}
			if v := s.LatestVersion(); v != imp.Version {
				t.Fatalf("%s: version=%d, want %d", s.ID(), v, imp.Version)
			}
			if _, _, err := s.SigningKey(); err != nil {
				t.Fatalf("%s: signing key not replicated: %v", s.ID(), err)
			}
		}
	})

	// A member's answer to a heartbeat of term 0 (stale, so harmless: it
	// changes nothing) tells its current term. A peer with a good
	// certificate gets it: the refusals below are the certificates'
	// doing, not the test's.
	member := c.nodes[1]
	good := newPeerTransport(t, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: ca.Pool(), ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{ca.Issue(t, "n9", "127.0.0.1")}})
	resp, err := heartbeat(good, member, 0)
	if err != nil || resp.Success {
		t.Fatalf("control heartbeat: %+v, %v", resp, err)
	}
	term := resp.Term

	other := testutil.NewCA(t, "another CA")
	for _, tc := range []struct {
		name, reason string
		tls          *tls.Config
	}{
		// Trusts the cluster CA (so its own check passes) but holds a
		// certificate of another CA.
		{"ErrOtherCA", "bad_cert", &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: ca.Pool(), ServerName: "127.0.0.1",
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				c := other.Issue(t, "rogue", "127.0.0.1")
				return &c, nil
			}}},
		{"ErrNoCert", "no_cert", &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: ca.Pool(), ServerName: "127.0.0.1"}},
		// A cluster certificate without the client-auth usage.
		{"ErrServerOnlyCert", "bad_cert", &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: ca.Pool(), ServerName: "127.0.0.1",
			Certificates: []tls.Certificate{ca.IssueWith(t, testutil.CertOptions{Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, "web", "127.0.0.1")}}},
		{"ErrPlainTCP", "not_tls", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := refused(t, member, tc.reason)
			p := newPeerTransport(t, tc.tls)
			// A heartbeat from a new leader of a much higher term: from a
			// member it would depose the leader; from here it must not
			// arrive at all.
			if resp, err := heartbeat(p, member, term+1000); err == nil {
				t.Fatalf("heartbeat accepted: %+v", resp)
			}
			testPoll(t, "refusal counted", func() bool { return refused(t, member, tc.reason) > before }, 5*time.Second)
		})
	}

	t.Run("ErrSilentPeer", func(t *testing.T) {
		before := refused(t, member, "timeout")
		var silent []net.Conn
		for range 20 {
			conn, err := net.Dial("tcp", member.RaftAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			silent = append(silent, conn)
		}
		// While they hold their connections open, a new connection of a
		// peer with a good certificate still gets through: the handshakes
		// run apart, none holds up the accept loop.
		fresh := newPeerTransport(t, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: ca.Pool(), ServerName: "127.0.0.1",
			Certificates: []tls.Certificate{ca.Issue(t, "n8", "127.0.0.1")}})
		if resp, err := heartbeat(fresh, member, 0); err != nil || resp.Term >= term+1000 {
			t.Fatalf("heartbeat while silent peers wait: %+v, %v", resp, err)
		}
		// The handshake deadline (300ms here) closes them.
		for _, conn := range silent {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := conn.Read(make([]byte, 1))
			var ne net.Error
			if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
				t.Fatalf("silent connection not closed by the member: %v", err)
			}
		}
		testPoll(t, "timeouts counted", func() bool { return refused(t, member, "timeout") >= before+20 }, 5*time.Second)
	})

	t.Run("ClusterUnaffected", func(t *testing.T) {
		// Had one of the intruders' heartbeats arrived, the member would
		// have taken its term (term+1000) and its leader. (An election on
		// a loaded machine may move the term by a few; not by that.)
		if resp, err := heartbeat(good, member, 0); err != nil || resp.Term >= term+1000 {
			t.Fatalf("term=%d (%v), was %d before the intruders", resp.Term, err, term)
		}
		l := c.leader(t)
		if _, err := l.IssueCredential(ctx, "B002"); err != nil {
			t.Fatalf("write after the intrusions: %v", err)
		}
		c.waitApplied(t, l)
	})

	t.Run("RefusalsLoggedOnce", func(t *testing.T) {
		// n0 refused nobody so far; refuse the same address three times.
		for range 3 {
			p := newPeerTransport(t, nil)
			heartbeat(p, c.nodes[0], term+1)
		}
		testPoll(t, "refusal logged", func() bool { return strings.Contains(n0log.String(), "raft connection refused") }, 5*time.Second)
		if n := strings.Count(n0log.String(), "raft connection refused"); n != 1 {
			t.Fatalf("%d refusal log lines for one address, want 1", n)
		}
		if !strings.Contains(n0log.String(), "remote=127.0.0.1:") || !strings.Contains(n0log.String(), "reason=not_tls") {
			t.Fatalf("log line names no address or reason:\n%s", n0log.String())
		}
	})
}

// TestOpen_TransportPolicy: a node refuses to start when raft would be
// plain TCP off loopback, or when its own certificate is one its peers
// would refuse.
func TestOpen_TransportPolicy(t *testing.T) {
	ca := testutil.NewCA(t, "cluster CA")
	other := testutil.NewCA(t, "another CA")
	for _, tc := range []struct {
		name string
		edit func(c *store.Config)
		want string // in the error
		is   error
	}{
		{"OKLoopbackPlain", func(c *store.Config) {}, "", nil},
		{"OKLocalhostPlain", func(c *store.Config) { c.RaftAdvertise = "localhost:9001" }, "", nil},
		{"ErrNonLoopbackAdvertise", func(c *store.Config) { c.RaftAdvertise = "192.0.2.10:9001" }, "192.0.2.10:9001", store.ErrClusterTLSRequired},
		{"ErrHostNameAdvertise", func(c *store.Config) { c.RaftAdvertise = "hub1.example:9001" }, "hub1.example:9001", store.ErrClusterTLSRequired},
		{"ErrUnspecifiedBind", func(c *store.Config) { c.RaftBind = "0.0.0.0:0" }, "0.0.0.0:0", store.ErrClusterTLSRequired},
		{"ErrCertNamesOtherHost", func(c *store.Config) {
			c.ClusterTLS = &store.ClusterTLS{CAs: ca.Pool(), Cert: ca.Issue(t, "n1", "127.0.0.2", "hub1.example")}
		}, "does not name the raft advertise host 127.0.0.1", nil},
		{"ErrCertOfOtherCA", func(c *store.Config) {
			c.ClusterTLS = &store.ClusterTLS{CAs: ca.Pool(), Cert: other.Issue(t, "n1", "127.0.0.1")}
		}, "does not verify against the cluster CA", nil},
		{"ErrCertNotForClients", func(c *store.Config) {
			c.ClusterTLS = &store.ClusterTLS{CAs: ca.Pool(), Cert: ca.IssueWith(t, testutil.CertOptions{Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, "n1", "127.0.0.1")}
		}, "client auth", nil},
		{"ErrExpiredCert", func(c *store.Config) {
			c.ClusterTLS = &store.ClusterTLS{CAs: ca.Pool(), Cert: ca.IssueWith(t, testutil.CertOptions{NotAfter: time.Now().Add(-time.Minute)}, "n1", "127.0.0.1")}
		}, "expired", nil},
		{"OKTLS", func(c *store.Config) {
			c.ClusterTLS = &store.ClusterTLS{CAs: ca.Pool(), Cert: ca.Issue(t, "n1", "127.0.0.1")}
		}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t, "n1", t.TempDir())
			c.Bootstrap = true
			tc.edit(&c)
			s := store.New(c)
			err := s.Open(context.Background())
			if err == nil {
				defer s.Close()
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("open: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err=%v, want one naming %q", err, tc.want)
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Fatalf("err=%v, want %v", err, tc.is)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:9001", true},
		{"127.9.9.9:9001", true},
		{"[::1]:9001", true},
		{"localhost:9001", true},
		{"LOCALHOST:9001", true},
		{"0.0.0.0:9001", false},
		{":9001", false},
		{"[::]:9001", false},
		{"10.0.0.5:9001", false},
		{"hub1.bank.example:9001", false},
		{"localhost.evil.example:9001", false},
	} {
		if got := store.IsLoopback(tc.addr); got != tc.want {
			t.Errorf("IsLoopback(%q)=%v, want %v", tc.addr, got, tc.want)
		}
	}
}
