package store_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/store"
)

func TestStore_SingleNode(t *testing.T) {
	s := MustOpenLeader(t, "n1")
	ctx := context.Background()

	t.Run("KeyAndHubPub", func(t *testing.T) {
		ks, err := s.PublicKeys()
		if err != nil || len(ks) != 1 {
			t.Fatalf("keys=%v, err=%v, want one", ks, err)
		}
		testPoll(t, "hub.pub", func() bool {
			_, err := os.Stat(filepath.Join(s.Dir(), "hub.pub"))
			return err == nil
		}, 5*time.Second)
		pem, err := os.ReadFile(filepath.Join(s.Dir(), "hub.pub"))
		if err != nil {
			t.Fatal(err)
		}
		set, err := hub.ParsePublicKeys(pem)
		if err != nil {
			t.Fatal(err)
		}
		if ids := set.IDs(); len(ids) != 1 || ids[0] != ks[0].KeyID {
			t.Fatalf("hub.pub key ids=%v, want [%s]", ids, ks[0].KeyID)
		}
		priv, id, err := s.SigningKey()
		if err != nil || id != ks[0].KeyID || hub.KeyID(priv.Public().(ed25519.PublicKey)) != id {
			t.Fatalf("signing key id=%s err=%v, want %s", id, err, ks[0].KeyID)
		}
	})

	tags, staff := genTags(t, 300, 4)
	var v1 *store.Import
	t.Run("ImportOK", func(t *testing.T) {
		v1 = mustImport(t, s, tags, staff)
		if v1.Status != store.StatusCommitted || v1.Version != 1 {
			t.Fatalf("status=%s version=%d, want committed 1 (%s)", v1.Status, v1.Version, v1.Message)
		}
		if v1.Customers != 300 || v1.Rows != 300 || v1.Changed != 300 {
			t.Fatalf("customers=%d rows=%d changed=%d, want 300", v1.Customers, v1.Rows, v1.Changed)
		}
		if s.LatestVersion() != 1 {
			t.Fatalf("latest=%d, want 1", s.LatestVersion())
		}
		total := 0
		bs, _ := s.Branches()
		for _, b := range bs {
			ids := branchIDs(t, s, b.ID, 1)
			if len(ids) != b.Customers {
				t.Fatalf("branch %s: %d customers listed, count says %d", b.ID, len(ids), b.Customers)
			}
			if !slices.IsSorted(ids) {
				t.Fatalf("branch %s: ids not sorted", b.ID)
			}
			total += len(ids)
		}
		if total < 300 {
			t.Fatalf("%d customers over all branches, want at least 300", total)
		}
		st, err := s.Staff(1)
		if err != nil || len(st) == 0 {
			t.Fatalf("staff=%d err=%v, want a roster", len(st), err)
		}
	})

	t.Run("ImportDelta", func(t *testing.T) {
		tags2 := editTags(t, tags, []int{3, 10, 50, 120, 299}, []int{7, 8, 200})
		imp := mustImport(t, s, tags2, nil)
		if imp.Status != store.StatusCommitted || imp.Version != 2 {
			t.Fatalf("status=%s version=%d, want committed 2 (%s)", imp.Status, imp.Version, imp.Message)
		}
		if imp.Changed != 5 || imp.Deleted != 3 {
			t.Fatalf("changed=%d deleted=%d, want 5 and 3", imp.Changed, imp.Deleted)
		}
		v, err := s.Version(2)
		if err != nil || v.Customers != 297 || v.StaffVersion != 1 {
			t.Fatalf("version 2: %+v err=%v, want 297 customers, roster of version 1", v, err)
		}
		changed := map[string]bool{}
		for _, i := range []int{3, 10, 50, 120, 299} {
			changed[rowID(tags, i)] = true
		}
		deleted := map[string]bool{}
		for _, i := range []int{7, 8, 200} {
			deleted[rowID(tags, i)] = true
		}
		bs, _ := s.Branches()
		gotUp, gotDel := map[string]bool{}, map[string]bool{}
		for _, b := range bs {
			err := s.Delta(b.ID, 1, 2, func(c *huiyan.Customer, del string) error {
				if c != nil {
					gotUp[c.ID] = true
				} else {
					gotDel[del] = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// Version 1 is still readable, unchanged.
			old := branchIDs(t, s, b.ID, 1)
			cur := branchIDs(t, s, b.ID, 2)
			for _, id := range old {
				if !deleted[id] && !slices.Contains(cur, id) {
					t.Fatalf("branch %s lost customer at version 2", b.ID)
				}
			}
		}
		if len(gotUp) != len(changed) || len(gotDel) != len(deleted) {
			t.Fatalf("delta: %d upserts, %d deletes; want %d and %d", len(gotUp), len(gotDel), len(changed), len(deleted))
		}
		for id := range changed {
			if !gotUp[id] {
				t.Fatalf("delta misses a changed customer")
			}
		}
		for id := range deleted {
			if !gotDel[id] {
				t.Fatalf("delta misses a deleted customer")
			}
		}
	})

	t.Run("ImportRefused", func(t *testing.T) {
		before := branchIDs(t, s, "B001", 2)
		bad := strings.Replace(string(tags), ",gold,", ",silver,", 1)
		bad = strings.Replace(bad, "\n", "\nnot,a,row\n", 1) // a bad line 2
		imp, err := runImport(s, []byte(bad), nil)
		if err != nil {
			t.Fatal(err)
		}
		if imp.Status != store.StatusRefused || imp.Errors != 2 || len(imp.LineErrors) != 2 || imp.LineErrors[0].Line != 2 {
			t.Fatalf("status=%s errors=%d line errors=%v, want refused with 2", imp.Status, imp.Errors, imp.LineErrors)
		}
		if le := imp.LineErrors[0]; le.File != "tags" || le.Line < 2 || le.Reason == "" {
			t.Fatalf("line error %+v, want file tags, a line and a reason", le)
		}
		if s.LatestVersion() != 2 {
			t.Fatalf("latest=%d, want 2 after a refused import", s.LatestVersion())
		}
		if after := branchIDs(t, s, "B001", 2); !slices.Equal(before, after) {
			t.Fatalf("branch B001 changed by a refused import")
		}
		bs, _ := s.Branches()
		total := 0
		for _, b := range bs {
			total += len(branchIDs(t, s, b.ID, 2))
		}
		v, _ := s.Version(2)
		_ = v
		imps, _ := s.Imports(0)
		if len(imps) != 3 || imps[0].Status != store.StatusRefused {
			t.Fatalf("imports=%d, newest %s; want 3, newest refused", len(imps), imps[0].Status)
		}
	})

	t.Run("Credentials", func(t *testing.T) {
		c1, err := s.IssueCredential(ctx, "B001")
		if err != nil {
			t.Fatal(err)
		}
		if b, ok := s.Authenticate(c1); !ok || b != "B001" {
			t.Fatalf("authenticate=%q %v, want B001", b, ok)
		}
		c2, err := s.IssueCredential(ctx, "B001")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Authenticate(c1); ok {
			t.Fatal("the rotated credential still authenticates")
		}
		if b, ok := s.Authenticate(c2); !ok || b != "B001" {
			t.Fatalf("new credential: %q %v", b, ok)
		}
		if _, err := s.IssueCredential(ctx, "bad branch"); huiyan.ErrorCode(err) != huiyan.EInvalid {
			t.Fatalf("err=%v, want invalid", err)
		}
	})

	t.Run("AppliedAndEvents", func(t *testing.T) {
		if err := s.ReportApplied(ctx, "B001", 2); err != nil {
			t.Fatal(err)
		}
		bs, _ := s.Branches()
		i := slices.IndexFunc(bs, func(b store.Branch) bool { return b.ID == "B001" })
		if i < 0 || bs[i].Applied != 2 || bs[i].AppliedSince.IsZero() || bs[i].CredentialHint == "" {
			t.Fatalf("branch B001 = %+v", bs)
		}
		ev := func(id string) hub.EventWire {
			return hub.EventWire{ID: id, Kind: hub.EventClosed, At: time.Now(), Visit: "v1"}
		}
		r, err := s.RecordEvents(ctx, "B001", []hub.EventWire{ev("e1"), ev("e2")})
		if err != nil || r.Accepted != 2 {
			t.Fatalf("result=%+v err=%v", r, err)
		}
		if r, _ := s.RecordEvents(ctx, "B001", []hub.EventWire{ev("e2"), ev("e3")}); r.Accepted != 1 || r.Duplicates != 1 {
			t.Fatalf("result=%+v, want 1 accepted, 1 duplicate: events are idempotent by id", r)
		}
	})

	t.Run("ErrVersionGone", func(t *testing.T) {
		if err := s.Delta("B001", 0, 2, func(*huiyan.Customer, string) error { return nil }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err=%v, want not found", err)
		}
	})
}

// TestStore_Restart: snapshot, restart from the data dir, state intact;
// then with state.db lost, restored from the snapshot.
func TestStore_Restart(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(t, "n1", dir)
	c.Bootstrap = true
	s := store.New(c)
	ctx := context.Background()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	testPoll(t, "leader", func() bool { ks, _ := s.PublicKeys(); return len(ks) == 1 }, 10*time.Second)
	tags, _ := genTags(t, 200, 3)
	mustImport(t, s, tags, nil)
	cred, err := s.IssueCredential(ctx, "B002")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	// More after the snapshot: replayed from the log on restart.
	mustImport(t, s, editTags(t, tags, []int{1}, []int{2}), nil)
	keys, _ := s.PublicKeys()
	want := branchIDs(t, s, "B001", 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	check := func(t *testing.T, s *store.Store) {
		t.Helper()
		testPoll(t, "leader", func() bool { return s.IsLeader() }, 10*time.Second)
		if s.LatestVersion() != 2 {
			t.Fatalf("version=%d, want 2", s.LatestVersion())
		}
		if got := branchIDs(t, s, "B001", 2); !slices.Equal(got, want) {
			t.Fatalf("B001 has %d customers, want %d", len(got), len(want))
		}
		if b, ok := s.Authenticate(cred); !ok || b != "B002" {
			t.Fatal("credential lost")
		}
		if k, _ := s.PublicKeys(); len(k) != 1 || k[0].KeyID != keys[0].KeyID {
			t.Fatalf("keys=%v, want %v", k, keys)
		}
		// Writes go on.
		if _, err := s.IssueCredential(ctx, "B003"); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("OK", func(t *testing.T) {
		s := store.New(c)
		if err := s.Open(ctx); err != nil {
			t.Fatal(err)
		}
		check(t, s)
		if err := s.Snapshot(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("StateLost", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "state.db")); err != nil {
			t.Fatal(err)
		}
		s := store.New(c)
		if err := s.Open(ctx); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, s)
	})
}
