package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/firmware-contracts/devsim"
)

func metaOf(t *testing.T, dir string) edge.Meta {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var m edge.Meta
	if err := db.View(context.Background(), func(tx edge.Tx) error {
		var err error
		m, err = tx.Meta()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestImport_AllOrNothing: a file with bad lines is refused as a whole,
// every bad line is reported with its number, and the cache keeps the data
// and version it had.
func TestImport_AllOrNothing(t *testing.T) {
	src := t.TempDir()
	if _, err := devsim.Gen(context.Background(), devsim.GenConfig{Customers: 300, Branches: 1, Seed: 9}, src); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "edge")
	tags, staff := filepath.Join(src, "tags.csv"), filepath.Join(src, "staff.csv")
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), []string{"-data", dir, "-branch", testBranch, tags, staff}, &out, &errb); err != nil {
		t.Fatalf("good import: %v %s", err, errb.String())
	}
	before := metaOf(t, dir)
	if before.SnapshotVersion != 1 || before.Customers != 300 {
		t.Fatalf("meta=%+v, want version 1 with 300 customers", before)
	}

	b, err := os.ReadFile(tags)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	bad := strings.Split(lines[5], ",")
	bad[1] = "王小明" // a full name: must never be stored
	lines[5] = strings.Join(bad, ",")
	bad = strings.Split(lines[9], ",")
	bad[2] = "silver" // tier
	lines[9] = strings.Join(bad, ",")
	broken := filepath.Join(t.TempDir(), "tags.csv")
	if err := os.WriteFile(broken, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	err = runImport(context.Background(), []string{"-data", dir, "-branch", testBranch, broken, staff}, &out, &errb)
	if err == nil {
		t.Fatal("import with bad lines succeeded")
	}
	for _, want := range []string{"line 6: field display_name", "line 10: field tier"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("errors %q do not report %q", errb.String(), want)
		}
	}
	if strings.Contains(errb.String(), "王小明") {
		t.Error("the error report repeats the full name")
	}
	if after := metaOf(t, dir); after.SnapshotVersion != before.SnapshotVersion || after.Customers != before.Customers {
		t.Fatalf("after a refused import meta=%+v, want it unchanged %+v", after, before)
	}
}

// TestOperations checks /healthz and /metrics of a running edge.
func TestOperations(t *testing.T) {
	ds := mustDataSet(t)
	m := mustRunMain(t, ds.Dir, "")
	base := "http://" + m.HTTPAddr()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h health
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %s", err, resp.Status)
	}
	if h.Status != "ok" || h.Branch != testBranch || h.SnapshotVersion != 1 || h.Broker != "connected" || h.SnapshotAgeS < 0 || h.Customers == 0 {
		t.Fatalf("healthz=%+v", h)
	}
	dev := newDevice(t, m.BrokerURL(), "sc-03")
	dev.publishRaw(mustTopic(t, "counter", "sc-03"), []byte(`{"v":1}`))
	if r := dev.reject(10 * time.Second); r.Code == "" {
		t.Fatal("no reject code")
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"huiyan_edge_arrivals_total", "huiyan_edge_recognised_total", "huiyan_edge_rejected_total{code=",
		"huiyan_edge_arrival_to_pad_seconds_bucket", "huiyan_edge_visits_open", "huiyan_pad_connections"} {
		if !bytes.Contains(body, []byte(name)) {
			t.Errorf("/metrics has no %s", name)
		}
	}
}
