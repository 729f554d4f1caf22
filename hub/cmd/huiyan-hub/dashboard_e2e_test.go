package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"huiyan"
	"huiyan/hub"
	hubhttp "huiyan/hub/http"
)

// chromiumPath is where Debian's package chromium installs the browser.
const chromiumPath = "/usr/bin/chromium"

// dashDay is a scripted branch day with known figures (see the comments
// in TestHubDashboardBrowser): every event of each visit, in order.
func dashDay(base time.Time) map[string][]hub.EventWire {
	n := 0
	ev := func(visit string, kind hub.EventKind, after time.Duration, f func(*hub.EventWire)) hub.EventWire {
		n++
		e := hub.EventWire{ID: fmt.Sprintf("%s:%d:%s", visit, n, kind), Kind: kind, At: base.Add(after), Visit: visit}
		if f != nil {
			f(&e)
		}
		return e
	}
	open := func(ch huiyan.Channel, mbank huiyan.MBankStatus) func(*hub.EventWire) {
		return func(e *hub.EventWire) {
			e.Channel = ch
			if mbank != "" {
				e.Recognised, e.MBankAtOpen, e.Tier = true, mbank, huiyan.TierNormal
			}
		}
	}
	staff := func(s string) func(*hub.EventWire) { return func(e *hub.EventWire) { e.Staff = s } }
	outcome := func(s string, o huiyan.Outcome) func(*hub.EventWire) {
		return func(e *hub.EventWire) { e.Staff, e.Outcome = s, o }
	}
	conv := func(c huiyan.Conversion, s string) func(*hub.EventWire) {
		return func(e *hub.EventWire) { e.Conversion, e.Staff = c, s }
	}
	touch := func(e *hub.EventWire) { e.Channel = huiyan.ChannelECode }
	return map[string][]hub.EventWire{
		"B001": {
			ev("v1", hub.EventOpened, 0, open(huiyan.ChannelCounter, huiyan.MBankRegistered)),
			ev("v1", hub.EventClaimed, 30*time.Second, staff("lobby-B001")),
			ev("v1", hub.EventTouch, 2*time.Minute, touch),
			ev("v1", hub.EventConverted, 2*time.Minute, conv(huiyan.ConversionActivated, "lobby-B001")),
			ev("v1", hub.EventOutcome, 3*time.Minute, outcome("lobby-B001", huiyan.OutcomeActivated)),
			ev("v2", hub.EventOpened, time.Minute, open(huiyan.ChannelCounter, huiyan.MBankDormant)),
			ev("v2", hub.EventClaimed, time.Minute+90*time.Second, staff("lobby-B001")),
			ev("v2", hub.EventOutcome, 4*time.Minute, outcome("lobby-B001", huiyan.OutcomeDeclined)),
			ev("v3", hub.EventOpened, 2*time.Minute, open(huiyan.ChannelCounter, huiyan.MBankNone)),
			ev("v3", hub.EventTouch, 3*time.Minute, touch),
			ev("v3", hub.EventConverted, 3*time.Minute, conv(huiyan.ConversionNewUser, "")),
			ev("v3", hub.EventOutcome, 5*time.Minute, outcome("wealth-B001", huiyan.OutcomeServed)),
			ev("v4", hub.EventOpened, 3*time.Minute, open(huiyan.ChannelWheel, "")),
			ev("v4", hub.EventClaimed, 3*time.Minute+10*time.Second, staff("wealth-B001")),
		},
		"B002": {
			ev("v5", hub.EventOpened, 0, open(huiyan.ChannelCounter, huiyan.MBankRegistered)),
			ev("v5", hub.EventClaimed, time.Minute, staff("lobby-B002")),
			ev("v5", hub.EventTouch, 2*time.Minute, touch),
			ev("v5", hub.EventConverted, 2*time.Minute, conv(huiyan.ConversionActivated, "")),
			ev("v5", hub.EventOutcome, 3*time.Minute, outcome("lobby-B002", huiyan.OutcomeServed)),
			ev("v6", hub.EventOpened, 5*time.Minute, open(huiyan.ChannelECode, huiyan.MBankActive)),
		},
	}
}

