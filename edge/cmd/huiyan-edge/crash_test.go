package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"huiyan"
	"huiyan/firmware-contracts/mqtttest"
	pad "huiyan/pad-api"
)

// edgeProc is huiyan-edge running as its own process, so that it can be
// killed for real.
type edgeProc struct {
	cmd  *exec.Cmd
	base string
	log  *os.File
}

func buildEdge(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "huiyan-edge")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
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

// startEdge runs the edge binary on dir with brokerArgs (-mqtt-broker URL or
// -mqtt-listen ADDR) and waits until it is healthy.
func startEdge(tb testing.TB, bin, dir string, brokerArgs ...string) *edgeProc {
	tb.Helper()
	addr := freeAddr(tb)
	logf, err := os.CreateTemp(tb.TempDir(), "edge-*.log")
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-data", dir, "-http", addr, "-log-level", "debug"}, brokerArgs...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &edgeProc{cmd: cmd, base: "http://" + addr, log: logf}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		if tb.Failed() {
			b, _ := os.ReadFile(logf.Name())
			tb.Logf("edge process log:\n%s", b)
		}
	})
	waitFor(tb, "edge healthy and connected to the broker", 15*time.Second, func() bool {
		resp, err := http.Get(p.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// TestEdge_KillAndRestart kills the edge with SIGKILL right after a PAD saw
// an arrival (so it was committed, and maybe acknowledged) and right after a
// second arrival was published (so it was maybe not even received). After a
// restart on the same data dir every arrival is on the PADs exactly once:
// the acknowledged one from bbolt, the unacknowledged one redelivered by the
// broker's persistent session, and a redelivery of a committed one refused
// as a duplicate. Then SIGTERM stops the edge cleanly.
func TestEdge_KillAndRestart(t *testing.T) {
	broker := mqtttest.StartMosquitto(t)
	ds := mustDataSet(t)
	bin := buildEdge(t)

	e := startEdge(t, bin, ds.Dir, "-mqtt-broker", broker.URL())
	dev := newDevice(t, broker.URL(), "sc-02")
	cookie := login(t, e.base, "lobby-B001")
	p, _ := redial(t, e.base, cookie)

	idA := dev.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 501)))
	p.next(arrivalOf(idA), 10*time.Second)
	idB := dev.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 502)))
	if err := e.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = e.cmd.Process.Wait()

	e2 := startEdge(t, bin, ds.Dir, "-mqtt-broker", broker.URL())
	idC := dev.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 503)))
	// The session cookie survives the restart: sessions are in bbolt.
	p2, _ := redial(t, e2.base, cookie)
	p2.send(pad.ResumeMsg{Type: pad.TypeResume, AfterSeq: 0})
	// Arrivals are handled in order, so once C is on the PAD any
	// redelivery of A or B has been handled too.
	var state padMsg
	deadline := time.Now().Add(15 * time.Second)
	for {
		state = p2.next(func(m padMsg) bool { return m.Type == pad.TypeState }, 10*time.Second)
		if cardsWith(state, idC) == 1 || time.Now().After(deadline) {
			break
		}
		p2.send(pad.ResumeMsg{Type: pad.TypeResume, AfterSeq: 0})
	}
	for _, id := range []string{idA, idB, idC} {
		if n := cardsWith(state, id); n != 1 {
			t.Fatalf("arrival %s is on %d cards after the restart, want exactly 1", id, n)
		}
	}

	if err := e2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e2.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("SIGTERM: edge exited with %v, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("edge did not stop within 15s of SIGTERM")
	}
	b, _ := os.ReadFile(e2.log.Name())
	if !strings.Contains(string(b), "shutting down") {
		t.Errorf("no shutdown in the log:\n%s", b)
	}
}

// cardsWith counts the cards of a state message whose visit has the event.
func cardsWith(state padMsg, eventID string) int {
	n := 0
	for _, c := range state.Visits {
		for _, tp := range c.Visit.Touchpoints {
			if tp.EventID == eventID {
				n++
			}
		}
	}
	return n
}

// TestEdge_EmbeddedPubackMeansCommitted: with the embedded broker, a device
// that got its PUBACK has its arrival committed. The edge is killed the
// moment the PUBACK arrives, before any PAD could see the card; after a
// restart the arrival is there, once.
func TestEdge_EmbeddedPubackMeansCommitted(t *testing.T) {
	ds := mustDataSet(t)
	bin := buildEdge(t)
	mqttAddr := freeAddr(t)
	e := startEdge(t, bin, ds.Dir, "-mqtt-listen", mqttAddr)
	dev := newDevice(t, "tcp://"+mqttAddr, "sc-02")
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = dev.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, strangerToken(t, 600+i))) // returns after the PUBACK
	}
	if err := e.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = e.cmd.Process.Wait()
	dev.client.Disconnect(0)

	e2 := startEdge(t, bin, ds.Dir, "-mqtt-listen", mqttAddr)
	p, _ := redial(t, e2.base, login(t, e2.base, "lobby-B001"))
	p.send(pad.ResumeMsg{Type: pad.TypeResume, AfterSeq: 0})
	state := p.next(func(m padMsg) bool { return m.Type == pad.TypeState }, 10*time.Second)
	for _, id := range ids {
		if n := cardsWith(state, id); n != 1 {
			t.Fatalf("acknowledged arrival %s is on %d cards after SIGKILL and restart, want 1", id, n)
		}
	}
}
