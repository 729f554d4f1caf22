package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
)

// MinClusterSecret is the shortest cluster secret accepted, in bytes.
const MinClusterSecret = 32

// Forwarding is how a follower forwards writes to the leader and how the
// leader trusts a forwarded request (hub/store/DESIGN.md, "Transport
// security"). The follower has checked the client's credential; it
// forwards the request with the principal it found, signed with an HMAC
// under a key derived from the cluster secret, and — with the cluster's
// mutual TLS — over https, verifying the leader's certificate against the
// cluster CA and presenting its own node certificate. The leader then
// accepts the principal only when the signature is good, the nonce is new
// and, with cluster TLS, the connection carries a verified cluster
// certificate: someone who learnt the secret still needs a node's key.
type Forwarding struct {
	keys        [][]byte // derived from the secrets; keys[0] signs, every one verifies
	scheme      string
	transport   http.RoundTripper // nil: http.DefaultTransport
	requireCert bool
}

// ForwardingConfig configures NewForwarding.
type ForwardingConfig struct {
	// Secrets are the cluster secret(s) (cluster_secret), each at least
	// MinClusterSecret bytes, the same on every member. The first signs,
	// every one verifies: a new secret is rolled out by adding it second
	// on every member, then moving it first, then removing the old one.
	// Required with ClusterCAs.
	Secrets [][]byte
	// ClusterCAs and Cert are the cluster's mutual TLS (the cluster CA and
	// this node's certificate). With them the members serve https (see
	// ServerTLS), followers forward over https with them, and a leader
	// takes a forwarded request only from a connection whose client
	// certificate chains to ClusterCAs.
	ClusterCAs *x509.CertPool
	Cert       *tls.Certificate
	// HTTPS: the members serve https without cluster TLS (tls_cert on a
	// loopback cluster): forward over https, verifying the leader's
	// certificate against the system roots.
	HTTPS bool
}

// NewForwarding checks c and returns the forwarding of this node.
func NewForwarding(c ForwardingConfig) (*Forwarding, error) {
	f := &Forwarding{scheme: "http"}
	for i, s := range c.Secrets {
		if len(s) < MinClusterSecret {
			return nil, fmt.Errorf("cluster secret %d: %d bytes, want at least %d", i+1, len(s), MinClusterSecret)
		}
		f.keys = append(f.keys, deriveForwardKey(s, "huiyan hub forward v2"))
	}
	switch {
	case c.ClusterCAs != nil:
		if c.Cert == nil {
			return nil, errors.New("forwarding over cluster TLS needs this node's certificate")
		}
		if len(f.keys) == 0 {
			// Deriving the key from the signing key would tie forwarding to
			// a key that exists only once the cluster has made it, and
			// reuse the manifest key for a second purpose.
			return nil, errors.New("forwarding over cluster TLS needs a cluster secret")
		}
		cert := *c.Cert
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{
			MinVersion: tls.VersionTLS13,
			RootCAs:    c.ClusterCAs,
			// Always present the node certificate (see hub/store's
			// transport): a wrong one is then refused as wrong.
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		}
		f.scheme, f.transport, f.requireCert = "https", t, true
	case c.HTTPS:
		f.scheme = "https"
	}
	return f, nil
}

// ServerTLS returns the TLS configuration of a hub's HTTP listener serving
// cert. With the cluster CA it asks every client for a certificate and
// verifies one when given: edges, HQ's tools and browsers send none and
// authenticate with their bearer token as before; members send their
// node certificate, which forwarded requests and joins need.
func ServerTLS(cert tls.Certificate, clusterCAs *x509.CertPool) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clusterCAs != nil {
		c.ClientCAs = clusterCAs
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return c
}

// ClientTLS returns the TLS configuration a member dials another member's
// HTTP listener with (the join): the cluster CA as the only roots, the
// node certificate always presented.
func ClientTLS(cert tls.Certificate, clusterCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		RootCAs:              clusterCAs,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
	}
}

func deriveForwardKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// fromMember reports whether r came over a connection whose client
// certificate chains to the cluster CA. Without cluster TLS there is no
// such thing to ask for, and every request passes.
func (s *Server) fromMember(r *http.Request) bool {
	f := s.opts.Forwarding
	if f == nil || !f.requireCert {
		return true
	}
	return r.TLS != nil && len(r.TLS.VerifiedChains) > 0
}
