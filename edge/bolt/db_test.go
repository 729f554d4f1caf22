package bolt_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
)

// MustOpenDB opens a store in a new temporary directory and closes it when
// the test ends.
func MustOpenDB(tb testing.TB, opts ...bolt.Option) *bolt.DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "edge.db"), opts...)
}

func mustOpenPath(tb testing.TB, path string, opts ...bolt.Option) *bolt.DB {
	tb.Helper()
	db, err := bolt.Open(path, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// mustReopen closes db and opens its file again.
func mustReopen(tb testing.TB, db *bolt.DB, opts ...bolt.Option) *bolt.DB {
	tb.Helper()
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	return mustOpenPath(tb, db.Path(), opts...)
}

func mustUpdate(tb testing.TB, db *bolt.DB, fn func(edge.Tx) error) {
	tb.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		tb.Fatal(err)
	}
}

func mustView(tb testing.TB, db *bolt.DB, fn func(edge.Tx) error) {
	tb.Helper()
	if err := db.View(context.Background(), fn); err != nil {
		tb.Fatal(err)
	}
}

// token returns the test token of kind for customer i.
func token(kind huiyan.IdentKind, i int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s:%d", kind, i))
	return hex.EncodeToString(sum[:])
}

var cst = time.FixedZone("CST", 8*3600)

// testCustomer returns customer i as snapshot version writes it: its
// AUMBand names the version, so that a reader can tell which data set a
// customer came from.
func testCustomer(i int, version int64) *huiyan.Customer {
	c := &huiyan.Customer{
		ID:            fmt.Sprintf("C%010d", i),
		DisplayName:   []string{"林*华", "王*", "欧**峰"}[i%3],
		Tier:          huiyan.Tiers[i%len(huiyan.Tiers)],
		HomeBranch:    "310101",
		MBankStatus:   huiyan.MBankStatuses[i%len(huiyan.MBankStatuses)],
		MBankIdleDays: i % 200,
		Risk:          huiyan.Risks[i%len(huiyan.Risks)],
		AUMBand:       versionBand(version),
		Lifecycle:     huiyan.Lifecycles[i%len(huiyan.Lifecycles)],
		OptOut:        i%29 == 0,
		Tokens: []huiyan.Ident{
			{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: token(huiyan.IdentIDCard, i)},
			{Kind: huiyan.IdentBankCard, KeyID: "k1", Token: token(huiyan.IdentBankCard, i)},
			{Kind: huiyan.IdentPhone, KeyID: "k1", Token: token(huiyan.IdentPhone, i)},
		},
	}
	if i%2 == 0 {
		c.Tokens = append(c.Tokens, huiyan.Ident{Kind: huiyan.IdentMBank, KeyID: "k1", Token: token(huiyan.IdentMBank, i)})
	}
	if i%3 == 0 {
		c.Manager = "account-310101"
		c.Branches = []string{"310102"}
	}
	for k := range 4 + i%9 {
		c.Tags = append(c.Tags, 1+(i+k*17)%154)
	}
	slices.Sort(c.Tags)
	c.Tags = slices.Compact(c.Tags)
	c.Tags = append(c.Tags, 201+i%8, 301+i%4)
	if i%4 == 0 {
		c.Maturities = []huiyan.Maturity{{Product: "CD-3Y", Date: time.Date(2027, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, cst)}}
	}
	return c
}

func versionBand(version int64) string { return fmt.Sprintf("aum_v%d", version) }

// customers yields testCustomer(i, version) for i in [from, to).
func customers(from, to int, version int64) iter.Seq2[*huiyan.Customer, error] {
	return func(yield func(*huiyan.Customer, error) bool) {
		for i := from; i < to; i++ {
			if !yield(testCustomer(i, version), nil) {
				return
			}
		}
	}
}

func testMeta(version int64) edge.Meta {
	return edge.Meta{Branch: "310101", SnapshotVersion: version, SnapshotAt: time.Date(2026, 11, 23, 2, 0, 0, 0, cst), KeyID: "k1"}
}

var testStaff = []huiyan.Staff{
	{ID: "lobby-310101", Branch: "310101", Role: huiyan.RoleLobby, DisplayName: "张*", PINHash: "pbkdf2-sha256$60000$a$b"},
	{ID: "account-310101", Branch: "310101", Role: huiyan.RoleAccount, DisplayName: "李*", PINHash: "pbkdf2-sha256$60000$c$d"},
}

// mustReplace applies snapshot version with customers [from, to).
func mustReplace(tb testing.TB, db *bolt.DB, version int64, from, to int) {
	tb.Helper()
	err := db.ReplaceSnapshot(context.Background(), testMeta(version), huiyan.DefaultTagDict(), testStaff, customers(from, to, version), nil)
	if err != nil {
		tb.Fatal(err)
	}
}

// equal compares decoded values the way the codec promises to keep them.
func equal[T any](got, want T) bool {
	bolt.Normalize(&got)
	bolt.Normalize(&want)
	return reflect.DeepEqual(got, want)
}

func TestOpen(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db := MustOpenDB(t)
		names, err := db.BucketNames()
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"cards", "dedupe", "devices", "dict", "feed", "funnel", "funnel_days", "meta", "open", "outbox", "sessions", "staff", "visits"}
		if !slices.Equal(names, want) {
			t.Errorf("buckets=%v, want %v", names, want)
		}
		db = mustReopen(t, db)
		mustView(t, db, func(tx edge.Tx) error {
			m, err := tx.Meta()
			if err != nil {
				return err
			}
			if m != (edge.Meta{}) {
				t.Errorf("meta=%+v, want zero before the first snapshot", m)
			}
			return nil
		})
	})

	t.Run("ErrLocked", func(t *testing.T) {
		db := MustOpenDB(t)
		start := time.Now()
		_, err := bolt.Open(db.Path(), bolt.WithTimeout(200*time.Millisecond))
		if !errors.Is(err, bolt.ErrLocked) {
			t.Fatalf("err=%v, want ErrLocked", err)
		}
		if !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), db.Path()) {
			t.Errorf("err=%q, want it to name the file and say locked", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s, want about the timeout", d)
		}
	})

	t.Run("ErrSchemaTooNew", func(t *testing.T) {
		db := MustOpenDB(t)
		path := db.Path()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := bolt.EditFile(path, func(btx *bbolt.Tx) error { return bolt.SetSchemaVersion(btx, bolt.SchemaVersion+1) }); err != nil {
			t.Fatal(err)
		}
		_, err := bolt.Open(path)
		if !errors.Is(err, bolt.ErrSchemaTooNew) {
			t.Fatalf("err=%v, want ErrSchemaTooNew", err)
		}
		if want := fmt.Sprintf("schema version %d", bolt.SchemaVersion+1); !strings.Contains(err.Error(), want) {
			t.Errorf("err=%q, want it to contain %q", err, want)
		}
		// The refused file is closed again: it can be opened by bbolt.
		if err := bolt.EditFile(path, func(btx *bbolt.Tx) error { return bolt.SetSchemaVersion(btx, bolt.SchemaVersion) }); err != nil {
			t.Fatal(err)
		}
		mustOpenPath(t, path)
	})

	t.Run("ErrNotBolt", func(t *testing.T) {
		if _, err := bolt.Open(filepath.Join(t.TempDir(), "missing", "edge.db")); err == nil {
			t.Fatal("opened a file in a missing directory")
		}
	})
}

