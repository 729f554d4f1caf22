package pad_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"huiyan"
	pad "huiyan/pad-api"
)

func decodeBody(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode body: %v", err)
	}
}

const wrongLoginBody = `{"code":"unauthorized","message":"工号或密码错误 / wrong staff id or PIN"}` + "\n"

func TestLogin(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		resp := h.loginFrom("127.0.0.1", "wealth-1", testPIN)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status=%d, want 200", resp.StatusCode)
		}
		raw := resp.Header.Get("Set-Cookie")
		for _, want := range []string{pad.CookieName + "=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"} {
			if !strings.Contains(raw, want) {
				t.Errorf("Set-Cookie=%q, want %q in it", raw, want)
			}
		}
		if strings.Contains(raw, "Secure") {
			t.Errorf("Set-Cookie=%q: Secure without the option", raw)
		}
		var info pad.SessionInfo
		decodeBody(t, resp, &info)
		want := pad.Staff{ID: "wealth-1", Name: "张*", Role: huiyan.RoleWealth}
		if info.Staff != want || info.Branch != "0101" {
			t.Errorf("answer=%+v, want staff %+v branch 0101", info, want)
		}
		if _, err := time.Parse(time.RFC3339, info.ExpiresAt); err != nil {
			t.Errorf("expires_at=%q: %v", info.ExpiresAt, err)
		}
	})

	t.Run("Secure", func(t *testing.T) {
		h := newHarness(t, pad.Options{Secure: true})
		if c := h.login("lobby-1"); !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie=%+v, want Secure HttpOnly SameSite=Strict", c)
		}
	})

	t.Run("ErrWrongPIN", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		for _, staff := range []string{"lobby-1", "nobody", "bad id!"} {
			resp := h.loginFrom("127.0.0.1", staff, "000000")
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnauthorized || string(body) != wrongLoginBody {
				t.Errorf("staff %q: status=%d body=%s, want 401 %s", staff, resp.StatusCode, body, wrongLoginBody)
			}
			if resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("staff %q: a cookie on a failed login", staff)
			}
		}
	})

	t.Run("ErrCrossSite", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		resp := h.post(http.DefaultClient, "/pad/login", `{"staff":"lobby-1","pin":"246810"}`, http.Header{"Origin": {"https://evil.example"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status=%d, want 403", resp.StatusCode)
		}
		resp = h.post(http.DefaultClient, "/pad/login", `{"staff":"lobby-1","pin":"246810"}`, originHeader(h))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("same origin: status=%d, want 200", resp.StatusCode)
		}
		resp = h.post(http.DefaultClient, "/pad/logout", ``, http.Header{"Origin": {"https://evil.example"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("logout: status=%d, want 403", resp.StatusCode)
		}
		if n := h.fake.logins.Load(); n != 1 {
			t.Errorf("backend logins=%d, want 1", n)
		}
	})

	t.Run("ErrBadBody", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		for _, tt := range []struct {
			name, contentType, body string
			status                  int
		}{
			{"NotJSON", "application/x-www-form-urlencoded", "staff=lobby-1&pin=246810", http.StatusUnsupportedMediaType},
			{"Malformed", "application/json", `{"staff":`, http.StatusBadRequest},
			{"Empty", "application/json", `{"staff":"lobby-1"}`, http.StatusBadRequest},
			{"TooLarge", "application/json", `{"staff":"lobby-1","pin":"` + strings.Repeat("1", 5000) + `"}`, http.StatusRequestEntityTooLarge},
		} {
			req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/pad/login", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("%s: status=%d, want %d", tt.name, resp.StatusCode, tt.status)
			}
		}
		if n := h.fake.logins.Load(); n != 0 {
			t.Errorf("backend logins=%d, want 0", n)
		}
	})

	t.Run("MeAndLogout", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		cookie := h.login("account-1")
		me := func() *http.Response {
			req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/pad/me", nil)
			req.AddCookie(cookie)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}
		resp := me()
		var info pad.SessionInfo
		decodeBody(t, resp, &info)
		if resp.StatusCode != http.StatusOK || info.Staff.ID != "account-1" {
			t.Fatalf("me: status=%d staff=%q, want 200 account-1", resp.StatusCode, info.Staff.ID)
		}

		ws, _, err := h.dial(cookie, nil)
		if err != nil {
			t.Fatal(err)
		}
		pc := startClient(t, ws)
		pc.expect(pad.TypeHello, nil)

		resp = h.post(http.DefaultClient, "/pad/logout", "", http.Header{"Cookie": {cookie.String()}})
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout: status=%d, want 204", resp.StatusCode)
		}
		if c := resp.Cookies(); len(c) != 1 || c[0].Name != pad.CookieName || c[0].MaxAge >= 0 {
			t.Errorf("logout cookies=%v, want %s cleared", c, pad.CookieName)
		}
		var e pad.ErrorMsg
		pc.expect(pad.TypeError, &e)
		if e.Code != huiyan.EUnauthorized {
			t.Errorf("error code=%q, want unauthorized", e.Code)
		}
		if err := pc.closed(); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Errorf("close=%v, want 1008", err)
		}
		if resp := me(); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("me after logout: status=%d, want 401", resp.StatusCode)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	checkLimited := func(t *testing.T, resp *http.Response) {
		t.Helper()
		var e pad.HTTPError
		decodeBody(t, resp, &e)
		if resp.StatusCode != http.StatusTooManyRequests || e.Code != pad.ERateLimited {
			t.Fatalf("status=%d code=%q, want 429 rate_limited", resp.StatusCode, e.Code)
		}
		ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || ra <= 0 || ra > 15*60 || ra != e.RetryAfterS {
			t.Errorf("Retry-After=%q retry_after_s=%d, want the same 1..900", resp.Header.Get("Retry-After"), e.RetryAfterS)
		}
	}

	t.Run("PerStaff", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		for i := range pad.DefaultLoginFailures {
			ip := fmt.Sprintf("127.0.0.%d", 10+i) // a different address each time
			if resp := h.loginFrom(ip, "lobby-1", "000000"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: status=%d, want 401", i, resp.StatusCode)
			}
		}
		before := h.fake.logins.Load()
		checkLimited(t, h.loginFrom("127.0.0.30", "lobby-1", testPIN)) // the right PIN, still locked
		if h.fake.logins.Load() != before {
			t.Error("a locked login reached the backend")
		}
		if resp := h.loginFrom("127.0.0.30", "lobby-2", testPIN); resp.StatusCode != http.StatusOK {
			t.Errorf("another staff id: status=%d, want 200", resp.StatusCode)
		}
		h.clock.Advance(pad.DefaultLoginLockout - time.Second)
		checkLimited(t, h.loginFrom("127.0.0.31", "lobby-1", testPIN))
		h.clock.Advance(time.Second)
		if resp := h.loginFrom("127.0.0.31", "lobby-1", testPIN); resp.StatusCode != http.StatusOK {
			t.Errorf("after the lockout: status=%d, want 200", resp.StatusCode)
		}
		if got := h.counter("huiyan_pad_login_rate_limited_total"); got != 2 {
			t.Errorf("rate limited counter=%v, want 2", got)
		}
	})

	t.Run("PerAddress", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		staff := []string{"lobby-1", "lobby-2", "wealth-1", "nobody", "bad id!"}
		for i, s := range staff {
			if resp := h.loginFrom("127.0.0.40", s, "000000"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: status=%d, want 401", i, resp.StatusCode)
			}
		}
		checkLimited(t, h.loginFrom("127.0.0.40", "super-1", testPIN))
		if resp := h.loginFrom("127.0.0.41", "super-1", testPIN); resp.StatusCode != http.StatusOK {
			t.Errorf("another address: status=%d, want 200", resp.StatusCode)
		}
	})

	t.Run("WindowSlides", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		for i := range pad.DefaultLoginFailures - 1 {
			if resp := h.loginFrom("127.0.0.50", "wealth-1", "000000"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: status=%d, want 401", i, resp.StatusCode)
			}
		}
		h.clock.Advance(pad.DefaultLoginWindow) // the four failures age out
		if resp := h.loginFrom("127.0.0.50", "wealth-1", "000000"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status=%d, want 401", resp.StatusCode)
		}
		if resp := h.loginFrom("127.0.0.50", "wealth-1", testPIN); resp.StatusCode != http.StatusOK {
			t.Errorf("status=%d, want 200", resp.StatusCode)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf(`{"staff":"account-2","pin":"%06d"}`, i)
				req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/pad/login", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client(fmt.Sprintf("127.0.1.%d", i+1)).Do(req)
				if err == nil {
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		if n := h.fake.logins.Load(); n > int32(pad.DefaultLoginFailures) {
			t.Errorf("backend checked %d guesses, want at most %d", n, pad.DefaultLoginFailures)
		}
	})
}
