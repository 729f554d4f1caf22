package huiyan

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PINIterations is the PBKDF2-SHA256 work factor for new PIN hashes. A PIN
// has only a million values, so the hash must be slow: at this setting one
// guess costs tens of milliseconds of a core. Staff rosters are small, so
// the cost is paid only at login and when a roster is generated.
const PINIterations = 60000

// ErrPINMismatch is returned by VerifyPIN for a wrong PIN.
var ErrPINMismatch = errors.New("pin does not match")

// HashPIN returns the stored form of a PIN ("pbkdf2-sha256$iterations$salt$hash",
// salt and hash in unpadded base64). The caller supplies the salt (at least 8
// random bytes) so that generated rosters can be reproducible for a seed.
func HashPIN(pin string, salt []byte, iterations int) (string, error) {
	if len(salt) < 8 {
		return "", fmt.Errorf("pin salt must be at least 8 bytes")
	}
	if iterations < 1000 {
		return "", fmt.Errorf("pin iterations %d below 1000", iterations)
	}
	key, err := pbkdf2.Key(sha256.New, pin, salt, iterations, 32)
	if err != nil {
		return "", fmt.Errorf("pin hash: %w", err)
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// VerifyPIN checks a PIN against a hash made by HashPIN in constant time. It
// returns ErrPINMismatch for a wrong PIN and another error for a malformed hash.
func VerifyPIN(hash, pin string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return fmt.Errorf("pin hash: unknown format")
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1000 || iter > 10_000_000 {
		return fmt.Errorf("pin hash: bad iteration count")
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[2])
	if err != nil || len(salt) < 8 {
		return fmt.Errorf("pin hash: bad salt")
	}
	want, err := enc.DecodeString(parts[3])
	if err != nil || len(want) != 32 {
		return fmt.Errorf("pin hash: bad key")
	}
	got, err := pbkdf2.Key(sha256.New, pin, salt, iter, 32)
	if err != nil {
		return fmt.Errorf("pin hash: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrPINMismatch
	}
	return nil
}
