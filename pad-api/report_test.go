package pad_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"huiyan"
	pad "huiyan/pad-api"
)

// Report makes the fake a pad.Reporter: it answers the query it got, as
// JSON, so that the tests see what the server parsed.
func (f *fakeBackend) Report(ctx context.Context, q pad.ReportQuery) (pad.ReportAnswer, error) {
	if q.To == "2000-01-01" { // the backend's own refusal, passed on as is
		return pad.ReportAnswer{}, huiyan.Errorf(huiyan.EInvalid, "from, to: at most 366 days")
	}
	b, err := json.Marshal(q)
	if err != nil {
		return pad.ReportAnswer{}, err
	}
	if q.Format == "csv" {
		return pad.ReportAnswer{ContentType: "text/csv; charset=utf-8", Filename: "funnel-0101-2026-11-23-2026-11-23.csv", Body: []byte("table," + q.Table + "\n")}, nil
	}
	return pad.ReportAnswer{ContentType: "application/json; charset=utf-8", Body: b}, nil
}

var _ pad.Reporter = (*fakeBackend)(nil)

func (h *harness) getReport(cookie *http.Cookie, query string) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.ts.URL+"/pad/report"+query, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if cookie != nil {
		req.Header.Set("Cookie", cookie.String())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, b
}

// TestReport_Roles: only a supervisor gets the report.
func TestReport_Roles(t *testing.T) {
	h := newHarness(t, pad.Options{})
	for _, tc := range []struct {
		name   string
		staff  string // "" for no session
		status int
		code   string
	}{
		{"ErrUnauthorized", "", http.StatusUnauthorized, huiyan.EUnauthorized},
		{"ErrForbiddenLobby", "lobby-1", http.StatusForbidden, huiyan.EForbidden},
		{"ErrForbiddenWealth", "wealth-1", http.StatusForbidden, huiyan.EForbidden},
		{"ErrForbiddenAccount", "account-1", http.StatusForbidden, huiyan.EForbidden},
		{"OK", "super-1", http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cookie *http.Cookie
			if tc.staff != "" {
				cookie = h.login(tc.staff)
			}
			resp, body := h.getReport(cookie, "")
			if resp.StatusCode != tc.status {
				t.Fatalf("status=%d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control=%q, want no-store", resp.Header.Get("Cache-Control"))
			}
			if tc.code == "" {
				return
			}
			var e pad.HTTPError
			if err := json.Unmarshal(body, &e); err != nil || e.Code != tc.code {
				t.Errorf("body=%s, want code %s", body, tc.code)
			}
		})
	}
}

// TestReport_Query is the table of what GET /pad/report accepts.
func TestReport_Query(t *testing.T) {
	h := newHarness(t, pad.Options{})
	cookie := h.login("super-1")
	for _, tc := range []struct {
		query string
		want  *pad.ReportQuery // nil: 400 invalid
	}{
		{"", &pad.ReportQuery{Format: "json"}},
		{"?days=7&by=day", &pad.ReportQuery{Days: 7, By: "day", Format: "json"}},
		{"?from=2026-11-18&to=2026-11-24", &pad.ReportQuery{From: "2026-11-18", To: "2026-11-24", Format: "json"}},
		{"?to=2026-11-24&days=366", &pad.ReportQuery{To: "2026-11-24", Days: 366, Format: "json"}},
		{"?format=csv", &pad.ReportQuery{Format: "csv", Table: "funnel"}},
		{"?format=csv&table=staff", &pad.ReportQuery{Format: "csv", Table: "staff"}},
		{"?from=2026-2-1", nil},
		{"?from=2026-02-30", nil},
		{"?to=yesterday", nil},
		{"?from=2026-11-24&to=2026-11-23", nil},
		{"?from=2025-01-01&to=2026-11-23", nil},
		{"?days=0", nil},
		{"?days=367", nil},
		{"?days=x", nil},
		{"?days=7&from=2026-11-18", nil},
		{"?by=week", nil},
		{"?format=xml", nil},
		{"?table=staff", nil},
		{"?format=csv&table=people", nil},
		{"?to=2000-01-01", nil}, // refused by the backend
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, body := h.getReport(cookie, tc.query)
			if tc.want == nil {
				var e pad.HTTPError
				if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || e.Code != huiyan.EInvalid {
					t.Fatalf("status=%d body=%s, want 400 invalid", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status=%d body=%s, want 200", resp.StatusCode, body)
			}
			if tc.want.Format == "csv" {
				if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename=funnel-0101-2026-11-23-2026-11-23.csv` {
					t.Errorf("Content-Disposition=%q", cd)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
					t.Errorf("Content-Type=%q", ct)
				}
				if want := "table," + tc.want.Table + "\n"; string(body) != want {
					t.Errorf("body=%q, want %q", body, want)
				}
				return
			}
			var got pad.ReportQuery
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got != *tc.want {
				t.Errorf("query=%+v, want %+v", got, *tc.want)
			}
		})
	}
}

// TestReport_WebFiles: the report's script and style are served like the
// app's own, and the page loads them.
func TestReport_WebFiles(t *testing.T) {
	h := newHarness(t, pad.Options{})
	for path, ctype := range map[string]string{"/report.js": "text/javascript", "/report.css": "text/css"} {
		resp, err := http.Get(h.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %q, want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), ctype)
		}
	}
	if !strings.Contains(readWeb(t, "index.html"), `href="report.css"`) || !strings.Contains(readWeb(t, "app.js"), `from "./report.js"`) {
		t.Error("the app does not load report.css and report.js")
	}
}
