package wheel

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"huiyan/hub/funnel"
)

// AuditHeader is the header line of an audit export (package
// documentation, "Audit log").
const AuditHeader = "seq,at,device,spin,event,who,campaign,table,draw,drawn,prize,reason,inventory_after,prev,hash"

var auditHeader = strings.Split(AuditHeader, ",")

// Genesis is the prev of the first record: 64 zeros.
var Genesis = strings.Repeat("0", 64)

// AuditTimeLayout is how a record writes its time: milliseconds, China
// Standard Time, always the same length.
const AuditTimeLayout = "2006-01-02T15:04:05.000-07:00"

// Record is one spin in the audit log. It holds nothing that identifies a
// customer beyond HQ's pseudonymous id: an unknown customer is "u:" and a
// salted hash, never a token.
type Record struct {
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	Device   string    `json:"device"`
	Spin     string    `json:"spin"`
	Event    string    `json:"event,omitempty"` // the wheel arrival's id
	Who      string    `json:"who"`             // customer id, or "u:" + 32 hex for an unknown customer
	Campaign string    `json:"campaign,omitempty"`
	Table    string    `json:"table,omitempty"` // the table's fingerprint; "" when none was loaded
	// Draw is the uniform number the draw made, in [0, the table's
	// scale), or -1 when the spin was refused before a draw.
	Draw  int64  `json:"draw"`
	Drawn string `json:"drawn,omitempty"` // the entry the draw landed on, "" for the no-prize entry
	Prize string `json:"prize,omitempty"` // what was awarded, "" for nothing
	// Reason is why nothing was awarded; "" when Prize is set.
	Reason string `json:"reason,omitempty"`
	// InventoryAfter is the stock of Drawn left after the spin, -1 when it
	// is unlimited or nothing was drawn.
	InventoryAfter int64  `json:"inventory_after"`
	Prev           string `json:"prev"` // the previous record's Hash, Genesis for the first
	Hash           string `json:"hash"`
}

// fields returns the record's export row without the hash: the message
// the hash is made of, joined with "|".
func (r *Record) fields() []string {
	opt := func(n int64) string {
		if n < 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	return []string{strconv.FormatUint(r.Seq, 10), r.At.In(funnel.CST).Format(AuditTimeLayout), r.Device, r.Spin, r.Event, r.Who,
		r.Campaign, r.Table, opt(r.Draw), r.Drawn, r.Prize, r.Reason, opt(r.InventoryAfter), r.Prev}
}

// chainHash is the hash of a record: SHA-256 of its first 14 export
// fields, prev included, joined with "|". No field can hold "|" (or a
// comma, a quote, a line break), so the message is unambiguous and an
// export needs no CSV quoting.
func chainHash(fields []string) string {
	sum := sha256.Sum256([]byte(strings.Join(fields, "|")))
	return hex.EncodeToString(sum[:])
}

// Field formats of a record, checked by Verify: an export that passes
// holds no token, no name, nothing but these.
var (
	atRe         = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\+08:00$`)
	whoRe        = regexp.MustCompile(`^([0-9A-Za-z._-]{1,32}|u:[0-9a-f]{32})$`)
	codeRe       = regexp.MustCompile(`^[0-9A-Za-z._:-]{0,64}$`)
	hashRe       = regexp.MustCompile(`^[0-9a-f]{64}$`)
	auditFieldRe = []*regexp.Regexp{
		regexp.MustCompile(`^[1-9][0-9]{0,19}$`), // seq
		atRe,
		regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`),    // device
		regexp.MustCompile(`^[0-9A-Za-z._:-]{1,64}$`),  // spin
		regexp.MustCompile(`^[0-9A-Za-z._:-]{0,128}$`), // event
		whoRe,
		codeRe,                                  // campaign
		regexp.MustCompile(`^([0-9a-f]{16})?$`), // table
		regexp.MustCompile(`^(0|[1-9][0-9]{0,9})?$`), // draw
		codeRe, // drawn
		codeRe, // prize
		regexp.MustCompile(`^([a-z][a-z_]{0,31})?$`),  // reason
		regexp.MustCompile(`^(0|[1-9][0-9]{0,18})?$`), // inventory_after
		hashRe, // prev
		hashRe, // hash
	}
)

// appendRecord gives r the next seq, chains it to the head and stores it,
// in the spin's transaction.
func appendRecord(tx *bbolt.Tx, r *Record) error {
	meta, audit := tx.Bucket(bucketMeta), tx.Bucket(bucketAudit)
	seq, prev := uint64(0), Genesis
	if h := meta.Get(keyHead); len(h) == 8+sha256.Size {
		seq, prev = binary.BigEndian.Uint64(h[:8]), hex.EncodeToString(h[8:])
	}
	r.Seq, r.Prev = seq+1, prev
	r.Hash = chainHash(r.fields())
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	if err := audit.Put(u64(r.Seq), b); err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	sum, _ := hex.DecodeString(r.Hash)
	if err := meta.Put(keyHead, append(u64(r.Seq), sum...)); err != nil {
		return fmt.Errorf("audit head: %w", err)
	}
	return nil
}

