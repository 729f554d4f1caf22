package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"

	bbolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/edge"
	"huiyan/hub"
)

// The branch's prize wheel table from the hub (issue 7) is kept with the
// data set: written in the transaction that activates a generation, like
// the dictionary and the roster, so a reader sees the table of the data
// set it reads. It has a bucket of its own, made when a data set first
// brings a table: a file from before has none, and an older program
// ignores it.

var (
	bucketPrizes = []byte("prizes")
	keyPrizes    = []byte("table") // hub.Prizes as JSON
)

// ReplaceSnapshotWithPrizes is ReplaceSnapshot that also replaces the
// branch's prize wheel table, in the same activation as the customers
// (edge.PrizesUpdate: keep, set, or remove the hub's word). It is what
// the hub syncer calls.
func (db *DB) ReplaceSnapshotWithPrizes(ctx context.Context, meta edge.Meta, dict *huiyan.TagDict, staff []huiyan.Staff,
	prizes edge.PrizesUpdate, customers iter.Seq2[*huiyan.Customer, error], progress func(n int)) error {
	return db.replaceSnapshot(ctx, meta, dict, staff, prizes, customers, progress)
}

// putPrizes applies a data set's prize table update in the activating
// transaction.
func putPrizes(btx *bbolt.Tx, u edge.PrizesUpdate) error {
	switch {
	case !u.Set:
		return nil
	case u.Prizes == nil:
		if btx.Bucket(bucketPrizes) == nil {
			return nil
		}
		if err := btx.DeleteBucket(bucketPrizes); err != nil {
			return fmt.Errorf("remove prize table: %w", err)
		}
		return nil
	}
	if err := u.Prizes.Validate(); err != nil {
		return fmt.Errorf("put prize table: %w", err)
	}
	b, err := btx.CreateBucketIfNotExists(bucketPrizes)
	if err != nil {
		return fmt.Errorf("put prize table: %w", err)
	}
	v, err := json.Marshal(u.Prizes)
	if err != nil {
		return fmt.Errorf("put prize table: %w", err)
	}
	if err := b.Put(keyPrizes, v); err != nil {
		return fmt.Errorf("put prize table: %w", err)
	}
	return nil
}

// Prizes returns the prize wheel table the data set carries from the hub;
// edge.ErrNotFound when it carries none (no hub, or a hub that never had
// prize tables).
func (t *tx) Prizes() (hub.Prizes, error) {
	b := t.bucket(bucketPrizes)
	if b == nil {
		return hub.Prizes{}, fmt.Errorf("prize table: %w", edge.ErrNotFound)
	}
	v := b.Get(keyPrizes)
	if v == nil {
		return hub.Prizes{}, fmt.Errorf("prize table: %w", edge.ErrNotFound)
	}
	var p hub.Prizes
	if err := json.Unmarshal(v, &p); err != nil {
		return hub.Prizes{}, fmt.Errorf("prize table: %w: %w", ErrCorrupt, err)
	}
	if err := p.Validate(); err != nil {
		return hub.Prizes{}, fmt.Errorf("prize table: %w: %w", ErrCorrupt, err)
	}
	return p, nil
}
