package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The samples in testdata are the captured output of `make bench
// BENCH_QUICK=1` (bench.txt and the two pprof -top texts).

func mustSample(t *testing.T) Input {
	t.Helper()
	f, err := os.Open("testdata/bench-quick.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseBench(f)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Results: rs, Quick: true, Env: Env{Date: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), CPU: "Test CPU", Cores: 2,
		Binaries: []Binary{{"huiyan-edge", 21 << 20}}}}
	for name, dst := range map[string]**Profile{"testdata/pprof-flat.txt": &in.Flat, "testdata/pprof-cum.txt": &in.Cum} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if *dst, err = ParseProfile(bytes.NewReader(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return in
}

func TestParseBench_Sample(t *testing.T) {
	in := mustSample(t)
	for _, name := range []string{"BenchmarkDecode/Counter", "BenchmarkResolve/Redis/Parallel", "BenchmarkArrivalRate/Mosquitto/rate=1000",
		"BenchmarkFanOut", "BenchmarkFootprint", "BenchmarkHubSync/Delta", "BenchmarkEventIngest"} {
		if !slices.Contains(in.Results.Names(name), name) {
			t.Errorf("sample has no %s", name)
		}
	}
	if v, ok := in.Results.Get("BenchmarkArrivalRate/Embedded/rate=100", "arrivals"); !ok || v != 200 {
		t.Errorf("rate=100 arrivals = %v (%v), want 200", v, ok)
	}
	if in.Flat.Duration <= 0 || in.Flat.Total <= 0 || len(in.Flat.Rows) < 15 || !slices.Contains(in.Flat.Filters, "tagignore=side=bench") {
		t.Errorf("flat profile: duration %v total %v, %d rows, filters %q", in.Flat.Duration, in.Flat.Total, len(in.Flat.Rows), in.Flat.Filters)
	}
}

func TestRender(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		in := mustSample(t)
		var buf bytes.Buffer
		if missing := Render(&buf, in); len(missing) > 0 {
			t.Fatalf("missing %q", missing)
		}
		doc := buf.String()
		// The goals: ratios and verdicts follow from the figures.
		for _, broker := range []string{"Embedded", "Mosquitto"} {
			v, _ := in.Results.Get("BenchmarkArrivalRate/"+broker+"/rate=100", "ratio-p99")
			want := fmt.Sprintf("(%s broker) | %s | %s |", strings.ToLower(broker), ratio(v), verdict(v, func(v float64) bool { return v <= goalRatioP99 }))
			if !strings.Contains(doc, want) {
				t.Errorf("report lacks %q", want)
			}
		}
		redis, _ := in.Results.Get("BenchmarkResolve/Redis/Single", "ns/op")
		cache, _ := in.Results.Get("BenchmarkResolve/Bolt/Single", "ns/op")
		want := fmt.Sprintf("(single) | %s | %s |", ratio(redis/cache), verdict(redis/cache, func(v float64) bool { return v >= goalLookup }))
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
		for _, want := range []string{
			"BENCH_QUICK run", "| 10,000,000 | not run |", "`huiyan-edge` | 21.0 |", "## 8. Where the time goes",
			"| decode |", "`huiyan/edge.(*Node).HandleArrival`", "## How to reproduce",
		} {
			if !strings.Contains(doc, want) {
				t.Errorf("report lacks %q", want)
			}
		}
		if strings.Contains(doc, "Incomplete") {
			t.Error("a complete sample is reported incomplete")
		}
	})
	t.Run("ErrMissing", func(t *testing.T) {
		in := mustSample(t)
		in.Results = slices.DeleteFunc(slices.Clone(in.Results), func(r Result) bool { return r.Name == "BenchmarkFanOut" })
		in.Cum = nil
		var buf bytes.Buffer
		missing := Render(&buf, in)
		if !slices.Contains(missing, "BenchmarkFanOut last-p99-ms") || !slices.Contains(missing, "CPU profile (pprof-flat.txt, pprof-cum.txt)") {
			t.Fatalf("missing = %q", missing)
		}
		if !strings.Contains(buf.String(), "**Incomplete:**") || !strings.Contains(buf.String(), "| last PAD | — |") {
			t.Error("the report does not say what is missing")
		}
	})
	t.Run("WheelResult", func(t *testing.T) {
		// The sample predates BenchmarkWheelResult: without it the section
		// says so and the report stays complete; with it (a line captured
		// from a real run) the figures are in the table.
		in := mustSample(t)
		var buf bytes.Buffer
		if missing := Render(&buf, in); len(missing) > 0 || !strings.Contains(buf.String(), "**Not measured:** `BenchmarkWheelResult`") {
			t.Fatalf("without the benchmark: missing %q, report lacks the note", missing)
		}
		line := "pkg: huiyan/edge/cmd/huiyan-edge\n" +
			"BenchmarkWheelResult-2 \t 1\t10100886071 ns/op\t 28.73 pad-max-ms\t 3.181 pad-p50-ms\t 9.566 pad-p90-ms\t 21.37 pad-p99-ms\t 2.148 pad-ratio-p99\t 20.00 pads\t" +
			" 3.451 ratio-p99\t 65.27 result-max-ms\t 10.19 result-p50-ms\t 25.70 result-p90-ms\t 45.92 result-p99-ms\t 200.0 spins\t" +
			" 44.50 trip-max-ms\t 1.488 trip-p50-ms\t 5.481 trip-p90-ms\t 13.31 trip-p99-ms\n"
		rs, err := ParseBench(strings.NewReader(line))
		if err != nil || len(rs) != 1 {
			t.Fatalf("parse: %v, %d results", err, len(rs))
		}
		in.Results = append(slices.Clone(in.Results), rs...)
		buf.Reset()
		if missing := Render(&buf, in); len(missing) > 0 {
			t.Fatalf("missing %q", missing)
		}
		for _, want := range []string{
			"| result on the wheel | " + ms(10.19) + " | " + ms(25.70) + " | " + ms(45.92) + " | " + ms(65.27) + " |",
			"| bare round trip | " + ms(1.488) + " | " + ms(5.481) + " | " + ms(13.31) + " | " + ms(44.50) + " |",
			"| card on the PAD | " + ms(3.181) + " | " + ms(9.566) + " | " + ms(21.37) + " | " + ms(28.73) + " |",
			"Result p99 ÷ round trip p99: " + ratio(3.451) + " (the goal's figure); result p99 ÷ PAD card p99: " + ratio(2.148) + ".",
			"For each of 200 spins",
			"| wheel spin → result p99 ÷ bare round trip p99 at 20 spins/s ≤ 2.0 (embedded broker) | " + ratio(3.451) + " | **MISS** |",
		} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("report lacks %q", want)
			}
		}
		// A line without some of its figures is incomplete, like the others.
		in.Results[len(in.Results)-1].Metrics = map[string]float64{"spins": 200}
		if missing := Render(&bytes.Buffer{}, in); !slices.Contains(missing, "BenchmarkWheelResult result-p99-ms") {
			t.Fatalf("missing = %q, want the result p99", missing)
		}
	})
	t.Run("ErrFullSizesMissing", func(t *testing.T) {
		in := mustSample(t)
		in.Quick = false // a quick run's output taken for a full one
		missing := Render(&bytes.Buffer{}, in)
		if !slices.Contains(missing, "BenchmarkHubSync/Import/customers=1000000 rows/s") {
			t.Fatalf("missing = %q", missing)
		}
	})
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []struct{ from, to string }{
		{"testdata/bench-quick.txt", "bench.txt"}, {"testdata/pprof-flat.txt", "pprof-flat.txt"}, {"testdata/pprof-cum.txt", "pprof-cum.txt"},
	} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "started"), fmt.Appendf(nil, "%d\n", time.Now().Add(-time.Minute).Unix()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "docs", "BENCHMARKS.md")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-dir", dir, "-out", out, "-bin", t.TempDir()}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "# Huiyan benchmarks") || !strings.Contains(string(b), "| run took | 1m") {
		t.Errorf("report starts %.200q", b)
	}
	if err := os.Remove(filepath.Join(dir, "pprof-cum.txt")); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-dir", dir, "-out", out, "-bin", t.TempDir()}, &stdout, &stderr); !errors.Is(err, errMissing) {
		t.Errorf("run without the profile: %v, want errMissing", err)
	}
}
