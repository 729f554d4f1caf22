package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
)

// wantBuckets is the bucket list with generation gen active.
func wantBuckets(gen string) []string {
	return []string{"aliases." + gen, "cards", "customers." + gen, "dedupe", "devices", "dict", "feed", "funnel", "funnel_days", "meta", "open", "outbox", "sessions", "staff", "visits"}
}

func mustBuckets(tb testing.TB, db *bolt.DB, want []string) {
	tb.Helper()
	names, err := db.BucketNames()
	if err != nil {
		tb.Fatal(err)
	}
	if !slices.Equal(names, want) {
		tb.Errorf("buckets=%v, want %v", names, want)
	}
}

// checkVersion checks, in one transaction, that the meta and every customer
// it reads belong to the same snapshot: version v holds customers
// [10000*(v-1), 10000*(v-1)+size), each with AUMBand versionBand(v).
func checkVersion(tx edge.Tx, size int, probes []int) error {
	m, err := tx.Meta()
	if err != nil {
		return err
	}
	v := m.SnapshotVersion
	from := 10000 * int(v-1)
	if m.Customers != size {
		return fmt.Errorf("version %d: meta says %d customers, want %d", v, m.Customers, size)
	}
	for _, i := range probes {
		c, err := tx.CustomerByToken(token(huiyan.IdentIDCard, i))
		in := i >= from && i < from+size
		switch {
		case in && err != nil:
			return fmt.Errorf("version %d: customer %d: %v", v, i, err)
		case !in && !errors.Is(err, edge.ErrNotFound):
			return fmt.Errorf("version %d: customer %d: err=%v, want ErrNotFound", v, i, err)
		case in && c.AUMBand != versionBand(v):
			return fmt.Errorf("version %d: customer %d has band %s: mixed snapshots", v, i, c.AUMBand)
		}
	}
	return nil
}

func TestReplaceSnapshot(t *testing.T) {
	size := 50_000
	if testing.Short() {
		size = 12_000
	}
	db := MustOpenDB(t)
	mustReplace(t, db, 1, 0, size)
	mustBuckets(t, db, wantBuckets("1"))

	// A reader checks, transaction after transaction, that what it sees is
	// one snapshot, while version 2 (customers shifted by 10,000) replaces
	// version 1 in batches.
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		reads    atomic.Int64
		versions sync.Map
		readErr  atomic.Pointer[error]
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				return
			default:
			}
			probes := make([]int, 8)
			for i := range probes {
				probes[i] = rng.IntN(size + 20_000)
			}
			err := db.View(context.Background(), func(tx edge.Tx) error {
				m, err := tx.Meta()
				if err != nil {
					return err
				}
				versions.Store(m.SnapshotVersion, true)
				return checkVersion(tx, size, probes)
			})
			if err != nil {
				readErr.Store(&err)
				return
			}
			reads.Add(1)
		}
	}()

	var progress []int
	err := db.ReplaceSnapshot(t.Context(), testMeta(2), huiyan.DefaultTagDict(), testStaff,
		customers(10_000, 10_000+size, 2), func(n int) { progress = append(progress, n) })
	if err != nil {
		t.Fatal(err)
	}
	// Let the reader see the new version before it stops.
	deadline := time.Now().Add(10 * time.Second)
	for n := reads.Load(); reads.Load() < n+20 && readErr.Load() == nil && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	close(stop)
	wg.Wait()
	if p := readErr.Load(); p != nil {
		t.Fatalf("reader: %v", *p)
	}
	if _, ok := versions.Load(int64(2)); !ok {
		t.Error("reader never saw version 2")
	}
	t.Logf("%d consistent reads during the replace", reads.Load())

	wantProgress := []int{}
	for n := 10_000; n < size; n += 10_000 {
		wantProgress = append(wantProgress, n)
	}
	wantProgress = append(wantProgress, size)
	if !slices.Equal(progress, wantProgress) {
		t.Errorf("progress=%v, want %v", progress, wantProgress)
	}
	mustBuckets(t, db, wantBuckets("2"))

	db = mustReopen(t, db)
	mustView(t, db, func(tx edge.Tx) error {
		return checkVersion(tx, size, []int{0, 9_999, 10_000, size - 1, size, 10_000 + size - 1, 10_000 + size})
	})
}

