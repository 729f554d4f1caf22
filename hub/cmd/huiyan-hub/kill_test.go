package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	hubhttp "huiyan/hub/http"
	"huiyan/hub/store"
)

// hubProc is huiyan-hub running as its own process, to be killed for real.
type hubProc struct {
	id   string
	cmd  *exec.Cmd
	http string
	log  string
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startHub(tb testing.TB, bin, id string, args ...string) *hubProc {
	tb.Helper()
	p := &hubProc{id: id, http: freeAddr(tb), log: filepath.Join(tb.TempDir(), id+".log")}
	logf, err := os.Create(p.log)
	if err != nil {
		tb.Fatal(err)
	}
	p.cmd = exec.Command(bin, append([]string{"-id", id, "-data", filepath.Join(tb.TempDir(), id), "-http", p.http,
		"-raft", freeAddr(tb), "-admin-token", testToken}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_, _ = p.cmd.Process.Wait()
		if tb.Failed() {
			b, _ := os.ReadFile(p.log)
			tb.Logf("%s log:\n%s", id, b)
		}
	})
	return p
}

func (p *hubProc) url(path string) string { return "http://" + p.http + path }

// tryJSON is getJSON for nodes that may be down or still starting: 0 on a
// connection error.
func tryJSON(url, token string, v any) int {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if json.NewDecoder(resp.Body).Decode(v) != nil {
		return -resp.StatusCode
	}
	return resp.StatusCode
}

// TestHub_KillLeaderDuringImport: the leader process is SIGKILLed while an
// import streams in. The two others elect a new leader; the import ends
// failed (or committed), never half applied; it can be retried; the version
// committed before is still there.
func TestHub_KillLeaderDuringImport(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "huiyan-hub")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	procs := []*hubProc{startHub(t, bin, "n1", "-bootstrap")}
	testPoll(t, "n1 healthy", func() bool {
		var h hubhttp.HealthResponse
		return tryJSON(procs[0].url("/healthz"), "", &h) == 200 && h.Leader == "n1"
	}, 15*time.Second)
	for _, id := range []string{"n2", "n3"} {
		procs = append(procs, startHub(t, bin, id, "-join", procs[0].http))
	}
	testPoll(t, "3 members", func() bool {
		var cr hubhttp.ClusterResponse
		return tryJSON(procs[0].url("/v1/cluster"), "", &cr) == 200 && len(cr.Members) == 3
	}, 20*time.Second)

	small, staff := genFiles(t, 300, 2)
	body, ct := multipartBody(t, small, staff)
	if st, b := call(t, "POST", procs[0].url("/v1/imports"), testToken, body, ct); st != http.StatusCreated {
		t.Fatalf("first import: %d %s", st, b)
	}
	big, _ := genFiles(t, 60000, 2)
	bigBody, bigCT := multipartBody(t, big, staff)

	// Stream the big import through a follower; kill the leader once rows
	// are being replicated.
	posted := make(chan int, 1)
	go func() { // no t.Fatal off the test goroutine: the proxied upload may break
		req, _ := http.NewRequest("POST", procs[1].url("/v1/imports"), bytes.NewReader(bigBody.Bytes()))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", bigCT)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			posted <- 0
			return
		}
		resp.Body.Close()
		posted <- resp.StatusCode
	}()
	var running store.Import
	testPoll(t, "the import under way", func() bool {
		var l struct{ Imports []store.Import }
		tryJSON(procs[0].url("/v1/imports"), testToken, &l)
		for _, imp := range l.Imports {
			if imp.Status == store.StatusReceiving && imp.Rows > 0 {
				running = imp
				return true
			}
		}
		return false
	}, 30*time.Second)
	if err := procs[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = procs[0].cmd.Process.Wait()
	if st := <-posted; st == http.StatusCreated {
		t.Logf("the import committed before the kill took effect")
	}

	alive := procs[1:]
	var leader *hubProc
	testPoll(t, "a new leader", func() bool {
		for _, p := range alive {
			var cr hubhttp.ClusterResponse
			if tryJSON(p.url("/v1/cluster"), "", &cr) == 200 && cr.Leader != "" && cr.Leader != "n1" {
				for _, q := range alive {
					if q.id == cr.Leader {
						leader = q
						return true
					}
				}
			}
		}
		return false
	}, 30*time.Second)

	var after store.Import
	testPoll(t, "the interrupted import ended", func() bool {
		return tryJSON(leader.url("/v1/imports/"+running.ID), testToken, &after) == 200 && after.Status != store.StatusReceiving
	}, 30*time.Second)
	if after.Status != store.StatusFailed && after.Status != store.StatusCommitted {
		t.Fatalf("interrupted import %+v, want failed or committed", after)
	}

	// Retry through the new leader: it commits, and version 1 is still there.
	body, ct = multipartBody(t, big, staff)
	st, b := call(t, "POST", leader.url("/v1/imports"), testToken, body, ct)
	if st != http.StatusCreated {
		t.Fatalf("retried import: %d %s", st, b)
	}
	var retried store.Import
	json.Unmarshal(b, &retried)
	var vs struct{ Versions []store.Version }
	for _, p := range alive {
		testPoll(t, fmt.Sprintf("%s has every committed version", p.id), func() bool {
			tryJSON(p.url("/v1/versions"), testToken, &vs)
			has := map[uint64]bool{}
			for _, v := range vs.Versions {
				has[v.Version] = true
			}
			return has[1] && has[retried.Version]
		}, 20*time.Second)
	}
	t.Logf("interrupted import %s: %s at %d rows (%s); retry committed version %d", running.ID, after.Status, running.Rows, after.Message, retried.Version)
}
