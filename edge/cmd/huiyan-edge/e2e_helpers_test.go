package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	firmware "huiyan/firmware-contracts"
)

// Helpers of the browser end-to-end tests (e2e_test.go): a headless
// Chromium, tabs that keep their console, an edge run with options and a
// TCP proxy that can cut a PAD off the network.

// chromiumPath is where Debian's package chromium installs the browser.
const chromiumPath = "/usr/bin/chromium"

// mustChromium fails (never skips) when the browser is missing: the e2e
// tests are part of `go test ./...`.
func mustChromium(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		tb.Fatalf("%s not found: install the Debian package chromium (apt-get install chromium); the PAD browser tests need it: %v", chromiumPath, err)
	}
	if out, err := exec.Command("fc-list", ":lang=zh", "family").Output(); err == nil && len(strings.TrimSpace(string(out))) == 0 {
		tb.Log("no Chinese font installed: the screenshots will show boxes for Chinese text " +
			"(install the Debian package fonts-wqy-microhei or fonts-noto-cjk); the tests do not depend on it")
	}
	return chromiumPath
}

// newBrowser starts a headless Chromium with a fresh profile and returns
// the context of its first tab; the browser ends with the test.
func newBrowser(tb testing.TB, execPath string) context.Context {
	tb.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // we run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.WindowSize(1280, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab is one PAD: a tab in a browser context of its own (its own cookies
// and storage, as a second tablet), with everything its console said. Its
// methods take the testing.TB of the (sub)test that uses them.
type tab struct {
	name string
	ctx  context.Context
	base string // where the PAD app is

	mu      sync.Mutex
	console []string
}

func newTab(tb testing.TB, browser context.Context, name, base string) *tab {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	tb.Cleanup(cancel)
	p := &tab{name: name, ctx: ctx, base: base}
	messages := chromedp.Console(ctx) // subscribes now, before the page loads
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, fmt.Sprintf("%s %s %s", m.Type, m.URL, m.Text))
			p.mu.Unlock()
		}
	}()
	p.do(tb, "open the app", chromedp.Navigate(base+"/"))
	return p
}

// consoleText is everything the tab's console said so far.
func (p *tab) consoleText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.console, "\n")
}

// do runs actions with a deadline.
func (p *tab) do(tb testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail(tb, "%s: %s: %v", p.name, what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](tb testing.TB, p *tab, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.fail(tb, "%s: eval %.80q: %v", p.name, expr, err)
	}
	return v
}

// waitJS polls a boolean expression in the page until it holds.
func (p *tab) waitJS(tb testing.TB, what string, d time.Duration, expr string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, d+2*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(25*time.Millisecond))); err != nil {
		p.fail(tb, "%s: timed out after %s waiting for %s: %v", p.name, d, what, err)
	}
}

// fail ends the test with what the page showed, for the log.
func (p *tab) fail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	tb.Fatalf(format+"\n--- page text ---\n%s\n--- console ---\n%s", append(args, text, p.consoleText())...)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// cardJS is an expression for the card whose name line reads name (the
// masked name, or the new-face label), or undefined. The app keeps no id
// in the DOM, so tests find cards by what staff read.
func cardJS(name string) string {
	return `[...document.querySelectorAll("#cards .card")].find(c => c.querySelector(".cname")?.textContent === ` + jsString(name) + `)`
}

// cardText is the text of the card with name, "" when there is none.
func (p *tab) cardText(tb testing.TB, name string) string {
	tb.Helper()
	return eval[string](tb, p, `(() => { const c = `+cardJS(name)+`; return c ? c.innerText : ""; })()`)
}

// waitCard waits until the card with name is shown and its text contains
// every one of want.
func (p *tab) waitCard(tb testing.TB, name string, d time.Duration, want ...string) {
	tb.Helper()
	cond := `(() => { const c = ` + cardJS(name) + `; if (!c || c.hidden) return false; const t = c.innerText;`
	for _, w := range want {
		cond += ` if (!t.includes(` + jsString(w) + `)) return false;`
	}
	cond += ` return true; })()`
	p.waitJS(tb, fmt.Sprintf("card %q with %q", name, want), d, cond)
}

