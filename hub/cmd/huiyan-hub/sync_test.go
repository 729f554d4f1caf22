package main

import (
	"context"
	"encoding/json"
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
	hubhttp "huiyan/hub/http"
	"huiyan/hub/store"
)

// TestHub_EdgeSync: HQ imports a snapshot into a 3-node cluster, an edge
// with its own credential syncs its branch from a follower with the real
// sync client and bbolt store, then a second import with changes reaches
// it as a delta and the profile the edge composes for the PADs changes; a
// second branch's credential cannot read this branch.
func TestHub_EdgeSync(t *testing.T) {
	c := testConfig(t, "n1")
	c.Bootstrap = true
	m := MustRunMain(t, c)
	testPoll(t, "n1 leads", func() bool { return m.Store.IsLeader() }, 10*time.Second)
	nodes := []*Main{m}
	for i, id := range []string{"n2", "n3"} {
		nc := testConfig(t, id)
		nc.Join = "http://" + nodes[i].HTTPAddr()
		nodes = append(nodes, MustRunMain(t, nc))
	}
	base := "http://" + m.HTTPAddr()            // HQ talks to the leader
	follower := "http://" + nodes[2].HTTPAddr() // the edge to a follower
	// caughtUp waits until the follower has applied everything the leader
	// has: the version and the credential issued after it.
	caughtUp := func(v uint64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := nodes[2].Store.WaitForIndex(ctx, m.Store.AppliedIndex()); err != nil || nodes[2].Store.LatestVersion() != v {
			t.Fatalf("follower at version %d (%v), want %d", nodes[2].Store.LatestVersion(), err, v)
		}
	}

	importFile := func(tags, staff []byte) store.Import {
		t.Helper()
		body, ct := multipartBody(t, tags, staff)
		st, b := call(t, "POST", base+"/v1/imports", testToken, body, ct)
		if st != http.StatusCreated {
			t.Fatalf("import: %d %s", st, b)
		}
		var imp store.Import
		json.Unmarshal(b, &imp)
		return imp
	}
	credential := func(branch string) string {
		st, b := call(t, "POST", base+"/v1/credentials/"+branch, testToken, nil, "")
		if st != http.StatusCreated {
			t.Fatalf("credential: %d %s", st, b)
		}
		var cr hubhttp.CredentialResponse
		json.Unmarshal(b, &cr)
		return cr.Credential
	}

	tags, staff := genFiles(t, 600, 2)
	if imp := importFile(tags, staff); imp.Version != 1 {
		t.Fatalf("import %+v", imp)
	}
	cred := credential("B001")
	caughtUp(1)
	pub, err := os.ReadFile(filepath.Join(nodes[2].Config.DataDir, "hub.pub"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := hub.ParsePublicKeys(pub)
	if err != nil {
		t.Fatal(err)
	}
	client, err := hub.NewClient(follower, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := edge.NewSyncer(db, edge.SyncConfig{Branch: "B001", KeyID: "k1", Client: client, Keys: keys, ChunkDir: t.TempDir()})
	ctx := context.Background()
	held := func() (edge.Meta, int) {
		var meta edge.Meta
		db.View(ctx, func(tx edge.Tx) error { meta, _ = tx.Meta(); return nil })
		n := 0
		for _, err := range db.Customers(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return meta, n
	}

	t.Run("Full", func(t *testing.T) {
		if ok, err := s.SyncOnce(ctx); err != nil || !ok {
			t.Fatalf("sync: applied=%v err=%v", ok, err)
		}
		meta, n := held()
		if meta.SnapshotVersion != 1 || n == 0 || n >= 600 {
			t.Fatalf("edge holds version %d with %d customers, want version 1 with B001's share of 600", meta.SnapshotVersion, n)
		}
		var sawStaff bool
		db.View(ctx, func(tx edge.Tx) error { _, err := tx.Staff("lobby-B001"); sawStaff = err == nil; return nil })
		if !sawStaff {
			t.Fatal("the roster did not come with the snapshot")
		}
		var br struct {
			Branches []store.Branch `json:"branches"`
		}
		testPoll(t, "the hub knows B001 holds version 1", func() bool {
			getJSON(t, base+"/v1/branches", testToken, &br)
			for _, b := range br.Branches {
				if b.ID == "B001" && b.Applied == 1 {
					return true
				}
			}
			return false
		}, 10*time.Second)
	})

	t.Run("Delta", func(t *testing.T) {
		// Version 2: the last B001 customer of the file is gone and the
		// first one with an ID card moves to another lifecycle stage.
		lines := strings.Split(strings.TrimRight(string(tags), "\n"), "\n")
		for i := len(lines) - 1; i > 0; i-- {
			if strings.Split(lines[i], ",")[3] == "B001" {
				lines = append(lines[:i], lines[i+1:]...)
				break
			}
		}
		var idcard, stage string
		for i := 1; i < len(lines); i++ {
			f := strings.Split(lines[i], ",")
			if f[3] == "B001" && f[14] != "" {
				stage = map[bool]string{true: "growth", false: "mature"}[f[10] == "mature"]
				f[10], idcard = stage, f[14]
				lines[i] = strings.Join(f, ",")
				break
			}
		}
		if imp := importFile([]byte(strings.Join(lines, "\n")+"\n"), staff); imp.Version != 2 {
			t.Fatalf("import %+v", imp)
		}
		caughtUp(2)
		before, n1 := held()
		raw, err := client.Manifest(ctx, "B001", before.SnapshotVersion)
		if err != nil {
			t.Fatal(err)
		}
		mf, err := hub.Verify(raw, keys, "B001", before.SnapshotVersion, time.Now())
		if err != nil || mf.Full || mf.BaseVersion != 1 || mf.Version != 2 || mf.Records() != 2 {
			t.Fatalf("manifest %+v err=%v, want a delta 1→2 of two records", mf, err)
		}
		if ok, err := s.SyncOnce(ctx); err != nil || !ok {
			t.Fatalf("sync: applied=%v err=%v", ok, err)
		}
		after, n2 := held()
		if after.SnapshotVersion != 2 || n2 != n1-1 {
			t.Fatalf("after delta: version %d with %d customers, want 2 with %d", after.SnapshotVersion, n2, n1-1)
		}
		if ok, err := s.SyncOnce(ctx); err != nil || ok {
			t.Fatalf("nothing newer: applied=%v err=%v", ok, err)
		}

		// The customer arrives: the profile the PADs get has the new stage.
		node := edge.NewNode(db, edge.Config{Branch: "B001"})
		if err := node.Open(ctx); err != nil {
			t.Fatal(err)
		}
		defer node.Close()
		var got []huiyan.FeedEvent
		node.SetPublisher(publisherFunc(func(e huiyan.FeedEvent) { got = append(got, e) }))
		err = node.HandleArrival(ctx, huiyan.Arrival{EventID: "sc-01-000001", Branch: "B001", Device: "sc-01",
			Channel: huiyan.ChannelCounter, At: time.Now(), Idents: []huiyan.Ident{{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: idcard}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0].Profile == nil || string(got[0].Profile.Lifecycle) != stage {
			t.Fatalf("profile after the delta: %+v, want lifecycle %s", got, stage)
		}
	})

	t.Run("OtherBranchForbidden", func(t *testing.T) {
		other := credential("B002")
		for _, path := range []string{hub.ManifestPath("B001") + "?have=0", "/v1/branches/B001/chunks/" + strings.Repeat("a", 64)} {
			st, _ := call(t, "GET", base+path, other, nil, "")
			if st != http.StatusForbidden {
				t.Fatalf("GET %s with B002's credential: %d, want 403", path, st)
			}
		}
		if st, _ := call(t, "GET", base+hub.ManifestPath("B001"), "", nil, ""); st != http.StatusUnauthorized {
			t.Fatalf("no credential: %d, want 401", st)
		}
		// B002's edge fetches its manifest; B001's edge, knowing one of
		// B002's chunk hashes, still cannot fetch it under its own branch.
		otherClient, err := hub.NewClient(base, other, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := otherClient.Manifest(ctx, "B002", 0)
		if err != nil {
			t.Fatal(err)
		}
		mf, err := hub.Verify(raw, keys, "B002", 0, time.Now())
		if err != nil || len(mf.Chunks) == 0 {
			t.Fatalf("B002 manifest: %+v %v", mf, err)
		}
		if _, err := otherClient.Chunk(ctx, "B002", mf.Chunks[0].SHA256, mf.Chunks[0].Size, ""); err != nil {
			t.Fatalf("B002 fetching its own chunk: %v", err)
		}
		if st, _ := call(t, "GET", base+"/v1/branches/B001/chunks/"+mf.Chunks[0].SHA256, cred, nil, ""); st != http.StatusNotFound {
			t.Fatalf("B001 fetching B002's chunk by hash: %d, want 404", st)
		}
	})
}

type publisherFunc func(huiyan.FeedEvent)

func (f publisherFunc) Publish(e huiyan.FeedEvent) { f(e) }
