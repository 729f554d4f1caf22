package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
	"huiyan/edge/wheel"
	"huiyan/hub"
	"huiyan/hub/funnel"
)

// warnRecorder is a slog handler that counts the warnings whose message
// starts with prefix (and passes everything to next, the test's log).
type warnRecorder struct {
	next   slog.Handler
	prefix string
	mu     *sync.Mutex
	n      *int
}

func (w warnRecorder) Enabled(ctx context.Context, l slog.Level) bool { return true }
func (w warnRecorder) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && strings.HasPrefix(r.Message, w.prefix) {
		w.mu.Lock()
		*w.n++
		w.mu.Unlock()
	}
	return w.next.Handle(ctx, r)
}
func (w warnRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	w.next = w.next.WithAttrs(as)
	return w
}
func (w warnRecorder) WithGroup(g string) slog.Handler {
	w.next = w.next.WithGroup(g)
	return w
}

// hubPrizes is the test branch's table of campaign hub-c with the cup's
// stock, in the form the hub ships it.
func hubPrizes(tb testing.TB, stock int) (hub.Prizes, string) {
	tb.Helper()
	today := time.Now().In(funnel.CST)
	ts, err := wheel.Parse(strings.NewReader(fmt.Sprintf("campaign,hub-c\nstarts,%s\nends,%s\nunknown_customers,allow\n%s\n%s,cup,保温杯,Thermos cup,1000000,%d,,\n%s,,谢谢参与,,rest,,,\n",
		today.AddDate(0, 0, -1).Format(time.DateOnly), today.AddDate(0, 1, 0).Format(time.DateOnly), wheel.Header, testBranch, stock, testBranch)))
	if err != nil {
		tb.Fatal(err)
	}
	text := ts[testBranch].Canonical()
	return hub.Prizes{Branch: testBranch, Fingerprint: hub.PrizesFingerprint(text), Table: text}, ts[testBranch].Fingerprint()
}

// TestWheel_HubTable: an edge whose data set carries the hub's prize table
// runs it from the start, over its own wheel_prizes (with one warning),
// and switches to the table of a newly applied data set without a
// restart (afterSync, what the hub syncer calls). Spins through the
// embedded broker are recorded against the table in force.
func TestWheel_HubTable(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "edge")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The data set as the hub syncer leaves it.
	p1, fp1 := hubPrizes(t, 10)
	apply := func(db *bolt.DB, version int64, p hub.Prizes) {
		t.Helper()
		err := db.ReplaceSnapshotWithPrizes(ctx, edge.Meta{Branch: testBranch, SnapshotVersion: version, KeyID: "k1"},
			huiyan.DefaultTagDict(), []huiyan.Staff{}, edge.PrizesUpdate{Set: true, Prizes: &p}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	apply(db, 1, p1)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	warned := 0
	m := NewMain()
	m.Logger = slog.New(warnRecorder{next: testLogger(t).Handler(), prefix: "wheel_prizes is ignored", mu: &mu, n: &warned})
	m.Config.DataDir, m.Config.HTTP, m.Config.MQTT.Listen = dir, "127.0.0.1:0", "127.0.0.1:0"
	m.Config.WheelPrizes = writePrizes(t) // a local campaign the hub's overrides
	writeTestECodeKey(t, dir)
	if err := m.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		t.Fatalf("run edge: %v", err)
	}
	t.Cleanup(func() { m.Close() })

	wh := newWheelDevice(t, m.BrokerURL(), "wh-01")
	// spinTable has a stranger spin (the hub's table allows unknown
	// customers, the local one does not) and returns the table the audit
	// record names.
	spinTable := func(t *testing.T, n int) string {
		t.Helper()
		a, _ := wh.spin(strangerToken(t, n))
		if r := wh.result(5 * time.Second); r.Spin != a.Spin || r.Prize != "cup" || r.Reason != "" {
			t.Fatalf("result %+v, want the cup (the hub's table in force)", r)
		}
		var table string
		if err := m.Wheel.Records(ctx, func(r *wheel.Record) error { table = r.Table; return nil }); err != nil {
			t.Fatal(err)
		}
		return table
	}

	t.Run("HubWinsAtStart", func(t *testing.T) {
		if tb, fp := m.Wheel.Table(); fp != fp1 || tb.Campaign != "hub-c" {
			t.Fatalf("wheel runs %q, want the hub's table %q", fp, fp1)
		}
		if got := spinTable(t, 1); got != fp1 {
			t.Fatalf("spin recorded against table %q, want %q", got, fp1)
		}
		mu.Lock()
		defer mu.Unlock()
		if warned != 1 {
			t.Fatalf("%d warnings that wheel_prizes is ignored, want 1", warned)
		}
	})

	t.Run("AfterSync", func(t *testing.T) {
		p2, fp2 := hubPrizes(t, 25) // HQ raised the stock
		apply(m.DB, 2, p2)
		if err := m.afterSync(ctx); err != nil {
			t.Fatal(err)
		}
		if _, fp := m.Wheel.Table(); fp != fp2 {
			t.Fatalf("wheel runs %q after the sync, want %q", fp, fp2)
		}
		if got := spinTable(t, 2); got != fp2 {
			t.Fatalf("spin recorded against table %q, want %q", got, fp2)
		}
		mu.Lock()
		defer mu.Unlock()
		if warned != 1 {
			t.Fatalf("%d warnings that wheel_prizes is ignored, want still 1", warned)
		}
	})
}
