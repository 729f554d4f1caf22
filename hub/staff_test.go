package hub_test

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"huiyan"
	"huiyan/hub"
)

// testPINHash is a real huiyan.HashPIN of "246810" at the lowest work
// factor VerifyPIN accepts, so the tests stay fast.
func testPINHash(tb testing.TB) string {
	tb.Helper()
	h, err := huiyan.HashPIN("246810", []byte("saltsalt"), 1000)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func staffFile(lines ...string) string {
	return hub.StaffHeader + "\n" + strings.Join(lines, "\n") + "\n"
}

func TestStaffHeader(t *testing.T) {
	// DESIGN.md, "PAD login".
	if want := "staff_id,branch,role,display_name,pin_hash"; hub.StaffHeader != want {
		t.Fatalf("StaffHeader=%q, want %q", hub.StaffHeader, want)
	}
}

func TestReadStaff(t *testing.T) {
	h := testPINHash(t)
	t.Run("OK", func(t *testing.T) {
		data := "\uFEFF" + hub.StaffHeader + "\r\n" +
			"lobby-B001,B001,lobby,王芳," + h + "\r\n" +
			"\r\n" +
			`wealth-B001,B001,wealth,"Li, Ming",` + h + "\r\n" +
			"account-B002,B002,account,陈静," + h // no final newline
		staff, errs, err := hub.ReadStaff(strings.NewReader(data))
		if err != nil || len(errs) != 0 {
			t.Fatalf("ReadStaff: errs=%v err=%v", errs, err)
		}
		want := []huiyan.Staff{
			{ID: "lobby-B001", Branch: "B001", Role: huiyan.RoleLobby, DisplayName: "王芳", PINHash: h},
			{ID: "wealth-B001", Branch: "B001", Role: huiyan.RoleWealth, DisplayName: "Li, Ming", PINHash: h},
			{ID: "account-B002", Branch: "B002", Role: huiyan.RoleAccount, DisplayName: "陈静", PINHash: h},
		}
		if !slices.Equal(staff, want) {
			t.Fatalf("staff=%v, want %v", staff, want)
		}
		// The hash read back still verifies: nothing was altered.
		if err := huiyan.VerifyPIN(staff[0].PINHash, "246810"); err != nil {
			t.Fatalf("VerifyPIN: %v", err)
		}
	})
	t.Run("OKHeaderOnly", func(t *testing.T) {
		staff, errs, err := hub.ReadStaff(strings.NewReader(hub.StaffHeader + "\n"))
		if err != nil || len(errs) != 0 || len(staff) != 0 {
			t.Fatalf("ReadStaff: staff=%v errs=%v err=%v, want nothing", staff, errs, err)
		}
	})

	good := "sup-B001,B001,supervisor,赵强," + h
	for _, tt := range []struct {
		name   string
		line   string
		field  string
		reason string
	}{
		{"IDRequired", ",B001,lobby,王芳," + h, "staff_id", "required"},
		{"IDBad", "lobby B001,B001,lobby,王芳," + h, "staff_id", `invalid staff id "lobby B001"`},
		{"IDDuplicate", "sup-B001,B002,lobby,王芳," + h, "staff_id", `duplicate staff_id "sup-B001" (first on line 2)`},
		{"BranchRequired", "lobby-B001,,lobby,王芳," + h, "branch", "required"},
		{"BranchBad", "lobby-B001,B#1,lobby,王芳," + h, "branch", `invalid branch id "B#1"`},
		{"RoleRequired", "lobby-B001,B001,,王芳," + h, "role", "required"},
		{"RoleUnknown", "lobby-B001,B001,teller,王芳," + h, "role", `unknown role "teller", want lobby, wealth, account or supervisor`},
		{"RoleCase", "lobby-B001,B001,Lobby,王芳," + h, "role", `unknown role "Lobby"`},
		{"NameRequired", "lobby-B001,B001,lobby,," + h, "display_name", "required"},
		{"NameBlank", "lobby-B001,B001,lobby,   ," + h, "display_name", "required"},
		{"NameLong", "lobby-B001,B001,lobby," + strings.Repeat("王", 33) + "," + h, "display_name", "longer than 32 characters"},
		{"NameControl", "lobby-B001,B001,lobby,王\t芳," + h, "display_name", "control"},
		{"NameInvalidUTF8", "lobby-B001,B001,lobby,王\xff," + h, "display_name", "UTF-8"},
		{"PINRequired", "lobby-B001,B001,lobby,王芳,", "pin_hash", "required"},
		{"PINPlain", "lobby-B001,B001,lobby,王芳,246810", "pin_hash", "pin_hash must be a hash, not a PIN"},
		{"PINPlainFour", "lobby-B001,B001,lobby,王芳,1234", "pin_hash", "pin_hash must be a hash, not a PIN"},
		{"PINPlainEight", "lobby-B001,B001,lobby,王芳,12345678", "pin_hash", "pin_hash must be a hash, not a PIN"},
		{"HashOtherScheme", "lobby-B001,B001,lobby,王芳,$2a$10$abcdefghijklmnopqrstuv", "pin_hash", "must be pbkdf2-sha256$iterations$salt$hash"},
		{"HashTooFewParts", "lobby-B001,B001,lobby,王芳,pbkdf2-sha256$1000$c2FsdHNhbHQ", "pin_hash", "must be pbkdf2-sha256$"},
		{"HashIterations", "lobby-B001,B001,lobby,王芳," + strings.Replace(h, "$1000$", "$999$", 1), "pin_hash", "iteration count"},
		{"HashIterationsText", "lobby-B001,B001,lobby,王芳," + strings.Replace(h, "$1000$", "$many$", 1), "pin_hash", "iteration count"},
		{"HashShortSalt", "lobby-B001,B001,lobby,王芳,pbkdf2-sha256$1000$c2FsdA$" + strings.Split(h, "$")[3], "pin_hash", "salt"},
		{"HashPaddedSalt", "lobby-B001,B001,lobby,王芳,pbkdf2-sha256$1000$c2FsdHNhbHQ=$" + strings.Split(h, "$")[3], "pin_hash", "salt"},
		{"HashShortKey", "lobby-B001,B001,lobby,王芳," + h[:len(h)-4], "pin_hash", "hash must be 32 bytes"},
		{"FieldCount", "lobby-B001,B001,lobby,王芳", "", "4 fields, want 5"},
		{"BareQuote", `lobby-B001,B001,lobby,王"芳,` + h, "display_name", `bare "`},
		{"TooLong", "lobby-B001,B001,lobby," + strings.Repeat("x", hub.MaxLineBytes) + "," + h, "", "line longer than 65536 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := staffFile(good, tt.line, "lobby-B009,B009,lobby,孙丽,"+h)
			staff, errs, err := hub.ReadStaff(strings.NewReader(data))
			if err != nil {
				t.Fatalf("ReadStaff: %v", err)
			}
			if len(errs) != 1 {
				t.Fatalf("errs=%v, want one", errs)
			}
			e := errs[0]
			if e.Line != 3 || e.Field != tt.field || !strings.Contains(e.Reason, tt.reason) {
				t.Fatalf("LineError=%q (line=%d field=%q), want line 3 field %q reason containing %q", e, e.Line, e.Field, tt.field, tt.reason)
			}
			if len(staff) != 2 || staff[0].ID != "sup-B001" || staff[1].ID != "lobby-B009" {
				t.Fatalf("staff=%v, want the two good rows", staff)
			}
			for _, secret := range []string{"246810", h} {
				if strings.Contains(e.Error(), secret) {
					t.Fatalf("LineError %q echoes the PIN or its hash", e)
				}
			}
		})
	}

	for _, tt := range []struct {
		name string
		data string
		err  string
	}{
		{"ErrEmpty", "", "line 1: empty file, want the header staff_id,branch,role,display_name,pin_hash"},
		{"ErrWrongColumn", "staff_id,branch,role,name,pin_hash\n", `header column 4 is "name", want "display_name"`},
		{"ErrPlainPINColumn", "staff_id,branch,role,display_name,pin\n", `header column 5 is "pin", want "pin_hash"`},
		{"ErrMissingColumn", "staff_id,branch,role,display_name\n", `header column 5 is missing, want "pin_hash"`},
		{"ErrSnapshotHeader", hub.SnapshotHeader + "\n", `header column 1 is "customer_id", want "staff_id"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			staff, errs, err := hub.ReadStaff(strings.NewReader(tt.data))
			var le *hub.LineError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("ReadStaff: err=%v, want a *LineError containing %q", err, tt.err)
			}
			if staff != nil || errs != nil {
				t.Fatalf("ReadStaff: staff=%v errs=%v with a fatal error, want nil", staff, errs)
			}
		})
	}

	t.Run("ErrRead", func(t *testing.T) {
		boom := errors.New("disk on fire")
		src := io.MultiReader(strings.NewReader(staffFile(good)), &errReader{boom})
		staff, errs, err := hub.ReadStaff(src)
		if !errors.Is(err, boom) || staff != nil || errs != nil {
			t.Fatalf("ReadStaff: staff=%v errs=%v err=%v, want only %v", staff, errs, err, boom)
		}
	})
}

func TestBranchStaff(t *testing.T) {
	staff := []huiyan.Staff{
		{ID: "lobby-B001", Branch: "B001"},
		{ID: "lobby-B002", Branch: "B002"},
		{ID: "wealth-B001", Branch: "B001"},
	}
	got := hub.BranchStaff(staff, "B001")
	if ids := []string{got[0].ID, got[1].ID}; len(got) != 2 || !slices.Equal(ids, []string{"lobby-B001", "wealth-B001"}) {
		t.Fatalf("BranchStaff=%v, want lobby-B001 and wealth-B001", got)
	}
	got[0].ID = "changed"
	if staff[0].ID != "lobby-B001" {
		t.Fatal("BranchStaff shares its result with its argument")
	}
	if got := hub.BranchStaff(staff, "B404"); len(got) != 0 {
		t.Fatalf("BranchStaff(B404)=%v, want none", got)
	}
}
