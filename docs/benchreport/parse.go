package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Result is one benchmark line of `go test -bench` output: the name
// without the GOMAXPROCS suffix, the package it ran in, the iterations and
// every metric by unit (ns/op, B/op, allocs/op and the b.ReportMetric ones).
type Result struct {
	Pkg     string
	Name    string
	Procs   int
	N       int64
	Metrics map[string]float64
}

// Results are the benchmark lines of one or more runs, in input order.
type Results []Result

// benchLine matches "BenchmarkX/sub-2   	  100	  123 ns/op	…". The
// GOMAXPROCS suffix is absent when it is 1.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$`)

// ParseBench reads `go test -bench` output (several packages, -count, -v
// interleaved with logs are all fine) and returns its results. A metric
// that is not "<number> <unit>" makes the line an error: a figure the
// report would silently drop is a bug in a benchmark.
func ParseBench(r io.Reader) (Results, error) {
	var out Results
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		res := Result{Pkg: pkg, Name: m[1], Procs: 1, Metrics: map[string]float64{}}
		if m[2] != "" {
			res.Procs, _ = strconv.Atoi(m[2])
		}
		res.N, _ = strconv.ParseInt(m[3], 10, 64)
		fields := strings.Fields(m[4])
		if len(fields)%2 != 0 {
			return nil, fmt.Errorf("line %d: metrics are not value/unit pairs: %q", n, line)
		}
		for i := 0; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: metric %q: %w", n, fields[i]+" "+fields[i+1], err)
			}
			res.Metrics[fields[i+1]] = v
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// Get returns the median of a metric over every result with the name (a
// -count run has several), and whether there was one.
func (rs Results) Get(name, unit string) (float64, bool) {
	var vs []float64
	for _, r := range rs {
		if r.Name == name {
			if v, ok := r.Metrics[unit]; ok {
				vs = append(vs, v)
			}
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

// Names returns the distinct names with the prefix, in input order.
func (rs Results) Names(prefix string) []string {
	var names []string
	for _, r := range rs {
		if strings.HasPrefix(r.Name, prefix) && !slices.Contains(names, r.Name) {
			names = append(names, r.Name)
		}
	}
	return names
}

// Profile is `go tool pprof -top` output: the header figures and the rows.
type Profile struct {
	Duration float64 // seconds of wall time profiled
	Total    float64 // seconds of samples (after the filters)
	Filters  []string
	Rows     []ProfileRow
}

// ProfileRow is one function: flat and cumulative seconds and shares.
type ProfileRow struct {
	Flat, FlatPct, Cum, CumPct float64
	Func                       string
}

var (
	durationLine = regexp.MustCompile(`^Duration: ([0-9.]+\w+), Total samples = ([0-9.]+\w+)`)
	profileRow   = regexp.MustCompile(`^\s*([0-9.]+\w*)\s+([0-9.]+)%\s+([0-9.]+)%\s+([0-9.]+\w*)\s+([0-9.]+)%\s+(.+?)\s*$`)
)

// ParseProfile reads the text of `go tool pprof -top` (flat or -cum).
func ParseProfile(r io.Reader) (*Profile, error) {
	p := &Profile{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	inFilters := false
	for sc.Scan() {
		line := sc.Text()
		if m := durationLine.FindStringSubmatch(line); m != nil {
			var err error
			if p.Duration, err = parseSeconds(m[1]); err != nil {
				return nil, err
			}
			if p.Total, err = parseSeconds(m[2]); err != nil {
				return nil, err
			}
			continue
		}
		if strings.HasPrefix(line, "Active filters:") {
			inFilters = true
			continue
		}
		if inFilters {
			if strings.HasPrefix(line, "   ") {
				p.Filters = append(p.Filters, strings.TrimSpace(line))
				continue
			}
			inFilters = false
		}
		m := profileRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var row ProfileRow
		var err error
		if row.Flat, err = parseSeconds(m[1]); err != nil {
			return nil, err
		}
		row.FlatPct, _ = strconv.ParseFloat(m[2], 64)
		if row.Cum, err = parseSeconds(m[4]); err != nil {
			return nil, err
		}
		row.CumPct, _ = strconv.ParseFloat(m[5], 64)
		row.Func = m[6]
		p.Rows = append(p.Rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if p.Duration == 0 || len(p.Rows) == 0 {
		return nil, fmt.Errorf("not pprof -top output (no Duration line or no rows)")
	}
	return p, nil
}

// parseSeconds reads pprof's durations: 680ms, 1.20s, 1.5mins, 0 …
func parseSeconds(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		scale  float64
	}{{"mins", 60}, {"hrs", 3600}, {"ms", 1e-3}, {"us", 1e-6}, {"µs", 1e-6}, {"ns", 1e-9}, {"s", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %w", s, err)
			}
			return f * u.scale, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64) // a bare 0
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	return f, nil
}

// Cum returns the cumulative share (percent of the profile) of the first
// row whose function matches re, and whether there was one.
func (p *Profile) Cum(re *regexp.Regexp) (float64, string, bool) {
	for _, r := range p.Rows {
		if re.MatchString(r.Func) {
			return r.CumPct, r.Func, true
		}
	}
	return 0, "", false
}
