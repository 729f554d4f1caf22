package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"huiyan/hub"
	"huiyan/hub/store"
)

// cluster is three stores on loopback: n0 bootstraps, n1 and n2 join.
type cluster struct {
	top   testing.TB // owns the nodes' cleanup
	nodes []*store.Store
	cfgs  []store.Config
}

func mustOpenCluster(tb testing.TB, n int) *cluster {
	tb.Helper()
	c := &cluster{top: tb}
	for i := range n {
		cfg := testConfig(tb, "n"+string(rune('0'+i)), tb.TempDir())
		cfg.Bootstrap = i == 0
		c.cfgs = append(c.cfgs, cfg)
		s := MustOpenStore(tb, cfg)
		// A restarted node keeps its raft address, as a real one does.
		c.cfgs[i].RaftBind = s.RaftAddr()
		c.nodes = append(c.nodes, s)
	}
	testPoll(tb, "n0 leads", func() bool { return c.nodes[0].IsLeader() }, 10*time.Second)
	for _, s := range c.nodes[1:] {
		if err := c.nodes[0].Join(context.Background(), s.ID(), s.RaftAddr(), "127.0.0.1:1"); err != nil {
			tb.Fatalf("join %s: %v", s.ID(), err)
		}
	}
	c.waitMembers(tb, n)
	return c
}

// leader returns the open node that leads, waiting for one.
func (c *cluster) leader(tb testing.TB) *store.Store {
	tb.Helper()
	var l *store.Store
	testPoll(tb, "a leader", func() bool {
		for _, s := range c.nodes {
			if s != nil && s.IsLeader() {
				l = s
				return true
			}
		}
		return false
	}, 15*time.Second)
	return l
}

