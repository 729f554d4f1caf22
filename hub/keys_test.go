package hub_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"

	"huiyan/hub"
)

func TestKeyID(t *testing.T) {
	k := pub(MustKey(t, "hub-1"))
	sum := sha256.Sum256(k)
	if got, want := hub.KeyID(k), hex.EncodeToString(sum[:8]); got != want {
		t.Fatalf("KeyID = %s, want %s", got, want)
	}
	if got := hub.KeyID(k[:31]); got != "" {
		t.Fatalf("KeyID(31 bytes) = %q, want empty", got)
	}
	if hub.KeyID(pub(MustKey(t, "hub-2"))) == hub.KeyID(k) {
		t.Fatal("two keys share an id")
	}
}

func mustPubPEM(tb testing.TB, k ed25519.PrivateKey) []byte {
	tb.Helper()
	b, err := hub.MarshalPublicKeyPEM(pub(k))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParsePublicKeys(t *testing.T) {
	k1, k2 := MustKey(t, "hub-1"), MustKey(t, "hub-2")
	p1, p2 := mustPubPEM(t, k1), mustPubPEM(t, k2)
	privPEM, err := hub.MarshalPrivateKeyPEM(k1)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})
	broken := bytes.Replace(p2, []byte("MCow"), []byte("M!ow"), 1)

	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tt := range []struct {
		name    string
		data    []byte
		wantIDs []string // nil: an error is wanted
		errSub  string
	}{
		{"OK", p1, []string{hub.KeyID(pub(k1))}, ""},
		{"Rotation", cat(p1, p2), []string{hub.KeyID(pub(k1)), hub.KeyID(pub(k2))}, ""},
		{"Comments", cat([]byte("# old key\n"), p1, []byte("\n# new key, from 2026-12\n"), p2, []byte("\n")),
			[]string{hub.KeyID(pub(k1)), hub.KeyID(pub(k2))}, ""},
		{"Duplicate", cat(p1, p1), []string{hub.KeyID(pub(k1))}, ""},
		{"Empty", nil, nil, "no PEM block"},
		{"NotPEM", []byte("hello"), nil, "no PEM block"},
		{"PrivateKey", privPEM, nil, `"PRIVATE KEY"`},
		{"PrivateAfterPublic", cat(p1, privPEM), nil, "block 2"},
		{"NotEd25519", ecPEM, nil, "want an ed25519 key"},
		{"BrokenBlock", cat(p1, broken), nil, "does not decode"},
		{"GarbageDER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), nil, "block 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := hub.ParsePublicKeys(tt.data)
			if tt.wantIDs == nil {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ks.IDs(); !slices.Equal(got, tt.wantIDs) {
				t.Fatalf("IDs = %v, want %v", got, tt.wantIDs)
			}
			for _, id := range tt.wantIDs {
				k, ok := ks.Key(id)
				if !ok || hub.KeyID(k) != id {
					t.Fatalf("Key(%s) = %x, %v", id, k, ok)
				}
			}
		})
	}
}

func TestPrivateKeyPEM(t *testing.T) {
	k := MustKey(t, "hub-1")
	data, err := hub.MarshalPrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Fatalf("PEM = %q, want a PRIVATE KEY block", data)
	}
	got, err := hub.ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(k) {
		t.Fatal("round trip changed the key")
	}

	pubPEM := mustPubPEM(t, k)
	for _, tt := range []struct {
		name   string
		data   []byte
		errSub string
	}{
		{"Empty", nil, "no PEM block"},
		{"PublicKey", pubPEM, `"PUBLIC KEY"`},
		{"TwoBlocks", append(bytes.Clone(data), data...), "more than one"},
		{"GarbageDER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}), "signing key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := hub.ParsePrivateKeyPEM(tt.data); err == nil || !strings.Contains(err.Error(), tt.errSub) {
				t.Fatalf("err = %v, want one containing %q", err, tt.errSub)
			}
		})
	}
}

func TestNewKeySet(t *testing.T) {
	if _, err := hub.NewKeySet(ed25519.PublicKey(make([]byte, 31))); err == nil {
		t.Fatal("31-byte key accepted")
	}
	var zero hub.KeySet
	if zero.Len() != 0 {
		t.Fatal("zero KeySet is not empty")
	}
	ks := MustKeySet(t, MustKey(t, "a"), MustKey(t, "b"), MustKey(t, "a"))
	if ks.Len() != 2 || len(ks.Keys()) != 2 {
		t.Fatalf("Len = %d, want 2", ks.Len())
	}
}

func TestKeysResponse(t *testing.T) {
	k1, k2 := MustKey(t, "hub-1"), MustKey(t, "hub-2")
	ks := MustKeySet(t, k1, k2)
	data, err := json.Marshal(hub.NewKeysResponse(ks))
	if err != nil {
		t.Fatal(err)
	}
	// The shape DESIGN.md fixes.
	var raw struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Keys) != 2 {
		t.Fatalf("%d keys, want 2: %s", len(raw.Keys), data)
	}
	for i, k := range []ed25519.PrivateKey{k1, k2} {
		e := raw.Keys[i]
		if e["key_id"] != hub.KeyID(pub(k)) || e["alg"] != "ed25519" || len(e) != 3 {
			t.Fatalf("key %d = %v", i, e)
		}
		if b, err := base64Std(e["public_key"]); err != nil || !bytes.Equal(b, pub(k)) {
			t.Fatalf("key %d public_key = %q", i, e["public_key"])
		}
	}

	var back hub.KeysResponse
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	got, err := back.KeySet()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.IDs(), ks.IDs()) {
		t.Fatalf("IDs = %v, want %v", got.IDs(), ks.IDs())
	}

	for _, tt := range []struct {
		name string
		edit func(*hub.KeyEntry)
	}{
		{"ErrAlg", func(e *hub.KeyEntry) { e.Alg = "rsa" }},
		{"ErrKeyID", func(e *hub.KeyEntry) { e.KeyID = hub.KeyID(pub(k2)) }},
		{"ErrLength", func(e *hub.KeyEntry) { e.PublicKey = e.PublicKey[:16] }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := hub.NewKeysResponse(MustKeySet(t, k1))
			tt.edit(&r.Keys[0])
			if _, err := r.KeySet(); !errors.Is(err, hub.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}
