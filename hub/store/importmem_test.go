package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"huiyan/firmware-contracts/devsim"
	"huiyan/hub"
	"huiyan/hub/store"
)

// memPeak is what an import cost in memory: the peaks, over the import, of
// the Go heap in use (objects, live or not yet swept), of the live heap as
// the last GC marked it, of the process's anonymous resident memory
// (RssAnon, sampled: the heap, stacks, the race detector's shadow when
// on) and of its whole resident set (VmHWM, reset before the import; it
// also counts the pages of state.db and the raft log the kernel mapped).
type memPeak struct {
	heapInuse, heapLive, anon, hwm uint64
	took                           time.Duration
}

func (m memPeak) String() string {
	return fmt.Sprintf("heap in use %.1f MB, live heap %.1f MB, RssAnon %.1f MB, VmHWM %.1f MB, %s",
		mb(m.heapInuse), mb(m.heapLive), mb(m.anon), mb(m.hwm), m.took.Round(time.Millisecond))
}

func mb(n uint64) float64 { return float64(n) / 1e6 }

// sampleMemory samples the heap every few milliseconds until stop is
// called, which returns the peaks. The process's high-water mark is reset
// first (Linux: "5" to /proc/self/clear_refs), so VmHWM is this span's.
func sampleMemory(tb testing.TB) (stop func() memPeak) {
	tb.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		tb.Logf("cannot reset VmHWM (%v): it covers the whole process", err)
	}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	var (
		mu   sync.Mutex
		peak memPeak
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	ticks := 0
	read := func() {
		metrics.Read(samples)
		var anon uint64
		if ticks%10 == 0 { // every 50 ms: /proc is slower than the heap metrics
			anon = procStatus(tb, "RssAnon")
		}
		ticks++
		mu.Lock()
		peak.heapInuse = max(peak.heapInuse, samples[0].Value.Uint64())
		peak.heapLive = max(peak.heapLive, samples[1].Value.Uint64())
		peak.anon = max(peak.anon, anon)
		mu.Unlock()
	}
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() memPeak {
		close(done)
		wg.Wait()
		read()
		peak.took = time.Since(start)
		peak.hwm = procStatus(tb, "VmHWM")
		return peak
	}
}

// procStatus returns a size from /proc/self/status (VmHWM, RssAnon) in
// bytes, 0 where /proc has none.
func procStatus(tb testing.TB, field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			kb, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				tb.Errorf("%s %q: %v", field, v, err)
			}
			return kb << 10
		}
	}
	return 0
}

// genTagsFile writes a generated snapshot of n customers to a file: a
// million rows are ~400 MB, not something to hold in memory while the
// import's memory is measured.
func genTagsFile(tb testing.TB, n, branches int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tags.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := devsim.WriteTags(context.Background(), devsim.GenConfig{Customers: n, Branches: branches, Seed: 3}, w); err != nil {
		tb.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// importFileMeasured imports the file on the leader and returns the peaks.
func importFileMeasured(tb testing.TB, s *store.Store, path string, opts store.ImportOptions) (*store.Import, memPeak) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	opts.Format = hub.FormatCSV
	stop := sampleMemory(tb)
	run, err := s.BeginImport(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	if err := run.Tags(ctx, bufio.NewReaderSize(f, 1<<20)); err != nil {
		run.Fail(ctx, err.Error())
		tb.Fatal(err)
	}
	imp, err := run.Finish(ctx)
	peak := stop()
	if err != nil {
		tb.Fatal(err)
	}
	return imp, peak
}

// openMemLeader is a one-node cluster with the production raft-wal segment
// size and memory map, so that a large import measures what a hub does.
func openMemLeader(tb testing.TB) *store.Store {
	tb.Helper()
	c := testConfig(tb, "mem", tb.TempDir())
	c.Bootstrap = true
	c.WALSegmentBytes, c.MmapBytes, c.TrailingLogs, c.Retain = 0, 0, 0, 0
	s := MustOpenStore(tb, c)
	testPoll(tb, "leader with a key", func() bool {
		ks, _ := s.PublicKeys()
		return s.IsLeader() && len(ks) == 1
	}, 10*time.Second)
	return s
}

// BenchmarkImportMemory imports 200,000 and 1,000,000 generated customers
// into a one-node cluster, once each, and reports the memory it took (see
// memPeak). Run one size at a time, alone:
//
//	go test -run '^$' -bench 'ImportMemory/customers=1000000' -benchtime=1x ./hub/store
func BenchmarkImportMemory(b *testing.B) {
	for _, n := range []int{200000, 1000000} {
		b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) {
			path := genTagsFile(b, n, 600)
			for b.Loop() {
				s := openMemLeader(b)
				imp, peak := importFileMeasured(b, s, path, store.ImportOptions{})
				if imp.Status != store.StatusCommitted || imp.Customers != n {
					b.Fatalf("import %+v", imp)
				}
				b.Logf("%d customers: %s", n, peak)
				b.ReportMetric(mb(peak.heapInuse), "heap-MB")
				b.ReportMetric(mb(peak.heapLive), "live-MB")
				b.ReportMetric(mb(peak.anon), "anon-MB")
				b.ReportMetric(mb(peak.hwm), "hwm-MB")
				b.ReportMetric(float64(n)/peak.took.Seconds(), "rows/s")
			}
		})
	}
}
