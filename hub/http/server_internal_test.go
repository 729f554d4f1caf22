package http

import (
	"testing"

	"huiyan/hub"
)

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		explicit, file, mediaType string
		want                      hub.Format
		gz, err                   bool
	}{
		{"Explicit", "jsonl", "x.csv", "", hub.FormatJSONL, false, false},
		{"FileName", "", "tags.csv", "", hub.FormatCSV, false, false},
		{"FileNameGzip", "", "tags.jsonl.gz", "", hub.FormatJSONL, true, false},
		{"MediaType", "", "", "text/csv", hub.FormatCSV, false, false},
		{"MediaTypeNDJSON", "", "", "application/x-ndjson", hub.FormatJSONL, false, false},
		{"ErrUnknown", "", "tags.xlsx", "application/octet-stream", 0, false, true},
		{"ErrExplicit", "xml", "", "", 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, gz, err := formatOf(tc.explicit, tc.file, tc.mediaType)
			if (err != nil) != tc.err || f != tc.want || gz != tc.gz {
				t.Fatalf("format=%v gz=%v err=%v, want %v %v err=%v", f, gz, err, tc.want, tc.gz, tc.err)
			}
		})
	}
}

func TestParsePrincipal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want principal
		ok   bool
	}{
		{"admin", principal{admin: true}, true},
		{"edge:B001", principal{branch: "B001"}, true},
		{"edge:", principal{}, false},
		{"edge:../x", principal{}, false},
		{"root", principal{}, false},
		{"", principal{}, false},
	} {
		got, ok := parsePrincipal(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Fatalf("parsePrincipal(%q) = %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok && got.String() != tc.in {
			t.Fatalf("String() = %q, want %q", got.String(), tc.in)
		}
	}
}
