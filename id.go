package huiyan

// Identifier limits (DESIGN.md, "Data model" and "HQ snapshot CSV").
const (
	MaxBranchIDLen   = 32
	MaxCustomerIDLen = 32
	MaxStaffIDLen    = 64
)

// ValidBranchID reports whether s is a branch id: [0-9A-Za-z-]{1,32}.
// Branch ids are MQTT topic levels and URL path segments, so nothing else
// is allowed: no wildcard, no separator, no space.
func ValidBranchID(s string) bool {
	return validID(s, MaxBranchIDLen, "-")
}

// ValidCustomerID reports whether s can be HQ's pseudonymous customer id:
// 1 to 32 characters of [0-9A-Za-z._-]. It is opaque to us; the limit keeps
// it from carrying an identity number or a token (those are 18 and 64 long
// but we cannot tell an 18-digit id from an opaque one, so the importer also
// refuses ids that look like an ID-card number).
func ValidCustomerID(s string) bool {
	return validID(s, MaxCustomerIDLen, "._-")
}

// ValidStaffID reports whether s is a staff id: 1 to 64 characters of
// [0-9A-Za-z._-]. DESIGN.md names lobby-{branch} and so on.
func ValidStaffID(s string) bool {
	return validID(s, MaxStaffIDLen, "._-")
}

func validID(s string, max int, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case containsByte(extra, c):
		default:
			return false
		}
	}
	return true
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
