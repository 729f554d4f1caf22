package firmware

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"huiyan"
)

// DemoKeyID names the demo token key. Data sets made by `huiyan-devsim gen`
// and the edge and hub defaults use it (DESIGN.md, "Identity token").
const DemoKeyID = "k1"

// DemoKey is the documented demo HMAC key. It is public: it protects nothing
// and must never be configured on a production edge or device.
var DemoKey = []byte("huiyan-demo-token-key-k1-do-not-use-in-production")

// Token returns the identity token for a raw identifier:
//
//	hex(HMAC-SHA256(key, kind + ":" + Normalize(kind, value)))
//
// in lower case. It fails, naming the rule, when value cannot be normalised.
// This is the reference implementation device firmware is checked against
// with testdata/vectors.json.
func Token(key []byte, kind huiyan.IdentKind, value string) (string, error) {
	n, err := Normalize(kind, value)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(string(kind) + ":" + n))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// Normalize returns the canonical form of a raw identifier, so that the same
// card or phone gives the same token whichever device reads it:
//
//   - idcard: the 18-character resident identity number, spaces removed,
//     check character upper-case ('x' → 'X'); the ISO 7064 MOD 11-2 check
//     character must be right.
//   - bankcard: digits only (spaces and hyphens removed), 12 to 19 digits.
//   - phone: E.164, "+" and 8 to 15 digits. Spaces, hyphens and parentheses
//     are removed; "00" becomes "+"; an 11-digit mainland mobile number
//     starting with 1 gets "+86"; "86" followed by such a number gets "+".
//   - mbank: the mobile-banking user id with surrounding white space removed,
//     1 to 64 printable ASCII characters, case kept.
func Normalize(kind huiyan.IdentKind, value string) (string, error) {
	switch kind {
	case huiyan.IdentIDCard:
		return normIDCard(value)
	case huiyan.IdentBankCard:
		return normBankCard(value)
	case huiyan.IdentPhone:
		return normPhone(value)
	case huiyan.IdentMBank:
		return normMBank(value)
	}
	return "", fmt.Errorf("unknown ident kind %q", kind)
}

func strip(s string, cut string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(cut, r) {
			return -1
		}
		return r
	}, s)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// idCardWeights and idCardCheck implement GB 11643-1999 (ISO 7064 MOD 11-2).
var (
	idCardWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	idCardCheck   = "10X98765432"
)

func normIDCard(v string) (string, error) {
	s := strings.ToUpper(strip(v, " \t"))
	if len(s) != 18 || !allDigits(s[:17]) {
		return "", fmt.Errorf("idcard: must be 17 digits and a check character")
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(s[i]-'0') * idCardWeights[i]
	}
	if s[17] != idCardCheck[sum%11] {
		return "", fmt.Errorf("idcard: wrong check character")
	}
	return s, nil
}

func normBankCard(v string) (string, error) {
	s := strip(v, " \t-")
	if len(s) < 12 || len(s) > 19 || !allDigits(s) {
		return "", fmt.Errorf("bankcard: must be 12 to 19 digits")
	}
	return s, nil
}

func normPhone(v string) (string, error) {
	s := strip(v, " \t-()")
	switch {
	case strings.HasPrefix(s, "+"):
	case strings.HasPrefix(s, "00"):
		s = "+" + s[2:]
	case len(s) == 11 && s[0] == '1':
		s = "+86" + s
	case len(s) == 13 && strings.HasPrefix(s, "861"):
		s = "+" + s
	default:
		return "", fmt.Errorf("phone: not a mainland mobile number and no country code")
	}
	if d := s[1:]; len(d) < 8 || len(d) > 15 || !allDigits(d) || d[0] == '0' {
		return "", fmt.Errorf("phone: E.164 needs a country code and 8 to 15 digits")
	}
	return s, nil
}

func normMBank(v string) (string, error) {
	s := strings.TrimSpace(v)
	if len(s) == 0 || len(s) > 64 {
		return "", fmt.Errorf("mbank: user id must be 1 to 64 characters")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return "", fmt.Errorf("mbank: user id must be printable ASCII without spaces")
		}
	}
	return s, nil
}
