package store_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/firmware-contracts/devsim"
	"huiyan/hub"
	"huiyan/hub/store"
)

// testLogger discards logs unless HUIYAN_TEST_LOG is set.
func testLogger(tb testing.TB, id string) *slog.Logger {
	if os.Getenv("HUIYAN_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", tb.Name(), "id", id)
}

// testConfig is a node on loopback with raft timings short enough for
// tests and small files.
func testConfig(tb testing.TB, id, dir string) store.Config {
	return store.Config{
		ID:                 id,
		Dir:                dir,
		RaftBind:           "127.0.0.1:0",
		HTTPAddr:           "127.0.0.1:0",
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		SnapshotInterval:   time.Hour, // tests snapshot explicitly
		TrailingLogs:       4,         // so that a node that missed a little needs InstallSnapshot
		ApplyTimeout:       10 * time.Second,
		WALSegmentBytes:    64 << 10, // small, so that compacted entries really leave the log
		MmapBytes:          16 << 20,
		Retain:             3,
		Logger:             testLogger(tb, id),
	}
}

// MustOpenStore opens a store and closes it at the end of the test.
func MustOpenStore(tb testing.TB, c store.Config) *store.Store {
	tb.Helper()
	s := store.New(c)
	if err := s.Open(context.Background()); err != nil {
		tb.Fatalf("open store %s: %v", c.ID, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// MustOpenLeader opens a bootstrapped one-node cluster and waits until it
// leads and has its signing key.
func MustOpenLeader(tb testing.TB, id string) *store.Store {
	tb.Helper()
	c := testConfig(tb, id, tb.TempDir())
	c.Bootstrap = true
	s := MustOpenStore(tb, c)
	testPoll(tb, "leader with a key", func() bool {
		ks, _ := s.PublicKeys()
		return s.IsLeader() && len(ks) == 1
	}, 10*time.Second)
	return s
}

// testPoll polls cond until it holds or the timeout passes (rqlite's
// testPoll): tests never sleep to wait for a result.
func testPoll(tb testing.TB, what string, cond func() bool, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// genTags returns a generated snapshot CSV and staff CSV.
func genTags(tb testing.TB, customers, branches int) (tags, staff []byte) {
	tb.Helper()
	cfg := devsim.GenConfig{Customers: customers, Branches: branches, Seed: 7, PINIterations: 1000}
	var t, s bytes.Buffer
	if err := devsim.WriteTags(context.Background(), cfg, &t); err != nil {
		tb.Fatal(err)
	}
	if _, err := devsim.WriteStaff(context.Background(), cfg, &s); err != nil {
		tb.Fatal(err)
	}
	return t.Bytes(), s.Bytes()
}

// editTags returns the CSV with opt_out flipped on the data rows in flip
// and the data rows in drop left out (0-based data row numbers).
func editTags(tb testing.TB, csv []byte, flip, drop []int) []byte {
	tb.Helper()
	lines := strings.Split(strings.TrimSuffix(string(csv), "\n"), "\n")
	in := func(set []int, i int) bool {
		for _, v := range set {
			if v == i {
				return true
			}
		}
		return false
	}
	out := []string{lines[0]}
	for i, l := range lines[1:] {
		if in(drop, i) {
			continue
		}
		if in(flip, i) {
			f := strings.Split(l, ",")
			if len(f) != 18 {
				tb.Fatalf("row %d has %d fields (quoted commas?)", i, len(f))
			}
			if f[11] == "0" {
				f[11] = "1"
			} else {
				f[11] = "0"
			}
			l = strings.Join(f, ",")
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

// rowID returns the customer id of data row i.
func rowID(csv []byte, i int) string {
	lines := strings.Split(string(csv), "\n")
	id, _, _ := strings.Cut(lines[i+1], ",")
	return id
}

// mustImport runs a whole import on the leader.
func mustImport(tb testing.TB, s *store.Store, tags, staff []byte) *store.Import {
	tb.Helper()
	imp, err := runImport(s, tags, staff)
	if err != nil {
		tb.Fatalf("import: %v", err)
	}
	return imp
}

func runImport(s *store.Store, tags, staff []byte) (*store.Import, error) {
	ctx := context.Background()
	run, err := s.BeginImport(ctx, store.ImportOptions{Name: "tags.csv", Format: hub.FormatCSV, BatchBytes: 32 << 10})
	if err != nil {
		return nil, err
	}
	if err := run.Tags(ctx, bytes.NewReader(tags)); err != nil {
		run.Fail(ctx, err.Error())
		return nil, err
	}
	if staff != nil {
		if err := run.Staff(ctx, bytes.NewReader(staff)); err != nil {
			run.Fail(ctx, err.Error())
			return nil, err
		}
	}
	return run.Finish(ctx)
}

// branchIDs returns the ids of the customers of the branch at version.
func branchIDs(tb testing.TB, s *store.Store, branch string, version uint64) []string {
	tb.Helper()
	var ids []string
	err := s.Customers(branch, version, func(c *huiyan.Customer) error {
		ids = append(ids, c.ID)
		return nil
	})
	if err != nil {
		tb.Fatalf("customers of %s at %d: %v", branch, version, err)
	}
	return ids
}
