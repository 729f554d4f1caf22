package hub

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"huiyan"
)

// MaxEnvelopeBytes bounds a manifest envelope: what the Client reads of the
// manifest endpoint's answer and what Verify accepts. A manifest names each
// chunk in about 110 bytes, so 4 MiB is tens of thousands of chunks: far
// more than a branch of 200 k customers needs (see DefaultChunkBytes).
const MaxEnvelopeBytes = 4 << 20

// DefaultManifestTTL is how long a manifest the hub signs stays valid. The
// hub signs on demand (or caches a signed manifest for at most half of
// this), so an edge that can reach the hub always gets a fresh one; one
// replayed later than this is refused as ErrExpired (a freeze attack). A
// day is long enough for a slow WAN download and short enough that a
// frozen edge is noticed the same day.
const DefaultManifestTTL = 24 * time.Hour

// Manifest tells an edge how to go from the version it holds to the
// newest version of its branch (DESIGN.md, "Hub contract"). A full
// snapshot (Full, BaseVersion 0) replaces the edge's whole data set; a
// delta (BaseVersion = the version the edge holds) changes it. Either way
// the data are the records of Chunks, read in order (see Record for the
// rules of the stream).
type Manifest struct {
	Branch      string    `json:"branch"`
	Version     int64     `json:"version"`
	BaseVersion int64     `json:"base_version"` // 0 for a full snapshot
	Full        bool      `json:"full"`
	CreatedAt   time.Time `json:"created_at"` // RFC 3339
	ExpiresAt   time.Time `json:"expires_at"` // RFC 3339
	// DictVersion is the version of the tag dictionary the data set uses
	// once this manifest is applied. A full snapshot always carries the
	// dictionary; a delta carries it when it differs from the base's.
	DictVersion int        `json:"dict_version"`
	Chunks      []ChunkRef `json:"chunks"`
}

// ChunkRef names a chunk in a manifest: its SHA-256 (64 lower-case hex
// characters, the address of GET /v1/branches/{branch}/chunks/{sha256}),
// its length in bytes as downloaded (gzip-compressed) and the number of
// records it holds.
type ChunkRef struct {
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	Records int    `json:"records"`
}

// Validate reports the first rule the manifest breaks, wrapping
// ErrMalformed: a valid branch id; a version of at least 1; a base version
// of 0 exactly when Full, otherwise below the version; created_at set and
// before expires_at; a dictionary version of at least 1; at least one
// chunk in a full snapshot (it carries at least the dictionary and the
// roster); every chunk with a 64-hex SHA-256, a size from 1 to
// MaxChunkBytes and at least one record.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("manifest: %s: %w", fmt.Sprintf(format, args...), ErrMalformed)
	}
	switch {
	case !huiyan.ValidBranchID(m.Branch):
		return bad("invalid branch id %s", quote(m.Branch))
	case m.Version < 1:
		return bad("version %d, want at least 1", m.Version)
	case m.BaseVersion < 0:
		return bad("base_version %d is negative", m.BaseVersion)
	case m.Full && m.BaseVersion != 0:
		return bad("a full snapshot has base_version 0, got %d", m.BaseVersion)
	case !m.Full && m.BaseVersion == 0:
		return bad("a delta needs a base_version (0 is only for a full snapshot)")
	case m.BaseVersion >= m.Version:
		return bad("base_version %d is not below version %d", m.BaseVersion, m.Version)
	case m.CreatedAt.IsZero():
		return bad("created_at is missing")
	case !m.ExpiresAt.After(m.CreatedAt):
		return bad("expires_at is not after created_at")
	case m.DictVersion < 1:
		return bad("dict_version %d, want at least 1", m.DictVersion)
	case m.Full && len(m.Chunks) == 0:
		return bad("a full snapshot has no chunks")
	}
	for i, c := range m.Chunks {
		switch {
		case !validSHA256(c.SHA256):
			return bad("chunk %d: sha256 must be 64 lower-case hex characters", i+1)
		case c.Size < 1 || c.Size > MaxChunkBytes:
			return bad("chunk %d: size %d, want 1 to %d", i+1, c.Size, MaxChunkBytes)
		case c.Records < 1:
			return bad("chunk %d: records %d, want at least 1", i+1, c.Records)
		}
	}
	return nil
}

