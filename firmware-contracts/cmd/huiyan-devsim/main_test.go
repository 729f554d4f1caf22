package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run runs the program with args and returns its exit status and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb}
	code = m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestMain_BadFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"NoCommand", nil, "Usage"},
		{"UnknownCommand", []string{"generate"}, `unknown command "generate"`},
		{"UnknownFlag", []string{"gen", "-nope"}, "flag provided but not defined: -nope"},
		{"NotANumber", []string{"gen", "-customers", "many"}, `invalid value "many" for flag -customers`},
		{"ZeroCustomers", []string{"gen", "-customers", "0"}, "-customers 0: must be 1 to"},
		{"ZeroBranches", []string{"gen", "-branches", "0"}, "-branches 0: must be 1 to"},
		{"TooManyBranches", []string{"gen", "-branches", "1000000"}, "-branches 1000000"},
		{"BadSeed", []string{"gen", "-seed", "1.5"}, "flag -seed"},
		{"EmptyOut", []string{"gen", "-out", ""}, "-out: must name a directory"},
		{"Positional", []string{"gen", "-customers", "5", "extra"}, `unexpected argument "extra"`},
		{"RunUnbounded", []string{"run"}, "give -duration or -count"},
		{"RunBadRate", []string{"run", "-count", "1", "-rate", "0"}, "-rate 0: must be above 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, c.args...)
			if code != exitUsage {
				t.Fatalf("exit=%d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr=%q, want it to contain %q", stderr, c.want)
			}
			if c.name != "NoCommand" {
				if lines := strings.Count(stderr, "\n"); lines != 1 {
					t.Fatalf("stderr has %d lines, want one: %q", lines, stderr)
				}
				if stdout != "" {
					t.Fatalf("stdout=%q, want nothing on a bad flag", stdout)
				}
			}
		})
	}
}

func TestMain_Help(t *testing.T) {
	code, stdout, _ := run(t, "gen", "-h")
	if code != exitOK {
		t.Fatalf("exit=%d, want 0", code)
	}
	for _, flag := range []string{"-customers", "-branches", "-seed", "-out"} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("gen -h does not document %s:\n%s", flag, stdout)
		}
	}
	if code, stdout, _ := run(t, "-h"); code != exitOK || !strings.Contains(stdout, "gen") || !strings.Contains(stdout, "run") {
		t.Errorf("-h: exit=%d stdout=%q", code, stdout)
	}
}

func TestMain_Gen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, stdout, stderr := run(t, "gen", "-customers", "50", "-branches", "1", "-seed", "3", "-out", dir)
	if code != exitOK {
		t.Fatalf("exit=%d stderr=%q", code, stderr)
	}
	for _, f := range []string{"tags.csv", "staff.csv"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "tags.csv" && strings.Count(string(data), "\n") != 51 {
			t.Errorf("tags.csv has %d lines, want 51", strings.Count(string(data), "\n"))
		}
		if !strings.Contains(stdout, filepath.Join(dir, f)) {
			t.Errorf("stdout does not name %s: %q", f, stdout)
		}
	}
}
