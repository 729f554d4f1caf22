package main

import (
	"image"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"huiyan"
	"huiyan/edge/ecode"
	"huiyan/edge/ecode/ecodetest"
	"huiyan/firmware-contracts/devsim"
)

// TestECodeDisplayBrowser is issue 7's "done when" for the display page,
// in headless Chromium against a real edge: /ecode/ecode-01 shows a QR
// code full-screen; a screenshot of it, decoded with a real QR decoder,
// gives a code the edge accepts as a scan that converts; the page rotates
// to the next code by itself (a 10-second period here), and the new code
// converts too. A staff member's PAD shows their own code ("我的营销码"),
// and a scan of it from a screenshot credits them. Screenshots at a wall
// display's and a tablet's size (HUIYAN_SCREENSHOTS=dir keeps them).
func TestECodeDisplayBrowser(t *testing.T) {
	chromium := mustChromium(t)
	ds := mustDataSet(t)
	m, _ := mustRunEdge(t, ds.Dir, edgeOptions{ECodePeriod: ecode.MinPeriod})
	base := "http://" + m.HTTPAddr()
	browser := newBrowser(t, chromium)
	shots := screenshotDir(t)
	counter := newDevice(t, m.BrokerURL(), "sc-03")
	display := newDevice(t, m.BrokerURL(), "ecode-01")
	lobby, _ := dialPAD(t, m, "lobby-B001")
	const wait = 10 * time.Second

	page := newTab(t, browser, "display", base)
	page.do(t, "open the display", chromedp.Navigate(base+"/ecode/ecode-01"))
	const shown = `(() => { const i = document.getElementById("qr"); return !!i && !i.hidden && i.complete && i.naturalWidth > 0; })()`
	page.waitJS(t, "the QR code", wait, shown)
	text := eval[string](t, page, `document.body.innerText`)
	for _, want := range []string{"请使用手机银行扫码", "Scan with mobile banking", "B001", "ecode-01"} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q:\n%s", want, text)
		}
	}
	page.waitJS(t, "the countdown", wait, `/^\d+ 秒后更新 · refreshes in \d+ s$/.test(document.getElementById("countdown").textContent)`)

	// converts checks that a scan of content, the code of subject, by a
	// registered customer at the counter is an activation credited to
	// staff ("" for the branch).
	converts := func(t *testing.T, content string, kind ecode.Kind, subject, staff string) {
		t.Helper()
		r := m.ECode.Verify(content, time.Now(), nil)
		if r.Verdict != ecode.OK || r.Code.Subject != subject || r.Code.Kind != kind {
			t.Fatalf("the QR code holds %q: %s, want an ok code of %s", content, r.Verdict, subject)
		}
		c := ds.find(t, "registered, with ID card and mobile-banking tokens", func(c *huiyan.Customer) bool {
			return c.MBankStatus == huiyan.MBankRegistered && token(c, huiyan.IdentIDCard) != "" && token(c, huiyan.IdentMBank) != ""
		})
		v := lobby.next(arrivalOf(counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, token(c, huiyan.IdentIDCard)))), wait).Visit
		got := lobby.next(arrivalOf(display.scan(content, ident(huiyan.IdentMBank, token(c, huiyan.IdentMBank)))), wait).Visit
		if got.ID != v.ID || got.Converted != huiyan.ConversionActivated {
			t.Fatalf("scan of the screenshot's code: visit %s converted=%q, want %s activated", got.ID, got.Converted, v.ID)
		}
		if s := storedVisit(t, m, v.ID); s.AttributedTo != staff {
			t.Fatalf("attributed to %q, want %q", s.AttributedTo, staff)
		}
	}
	shoot := func(t *testing.T, name string, w, h int64) string {
		t.Helper()
		path := page.screenshot(t, shots, name, w, h)
		page.waitJS(t, "the QR code", wait, shown)
		return page.qrIn(t, path, "qr")
	}

	var first string
	t.Run("ScreenshotDecodesAndConverts", func(t *testing.T) {
		first = shoot(t, "ecode-display", 1920, 1080)
		converts(t, first, ecode.KindBranch, "ecode-01", "")
		if portrait := shoot(t, "ecode-display", 768, 1024); portrait != first && !sameOrNext(portrait, first) {
			t.Fatalf("portrait shows %q, landscape %q", portrait, first)
		}
	})

	t.Run("RotatesByItself", func(t *testing.T) {
		c, err := ecode.Parse(first)
		if err != nil {
			t.Fatal(err)
		}
		next := strconv.FormatInt(c.Window+1, 10)
		page.waitJS(t, "the next window's code", ecode.MinPeriod+5*time.Second,
			`document.getElementById("qr").src.endsWith("?w=`+next+`")`)
		again := shoot(t, "ecode-display-next", 1920, 1080)
		if again == first {
			t.Fatal("the page shows the same code after its window")
		}
		converts(t, again, ecode.KindBranch, "ecode-01", "")
	})

	t.Run("PADMyCode", func(t *testing.T) {
		p := newTab(t, browser, "pad", base)
		p.waitJS(t, "the login form", wait, `!document.getElementById("login-view").hidden`)
		if !eval[bool](t, p, `document.getElementById("mycode-toggle").hidden`) {
			t.Fatal("the my-code button shows before login")
		}
		p.do(t, "log in",
			chromedp.SendKeys(chromedp.CSS("#staff"), "account-B001"),
			chromedp.SendKeys(chromedp.CSS("#pin"), devsim.DemoPIN),
			chromedp.Click(chromedp.CSS("#login-submit")),
		)
		p.waitJS(t, "the app", wait, `!document.getElementById("app-view").hidden`)
		p.do(t, "open my code", chromedp.Click(chromedp.CSS("#mycode-toggle"), chromedp.NodeVisible))
		p.waitJS(t, "my code", wait, `(() => { const i = document.getElementById("mycode-img"); return !i.hidden && i.complete && i.naturalWidth > 0; })()`)
		p.waitJS(t, "its countdown", wait, `/^\d+ 秒后更新$/.test(document.getElementById("mycode-countdown").textContent)`)
		code := p.qrIn(t, p.screenshot(t, shots, "pad-mycode", 1024, 768), "mycode-img")
		converts(t, code, ecode.KindStaff, "account-B001", "account-B001")
		p.do(t, "close", chromedp.Click(chromedp.CSS("#mycode-close"), chromedp.NodeVisible))
		if eval[bool](t, p, `document.getElementById("mycode-img").hasAttribute("src") || !document.getElementById("mycode").hidden`) {
			t.Fatal("the closed panel keeps the code")
		}
	})

	// The tab opened the PAD app first (its /pad/me 401 is expected):
	// only the display page's own messages count.
	for _, line := range strings.Split(page.consoleText(), "\n") {
		if strings.HasPrefix(line, "error") && strings.Contains(line, "/ecode/") {
			t.Errorf("the display page's console: %s", line)
		}
	}
}

// qrIn reads the QR code in the screenshot at path with a real decoder,
// telling it where the element id is in case its search of the whole
// screen misses the code (ecodetest.Decode says why that happens).
func (p *tab) qrIn(tb testing.TB, path, id string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	r := eval[[]float64](tb, p, `(() => { const r = document.getElementById("`+id+`").getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })()`)
	// Inward by a pixel: the image's own white margin is 4 modules.
	area := image.Rect(int(math.Ceil(r[0]))+1, int(math.Ceil(r[1]))+1, int(r[2])-1, int(r[3])-1)
	text, err := ecodetest.DecodeScreenshot(b, area)
	if err != nil {
		tb.Fatalf("decode the QR code of #%s in %s: %v", id, path, err)
	}
	return text
}

// sameOrNext reports whether a is the code of the window after b's (the
// page may rotate between two screenshots).
func sameOrNext(a, b string) bool {
	ca, err1 := ecode.Parse(a)
	cb, err2 := ecode.Parse(b)
	return err1 == nil && err2 == nil && ca.Subject == cb.Subject && ca.Window == cb.Window+1
}
