package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/edge"
)

// ReplaceSnapshot replaces the branch's data set: every customer and alias,
// and the meta, the dictionary and the staff roster. It is atomic for
// readers without being one huge transaction:
//
//  1. customers and their aliases go into a new generation's buckets
//     ("customers.N", "aliases.N"), in transactions of the snapshot batch
//     size (WithSnapshotBatch), while arrivals go on against the active
//     generation between them;
//  2. one small transaction makes N active and writes meta, dict and staff:
//     a reader's transaction sees the old data set or the new one, each with
//     its own meta, never a mix;
//  3. a last transaction deletes the old generation's buckets;
//  4. read transactions pass once through the new generation, so that
//     arrivals find its pages mapped (warmGeneration).
//
// If customers yields an error, ctx is cancelled or a write fails, the new
// generation is deleted and the old data set stays active; if the process
// dies, Open deletes it. progress, if not nil, is called with the number of
// customers written after each batch.
//
// meta.Customers is set to the number of distinct customer ids written,
// meta.SnapshotAt to now if zero, and meta.DictVersion to dict's version. A
// nil dict keeps the current dictionary (DictVersion 0 if there is none); a
// nil staff slice keeps the current roster, an empty one empties it. Every
// customer needs an id and tokens of 64 hex characters. A later customer
// with the same id or token replaces an earlier one. A nil customers is an
// empty data set.
//
// One ReplaceSnapshot runs at a time; a second call waits for the first, so
// customers must not call ReplaceSnapshot. It may read this DB (Customers,
// View): the writes happen between its yields.
//
// The branch's prize wheel table is kept as it is; ReplaceSnapshotWithPrizes
// also replaces it.
func (db *DB) ReplaceSnapshot(ctx context.Context, meta edge.Meta, dict *huiyan.TagDict, staff []huiyan.Staff,
	customers iter.Seq2[*huiyan.Customer, error], progress func(n int)) error {
	return db.replaceSnapshot(ctx, meta, dict, staff, edge.PrizesUpdate{}, customers, progress)
}

