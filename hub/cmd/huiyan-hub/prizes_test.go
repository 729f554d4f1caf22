package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/edge/wheel"
	"huiyan/hub"
	"huiyan/hub/funnel"
	"huiyan/hub/prizes"
	"huiyan/hub/store"
)

// TestHub_PrizeWheel (issue 7): HQ imports prizes.csv with the snapshot
// through `huiyan-hub import`; an edge of B001 syncs from the hub with the
// real client and bbolt store, its wheel runs B001's table, and a spin
// draws from it (the audit record names its fingerprint). A second import
// with a changed table reaches the edge as a delta carrying only the
// table, and the next spin draws from the new one, without a restart; an
// import without prizes.csv keeps it; the part may come before the tags.
// A bad line, or two prize files, refuse the import.
func TestHub_PrizeWheel(t *testing.T) {
	c := testConfig(t, "n1")
	c.Bootstrap = true
	m := MustRunMain(t, c)
	testPoll(t, "n1 leads", func() bool { return m.Store.IsLeader() }, 10*time.Second)
	base := "http://" + m.HTTPAddr()
	ctx := context.Background()

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tags, staff := genFiles(t, 300, 2)
	tagsPath, staffPath := write("tags.csv", string(tags)), write("staff.csv", string(staff))
	importCmd := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := runImport(ctx, append([]string{"-hub", base, "-token", testToken}, args...), &out, &errOut)
		return out.String(), errOut.String(), err
	}
	// The campaign runs from yesterday to a month from now; the one prize
	// of B001 is always drawn (weight = the scale), so that a spin's
	// outcome shows which table the wheel runs.
	today := time.Now().In(funnel.CST)
	prizesFile := func(b001Prize string, stock int) string {
		return fmt.Sprintf("# HQ's approved tables\ncampaign,winter\nstarts,%s\nends,%s\nspins_per_day,1\n%s\n"+
			"B001,%s,奖品,Prize,1000000,%d,,\nB001,,谢谢参与,Thanks for playing,rest,,,\n"+
			"B002,cup,保温杯,Thermos cup,1000,5,,\nB002,,谢谢参与,Thanks for playing,rest,,,\n",
			today.AddDate(0, 0, -1).Format(time.DateOnly), today.AddDate(0, 1, 0).Format(time.DateOnly), prizes.Header, b001Prize, stock)
	}
	fingerprint := func(file string) string {
		ts, err := prizes.Parse(strings.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		return ts["B001"].Fingerprint()
	}

	// The edge of B001: the real sync client and bbolt store, and its
	// wheel kept on the data set's table after every applied version, as
	// huiyan-edge does (edge.WheelPrizes, reloaded from SyncConfig.Applied).
	client, keys := edgeClient(t, base, c.DataDir, "B001")
	db, err := bolt.Open(filepath.Join(t.TempDir(), "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := wheel.Open(filepath.Join(t.TempDir(), "wheel.db"), nil, wheel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wp := &edge.WheelPrizes{Wheel: w, Branch: "B001", Logger: testLogger(t)}
	syncer := edge.NewSyncer(db, edge.SyncConfig{Branch: "B001", KeyID: "k1", Client: client, Keys: keys, ChunkDir: t.TempDir(),
		Applied: func(ctx context.Context) error { return wp.Reload(ctx, db) }})
	sync := func(t *testing.T) {
		t.Helper()
		if ok, err := syncer.SyncOnce(ctx); err != nil || !ok {
			t.Fatalf("sync: applied=%v err=%v", ok, err)
		}
	}
	// spin has a new customer spin and returns the prize and the table
	// the audit log says it was drawn from.
	spins := 0
	spin := func(t *testing.T) (string, string) {
		t.Helper()
		spins++
		res, err := w.Spin(ctx, wheel.SpinRequest{Device: "wh-01", Spin: fmt.Sprintf("s%d", spins), Event: fmt.Sprintf("wh-01-%d", spins),
			Customer: fmt.Sprintf("C%07d", spins), Present: true})
		if err != nil {
			t.Fatal(err)
		}
		var table string
		if err := w.Records(ctx, func(r *wheel.Record) error { table = r.Table; return nil }); err != nil {
			t.Fatal(err)
		}
		return res.Prize, table
	}

	v1 := prizesFile("cup", 10)
	t.Run("FullSnapshot", func(t *testing.T) {
		// prizes.csv is told from the roster by its header.
		out, errOut, err := importCmd(tagsPath, staffPath, write("prizes.csv", v1))
		if err != nil || !strings.Contains(out, "committed: version 1") || !strings.Contains(errOut, "prize wheel tables: 2 branches") {
			t.Fatalf("import: %v\nstdout %q\nstderr %q", err, out, errOut)
		}
		sync(t)
		if _, fp := w.Table(); fp != fingerprint(v1) {
			t.Fatalf("wheel runs table %q, want B001's %q", fp, fingerprint(v1))
		}
		prize, table := spin(t)
		if prize != "cup" || table != fingerprint(v1) {
			t.Fatalf("spin won %q from table %q, want cup from %q", prize, table, fingerprint(v1))
		}
		// The hub publishes the same fingerprint for the branch.
		if p, ok, err := m.Store.Prizes(1, "B001"); err != nil || !ok || p.Fingerprint != fingerprint(v1) {
			t.Fatalf("hub: Prizes(1, B001) = %+v, %v, %v", p, ok, err)
		}
	})

	v2 := prizesFile("pen", 30)
	t.Run("DeltaChangesTable", func(t *testing.T) {
		out, errOut, err := importCmd("-prizes", write("prizes-v2.csv", v2), tagsPath, staffPath)
		if err != nil || !strings.Contains(out, "committed: version 2") {
			t.Fatalf("import: %v\nstdout %q\nstderr %q", err, out, errOut)
		}
		raw, err := client.Manifest(ctx, "B001", 1)
		if err != nil {
			t.Fatal(err)
		}
		mf, err := hub.Verify(raw, keys, "B001", 1, time.Now())
		if err != nil || mf.Full || mf.Records() != 1 {
			t.Fatalf("manifest %+v err=%v, want a delta of one record (the prize table)", mf, err)
		}
		sync(t)
		prize, table := spin(t)
		if prize != "pen" || table != fingerprint(v2) {
			t.Fatalf("spin won %q from table %q, want pen from %q", prize, table, fingerprint(v2))
		}
	})

	t.Run("ImportWithoutPrizesKeepsTable", func(t *testing.T) {
		out, errOut, err := importCmd(tagsPath, staffPath)
		if err != nil || !strings.Contains(out, "committed: version 3") {
			t.Fatalf("import: %v\nstdout %q\nstderr %q", err, out, errOut)
		}
		sync(t)
		if _, fp := w.Table(); fp != fingerprint(v2) {
			t.Fatalf("wheel runs table %q after an import without prizes, want %q", fp, fingerprint(v2))
		}
	})

	// upload posts the parts, in order, as a client other than
	// `huiyan-hub import` may.
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
	t.Run("PrizesBeforeTags", func(t *testing.T) {
		v3 := prizesFile("pen", 40)
		st, imp, b := upload(t, [3]string{"prizes", "prizes.csv", v3}, [3]string{"tags", "tags.csv", string(tags)}, [3]string{"staff", "staff.csv", string(staff)})
		if st != http.StatusCreated || imp.Version != 4 || !imp.Prizes || imp.PrizeTables != 2 {
			t.Fatalf("import: %d %s, want version 4 with 2 prize tables", st, b)
		}
		sync(t)
		if _, fp := w.Table(); fp != fingerprint(v3) {
			t.Fatalf("wheel runs table %q, want %q", fp, fingerprint(v3))
		}
	})
	t.Run("ErrTwoPrizeFiles", func(t *testing.T) {
		part := [3]string{"prizes", "prizes.csv", v2}
		if st, _, b := upload(t, part, part, [3]string{"tags", "tags.csv", string(tags)}); st != http.StatusBadRequest || !strings.Contains(string(b), "two prize table files") {
			t.Fatalf("two prize files: %d %s, want 400", st, b)
		}
		if v := m.Store.LatestVersion(); v != 4 {
			t.Fatalf("version %d, want 4", v)
		}
	})

	t.Run("ErrBadLine", func(t *testing.T) {
		bad := strings.Replace(v2, "B002,cup,保温杯,Thermos cup,1000,5", "B002,cup,保温杯,Thermos cup,1000,five", 1)
		out, errOut, err := importCmd(tagsPath, staffPath, write("prizes-bad.csv", bad))
		if err == nil || exitCode(err) != 1 || !strings.Contains(errOut, "prizes-bad.csv:9: field inventory:") {
			t.Fatalf("import: %v\nstdout %q\nstderr %q", err, out, errOut)
		}
		if v := m.Store.LatestVersion(); v != 4 {
			t.Fatalf("version %d after a refused import, want 4", v)
		}
		if ok, err := syncer.SyncOnce(ctx); err != nil || ok {
			t.Fatalf("sync after the refusal: applied=%v err=%v, want nothing new", ok, err)
		}
	})
}