// Records returns the number of records of all chunks.
func (m *Manifest) Records() int {
	n := 0
	for _, c := range m.Chunks {
		n += c.Records
	}
	return n
}

// Bytes returns the number of bytes of all chunks: what a sync downloads.
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, c := range m.Chunks {
		n += c.Size
	}
	return n
}

// validSHA256 reports whether s is 64 lower-case hex characters.
func validSHA256(s string) bool { return validToken(s) }

// Envelope is a signed manifest as the manifest endpoint answers it
// (DESIGN.md, "Hub contract"): {"payload":"<base64 of the manifest JSON
// bytes>","signatures":[{"key_id":"…","sig":"<base64>"}]}. The signatures
// are over exactly the payload bytes, which are parsed only after one of
// them verifies. More than one signature lets the hub sign with an old
// and a new key during a rotation (see Cosign).
type Envelope struct {
	Payload    []byte      `json:"payload"`
	Signatures []Signature `json:"signatures"`
}

// Signature is one ed25519 signature of an Envelope's payload. KeyID is
// KeyID of the signing key's public key.
type Signature struct {
	KeyID string `json:"key_id"`
	Sig   []byte `json:"sig"`
}

// Sign validates the manifest, encodes it as JSON and signs the bytes.
// keyID may be empty; otherwise it must be KeyID of priv's public key, so
// that no envelope names a key id its signature cannot match.
//
// Times are encoded as encoding/json writes a time.Time (RFC 3339 with
// the fraction of a second when there is one, in the time's zone); the
// hub would rather pass them in UTC, truncated to the second.
func Sign(priv ed25519.PrivateKey, keyID string, m Manifest) (Envelope, error) {
	if err := m.Validate(); err != nil {
		return Envelope{}, fmt.Errorf("sign: %w", err)
	}
	payload, err := json.Marshal(&m)
	if err != nil {
		return Envelope{}, fmt.Errorf("sign: %w", err)
	}
	sig, err := signature(priv, keyID, payload)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{Payload: payload, Signatures: []Signature{sig}}, nil
}

// Cosign returns env with one more signature over the same payload, by
// priv: what the hub does during a key rotation, so that edges pinning
// either key accept its manifests. A key that already signed is an error.
func Cosign(env Envelope, priv ed25519.PrivateKey) (Envelope, error) {
	sig, err := signature(priv, "", env.Payload)
	if err != nil {
		return Envelope{}, err
	}
	for _, s := range env.Signatures {
		if s.KeyID == sig.KeyID {
			return Envelope{}, fmt.Errorf("cosign: key %s already signed", sig.KeyID)
		}
	}
	out := Envelope{Payload: env.Payload, Signatures: make([]Signature, 0, len(env.Signatures)+1)}
	out.Signatures = append(append(out.Signatures, env.Signatures...), sig)
	return out, nil
}

