package main

import (
	"math"
	"strings"
	"testing"
)

func TestParseBench(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		want  map[string]map[string]float64 // name → unit → median
		procs int
		err   bool
	}{
		{"OK", "pkg: huiyan/edge\nBenchmarkCompose/Known-2   \t    2000\t     36147 ns/op\t         4.000 actions\t    9644 B/op\t     115 allocs/op\n",
			map[string]map[string]float64{"BenchmarkCompose/Known": {"ns/op": 36147, "actions": 4, "B/op": 9644, "allocs/op": 115}}, 2, false},
		{"NoProcsSuffix", "BenchmarkX   1   5 ns/op\n", map[string]map[string]float64{"BenchmarkX": {"ns/op": 5}}, 1, false},
		{"MedianOfCount", "BenchmarkX-4 1 5 ns/op\nBenchmarkX-4 1 9 ns/op\nBenchmarkX-4 1 7 ns/op\n",
			map[string]map[string]float64{"BenchmarkX": {"ns/op": 7}}, 4, false},
		{"MedianOfTwo", "BenchmarkX-4 1 5 ns/op\nBenchmarkX-4 1 9 ns/op\n", map[string]map[string]float64{"BenchmarkX": {"ns/op": 7}}, 4, false},
		{"LogsAndHeadersIgnored", "goos: linux\n=== RUN   BenchmarkX\nBenchmarkX\n    x_test.go:1: built in 2s\nBenchmarkX-2 1 3 ns/op 1.5 e2e-p50-ms\nPASS\nok  \thuiyan/x\t1.0s\n",
			map[string]map[string]float64{"BenchmarkX": {"ns/op": 3, "e2e-p50-ms": 1.5}}, 2, false},
		{"ErrOddFields", "BenchmarkX-2 1 3 ns/op 7\n", nil, 0, true},
		{"ErrBadValue", "BenchmarkX-2 1 x3 ns/op\n", nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseBench(strings.NewReader(tc.in))
			if tc.err {
				if err == nil {
					t.Fatalf("no error for %q", tc.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, units := range tc.want {
				for unit, want := range units {
					if got, ok := rs.Get(name, unit); !ok || got != want {
						t.Errorf("%s %s = %v (found %v), want %v", name, unit, got, ok, want)
					}
				}
				if rs[0].Procs != tc.procs {
					t.Errorf("procs = %d, want %d", rs[0].Procs, tc.procs)
				}
			}
		})
	}
}

func TestParseSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  bool
	}{
		{"680ms", 0.68, false}, {"2.16s", 2.16, false}, {"1.5mins", 90, false}, {"0", 0, false}, {"12us", 12e-6, false},
		{"fast", 0, true}, {"1.2.3s", 0, true},
	} {
		got, err := parseSeconds(tc.in)
		if (err != nil) != tc.err || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("parseSeconds(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestNum(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{math.NaN(), "—"}, {0, "0"}, {0.01234, "0.0123"}, {1.234, "1.23"}, {12.34, "12.3"}, {123.4, "123"},
		{1234567, "1,234,567"}, {-4321, "-4,321"},
	} {
		if got := num(tc.in); got != tc.want {
			t.Errorf("num(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
