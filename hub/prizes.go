package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"unicode/utf8"

	"huiyan"
)

// The prize wheel's table travels like the roster (issue 7: "prize table
// and odds per branch from the hub snapshot"). HQ uploads prizes.csv, all
// branches in one file, with an import (multipart part "prizes"); the hub
// checks it with package hub/prizes, keeps every branch's table with the
// data version, and ships each branch its own, in canonical form, as an
// OpPrizes record of the signed data set. This package does not parse the
// table (it imports nothing but the root): what it checks is the shape,
// and that the fingerprint is the hash of exactly the text, which the
// edge then parses with hub/prizes.ParseCanonical.
//
// Version skew is handled as for any new record or field (chunk.go: edges
// first). An edge from before OpPrizes refuses a chunk holding one as
// malformed (unknown op) and keeps serving its data set; it catches up,
// table included, once upgraded. So the rollout order is edges, then hub,
// and only then HQ's first prize upload: until a version has prize
// tables, the hub sends no OpPrizes record at all, so upgrading the hub
// alone changes nothing on the wire. A new edge syncing from an old hub
// gets no OpPrizes and keeps its local table file. The fingerprint is not
// a manifest field for the same reason: an edge refuses a manifest field
// it does not know, and a manifest is for every edge of the branch.

// MaxPrizesBytes bounds the canonical table of one branch in an OpPrizes
// record. A branch's table has at most 64 rows of a few hundred bytes
// (hub/prizes.MaxEntries): 256 KiB is far above any real one and keeps a
// record well inside a chunk.
const MaxPrizesBytes = 256 << 10

// Prizes is a branch's prize wheel table as a data set carries it, in an
// OpPrizes record.
//
// Table is the table in the canonical form of hub/prizes
// (PrizeTable.Canonical: a prizes.csv of this one branch, as Format writes
// it), or "" when HQ's tables give the branch none (its rows were left out
// of the file, or HQ withdrew every table): the branch then has no wheel.
// Fingerprint is PrizesFingerprint(Table), which is the table's
// hub/prizes Fingerprint, the one the wheel's audit log names; "" with no
// table.
type Prizes struct {
	Branch      string `json:"branch"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Table       string `json:"table,omitempty"`
}

// PrizesFingerprint returns the fingerprint of a canonical table: the
// first 16 hex characters of the SHA-256 of the text, which is what
// hub/prizes.PrizeTable.Fingerprint computes from the same text; "" for
// no table.
func PrizesFingerprint(table string) string {
	if table == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(table))
	return hex.EncodeToString(sum[:8])
}

// Validate checks the shape of an OpPrizes record, as the edge does when
// it decodes one and the hub before it publishes one: a branch id, a table
// of valid UTF-8 of at most MaxPrizesBytes, and the fingerprint of exactly
// that table. Whether the table is a valid prize table is for
// hub/prizes.ParseCanonical, which the edge applies before it stores it.
func (p *Prizes) Validate() error {
	switch {
	case p == nil:
		return fmt.Errorf("prizes: no table")
	case !huiyan.ValidBranchID(p.Branch):
		return fmt.Errorf("prizes: branch: invalid branch id")
	case len(p.Table) > MaxPrizesBytes:
		return fmt.Errorf("prizes: table: %d bytes, more than %d", len(p.Table), MaxPrizesBytes)
	case !utf8.ValidString(p.Table):
		return fmt.Errorf("prizes: table: not valid UTF-8")
	case p.Fingerprint != PrizesFingerprint(p.Table):
		return fmt.Errorf("prizes: fingerprint: not the fingerprint of the table")
	}
	return nil
}

// WithPrizes returns recs (a FullRecords or DeltaRecords stream) with an
// OpPrizes record of p after the dictionary and the roster, before the
// first customer (see Record). A nil p returns recs as they are.
func WithPrizes(p *Prizes, recs iter.Seq2[Record, error]) iter.Seq2[Record, error] {
	if p == nil {
		return recs
	}
	return func(yield func(Record, error) bool) {
		done := false
		for r, err := range recs {
			if err != nil {
				yield(Record{}, err)
				return
			}
			if !done && r.Op != OpDict && r.Op != OpStaff {
				done = true
				if !yield(Record{Op: OpPrizes, Prizes: p}, nil) {
					return
				}
			}
			if !yield(r, nil) {
				return
			}
		}
		if !done {
			yield(Record{Op: OpPrizes, Prizes: p}, nil)
		}
	}
}
