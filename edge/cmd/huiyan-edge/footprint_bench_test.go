package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"huiyan"
	firmware "huiyan/firmware-contracts"
	"huiyan/firmware-contracts/devsim"
)

// BenchmarkFootprint measures what an edge box must have: the resident
// memory (VmRSS, and its peak VmHWM) and the Go heap of a real huiyan-edge
// process with 1,000,000 customers cached, at idle and while 20 PADs are
// connected and arrivals come in at 1,000 per second, and the binary's
// size. A child process is the honest measure: the benchmark's own PADs,
// devices and data generation would be counted in-process.
//
// The binary is $BENCH_EDGE_BIN (make bench passes bin/huiyan-edge) or
// one the benchmark builds. The data set is generated in-process and
// provisioned with the binary's own `import`, which is timed too.
//
//	go test -run '^$' -bench Footprint -benchtime 1x ./edge/cmd/huiyan-edge/
func BenchmarkFootprint(b *testing.B) {
	customers, loadCount := 1_000_000, 10_000
	if benchQuick() {
		customers, loadCount = 50_000, 2_000
	}
	const rate = 1000
	bin := edgeBinary(b)
	binInfo, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}

	src, data := filepath.Join(b.TempDir(), "hq"), filepath.Join(b.TempDir(), "edge")
	if _, err := devsim.Gen(context.Background(), devsim.GenConfig{Customers: customers, Branches: 1, Seed: 9, PINIterations: 1000}, src); err != nil {
		b.Fatalf("gen: %v", err)
	}
	start := time.Now()
	if out, err := exec.Command(bin, "import", "-data", data, "-branch", testBranch,
		filepath.Join(src, devsim.TagsFile), filepath.Join(src, devsim.StaffFile)).CombinedOutput(); err != nil {
		b.Fatalf("huiyan-edge import: %v\n%s", err, out)
	}
	importTook := time.Since(start)
	tokens := tokensOf(b, filepath.Join(src, devsim.TagsFile), loadCount)
	dbInfo, err := os.Stat(filepath.Join(data, "edge.db"))
	if err != nil {
		b.Fatal(err)
	}

	e := startEdgeProcess(b, bin, data)
	var idle, load, after memSample
	var peakRSS, peakHeap float64
	for b.Loop() {
		if idle.rss > 0 {
			continue // one measurement; a -benchtime above 1x only spins
		}
		time.Sleep(3 * time.Second) // let start-up garbage be collected
		idle = e.mustSample(b)

		cookie := login(b, e.base, "lobby-"+testBranch)
		var pads []*benchPAD
		for i := range benchPADCount {
			pads = append(pads, dialBenchPAD(b, e.base, cookie, fmt.Sprintf("lobby-%d", i), loadCount))
		}
		var devices []*benchDevice
		for i := range 4 {
			devices = append(devices, newBenchDevice(b, e.mqtt, fmt.Sprintf("%s%02d", devPrefix, i+1)))
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var sampleErr error
		wg.Add(1)
		go func() { // sample while the load runs
			defer wg.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					s, err := e.sample()
					if err != nil {
						sampleErr = err
						return
					}
					peakRSS, peakHeap = max(peakRSS, s.rss), max(peakHeap, s.heap)
				}
			}
		}()
		publishOpenLoop(b, devices, tokens, rate)
		waitFor(b, "every arrival on the PAD", 60*time.Second, func() bool {
			for i := range loadCount {
				if pads[0].got[i].Load() == 0 {
					if pads[0].closed.Load() {
						b.Fatal("the PAD was disconnected during the load")
					}
					return false
				}
			}
			return true
		})
		close(stop)
		wg.Wait()
		if sampleErr != nil {
			b.Fatal(sampleErr)
		}
		load = e.mustSample(b)
		after = load
		peakRSS, peakHeap = max(peakRSS, load.rss), max(peakHeap, load.heap)
	}
	b.ReportMetric(float64(customers), "customers")
	b.ReportMetric(idle.rss, "idle-rss-MB")
	b.ReportMetric(idle.heap, "idle-heap-MB")
	b.ReportMetric(peakRSS, "load-rss-MB")
	b.ReportMetric(peakHeap, "load-heap-MB")
	b.ReportMetric(after.hwm, "hwm-MB")
	b.ReportMetric(float64(binInfo.Size())/(1<<20), "binary-MB")
	b.ReportMetric(float64(dbInfo.Size())/(1<<20), "db-MB")
	b.ReportMetric(importTook.Seconds(), "import-s")
	b.ReportMetric(float64(loadCount), "arrivals")
}

// edgeBinary returns $BENCH_EDGE_BIN or builds huiyan-edge into a
// temporary directory.
func edgeBinary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("BENCH_EDGE_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			tb.Fatal(err)
		}
		return abs
	}
	out := filepath.Join(tb.TempDir(), "huiyan-edge")
	// go test puts its own toolchain first in the PATH of the tests.
	if b, err := exec.Command("go", "build", "-trimpath", "-o", out, "huiyan/edge/cmd/huiyan-edge").CombinedOutput(); err != nil {
		tb.Fatalf("go build huiyan-edge: %v\n%s", err, b)
	}
	return out
}

