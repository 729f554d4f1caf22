package hub

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// Signing keys (DESIGN.md, "Commands": huiyan-hub -signing-key is a PKCS#8
// PEM file, hub.pub is PKIX PEM and may hold several blocks for rotation,
// GET /v1/keys lists the public keys).

// AlgEd25519 is the only signature algorithm of the contract.
const AlgEd25519 = "ed25519"

// PEM block types.
const (
	pemPublicKey  = "PUBLIC KEY"  // PKIX, RFC 5280 SubjectPublicKeyInfo
	pemPrivateKey = "PRIVATE KEY" // PKCS#8, RFC 5208
)

// KeyID returns the key id of an ed25519 public key: the first 8 bytes of
// the SHA-256 of the raw 32-byte key, as 16 lower-case hex characters. It
// is a function of the key alone, so the hub and every edge agree on it
// without configuration, and a signature cannot name a pinned key's id
// without that key's bytes. It returns "" for a key that is not 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		return ""
	}
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// KeySet is a set of pinned ed25519 public keys, by key id. An edge pins
// more than one during a key rotation: the hub's old key and its new one,
// in any order. The zero KeySet is empty and verifies nothing. A KeySet is
// immutable and safe for concurrent use.
type KeySet struct {
	keys []keyEntry // in the order given, without duplicates
}

type keyEntry struct {
	id  string
	pub ed25519.PublicKey
}

// NewKeySet returns the set of the keys. A key given twice is kept once;
// a key that is not 32 bytes is an error.
func NewKeySet(keys ...ed25519.PublicKey) (KeySet, error) {
	var ks KeySet
	for i, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return KeySet{}, fmt.Errorf("key %d: ed25519 public key is %d bytes, want %d", i+1, len(k), ed25519.PublicKeySize)
		}
		ks = ks.with(k)
	}
	return ks, nil
}

// with returns ks with k added, unless it is there already.
func (ks KeySet) with(k ed25519.PublicKey) KeySet {
	id := KeyID(k)
	if _, ok := ks.Key(id); ok {
		return ks
	}
	keys := make([]keyEntry, len(ks.keys), len(ks.keys)+1)
	copy(keys, ks.keys)
	return KeySet{keys: append(keys, keyEntry{id: id, pub: bytes.Clone(k)})}
}

// Len returns the number of keys.
func (ks KeySet) Len() int { return len(ks.keys) }

// IDs returns the key ids, in the order the keys were given.
func (ks KeySet) IDs() []string {
	ids := make([]string, len(ks.keys))
	for i, e := range ks.keys {
		ids[i] = e.id
	}
	return ids
}

// Key returns the key with the id.
func (ks KeySet) Key(id string) (ed25519.PublicKey, bool) {
	for _, e := range ks.keys {
		if e.id == id {
			return e.pub, true
		}
	}
	return nil, false
}

// Keys returns the keys, in the order they were given. The caller must not
// modify them.
func (ks KeySet) Keys() []ed25519.PublicKey {
	keys := make([]ed25519.PublicKey, len(ks.keys))
	for i, e := range ks.keys {
		keys[i] = e.pub
	}
	return keys
}

// ParsePublicKeys reads the pinned keys of an edge: one or more PEM blocks
// of type "PUBLIC KEY" holding PKIX ed25519 public keys, as huiyan-hub
// writes {data}/hub.pub (several blocks during a rotation: concatenate the
// files). Text outside the blocks is ignored, so a file may carry comments.
// Anything else is an error, so that a mistake never silently pins fewer
// keys than the operator meant: no block at all, a block of another type
// (a private key, a certificate), a key that is not ed25519, or a block
// that does not decode.
func ParsePublicKeys(data []byte) (KeySet, error) {
	var ks KeySet
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != pemPublicKey {
			return KeySet{}, fmt.Errorf("public keys: PEM block %d is %q, want %q (an ed25519 public key as hub.pub holds it)", n, b.Type, pemPublicKey)
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return KeySet{}, fmt.Errorf("public keys: PEM block %d: %w", n, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return KeySet{}, fmt.Errorf("public keys: PEM block %d is a %T, want an ed25519 key", n, k)
		}
		ks = ks.with(pub)
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return KeySet{}, errors.New("public keys: a PEM block does not decode")
	}
	if ks.Len() == 0 {
		return KeySet{}, errors.New("public keys: no PEM block of type PUBLIC KEY")
	}
	return ks, nil
}

