package huiyan_test

import (
	"errors"
	"testing"

	"huiyan"
)

func TestVerifyPIN(t *testing.T) {
	h, err := huiyan.HashPIN("246810", []byte("0123456789abcdef"), huiyan.PINIterations)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		if err := huiyan.VerifyPIN(h, "246810"); err != nil {
			t.Fatalf("VerifyPIN=%v, want nil", err)
		}
	})
	t.Run("ErrPINMismatch", func(t *testing.T) {
		if err := huiyan.VerifyPIN(h, "246811"); !errors.Is(err, huiyan.ErrPINMismatch) {
			t.Fatalf("VerifyPIN=%v, want ErrPINMismatch", err)
		}
	})
	for _, bad := range []string{"", "plain", "pbkdf2-sha256$10$c2FsdHNhbHQ$AAAA", "bcrypt$1$2$3", "pbkdf2-sha256$60000$!!$AAAA"} {
		t.Run("ErrMalformed", func(t *testing.T) {
			err := huiyan.VerifyPIN(bad, "246810")
			if err == nil || errors.Is(err, huiyan.ErrPINMismatch) {
				t.Fatalf("VerifyPIN(%q)=%v, want a format error", bad, err)
			}
		})
	}
	t.Run("SaltChangesHash", func(t *testing.T) {
		h2, _ := huiyan.HashPIN("246810", []byte("fedcba9876543210"), huiyan.PINIterations)
		if h2 == h {
			t.Fatal("two salts gave the same hash")
		}
	})
}