// tokensOf returns the ident a super-counter reads for each of the first
// n customers of a tags.csv that have one: the ID card, else the first
// bank card, else the phone.
func tokensOf(tb testing.TB, path string, n int) []huiyan.Ident {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	head, err := r.Read()
	if err != nil {
		tb.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	var ids []huiyan.Ident
	for len(ids) < n {
		rec, err := r.Read()
		if err != nil {
			tb.Fatalf("%s: %d customers with a counter token, want %d: %v", path, len(ids), n, err)
		}
		for _, c := range []struct {
			kind huiyan.IdentKind
			tok  string
		}{
			{huiyan.IdentIDCard, rec[col["idcard_token"]]},
			{huiyan.IdentBankCard, strings.Split(rec[col["bankcard_tokens"]], ";")[0]},
			{huiyan.IdentPhone, rec[col["phone_token"]]},
		} {
			if c.tok != "" {
				ids = append(ids, ident(c.kind, c.tok))
				break
			}
		}
	}
	return ids
}

// publishOpenLoop sends one arrival per token at rate per second, from the
// devices in turn, without waiting for the PUBACKs, then waits for them.
func publishOpenLoop(tb testing.TB, devices []*benchDevice, idents []huiyan.Ident, rate int) {
	tb.Helper()
	period := time.Second / time.Duration(rate)
	start := time.Now()
	var toks []paho.Token
	for i, id := range idents {
		time.Sleep(time.Until(start.Add(time.Duration(i) * period)))
		d := devices[i%len(devices)]
		a := huiyan.Arrival{EventID: benchEventID(d.id, i), Branch: testBranch, Device: d.id, Channel: huiyan.ChannelCounter,
			At: time.Now(), Idents: []huiyan.Ident{id}}
		toks = append(toks, d.client.Publish(d.topic, 1, false, firmware.EncodeArrival(a)))
	}
	for i, t := range toks {
		if !t.WaitTimeout(time.Minute) || t.Error() != nil {
			tb.Fatalf("arrival %d: publish: %v", i, t.Error())
		}
	}
	for _, d := range devices {
		if n := d.rejects.Load(); n > 0 {
			tb.Fatalf("device %s: %d arrivals rejected", d.id, n)
		}
	}
}

// edgeProcess is a running huiyan-edge child.
type edgeProcess struct {
	cmd        *exec.Cmd
	base, mqtt string
	out        *lockedBuffer
}

// memSample is one reading, in MiB: VmRSS and VmHWM from /proc, the live
// Go heap (go_memstats_heap_alloc_bytes) from /metrics.
type memSample struct{ rss, hwm, heap float64 }

// startEdgeProcess runs the binary on loopback ports and waits for
// /healthz; the process is stopped with SIGTERM when the benchmark ends.
func startEdgeProcess(tb testing.TB, bin, data string) *edgeProcess {
	tb.Helper()
	var lastErr error
	for range 3 { // a free port may be taken before the child binds it
		httpAddr, mqttAddr := freeLoopback(tb), freeLoopback(tb)
		out := &lockedBuffer{}
		cmd := exec.Command(bin, "-data", data, "-branch", testBranch, "-http", httpAddr, "-mqtt-listen", mqttAddr, "-log-level", "warn")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		e := &edgeProcess{cmd: cmd, base: "http://" + httpAddr, mqtt: "tcp://" + mqttAddr, out: out}
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := http.Get(e.base + "/healthz")
			if err == nil {
				resp.Body.Close()
				tb.Cleanup(func() {
					_ = cmd.Process.Signal(os.Interrupt)
					select {
					case <-exited:
					case <-time.After(15 * time.Second):
						_ = cmd.Process.Kill()
						<-exited
					}
				})
				return e
			}
			select {
			case <-exited:
				lastErr = fmt.Errorf("huiyan-edge exited: %s", out.String())
			case <-time.After(50 * time.Millisecond):
				if time.Now().Before(deadline) {
					continue
				}
				_ = cmd.Process.Kill()
				<-exited
				lastErr = fmt.Errorf("huiyan-edge not healthy after 60s: %s", out.String())
			}
			break
		}
	}
	tb.Fatal(lastErr)
	return nil
}

func freeLoopback(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (e *edgeProcess) mustSample(tb testing.TB) memSample {
	tb.Helper()
	s, err := e.sample()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// sample reads the figures; it does not fail the benchmark, so that the
// sampling goroutine may call it.
func (e *edgeProcess) sample() (memSample, error) {
	var s memSample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.cmd.Process.Pid))
	if err != nil {
		return s, fmt.Errorf("edge process: %w", err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "VmRSS" || k == "VmHWM" {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if k == "VmRSS" {
				s.rss = kb / 1024
			} else {
				s.hwm = kb / 1024
			}
		}
	}
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		return s, fmt.Errorf("edge metrics: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("go_memstats_heap_alloc_bytes ")); ok {
			f, _ := strconv.ParseFloat(string(v), 64)
			s.heap = f / (1 << 20)
		}
	}
	if s.rss == 0 || s.heap == 0 {
		return s, fmt.Errorf("edge process: no VmRSS or heap figure (rss %.1f, heap %.1f)", s.rss, s.heap)
	}
	return s, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
