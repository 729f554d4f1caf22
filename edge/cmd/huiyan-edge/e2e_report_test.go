package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"huiyan/firmware-contracts/devsim"
	"huiyan/hub/funnel"
)

// TestPADBrowser_Report is issue 6's branch screen in headless Chromium
// against a real edge: a supervisor opens the report after a scripted
// day (devices on MQTT, a lobby PAD on the websocket) and reads exactly
// its figures, in Chinese and in English; a lobby manager has no report
// button and the edge refuses them the report.
func TestPADBrowser_Report(t *testing.T) {
	chromium := mustChromium(t)
	ds := mustDataSet(t)
	m, _ := mustRunEdge(t, ds.Dir, edgeOptions{})
	base := "http://" + m.HTTPAddr()
	began := time.Now()
	day := playBranchDay(t, m, ds)
	browser := newBrowser(t, chromium)
	const wait = 10 * time.Second

	super := newTab(t, browser, "supervisor PAD", base)
	logIn := func(p *tab, staff string) {
		t.Helper()
		p.waitJS(t, "the login form", wait, `!document.getElementById("login-view").hidden`)
		p.do(t, "log in",
			chromedp.SendKeys(chromedp.CSS("#staff"), staff),
			chromedp.SendKeys(chromedp.CSS("#pin"), devsim.DemoPIN),
			chromedp.Click(chromedp.CSS("#login-submit")),
		)
		p.waitJS(t, "the app, live", wait, `document.getElementById("conn").classList.contains("live")`)
	}
	logIn(super, "supervisor-B001")
	super.do(t, "open the report", chromedp.Click(chromedp.CSS("#report-toggle"), chromedp.NodeVisible))
	super.waitJS(t, "the report instead of the cards", wait,
		`!document.getElementById("report").hidden && getComputedStyle(document.getElementById("cards")).display === "none"`)

	// The last 7 days hold the whole script even if midnight fell in it.
	super.do(t, "last 7 days", chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll(".range-btn")].find(b => b.textContent === "近7日")`), chromedp.NodeVisible))
	kpi := func(key string) string {
		return `(document.querySelector('#report [data-kpi="` + key + `"]')?.innerText ?? "")`
	}
	super.waitJS(t, "the week's arrivals", wait, kpi("arrivals")+`.includes("4") && document.querySelector(".rtable.days") !== null`)
	c := day.Total
	for _, tile := range []struct {
		key, title, value, sub string // value and sub "" when not checked
	}{
		{"arrivals", "到店客户", fmt.Sprint(c.Arrivals), ""},
		{"recognised", "识别客户", fmt.Sprint(c.Recognised), ""},
		{"new_faces", "新面孔", fmt.Sprint(c.NewFaces), ""},
		{"claimed", "已认领", fmt.Sprint(c.Claimed), ""},
		{"served", "已服务", fmt.Sprint(c.Served), ""},
		{"activation_rate", "促活率", "100.00%", "促活 1 / 待促活 1"},
		{"new_user_rate", "拉新率", "100.00%", "拉新 1 / 未开通掌银 1"},
		{"claim_time", "认领用时（中位）", "", "P90 "}, // wall-clock times: the node's test checks them exactly
	} {
		text := eval[string](t, super, kpi(tile.key))
		lines := append(strings.Split(text, "\n"), "", "")
		if lines[0] != tile.title || (tile.value != "" && lines[1] != tile.value) || !strings.HasPrefix(lines[2], tile.sub) {
			t.Errorf("tile %s reads %q, want %q, %q, %q", tile.key, text, tile.title, tile.value, tile.sub)
		}
	}
	rows := func(table string) []string {
		return eval[[]string](t, super, `[...document.querySelectorAll("#report .rtable.`+table+` tbody tr")].map(r => [...r.cells].map(c => c.textContent).join("|"))`)
	}
	if got, want := rows("by-channel"), []string{"超级柜台|2|2", "网点e码|1|2", "智惠转盘|1|1"}; strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("channels=%q, want %q", got, want)
	}
	if got, want := rows("by-outcome"), []string{"已促活|1", "婉拒|1"}; strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("outcomes=%q, want %q", got, want)
	}
	board := rows("leaderboard")
	if len(board) != 1 || !strings.HasPrefix(board[0], "1|") || !strings.Contains(board[0], "|0|0|2|1|") {
		t.Errorf("leaderboard=%q, want the lobby manager first with 0 activations, 0 new users, 2 claims, 1 served", board)
	}
	days := rows("days")
	total := 0
	for _, r := range days {
		var d string
		var n int
		if _, err := fmt.Sscanf(strings.ReplaceAll(r, "|", " "), "%s %d", &d, &n); err != nil {
			t.Fatalf("day row %q: %v", r, err)
		}
		total += n
	}
	if total != c.Arrivals {
		t.Errorf("day rows %q add up to %d arrivals, want %d", days, total, c.Arrivals)
	}
	// Counts and staff only: no customer on the screen.
	text := eval[string](t, super, `document.getElementById("report").innerText`)
	for _, name := range []string{day.Registered.DisplayName, day.NoMBank.DisplayName, day.Active.DisplayName} {
		if strings.Contains(text, name) {
			t.Errorf("the report shows the customer name %q", name)
		}
	}
	super.screenshot(t, screenshotDir(t), "report-week", 1280, 800)

	// Today: the same figures when the script ran today (it began at
	// %s), the date either way.
	super.do(t, "today", chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll(".range-btn")].find(b => b.textContent === "今日")`), chromedp.NodeVisible))
	today := funnel.Day(time.Now(), nil)
	super.waitJS(t, "today's report", wait, `document.querySelector(".report-status")?.textContent.includes("`+today+` 至 `+today+`")`)
	if funnel.Day(began, nil) == today {
		if got := eval[string](t, super, kpi("arrivals")); !strings.Contains(got, "\n4") {
			t.Errorf("today's arrivals tile %q, want 4", got)
		}
	}

	// English.
	super.do(t, "English", chromedp.Click(chromedp.CSS(".topbar .lang-switch"), chromedp.NodeVisible))
	super.waitJS(t, "the report in English", wait,
		kpi("activation_rate")+`.startsWith("Activation rate") && document.querySelector("#report h2").textContent === "Branch report" && document.getElementById("report-toggle").textContent === "Arrivals"`)
	super.screenshot(t, screenshotDir(t), "report-today-en", 1024, 768)

	// Back to the cards, then log out: the report is gone from the page.
	super.do(t, "close the report", chromedp.Click(chromedp.CSS("#report-toggle"), chromedp.NodeVisible))
	super.waitJS(t, "the cards", wait, `document.getElementById("report").hidden && getComputedStyle(document.getElementById("cards")).display !== "none"`)
	super.do(t, "log out", chromedp.Click(chromedp.CSS("#logout"), chromedp.NodeVisible))
	super.waitJS(t, "the report wiped", wait, `!document.getElementById("login-view").hidden && document.getElementById("report").childElementCount === 0 && document.getElementById("report-toggle").hidden`)

	// A lobby manager: no button, and the edge says no.
	lobby := newTab(t, browser, "lobby PAD", base)
	logIn(lobby, "lobby-B001")
	if !eval[bool](t, lobby, `document.getElementById("report-toggle").hidden`) {
		t.Error("the lobby manager sees the report button")
	}
	lobby.do(t, "ask for the report anyway", chromedp.Evaluate[chromedp.Void](`fetch("/pad/report").then(r => { document.body.dataset.reportStatus = String(r.status); })`))
	lobby.waitJS(t, "the edge's answer", wait, `document.body.dataset.reportStatus === "403"`)
}