// Head returns the newest record's seq and hash (0 and Genesis before the
// first spin). An auditor compares it with the end of an export: the chain
// shows a record edited or removed in the middle, the head one cut off at
// the end.
func (w *Wheel) Head(ctx context.Context) (uint64, string, error) {
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	seq, hash := uint64(0), Genesis
	err := w.db.View(func(tx *bbolt.Tx) error {
		if h := tx.Bucket(bucketMeta).Get(keyHead); len(h) == 8+sha256.Size {
			seq, hash = binary.BigEndian.Uint64(h[:8]), hex.EncodeToString(h[8:])
		}
		return nil
	})
	return seq, hash, err
}

// Records calls fn with every audit record in seq order, until fn returns
// an error (which Records returns).
func (w *Wheel) Records(ctx context.Context, fn func(*Record) error) error {
	return w.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketAudit).ForEach(func(_, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("audit record: %w", err)
			}
			return fn(&r)
		})
	})
}

// Export writes the audit records of the spins from from (inclusive) to to
// (exclusive) as CSV with AuditHeader: the contiguous run of records from
// the first at or after from to the last before to, so that the chain of
// an export is whole even if the edge's clock stepped back on the way. A
// zero from or to leaves that end open. It returns how many records it
// wrote.
func (w *Wheel) Export(ctx context.Context, out io.Writer, from, to time.Time) (int, error) {
	n := 0
	err := w.db.View(func(tx *bbolt.Tx) error {
		audit := tx.Bucket(bucketAudit)
		var first, last []byte
		c := audit.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("audit record %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if first == nil && (from.IsZero() || !r.At.Before(from)) {
				first = slices.Clone(k)
			}
			if first != nil && (to.IsZero() || r.At.Before(to)) {
				last = slices.Clone(k)
			}
		}
		cw := csv.NewWriter(out)
		if err := cw.Write(auditHeader); err != nil {
			return err
		}
		if first != nil && last != nil {
			for k, v := c.Seek(first); k != nil && string(k) <= string(last); k, v = c.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				var r Record
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("audit record %d: %w", binary.BigEndian.Uint64(k), err)
				}
				if err := cw.Write(append(r.fields(), r.Hash)); err != nil {
					return err
				}
				n++
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return n, fmt.Errorf("audit export: %w", err)
	}
	return n, nil
}

// Summary is what Verify found in an export.
type Summary struct {
	Records           int
	FirstSeq, LastSeq uint64
	// FirstPrev is the hash the first record chains to: Genesis for an
	// export from the first spin, else the hash of the record before it
	// (the Head of the export before, to join two exports).
	FirstPrev string
	// Head is the last record's hash: compare it with Wheel.Head, or with
	// the FirstPrev of the next export.
	Head string
}

// VerifyError is a failed Verify: the 1-based line of the export (the
// header is line 1) and what is wrong. It wraps ErrTampered.
type VerifyError struct {
	Line   int
	Reason string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit export line %d: %s", e.Line, e.Reason)
}

// Unwrap makes errors.Is(err, ErrTampered) true.
func (e *VerifyError) Unwrap() error { return ErrTampered }

// Verify re-checks an audit export: the header, every field's format
// (no field may hold anything but what a record holds), seqs without a
// gap, each record's prev equal to the hash before it, and each hash
// recomputed. The first record's prev can only be checked against
// Genesis when its seq is 1; Summary returns it for the auditor to join
// with the export before.
func Verify(r io.Reader) (Summary, error) {
	var s Summary
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(auditHeader)
	cr.ReuseRecord = true
	line := 0
	fail := func(format string, args ...any) (Summary, error) {
		return s, &VerifyError{Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			return fail("not the export's CSV: %v", err)
		}
		if line == 1 {
			if !slices.Equal(rec, auditHeader) {
				return fail("the header must be %s", AuditHeader)
			}
			continue
		}
		for i, f := range rec {
			if !auditFieldRe[i].MatchString(f) {
				return fail("field %s is not in its format", auditHeader[i])
			}
		}
		seq, _ := strconv.ParseUint(rec[0], 10, 64)
		prev, hash := rec[13], rec[14]
		switch {
		case s.Records == 0 && seq == 1 && prev != Genesis:
			return fail("record 1 must chain to the genesis hash")
		case s.Records == 0:
			s.FirstSeq, s.FirstPrev = seq, prev
		case seq != s.LastSeq+1:
			return fail("record %d follows record %d: records are missing or out of order", seq, s.LastSeq)
		case prev != s.Head:
			return fail("record %d: prev is not the hash of record %d", seq, s.LastSeq)
		}
		if got := chainHash(rec[:14]); got != hash {
			return fail("record %d: the hash does not match its fields: the record was changed", seq)
		}
		if rec[10] != "" && rec[11] != "" {
			return fail("record %d: a prize and a reason", seq)
		}
		s.Records++
		s.LastSeq, s.Head = seq, hash
	}
	if line == 0 {
		return fail("empty: not even the header")
	}
	return s, nil
}
