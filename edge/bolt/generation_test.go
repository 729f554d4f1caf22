package bolt_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
)

// TestGeneration_ReadersAcrossSwitches: read transactions take the active
// generation from a span cached across transactions (bolt.genSpan), so
// every reader must still see its own state's generation: readers looking
// customers up while snapshots switch and arrivals commit, and a reader
// whose transaction began before a switch and looks up only after newer
// readers have taught the cache the new generation.
func TestGeneration_ReadersAcrossSwitches(t *testing.T) {
	const size = 300
	db := MustOpenDB(t)
	// A large first snapshot leaves free pages that the small ones after
	// it reuse: a write that had to grow the file would wait for the old
	// reader below (bbolt remaps only with no read transaction open).
	mustReplace(t, db, 1, 0, 20_000)
	mustReplace(t, db, 2, 10_000, 10_000+size)
	probes := func(rng *rand.Rand) []int {
		p := make([]int, 6)
		for i := range p {
			p[i] = rng.IntN(40_000 + size)
		}
		return p
	}

	// The old reader: its transaction begins on version 2, and its first
	// lookup waits until version 3 is active and has been read.
	began, looked := make(chan struct{}), make(chan struct{})
	oldErr := make(chan error, 1)
	go func() {
		oldErr <- db.View(context.Background(), func(tx edge.Tx) error {
			close(began)
			select {
			case <-looked:
			case <-time.After(20 * time.Second):
				return fmt.Errorf("version 3 was not read within 20s")
			}
			m, err := tx.Meta()
			if err != nil {
				return err
			}
			if m.SnapshotVersion != 2 {
				return fmt.Errorf("old reader sees version %d, want 2", m.SnapshotVersion)
			}
			return checkVersion(tx, size, []int{10_000, 10_000 + size - 1, 20_000, 20_000 + size - 1})
		})
	}()
	<-began

	// Readers and an arrival writer run while versions 3 to 5 replace each
	// other; version v holds customers [10000(v-1), 10000(v-1)+size).
	var (
		wg   sync.WaitGroup
		stop = make(chan struct{})
		errs = make(chan error, 8)
	)
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				err := db.View(context.Background(), func(tx edge.Tx) error { return checkVersion(tx, size, probes(rng)) })
				if err != nil {
					errs <- fmt.Errorf("reader %d, read %d: %w", r, n, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // arrivals: every commit is a new state for the readers
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			err := db.Update(context.Background(), func(tx edge.Tx) error {
				return tx.MarkEventSeen("sc-01", fmt.Sprintf("e%d", i), "v", time.Now())
			})
			if err != nil {
				errs <- fmt.Errorf("arrival %d: %w", i, err)
				return
			}
		}
	}()
	for v := int64(3); v <= 5; v++ {
		from := 10_000 * int(v-1)
		err := db.ReplaceSnapshot(t.Context(), testMeta(v), huiyan.DefaultTagDict(), testStaff, customers(from, from+size, v), nil)
		if err == nil {
			err = db.View(t.Context(), func(tx edge.Tx) error { return checkVersion(tx, size, []int{from, from + size - 1, from - 1}) })
		}
		if v == 3 {
			close(looked)
			if err := <-oldErr; err != nil {
				t.Errorf("old reader: %v", err)
			}
		}
		if err != nil {
			t.Errorf("version %d: %v", v, err)
			break
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
