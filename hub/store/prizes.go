package store

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	bolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/prizes"
)

// Prize wheel tables (issue 7; DESIGN.md in this folder, "Imports"). HQ
// uploads prizes.csv, every branch in one file, with an import; the leader
// checks it with hub/prizes (strict: one bad line refuses the import) and
// replicates every branch's table in canonical form (import_prizes). They
// are kept like the roster, per data version: a version whose import
// brought no prizes.csv uses the previous version's tables
// (Version.PrizesVersion), so HQ need not resend an unchanged campaign
// every night.
//
// In the prizes bucket, be64(version) holds the number of tables the
// version's file had (so that a file with none, HQ withdrawing every
// wheel, is still a file), and be64(version) followed by a branch id holds
// that branch's canonical table. The text is what the edge gets, so the
// fingerprint the hub publishes is computed from exactly the bytes the
// state holds.

// prizeRecord is one branch's table in an import_prizes blob.
type prizeRecord struct {
	Branch string `json:"branch"`
	Table  string `json:"table"` // canonical (hub/prizes.PrizeTable.Canonical)
}

// maxPrizesBlob bounds what the FSM decompresses of an import_prizes blob:
// a prizes.csv is at most prizes.MaxTableBytes, and its canonical tables
// are about the same size.
const maxPrizesBlob = 4 * prizes.MaxTableBytes

// Prizes reads HQ's prize wheel tables (prizes.csv, hub/prizes) that come
// with the snapshot, before or after the tags. The file is checked whole,
// like the snapshot: any bad line is a line error of the file "prizes" and
// refuses the import. A valid file replaces every branch's table from this
// import's version on: a branch it has no rows for has no wheel, and a
// file with the header and no rows withdraws every table. An import
// without one keeps the previous version's tables. A read error is
// returned.
func (r *ImportRun) Prizes(ctx context.Context, rd io.Reader) error {
	if r.prizesRead {
		return huiyan.Errorf(huiyan.EInvalid, "the import already has prize tables")
	}
	r.prizesRead = true
	tables, err := prizes.Parse(rd)
	var pe *prizes.ParseError
	if errors.As(err, &pe) {
		for _, le := range pe.Lines {
			r.addLineError("prizes", (*hub.LineError)(le))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("prize tables: %w", err)
	}
	recs := make([]prizeRecord, 0, len(tables))
	for branch, t := range tables {
		text := t.Canonical()
		if len(text) > hub.MaxPrizesBytes {
			// hub/prizes' row limits keep a table far below this.
			r.addLineError("prizes", &hub.LineError{Reason: fmt.Sprintf("the table of branch %s is %d bytes in canonical form, more than %d", branch, len(text), hub.MaxPrizesBytes)})
			return nil
		}
		recs = append(recs, prizeRecord{Branch: branch, Table: text})
	}
	if r.errs.Load() > 0 {
		return nil // refused already: nothing more is replicated
	}
	slices.SortFunc(recs, func(a, b prizeRecord) int { return cmp.Compare(a.Branch, b.Branch) })
	blob, err := encodePrizes(recs)
	if err != nil {
		return err
	}
	_, err = r.s.apply(ctx, cmdImportPrizes, importPrizesCmd{ID: r.id, Tables: len(recs)}, blob)
	return err
}

func encodePrizes(recs []prizeRecord) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(recs); err != nil {
		return nil, fmt.Errorf("encode prize tables: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("encode prize tables: %w", err)
	}
	return buf.Bytes(), nil
}

func decodePrizes(blob []byte) ([]prizeRecord, error) {
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return nil, err
	}
	var recs []prizeRecord
	if err := json.NewDecoder(io.LimitReader(zr, maxPrizesBlob)).Decode(&recs); err != nil {
		return nil, err
	}
	return recs, nil
}

// applyImportPrizes stores the tables of the open import's version. The
// FSM checks what the state needs (branch ids in order, each once, a
// table of each), not the tables' rules: the leader checked those with
// hub/prizes, and a stricter prizes.csv in a later release must never make
// a new node refuse an entry the old ones applied.
func (f *fsm) applyImportPrizes(tx *bolt.Tx, h *importPrizesCmd, blob []byte) error {
	return f.updateImport(tx, h.ID, func(imp *Import) error {
		recs, err := decodePrizes(blob)
		if err != nil {
			return huiyan.Errorf(huiyan.EInvalid, "import_prizes: %v", err)
		}
		if len(recs) != h.Tables {
			return huiyan.Errorf(huiyan.EInvalid, "import_prizes: %d tables, header says %d", len(recs), h.Tables)
		}
		b := tx.Bucket(bPrizes)
		ver := be64(imp.Version)
		if b.Get(ver) != nil {
			return huiyan.Errorf(huiyan.EConflict, "import %s already has prize tables", imp.ID)
		}
		for i, rec := range recs {
			switch {
			case !huiyan.ValidBranchID(rec.Branch) || (i > 0 && rec.Branch <= recs[i-1].Branch):
				return huiyan.Errorf(huiyan.EInvalid, "import_prizes: table %d: branch ids must be valid and in increasing order", i+1)
			case rec.Table == "" || len(rec.Table) > hub.MaxPrizesBytes:
				return huiyan.Errorf(huiyan.EInvalid, "import_prizes: table %d: 1 to %d bytes", i+1, hub.MaxPrizesBytes)
			}
			if err := b.Put(append(bytes.Clone(ver), rec.Branch...), []byte(rec.Table)); err != nil {
				return err
			}
		}
		imp.Prizes, imp.PrizeTables = true, len(recs)
		return b.Put(ver, be64(uint64(len(recs))))
	})
}

// deletePrizes removes the prize tables of the versions drop selects.
func deletePrizes(tx *bolt.Tx, drop func(version uint64) bool) error {
	b := tx.Bucket(bPrizes)
	// Keys are gathered first: deleting under a bbolt cursor skips keys.
	var gone [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) >= 8 && drop(binary.BigEndian.Uint64(k[:8])) {
			gone = append(gone, bytes.Clone(k))
		}
	}
	for _, k := range gone {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Prizes returns the branch's prize wheel table at a retained version, as
// its manifests carry it (hub.Prizes, Table "" when HQ's tables give the
// branch none), and whether the version has prize tables at all: false
// when HQ never sent any up to that version, and then the manifests say
// nothing of a wheel (hub.Record).
func (s *Store) Prizes(version uint64, branch string) (hub.Prizes, bool, error) {
	p := hub.Prizes{Branch: branch}
	stated := false
	err := s.fsm.view(func(tx *bolt.Tx) error {
		if err := s.fsm.retained(tx, version); err != nil {
			return err
		}
		v, err := getVersion(tx, version)
		if err != nil {
			return fmt.Errorf("version %d: %w", version, err)
		}
		if v.PrizesVersion == 0 {
			return nil
		}
		b := tx.Bucket(bPrizes)
		if b.Get(be64(v.PrizesVersion)) == nil {
			return fmt.Errorf("prize tables of version %d: %w", v.PrizesVersion, ErrNotFound)
		}
		stated = true
		if t := b.Get(append(be64(v.PrizesVersion), branch...)); t != nil {
			p.Table = string(t)
			p.Fingerprint = hub.PrizesFingerprint(p.Table)
		}
		return nil
	})
	if err != nil {
		return hub.Prizes{}, false, err
	}
	return p, stated, nil
}
