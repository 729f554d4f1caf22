package mqtt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"huiyan"
	"huiyan/edge/mqtt"
	firmware "huiyan/firmware-contracts"
)

// testDeviceCredential is the username and password of a test device.
func testDeviceCredential(device string) (string, string) { return "u-" + device, "pw-" + device }

// testDevices returns credentials for the test devices; sc-02 has its
// password as a PBKDF2 hash, the others in plain text.
func testDevices(t testing.TB) []mqtt.DeviceCredential {
	t.Helper()
	var ds []mqtt.DeviceCredential
	for _, d := range []string{"sc-01", "sc-02", "ec-01", "wh-01"} {
		user, pass := testDeviceCredential(d)
		c := mqtt.DeviceCredential{Device: d, Username: user, Password: pass}
		if d == "sc-02" {
			h, err := huiyan.HashPIN(pass, []byte("salt-sc-02"), 1000)
			if err != nil {
				t.Fatal(err)
			}
			c.Password, c.PasswordHash = "", h
		}
		ds = append(ds, c)
	}
	return ds
}

// mustStartBroker starts an embedded broker and closes it when the test
// ends.
func mustStartBroker(t testing.TB, cfg mqtt.BrokerConfig) *mqtt.Broker {
	t.Helper()
	return mustStartBrokerLog(t, cfg, newLogger(t))
}

