// Package mqtttest starts real MQTT brokers for tests: a Mosquitto process
// from Debian's `mosquitto` package on a loopback port. The contract suites
// of firmware and edge run against it and against the embedded broker, so
// that what passes here passes against the broker branches run in production.
package mqtttest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// MaxPacket is the broker's packet limit (DESIGN.md, "MQTT contract": the
// broker accepts up to 256 KiB so the edge itself sees and refuses a payload
// over 16 KiB).
const MaxPacket = 256 << 10

// Mosquitto is a running Mosquitto broker.
type Mosquitto struct {
	Addr string // host:port on 127.0.0.1
	cmd  *exec.Cmd
	out  *syncBuffer
}

// URL is the broker's address as paho takes it: tcp://127.0.0.1:port.
func (m *Mosquitto) URL() string { return "tcp://" + m.Addr }

// Log returns what the broker printed so far, for failure messages.
func (m *Mosquitto) Log() string { return m.out.String() }

// Binary returns the path of the mosquitto binary or an error that names the
// package to install. Tests fail on that error instead of skipping, so CI
// never passes without having run the broker suites.
func Binary() (string, error) {
	for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("mosquitto not found: install Debian's mosquitto package (apt-get install mosquitto); `make test` does it when run as root")
}

// StartMosquitto starts a Mosquitto broker on a free loopback port with
// anonymous access and the packet limit of the contract, and stops it when
// the test ends. extraConf lines are appended to the listener's config.
func StartMosquitto(tb testing.TB, extraConf ...string) *Mosquitto {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		tb.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		m, err := start(tb, bin, extraConf)
		if err == nil {
			return m
		}
		lastErr = err // most likely the free port was taken meanwhile
	}
	tb.Fatalf("start mosquitto: %v", lastErr)
	return nil
}

func start(tb testing.TB, bin string, extraConf []string) (*Mosquitto, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := tb.TempDir()
	var conf bytes.Buffer
	fmt.Fprintf(&conf, "per_listener_settings false\nallow_anonymous true\npersistence false\n")
	fmt.Fprintf(&conf, "max_packet_size %d\nmessage_size_limit 0\n", MaxPacket)
	fmt.Fprintf(&conf, "listener %d 127.0.0.1\n", port)
	for _, l := range extraConf {
		conf.WriteString(l + "\n")
	}
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, conf.Bytes(), 0o600); err != nil {
		return nil, err
	}
	out := &syncBuffer{}
	cmd := exec.Command(bin, "-c", path)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	m := &Mosquitto{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, out: out}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", m.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("mosquitto exited: %s", out.String())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("mosquitto not listening on %s after 10s: %s", m.Addr, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return m, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
