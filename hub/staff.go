package hub

import (
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"huiyan"
)

// StaffHeader is the header line of a staff roster file, staff.csv
// (DESIGN.md, "PAD login").
const StaffHeader = "staff_id,branch,role,display_name,pin_hash"

// MaxStaffNameRunes is the longest staff display name, in characters: it
// has to fit a PAD card.
const MaxStaffNameRunes = 32

// Columns of a staff row, in StaffHeader order.
const (
	staffColID = iota
	staffColBranch
	staffColRole
	staffColName
	staffColPINHash
	numStaffCols
)

var staffColumns = strings.Split(StaffHeader, ",")

// ReadStaff reads a staff roster: the header StaffHeader, then one staff
// member per line, with the CSV rules of SnapshotReader (RFC 4180 quoting
// without line breaks in fields, CRLF or LF, byte-order mark and blank lines
// ignored, lines of at most MaxLineBytes).
//
// A valid row has a huiyan.ValidStaffID staff_id not used by an earlier
// row, a huiyan.ValidBranchID branch, a known role (lobby, wealth, account,
// supervisor), a display_name of 1 to MaxStaffNameRunes printable
// characters, and a pin_hash in the format huiyan.HashPIN writes
// ("pbkdf2-sha256$iterations$salt$hash"). A plain PIN is refused with its own
// reason, and no reason ever echoes a pin_hash.
//
// It returns the valid rows and a *LineError for each bad one; the caller
// decides whether one bad row refuses the roster (huiyan-edge import does).
// The error is for a bad header or a failed read, and then nothing else is
// returned.
func ReadStaff(r io.Reader) ([]huiyan.Staff, []*LineError, error) {
	cf, err := openCSV(r, "staff", staffColumns, StaffHeader)
	if err != nil {
		return nil, nil, err
	}
	var (
		staff []huiyan.Staff
		errs  []*LineError
		first = map[string]int{} // staff id → line
	)
	for {
		f, n, lerr, err := cf.next()
		if err == io.EOF {
			return staff, errs, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if lerr != nil {
			errs = append(errs, lerr)
			continue
		}
		s := huiyan.Staff{
			ID:          f[staffColID],
			Branch:      f[staffColBranch],
			Role:        huiyan.Role(f[staffColRole]),
			DisplayName: f[staffColName],
			PINHash:     f[staffColPINHash],
		}
		col, reason := checkStaff(&s)
		if col < 0 {
			if l, ok := first[s.ID]; ok {
				col, reason = staffColID, fmt.Sprintf("duplicate staff_id %s (first on line %d)", quote(s.ID), l)
			}
		}
		if col >= 0 {
			errs = append(errs, &LineError{Line: n, Field: staffColumns[col], Reason: reason})
			continue
		}
		first[s.ID] = n
		staff = append(staff, s)
	}
}

// checkStaff returns the first bad column of a staff row and why, or -1.
func checkStaff(s *huiyan.Staff) (int, string) {
	switch {
	case s.ID == "":
		return staffColID, "required"
	case !huiyan.ValidStaffID(s.ID):
		return staffColID, fmt.Sprintf("invalid staff id %s: 1 to %d characters of 0-9 A-Z a-z . _ -", quote(s.ID), huiyan.MaxStaffIDLen)
	case s.Branch == "":
		return staffColBranch, "required"
	case !huiyan.ValidBranchID(s.Branch):
		return staffColBranch, fmt.Sprintf("invalid branch id %s", quote(s.Branch))
	case s.Role == "":
		return staffColRole, "required"
	case !s.Role.Valid():
		return staffColRole, fmt.Sprintf("unknown role %s, want lobby, wealth, account or supervisor", quote(string(s.Role)))
	}
	if reason := checkStaffName(s.DisplayName); reason != "" {
		return staffColName, reason
	}
	if reason := checkPINHash(s.PINHash); reason != "" {
		return staffColPINHash, reason
	}
	return -1, ""
}

func checkStaffName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "required"
	case !utf8.ValidString(name):
		return "not valid UTF-8"
	case utf8.RuneCountInString(name) > MaxStaffNameRunes:
		return fmt.Sprintf("longer than %d characters", MaxStaffNameRunes)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "contains a control or non-printing character"
	}
	return ""
}

// checkPINHash returns why s is not a PIN hash in the format huiyan.HashPIN
// writes and huiyan.VerifyPIN reads, or "". It checks the shape (the same
// limits VerifyPIN applies), not the PIN.
func checkPINHash(s string) string {
	if s == "" {
		return "required"
	}
	if len(s) >= 4 && len(s) <= 8 && allDigits(s) {
		return "pin_hash must be a hash, not a PIN"
	}
	const want = "pin_hash must be pbkdf2-sha256$iterations$salt$hash (unpadded base64 salt and hash)"
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return want
	}
	if iter, err := strconv.Atoi(parts[1]); err != nil || iter < 1000 || iter > 10_000_000 {
		return "pin_hash iteration count must be 1000 to 10000000"
	}
	enc := base64.RawStdEncoding
	if salt, err := enc.DecodeString(parts[2]); err != nil || len(salt) < 8 {
		return "pin_hash salt must be at least 8 bytes in unpadded base64"
	}
	if key, err := enc.DecodeString(parts[3]); err != nil || len(key) != 32 {
		return "pin_hash hash must be 32 bytes in unpadded base64"
	}
	return ""
}

// BranchStaff returns the staff of one branch, in roster order: what an
// edge keeps of a province-wide roster. The result is a new slice.
func BranchStaff(staff []huiyan.Staff, branch string) []huiyan.Staff {
	var out []huiyan.Staff
	for _, s := range staff {
		if s.Branch == branch {
			out = append(out, s)
		}
	}
	return out
}