func (c *cluster) open() []*store.Store {
	var out []*store.Store
	for _, s := range c.nodes {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// waitMembers waits until every open node sees n members and one leader.
func (c *cluster) waitMembers(tb testing.TB, n int) {
	tb.Helper()
	testPoll(tb, "members", func() bool {
		for _, s := range c.open() {
			ms, err := s.Members()
			if err != nil || len(ms) != n {
				return false
			}
			if id, _ := s.Leader(); id == "" {
				return false
			}
		}
		return true
	}, 15*time.Second)
}

// waitApplied waits until every open node applied what the leader has.
func (c *cluster) waitApplied(tb testing.TB, leader *store.Store) {
	tb.Helper()
	idx := leader.AppliedIndex()
	testPoll(tb, "followers catch up", func() bool {
		for _, s := range c.open() {
			if s.AppliedIndex() < idx {
				return false
			}
		}
		return true
	}, 15*time.Second)
}

// kill closes node i.
func (c *cluster) kill(tb testing.TB, i int) {
	tb.Helper()
	if err := c.nodes[i].Close(); err != nil {
		tb.Fatalf("close %s: %v", c.nodes[i].ID(), err)
	}
	c.nodes[i] = nil
}

// restart opens node i again from its data dir.
func (c *cluster) restart(tb testing.TB, i int) *store.Store {
	tb.Helper()
	cfg := c.cfgs[i]
	cfg.Bootstrap = false
	s := MustOpenStore(c.top, cfg)
	c.nodes[i] = s
	return s
}

func (c *cluster) index(s *store.Store) int {
	return slices.Index(c.nodes, s)
}

func TestCluster(t *testing.T) {
	c := mustOpenCluster(t, 3)
	ctx := context.Background()
	l := c.leader(t)

	t.Run("Members", func(t *testing.T) {
		for _, s := range c.open() {
			ms, err := s.Members()
			if err != nil {
				t.Fatal(err)
			}
			leaders := 0
			for _, m := range ms {
				if m.State == "leader" {
					leaders++
					if m.ID != l.ID() {
						t.Fatalf("%s sees leader %s, want %s", s.ID(), m.ID, l.ID())
					}
				}
			}
			if leaders != 1 {
				t.Fatalf("%s sees %d leaders: %+v", s.ID(), leaders, ms)
			}
		}
	})

	t.Run("KeyReplicated", func(t *testing.T) {
		testPoll(t, "hub.pub on every node", func() bool {
			for _, s := range c.open() {
				if _, err := os.Stat(filepath.Join(s.Dir(), "hub.pub")); err != nil {
					return false
				}
			}
			return true
		}, 10*time.Second)
		var first []byte
		for _, s := range c.open() {
			pem, _ := os.ReadFile(filepath.Join(s.Dir(), "hub.pub"))
			if first == nil {
				first = pem
			} else if !bytes.Equal(pem, first) {
				t.Fatalf("hub.pub of %s differs", s.ID())
			}
			// Every node can sign: the cluster replicated the private key.
			priv, id, err := s.SigningKey()
			if err != nil || id == "" || priv == nil {
				t.Fatalf("%s cannot sign: %v", s.ID(), err)
			}
		}
	})

	t.Run("FollowerRefusesWrites", func(t *testing.T) {
		for _, s := range c.open() {
			if s == l {
				continue
			}
			if _, err := s.IssueCredential(ctx, "B001"); !errors.Is(err, store.ErrNotLeader) {
				t.Fatalf("err=%v, want ErrNotLeader", err)
			}
			if _, err := s.BeginImport(ctx, store.ImportOptions{Format: hub.FormatCSV}); !errors.Is(err, store.ErrNotLeader) {
				t.Fatalf("err=%v, want ErrNotLeader", err)
			}
			http, err := s.LeaderHTTP()
			if err != nil || http == "" {
				t.Fatalf("leader http=%q err=%v", http, err)
			}
		}
	})

	tags, staff := genTags(t, 400, 5)
	t.Run("ImportReplicated", func(t *testing.T) {
		imp := mustImport(t, l, tags, staff)
		if imp.Status != store.StatusCommitted {
			t.Fatalf("status=%s (%s)", imp.Status, imp.Message)
		}
		c.waitApplied(t, l)
		want := branchIDs(t, l, "B001", 1)
		for _, s := range c.open() {
			if s.LatestVersion() != 1 {
				t.Fatalf("%s: version=%d, want 1", s.ID(), s.LatestVersion())
			}
			if got := branchIDs(t, s, "B001", 1); !slices.Equal(got, want) {
				t.Fatalf("%s: B001 has %d customers, leader %d", s.ID(), len(got), len(want))
			}
		}
	})

	var cred string
	t.Run("LeaderKilled", func(t *testing.T) {
		old := c.index(l)
		c.kill(t, old)
		l = c.leader(t)
		if l.ID() == c.cfgs[old].ID {
			t.Fatal("the dead leader leads")
		}
		var err error
		cred, err = l.IssueCredential(ctx, "B002")
		if err != nil {
			t.Fatalf("write after failover: %v", err)
		}
		imp := mustImport(t, l, editTags(t, tags, []int{0, 1}, []int{2}), nil)
		if imp.Status != store.StatusCommitted || imp.Version != 2 {
			t.Fatalf("import after failover: %s %d", imp.Status, imp.Version)
		}
		// The old leader comes back, as a follower, and catches up.
		s := c.restart(t, old)
		c.waitApplied(t, l)
		if s.LatestVersion() != 2 {
			t.Fatalf("restarted node: version=%d, want 2", s.LatestVersion())
		}
		if b, ok := s.Authenticate(cred); !ok || b != "B002" {
			t.Fatal("restarted node does not know the credential")
		}
	})

	t.Run("SnapshotRestart", func(t *testing.T) {
		// A follower snapshots, restarts from its data dir, state intact.
		var f *store.Store
		for _, s := range c.open() {
			if s != l {
				f = s
				break
			}
		}
		if err := f.Snapshot(); err != nil {
			t.Fatal(err)
		}
		i := c.index(f)
		want := branchIDs(t, f, "B003", 2)
		c.kill(t, i)
		if _, err := l.IssueCredential(ctx, "B004"); err != nil {
			t.Fatal(err)
		}
		f = c.restart(t, i)
		c.waitApplied(t, l)
		if got := branchIDs(t, f, "B003", 2); !slices.Equal(got, want) {
			t.Fatalf("B003: %d customers after restart, want %d", len(got), len(want))
		}
		if b, ok := f.Authenticate(cred); !ok || b != "B002" {
			t.Fatal("credential lost")
		}
		if v, _ := f.Staff(2); len(v) == 0 {
			t.Fatal("roster lost")
		}
	})

	t.Run("InstallSnapshot", func(t *testing.T) {
		// A node that joins after the leader compacted its log gets the
		// leader's snapshot (raft InstallSnapshot → FSM.Restore).
		mustImport(t, l, editTags(t, tags, []int{5}, nil), nil)
		if err := l.Snapshot(); err != nil {
			t.Fatal(err)
		}
		n := MustOpenStore(t, testConfig(t, "n9", t.TempDir()))
		if err := l.Join(ctx, n.ID(), n.RaftAddr(), "127.0.0.1:1"); err != nil {
			t.Fatal(err)
		}
		testPoll(t, "n9 catches up", func() bool { return n.AppliedIndex() >= l.AppliedIndex() }, 15*time.Second)
		if store.Restores(n) == 0 {
			t.Fatal("n9 caught up without restoring the leader's snapshot")
		}
		if n.LatestVersion() != 3 {
			t.Fatalf("version=%d, want 3", n.LatestVersion())
		}
		if got, want := branchIDs(t, n, "B001", 3), branchIDs(t, l, "B001", 3); !slices.Equal(got, want) {
			t.Fatalf("B001: %d customers, leader %d", len(got), len(want))
		}
		if b, ok := n.Authenticate(cred); !ok || b != "B002" {
			t.Fatal("credential not in the snapshot")
		}
		if err := l.Remove(ctx, n.ID()); err != nil {
			t.Fatal(err)
		}
		c.waitMembers(t, 3)
	})

	t.Run("LeaderKilledDuringImport", func(t *testing.T) {
		before := l.LatestVersion()
		pr, pw := io.Pipe()
		run, err := l.BeginImport(ctx, store.ImportOptions{Format: hub.FormatCSV, BatchBytes: 8 << 10})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- run.Tags(ctx, pr) }()
		// Half the file, then the leader dies with the import open.
		half := len(tags) / 2
		if _, err := pw.Write(tags[:half]); err != nil {
			t.Fatal(err)
		}
		var f *store.Store
		for _, s := range c.open() {
			if s != l {
				f = s
				break
			}
		}
		testPoll(t, "rows replicated", func() bool {
			imp, err := f.Import(run.ID())
			return err == nil && imp.Customers > 0
		}, 10*time.Second)
		old := c.index(l)
		c.kill(t, old)
		pw.CloseWithError(errors.New("connection reset"))
		<-done
		l = c.leader(t)
		testPoll(t, "the open import failed", func() bool {
			imp, err := l.Import(run.ID())
			return err == nil && imp.Status == store.StatusFailed
		}, 15*time.Second)
		if l.LatestVersion() != before {
			t.Fatalf("version=%d, want %d", l.LatestVersion(), before)
		}
		// The retry commits.
		imp := mustImport(t, l, tags, nil)
		if imp.Status != store.StatusCommitted || imp.Version != before+1 {
			t.Fatalf("retry: %s version %d, want committed %d", imp.Status, imp.Version, before+1)
		}
		c.restart(t, old)
		c.waitApplied(t, l)
		for _, s := range c.open() {
			if s.LatestVersion() != before+1 {
				t.Fatalf("%s: version %d", s.ID(), s.LatestVersion())
			}
		}
	})
}