func TestReplaceSnapshot_ErrIterator(t *testing.T) {
	db := MustOpenDB(t, bolt.WithSnapshotBatch(100))
	mustReplace(t, db, 1, 0, 1_000)

	errBoom := errors.New("line 551: bad tier")
	failing := func(yield func(*huiyan.Customer, error) bool) {
		for i := 10_000; i < 11_000; i++ {
			if i == 10_550 {
				yield(nil, errBoom)
				return
			}
			if !yield(testCustomer(i, 2), nil) {
				return
			}
		}
	}
	var progress []int
	err := db.ReplaceSnapshot(t.Context(), testMeta(2), huiyan.DefaultTagDict(), nil, failing, func(n int) { progress = append(progress, n) })
	if !errors.Is(err, errBoom) {
		t.Fatalf("err=%v, want the iterator's error", err)
	}
	if len(progress) != 5 {
		t.Errorf("progress=%v, want 5 batches written before the error", progress)
	}
	mustVersion1(t, db)
}

func TestReplaceSnapshot_ErrCanceled(t *testing.T) {
	db := MustOpenDB(t, bolt.WithSnapshotBatch(100))
	mustReplace(t, db, 1, 0, 1_000)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	err := db.ReplaceSnapshot(ctx, testMeta(2), nil, nil, customers(10_000, 11_000, 2), func(n int) {
		if n == 300 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err=%v, want context.Canceled", err)
	}
	mustVersion1(t, db)
}

func TestReplaceSnapshot_ErrBadToken(t *testing.T) {
	db := MustOpenDB(t, bolt.WithSnapshotBatch(100))
	mustReplace(t, db, 1, 0, 1_000)
	bad := func(yield func(*huiyan.Customer, error) bool) {
		for c := range customers(10_000, 10_300, 2) {
			if c.ID == testCustomer(10_250, 2).ID {
				c.Tokens[1].Token = "not-a-token"
			}
			if !yield(c, nil) {
				return
			}
		}
	}
	err := db.ReplaceSnapshot(t.Context(), testMeta(2), nil, nil, bad, nil)
	if err == nil {
		t.Fatal("applied a snapshot with a bad token")
	}
	t.Log(err)
	mustVersion1(t, db)
}

// mustVersion1 checks that version 1 (customers 0–999) is intact and that no
// other generation is left.
func mustVersion1(tb testing.TB, db *bolt.DB) {
	tb.Helper()
	mustBuckets(tb, db, wantBuckets("1"))
	mustView(tb, db, func(tx edge.Tx) error {
		if m, _ := tx.Meta(); m.SnapshotVersion != 1 {
			tb.Errorf("version=%d, want 1", m.SnapshotVersion)
		}
		return checkVersion(tx, 1_000, []int{0, 999, 1_000, 10_000, 10_299})
	})
}

func TestReplaceSnapshot_Crash(t *testing.T) {
	t.Run("PartialGeneration", func(t *testing.T) {
		db := MustOpenDB(t)
		mustReplace(t, db, 1, 0, 1_000)
		var batch []*huiyan.Customer
		for c := range customers(10_000, 10_500, 2) {
			batch = append(batch, c)
		}
		gen, err := db.WritePartialGeneration(batch)
		if err != nil {
			t.Fatal(err)
		}
		if gen != 2 {
			t.Fatalf("generation=%d, want 2", gen)
		}
		names, _ := db.BucketNames()
		if !slices.Contains(names, "customers.2") {
			t.Fatalf("buckets=%v, want customers.2 while it is written", names)
		}
		// Readers never see the unfinished generation.
		mustView(t, db, func(tx edge.Tx) error { return checkVersion(tx, 1_000, []int{0, 10_000}) })

		db = mustReopen(t, db) // "the process died"
		mustVersion1(t, db)

		// The next snapshot does not reuse the dead generation's number.
		mustReplace(t, db, 2, 10_000, 11_000)
		mustBuckets(t, db, wantBuckets("3"))
	})

	t.Run("StrayBuckets", func(t *testing.T) {
		db := MustOpenDB(t)
		mustReplace(t, db, 1, 0, 1_000)
		path := db.Path()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		err := bolt.EditFile(path, func(btx *bbolt.Tx) error {
			for _, name := range []string{"customers.99", "aliases.42", "aliases.1x", "other"} {
				if _, err := btx.CreateBucket([]byte(name)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		db = mustOpenPath(t, path)
		// Generation buckets that are not active go; names that are not
		// generation buckets are not ours to delete.
		want := append(wantBuckets("1"), "aliases.1x", "other")
		slices.Sort(want)
		mustBuckets(t, db, want)
		mustView(t, db, func(tx edge.Tx) error { return checkVersion(tx, 1_000, []int{0, 999}) })
	})
}

func TestReplaceSnapshot_Duplicates(t *testing.T) {
	db := MustOpenDB(t, bolt.WithSnapshotBatch(3))
	dup := func(yield func(*huiyan.Customer, error) bool) {
		for _, i := range []int{0, 1, 2, 1, 3, 0} { // ids repeat across batches
			if !yield(testCustomer(i, 1), nil) {
				return
			}
		}
	}
	if err := db.ReplaceSnapshot(t.Context(), testMeta(1), nil, nil, dup, nil); err != nil {
		t.Fatal(err)
	}
	mustView(t, db, func(tx edge.Tx) error {
		if m, _ := tx.Meta(); m.Customers != 4 {
			t.Errorf("customers=%d, want 4 distinct", m.Customers)
		}
		return nil
	})
}

func TestCustomers(t *testing.T) {
	db := MustOpenDB(t, bolt.WithSnapshotBatch(64))
	var n int
	for _, err := range db.Customers(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 0 {
		t.Fatalf("%d customers before the first snapshot, want 0", n)
	}
	mustReplace(t, db, 1, 0, 1_000)

	t.Run("OK", func(t *testing.T) {
		var ids []string
		for c, err := range db.Customers(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
		}
		if len(ids) != 1_000 || !slices.IsSorted(ids) || slices.Compact(slices.Clone(ids))[999] != ids[999] {
			t.Errorf("%d ids, sorted %v, want 1000 distinct in order", len(ids), slices.IsSorted(ids))
		}
	})

	// Apply a "delta" on top of the current data set: drop customer 0 and
	// re-band everyone, reading the old generation while writing the new.
	t.Run("FeedsReplaceSnapshot", func(t *testing.T) {
		delta := func(yield func(*huiyan.Customer, error) bool) {
			for c, err := range db.Customers(t.Context()) {
				if err == nil && c.ID == testCustomer(0, 1).ID {
					continue
				}
				if c != nil {
					c.AUMBand = versionBand(2)
				}
				if !yield(c, err) {
					return
				}
			}
		}
		m := testMeta(2)
		if err := db.ReplaceSnapshot(t.Context(), m, nil, nil, delta, nil); err != nil {
			t.Fatal(err)
		}
		mustView(t, db, func(tx edge.Tx) error {
			c, err := tx.CustomerByToken(token(huiyan.IdentIDCard, 500))
			if err != nil || c.AUMBand != versionBand(2) {
				t.Errorf("customer 500=%v, %v, want band of version 2", c, err)
			}
			if _, err := tx.CustomerByToken(token(huiyan.IdentIDCard, 0)); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("dropped customer err=%v, want ErrNotFound", err)
			}
			return nil
		})
	})

	t.Run("ErrSnapshotChanged", func(t *testing.T) {
		var err error
		n := 0
		for _, err = range db.Customers(t.Context()) {
			if err != nil {
				break
			}
			if n++; n == 10 {
				mustReplace(t, db, 3, 0, 1_000)
			}
		}
		if !errors.Is(err, bolt.ErrSnapshotChanged) {
			t.Errorf("err=%v after %d customers, want ErrSnapshotChanged", err, n)
		}
	})
}
