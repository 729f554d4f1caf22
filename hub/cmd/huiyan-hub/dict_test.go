package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/hub"
	"huiyan/hub/store"
)

// TestHub_TagDictionary: HQ uploads a dictionary that adds a tag, with
// customers carrying it, through `huiyan-hub import`; a syncing edge gets
// the dictionary with the full snapshot and shows the tag's name on the
// profile. A second dictionary reaches it in a delta (an OpDict record).
// A dictionary that re-points an id is refused with a line error and
// nothing changes; one sent after the tags part is refused too.
func TestHub_TagDictionary(t *testing.T) {
	c := testConfig(t, "n1")
	c.Bootstrap = true
	m := MustRunMain(t, c)
	testPoll(t, "n1 leads", func() bool { return m.Store.IsLeader() }, 10*time.Second)
	base := "http://" + m.HTTPAddr()
	ctx := context.Background()

	shipped, err := os.ReadFile("../../../tagdict.csv")
	if err != nil {
		t.Fatal(err)
	}
	const drone = "155,drone_hobbyist,无人机爱好者,Drone hobbyist,branch,lifestyle,85"
	const kite = "156,kite_flyer,风筝爱好者,Kite flyer,branch,lifestyle,86"
	dictV2 := strings.TrimRight(string(shipped), "\n") + "\n" + drone + "\n"
	dictV3 := dictV2 + kite + "\n"

	// Two customers of B001 with an ID card: the first gets the new tag
	// now, the second the one after.
	tags, staff := genFiles(t, 300, 2)
	lines := strings.Split(strings.TrimRight(string(tags), "\n"), "\n")
	var rows []int
	for i := 1; i < len(lines) && len(rows) < 2; i++ {
		if f := strings.Split(lines[i], ","); f[3] == "B001" && f[14] != "" {
			rows = append(rows, i)
		}
	}
	if len(rows) != 2 {
		t.Fatal("no two B001 customers with an ID card in the generated data")
	}
	addTag := func(i int, code string) {
		f := strings.Split(lines[i], ",")
		f[12] = strings.TrimPrefix(f[12]+";"+code, ";")
		lines[i] = strings.Join(f, ",")
	}
	idcard := func(i int) string { return strings.Split(lines[i], ",")[14] }
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	staffPath := write("staff.csv", string(staff))
	importCmd := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := runImport(ctx, append([]string{"-hub", base, "-token", testToken}, args...), &out, &errOut)
		return out.String(), errOut.String(), err
	}

	// The edge of B001, synced with the real client and bbolt store.
	client, keys := edgeClient(t, base, c.DataDir, "B001")
	db, err := bolt.Open(filepath.Join(t.TempDir(), "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	syncer := edge.NewSyncer(db, edge.SyncConfig{Branch: "B001", KeyID: "k1", Client: client, Keys: keys, ChunkDir: t.TempDir()})
	// profileTags syncs, then has the customer arrive and returns the tags
	// of the profile the PADs get.
	profileTags := func(t *testing.T, card string) map[string]string {
		t.Helper()
		if ok, err := syncer.SyncOnce(ctx); err != nil || !ok {
			t.Fatalf("sync: applied=%v err=%v", ok, err)
		}
		node := edge.NewNode(db, edge.Config{Branch: "B001"})
		if err := node.Open(ctx); err != nil {
			t.Fatal(err)
		}
		defer node.Close()
		var got []huiyan.FeedEvent
		node.SetPublisher(publisherFunc(func(e huiyan.FeedEvent) { got = append(got, e) }))
		err := node.HandleArrival(ctx, huiyan.Arrival{EventID: "sc-01-" + card[:8], Branch: "B001", Device: "sc-01",
			Channel: huiyan.ChannelCounter, At: time.Now(), Idents: []huiyan.Ident{{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: card}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0].Profile == nil {
			t.Fatalf("no profile: %+v", got)
		}
		names := map[string]string{}
		for _, tag := range got[0].Profile.Tags {
			names[tag.Code] = tag.NameZH
		}
		return names
	}
	edgeDict := func() int {
		var meta edge.Meta
		db.View(ctx, func(tx edge.Tx) error { meta, _ = tx.Meta(); return nil })
		return meta.DictVersion
	}

	t.Run("AddTag", func(t *testing.T) {
		addTag(rows[0], "drone_hobbyist")
		tagsPath := write("tags.csv", strings.Join(lines, "\n")+"\n")
		// The dictionary is told from the roster by its header.
		out, errOut, err := importCmd(tagsPath, staffPath, write("tagdict.csv", dictV2))
		if err != nil || !strings.Contains(out, "committed: version 1") || !strings.Contains(errOut, "167 tags, dictionary version 2") {
			t.Fatalf("import: %v\nstdout %q\nstderr %q", err, out, errOut)
		}
		names := profileTags(t, idcard(rows[0]))
		if names["drone_hobbyist"] != "无人机爱好者" {
			t.Fatalf("profile tags %v, want drone_hobbyist named 无人机爱好者", names)
		}
		if v := edgeDict(); v != 2 {
			t.Fatalf("edge holds dictionary %d, want 2", v)
		}
	})

	t.Run("DeltaCarriesDict", func(t *testing.T) {
		addTag(rows[1], "kite_flyer")
		tagsPath := write("tags.csv", strings.Join(lines, "\n")+"\n")
		out, errOut, err := importCmd("-dict", write("tagdict.csv", dictV3), tagsPath, staffPath)
		if err != nil || !strings.Contains(out, "committed: version 2") {
			t.Fatalf("import: %v\nstdout %q\nstderr %q", err, out, errOut)
		}
		raw, err := client.Manifest(ctx, "B001", 1)
		if err != nil {
			t.Fatal(err)
		}
		mf, err := hub.Verify(raw, keys, "B001", 1, time.Now())
		if err != nil || mf.Full || mf.DictVersion != 3 || mf.Records() != 2 {
			t.Fatalf("manifest %+v err=%v, want a delta with dict_version 3 of two records (the dictionary, one customer)", mf, err)
		}
		names := profileTags(t, idcard(rows[1]))
		if names["kite_flyer"] != "风筝爱好者" {
			t.Fatalf("profile tags %v, want kite_flyer named 风筝爱好者", names)
		}
		if v := edgeDict(); v != 3 {
			t.Fatalf("edge holds dictionary %d, want 3", v)
		}
	})

	t.Run("ErrRepointedID", func(t *testing.T) {
		repointed := strings.Replace(dictV3, "156,kite_flyer,", "156,paraglider,", 1)
		tagsPath := write("tags.csv", strings.Join(lines, "\n")+"\n")
		out, errOut, err := importCmd(tagsPath, write("tagdict.csv", repointed))
		if err == nil || exitCode(err) != 1 || !strings.Contains(errOut, `tagdict.csv:169: field id: id 156 is tag "kite_flyer"`) {
			t.Fatalf("import: %v\nstdout %q\nstderr %q", err, out, errOut)
		}
		if v := m.Store.LatestVersion(); v != 2 {
			t.Fatalf("version %d after a refused dictionary, want 2", v)
		}
		if d, err := m.Store.Dict(2); err != nil || d.Version() != 3 || d.ByID(156).Code != "kite_flyer" {
			t.Fatalf("dictionary of version 2: %v %v, want version 3 with 156 kite_flyer", d, err)
		}
		if ok, err := syncer.SyncOnce(ctx); err != nil || ok {
			t.Fatalf("sync after the refusal: applied=%v err=%v, want nothing new", ok, err)
		}
	})

	// upload posts the parts, in order, as `huiyan-hub import` would.
	upload := func(t *testing.T, parts ...[3]string) (int, store.Import, []byte) {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, p := range parts {
			w, _ := mw.CreateFormFile(p[0], p[1])
			io.WriteString(w, p[2])
		}
		mw.Close()
		st, b := call(t, "POST", base+"/v1/imports", testToken, &body, mw.FormDataContentType())
		var imp store.Import
		json.Unmarshal(b, &imp)
		return st, imp, b
	}
	tagsPart := [3]string{"tags", "tags.csv", strings.Join(lines, "\n") + "\n"}
	dictPart := [3]string{"dict", "tagdict.csv", dictV3}

	t.Run("ErrDictAfterTags", func(t *testing.T) {
		st, imp, b := upload(t, tagsPart, dictPart)
		if st != http.StatusUnprocessableEntity || len(imp.LineErrors) != 1 || imp.LineErrors[0].File != "dict" || !strings.Contains(imp.LineErrors[0].Reason, "before the tags") {
			t.Fatalf("dictionary after the tags: %d %s, want 422 with the dictionary's line error", st, b)
		}
	})
	t.Run("ErrTwoDicts", func(t *testing.T) {
		if st, _, b := upload(t, dictPart, dictPart, tagsPart); st != http.StatusBadRequest || !strings.Contains(string(b), "two tag dictionaries") {
			t.Fatalf("two dictionaries: %d %s, want 400", st, b)
		}
		if v := m.Store.LatestVersion(); v != 2 {
			t.Fatalf("version %d, want 2", v)
		}
	})
}
