package store_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/prizes"
	"huiyan/hub/store"
)

// prizesCSV is a prizes.csv with a table for each of the branches, the
// cup's stock set to cups.
func prizesCSV(cups int, branches ...string) string {
	var b strings.Builder
	b.WriteString("# test campaign\ncampaign,c1\nstarts,2026-11-01\nends,2026-12-31\n" + prizes.Header + "\n")
	for _, br := range branches {
		b.WriteString(br + ",cup,保温杯,Thermos cup,20000," + itoa(cups) + ",,\n" + br + ",,谢谢参与,Thanks for playing,rest,,,\n")
	}
	return b.String()
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

// tryImport runs an import of tags and staff with a prizes.csv (none when
// prz is nil), the prizes sent after the tags.
func tryImport(s *store.Store, tags, staff []byte, prz *string) (*store.Import, error) {
	ctx := context.Background()
	run, err := s.BeginImport(ctx, store.ImportOptions{Name: "tags.csv", Format: hub.FormatCSV, BatchBytes: 32 << 10})
	if err != nil {
		return nil, err
	}
	err = run.Tags(ctx, bytes.NewReader(tags))
	if err == nil {
		err = run.Staff(ctx, bytes.NewReader(staff))
	}
	if err == nil && prz != nil {
		err = run.Prizes(ctx, strings.NewReader(*prz))
	}
	if err != nil {
		run.Fail(ctx, err.Error())
		return nil, err
	}
	return run.Finish(ctx)
}

// importWithPrizes is tryImport on the cluster's leader, again on the new
// one when leadership moves on a loaded machine (the outcome of an import
// cut short that way is not this test's business: the versions it checks
// are the ones the imports it gets back name).
func (c *cluster) importWithPrizes(tb testing.TB, tags, staff []byte, prz *string) *store.Import {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		imp, err := tryImport(c.leader(tb), tags, staff, prz)
		if err == nil {
			return imp
		}
		retry := errors.Is(err, store.ErrNotLeader) || errors.Is(err, store.ErrNoLeader) ||
			errors.Is(err, store.ErrLeadershipLost) || huiyan.ErrorCode(err) == huiyan.EConflict
		if !retry || attempt == 10 {
			tb.Fatalf("import (attempt %d): %v", attempt, err)
		}
		time.Sleep(200 * time.Millisecond) // a new leader fails the open import first
	}
}

// wantFingerprint is the fingerprint of the branch's table in a prizes.csv.
func wantFingerprint(tb testing.TB, csv, branch string) string {
	tb.Helper()
	ts, err := prizes.Parse(strings.NewReader(csv))
	if err != nil {
		tb.Fatal(err)
	}
	return ts[branch].Fingerprint()
}