func signature(priv ed25519.PrivateKey, keyID string, payload []byte) (Signature, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Signature{}, fmt.Errorf("sign: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	id := KeyID(priv.Public().(ed25519.PublicKey))
	if keyID != "" && keyID != id {
		return Signature{}, fmt.Errorf("sign: key id %q is not the key's id %s", keyID, id)
	}
	return Signature{KeyID: id, Sig: ed25519.Sign(priv, payload)}, nil
}

// ParseEnvelope decodes an envelope strictly: one JSON object with the
// fields payload and signatures only, nothing after it, at most
// MaxEnvelopeBytes. Every failure, a truncated envelope included, wraps
// ErrMalformed. It checks no signature.
func ParseEnvelope(data []byte) (Envelope, error) {
	if len(data) > MaxEnvelopeBytes {
		return Envelope{}, fmt.Errorf("envelope: %d bytes, more than %d: %w", len(data), MaxEnvelopeBytes, ErrMalformed)
	}
	var env Envelope
	if err := decodeStrict(data, &env); err != nil {
		return Envelope{}, fmt.Errorf("envelope: %v: %w", err, ErrMalformed)
	}
	if len(env.Payload) == 0 {
		return Envelope{}, fmt.Errorf("envelope: no payload: %w", ErrMalformed)
	}
	return env, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and anything but white space after the value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if err == io.EOF {
			return errors.New("empty")
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// Verify parses a manifest envelope as the manifest endpoint answers it and
// verifies it; see VerifyEnvelope.
func Verify(data []byte, keys KeySet, branch string, have int64, now time.Time) (Manifest, error) {
	env, err := ParseEnvelope(data)
	if err != nil {
		return Manifest{}, fmt.Errorf("verify: %w", err)
	}
	return VerifyEnvelope(env, keys, branch, have, now)
}

// VerifyEnvelope is what an edge does with a manifest before it downloads
// a single chunk (DESIGN.md, "Hub contract", snapshot integrity). In this
// order, it:
//
//  1. verifies the signatures over exactly the payload bytes, before
//     parsing them: it succeeds if any signature is a valid ed25519
//     signature by a key of keys under that key's id. If none is, it
//     returns ErrUnknownKey when no signature names a pinned key id, and
//     ErrBadSignature otherwise (including no signature at all);
//  2. parses the payload strictly (unknown fields are refused: a field
//     this edge does not understand could change what the data mean) and
//     validates it (Manifest.Validate): ErrMalformed;
//  3. refuses a manifest for another branch: ErrWrongBranch;
//  4. refuses a version below have: ErrRollback. A version equal to have
//     is ErrNotNewer, "nothing to do", the same answer the Client gives
//     for 204 and 304, so that the sync loop handles both in one place;
//  5. refuses a manifest at or past its expires_at: ErrExpired (freeze);
//  6. refuses a delta whose base_version is not have: ErrBaseMismatch. A
//     full snapshot applies to any have below its version, 0 included.
//
// have is the version the edge holds (0 before the first data). On
// success the manifest is returned; on failure the zero Manifest.
func VerifyEnvelope(env Envelope, keys KeySet, branch string, have int64, now time.Time) (Manifest, error) {
	if err := verifySignatures(env, keys); err != nil {
		return Manifest{}, fmt.Errorf("verify: %w", err)
	}
	var m Manifest
	if err := decodeStrict(env.Payload, &m); err != nil {
		return Manifest{}, fmt.Errorf("verify: manifest: %v: %w", err, ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, fmt.Errorf("verify: %w", err)
	}
	switch {
	case m.Branch != branch:
		return Manifest{}, fmt.Errorf("verify: manifest for branch %s, this is %s: %w", m.Branch, quote(branch), ErrWrongBranch)
	case m.Version < have:
		return Manifest{}, fmt.Errorf("verify: version %d, holding %d: %w", m.Version, have, ErrRollback)
	case m.Version == have:
		return Manifest{}, fmt.Errorf("verify: version %d is the version held: %w", m.Version, ErrNotNewer)
	case !now.Before(m.ExpiresAt):
		return Manifest{}, fmt.Errorf("verify: version %d expired at %s, now %s: %w", m.Version,
			m.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrExpired)
	case !m.Full && m.BaseVersion != have:
		return Manifest{}, fmt.Errorf("verify: delta from version %d, holding %d: %w", m.BaseVersion, have, ErrBaseMismatch)
	}
	return m, nil
}

func verifySignatures(env Envelope, keys KeySet) error {
	if len(env.Payload) == 0 {
		return fmt.Errorf("envelope: no payload: %w", ErrMalformed)
	}
	if len(env.Signatures) == 0 {
		return fmt.Errorf("unsigned envelope: %w", ErrBadSignature)
	}
	pinned := 0
	for _, s := range env.Signatures {
		pub, ok := keys.Key(s.KeyID)
		if !ok {
			continue
		}
		pinned++
		if len(s.Sig) == ed25519.SignatureSize && ed25519.Verify(pub, env.Payload, s.Sig) {
			return nil
		}
	}
	if pinned == 0 {
		return fmt.Errorf("%d signature(s), none by a pinned key (pinned: %d): %w", len(env.Signatures), keys.Len(), ErrUnknownKey)
	}
	return fmt.Errorf("%d signature(s) by pinned keys, none valid: %w", pinned, ErrBadSignature)
}
