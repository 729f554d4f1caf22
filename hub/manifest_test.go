package hub_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"huiyan/hub"
)

func base64Std(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

var (
	t0  = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	now = t0.Add(time.Hour)
)

// testManifest is a valid delta of branch B001 from version 4 to 5.
func testManifest() hub.Manifest {
	return hub.Manifest{
		Branch:      "B001",
		Version:     5,
		BaseVersion: 4,
		CreatedAt:   t0,
		ExpiresAt:   t0.Add(hub.DefaultManifestTTL),
		DictVersion: 1,
		Chunks: []hub.ChunkRef{
			{SHA256: strings.Repeat("ab", 32), Size: 1234, Records: 10},
			{SHA256: strings.Repeat("cd", 32), Size: 99, Records: 1},
		},
	}
}

func fullManifest() hub.Manifest {
	m := testManifest()
	m.Full, m.BaseVersion = true, 0
	return m
}

func mustSign(tb testing.TB, k ed25519.PrivateKey, m hub.Manifest) []byte {
	tb.Helper()
	env, err := hub.Sign(k, "", m)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := json.Marshal(env)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// signRaw signs arbitrary payload bytes, as a buggy hub could.
func signRaw(k ed25519.PrivateKey, payload []byte) []byte {
	env := hub.Envelope{Payload: payload, Signatures: []hub.Signature{{KeyID: hub.KeyID(pub(k)), Sig: ed25519.Sign(k, payload)}}}
	data, _ := json.Marshal(env)
	return data
}

func TestSignVerify(t *testing.T) {
	k := MustKey(t, "hub-1")
	m := testManifest()
	data := mustSign(t, k, m)

	// The wire shape DESIGN.md fixes.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2 || raw["payload"] == nil || raw["signatures"] == nil {
		t.Fatalf("envelope = %s, want payload and signatures", data)
	}
	var sigs []map[string]string
	if err := json.Unmarshal(raw["signatures"], &sigs); err != nil || len(sigs) != 1 ||
		sigs[0]["key_id"] != hub.KeyID(pub(k)) || len(sigs[0]) != 2 {
		t.Fatalf("signatures = %s", raw["signatures"])
	}
	var payloadB64 string
	if err := json.Unmarshal(raw["payload"], &payloadB64); err != nil {
		t.Fatal(err)
	}
	payload, err := base64Std(payloadB64)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(payload, &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"branch", "version", "base_version", "full", "created_at", "expires_at", "dict_version", "chunks"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("manifest JSON has no %q: %s", f, payload)
		}
	}
	if len(fields) != 8 {
		t.Errorf("manifest JSON has %d fields, want 8: %s", len(fields), payload)
	}
	if fields["created_at"] != "2026-11-23T02:00:00Z" {
		t.Errorf("created_at = %v, want RFC 3339", fields["created_at"])
	}
	c0 := fields["chunks"].([]any)[0].(map[string]any)
	if len(c0) != 3 || c0["sha256"] == nil || c0["size"] == nil || c0["records"] == nil {
		t.Errorf("chunk = %v, want sha256, size, records", c0)
	}

	got, err := hub.Verify(data, MustKeySet(t, k), "B001", 4, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 5 || got.BaseVersion != 4 || len(got.Chunks) != 2 || got.Chunks[1] != m.Chunks[1] ||
		!got.CreatedAt.Equal(m.CreatedAt) || !got.ExpiresAt.Equal(m.ExpiresAt) {
		t.Fatalf("Verify = %+v, want %+v", got, m)
	}
	if got.Records() != 11 || got.Bytes() != 1333 {
		t.Fatalf("Records, Bytes = %d, %d, want 11, 1333", got.Records(), got.Bytes())
	}

	// A full snapshot applies whatever the edge holds below it.
	full := mustSign(t, k, fullManifest())
	for _, have := range []int64{0, 1, 4} {
		if _, err := hub.Verify(full, MustKeySet(t, k), "B001", have, now); err != nil {
			t.Errorf("full snapshot, have %d: %v", have, err)
		}
	}
}

func TestVerify_Refusals(t *testing.T) {
	k1, k2, other := MustKey(t, "hub-1"), MustKey(t, "hub-2"), MustKey(t, "attacker")
	pinned := MustKeySet(t, k1)
	good := mustSign(t, k1, testManifest())

	flip := func(data []byte) []byte {
		var env hub.Envelope
		if err := json.Unmarshal(data, &env); err != nil {
			t.Fatal(err)
		}
		// "version":5 → "version":6: one byte of the payload.
		i := bytes.Index(env.Payload, []byte(`"version":5`))
		if i < 0 {
			t.Fatalf("payload %s has no version 5", env.Payload)
		}
		env.Payload[i+len(`"version":`)] = '6'
		out, _ := json.Marshal(env)
		return out
	}
	forgedKeyID := func() []byte {
		// Signed by another key under the pinned key's id.
		env, err := hub.Sign(other, "", testManifest())
		if err != nil {
			t.Fatal(err)
		}
		env.Signatures[0].KeyID = hub.KeyID(pub(k1))
		out, _ := json.Marshal(env)
		return out
	}
	unsigned := func() []byte {
		env, _ := hub.Sign(k1, "", testManifest())
		env.Signatures = nil
		out, _ := json.Marshal(env)
		return out
	}
	with := func(edit func(*hub.Manifest)) []byte {
		m := testManifest()
		edit(&m)
		return mustSign(t, k1, m)
	}

	for _, tt := range []struct {
		name string
		data []byte
		keys hub.KeySet
		have int64
		now  time.Time
		want error
	}{
		{"OK", good, pinned, 4, now, nil},
		{"OK/Rotation", mustSign(t, k2, testManifest()), MustKeySet(t, k1, k2), 4, now, nil},
		{"ErrBadSignature/FlippedPayloadByte", flip(good), pinned, 4, now, hub.ErrBadSignature},
		{"ErrBadSignature/ForgedUnderPinnedID", forgedKeyID(), pinned, 4, now, hub.ErrBadSignature},
		{"ErrBadSignature/Unsigned", unsigned(), pinned, 4, now, hub.ErrBadSignature},
		{"ErrUnknownKey/UnpinnedKey", mustSign(t, other, testManifest()), pinned, 4, now, hub.ErrUnknownKey},
		{"ErrUnknownKey/NewKeyNotPinnedYet", mustSign(t, k2, testManifest()), pinned, 4, now, hub.ErrUnknownKey},
		{"ErrUnknownKey/NothingPinned", good, hub.KeySet{}, 4, now, hub.ErrUnknownKey},
		{"ErrWrongBranch", with(func(m *hub.Manifest) { m.Branch = "B002" }), pinned, 4, now, hub.ErrWrongBranch},
		{"ErrRollback", good, pinned, 7, now, hub.ErrRollback},
		{"ErrRollback/Full", mustSign(t, k1, fullManifest()), pinned, 9, now, hub.ErrRollback},
		{"ErrNotNewer", good, pinned, 5, now, hub.ErrNotNewer},
		{"ErrExpired", good, pinned, 4, t0.Add(hub.DefaultManifestTTL), hub.ErrExpired},
		{"ErrExpired/Later", good, pinned, 4, t0.Add(30 * 24 * time.Hour), hub.ErrExpired},
		{"ErrBaseMismatch", good, pinned, 3, now, hub.ErrBaseMismatch},
		{"ErrBaseMismatch/FromNothing", good, pinned, 0, now, hub.ErrBaseMismatch},
		{"ErrMalformed/JSONAfterValidSignature", signRaw(k1, []byte(`{"branch":"B001","version":`)), pinned, 4, now, hub.ErrMalformed},
		{"ErrMalformed/UnknownField", signRaw(k1, []byte(`{"branch":"B001","version":5,"evil":1}`)), pinned, 4, now, hub.ErrMalformed},
		{"ErrMalformed/TrailingData", signRaw(k1, append(must(json.Marshal(testManifest())), []byte(" {}")...)), pinned, 4, now, hub.ErrMalformed},
		{"ErrMalformed/InvalidManifest", signRaw(k1, []byte(`{"branch":"B001","version":5,"base_version":4,"full":true}`)), pinned, 4, now, hub.ErrMalformed},
		{"ErrMalformed/TruncatedEnvelope", good[:len(good)/2], pinned, 4, now, hub.ErrMalformed},
		{"ErrMalformed/Empty", nil, pinned, 4, now, hub.ErrMalformed},
		{"ErrMalformed/NotJSON", []byte("<html>502 Bad Gateway</html>"), pinned, 4, now, hub.ErrMalformed},
		{"ErrMalformed/NoPayload", []byte(`{"payload":"","signatures":[]}`), pinned, 4, now, hub.ErrMalformed},
		{"ErrMalformed/EnvelopeUnknownField", []byte(`{"payload":"e30=","signatures":[],"x":1}`), pinned, 4, now, hub.ErrMalformed},
		{"ErrMalformed/TooLarge", append(bytes.Clone(good), bytes.Repeat([]byte(" "), hub.MaxEnvelopeBytes)...), pinned, 4, now, hub.ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := hub.Verify(tt.data, tt.keys, "B001", tt.have, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if m.Version != 5 {
					t.Fatalf("version=%d, want 5", m.Version)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if m.Version != 0 || m.Chunks != nil {
				t.Fatalf("manifest %+v returned with an error", m)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestVerify_SignatureBeforeParse: a payload that is not even JSON, with a
// bad signature, is a signature failure, never a parse error: the payload
// is not looked at before a signature verifies.
func TestVerify_SignatureBeforeParse(t *testing.T) {
	k, other := MustKey(t, "hub-1"), MustKey(t, "attacker")
	data := signRaw(other, []byte("\x00\xff not json"))
	var env hub.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].KeyID = hub.KeyID(pub(k))
	_, err := hub.VerifyEnvelope(env, MustKeySet(t, k), "B001", 0, now)
	if !errors.Is(err, hub.ErrBadSignature) || errors.Is(err, hub.ErrMalformed) {
		t.Fatalf("err = %v, want ErrBadSignature only", err)
	}
}

func TestErrUnknownKeyIsBadSignature(t *testing.T) {
	if !errors.Is(hub.ErrUnknownKey, hub.ErrBadSignature) {
		t.Fatal("ErrUnknownKey does not wrap ErrBadSignature")
	}
	if errors.Is(hub.ErrBadSignature, hub.ErrUnknownKey) {
		t.Fatal("ErrBadSignature is ErrUnknownKey")
	}
}

func TestCosign(t *testing.T) {
	k1, k2 := MustKey(t, "hub-1"), MustKey(t, "hub-2")
	env, err := hub.Sign(k1, hub.KeyID(pub(k1)), testManifest())
	if err != nil {
		t.Fatal(err)
	}
	env, err = hub.Cosign(env, k2)
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Signatures) != 2 {
		t.Fatalf("%d signatures, want 2", len(env.Signatures))
	}
	// An edge that pinned only the old key, only the new one, or both.
	for _, ks := range []hub.KeySet{MustKeySet(t, k1), MustKeySet(t, k2), MustKeySet(t, k2, k1)} {
		if _, err := hub.VerifyEnvelope(env, ks, "B001", 4, now); err != nil {
			t.Errorf("pinned %v: %v", ks.IDs(), err)
		}
	}
	if _, err := hub.Cosign(env, k2); err == nil {
		t.Error("a second signature by the same key accepted")
	}
	// The first signature failing does not stop the second from counting.
	env.Signatures[0].Sig[0] ^= 1
	if _, err := hub.VerifyEnvelope(env, MustKeySet(t, k1, k2), "B001", 4, now); err != nil {
		t.Errorf("one bad and one good signature: %v", err)
	}
}

func TestSign_Errors(t *testing.T) {
	k := MustKey(t, "hub-1")
	if _, err := hub.Sign(k, "0123456789abcdef", testManifest()); err == nil {
		t.Error("a key id that is not the key's accepted")
	}
	if _, err := hub.Sign(k[:10], "", testManifest()); err == nil {
		t.Error("a short private key accepted")
	}
	m := testManifest()
	m.Version = 0
	if _, err := hub.Sign(k, "", m); !errors.Is(err, hub.ErrMalformed) {
		t.Errorf("invalid manifest: err = %v, want ErrMalformed", err)
	}
}

func TestManifest_Validate(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*hub.Manifest)
		ok   bool
	}{
		{"OK/Delta", func(*hub.Manifest) {}, true},
		{"OK/Full", func(m *hub.Manifest) { m.Full, m.BaseVersion = true, 0 }, true},
		{"OK/EmptyDelta", func(m *hub.Manifest) { m.Chunks = nil }, true},
		{"BadBranch", func(m *hub.Manifest) { m.Branch = "B/001" }, false},
		{"EmptyBranch", func(m *hub.Manifest) { m.Branch = "" }, false},
		{"VersionZero", func(m *hub.Manifest) { m.Version, m.BaseVersion = 0, 0; m.Full = true }, false},
		{"NegativeBase", func(m *hub.Manifest) { m.BaseVersion = -1 }, false},
		{"FullWithBase", func(m *hub.Manifest) { m.Full = true }, false},
		{"DeltaWithoutBase", func(m *hub.Manifest) { m.BaseVersion = 0 }, false},
		{"BaseNotBelow", func(m *hub.Manifest) { m.BaseVersion = 5 }, false},
		{"NoCreatedAt", func(m *hub.Manifest) { m.CreatedAt = time.Time{} }, false},
		{"ExpiresBeforeCreated", func(m *hub.Manifest) { m.ExpiresAt = m.CreatedAt }, false},
		{"NoDict", func(m *hub.Manifest) { m.DictVersion = 0 }, false},
		{"FullWithoutChunks", func(m *hub.Manifest) { m.Full, m.BaseVersion, m.Chunks = true, 0, nil }, false},
		{"UpperHex", func(m *hub.Manifest) { m.Chunks[0].SHA256 = strings.Repeat("AB", 32) }, false},
		{"ShortSHA", func(m *hub.Manifest) { m.Chunks[0].SHA256 = "abcd" }, false},
		{"ZeroSize", func(m *hub.Manifest) { m.Chunks[0].Size = 0 }, false},
		{"HugeSize", func(m *hub.Manifest) { m.Chunks[0].Size = hub.MaxChunkBytes + 1 }, false},
		{"NoRecords", func(m *hub.Manifest) { m.Chunks[0].Records = 0 }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := testManifest()
			tt.edit(&m)
			err := m.Validate()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, hub.ErrMalformed)) {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestReason(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("dial tcp: refused"), "other"},
		{hub.ErrUnknownKey, "unknown_key"},
		{hub.ErrBadSignature, "bad_signature"},
		{hub.ErrExpired, "expired"},
		{hub.ErrRollback, "rollback"},
		{hub.ErrChunkHash, "chunk_hash"},
		{hub.ErrChunkSize, "chunk_size"},
		{&hub.StatusError{StatusCode: 403}, "forbidden"},
		{&hub.StatusError{StatusCode: 503}, "unavailable"},
		{&hub.StatusError{StatusCode: 500}, "other"},
	} {
		if got := hub.Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
