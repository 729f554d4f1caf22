package bolt

import (
	"context"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"huiyan"
)

// Normalize is normalize for the external tests.
var Normalize = normalize

// WritePartialGeneration does what a ReplaceSnapshot does before it dies
// half-way: it allocates a generation and writes customers into it, but
// never activates it.
func (db *DB) WritePartialGeneration(customers []*huiyan.Customer) (uint64, error) {
	gen, err := db.beginGeneration()
	if err != nil {
		return 0, err
	}
	var al aliasList
	if _, err = db.writeBatch(gen, customers, 0, &al); err != nil {
		return gen, err
	}
	return gen, db.writeAliases(context.Background(), gen, &al)
}

// BucketNames lists the top-level buckets, sorted.
func (db *DB) BucketNames() ([]string, error) {
	var names []string
	err := db.bolt.View(func(btx *bbolt.Tx) error {
		return btx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
	})
	slices.Sort(names)
	return names, err
}

// GenerationStats returns the bytes the active generation's pages take
// (allocated and in use) and its record bytes (keys and values).
func (db *DB) GenerationStats() (alloc, inuse, records int, err error) {
	err = db.bolt.View(func(btx *bbolt.Tx) error {
		g := db.generation(btx)
		if g == nil {
			return nil
		}
		for _, name := range [][]byte{g.customers, g.aliases} {
			b := btx.Bucket(name)
			s := b.Stats()
			alloc += s.BranchAlloc + s.LeafAlloc
			inuse += s.BranchInuse + s.LeafInuse
			if err := b.ForEach(func(k, v []byte) error {
				records += len(k) + len(v)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return alloc, inuse, records, err
}

// EditFile runs fn on the closed store file with bbolt directly, to set up
// what this package never writes itself: a newer schema, a stray bucket.
func EditFile(path string, fn func(btx *bbolt.Tx) error) error {
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	if err := bdb.Update(fn); err != nil {
		_ = bdb.Close()
		return err
	}
	return bdb.Close()
}

// SetSchemaVersion writes a schema version into the meta bucket of tx.
func SetSchemaVersion(btx *bbolt.Tx, v uint64) error {
	return putUvarint(btx.Bucket(bucketMeta), keySchema, v)
}

// FeedRecordSize is the encoded size of a feed event.
func FeedRecordSize(e *huiyan.FeedEvent) int { return len(appendFeed(nil, e)) }

// WarmGeneration is warmGeneration of the active generation, or of the
// generation before it when previous is set.
func (db *DB) WarmGeneration(ctx context.Context, previous bool) (int, error) {
	var gen uint64
	if err := db.bolt.View(func(btx *bbolt.Tx) error {
		gen, _ = getUvarint(btx.Bucket(bucketMeta), keyGen)
		return nil
	}); err != nil {
		return 0, err
	}
	if previous {
		gen--
	}
	return db.warmGeneration(ctx, gen)
}
