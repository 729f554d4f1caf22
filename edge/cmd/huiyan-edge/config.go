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

	"huiyan"
	"huiyan/edge/ecode"
	firmware "huiyan/firmware-contracts"
)

// Config is the edge's configuration: defaults, then the YAML file, then
// flags. See deploy/edge.yaml for a commented example.
type Config struct {
	Branch  string `yaml:"branch"`
	DataDir string `yaml:"data_dir"`
	HTTP    string `yaml:"http"`      // PAD app, websocket, /healthz, /metrics
	KeyID   string `yaml:"token_key"` // key id of the data set's identity tokens
	// VisitWindow joins signals of one customer into one visit.
	VisitWindow time.Duration `yaml:"visit_window"`
	// Retention is how long visit data is kept (issue 6, "Retention"):
	// closed visits with their cards and funnel facts, and the report days
	// they count on. Default 180 days (4320h).
	Retention time.Duration `yaml:"retention"`
	LogLevel  string        `yaml:"log_level"` // debug, info, warn, error
	// SecureCookie marks the PAD session cookie Secure; set it when the edge
	// is behind TLS.
	SecureCookie bool `yaml:"secure_cookie"`

	MQTT MQTTConfig `yaml:"mqtt"`
	Hub  HubConfig  `yaml:"hub"`

	// E-codes (edge/DESIGN.md, "E-codes"; edge/ecode/README.md).
	// ECodeKey is the file of the branch's e-code key (64 hex characters;
	// the mobile-banking backend gets the same key to verify codes).
	// Empty: {data_dir}/ecode.key, made at the first start.
	ECodeKey string `yaml:"ecode_key"`
	// ECodePeriod is how long a display shows one code (10s to 1h).
	ECodePeriod time.Duration `yaml:"ecode_period"`
	// ECodeDisplays are the device ids of the branch's e-code displays;
	// each shows its code at /ecode/{id}.
	ECodeDisplays []string `yaml:"ecode_displays"`
	// ECodeURL, when set, is put in front of the code in the QR codes
	// (https://…?c=), for phones that open mobile banking on a URL.
	ECodeURL string `yaml:"ecode_url"`
	// ECodeLegacy accepts scanned text without a Huiyan code as the branch
	// code: only while a branch still has static printed codes.
	ECodeLegacy bool `yaml:"ecode_legacy"`

	// WheelPrizes is a local copy of HQ's approved prize table file,
	// prizes.csv (hub/prizes package documentation), for an edge without a
	// hub: once the hub's data set carries a word on the branch's table
	// (the table, or none), the hub's word wins and this file is ignored
	// (edge/DESIGN.md, "Prize wheel"). Empty and no table from the hub: no
	// campaign, and every spin is answered campaign_closed.
	WheelPrizes string `yaml:"wheel_prizes"`
}

// MQTTConfig chooses between the embedded broker (Listen) and an external
// one (Broker).
type MQTTConfig struct {
	Listen   string `yaml:"listen"` // embedded broker address; empty with Broker set
	Broker   string `yaml:"broker"` // external broker URL, tcp://host:port or ssl://host:port
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	ClientID string `yaml:"client_id"`
	// Devices are the device credentials of the embedded broker. None
	// configured means demo mode: anonymous devices, loopback only.
	Devices []DeviceConfig `yaml:"devices"`
}

// DeviceConfig is one device's broker credential. PasswordHash is a
// huiyan.HashPIN-format hash, never the password itself.
type DeviceConfig struct {
	Device       string `yaml:"device"`
	Username     string `yaml:"username"`
	PasswordHash string `yaml:"password_hash"`
}

// HubConfig is where the edge syncs from (issue 5).
type HubConfig struct {
	URL     string `yaml:"url"`
	KeyFile string `yaml:"key_file"`
	Token   string `yaml:"token"`
}

// Retention bounds. Below a week the supervisor's "last 7 days" would be
// short; ten years is beyond any bank's policy for visit records.
const (
	defaultRetention = 180 * 24 * time.Hour // bolt.DefaultVisitRetention
	minRetention     = 7 * 24 * time.Hour
	maxRetention     = 3650 * 24 * time.Hour
)

