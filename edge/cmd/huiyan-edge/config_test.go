package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfig_Validate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		field  string // the field the error must name; "" for valid
	}{
		{"OK", func(*Config) {}, ""},
		{"OKExternalBroker", func(c *Config) { c.MQTT.Listen, c.MQTT.Broker = "", "tcp://127.0.0.1:1883" }, ""},
		{"ErrBranch", func(c *Config) { c.Branch = "B/1" }, "branch"},
		{"ErrData", func(c *Config) { c.DataDir = "" }, "data_dir"},
		{"ErrHTTP", func(c *Config) { c.HTTP = "8080" }, "http"},
		{"ErrWindow", func(c *Config) { c.VisitWindow = time.Second }, "visit_window"},
		{"ErrLogLevel", func(c *Config) { c.LogLevel = "loud" }, "log_level"},
		{"ErrNoBroker", func(c *Config) { c.MQTT.Listen = "" }, "mqtt"},
		{"ErrBothBrokers", func(c *Config) { c.MQTT.Broker = "tcp://127.0.0.1:1883" }, "exclusive"},
		{"ErrBrokerURL", func(c *Config) { c.MQTT.Listen, c.MQTT.Broker = "", "http://x" }, "mqtt.broker"},
		{"ErrDeviceHash", func(c *Config) { c.MQTT.Devices = []DeviceConfig{{Device: "sc-01", Username: "sc-01"}} }, "mqtt.devices[0].password_hash"},
		{"ErrHubKey", func(c *Config) { c.Hub = HubConfig{URL: "https://hub:9000", Token: "t"} }, "hub.key_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate=%v, want nil", err)
			case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field)):
				t.Fatalf("Validate=%v, want an error naming %q", err, tc.field)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "edge.yaml")
	yaml := "branch: B007\ndata_dir: /var/lib/x\nhttp: 127.0.0.1:9090\nvisit_window: 45m\nmqtt:\n  listen: 127.0.0.1:1884\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("FileOverDefaultsFlagsOverFile", func(t *testing.T) {
		m := NewMain()
		if err := m.ParseFlags([]string{"-config", path, "-http", "127.0.0.1:9191", "-mqtt-broker", "tcp://127.0.0.1:1883"}, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		c := m.Config
		if c.Branch != "B007" || c.DataDir != "/var/lib/x" || c.VisitWindow != 45*time.Minute {
			t.Fatalf("file values not applied: %+v", c)
		}
		if c.HTTP != "127.0.0.1:9191" || c.MQTT.Broker != "tcp://127.0.0.1:1883" || c.MQTT.Listen != "" {
			t.Fatalf("flags did not override the file: http=%s mqtt=%+v", c.HTTP, c.MQTT)
		}
	})
	t.Run("NoFlagsIsTheDemo", func(t *testing.T) {
		m := NewMain()
		if err := m.ParseFlags(nil, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if m.Config.MQTT.Listen != "127.0.0.1:1883" || m.Config.HTTP != "127.0.0.1:8080" {
			t.Fatalf("defaults %+v, want the demo addresses", m.Config)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ErrUnknownFlag", []string{"-nope"}, "-nope"},
		{"ErrStrayArg", []string{"extra"}, "unexpected argument"},
		{"ErrBothBrokers", []string{"-mqtt-listen", "127.0.0.1:1", "-mqtt-broker", "tcp://127.0.0.1:2"}, "exclusive"},
		{"ErrUnknownYAMLKey", []string{"-config", writeFile(t, "brnach: B001\n")}, "brnach"},
		{"ErrMissingFile", []string{"-config", filepath.Join(dir, "none.yaml")}, "config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := NewMain().ParseFlags(tc.args, &bytes.Buffer{})
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) || exitCode(err) != 2 {
				t.Fatalf("err=%v (exit %d), want a usage error mentioning %q with exit 2", err, exitCode(err), tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExampleConfig: deploy/edge.yaml, which operators copy, parses with
// every key known (a misspelt key would be refused) and says what it
// documents.
func TestExampleConfig(t *testing.T) {
	f, err := os.Open("../../../deploy/edge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := DefaultConfig()
	if err := ParseConfig(f, &c); err != nil {
		t.Fatal(err)
	}
	if c.Retention != 180*24*time.Hour || c.ECodePeriod != time.Minute || len(c.ECodeDisplays) != 1 || len(c.MQTT.Devices) != 2 {
		t.Fatalf("example parsed to %+v", c)
	}
}
