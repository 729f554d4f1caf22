package edge_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
)

// BenchmarkArrivalDuringApply measures an arrival's time through the node —
// resolve, visit, commit with fsync, hand-off to the PAD server — on a
// branch of 100,000 customers, first with nothing else going on and then
// while a full snapshot of 100,000 customers is being applied, in the same
// run. The apply writes a new generation in batches, so arrivals wait at
// most for one batch's transaction.
//
//	go test -run '^$' -bench ArrivalDuringApply -benchtime 300x ./edge/
func BenchmarkArrivalDuringApply(b *testing.B) {
	const n = 100_000
	h := newTestHub(b)
	s, db := mustSyncer(b, h)
	ctx := context.Background()
	h.publish(1, 0, fullRecords(customers(n, 1)), h.priv, "B001", time.Hour)
	if _, err := s.SyncOnce(ctx); err != nil {
		b.Fatal(err)
	}
	node := edge.NewNode(db, edge.Config{Branch: "B001"})
	if err := node.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer node.Close()
	seq := 0
	arrive := func() time.Duration {
		seq++
		a := huiyan.Arrival{EventID: fmt.Sprintf("sc-01-%07d", seq), Branch: "B001", Device: "sc-01", Channel: huiyan.ChannelCounter,
			At: time.Now(), Idents: []huiyan.Ident{{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: fmt.Sprintf("%064x", seq%n+1)}}}
		start := time.Now()
		if err := node.HandleArrival(ctx, a); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	h.publish(2, 0, fullRecords(customers(n, 2)), h.priv, "B001", time.Hour)

	b.ResetTimer()
	var idle, during []time.Duration
	for range b.N {
		idle = append(idle, arrive())
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := s.SyncOnce(ctx); done <- err }()
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				b.Fatal(err)
			}
			waiting = false
		default:
			during = append(during, arrive())
		}
	}
	applyTook := time.Since(start)
	b.StopTimer()
	report := func(name string, ds []time.Duration) {
		s := slices.Clone(ds)
		slices.Sort(s)
		for _, p := range []int{50, 99} {
			b.ReportMetric(float64(s[(len(s)*p+99)/100-1].Microseconds())/1000, fmt.Sprintf("%s-p%d-ms", name, p))
		}
		b.ReportMetric(float64(s[len(s)-1].Microseconds())/1000, name+"-max-ms")
	}
	report("idle", idle)
	report("apply", during)
	b.ReportMetric(float64(len(during)), "arrivals-during-apply")
	b.ReportMetric(applyTook.Seconds(), "apply-s")
}
