package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Customer rows are versioned (DESIGN.md in this folder, "State"). A row
// holds one customer's record from version `from` (the import that wrote
// it) until version `to` (the import that changed or dropped it; live when
// still current). The row visible at version v is the one with
// from <= v < to. An import writes its rows with from = its pending version
// and ends the rows it replaces at that version, so committing is only
// moving the "newest version" number, and undoing is deleting the rows it
// wrote and reopening the rows it ended.
//
//	cust  id 0 ^from           → be64(to) sha256(record) record
//	bidx  branch 0 id 0 ^from  → ""   (one per branch that holds the row)
//	dead  be64(to) id 0 ^from  → ""   (rows that ended: GC and undo)
//	born  be64(from) id        → ""   (rows the open import wrote: undo)
//
// ^from (the complement) sorts an id's rows newest first.

const rowHeader = 8 + sha256.Size

func custKey(id string, from uint64) []byte {
	k := make([]byte, 0, len(id)+9)
	k = append(k, id...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, ^from)
}

func bidxKey(branch, id string, from uint64) []byte {
	k := make([]byte, 0, len(branch)+len(id)+10)
	k = append(k, branch...)
	k = append(k, 0)
	return append(k, custKey(id, from)...)
}

func deadKey(to uint64, id string, from uint64) []byte {
	return append(be64(to), custKey(id, from)...)
}

func bornKey(from uint64, id string) []byte {
	return append(be64(from), id...)
}

// splitIDFrom splits "id 0 ^from".
func splitIDFrom(k []byte) (string, uint64) {
	if len(k) < 9 {
		return "", 0
	}
	return string(k[:len(k)-9]), ^binary.BigEndian.Uint64(k[len(k)-8:])
}

func rowTo(v []byte) uint64 { return binary.BigEndian.Uint64(v[:8]) }

func rowHash(v []byte) []byte { return v[8:rowHeader] }

func rowRecord(v []byte) []byte { return v[rowHeader:] }

// newestRow returns the newest row of id, or nil.
func newestRow(cust *bolt.Bucket, id string) (from uint64, v []byte) {
	prefix := append([]byte(id), 0)
	k, v := cust.Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
		return 0, nil
	}
	return ^binary.BigEndian.Uint64(k[len(prefix):]), v
}

// rowWriter changes rows on behalf of the import that reserved version.
type rowWriter struct {
	version                        uint64
	meta, cust, bidx, bcount, dead *bolt.Bucket
	born                           *bolt.Bucket
}

func newRowWriter(tx *bolt.Tx, version uint64) *rowWriter {
	return &rowWriter{
		version: version, meta: tx.Bucket(bMeta), cust: tx.Bucket(bCust), bidx: tx.Bucket(bBidx),
		bcount: tx.Bucket(bBcount), dead: tx.Bucket(bDead), born: tx.Bucket(bBorn),
	}
}

// upsert makes line the customer's record from the pending version on,
// unless it is the same as the current one. It reports a change.
func (w *rowWriter) upsert(r *record, line []byte) (bool, error) {
	sum := sha256.Sum256(line)
	from, v := newestRow(w.cust, r.ID)
	changed := true
	if v != nil && rowTo(v) == live {
		switch {
		case from == w.version:
			// The customer came twice in one import (only possible when
			// the reader's duplicate check is off): the later row wins.
			if bytes.Equal(rowHash(v), sum[:]) {
				return false, nil
			}
			if err := w.remove(r.ID, from, true); err != nil {
				return false, err
			}
			changed = false
		case bytes.Equal(rowHash(v), sum[:]):
			return false, nil
		default:
			if err := w.endRow(r.ID, from, v); err != nil {
				return false, err
			}
		}
	}
	val := make([]byte, 0, rowHeader+len(line))
	val = binary.BigEndian.AppendUint64(val, live)
	val = append(val, sum[:]...)
	val = append(val, line...)
	if err := w.cust.Put(custKey(r.ID, w.version), val); err != nil {
		return false, err
	}
	for _, b := range r.branches() {
		if err := w.bidx.Put(bidxKey(b, r.ID, w.version), nil); err != nil {
			return false, err
		}
		if err := w.count(b, +1); err != nil {
			return false, err
		}
	}
	if err := w.addLive(+1); err != nil {
		return false, err
	}
	return changed, w.born.Put(bornKey(w.version, r.ID), nil)
}

