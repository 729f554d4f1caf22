package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
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
	RetainVersions int    `yaml:"retain_versions"`
	LogLevel       string `yaml:"log_level"` // debug, info, warn, error

	RaftTuning RaftTuning `yaml:"raft_tuning"`
}

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
	return nil
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
