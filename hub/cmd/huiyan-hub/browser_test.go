package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// dashTab is the HQ dashboard in a headless Chromium of its own, with
// everything its console said. (The edge's PAD tests have the same kind
// of helper for their app; the two binaries' tests share no package.)
type dashTab struct {
	ctx     context.Context
	mu      sync.Mutex
	console []string
}

func newDashTab(tb testing.TB, base string) *dashTab {
	tb.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root in CI
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.WindowSize(1366, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	p := &dashTab{ctx: ctx}
	messages := chromedp.Console(ctx)
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
	p.do(tb, "open the dashboard", chromedp.Navigate(base+"/"))
	return p
}

func (p *dashTab) consoleText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.console, "\n")
}

func (p *dashTab) do(tb testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail(tb, "%s: %v", what, err)
	}
}

func eval[T any](tb testing.TB, p *dashTab, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.fail(tb, "eval %.80q: %v", expr, err)
	}
	return v
}

func (p *dashTab) waitJS(tb testing.TB, what string, d time.Duration, expr string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, d+2*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(25*time.Millisecond))); err != nil {
		p.fail(tb, "timed out after %s waiting for %s: %v", d, what, err)
	}
}

func (p *dashTab) fail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	tb.Fatalf(format+"\n--- page text ---\n%s\n--- console ---\n%s", append(args, text, p.consoleText())...)
}

func (p *dashTab) screenshot(tb testing.TB, path string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.fail(tb, "screenshot: %v", err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		tb.Fatal(err)
	}
}
