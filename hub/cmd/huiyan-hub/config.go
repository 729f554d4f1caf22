package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	hubhttp "huiyan/hub/http"
	"huiyan/hub/store"
)

// Config is one hub node's configuration: defaults, then the YAML file,
// then flags. The YAML keys are the yaml names below.
type Config struct {
	ID      string `yaml:"id"`       // node id, unique in the cluster
	DataDir string `yaml:"data_dir"` // state.db, raft/, snapshots/, hub.pub, admin.token
	HTTP    string `yaml:"http"`     // HTTP listen address: /v1, /healthz, /metrics
	// HTTPAdvertise is the HTTP address the other members reach this node
	// at (followers proxy writes to the leader there); default: HTTP, which
	// then must not be an unspecified address such as 0.0.0.0.
	HTTPAdvertise string `yaml:"http_advertise"`
	Raft          string `yaml:"raft"`           // raft listen address
	RaftAdvertise string `yaml:"raft_advertise"` // default: Raft
	// AdminToken: empty makes one at first start in {data_dir}/admin.token.
	AdminToken string `yaml:"admin_token"`
	// Bootstrap starts a new cluster with this node when its data dir is
	// empty; Join (a member's HTTP address) adds it to one instead.
	Bootstrap bool   `yaml:"bootstrap"`
	Join      string `yaml:"join"`
	// SigningKey is a PKCS#8 PEM ed25519 key file, the same on every node;
	// empty: the cluster makes and replicates one.
	SigningKey string `yaml:"signing_key"`
	// TokenKey is the key id of the identity tokens in HQ's snapshots.
	TokenKey string `yaml:"token_key"`
	// RetainVersions is how many versions are kept for deltas.
	RetainVersions int `yaml:"retain_versions"`
	// RetentionDays is how long visit data (events and the funnel facts)
	// is kept (issue 6: 180 days by default).
	RetentionDays int    `yaml:"retention_days"`
	LogLevel      string `yaml:"log_level"` // debug, info, warn, error

	// ClusterTLS is the cluster's mutual TLS (deploy/gen-tls.sh makes it):
	// raft runs over it, the HTTP listener serves https with the node
	// certificate, and followers forward writes to the leader over it.
	// Required when raft listens or advertises off loopback: the raft log
	// carries the signing key and the edges' credentials.
	ClusterTLS ClusterTLS `yaml:"cluster_tls"`
	// ClusterSecret is a file holding the secret(s) followers sign
	// forwarded writes with, the same on every node (one per line, base64
	// or hex, at least 32 bytes; the first signs, every one verifies).
	// Required with cluster_tls.
	ClusterSecret string `yaml:"cluster_secret"`
	// TLSCert and TLSKey are the HTTP listener's certificate and key (PEM).
	// Default with cluster_tls: the node's. With cluster_tls it must chain
	// to the cluster CA and name http_advertise's host, because followers
	// verify the leader's HTTP certificate with the cluster CA.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`

	RaftTuning RaftTuning `yaml:"raft_tuning"`
}

// ClusterTLS names the files of the cluster's mutual TLS (PEM): the
// cluster CA certificate(s), this node's certificate chain (SANs: the
// hosts of raft_advertise and http_advertise; usages: server and client
// auth) and its private key.
type ClusterTLS struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// set reports whether any of the three is given.
func (t ClusterTLS) set() bool { return t.CA != "" || t.Cert != "" || t.Key != "" }

// RaftTuning overrides raft's timings; zero values keep raft's defaults,
// which suit a LAN.
type RaftTuning struct {
	HeartbeatTimeout   time.Duration `yaml:"heartbeat_timeout"`
	ElectionTimeout    time.Duration `yaml:"election_timeout"`
	LeaderLeaseTimeout time.Duration `yaml:"leader_lease_timeout"`
	SnapshotThreshold  uint64        `yaml:"snapshot_threshold"`
	SnapshotInterval   time.Duration `yaml:"snapshot_interval"`
	TrailingLogs       uint64        `yaml:"trailing_logs"`
}