// end ends the customer's current row at the pending version: the
// customer is not in the new snapshot. It reports whether there was one.
func (w *rowWriter) end(id string) (bool, error) {
	from, v := newestRow(w.cust, id)
	if v == nil || rowTo(v) != live || from >= w.version {
		return false, nil
	}
	return true, w.endRow(id, from, v)
}

func (w *rowWriter) endRow(id string, from uint64, v []byte) error {
	nv := bytes.Clone(v)
	binary.BigEndian.PutUint64(nv[:8], w.version)
	if err := w.cust.Put(custKey(id, from), nv); err != nil {
		return err
	}
	if err := w.dead.Put(deadKey(w.version, id, from), nil); err != nil {
		return err
	}
	return w.recount(v, -1)
}

// recount adds delta to the counts of the branches of the row v.
func (w *rowWriter) recount(v []byte, delta int) error {
	r, err := decodeRecord(rowRecord(v))
	if err != nil {
		return err
	}
	for _, b := range r.branches() {
		if err := w.count(b, delta); err != nil {
			return err
		}
	}
	return w.addLive(delta)
}

// remove deletes a row and its branch index entries; a live row's counts
// go down. born also drops the row's undo entry.
func (w *rowWriter) remove(id string, from uint64, born bool) error {
	k := custKey(id, from)
	v := w.cust.Get(k)
	if v == nil {
		return fmt.Errorf("remove row: %w", ErrNotFound)
	}
	r, err := decodeRecord(rowRecord(v))
	if err != nil {
		return err
	}
	for _, b := range r.branches() {
		if err := w.bidx.Delete(bidxKey(b, id, from)); err != nil {
			return err
		}
	}
	if rowTo(v) == live {
		if err := w.recount(v, -1); err != nil {
			return err
		}
	}
	if born {
		if err := w.born.Delete(bornKey(from, id)); err != nil {
			return err
		}
	}
	return w.cust.Delete(k)
}

// undo removes every row the pending version wrote and reopens every row
// it ended: the state is as before the import.
func (w *rowWriter) undo() error {
	prefix := be64(w.version)
	var ids []string
	c := w.born.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[8:]))
	}
	for _, id := range ids {
		if err := w.remove(id, w.version, true); err != nil {
			return err
		}
	}
	var ended [][]byte
	c = w.dead.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ended = append(ended, bytes.Clone(k))
	}
	for _, k := range ended {
		id, from := splitIDFrom(k[8:])
		ck := custKey(id, from)
		v := w.cust.Get(ck)
		if v == nil {
			return fmt.Errorf("undo: ended row: %w", ErrNotFound)
		}
		nv := bytes.Clone(v)
		binary.BigEndian.PutUint64(nv[:8], live)
		if err := w.cust.Put(ck, nv); err != nil {
			return err
		}
		if err := w.recount(v, +1); err != nil {
			return err
		}
		if err := w.dead.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// forget drops the undo entries of a committed import.
func (w *rowWriter) forget() error {
	prefix := be64(w.version)
	var keys [][]byte
	c := w.born.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := w.born.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (w *rowWriter) count(branch string, delta int) error {
	n := int64(getU64(w.bcount, []byte(branch))) + int64(delta)
	if n <= 0 {
		return w.bcount.Delete([]byte(branch))
	}
	return w.bcount.Put([]byte(branch), be64(uint64(n)))
}

func (w *rowWriter) addLive(delta int) error {
	n := int64(getU64(w.meta, kLive)) + int64(delta)
	if n < 0 {
		n = 0
	}
	return w.meta.Put(kLive, be64(uint64(n)))
}
