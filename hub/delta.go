package hub

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"huiyan"
)

// ErrUnsorted is a customer sequence given to Diff or DiffDigests whose ids
// are not strictly increasing (byte-wise, Go string order): the merge
// would be wrong, so it stops.
var ErrUnsorted = errors.New("customer ids not in strictly increasing order")

// customerHashDomain starts the canonical encoding of a customer; the
// version changes whenever the encoding does.
const customerHashDomain = "huiyan.customer.v1\x00"

// CustomerHash returns the SHA-256 of the canonical encoding of c: what
// Diff compares, and what a hub keeps per customer and version to compute
// later deltas without keeping old customers (see CustomerDigest).
//
// The canonical encoding is the string "huiyan.customer.v1" and a zero
// byte, then the fields below in this order, each string as its length in
// bytes (unsigned LEB128 varint, encoding/binary.AppendUvarint) and its
// bytes, each list as its length and its items:
//
//	ID, DisplayName, Tier, HomeBranch (strings)
//	Branches (strings, sorted)
//	Manager (string)
//	Tags (uvarint ids, sorted)
//	MBankStatus (string), MBankIdleDays (signed varint, -1 for never)
//	Risk, AUMBand, Lifecycle (strings), OptOut (one byte, 0 or 1)
//	Maturities (product string and YYYY-MM-DD string of the day in
//	  UTC+8, sorted by day, then product)
//	Tokens (kind, key id and token strings, sorted by kind, key id, token)
//
// Lists are sorted because their order carries no meaning, so two
// customers that differ only in the order of a list hash the same. It
// covers exactly what CustomerWire carries: a customer and the one an edge
// decodes from a chunk hash the same.
func CustomerHash(c *huiyan.Customer) [32]byte {
	var a [1024]byte
	return sha256.Sum256(appendCustomer(a[:0], c))
}