// MarshalPublicKeyPEM returns the key as one PKIX "PUBLIC KEY" PEM block,
// as hub.pub holds it. Several of them concatenated are a file
// ParsePublicKeys reads.
func MarshalPublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der}), nil
}

// ParsePrivateKeyPEM reads the hub's signing key: exactly one PEM block of
// type "PRIVATE KEY" holding a PKCS#8 ed25519 key (what -signing-key names
// and `openssl genpkey -algorithm ed25519` writes).
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	b, rest := pem.Decode(data)
	switch {
	case b == nil:
		return nil, errors.New("signing key: no PEM block")
	case b.Type != pemPrivateKey:
		return nil, fmt.Errorf("signing key: PEM block is %q, want %q (PKCS#8)", b.Type, pemPrivateKey)
	}
	if next, _ := pem.Decode(rest); next != nil || bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, errors.New("signing key: more than one PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key: a %T, want an ed25519 key", k)
	}
	return priv, nil
}

// MarshalPrivateKeyPEM returns the key as a PKCS#8 "PRIVATE KEY" PEM block.
// The caller writes it with mode 0600.
func MarshalPrivateKeyPEM(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("private key: %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// KeysResponse is the body of GET /v1/keys (DESIGN.md, "Commands"):
// {"keys":[{"key_id","alg":"ed25519","public_key":"<base64, 32 bytes>"}]}.
// It is for operators and tools: an edge pins the keys of its -hub-key
// file and never trusts keys it fetched from the hub it is verifying.
type KeysResponse struct {
	Keys []KeyEntry `json:"keys"`
}

// KeyEntry is one key of a KeysResponse. PublicKey is the raw 32-byte key,
// standard base64 in JSON.
type KeyEntry struct {
	KeyID     string `json:"key_id"`
	Alg       string `json:"alg"`
	PublicKey []byte `json:"public_key"`
}

// NewKeysResponse lists the keys of ks, in order.
func NewKeysResponse(ks KeySet) KeysResponse {
	r := KeysResponse{Keys: make([]KeyEntry, 0, ks.Len())}
	for _, e := range ks.keys {
		r.Keys = append(r.Keys, KeyEntry{KeyID: e.id, Alg: AlgEd25519, PublicKey: bytes.Clone(e.pub)})
	}
	return r
}

// KeySet checks the response and returns its keys: every entry must be an
// ed25519 key of 32 bytes whose key_id is KeyID of the key.
func (r KeysResponse) KeySet() (KeySet, error) {
	var ks KeySet
	for i, e := range r.Keys {
		switch {
		case e.Alg != AlgEd25519:
			return KeySet{}, fmt.Errorf("keys: key %d: alg %q, want %q: %w", i+1, e.Alg, AlgEd25519, ErrMalformed)
		case len(e.PublicKey) != ed25519.PublicKeySize:
			return KeySet{}, fmt.Errorf("keys: key %d: %d bytes, want %d: %w", i+1, len(e.PublicKey), ed25519.PublicKeySize, ErrMalformed)
		case KeyID(e.PublicKey) != e.KeyID:
			return KeySet{}, fmt.Errorf("keys: key %d: key_id %q is not the key's id %s: %w", i+1, e.KeyID, KeyID(e.PublicKey), ErrMalformed)
		}
		ks = ks.with(e.PublicKey)
	}
	return ks, nil
}