// clickInCard clicks, with real mouse events, the button of the card with
// name whose text is label.
func (p *tab) clickInCard(tb testing.TB, name, label string) {
	tb.Helper()
	sel := chromedp.JSPath(`[...(` + cardJS(name) + `)?.querySelectorAll("button") ?? []].find(b => b.textContent === ` + jsString(label) + `)`)
	p.do(tb, fmt.Sprintf("click %q on card %q", label, name), chromedp.Click(sel, chromedp.NodeVisible))
}

// screenshot sets the viewport and saves a PNG of what a tablet of that
// size shows.
func (p *tab) screenshot(tb testing.TB, dir, name string, w, h int64) string {
	tb.Helper()
	opt := chromedp.EmulateLandscape
	if h > w {
		opt = chromedp.EmulatePortrait
	}
	p.do(tb, "viewport", chromedp.EmulateViewport(w, h, opt))
	p.waitJS(tb, "the viewport", 5*time.Second, fmt.Sprintf(`window.innerWidth === %d && window.innerHeight === %d`, w, h))
	p.do(tb, "scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.fail(tb, "%s: screenshot %s: %v", p.name, name, err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%dx%d.png", name, w, h))
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// screenshotDir is $HUIYAN_SCREENSHOTS when set, else a temporary dir.
func screenshotDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("HUIYAN_SCREENSHOTS")
	if dir == "" {
		return tb.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// edgeOptions changes the defaults mustRunMain uses.
type edgeOptions struct {
	HTTP        string        // "" = a port the kernel picks
	VisitWindow time.Duration // 0 = the default; may be under the configurable minimum
	ECodePeriod time.Duration // 0 = the default
}

// mustRunEdge is mustRunMain with options; it also returns a stop func
// for tests that restart the edge (stopping twice is fine).
func mustRunEdge(tb testing.TB, dir string, o edgeOptions) (*Main, func()) {
	tb.Helper()
	m := NewMain()
	m.Logger = testLogger(tb)
	m.Config.DataDir, m.Config.HTTP = dir, "127.0.0.1:0"
	writeTestECodeKey(tb, dir)
	if o.HTTP != "" {
		m.Config.HTTP = o.HTTP
	}
	m.Config.MQTT.Listen = "127.0.0.1:0"
	if o.ECodePeriod > 0 {
		m.Config.ECodePeriod = o.ECodePeriod
	}
	if err := m.Config.Validate(); err != nil {
		tb.Fatal(err)
	}
	if o.VisitWindow > 0 {
		// Set after Validate: tests may use windows shorter than the
		// minute an operator may configure.
		m.Config.VisitWindow = o.VisitWindow
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		tb.Fatalf("run edge: %v", err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { m.Close() }) }
	tb.Cleanup(stop)
	if m.Ingest != nil { // an external broker's ingest; the embedded broker needs none
		waitFor(tb, "ingest connected", 10*time.Second, func() bool { return m.Ingest.Connected() })
	}
	return m, stop
}

// status publishes the device's retained status, as firmware does.
func (d *device) status(s string) {
	d.tb.Helper()
	topic, err := firmware.StatusTopic(testBranch, d.id)
	if err != nil {
		d.tb.Fatal(err)
	}
	if tok := d.client.Publish(topic, 1, true, s); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		d.tb.Fatalf("device %s status: %v", d.id, tok.Error())
	}
}

// flakyProxy forwards TCP connections to the edge's HTTP address. Down cuts
// every connection and refuses new ones (they are accepted and closed at
// once), as a tablet that lost the branch Wi-Fi sees it; Up lets them
// through again.
type flakyProxy struct {
	tb     testing.TB
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newFlakyProxy(tb testing.TB, target string) *flakyProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &flakyProxy{tb: tb, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// URL is the PAD app's address through the proxy.
func (p *flakyProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *flakyProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.pipe(c)
	}
}

func (p *flakyProxy) pipe(c net.Conn) {
	defer p.wg.Done()
	defer p.forget(c)
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.forget(up)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(up, c)
	go cp(c, up)
	<-done
	<-done
}

func (p *flakyProxy) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *flakyProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Down cuts the network.
func (p *flakyProxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.cut()
}

// Up restores it.
func (p *flakyProxy) Up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
