package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"huiyan/hub"
)

// edgeClient is what an edge of branch needs to sync from the hub at
// base whose data dir is dataDir: a credential issued by the admin, and
// the cluster's public keys. The node writes hub.pub when it applies the
// cluster's key, which may come a moment after it answers as leader.
func edgeClient(t *testing.T, base, dataDir, branch string) (*hub.Client, hub.KeySet) {
	t.Helper()
	st, b := call(t, "POST", base+"/v1/credentials/"+branch, testToken, nil, "")
	if st != http.StatusCreated {
		t.Fatalf("credential: %d %s", st, b)
	}
	var cr struct {
		Credential string `json:"credential"`
	}
	if err := json.Unmarshal(b, &cr); err != nil {
		t.Fatal(err)
	}
	var pub []byte
	testPoll(t, "hub.pub written", func() bool {
		var err error
		pub, err = os.ReadFile(filepath.Join(dataDir, "hub.pub"))
		return err == nil
	}, 10*time.Second)
	keys, err := hub.ParsePublicKeys(pub)
	if err != nil {
		t.Fatal(err)
	}
	client, err := hub.NewClient(base, cr.Credential, nil)
	if err != nil {
		t.Fatal(err)
	}
	return client, keys
}
