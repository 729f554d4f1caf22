// Command benchreport turns the output of `make bench` into
// docs/BENCHMARKS.md: the machine and versions, every figure of issue 8
// next to its reference and ratio, the goals with PASS or MISS, where the
// edge's time goes, and how to reproduce it all.
//
//	go run ./docs/benchreport -dir .bench -out docs/BENCHMARKS.md
//
// It reads, from -dir: bench.txt (the `go test -bench` output of every
// package, concatenated), pprof-flat.txt and pprof-cum.txt (`go tool pprof
// -top` of the edge's CPU profile, flat and -cum), and, when present,
// started and finished (Unix seconds when the run began and when its last
// benchmark ended), loadavg-start and loadavg-end (copies of /proc/loadavg
// then). It writes the report even when figures are missing,
// lists them at the top, and then exits with status 1, so that `make
// bench` fails instead of publishing a partial report as complete.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// quick reports whether the results are of a BENCH_QUICK run: the
// variable is set, or the cache lookup ran on fewer than 1,000,000
// customers (for a report made by hand from a quick run's output).
func quick(rs Results) bool {
	if os.Getenv("BENCH_QUICK") != "" {
		return true
	}
	n, ok := rs.Get("BenchmarkResolve/Bolt/Single", "customers")
	return ok && n < 1_000_000
}

// errMissing is returned, after the report was written, when figures are
// missing from it.
var errMissing = errors.New("figures missing from the report")

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".bench", "`dir` with bench.txt, pprof-flat.txt, pprof-cum.txt")
	out := fs.String("out", "docs/BENCHMARKS.md", "report `file` to write")
	bin := fs.String("bin", "bin", "`dir` of the built binaries whose sizes are reported")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(*dir, "bench.txt"))
	if err != nil {
		return err
	}
	results, err := ParseBench(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("bench.txt: %w", err)
	}
	in := Input{
		Results: results,
		Env:     gatherEnv(*bin),
		Quick:   quick(results),
		Full:    os.Getenv("BENCH_FULL") != "",
	}
	for name, dst := range map[string]**Profile{"pprof-flat.txt": &in.Flat, "pprof-cum.txt": &in.Cum} {
		b, err := os.ReadFile(filepath.Join(*dir, name))
		if err != nil {
			continue // reported as missing
		}
		p, err := ParseProfile(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		*dst = p
	}
	if b, err := os.ReadFile(filepath.Join(*dir, "started")); err == nil {
		if s, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			in.Env.Started = time.Unix(s, 0)
		}
	}
	if b, err := os.ReadFile(filepath.Join(*dir, "finished")); err == nil {
		if s, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			in.Env.Date = time.Unix(s, 0) // the run's end, not this program's: it may run again later
		}
	}
	for name, dst := range map[string]*string{"loadavg-start": &in.Env.LoadStart, "loadavg-end": &in.Env.LoadEnd} {
		if b, err := os.ReadFile(filepath.Join(*dir, name)); err == nil {
			if f := strings.Fields(string(b)); len(f) >= 3 {
				*dst = strings.Join(f[:3], " ")
			}
		}
	}
	var buf bytes.Buffer
	missing := Render(&buf, in)
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d results\n", *out, len(results))
	if len(missing) > 0 {
		for _, m := range missing {
			fmt.Fprintln(stderr, "missing:", m)
		}
		return errMissing
	}
	return nil
}
