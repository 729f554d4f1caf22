package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/hub"
)

// maxReportedErrors bounds the per-line errors printed by an import.
const maxReportedErrors = 100

// runImport provisions an edge offline from HQ files (DESIGN.md,
// "Commands"): all or nothing, every bad line reported.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	def := DefaultConfig()
	fs := flag.NewFlagSet("huiyan-edge import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: huiyan-edge import [-data DIR] [-branch ID] tags.csv|tags.jsonl[.gz] [staff.csv]\n\n"+
			"Loads this branch's customers (and staff roster) from HQ files into the edge's cache,\n"+
			"replacing what it held. All or nothing: one bad line and nothing changes.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	data := fs.String("data", def.DataDir, "data `dir` of the edge")
	branch := fs.String("branch", def.Branch, "branch `id`: only its customers are kept")
	keyID := fs.String("token-key", def.KeyID, "key `id` the file's tokens were made under")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return usageError{errors.New("import takes tags.csv and optionally staff.csv")}
	}
	if !huiyan.ValidBranchID(*branch) {
		return usageError{fmt.Errorf("-branch: %q is not a branch id", *branch)}
	}

	var staff []huiyan.Staff
	if fs.NArg() == 2 {
		var err error
		if staff, err = readStaff(fs.Arg(1), *branch, stderr); err != nil {
			return err
		}
	}

	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(*data, "edge.db"))
	if err != nil {
		return fmt.Errorf("open cache (is huiyan-edge running on it? stop it first): %w", err)
	}
	defer db.Close()
	var prev edge.Meta
	if err := db.View(ctx, func(tx edge.Tx) error {
		var err error
		prev, err = tx.Meta()
		return err
	}); err != nil && !errors.Is(err, edge.ErrNotFound) {
		return err
	}
	if prev.Branch != "" && prev.Branch != *branch {
		return usageError{fmt.Errorf("data dir %s holds branch %s, not %s", *data, prev.Branch, *branch)}
	}
	if staff == nil && prev.SnapshotVersion > 0 {
		return usageError{errors.New("give staff.csv too: an import replaces the roster with the data set")}
	}

	f, format, err := hub.OpenSnapshotFile(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	dict := huiyan.DefaultTagDict()
	rd, err := hub.NewSnapshotReader(f, format, dict, hub.SnapshotOptions{KeyID: *keyID, Branch: *branch})
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}

	prog := newProgress(stderr)
	start := time.Now()
	var lineErrs int
	customers := func(yield func(*huiyan.Customer, error) bool) {
		for c, err := range rd.All() {
			var le *hub.LineError
			if errors.As(err, &le) {
				// Report and go on: every bad line is listed in one run.
				lineErrs++
				if lineErrs <= maxReportedErrors {
					fmt.Fprintf(stderr, "%s: %v\n", filepath.Base(fs.Arg(0)), le)
				}
				continue
			}
			if !yield(c, err) || err != nil {
				return
			}
		}
		if lineErrs > 0 {
			yield(nil, fmt.Errorf("%d bad lines: nothing imported", lineErrs))
		}
	}
	meta := edge.Meta{Branch: *branch, SnapshotVersion: prev.SnapshotVersion + 1, SnapshotAt: time.Now(),
		DictVersion: dict.Version(), KeyID: *keyID}
	err = db.ReplaceSnapshot(ctx, meta, dict, staff, customers, prog.update)
	prog.done()
	if err != nil {
		return fmt.Errorf("import: %w (the cache still holds version %d)", err, prev.SnapshotVersion)
	}
	n := rd.Rows() - rd.Skipped() - rd.Errors()
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "imported %d customers and %d staff of branch %s as version %d in %.1fs (%.0f rows/s; %d rows of other branches skipped)\n",
		n, len(staff), *branch, meta.SnapshotVersion, secs, float64(rd.Rows())/secs, rd.Skipped())
	return nil
}

func readStaff(path, branch string, stderr io.Writer) ([]huiyan.Staff, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	all, lineErrs, err := hub.ReadStaff(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, le := range lineErrs {
		if i < maxReportedErrors {
			fmt.Fprintf(stderr, "%s: %v\n", filepath.Base(path), le)
		}
	}
	if len(lineErrs) > 0 {
		return nil, fmt.Errorf("%s: %d bad lines: nothing imported", path, len(lineErrs))
	}
	staff := hub.BranchStaff(all, branch)
	if len(staff) == 0 {
		return nil, fmt.Errorf("%s: no staff of branch %s: nobody could log in to the PADs", path, branch)
	}
	return staff, nil
}

// progress shows a running count on a terminal and nothing otherwise, so
// that logs of scripted imports stay clean.
type progress struct {
	w     io.Writer
	tty   bool
	last  time.Time
	start time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(n int) {
	if !p.tty || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	rate := float64(n) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r%s %d customers, %.0f/s ", spinner(n), n, rate)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", 50)+"\r")
	}
}

func spinner(n int) string { return string(`|/-\`[(n/1000)%4]) }