func appendCustomer(b []byte, c *huiyan.Customer) []byte {
	b = append(b, customerHashDomain...)
	b = appendStr(b, c.ID)
	b = appendStr(b, c.DisplayName)
	b = appendStr(b, string(c.Tier))
	b = appendStr(b, c.HomeBranch)

	var st [16]int
	idx := order(st[:0], len(c.Branches), func(i, j int) bool { return c.Branches[i] < c.Branches[j] })
	b = binary.AppendUvarint(b, uint64(len(idx)))
	for _, i := range idx {
		b = appendStr(b, c.Branches[i])
	}
	b = appendStr(b, c.Manager)

	tags := c.Tags
	if !slices.IsSorted(tags) {
		tags = slices.Sorted(slices.Values(tags))
	}
	b = binary.AppendUvarint(b, uint64(len(tags)))
	for _, t := range tags {
		b = binary.AppendUvarint(b, uint64(t))
	}

	b = appendStr(b, string(c.MBankStatus))
	idle := int64(c.MBankIdleDays)
	if idle < 0 {
		idle = -1
	}
	b = binary.AppendVarint(b, idle)
	b = appendStr(b, string(c.Risk))
	b = appendStr(b, c.AUMBand)
	b = appendStr(b, string(c.Lifecycle))
	if c.OptOut {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}

	ms := c.Maturities
	idx = order(st[:0], len(ms), func(i, j int) bool {
		di, dj := day(ms[i].Date), day(ms[j].Date)
		return di < dj || (di == dj && ms[i].Product < ms[j].Product)
	})
	b = binary.AppendUvarint(b, uint64(len(idx)))
	for _, i := range idx {
		b = appendStr(b, ms[i].Product)
		var d [10]byte
		b = appendStr(b, string(ms[i].Date.In(shanghai).AppendFormat(d[:0], time.DateOnly)))
	}

	ts := c.Tokens
	idx = order(st[:0], len(ts), func(i, j int) bool {
		if ts[i].Kind != ts[j].Kind {
			return ts[i].Kind < ts[j].Kind
		}
		if ts[i].KeyID != ts[j].KeyID {
			return ts[i].KeyID < ts[j].KeyID
		}
		return ts[i].Token < ts[j].Token
	})
	b = binary.AppendUvarint(b, uint64(len(idx)))
	for _, i := range idx {
		b = appendStr(b, string(ts[i].Kind))
		b = appendStr(b, ts[i].KeyID)
		b = appendStr(b, ts[i].Token)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// day returns t's day in UTC+8 as yyyymmdd.
func day(t time.Time) int {
	y, m, d := t.In(shanghai).Date()
	return y*10000 + int(m)*100 + d
}

// order appends the indexes 0…n-1 to idx, sorted by less (an insertion
// sort, stable: the lists are short and usually sorted already).
func order(idx []int, n int, less func(i, j int) bool) []int {
	for i := range n {
		idx = append(idx, i)
	}
	for i := 1; i < n; i++ {
		for j := i; j > 0 && less(idx[j], idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx
}

// CustomerDigest is what a hub needs to keep of a customer of an older
// version to compute a delta from it: the id and CustomerHash. About 50
// bytes a customer in memory, against several hundred for the customer.
type CustomerDigest struct {
	ID   string
	Hash [32]byte
}

// Digests maps customers to their digests, passing errors on.
func Digests(customers iter.Seq2[*huiyan.Customer, error]) iter.Seq2[CustomerDigest, error] {
	return func(yield func(CustomerDigest, error) bool) {
		for c, err := range customers {
			var d CustomerDigest
			if err == nil {
				if c == nil {
					err = errors.New("nil customer")
				} else {
					d = CustomerDigest{ID: c.ID, Hash: CustomerHash(c)}
				}
			}
			if !yield(d, err) || err != nil {
				return
			}
		}
	}
}

// Diff returns the records that take a branch from the customers old to
// the customers cur: an upsert for every customer of cur that is new or
// whose CustomerHash changed, a delete for every customer of old that cur
// no longer has, in increasing order of id. Both sequences must be sorted
// by strictly increasing id (Go string order) and hold only the branch's
// customers (see PlanBranch); the merge reads each once, in step, keeping
// one customer of each: memory does not grow with their length. An error
// of either sequence, a nil customer or an unsorted sequence (ErrUnsorted)
// is yielded and ends the records.
func Diff(old, cur iter.Seq2[*huiyan.Customer, error]) iter.Seq2[Record, error] {
	return DiffDigests(Digests(old), cur)
}

// DiffDigests is Diff from the digests of the old customers, which is all a
// hub needs to keep of a version it may compute deltas from.
func DiffDigests(old iter.Seq2[CustomerDigest, error], cur iter.Seq2[*huiyan.Customer, error]) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		nextOld, stopOld := iter.Pull2(old)
		defer stopOld()
		nextCur, stopCur := iter.Pull2(cur)
		defer stopCur()

		var (
			o          CustomerDigest
			c          *huiyan.Customer
			haveO      bool
			haveC      bool
			nOld, nCur int
		)
		// Customers are named by their position, never by id: errors end
		// up in logs (STYLE.md, "Logs and metrics").
		advOld := func() error {
			d, err, ok := nextOld()
			if !ok {
				haveO = false
				return nil
			}
			nOld++
			switch {
			case err != nil:
				return fmt.Errorf("diff: old customer %d: %w", nOld, err)
			case d.ID == "":
				return fmt.Errorf("diff: old customer %d: no id", nOld)
			case haveO && d.ID <= o.ID:
				return fmt.Errorf("diff: old customer %d: %w", nOld, ErrUnsorted)
			}
			o, haveO = d, true
			return nil
		}
		advCur := func() error {
			x, err, ok := nextCur()
			if !ok {
				haveC = false
				return nil
			}
			nCur++
			switch {
			case err != nil:
				return fmt.Errorf("diff: new customer %d: %w", nCur, err)
			case x == nil || x.ID == "":
				return fmt.Errorf("diff: new customer %d: nil or no id", nCur)
			case haveC && x.ID <= c.ID:
				return fmt.Errorf("diff: new customer %d: %w", nCur, ErrUnsorted)
			}
			c, haveC = x, true
			return nil
		}
		if err := advOld(); err != nil {
			yield(Record{}, err)
			return
		}
		if err := advCur(); err != nil {
			yield(Record{}, err)
			return
		}
		for haveO || haveC {
			var r Record
			var emit bool
			var err error
			switch cmp := compareNext(haveO, haveC, o.ID, c); {
			case cmp < 0: // only in old
				r, emit = Delete(o.ID), true
				err = advOld()
			case cmp > 0: // only in cur
				r, emit = Upsert(c), true
				err = advCur()
			default:
				if CustomerHash(c) != o.Hash {
					r, emit = Upsert(c), true
				}
				if err = advOld(); err == nil {
					err = advCur()
				}
			}
			if emit && !yield(r, nil) {
				return
			}
			if err != nil {
				yield(Record{}, err)
				return
			}
		}
	}
}

// compareNext says which side of the merge comes next: below 0 the old
// digest, above 0 the new customer, 0 both (the same id).
func compareNext(haveO, haveC bool, oldID string, c *huiyan.Customer) int {
	switch {
	case !haveC:
		return -1
	case !haveO:
		return 1
	}
	return strings.Compare(oldID, c.ID)
}

// BelongsTo reports whether the customer is cached at the branch: it is
// the customer's home branch or one of its other branches (DESIGN.md, "Data
// model"; issue 5: each branch gets the customers whose home branch or
// cached branches include it).
func BelongsTo(c *huiyan.Customer, branch string) bool {
	return c.HomeBranch == branch || slices.Contains(c.Branches, branch)
}

// PlanBranch returns the customers of a branch (BelongsTo) among
// customers, in their order, passing errors on: what the hub diffs and
// chunks for that branch.
func PlanBranch(customers iter.Seq2[*huiyan.Customer, error], branch string) iter.Seq2[*huiyan.Customer, error] {
	return func(yield func(*huiyan.Customer, error) bool) {
		for c, err := range customers {
			if err != nil {
				yield(nil, err)
				return
			}
			if c != nil && !BelongsTo(c, branch) {
				continue
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// Upserts maps customers to upsert records, passing errors on.
func Upserts(customers iter.Seq2[*huiyan.Customer, error]) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for c, err := range customers {
			if err != nil {
				yield(Record{}, err)
				return
			}
			if !yield(Upsert(c), nil) {
				return
			}
		}
	}
}

// FullRecords returns the record stream of a full snapshot (see Record):
// the dictionary, the branch's roster (nil is the same as empty: a full
// snapshot always says who the staff are), then an upsert for each
// customer, which should be the branch's customers sorted by id.
func FullRecords(dict *huiyan.TagDict, staff []huiyan.Staff, customers iter.Seq2[*huiyan.Customer, error]) iter.Seq2[Record, error] {
	if staff == nil {
		staff = []huiyan.Staff{}
	}
	return withHeader(dict, staff, true, Upserts(customers))
}

// DeltaRecords returns the record stream of a delta (see Record): the
// dictionary if dict is not nil (pass it when its version differs from
// the base's), the roster if staff is not nil (pass it when StaffHash
// differs from the base's; an empty non-nil roster removes every staff
// account), then DiffDigests(old, cur), old and cur restricted to the
// branch and sorted by id.
func DeltaRecords(dict *huiyan.TagDict, staff []huiyan.Staff, old iter.Seq2[CustomerDigest, error], cur iter.Seq2[*huiyan.Customer, error]) iter.Seq2[Record, error] {
	return withHeader(dict, staff, false, DiffDigests(old, cur))
}

func withHeader(dict *huiyan.TagDict, staff []huiyan.Staff, full bool, body iter.Seq2[Record, error]) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		if dict != nil {
			if !yield(Record{Op: OpDict, Dict: dict}, nil) {
				return
			}
		} else if full {
			yield(Record{}, errors.New("full snapshot without a tag dictionary"))
			return
		}
		if staff != nil && !yield(Record{Op: OpStaff, Staff: staff}, nil) {
			return
		}
		for r, err := range body {
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
}

// staffHashDomain starts the canonical encoding of a roster.
const staffHashDomain = "huiyan.staff.v1\x00"

// StaffHash returns the SHA-256 of the canonical encoding of a roster, so
// that a hub can tell whether a branch's roster changed between two
// versions (and send an OpStaff record in the delta) by keeping one hash:
// "huiyan.staff.v1", a zero byte, the number of staff, then for each, in
// order of staff id, the id, branch, role, display name and PIN hash, each
// as in CustomerHash (length-prefixed). Order does not count; an empty and
// a nil roster hash the same.
func StaffHash(staff []huiyan.Staff) [32]byte {
	sorted := slices.SortedFunc(slices.Values(staff), func(a, b huiyan.Staff) int { return strings.Compare(a.ID, b.ID) })
	b := []byte(staffHashDomain)
	b = binary.AppendUvarint(b, uint64(len(sorted)))
	for _, s := range sorted {
		b = appendStr(b, s.ID)
		b = appendStr(b, s.Branch)
		b = appendStr(b, string(s.Role))
		b = appendStr(b, s.DisplayName)
		b = appendStr(b, s.PINHash)
	}
	return sha256.Sum256(b)
}