// DefaultConfig is what `huiyan-edge` runs with no flags: the demo.
func DefaultConfig() Config {
	return Config{
		Branch:      "B001",
		DataDir:     "data/edge",
		HTTP:        "127.0.0.1:8080",
		KeyID:       "k1",
		VisitWindow: huiyan.DefaultVisitWindow,
		Retention:   defaultRetention,
		LogLevel:    "info",
		MQTT:        MQTTConfig{Listen: "127.0.0.1:1883"},

		ECodePeriod:   ecode.DefaultPeriod,
		ECodeDisplays: []string{"ecode-01"}, // the display huiyan-devsim plays
	}
}

// ParseConfig reads YAML over the defaults in c. Unknown keys are errors:
// a misspelt key must not silently fall back to a default.
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
	case !huiyan.ValidBranchID(c.Branch):
		return fmt.Errorf("branch: %q is not a branch id ([0-9A-Za-z-]{1,32})", c.Branch)
	case c.DataDir == "":
		return fmt.Errorf("data_dir: must be set")
	case c.KeyID == "":
		return fmt.Errorf("token_key: must be set")
	case c.VisitWindow < time.Minute || c.VisitWindow > 24*time.Hour:
		return fmt.Errorf("visit_window: %s must be between 1m and 24h", c.VisitWindow)
	case c.Retention < minRetention || c.Retention > maxRetention:
		return fmt.Errorf("retention: %s must be between %s (7 days) and %s (10 years)", c.Retention, minRetention, maxRetention)
	}
	if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
		return fmt.Errorf("http: %q is not host:port", c.HTTP)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	m := c.MQTT
	switch {
	case m.Listen == "" && m.Broker == "":
		return fmt.Errorf("mqtt: set listen (embedded broker) or broker (external)")
	case m.Listen != "" && m.Broker != "":
		return fmt.Errorf("mqtt: listen and broker are exclusive: embedded or external broker, not both")
	}
	if m.Listen != "" {
		if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			return fmt.Errorf("mqtt.listen: %q is not host:port", m.Listen)
		}
	}
	if m.Broker != "" {
		u, err := url.Parse(m.Broker)
		if err != nil || (u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "tls" && u.Scheme != "mqtt" && u.Scheme != "mqtts") || u.Host == "" {
			return fmt.Errorf("mqtt.broker: %q is not a broker URL like tcp://127.0.0.1:1883", m.Broker)
		}
	}
	for i, d := range m.Devices {
		switch {
		case d.Device == "" || d.Username == "":
			return fmt.Errorf("mqtt.devices[%d]: device and username are required", i)
		case d.PasswordHash == "":
			return fmt.Errorf("mqtt.devices[%d].password_hash: required (make one with huiyan-edge hash-password)", i)
		}
	}
	if err := c.validateECode(); err != nil {
		return err
	}
	if h := c.Hub; h.URL != "" {
		if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("hub.url: %q is not an http(s) URL", h.URL)
		}
		if h.KeyFile == "" {
			return fmt.Errorf("hub.key_file: required with hub.url (the hub's public key, pinned)")
		}
		if h.Token == "" {
			return fmt.Errorf("hub.token: required with hub.url (this edge's credential)")
		}
	}
	return nil
}

func (c *Config) validateECode() error {
	p := c.ECodePeriod
	if p < ecode.MinPeriod || p > ecode.MaxPeriod || p%time.Second != 0 {
		return fmt.Errorf("ecode_period: %s must be whole seconds from %s to %s", p, ecode.MinPeriod, ecode.MaxPeriod)
	}
	seen := map[string]bool{}
	for i, d := range c.ECodeDisplays {
		switch {
		case !firmware.ValidDeviceID(d):
			return fmt.Errorf("ecode_displays[%d]: %q is not a device id ([0-9A-Za-z_-]{1,64})", i, d)
		case seen[d]:
			return fmt.Errorf("ecode_displays[%d]: %s is listed twice", i, d)
		}
		seen[d] = true
	}
	if c.ECodeURL != "" {
		u, err := url.Parse(c.ECodeURL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			return fmt.Errorf("ecode_url: %q is not an http(s) URL", c.ECodeURL)
		case strings.Contains(c.ECodeURL, ecode.Version+"."):
			return fmt.Errorf("ecode_url: must not contain %q, which starts the code", ecode.Version+".")
		}
	}
	return nil
}