// TestImport_Prizes: HQ's prize tables ride with an import through raft
// to every node of a three-node cluster, per branch, in canonical form; an
// import without them carries them forward (also past the versions the
// store collects); a bad line refuses the import and changes nothing; a
// file with only the header withdraws every table.
func TestImport_Prizes(t *testing.T) {
	c := mustOpenCluster(t, 3)
	tags, staff := genTags(t, 200, 3)
	str := func(s string) *string { return &s }

	// prizesAt checks every node's answer for the branch at version v.
	prizesAt := func(t *testing.T, v uint64, branch string, stated bool, fp string) {
		t.Helper()
		c.waitApplied(t, c.leader(t))
		for _, s := range c.open() {
			p, ok, err := s.Prizes(v, branch)
			if err != nil || ok != stated || p.Fingerprint != fp || p.Branch != branch {
				t.Fatalf("%s: Prizes(%d, %s) = %+v, %v, %v; want stated=%v fingerprint %q", s.ID(), v, branch, p, ok, err, stated, fp)
			}
			if fp != "" {
				if tb, err := prizes.ParseCanonical(p.Table, branch); err != nil || tb.Fingerprint() != fp {
					t.Fatalf("%s: the stored table of %s does not parse back to its fingerprint: %v", s.ID(), branch, err)
				}
			}
		}
	}
	versionOf := func(t *testing.T, v uint64) *store.Version {
		t.Helper()
		ver, err := c.leader(t).Version(v)
		if err != nil {
			t.Fatal(err)
		}
		return ver
	}
	committed := func(t *testing.T, prz *string) *store.Import {
		t.Helper()
		imp := c.importWithPrizes(t, tags, staff, prz)
		if imp.Status != store.StatusCommitted {
			t.Fatalf("import %s: %s (%s), want committed", imp.ID, imp.Status, imp.Message)
		}
		return imp
	}

	var first uint64
	t.Run("NoneYet", func(t *testing.T) {
		imp := committed(t, nil)
		if imp.Prizes {
			t.Fatalf("import %+v brought no prizes", imp)
		}
		first = imp.Version
		prizesAt(t, first, "B001", false, "")
	})

	v1 := prizesCSV(50, "B001", "B002")
	var withPrizes uint64
	t.Run("Replicated", func(t *testing.T) {
		imp := committed(t, &v1)
		if !imp.Prizes || imp.PrizeTables != 2 {
			t.Fatalf("import %+v, want 2 prize tables", imp)
		}
		withPrizes = imp.Version
		if pv := versionOf(t, withPrizes).PrizesVersion; pv != withPrizes {
			t.Fatalf("prizes_version %d, want %d", pv, withPrizes)
		}
		prizesAt(t, withPrizes, "B001", true, wantFingerprint(t, v1, "B001"))
		prizesAt(t, withPrizes, "B002", true, wantFingerprint(t, v1, "B002"))
		// A branch the file leaves out has no wheel once HQ manages them.
		prizesAt(t, withPrizes, "B003", true, "")
		// The version before is untouched.
		prizesAt(t, first, "B001", false, "")
	})

	var last uint64
	t.Run("CarriedForward", func(t *testing.T) {
		for range 3 {
			imp := committed(t, nil)
			if imp.Prizes {
				t.Fatalf("import %+v brought no prizes", imp)
			}
			last = imp.Version
		}
		// The version that brought the tables is no longer retained
		// (Retain 3); its tables still are, the newer versions use them.
		if _, _, err := c.leader(t).Prizes(withPrizes, "B001"); !errors.Is(err, store.ErrVersionGone) {
			t.Fatalf("version %d: err %v, want it no longer retained (ErrVersionGone)", withPrizes, err)
		}
		if pv := versionOf(t, last).PrizesVersion; pv != withPrizes {
			t.Fatalf("prizes_version %d, want %d", pv, withPrizes)
		}
		prizesAt(t, last, "B001", true, wantFingerprint(t, v1, "B001"))
	})

	t.Run("ErrBadLine", func(t *testing.T) {
		bad := strings.Replace(prizesCSV(60, "B001"), "20000,60", "20000,-60", 1)
		imp := c.importWithPrizes(t, tags, staff, &bad)
		if imp.Status != store.StatusRefused || len(imp.LineErrors) != 1 {
			t.Fatalf("import %+v, want refused with one line error", imp)
		}
		if le := imp.LineErrors[0]; le.File != "prizes" || le.Line != 6 || le.Field != "inventory" {
			t.Fatalf("line error %+v, want prizes line 6 field inventory", le)
		}
		if v := c.leader(t).LatestVersion(); v != last {
			t.Fatalf("version %d after a refused import, want %d", v, last)
		}
		prizesAt(t, last, "B001", true, wantFingerprint(t, v1, "B001"))
	})

	t.Run("ErrRefusedTagsUndoPrizes", func(t *testing.T) {
		// Good tables with a bad snapshot: refused, and the tables it
		// replicated are undone, so the next import carries v1's forward.
		good := prizesCSV(70, "B001")
		badTags := bytes.Replace(tags, []byte(",normal,"), []byte(",silver,"), 1)
		if imp := c.importWithPrizes(t, badTags, staff, &good); imp.Status != store.StatusRefused {
			t.Fatalf("import %+v, want refused", imp)
		}
		last = committed(t, nil).Version
		prizesAt(t, last, "B001", true, wantFingerprint(t, v1, "B001"))
	})

	t.Run("Changed", func(t *testing.T) {
		v2 := prizesCSV(80, "B001")
		imp := committed(t, &v2)
		if imp.PrizeTables != 1 {
			t.Fatalf("import %+v, want 1 prize table", imp)
		}
		if wantFingerprint(t, v2, "B001") == wantFingerprint(t, v1, "B001") {
			t.Fatal("a raised stock must change the fingerprint")
		}
		prizesAt(t, imp.Version, "B001", true, wantFingerprint(t, v2, "B001"))
		prizesAt(t, imp.Version, "B002", true, "")
	})

	t.Run("Withdrawn", func(t *testing.T) {
		imp := committed(t, str(prizes.Header+"\n"))
		if !imp.Prizes || imp.PrizeTables != 0 {
			t.Fatalf("import %+v, want a prize file of no tables", imp)
		}
		prizesAt(t, imp.Version, "B001", true, "")
		withdrawn := imp.Version

		// Once no retained version uses the older tables, they are gone
		// from every node.
		for range 3 {
			committed(t, nil)
		}
		c.waitApplied(t, c.leader(t))
		for _, s := range c.open() {
			if vs, err := store.PrizeVersions(s); err != nil || len(vs) != 1 || vs[0] != withdrawn {
				t.Fatalf("%s keeps the prize tables of versions %v (%v), want only %d", s.ID(), vs, err, withdrawn)
			}
		}
	})
}
