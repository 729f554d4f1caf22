package pad_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"huiyan"
	pad "huiyan/pad-api"
)

// TestWebAppHeaders checks what every answer carries (issue 4, "Privacy":
// nothing cached after logout) and the app's content security policy.
func TestWebAppHeaders(t *testing.T) {
	h := newHarness(t, pad.Options{})
	cookie := h.login("lobby-1")
	for _, path := range []string{"/", "/app.js", "/feed.js", "/i18n.js", "/app.css", "/icon.svg", "/pad/me", "/pad/staff", "/pad/asyncapi.yaml"} {
		req, _ := http.NewRequest(http.MethodGet, h.ts.URL+path, nil)
		req.Header.Set("Cookie", cookie.String())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status=%d, want 200", path, resp.StatusCode)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control=%q, want no-store", path, cc)
		}
	}
	resp, err := http.Get(h.ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP=%q, want default-src 'none' and script-src 'self'", csp)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type=%q, want text/html", ct)
	}
	resp, err = http.Get(h.ts.URL + "/app.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("app.js Content-Type=%q, want text/javascript (a module script needs it)", ct)
	}
}

func TestStaffNames(t *testing.T) {
	h := newHarness(t, pad.Options{})
	get := func(cookie *http.Cookie) (*http.Response, pad.StaffList) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/pad/staff", nil)
		if cookie != nil {
			req.Header.Set("Cookie", cookie.String())
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list pad.StaffList
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
				t.Fatal(err)
			}
		}
		return resp, list
	}

	t.Run("ErrUnauthorized", func(t *testing.T) {
		if resp, _ := get(nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status=%d, want 401", resp.StatusCode)
		}
	})
	t.Run("OK", func(t *testing.T) {
		lobby := h.login("lobby-1")
		h.login("wealth-1")
		resp, list := get(lobby)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status=%d, want 200", resp.StatusCode)
		}
		want := []pad.Staff{{ID: "lobby-1", Name: "王*", Role: huiyan.RoleLobby}, {ID: "wealth-1", Name: "张*", Role: huiyan.RoleWealth}}
		if !slices.Equal(list.Staff, want) {
			t.Fatalf("staff=%+v, want %+v", list.Staff, want)
		}
	})
}

func readWeb(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("web", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWebAppLabels keeps the app's code lists (i18n.js) in step with the
// domain: every tier, status, channel, outcome, role, lifecycle stage and
// product has its Chinese and English name.
func TestWebAppLabels(t *testing.T) {
	src := readWeb(t, "i18n.js")
	list := func(name string) string {
		t.Helper()
		i := strings.Index(src, "\n  "+name+": {")
		if i < 0 {
			t.Fatalf("i18n.js: no list %s", name)
		}
		j := strings.Index(src[i:], "\n  },")
		return src[i : i+j]
	}
	entry := regexp.MustCompile(`(?m)^\s+(\w+): \["[^"]+", "[^"]+"\],$`)
	check := func(name string, want []string) {
		t.Helper()
		var got []string
		for _, m := range entry.FindAllStringSubmatch(list(name), -1) {
			got = append(got, m[1])
		}
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) {
			t.Errorf("i18n.js %s=%v, want %v", name, got, want)
		}
	}
	check("tier", strs(huiyan.Tiers))
	check("mbank", strs(huiyan.MBankStatuses))
	check("channel", strs(huiyan.Channels))
	check("outcome", strs(huiyan.Outcomes))
	check("role", strs(huiyan.Roles))
	check("lifecycle", strs(huiyan.Lifecycles))
	check("conversion", []string{string(huiyan.ConversionActivated), string(huiyan.ConversionNewUser)})
	var products []string
	for _, p := range huiyan.Products {
		products = append(products, p.Code)
	}
	check("product", products)

	var quoted []string
	for _, o := range huiyan.Outcomes {
		quoted = append(quoted, `"`+string(o)+`"`)
	}
	if want := "export const OUTCOMES = [" + strings.Join(quoted, ", ") + "];"; !strings.Contains(src, want) {
		t.Errorf("i18n.js: want %s (the order of huiyan.Outcomes)", want)
	}
}

// TestWebAppPrivacy checks the app's source for what issue 4 forbids: data
// in storage beyond the language choice, console output, HTML parsing of
// data, and anything loaded from outside the edge.
func TestWebAppPrivacy(t *testing.T) {
	entries, err := os.ReadDir("web")
	if err != nil {
		t.Fatal(err)
	}
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`)
	for _, e := range entries {
		src := readWeb(t, e.Name())
		if e.Name() != "icon.svg" { // its xmlns is a name, not a fetch
			if m := external.FindString(src); m != "" {
				t.Errorf("%s refers to %q: the app must load nothing from outside the edge", e.Name(), m)
			}
		}
		if !strings.HasSuffix(e.Name(), ".js") {
			continue
		}
		for _, bad := range []string{"console.", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "sessionStorage", "indexedDB", "document.cookie", "eval("} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", e.Name(), bad)
			}
		}
		if n := strings.Count(src, "localStorage"); (e.Name() == "i18n.js") != (n > 0) {
			t.Errorf("%s uses localStorage %d times: only i18n.js may, for the language", e.Name(), n)
		}
	}
	if src := readWeb(t, "i18n.js"); strings.Count(src, "localStorage.setItem(STORAGE_KEY, lang)") != 1 || strings.Count(src, "localStorage.setItem") != 1 {
		t.Error("i18n.js: localStorage may hold the language and nothing else")
	}
}