func mustStartBrokerLog(t testing.TB, cfg mqtt.BrokerConfig, logger *slog.Logger) *mqtt.Broker {
	t.Helper()
	b, err := mqtt.NewBroker(cfg, logger)
	if err != nil {
		t.Fatalf("NewBroker: %v", err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func credentialEnv(b *mqtt.Broker) env {
	user, pass := b.EdgeCredential()
	return env{URL: b.URL(), EdgeUser: user, EdgePass: pass, Device: testDeviceCredential}
}

func TestBroker_ACL(t *testing.T) {
	buf := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := mustStartBrokerLog(t, mqtt.BrokerConfig{Listen: "127.0.0.1:0", Branch: branch, Devices: testDevices(t)}, logger)
	e := credentialEnv(b)
	rec := &recorder{}
	startIngest(t, e, rec, "huiyan-edge-"+branch, newLogger(t))

	t.Run("OwnTopicsOnly", func(t *testing.T) {
		dev := dial(t, deviceOptions(e, "sc-01"))
		// QoS 0 publishes the broker may not forward; then a valid QoS 1
		// publish on the same connection as the barrier.
		for _, topic := range []string{
			arrivalTopic(t, "sc-02"),                           // another device
			statusTopic(t, "sc-02"),                            // another device's status
			firmware.TopicRoot + "/B999/arrival/counter/sc-01", // another branch
			rejectTopic(t, "sc-01"),                            // edge → device only
		} {
			publish(t, dev, topic, 0, false, payload("forbidden"))
		}
		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-own"))
		poll(t, "the barrier", rec.hasHandled("sc-01-own"))
		if n := rec.count("forbidden"); n != 0 {
			t.Fatalf("forbidden publishes reached the Handler %d times", n)
		}
		if _, ok := rec.status("sc-02"); ok {
			t.Fatal("a device set another device's status")
		}
	})

	t.Run("QoS1ToOtherDeviceDisconnects", func(t *testing.T) {
		raw := dialRaw(t, e, "sc-01", "", "")
		pp := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		pp.TopicName, pp.Qos, pp.MessageID, pp.Payload = arrivalTopic(t, "sc-02"), 1, 7, payload("forbidden-qos1")
		if err := pp.Write(raw); err != nil {
			t.Fatal(err)
		}
		raw.waitClosed(t) // mochi drops an MQTT 3 client that publishes where it may not

		dev := dial(t, deviceOptions(e, "sc-01"))
		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-after"))
		poll(t, "the barrier", rec.hasHandled("sc-01-after"))
		if n := rec.count("forbidden-qos1"); n != 0 {
			t.Fatalf("a forbidden QoS 1 publish reached the Handler %d times", n)
		}
		// mochi logged the refused packet; the payload must not be in it.
		poll(t, "mochi to log the refused publish", func() bool {
			return strings.Contains(buf.String(), "error processing packet")
		})
		if out := buf.String(); strings.Contains(out, "pk=") || strings.Contains(out, secretMarker) {
			t.Fatalf("a packet reached the broker log:\n%s", out)
		}
	})

	t.Run("SubscribeOwnRepliesOnly", func(t *testing.T) {
		dev := dial(t, deviceOptions(e, "sc-01"))
		wheel, _ := firmware.WheelResultTopic(branch, "sc-01")
		for filter, want := range map[string]bool{
			rejectTopic(t, "sc-01"): true,
			wheel:                   true,
			rejectTopic(t, "sc-02"): false,
			firmware.TopicRoot + "/" + branch + "/reject/+": false,
			firmware.TopicRoot + "/" + branch + "/#":        false,
			arrivalTopic(t, "sc-01"):                        false,
			"#":                                             false,
		} {
			tok := dev.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
			if err := wait(tok); err != nil {
				t.Fatalf("subscribe %s: %v", filter, err)
			}
			code := tok.(*paho.SubscribeToken).Result()[filter]
			if got := code <= 2; got != want {
				t.Errorf("subscribe %s: granted=%v (code %#x), want %v", filter, got, code, want)
			}
		}
	})

	t.Run("ErrWillForOtherDevice", func(t *testing.T) {
		_, code := rawConnect(t, e, "sc-01", randomID("raw"), statusTopic(t, "sc-02"), firmware.StatusOffline)
		if code == packets.Accepted {
			t.Fatal("a device connected with another device's status as its Last Will")
		}
		c := dialRaw(t, e, "sc-01", statusTopic(t, "sc-01"), firmware.StatusOffline) // its own: fine
		c.Close()
		poll(t, "sc-01's Will", func() bool { c, _ := rec.status("sc-01"); return c.Status == firmware.StatusOffline })
	})

	t.Run("ErrTakeOverEdgeSession", func(t *testing.T) {
		_, code := rawConnect(t, e, "sc-01", "huiyan-edge-"+branch, "", "")
		if code == packets.Accepted {
			t.Fatal("a device took over the edge's session")
		}
		dev := dial(t, deviceOptions(e, "sc-01"))
		publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-still"))
		poll(t, "the edge still receiving", rec.hasHandled("sc-01-still"))
	})
}

func TestBroker_Authentication(t *testing.T) {
	b := mustStartBroker(t, mqtt.BrokerConfig{Listen: "127.0.0.1:0", Branch: branch, Devices: testDevices(t)})
	e := credentialEnv(b)
	edgeUser, edgePass := b.EdgeCredential()
	for _, tc := range []struct {
		name, user, pass string
		ok               bool
	}{
		{"OK", "u-sc-01", "pw-sc-01", true},
		{"OKHashed", "u-sc-02", "pw-sc-02", true},
		{"OKEdge", edgeUser, edgePass, true},
		{"ErrWrongPassword", "u-sc-01", "pw-sc-02", false},
		{"ErrWrongHashedPassword", "u-sc-02", "wrong", false},
		{"ErrWrongEdgePassword", edgeUser, "wrong", false},
		{"ErrUnknownUser", "u-sc-99", "pw-sc-99", false},
		{"ErrAnonymous", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := deviceOptions(e, "sc-01").SetUsername(tc.user).SetPassword(tc.pass)
			c := paho.NewClient(opts)
			err := wait(c.Connect())
			if err == nil {
				c.Disconnect(0)
			}
			if (err == nil) != tc.ok {
				t.Fatalf("connect error = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestBroker_Demo(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		buf := &logBuffer{}
		logger := slog.New(slog.NewTextHandler(buf, nil))
		b := mustStartBrokerLog(t, mqtt.BrokerConfig{Listen: "127.0.0.1:0", Branch: branch}, logger)
		if !b.Demo() {
			t.Fatal("Demo() = false, want true")
		}
		if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "anonymous demo mode") {
			t.Fatalf("no WARN about demo mode in the log:\n%s", out)
		}
		e := env{URL: b.URL(), Device: func(string) (string, string) { return "", "" }}
		e.EdgeUser, e.EdgePass = b.EdgeCredential()
		rec := &recorder{}
		startIngest(t, e, rec, "huiyan-edge-"+branch, newLogger(t))

		dev := dial(t, deviceOptions(e, "any-device"))
		replies := subscribe(t, dev, rejectTopic(t, "any-device"))
		publish(t, dev, arrivalTopic(t, "any-device"), 1, false, payload("any-1"))
		publish(t, dev, statusTopic(t, "other-device"), 1, true, []byte(firmware.StatusOnline))
		poll(t, "the anonymous arrival", rec.hasHandled("any-1"))
		poll(t, "the anonymous status", func() bool { _, ok := rec.status("other-device"); return ok })

		// Anonymous clients are devices, not the edge.
		tok := dev.Subscribe(firmware.TopicRoot+"/"+branch+"/arrival/+/+", 1, nil)
		if err := wait(tok); err != nil {
			t.Fatal(err)
		}
		if code := tok.(*paho.SubscribeToken).Result()[firmware.TopicRoot+"/"+branch+"/arrival/+/+"]; code <= 2 {
			t.Fatal("an anonymous client subscribed to every arrival")
		}
		select {
		case m := <-replies:
			t.Fatalf("unexpected reject %s", m.Payload())
		default:
		}
	})

	for _, listen := range []string{"0.0.0.0:1883", ":1883", "[::]:0", "192.0.2.1:1883"} {
		t.Run("ErrNotLoopback/"+listen, func(t *testing.T) {
			_, err := mqtt.NewBroker(mqtt.BrokerConfig{Listen: listen, Branch: branch}, nil)
			if err == nil || !strings.Contains(err.Error(), "anonymous devices are allowed only on a loopback listener") {
				t.Fatalf("NewBroker(%s) error = %v, want the loopback error", listen, err)
			}
		})
	}

	t.Run("OKLocalhost", func(t *testing.T) {
		if _, err := mqtt.NewBroker(mqtt.BrokerConfig{Listen: "localhost:0", Branch: branch}, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("OKCredentialsOnAnyInterface", func(t *testing.T) {
		_, err := mqtt.NewBroker(mqtt.BrokerConfig{Listen: "0.0.0.0:0", Branch: branch, Devices: testDevices(t)}, nil)
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestNewBroker_Errors(t *testing.T) {
	ok := mqtt.DeviceCredential{Device: "sc-01", Username: "u1", Password: "p"}
	for _, tc := range []struct {
		name string
		cfg  mqtt.BrokerConfig
	}{
		{"ErrBranch", mqtt.BrokerConfig{Branch: "B/1", Devices: []mqtt.DeviceCredential{ok}}},
		{"ErrListen", mqtt.BrokerConfig{Listen: "1883", Branch: branch, Devices: []mqtt.DeviceCredential{ok}}},
		{"ErrDeviceID", mqtt.BrokerConfig{Branch: branch, Devices: []mqtt.DeviceCredential{{Device: "sc+01", Username: "u", Password: "p"}}}},
		{"ErrDuplicateDevice", mqtt.BrokerConfig{Branch: branch, Devices: []mqtt.DeviceCredential{ok, {Device: "sc-01", Username: "u2", Password: "p"}}}},
		{"ErrDuplicateUser", mqtt.BrokerConfig{Branch: branch, Devices: []mqtt.DeviceCredential{ok, {Device: "sc-02", Username: "u1", Password: "p"}}}},
		{"ErrNoPassword", mqtt.BrokerConfig{Branch: branch, Devices: []mqtt.DeviceCredential{{Device: "sc-01", Username: "u"}}}},
		{"ErrBothPasswords", mqtt.BrokerConfig{Branch: branch, Devices: []mqtt.DeviceCredential{{Device: "sc-01", Username: "u", Password: "p", PasswordHash: "pbkdf2-sha256$1000$x$y"}}}},
		{"ErrHashFormat", mqtt.BrokerConfig{Branch: branch, Devices: []mqtt.DeviceCredential{{Device: "sc-01", Username: "u", PasswordHash: "$2a$10$bcrypt"}}}},
		{"ErrEdgeUsername", mqtt.BrokerConfig{Branch: branch, Devices: []mqtt.DeviceCredential{{Device: "sc-01", Username: mqtt.DefaultEdgeUser, Password: "p"}}}},
		{"ErrCertWithoutTLS", mqtt.BrokerConfig{Branch: branch, Devices: []mqtt.DeviceCredential{{Device: "sc-01", CommonName: "sc-01"}}}},
		{"ErrNoCredential", mqtt.BrokerConfig{Branch: branch, Devices: []mqtt.DeviceCredential{{Device: "sc-01"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mqtt.NewBroker(tc.cfg, nil); err == nil {
				t.Fatal("NewBroker succeeded, want an error")
			}
		})
	}
}

func TestBroker_StartAndClients(t *testing.T) {
	b, err := mqtt.NewBroker(mqtt.BrokerConfig{Listen: "127.0.0.1:0", Branch: branch}, newLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := b.Clients(); n != -1 {
		t.Fatalf("Clients() before Start = %d, want -1", n)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if strings.HasSuffix(b.Addr(), ":0") {
		t.Fatalf("Addr() = %s, want the actual port", b.Addr())
	}
	// Listening when Start returns: a client connects at once.
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatalf("dial right after Start: %v", err)
	}
	conn.Close()
	e := env{URL: b.URL(), Device: func(string) (string, string) { return "", "" }}
	dev := dial(t, deviceOptions(e, "sc-01"))
	poll(t, "one client", func() bool { return b.Clients() == 1 })
	dev.Disconnect(0)
	poll(t, "no client", func() bool { return b.Clients() == 0 })

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

func TestBroker_ClientCertificate(t *testing.T) {
	ca, caKey := newCA(t)
	serverCert := newCert(t, ca, caKey, "huiyan-edge", true)
	deviceCert := newCert(t, ca, caKey, "sc-09", false)
	strangerCA, strangerKey := newCA(t)
	strangerCert := newCert(t, strangerCA, strangerKey, "sc-09", false)
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	b := mustStartBroker(t, mqtt.BrokerConfig{
		Listen: "127.0.0.1:0",
		Branch: branch,
		Devices: []mqtt.DeviceCredential{
			{Device: "sc-09", CommonName: "sc-09"},
			{Device: "sc-01", Username: "u-sc-01", Password: "pw-sc-01"},
		},
		TLS: &tls.Config{
			Certificates: []tls.Certificate{serverCert},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS12,
		},
	})
	if !strings.HasPrefix(b.URL(), "ssl://") {
		t.Fatalf("URL() = %s, want ssl://", b.URL())
	}
	e := credentialEnv(b)
	rec := &recorder{}
	in := mqtt.NewIngest(mqtt.IngestConfig{
		Broker: e.URL, Username: e.EdgeUser, Password: e.EdgePass, Branch: branch,
		TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
	}, rec, newLogger(t))
	go func() { _ = in.Run(context.Background()) }()
	t.Cleanup(in.Close)
	poll(t, "ingest over TLS", in.Connected)

	deviceTLS := func(cert *tls.Certificate) *paho.ClientOptions {
		cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		return deviceOptions(e, "sc-09").SetUsername("").SetPassword("").SetTLSConfig(cfg)
	}

	dev := dial(t, deviceTLS(&deviceCert))
	publish(t, dev, arrivalTopic(t, "sc-01"), 0, false, payload("sc-09-as-sc-01")) // not its own
	publish(t, dev, arrivalTopic(t, "sc-09"), 1, false, payload("sc-09-1"))
	poll(t, "the certificate device's arrival", rec.hasHandled("sc-09-1"))
	if n := rec.count("sc-09-as-sc-01"); n != 0 {
		t.Fatal("a certificate device published as another device")
	}

	for name, cert := range map[string]*tls.Certificate{"ErrNoCertificate": nil, "ErrUnknownCA": &strangerCert} {
		t.Run(name, func(t *testing.T) {
			c := paho.NewClient(deviceTLS(cert))
			if err := wait(c.Connect()); err == nil {
				c.Disconnect(0)
				t.Fatal("connected without a valid certificate or password")
			}
		})
	}
}

func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

func newCert(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestBroker_Store(t *testing.T) {
	cfg := mqtt.BrokerConfig{
		Listen:       "127.0.0.1:0",
		Branch:       branch,
		Devices:      testDevices(t),
		EdgePassword: "edge-secret",
		StorePath:    filepath.Join(t.TempDir(), "broker.db"),
	}
	logger := newLogger(t)
	first := mustStartBrokerLog(t, cfg, logger)
	e := credentialEnv(first)
	in := startIngest(t, e, &recorder{}, "huiyan-edge-"+branch, logger) // makes the session
	in.Close()

	// The edge is down; the devices go on.
	dev := dial(t, deviceOptions(e, "sc-01"))
	publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-1"))
	publish(t, dev, arrivalTopic(t, "sc-01"), 1, false, payload("sc-01-2"))
	publish(t, dev, statusTopic(t, "sc-01"), 1, true, []byte(firmware.StatusOnline))
	dev.Disconnect(250)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// The edge process restarts: a new broker on the same store.
	second := mustStartBrokerLog(t, cfg, logger)
	rec := &recorder{}
	startIngest(t, credentialEnv(second), rec, "huiyan-edge-"+branch, logger)
	poll(t, "the queued arrivals", func() bool { return rec.hasHandled("sc-01-1")() && rec.hasHandled("sc-01-2")() })
	poll(t, "the retained status", func() bool { c, ok := rec.status("sc-01"); return ok && c.Status == firmware.StatusOnline })
}

func TestIngest_ErrSubscriptionRefused(t *testing.T) {
	b := mustStartBroker(t, mqtt.BrokerConfig{Listen: "127.0.0.1:0", Branch: branch, Devices: testDevices(t)})
	user, pass := testDeviceCredential("sc-01") // a device's credential instead of the edge's
	in := mqtt.NewIngest(mqtt.IngestConfig{Broker: b.URL(), Username: user, Password: pass, Branch: branch}, &recorder{}, newLogger(t))
	errc := make(chan error, 1)
	go func() { errc <- in.Run(context.Background()) }()
	t.Cleanup(in.Close)
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "refused the subscription") {
			t.Fatalf("Run = %v, want the refused subscription", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept running with its subscriptions refused")
	}
}

func TestIngest_ErrBranch(t *testing.T) {
	in := mqtt.NewIngest(mqtt.IngestConfig{Broker: "tcp://127.0.0.1:1", Branch: "B/1"}, &recorder{}, nil)
	if err := in.Run(context.Background()); err == nil {
		t.Fatal("Run with a bad branch id succeeded")
	}
	in.Close() // a no-op: Run never ran
	in = mqtt.NewIngest(mqtt.IngestConfig{Broker: "tcp://127.0.0.1:1", Branch: branch}, &recorder{}, nil)
	if err := in.PublishReject(context.Background(), "sc-01", "", huiyan.Errorf("bad_json", "x")); !errors.Is(err, mqtt.ErrNotConnected) {
		t.Fatalf("PublishReject without Run = %v, want ErrNotConnected", err)
	}
}

// TestBroker_CloseWhileClientsLeave closes the broker while clients drop
// their connections. mochi v2.7.9's Server.Close takes the client table's
// read lock twice, so a client leaving at that moment deadlocked it.
func TestBroker_CloseWhileClientsLeave(t *testing.T) {
	for range 30 {
		b, err := mqtt.NewBroker(mqtt.BrokerConfig{Listen: "127.0.0.1:0", Branch: branch}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		e := env{URL: b.URL(), Device: func(string) (string, string) { return "", "" }}
		var conns []*rawConn
		for i := range 40 {
			conns = append(conns, dialRaw(t, e, fmt.Sprintf("d-%d", i), "", ""))
		}
		closed := make(chan error, 1)
		for _, c := range conns {
			go c.Close()
		}
		go func() { closed <- b.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close hangs while clients disconnect")
		}
	}
}