func TestUpdate(t *testing.T) {
	t.Run("ErrCanceled", func(t *testing.T) {
		db := MustOpenDB(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		called := false
		fn := func(edge.Tx) error { called = true; return nil }
		if err := db.Update(ctx, fn); !errors.Is(err, context.Canceled) {
			t.Errorf("update err=%v, want context.Canceled", err)
		}
		if err := db.View(ctx, fn); !errors.Is(err, context.Canceled) {
			t.Errorf("view err=%v, want context.Canceled", err)
		}
		if called {
			t.Error("fn ran under a cancelled context")
		}
	})

	t.Run("Rollback", func(t *testing.T) {
		db := MustOpenDB(t)
		errBoom := errors.New("boom")
		now := time.Now()
		err := db.Update(context.Background(), func(tx edge.Tx) error {
			v := &huiyan.Visit{ID: "v1", OpenedAt: now, LastSeenAt: now}
			if err := tx.PutVisit(v, "C1"); err != nil {
				return err
			}
			if err := tx.PutCard(&huiyan.Card{Visit: v}); err != nil {
				return err
			}
			if err := tx.AppendFeed(&huiyan.FeedEvent{Kind: huiyan.FeedArrival, At: now, Visit: v}); err != nil {
				return err
			}
			if err := tx.MarkEventSeen("sc-01", "e1", "v1", now); err != nil {
				return err
			}
			if err := tx.PutSession(edge.Session{TokenHash: "h", StaffID: "s", Expires: now.Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.PutDevice(huiyan.DeviceState{Device: "sc-01", Status: huiyan.DeviceOnline}); err != nil {
				return err
			}
			return errBoom
		})
		if err != errBoom {
			t.Fatalf("err=%v, want fn's error as is", err)
		}
		db = mustReopen(t, db)
		mustView(t, db, func(tx edge.Tx) error {
			if _, err := tx.Visit("v1"); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("visit err=%v, want ErrNotFound", err)
			}
			if _, err := tx.OpenVisitFor("C1"); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("open visit err=%v, want ErrNotFound", err)
			}
			if _, err := tx.Card("v1"); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("card err=%v, want ErrNotFound", err)
			}
			if _, err := tx.EventSeen("sc-01", "e1"); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("event seen err=%v, want ErrNotFound", err)
			}
			if _, err := tx.Session("h"); !errors.Is(err, edge.ErrNotFound) {
				t.Errorf("session err=%v, want ErrNotFound", err)
			}
			if oldest, newest, err := tx.FeedRange(); oldest != 0 || newest != 0 || err != nil {
				t.Errorf("feed range=(%d, %d, %v), want (0, 0, nil)", oldest, newest, err)
			}
			if d, err := tx.Devices(); len(d) != 0 || err != nil {
				t.Errorf("devices=%v, %v, want none", d, err)
			}
			return nil
		})
		// The rolled-back event's seq is handed out again: it was never seen.
		mustUpdate(t, db, func(tx edge.Tx) error {
			e := huiyan.FeedEvent{Kind: huiyan.FeedDevice}
			if err := tx.AppendFeed(&e); err != nil {
				return err
			}
			if e.Seq != 1 {
				t.Errorf("seq=%d, want 1", e.Seq)
			}
			return nil
		})
	})

	t.Run("Panic", func(t *testing.T) {
		db := MustOpenDB(t)
		func() {
			defer func() { _ = recover() }()
			_ = db.Update(context.Background(), func(tx edge.Tx) error {
				_ = tx.PutDevice(huiyan.DeviceState{Device: "d"})
				panic("boom")
			})
		}()
		// The write lock was released and nothing was committed.
		mustUpdate(t, db, func(tx edge.Tx) error {
			if d, err := tx.Devices(); len(d) != 0 || err != nil {
				t.Errorf("devices=%v, %v, want none", d, err)
			}
			return nil
		})
	})

	t.Run("ViewIsReadOnly", func(t *testing.T) {
		db := MustOpenDB(t)
		err := db.View(context.Background(), func(tx edge.Tx) error {
			return tx.PutDevice(huiyan.DeviceState{Device: "d"})
		})
		if err == nil {
			t.Fatal("wrote in a read-only transaction")
		}
	})
}
