package ecode_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge/ecode"
	"huiyan/edge/ecode/ecodetest"
)

// decodeQR reads the QR code of a PNG the handler serves with a real
// decoder (ZXing's port).
func decodeQR(tb testing.TB, b []byte) string {
	tb.Helper()
	text, err := ecodetest.DecodePNG(b)
	if err != nil {
		tb.Fatalf("decode qr: %v", err)
	}
	return text
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func get(tb testing.TB, url string) (*http.Response, []byte) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, b
}

func TestHandler(t *testing.T) {
	clk := &testClock{t: t0.Add(5 * time.Second)}
	is := mustIssuer(t, ecode.Config{URLPrefix: "https://mbank.example.invalid/e?c="})
	staffOf := func(r *http.Request) (string, error) {
		if r.Header.Get("X-Test-Staff") == "" {
			return "", huiyan.Errorf(huiyan.EUnauthorized, "no session")
		}
		return r.Header.Get("X-Test-Staff"), nil
	}
	srv := httptest.NewServer(ecode.NewHandler(ecode.HandlerConfig{Issuer: is, StaffOf: staffOf, Clock: clk.Now}))
	t.Cleanup(srv.Close)

	t.Run("Page", func(t *testing.T) {
		resp, b := get(t, srv.URL+"/ecode/ecode-01")
		page := string(b)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("status %s, type %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("Cache-Control %q, want no-store", cc)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("CSP %q", csp)
		}
		w := strconv.FormatInt(is.Window(clk.Now()), 10)
		for _, want := range []string{"请使用手机银行扫码", "Scan with mobile banking", "B001", `src="/ecode/ecode-01/qr.png?w=` + w + `"`,
			`src="/ecode/_/display.js"`, `data-display="ecode-01"`} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		for _, path := range []string{"/ecode/_/display.js", "/ecode/_/display.css"} {
			if resp, _ := get(t, srv.URL+path); resp.StatusCode != http.StatusOK {
				t.Errorf("%s: %s", path, resp.Status)
			}
		}
	})

	t.Run("CodeAndQR", func(t *testing.T) {
		resp, b := get(t, srv.URL+"/ecode/ecode-01/code.json")
		var ci ecode.CodeInfo
		if err := json.Unmarshal(b, &ci); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("code.json: %s %s %v", resp.Status, b, err)
		}
		if ci.Display != "ecode-01" || ci.Kind != ecode.KindBranch || ci.Branch != "B001" || ci.PeriodS != 60 {
			t.Fatalf("code.json=%+v", ci)
		}
		if at, err := time.Parse(ecode.TimeLayout, ci.RefreshAt); err != nil || !at.Equal(t0.Add(time.Minute)) {
			t.Fatalf("refresh_at=%s, want the end of the window", ci.RefreshAt)
		}
		resp, b = get(t, srv.URL+ci.QR)
		if resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("qr: %s %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		got := decodeQR(t, b)
		if got != ci.Content || !strings.HasPrefix(got, "https://mbank.example.invalid/e?c=") {
			t.Fatalf("the QR code holds %q, want %q", got, ci.Content)
		}
		if v := is.Verify(got, clk.Now(), nil); v.Verdict != ecode.OK || v.Code.Subject != "ecode-01" {
			t.Fatalf("the scanned QR code: %+v", v)
		}
	})

	t.Run("QROnlyCurrentOrPreviousWindow", func(t *testing.T) {
		cur := is.Window(clk.Now())
		for _, tc := range []struct {
			name string
			w    int64
			want int64
		}{{"Previous", cur - 1, cur - 1}, {"Current", cur, cur}, {"Older", cur - 2, cur}, {"Next", cur + 1, cur}} {
			t.Run(tc.name, func(t *testing.T) {
				_, b := get(t, srv.URL+"/ecode/ecode-02/qr.png?w="+strconv.FormatInt(tc.w, 10))
				c, err := ecode.Parse(decodeQR(t, b))
				if err != nil || c.Window != tc.want {
					t.Fatalf("window %d drawn for w=%d (err %v), want %d", c.Window, tc.w, err, tc.want)
				}
			})
		}
	})

	t.Run("ErrUnknownDisplay", func(t *testing.T) {
		for _, path := range []string{"/ecode/ecode-99", "/ecode/ecode-99/code.json", "/ecode/ecode-99/qr.png", "/ecode/..%2Fpad/code.json"} {
			if resp, b := get(t, srv.URL+path); resp.StatusCode != http.StatusNotFound || bytes.Contains(b, []byte("HY1.")) {
				t.Errorf("%s: %s %s, want 404 without a code", path, resp.Status, b)
			}
		}
	})

	t.Run("MyCode", func(t *testing.T) {
		if resp, _ := get(t, srv.URL+"/pad/mycode"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("without a session: %s, want 401", resp.Status)
		}
		if resp, _ := get(t, srv.URL+"/pad/mycode/qr.png"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("qr without a session: %s, want 401", resp.Status)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/pad/mycode", nil)
		req.Header.Set("X-Test-Staff", "lobby-B001")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ci ecode.CodeInfo
		if err := json.NewDecoder(resp.Body).Decode(&ci); err != nil {
			t.Fatal(err)
		}
		if ci.Staff != "lobby-B001" || ci.Kind != ecode.KindStaff || ci.QR == "" {
			t.Fatalf("mycode=%+v", ci)
		}
		req, _ = http.NewRequest(http.MethodGet, srv.URL+ci.QR, nil)
		req.Header.Set("X-Test-Staff", "lobby-B001")
		qr, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer qr.Body.Close()
		b, _ := io.ReadAll(qr.Body)
		r := is.Verify(decodeQR(t, b), clk.Now(), func(id string) bool { return id == "lobby-B001" })
		if r.Verdict != ecode.OK || r.Staff() != "lobby-B001" {
			t.Fatalf("the PAD's QR code: %+v", r)
		}
	})
}