// DefaultConfig is what `huiyan-hub` runs with no flags: a single-node demo
// cluster on 127.0.0.1:9000 that bootstraps itself.
func DefaultConfig() Config {
	return Config{
		ID:             "hub1",
		DataDir:        "data/hub",
		HTTP:           "127.0.0.1:9000",
		Raft:           "127.0.0.1:9001",
		Bootstrap:      true,
		TokenKey:       "k1",
		RetainVersions: 7,
		RetentionDays:  180,
		LogLevel:       "info",
	}
}

// ParseConfig reads YAML over the values in c. Unknown keys are errors: a
// misspelt key must not silently fall back to a default.
func ParseConfig(r io.Reader, c *Config) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && err != io.EOF {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	switch {
	case c.ID == "" || len(c.ID) > 64 || strings.ContainsAny(c.ID, " \t\n/"):
		return fmt.Errorf("id: %q must be 1 to 64 characters without spaces or slashes", c.ID)
	case c.DataDir == "":
		return fmt.Errorf("data_dir: must be set")
	case c.TokenKey == "":
		return fmt.Errorf("token_key: must be set")
	case c.RetainVersions < 1 || c.RetainVersions > 1000:
		return fmt.Errorf("retain_versions: %d must be 1 to 1000", c.RetainVersions)
	case c.RetentionDays < 1 || c.RetentionDays > 3660:
		return fmt.Errorf("retention_days: %d must be 1 to 3660", c.RetentionDays)
	case c.Bootstrap && c.Join != "":
		return fmt.Errorf("bootstrap and join are exclusive: start a new cluster or join one")
	case c.AdminToken != "" && len(c.AdminToken) < 16:
		return fmt.Errorf("admin_token: at least 16 characters (or leave it empty to have one made)")
	}
	for _, a := range []struct{ name, v string }{{"http", c.HTTP}, {"raft", c.Raft}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return fmt.Errorf("%s: %q is not host:port", a.name, a.v)
		}
	}
	for _, a := range []struct{ name, v string }{{"http_advertise", c.HTTPAdvertise}, {"raft_advertise", c.RaftAdvertise}} {
		if a.v == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a.v)
		if err != nil || host == "" || port == "0" {
			return fmt.Errorf("%s: %q is not a host:port others can dial", a.name, a.v)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return fmt.Errorf("%s: %q is unspecified: give an address others can dial", a.name, a.v)
		}
	}
	if c.Join != "" {
		if _, err := joinURL(c.Join); err != nil {
			return fmt.Errorf("join: %v", err)
		}
		if c.serveTLS() && strings.HasPrefix(c.Join, "http://") {
			return fmt.Errorf("join: %q is http but members serve https with cluster_tls or tls_cert: use https:// or host:port", c.Join)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	t := c.RaftTuning
	if t.HeartbeatTimeout < 0 || t.ElectionTimeout < 0 || t.LeaderLeaseTimeout < 0 || t.SnapshotInterval < 0 {
		return fmt.Errorf("raft_tuning: timeouts must not be negative")
	}
	if t.HeartbeatTimeout > 0 && t.HeartbeatTimeout < 10*time.Millisecond {
		return fmt.Errorf("raft_tuning.heartbeat_timeout: %s is below 10ms", t.HeartbeatTimeout)
	}
	_, err := c.loadTLS()
	return err
}

// serveTLS reports whether the HTTP listener serves https.
func (c *Config) serveTLS() bool { return c.ClusterTLS.set() || c.TLSCert != "" }

// tlsMaterial is what the TLS files of the config hold.
type tlsMaterial struct {
	cas     *x509.CertPool   // the cluster CA; nil without cluster_tls
	node    tls.Certificate  // this node's certificate, with cluster_tls
	http    *tls.Certificate // the HTTP listener's; nil: plain http
	secrets [][]byte         // cluster_secret's, signing one first
}

// loadTLS checks the TLS keys of the config together, reads their files
// and names the first bad field. It also holds the transport policy: raft
// off loopback needs cluster_tls.
func (c *Config) loadTLS() (*tlsMaterial, error) {
	t := c.ClusterTLS
	m := &tlsMaterial{}
	if !t.set() {
		for _, a := range []struct{ name, v string }{{"raft", c.Raft}, {"raft_advertise", c.RaftAdvertise}} {
			if a.v != "" && !store.IsLoopback(a.v) {
				return nil, fmt.Errorf("%s: %s is not loopback, and the raft log carries the signing key and edge credentials: "+
					"set cluster_tls.ca, cluster_tls.cert, cluster_tls.key and cluster_secret (-cluster-ca, -cluster-cert, -cluster-key, -cluster-secret; deploy/gen-tls.sh makes them)", a.name, a.v)
			}
		}
	} else {
		for _, f := range []struct{ name, v string }{{"cluster_tls.ca", t.CA}, {"cluster_tls.cert", t.Cert}, {"cluster_tls.key", t.Key}} {
			if f.v == "" {
				return nil, fmt.Errorf("%s: required with the other cluster_tls files (ca, cert and key go together)", f.name)
			}
		}
		if c.ClusterSecret == "" {
			return nil, fmt.Errorf("cluster_secret: required with cluster_tls (a file of at least %d random bytes, base64, the same on every node: deploy/gen-tls.sh makes it)", hubhttp.MinClusterSecret)
		}
		b, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("cluster_tls.ca: %w", err)
		}
		m.cas = x509.NewCertPool()
		if !m.cas.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("cluster_tls.ca: no PEM certificate in %s", t.CA)
		}
		if m.node, err = loadKeyPair("cluster_tls.cert", t.Cert, "cluster_tls.key", t.Key); err != nil {
			return nil, err
		}
		if err := verifyCert(m.node, m.cas); err != nil {
			return nil, fmt.Errorf("cluster_tls.cert: %w", err)
		}
		m.http = &m.node
	}
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		return nil, errors.New("tls_key: required with tls_cert")
	case c.TLSKey != "" && c.TLSCert == "":
		return nil, errors.New("tls_cert: required with tls_key")
	case c.TLSCert != "":
		cert, err := loadKeyPair("tls_cert", c.TLSCert, "tls_key", c.TLSKey)
		if err != nil {
			return nil, err
		}
		if m.cas != nil {
			if err := verifyCert(cert, m.cas, x509.ExtKeyUsageServerAuth); err != nil {
				return nil, fmt.Errorf("tls_cert: followers verify the leader's HTTP certificate with cluster_tls.ca: %w", err)
			}
		}
		m.http = &cert
	}
	if c.ClusterSecret != "" {
		var err error
		if m.secrets, err = readSecrets(c.ClusterSecret); err != nil {
			return nil, fmt.Errorf("cluster_secret: %w", err)
		}
	}
	return m, nil
}