// TestHubDashboardBrowser: two branches' edges post a scripted day of
// visit events and B001's edge a heartbeat; HQ opens the dashboard in
// headless Chromium, enters the admin token and finds the day's figures:
//
//	arrivals 6 (counter 4, e-code 1, wheel 1), recognised 5, new faces 1
//	claimed 4 after 30, 90, 10 and 60 s: median 30 s, p90 90 s
//	served 3 (v1 activated, v3 served, v5 served; v2 declined)
//	促活率 2 of 3 = 66.67 % (v1 credited to lobby-B001, v5 to B002's branch code)
//	拉新率 1 of 1 = 100.00 %
//	top branch B002 (100 %), then B001 (50 %); staff leaderboard led by lobby-B001
//	B001's edge online with 1 of 2 devices online; B002 never reported.
func TestHubDashboardBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s not found: install the Debian package chromium (apt-get install chromium): %v", chromiumPath, err)
	}
	c := testConfig(t, "n1")
	c.Bootstrap = true
	m := MustRunMain(t, c)
	testPoll(t, "n1 leads", func() bool { return m.Store.IsLeader() }, 10*time.Second)
	base := "http://" + m.HTTPAddr()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	for branch, evs := range dashDay(start) {
		st, b := call(t, "POST", base+"/v1/credentials/"+branch, testToken, nil, "")
		if st != http.StatusCreated {
			t.Fatalf("credential %s: %d %s", branch, st, b)
		}
		var cr hubhttp.CredentialResponse
		if err := json.Unmarshal(b, &cr); err != nil {
			t.Fatal(err)
		}
		cl, err := hub.NewClient(base, cr.Credential, nil)
		if err != nil {
			t.Fatal(err)
		}
		ack, err := cl.PostEvents(ctx, branch, hub.EventBatch{Events: evs})
		if err != nil || ack.Accepted != len(evs) {
			t.Fatalf("post %s events: %+v %v", branch, ack, err)
		}
		if branch == "B001" {
			err := cl.ReportStatus(ctx, branch, hub.EdgeStatus{At: time.Now(), Version: "test", OutboxDepth: 0,
				Devices: []hub.DeviceStatus{
					{Device: "sc-01", Channel: huiyan.ChannelCounter, Online: true, Since: start},
					{Device: "ecode-01", Channel: huiyan.ChannelECode, Online: false, Since: start},
				}})
			if err != nil {
				t.Fatalf("status: %v", err)
			}
		}
	}

	p := newDashTab(t, base)
	submit := chromedp.Click(chromedp.CSS("#login-form button[type=submit]"), chromedp.NodeVisible)
	p.waitJS(t, "the login form", 10*time.Second, `!document.getElementById("login").hidden`)
	p.do(t, "log in", chromedp.SendKeys(chromedp.CSS("#token"), testToken), submit)
	kpi := func(id string) string {
		return `document.querySelector('[data-kpi="` + id + `"] .kpi-value')?.textContent`
	}
	p.waitJS(t, "the figures", 15*time.Second, kpi("arrivals")+` === "6"`)
	checks := []struct{ what, expr, want string }{
		{"arrivals", kpi("arrivals"), "6"},
		{"channels", `document.querySelector('[data-kpi="arrivals"] .kpi-sub').textContent`, "柜台 4 · e码 1 · 转盘 1"},
		{"recognised", kpi("recognised"), "5"},
		{"served", kpi("served"), "3"},
		{"activation rate", kpi("activation"), "66.67%"},
		{"activation counts", `document.querySelector('[data-kpi="activation"] .kpi-sub').textContent`, "2 / 3 位待促活客户"},
		{"new-user rate", kpi("new_user"), "100.00%"},
		{"claim times", kpi("claim"), "30秒 / 90秒"},
		{"top branch", `document.querySelector("#top tbody tr td")?.textContent`, "B002"},
		{"bottom branch", `document.querySelector("#bottom tbody tr td")?.textContent`, "B001"},
		{"staff leader", `document.querySelectorAll("#staff tbody tr td")[1]?.textContent`, "lobby-B001"},
		{"leader's activations", `document.querySelectorAll("#staff tbody tr td")[3]?.textContent`, "1"},
		{"B001 devices", `[...document.querySelectorAll("#branches tbody tr")].find(r => r.cells[0].textContent === "B001")?.querySelector("[data-devices]")?.dataset.devices`, "1/2"},
		{"B001 state", `[...document.querySelectorAll("#branches tbody tr")].find(r => r.cells[0].textContent === "B001")?.querySelector("[data-state]")?.dataset.state`, "ok"},
		{"B002 state", `[...document.querySelectorAll("#branches tbody tr")].find(r => r.cells[0].textContent === "B002")?.querySelector("[data-state]")?.dataset.state`, "never"},
		{"chart bars", `String(document.querySelectorAll("#chart rect.bar.arrivals").length)`, "7"},
	}
	for _, c := range checks {
		if got := eval[string](t, p, c.expr); got != c.want {
			p.fail(t, "%s: %q, want %q", c.what, got, c.want)
		}
	}
	dir := os.Getenv("HUIYAN_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	p.screenshot(t, filepath.Join(dir, "hub-dashboard-zh.png"))

	// English, and the token survives a reload of the tab (sessionStorage)
	// but not a logout.
	p.do(t, "switch to English", chromedp.Click(chromedp.CSS("#lang")))
	p.waitJS(t, "English labels", 5*time.Second, `document.querySelector('[data-kpi="activation"] .kpi-label').textContent === "Activation rate"`)
	p.screenshot(t, filepath.Join(dir, "hub-dashboard-en.png"))
	p.do(t, "reload", chromedp.Reload())
	p.waitJS(t, "figures after a reload", 15*time.Second, kpi("arrivals")+` === "6"`)
	p.do(t, "log out", chromedp.Click(chromedp.CSS("#logout")))
	p.waitJS(t, "the login form", 5*time.Second, `!document.getElementById("login").hidden && sessionStorage.length === 0`)

	// A wrong token is refused and nothing is shown.
	p.do(t, "log in with a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"), submit)
	p.waitJS(t, "the refusal", 10*time.Second, `!document.getElementById("login-error").hidden && document.getElementById("main").hidden`)
	if msgs := p.consoleText(); msgs != "" {
		t.Logf("console:\n%s", msgs)
	}
}
