package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"huiyan/hub/internal/testutil"
)

// TestDefaultConfig: the demo defaults (DESIGN.md, "Commands": no flags
// runs a single-node demo cluster on 127.0.0.1:9000) are valid.
func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HTTP != "127.0.0.1:9000" || !c.Bootstrap {
		t.Fatalf("defaults %+v", c)
	}
}

// tlsFiles are the TLS files of one node, as deploy/gen-tls.sh makes them.
type tlsFiles struct {
	ca, cert, key, secret string
}

// writeTLSFiles writes the cluster CA, a certificate for node (SAN
// 127.0.0.1) and a cluster secret into a temporary directory.
func writeTLSFiles(tb testing.TB, ca *testutil.CA, node string, secret []byte) tlsFiles {
	tb.Helper()
	dir := tb.TempDir()
	f := tlsFiles{ca: filepath.Join(dir, "ca.crt"), secret: filepath.Join(dir, "cluster.secret")}
	if err := os.WriteFile(f.ca, ca.PEM(), 0o644); err != nil {
		tb.Fatal(err)
	}
	f.cert, f.key = testutil.WriteFiles(tb, dir, node, ca.Issue(tb, node, "127.0.0.1"))
	if err := os.WriteFile(f.secret, []byte(base64.StdEncoding.EncodeToString(secret)+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return f
}

// withTLS returns c with the node's cluster TLS and secret.
func withTLS(c Config, f tlsFiles) Config {
	c.ClusterTLS = ClusterTLS{CA: f.ca, Cert: f.cert, Key: f.key}
	c.ClusterSecret = f.secret
	return c
}

// TestValidate_TLS: the TLS keys of the config go together, their files
// are read and checked, and raft off loopback needs them; every refusal
// names the key at fault.
func TestValidate_TLS(t *testing.T) {
	ca := testutil.NewCA(t, "cluster CA")
	other := testutil.NewCA(t, "another CA")
	f := writeTLSFiles(t, ca, "hub1", bytes.Repeat([]byte{7}, 32))
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	otherCert, otherKey := testutil.WriteFiles(t, dir, "other", other.Issue(t, "hub1", "127.0.0.1"))
	webCert, webKey := testutil.WriteFiles(t, dir, "web", ca.IssueWith(t, testutil.CertOptions{Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, "web", "127.0.0.1"))
	hexSecret := write("hex.secret", "# rotated 2026-11\n"+hex.EncodeToString(bytes.Repeat([]byte{1}, 32))+"\n\n"+base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{2}, 40))+"\n")

	base := DefaultConfig()
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string // in the error; "" = valid
	}{
		{"OKLoopbackPlain", func(c *Config) {}, ""},
		{"OKLocalhostPlain", func(c *Config) { c.RaftAdvertise = "localhost:9001" }, ""},
		{"ErrRaftAllInterfaces", func(c *Config) { c.Raft = "0.0.0.0:9001" }, "raft: 0.0.0.0:9001 is not loopback"},
		{"ErrRaftNoHost", func(c *Config) { c.Raft = ":9001" }, "cluster_tls.ca, cluster_tls.cert, cluster_tls.key and cluster_secret"},
		{"ErrRaftAdvertise", func(c *Config) { c.RaftAdvertise = "10.0.0.5:9001" }, "raft_advertise: 10.0.0.5:9001 is not loopback"},
		{"OKClusterTLSOffLoopback", func(c *Config) {
			*c = withTLS(*c, f)
			c.Raft, c.RaftAdvertise, c.HTTPAdvertise = "0.0.0.0:9001", "10.0.0.5:9001", "10.0.0.5:9000"
		}, ""},
		{"OKHexAndRotatedSecrets", func(c *Config) { *c = withTLS(*c, f); c.ClusterSecret = hexSecret }, ""},
		{"ErrCertWithoutKey", func(c *Config) { *c = withTLS(*c, f); c.ClusterTLS.Key = "" }, "cluster_tls.key: required"},
		{"ErrKeyWithoutCA", func(c *Config) { *c = withTLS(*c, f); c.ClusterTLS.CA = "" }, "cluster_tls.ca: required"},
		{"ErrNoSecret", func(c *Config) { *c = withTLS(*c, f); c.ClusterSecret = "" }, "cluster_secret: required with cluster_tls"},
		{"ErrCAUnreadable", func(c *Config) { *c = withTLS(*c, f); c.ClusterTLS.CA = filepath.Join(dir, "missing.crt") }, "cluster_tls.ca: open"},
		{"ErrCANotPEM", func(c *Config) { *c = withTLS(*c, f); c.ClusterTLS.CA = write("junk.crt", "not a certificate") }, "cluster_tls.ca: no PEM certificate"},
		{"ErrKeyUnreadable", func(c *Config) { *c = withTLS(*c, f); c.ClusterTLS.Key = filepath.Join(dir, "missing.key") }, "cluster_tls.key: open"},
		{"ErrKeyMismatch", func(c *Config) { *c = withTLS(*c, f); c.ClusterTLS.Key = otherKey }, "cluster_tls.cert and cluster_tls.key"},
		{"ErrCertOtherCA", func(c *Config) { *c = withTLS(*c, f); c.ClusterTLS.Cert, c.ClusterTLS.Key = otherCert, otherKey }, "cluster_tls.cert: x509"},
		{"ErrCertServerOnly", func(c *Config) { *c = withTLS(*c, f); c.ClusterTLS.Cert, c.ClusterTLS.Key = webCert, webKey }, "cluster_tls.cert"},
		{"ErrSecretUnreadable", func(c *Config) { *c = withTLS(*c, f); c.ClusterSecret = filepath.Join(dir, "missing.secret") }, "cluster_secret: open"},
		{"ErrSecretShort", func(c *Config) {
			*c = withTLS(*c, f)
			c.ClusterSecret = write("short.secret", base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!")))
		}, "cluster_secret: "},
		{"ErrSecretNotEncoded", func(c *Config) { *c = withTLS(*c, f); c.ClusterSecret = write("bad.secret", "not base64 at all!\n") }, "is not base64 or hex"},
		{"ErrSecretEmpty", func(c *Config) { *c = withTLS(*c, f); c.ClusterSecret = write("empty.secret", "# nothing\n") }, "holds no secret"},
		{"ErrTLSCertWithoutKey", func(c *Config) { c.TLSCert = f.cert }, "tls_key: required with tls_cert"},
		{"ErrTLSKeyWithoutCert", func(c *Config) { c.TLSKey = f.key }, "tls_cert: required with tls_key"},
		{"OKTLSCertAlone", func(c *Config) { c.TLSCert, c.TLSKey = otherCert, otherKey }, ""},
		{"OKTLSCertOfClusterCA", func(c *Config) { *c = withTLS(*c, f); c.TLSCert, c.TLSKey = webCert, webKey }, ""},
		{"ErrTLSCertOtherCA", func(c *Config) { *c = withTLS(*c, f); c.TLSCert, c.TLSKey = otherCert, otherKey }, "tls_cert: followers verify"},
		{"ErrJoinHTTPWithTLS", func(c *Config) { *c = withTLS(*c, f); c.Bootstrap, c.Join = false, "http://127.0.0.1:9000" }, "join: "},
		{"OKJoinHTTPSWithTLS", func(c *Config) { *c = withTLS(*c, f); c.Bootstrap, c.Join = false, "https://127.0.0.1:9000" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err=%v, want one naming %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// TestParseFlags_TLS: the TLS flags set the config keys, override the
// file, and -h documents each of them.
func TestParseFlags_TLS(t *testing.T) {
	ca := testutil.NewCA(t, "cluster CA")
	f := writeTLSFiles(t, ca, "hub1", bytes.Repeat([]byte{9}, 32))
	path := filepath.Join(t.TempDir(), "hub.yaml")
	yaml := "cluster_tls:\n  ca: /nonexistent/ca.crt\n  cert: " + f.cert + "\n  key: " + f.key + "\ncluster_secret: /nonexistent/secret\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	args := []string{"-config", path, "-cluster-ca", f.ca, "-cluster-secret", f.secret, "-tls-cert", f.cert, "-tls-key", f.key, "-raft", "0.0.0.0:9001", "-http", "127.0.0.1:9000"}
	if err := m.ParseFlags(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.ClusterTLS != (ClusterTLS{CA: f.ca, Cert: f.cert, Key: f.key}) || c.ClusterSecret != f.secret || c.TLSCert != f.cert || c.TLSKey != f.key {
		t.Fatalf("config %+v", c)
	}
	// Without the file, the raft address off loopback is refused.
	err := NewMain().ParseFlags([]string{"-raft", "0.0.0.0:9001"}, io.Discard)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "-cluster-ca") {
		t.Fatalf("err=%v, want a usage error naming the flags", err)
	}
	var usage bytes.Buffer
	if err := NewMain().ParseFlags([]string{"-h"}, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, fl := range []string{"-cluster-ca", "-cluster-cert", "-cluster-key", "-cluster-secret", "-tls-cert", "-tls-key", "cluster_tls.ca", "gen-tls.sh"} {
		if !strings.Contains(usage.String(), fl) {
			t.Errorf("-h does not document %s", fl)
		}
	}
}

// TestExampleConfig: deploy/hub.yaml parses with every key known, and is
// refused only for the files it names, which exist on a real node.
func TestExampleConfig(t *testing.T) {
	f, err := os.Open("../../../deploy/hub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := DefaultConfig()
	if err := ParseConfig(f, &c); err != nil {
		t.Fatal(err)
	}
	if c.ClusterTLS.CA == "" || c.ClusterSecret == "" || c.RaftAdvertise == "" {
		t.Fatalf("example without cluster TLS: %+v", c)
	}
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "cluster_tls.ca: open /etc/huiyan/tls/ca.crt") {
		t.Fatalf("Validate: %v, want the missing CA file named", err)
	}
}
