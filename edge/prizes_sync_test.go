package edge_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"huiyan/edge"
	"huiyan/edge/wheel"
	"huiyan/hub"
	"huiyan/hub/funnel"
)

// logRecorder is a slog handler that keeps the records, to check what the
// edge tells its operator.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many records of the level start with msg.
func (l *logRecorder) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && strings.HasPrefix(r.Message, msg) {
			n++
		}
	}
	return n
}

// branchTable returns B001's table with the cup's stock and the campaign,
// the campaign running from yesterday to a month from now, and the record
// that ships it.
func branchTable(tb testing.TB, campaign string, cups int) (*wheel.PrizeTable, hub.Record) {
	tb.Helper()
	today := time.Now().In(funnel.CST)
	ts, err := wheel.Parse(strings.NewReader(fmt.Sprintf("campaign,%s\nstarts,%s\nends,%s\n%s\nB001,cup,保温杯,Thermos cup,1000000,%d,,\nB001,,谢谢参与,,rest,,,\n",
		campaign, today.AddDate(0, 0, -1).Format(time.DateOnly), today.AddDate(0, 1, 0).Format(time.DateOnly), wheel.Header, cups)))
	if err != nil {
		tb.Fatal(err)
	}
	t := ts["B001"]
	text := t.Canonical()
	return t, hub.Record{Op: hub.OpPrizes, Prizes: &hub.Prizes{Branch: "B001", Fingerprint: hub.PrizesFingerprint(text), Table: text}}
}

// withPrizes puts the prize record after a full snapshot's dictionary and
// roster.
func withPrizes(recs []hub.Record, p hub.Record) []hub.Record {
	out := append([]hub.Record{}, recs[:2]...)
	out = append(out, p)
	return append(out, recs[2:]...)
}

// TestSyncer_Prizes: the branch's prize table comes with the data set and
// the wheel runs it, without a restart, after every applied version: a
// full snapshot brings it, a delta that does not carry it keeps it, one
// that does changes it, a full snapshot without it hands the wheel back to
// the local file. The hub's table wins over the local file, with one
// warning.
func TestSyncer_Prizes(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	s, db := mustSyncer(t, h)
	w, err := wheel.Open(filepath.Join(t.TempDir(), "wheel.db"), nil, wheel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	local, _ := branchTable(t, "local-c", 3)
	logs := &logRecorder{}
	wp := &edge.WheelPrizes{Wheel: w, Branch: "B001", Local: local, Logger: slog.New(logs)}

	// inForce syncs (if a version is published), reloads the wheel as the
	// edge does after a sync, and checks the table the wheel runs.
	inForce := func(t *testing.T, sync bool, want *wheel.PrizeTable) {
		t.Helper()
		if sync {
			if ok, err := s.SyncOnce(ctx); err != nil || !ok {
				t.Fatalf("sync: applied=%v err=%v", ok, err)
			}
		}
		if err := wp.Reload(ctx, db); err != nil {
			t.Fatal(err)
		}
		_, fp := w.Table()
		if fp != want.Fingerprint() {
			t.Fatalf("wheel runs table %q, want %q (campaign %s)", fp, want.Fingerprint(), want.Campaign)
		}
	}

	t.Run("LocalBeforeAnyHubWord", func(t *testing.T) {
		inForce(t, false, local)
		h.publish(1, 0, fullRecords(customers(10, 1)), h.priv, "B001", time.Hour)
		inForce(t, true, local) // a hub without prize tables says nothing
	})
	hq1, rec1 := branchTable(t, "hq-c", 10)
	t.Run("FullBringsIt", func(t *testing.T) {
		h.publish(2, 0, withPrizes(fullRecords(customers(10, 2)), rec1), h.priv, "B001", time.Hour)
		inForce(t, true, hq1)
		if n := logs.count(slog.LevelWarn, "wheel_prizes is ignored"); n != 1 {
			t.Fatalf("%d warnings that the local file is ignored, want 1", n)
		}
	})
	t.Run("DeltaKeepsIt", func(t *testing.T) {
		h.publish(3, 2, []hub.Record{hub.Upsert(customers(1, 3)[0])}, h.priv, "B001", time.Hour)
		inForce(t, true, hq1)
	})
	hq2, rec2 := branchTable(t, "hq-c", 20) // HQ raised the stock
	t.Run("DeltaChangesIt", func(t *testing.T) {
		h.publish(4, 3, []hub.Record{rec2}, h.priv, "B001", time.Hour)
		inForce(t, true, hq2)
		if n := logs.count(slog.LevelWarn, "wheel_prizes is ignored"); n != 1 {
			t.Fatalf("%d warnings that the local file is ignored, want still 1", n)
		}
		if n := logs.count(slog.LevelInfo, "prize table in force"); n != 3 {
			t.Fatalf("%d tables logged in force, want 3 (local, hq1, hq2)", n)
		}
	})
	t.Run("Withdrawn", func(t *testing.T) {
		h.publish(5, 4, []hub.Record{{Op: hub.OpPrizes, Prizes: &hub.Prizes{Branch: "B001"}}}, h.priv, "B001", time.Hour)
		if ok, err := s.SyncOnce(ctx); err != nil || !ok {
			t.Fatalf("sync: applied=%v err=%v", ok, err)
		}
		if err := wp.Reload(ctx, db); err != nil {
			t.Fatal(err)
		}
		// HQ's word is "no wheel": the local file does not come back.
		if tb, fp := w.Table(); tb != nil || fp != "" {
			t.Fatalf("wheel runs %q after HQ withdrew the table, want none", fp)
		}
	})
	t.Run("FullWithoutItGivesBackToLocal", func(t *testing.T) {
		h.publish(6, 0, fullRecords(customers(10, 6)), h.priv, "B001", time.Hour)
		inForce(t, true, local)
	})

	t.Run("Refused", func(t *testing.T) {
		h.publish(7, 0, withPrizes(fullRecords(customers(10, 7)), rec1), h.priv, "B001", time.Hour)
		inForce(t, true, hq1)
		other := *rec2.Prizes
		other.Table = strings.ReplaceAll(other.Table, "B001", "B002")
		other.Fingerprint = hub.PrizesFingerprint(other.Table)
		notCanonical := *rec2.Prizes
		notCanonical.Table = "# HQ's comment\n" + notCanonical.Table
		notCanonical.Fingerprint = hub.PrizesFingerprint(notCanonical.Table)
		for i, bad := range []hub.Prizes{other, notCanonical} {
			name := []string{"ErrOtherBranch", "ErrNotCanonical"}[i]
			t.Run(name, func(t *testing.T) {
				h.publish(int64(8+i), 7, []hub.Record{{Op: hub.OpPrizes, Prizes: &bad}}, h.priv, "B001", time.Hour)
				if _, err := s.SyncOnce(ctx); !errors.Is(err, hub.ErrMalformed) {
					t.Fatalf("sync: err %v, want ErrMalformed", err)
				}
				if meta, _ := held(t, db); meta.SnapshotVersion != 7 {
					t.Fatalf("version %d after a refused prize table, want 7", meta.SnapshotVersion)
				}
				inForce(t, false, hq1)
			})
		}
	})
}
