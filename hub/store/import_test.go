package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/store"
)

// newTag is the tag HQ adds in these tests.
const newTag = "155,drone_hobbyist,无人机爱好者,Drone hobbyist,branch,lifestyle,85"

// shippedDictCSV is the shipped tag dictionary file.
func shippedDictCSV(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile("../../tagdict.csv")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// addTagTo returns the snapshot CSV with the tag code added to the tags of
// the data rows in rows (0-based).
func addTagTo(tb testing.TB, csv []byte, code string, rows ...int) []byte {
	tb.Helper()
	lines := strings.Split(strings.TrimSuffix(string(csv), "\n"), "\n")
	for _, i := range rows {
		f := strings.Split(lines[i+1], ",")
		if len(f) != 18 {
			tb.Fatalf("row %d has %d fields", i, len(f))
		}
		if f[12] == "" {
			f[12] = code
		} else {
			f[12] += ";" + code
		}
		lines[i+1] = strings.Join(f, ",")
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// importWith runs an import with an optional dictionary, sent before or
// after the tags.
func importWith(tb testing.TB, s *store.Store, dict string, dictAfter bool, tags []byte, opts store.ImportOptions) *store.Import {
	tb.Helper()
	ctx := context.Background()
	opts.Format = hub.FormatCSV
	run, err := s.BeginImport(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	if dict != "" && !dictAfter {
		if err := run.Dict(ctx, strings.NewReader(dict)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := run.Tags(ctx, bytes.NewReader(tags)); err != nil {
		tb.Fatal(err)
	}
	if dict != "" && dictAfter {
		if err := run.Dict(ctx, strings.NewReader(dict)); err != nil {
			tb.Fatal(err)
		}
	}
	imp, err := run.Finish(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return imp
}

// customerTags returns the tag ids of a customer at a version.
func customerTags(tb testing.TB, s *store.Store, branch, id string, version uint64) []int {
	tb.Helper()
	var tags []int
	found := false
	err := s.Customers(branch, version, func(c *huiyan.Customer) error {
		if c.ID == id {
			tags, found = c.Tags, true
		}
		return nil
	})
	if err != nil || !found {
		tb.Fatalf("customer at version %d: found=%v err=%v", version, found, err)
	}
	return tags
}

// TestImport_Dict: HQ's dictionary travels with an import, becomes the
// next dictionary version only when it differs, is the one the tags are
// checked against, and is refused, with nothing changed, when it re-points
// an id.
func TestImport_Dict(t *testing.T) {
	s := MustOpenLeader(t, "n1")
	shipped := shippedDictCSV(t)
	tags, _ := genTags(t, 200, 3)
	home := func(i int) string { return strings.Split(strings.Split(string(tags), "\n")[i+1], ",")[3] }
	opts := store.ImportOptions{BatchBytes: 16 << 10, SpillMemory: 8 << 10}

	t.Run("FirstImportStoresShipped", func(t *testing.T) {
		imp := importWith(t, s, "", false, tags, opts)
		if imp.Status != store.StatusCommitted || imp.DictVersion != 1 || imp.DictTags != 0 {
			t.Fatalf("import %+v, want committed with dictionary 1", imp)
		}
		d, err := s.Dict(1)
		if err != nil || !hub.SameTags(d, huiyan.DefaultTagDict()) || d.Version() != 1 {
			t.Fatalf("Dict(1)=%v err=%v, want the shipped dictionary", d, err)
		}
	})

	withNew := strings.TrimRight(shipped, "\n") + "\n" + newTag + "\n"
	tagged := addTagTo(t, tags, "drone_hobbyist", 0, 5)
	t.Run("AddTagAndUseIt", func(t *testing.T) {
		imp := importWith(t, s, withNew, false, tagged, opts)
		if imp.Status != store.StatusCommitted || imp.Version != 2 || imp.DictVersion != 2 || imp.DictTags != 167 || imp.Changed != 2 {
			t.Fatalf("import %+v, want version 2, dictionary 2 of 167 tags, 2 customers changed", imp)
		}
		d2, err := s.Dict(2)
		if err != nil || d2.Version() != 2 || d2.ByCode("drone_hobbyist") == nil || d2.ByCode("drone_hobbyist").ID != 155 {
			t.Fatalf("Dict(2)=%v err=%v, want version 2 with drone_hobbyist as 155", d2, err)
		}
		if d1, _ := s.Dict(1); d1.ByCode("drone_hobbyist") != nil {
			t.Fatal("Dict(1) changed")
		}
		if v, _ := s.Version(2); v.DictVersion != 2 {
			t.Fatalf("version 2 names dictionary %d, want 2", v.DictVersion)
		}
		if got := customerTags(t, s, home(0), rowID(tags, 0), 2); !slices.Contains(got, 155) {
			t.Fatalf("customer tags %v, want 155 among them", got)
		}
	})

	t.Run("SameDictNoNewVersion", func(t *testing.T) {
		imp := importWith(t, s, withNew, false, tagged, opts)
		if imp.Status != store.StatusCommitted || imp.Version != 3 || imp.DictVersion != 2 || imp.Changed != 0 {
			t.Fatalf("import %+v, want version 3 with dictionary 2 unchanged", imp)
		}
	})

	t.Run("NoDictKeepsCurrent", func(t *testing.T) {
		imp := importWith(t, s, "", false, tagged, opts)
		if imp.Status != store.StatusCommitted || imp.Version != 4 || imp.DictVersion != 2 {
			t.Fatalf("import %+v, want version 4 with dictionary 2: the tags use tag 155", imp)
		}
	})

	refused := func(t *testing.T, imp *store.Import, file string, line int, field, reason string) {
		t.Helper()
		if imp.Status != store.StatusRefused || len(imp.LineErrors) == 0 {
			t.Fatalf("import %+v, want refused", imp)
		}
		e := imp.LineErrors[0]
		if e.File != file || e.Line != line || e.Field != field || !strings.Contains(e.Reason, reason) {
			t.Fatalf("line error %+v, want %s line %d field %q reason containing %q", e, file, line, field, reason)
		}
		if s.LatestVersion() != 4 {
			t.Fatalf("latest version %d after a refused import, want 4", s.LatestVersion())
		}
		if d, err := s.Dict(4); err != nil || d.Version() != 2 {
			t.Fatalf("Dict(4)=%v err=%v, want dictionary 2", d, err)
		}
	}
	t.Run("ErrRepointID", func(t *testing.T) {
		// Id 155 given to another tag, which the tags use.
		repointed := strings.Replace(withNew, "155,drone_hobbyist,", "155,kite_flyer,", 1)
		imp := importWith(t, s, repointed, false, addTagTo(t, tags, "kite_flyer", 1), opts)
		refused(t, imp, "dict", 168, "id", `id 155 is tag "drone_hobbyist"`)
		if len(imp.LineErrors) != 1 {
			t.Fatalf("line errors %v, want only the dictionary's: the tags are checked against it", imp.LineErrors)
		}
	})
	t.Run("ErrRetiredTagInTags", func(t *testing.T) {
		// The new dictionary retires drone_hobbyist: the tags that still
		// carry it are checked against the new one.
		imp := importWith(t, s, shipped, false, tagged, opts)
		refused(t, imp, "tags", 2, "tags", `unknown tag "drone_hobbyist"`)
	})
	t.Run("ErrDictAfterTags", func(t *testing.T) {
		imp := importWith(t, s, withNew, true, tagged, opts)
		refused(t, imp, "dict", 0, "", "must come before the tags file")
	})
}

// TestImport_DuplicatesSpilled: a duplicate customer id or token anywhere
// in a file whose checks spilled to many run files refuses the whole
// import with both line numbers, nothing changes, and no spill file is
// left.
func TestImport_DuplicatesSpilled(t *testing.T) {
	s := MustOpenLeader(t, "n1")
	tags, _ := genTags(t, 800, 4)
	opts := store.ImportOptions{BatchBytes: 32 << 10, SpillMemory: 4 << 10}
	if imp := importWith(t, s, "", false, tags, opts); imp.Status != store.StatusCommitted {
		t.Fatalf("import %+v", imp)
	}
	lines := strings.Split(strings.TrimSuffix(string(tags), "\n"), "\n")
	for _, tt := range []struct {
		name  string
		edit  func(*testing.T, []string) []string
		field string
		want  string
	}{
		{"ErrID", func(_ *testing.T, l []string) []string { return append(l, l[10]) }, "customer_id", "duplicate customer_id (first on line 11)"},
		{"ErrToken", func(t *testing.T, l []string) []string {
			// Row 20's first token becomes row 700's phone token.
			f, g := strings.Split(l[20], ","), strings.Split(l[700], ",")
			tok, _, _ := strings.Cut(strings.TrimLeft(strings.Join(f[14:18], ";"), ";"), ";")
			if tok == "" || slices.Contains(g[14:18], tok) {
				t.Fatalf("rows 20 and 700 of the generated data do not fit this test")
			}
			g[17] = tok
			l[700] = strings.Join(g, ",")
			return l
		}, "phone_token", "token already belongs to the customer on line 21"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edited := []byte(strings.Join(tt.edit(t, slices.Clone(lines)), "\n") + "\n")
			imp := importWith(t, s, "", false, edited, opts)
			if imp.Status != store.StatusRefused || imp.Errors == 0 {
				t.Fatalf("import %+v, want refused", imp)
			}
			found := false
			for _, e := range imp.LineErrors {
				found = found || (e.Field == tt.field && e.Reason == tt.want)
			}
			if !found {
				t.Fatalf("line errors %+v, want field %s %q", imp.LineErrors, tt.field, tt.want)
			}
			if s.LatestVersion() != 1 {
				t.Fatalf("latest version %d, want 1", s.LatestVersion())
			}
			left, _ := os.ReadDir(filepath.Join(s.Dir(), "import-tmp"))
			if len(left) != 0 {
				t.Fatalf("%d entries left under import-tmp", len(left))
			}
		})
	}
}

// TestImport_DeletesPaged: the customers absent from a new snapshot are
// found by merging the file's sorted ids with the state page by page; many
// pages and several delete commands give exactly the absent customers.
func TestImport_DeletesPaged(t *testing.T) {
	defer store.SetDeletePage(7)()
	s := MustOpenLeader(t, "n1")
	tags, _ := genTags(t, 400, 3)
	opts := store.ImportOptions{BatchBytes: 16 << 10, DeleteBatch: 5, SpillMemory: 4 << 10}
	if imp := importWith(t, s, "", false, tags, opts); imp.Status != store.StatusCommitted {
		t.Fatalf("import %+v", imp)
	}
	var drop []int
	for i := 0; i < 400; i += 9 {
		drop = append(drop, i)
	}
	drop = append(drop, 399)
	imp := importWith(t, s, "", false, editTags(t, tags, nil, drop), opts)
	if imp.Status != store.StatusCommitted || imp.Deleted != len(drop) || imp.Customers != 400-len(drop) {
		t.Fatalf("import %+v, want %d deleted", imp, len(drop))
	}
	gone := map[string]bool{}
	for _, i := range drop {
		gone[rowID(tags, i)] = true
	}
	bs, err := s.Branches()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range bs {
		for _, id := range branchIDs(t, s, b.ID, 2) {
			if gone[id] {
				t.Fatalf("branch %s: a dropped customer is still there at version 2", b.ID)
			}
			n++
		}
	}
	if v, _ := s.Version(2); v.Customers != 400-len(drop) || n < v.Customers {
		t.Fatalf("version 2 has %d customers (%d branch entries), want %d", v.Customers, n, 400-len(drop))
	}
}
