package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	hubhttp "huiyan/hub/http"
)

// TestGenTLS runs deploy/gen-tls.sh (openssl) and starts a node over
// mutual TLS with what it made: the script's certificates are ones the
// hub accepts. Run again for another node, it keeps the CA and the secret.
func TestGenTLS(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("deploy/gen-tls.sh needs openssl (Debian package openssl): ", err)
	}
	dir := filepath.Join(t.TempDir(), "tls")
	gen := func(args ...string) {
		t.Helper()
		out, err := exec.Command("bash", append([]string{"../../../deploy/gen-tls.sh", "-o", dir, "-days", "2"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("gen-tls.sh %v: %v\n%s", args, err, out)
		}
	}
	gen("n1=127.0.0.1,localhost")
	ca1, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	sec1, _ := os.ReadFile(filepath.Join(dir, "cluster.secret"))
	gen("n2=127.0.0.1")
	ca2, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	sec2, _ := os.ReadFile(filepath.Join(dir, "cluster.secret"))
	if len(ca1) == 0 || !bytes.Equal(ca1, ca2) || len(sec1) == 0 || !bytes.Equal(sec1, sec2) {
		t.Fatal("a second run replaced the CA or the cluster secret")
	}
	for _, name := range []string{"ca.key", "n1.key", "n2.key", "cluster.secret"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Fatalf("%s: %v, mode %v: want readable by the owner only", name, err, fi.Mode())
		}
	}
	if out, err := exec.Command("bash", "../../../deploy/gen-tls.sh", "-o", dir, "bad spec").CombinedOutput(); err == nil {
		t.Fatalf("a bad argument was accepted:\n%s", out)
	}

	c := testConfig(t, "n1")
	c.Bootstrap = true
	c.ClusterTLS = ClusterTLS{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "n1.crt"), Key: filepath.Join(dir, "n1.key")}
	c.ClusterSecret = filepath.Join(dir, "cluster.secret")
	m := MustRunMain(t, c)
	testPoll(t, "n1 leads", func() bool { return m.Store.IsLeader() }, 10*time.Second)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca1)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	st, b := do(t, &http.Client{Transport: tr, Timeout: 10 * time.Second}, "GET", m.URL()+"/v1/cluster", "", nil, "")
	var cr hubhttp.ClusterResponse
	if st != http.StatusOK || json.Unmarshal(b, &cr) != nil || cr.Leader != "n1" {
		t.Fatalf("cluster over https: %d %s", st, b)
	}
}