func (db *DB) replaceSnapshot(ctx context.Context, meta edge.Meta, dict *huiyan.TagDict, staff []huiyan.Staff,
	prizes edge.PrizesUpdate, customers iter.Seq2[*huiyan.Customer, error], progress func(n int)) (err error) {
	db.replaceMu.Lock()
	defer db.replaceMu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("replace snapshot: %w", err)
	}
	if customers == nil {
		customers = func(func(*huiyan.Customer, error) bool) {}
	}
	gen, err := db.beginGeneration()
	if err != nil {
		return fmt.Errorf("replace snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			if derr := db.dropGeneration(gen); derr != nil {
				err = errors.Join(err, fmt.Errorf("replace snapshot: remove generation %d: %w", gen, derr))
			}
		}
	}()

	written, count := 0, 0
	var al aliasList
	batch := make([]*huiyan.Customer, 0, db.batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := db.writeBatch(gen, batch, written, &al)
		if err != nil {
			return err
		}
		count += n
		written += len(batch)
		clear(batch) // let the customers go
		batch = batch[:0]
		if progress != nil {
			progress(written)
		}
		return nil
	}
	for c, ierr := range customers {
		if ierr != nil {
			return fmt.Errorf("replace snapshot: customer %d: %w", written+len(batch)+1, ierr)
		}
		if c == nil {
			return fmt.Errorf("replace snapshot: customer %d: nil", written+len(batch)+1)
		}
		batch = append(batch, c)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return fmt.Errorf("replace snapshot: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("replace snapshot: %w", err)
	}
	if err := db.writeAliases(ctx, gen, &al); err != nil {
		return fmt.Errorf("replace snapshot: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("replace snapshot: %w", err)
	}

	old, err := db.activate(gen, meta, dict, staff, prizes, count)
	if err != nil {
		return fmt.Errorf("replace snapshot: %w", err)
	}
	if old != 0 {
		// The new data set is active; failing here only leaves garbage that
		// the next ReplaceSnapshot or Open removes.
		if err := db.dropGeneration(old); err != nil {
			return fmt.Errorf("snapshot %d applied; removing generation %d: %w", meta.SnapshotVersion, old, err)
		}
	}
	if _, err := db.warmGeneration(ctx, gen); err != nil {
		return fmt.Errorf("snapshot %d applied; %w", meta.SnapshotVersion, err)
	}
	return nil
}

// beginGeneration drops any inactive generation a failed attempt left,
// allocates a new generation number and creates its buckets.
func (db *DB) beginGeneration() (uint64, error) {
	var gen uint64
	err := db.bolt.Update(func(btx *bbolt.Tx) error {
		meta := btx.Bucket(bucketMeta)
		active, _ := getUvarint(meta, keyGen)
		if err := dropGenerations(btx, func(g uint64) bool { return g != active }); err != nil {
			return err
		}
		last, _ := getUvarint(meta, keyLastGen)
		gen = max(last, active) + 1
		if err := putUvarint(meta, keyLastGen, gen); err != nil {
			return err
		}
		for _, name := range [][]byte{genBucket(prefixCustomers, gen), genBucket(prefixAliases, gen)} {
			if _, err := btx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("begin generation: %w", err)
	}
	return gen, nil
}

// writeBatch writes customers and their aliases into generation gen and
// returns how many of the ids were new to it. Errors name customers by their
// position in the snapshot (base+1 is the batch's first), never by id.
//
// Records are put in key order: bbolt inserts into in-memory nodes, and
// random keys make every insert shift a large node; sorted, a batch costs a
// fraction of the CPU. The sort is stable, so a later duplicate still wins.
// aliasList collects a snapshot's aliases until every customer is written:
// alias keys are random tokens, so writing them batch by batch would rewrite
// leaf pages all over the B+tree with every batch (measured: a 1M-customer
// import took 89 s and 1.96 GB RSS). Sorted once at the end they are
// appended in order into full pages. 36 bytes an alias plus the ids.
type aliasList struct {
	ids  []string
	keys []aliasEntry
}

type aliasEntry struct {
	key [32]byte
	ord uint32 // index into ids
}

// aliasBatch is how many aliases one transaction appends.
const aliasBatch = 50_000

// writeAliases sorts the aliases and appends them to the generation's alias
// bucket. A token listed twice maps to the customer that came last, as
// before.
func (db *DB) writeAliases(ctx context.Context, gen uint64, al *aliasList) error {
	slices.SortStableFunc(al.keys, func(a, b aliasEntry) int { return bytes.Compare(a.key[:], b.key[:]) })
	for lo := 0; lo < len(al.keys); lo += aliasBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+aliasBatch, len(al.keys))
		err := db.bolt.Update(func(btx *bbolt.Tx) error {
			ab := btx.Bucket(newGenNames(gen).aliases)
			if ab == nil {
				return fmt.Errorf("generation %d is gone", gen)
			}
			ab.FillPercent = 1.0 // appended in key order, never written again
			for _, a := range al.keys[lo:hi] {
				if err := ab.Put(a.key[:], []byte(al.ids[a.ord])); err != nil {
					return fmt.Errorf("put alias: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write generation %d aliases: %w", gen, err)
		}
	}
	*al = aliasList{}
	return nil
}

func (db *DB) writeBatch(gen uint64, batch []*huiyan.Customer, base int, al *aliasList) (int, error) {
	type kv struct{ k, v []byte }
	recs := make([]kv, 0, len(batch))
	for n, c := range batch {
		if c.ID == "" {
			return 0, fmt.Errorf("write generation %d: customer %d: empty id", gen, base+n+1)
		}
		id := []byte(c.ID)
		recs = append(recs, kv{id, appendCustomer(nil, c)})
		ord := uint32(len(al.ids))
		// Clone: the id may be a substring of its whole input row (the
		// snapshot reader allocates a row as one string), which keeping the
		// id would keep alive — 414 MB of rows at a million customers.
		al.ids = append(al.ids, strings.Clone(c.ID))
		for i, tok := range c.Tokens {
			e := aliasEntry{ord: ord}
			if !aliasKey(tok.Token, &e.key) {
				return 0, fmt.Errorf("write generation %d: customer %d: token %d is not 64 hex characters", gen, base+n+1, i+1)
			}
			al.keys = append(al.keys, e)
		}
	}
	byKey := func(a, b kv) int { return bytes.Compare(a.k, b.k) }
	slices.SortStableFunc(recs, byKey)

	newIDs := 0
	err := db.bolt.Update(func(btx *bbolt.Tx) error {
		names := newGenNames(gen)
		cb, ab := btx.Bucket(names.customers), btx.Bucket(names.aliases)
		if cb == nil || ab == nil {
			return fmt.Errorf("generation %d is gone", gen)
		}
		// A snapshot in customer-id order only appends: pack its pages full,
		// as nothing writes to a generation once it is complete (it then
		// takes half the pages bbolt's default split leaves). Random ids,
		// and the aliases' random keys, keep the default: with random
		// inserts, fuller splits only make more half-empty pages.
		if last, _ := cb.Cursor().Last(); len(recs) > 0 && bytes.Compare(recs[0].k, last) > 0 {
			cb.FillPercent = 1.0
		}
		for _, r := range recs {
			if cb.Get(r.k) == nil {
				newIDs++
			}
			if err := cb.Put(r.k, r.v); err != nil {
				return fmt.Errorf("put customer: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("write generation %d: %w", gen, err)
	}
	return newIDs, nil
}

// activate makes gen the active generation and writes the meta, dict,
// staff and prize table that go with it, in one transaction. It returns
// the generation that was active before (0 if none).
func (db *DB) activate(gen uint64, m edge.Meta, dict *huiyan.TagDict, staff []huiyan.Staff, prizes edge.PrizesUpdate, count int) (uint64, error) {
	var old uint64
	err := db.bolt.Update(func(btx *bbolt.Tx) error {
		t := &tx{db: db, tx: btx}
		meta := btx.Bucket(bucketMeta)
		names := newGenNames(gen)
		if btx.Bucket(names.customers) == nil || btx.Bucket(names.aliases) == nil {
			return fmt.Errorf("generation %d is gone", gen)
		}
		old, _ = getUvarint(meta, keyGen)

		m.Customers = count
		if m.SnapshotAt.IsZero() {
			m.SnapshotAt = time.Now()
		}
		if dict != nil {
			m.DictVersion = dict.Version()
			if err := btx.Bucket(bucketDict).Put(keyDict, appendDict(nil, dict)); err != nil {
				return fmt.Errorf("put dict: %w", err)
			}
		} else {
			switch cur, err := t.Dict(); {
			case err == nil:
				m.DictVersion = cur.Version()
			case errors.Is(err, edge.ErrNotFound):
				m.DictVersion = 0
			default:
				return err
			}
		}
		if staff != nil {
			if err := replaceStaff(btx, staff); err != nil {
				return err
			}
		}
		if err := putPrizes(btx, prizes); err != nil {
			return err
		}
		if err := meta.Put(keyMeta, appendMeta(nil, &m)); err != nil {
			return fmt.Errorf("put meta: %w", err)
		}
		if err := putUvarint(meta, keyGen, gen); err != nil {
			return fmt.Errorf("put generation: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("activate generation %d: %w", gen, err)
	}
	return old, nil
}

func replaceStaff(btx *bbolt.Tx, staff []huiyan.Staff) error {
	if err := btx.DeleteBucket(bucketStaff); err != nil {
		return fmt.Errorf("clear staff: %w", err)
	}
	b, err := btx.CreateBucket(bucketStaff)
	if err != nil {
		return fmt.Errorf("clear staff: %w", err)
	}
	for i := range staff {
		s := &staff[i]
		if s.ID == "" {
			return fmt.Errorf("staff %d: empty id", i+1)
		}
		if err := b.Put([]byte(s.ID), appendStaff(nil, s)); err != nil {
			return fmt.Errorf("put staff %s: %w", s.ID, err)
		}
	}
	return nil
}

// dropGeneration deletes generation gen's buckets unless it is active.
func (db *DB) dropGeneration(gen uint64) error {
	return db.bolt.Update(func(btx *bbolt.Tx) error {
		active, _ := getUvarint(btx.Bucket(bucketMeta), keyGen)
		if gen == active {
			return nil
		}
		return dropGenerations(btx, func(g uint64) bool { return g == gen })
	})
}

// Customers iterates over the active data set's customers in id order, in
// read transactions of the snapshot batch size so that it never holds one
// open for long. It yields ErrSnapshotChanged and stops if another
// generation becomes active meanwhile. It may feed ReplaceSnapshot (to apply
// a delta on top of the current data set).
func (db *DB) Customers(ctx context.Context) iter.Seq2[*huiyan.Customer, error] {
	return func(yield func(*huiyan.Customer, error) bool) {
		var gen uint64
		var after []byte
		first := true
		for {
			if err := ctx.Err(); err != nil {
				yield(nil, fmt.Errorf("customers: %w", err))
				return
			}
			var batch []*huiyan.Customer
			err := db.bolt.View(func(btx *bbolt.Tx) error {
				g := db.generation(btx)
				switch {
				case g == nil && first:
					return nil
				case g == nil || (!first && g.gen != gen):
					return ErrSnapshotChanged
				}
				gen = g.gen
				b := btx.Bucket(g.customers)
				if b == nil {
					return fmt.Errorf("generation %d buckets missing: %w", g.gen, ErrCorrupt)
				}
				c := b.Cursor()
				k, v := c.First()
				if after != nil {
					if k, v = c.Seek(after); bytes.Equal(k, after) {
						k, v = c.Next()
					}
				}
				for ; k != nil && len(batch) < db.batch; k, v = c.Next() {
					cu, err := decodeCustomer(v)
					if err != nil {
						return err
					}
					batch = append(batch, cu)
					after = append(after[:0], k...)
				}
				return nil
			})
			first = false
			if err != nil {
				yield(nil, fmt.Errorf("customers: %w", err))
				return
			}
			for _, c := range batch {
				if !yield(c, nil) {
					return
				}
			}
			if len(batch) < db.batch {
				return
			}
		}
	}
}