// loadKeyPair reads a PEM certificate chain and its key, naming the field
// at fault.
func loadKeyPair(certField, certPath, keyField, keyPath string) (tls.Certificate, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", certField, err)
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", keyField, err)
	}
	cert, err := tls.X509KeyPair(cb, kb)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s and %s: %w", certField, keyField, err)
	}
	return cert, nil
}

// verifyCert checks that cert chains to cas for every usage (default:
// server and client auth, what a node certificate is used for).
func verifyCert(cert tls.Certificate, cas *x509.CertPool, usages ...x509.ExtKeyUsage) error {
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(ic)
		}
	}
	for _, u := range usages {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: cas, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			return err
		}
	}
	return nil
}

// readSecrets reads a cluster secret file: one secret a line, base64
// (standard or URL alphabet, padded or not) or hex; blank lines and lines
// starting with # are skipped.
func readSecrets(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sec, ok := decodeSecret(line)
		if !ok {
			return nil, fmt.Errorf("%s line %d is not base64 or hex", path, i+1)
		}
		if len(sec) < hubhttp.MinClusterSecret {
			return nil, fmt.Errorf("%s line %d holds %d bytes, want at least %d (openssl rand -base64 32)", path, i+1, len(sec), hubhttp.MinClusterSecret)
		}
		out = append(out, sec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no secret", path)
	}
	return out, nil
}

func decodeSecret(s string) ([]byte, bool) {
	if b, err := hex.DecodeString(s); err == nil {
		return b, true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// joinURL turns -join's host:port or http://host:port into the base URL.
func joinURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%q is not host:port or http://host:port", s)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return nil, fmt.Errorf("%q has no port", s)
	}
	u.Path = ""
	return u, nil
}
