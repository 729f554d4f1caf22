package bolt

import (
	"bytes"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/edge"
	"huiyan/hub/funnel"
)

// The funnel facts (edge/DESIGN.md, "Outbox" and "Branch report"): one
// funnel.Visit per visit, the fold of the hub events the visit's changes put
// into the outbox, kept in the same transaction so that the supervisor's
// screen counts exactly what the hub will.
//
//	funnel       visit id → funnel facts record (funnelV1)
//	funnel_days  day "YYYY-MM-DD" (CST, the day the visit opened) + visit id → empty
//
// The day index lets a date-range report read only the visits of those
// days, and Purge drop whole days past the retention from the oldest end.
// A day is always 10 bytes, so the index needs no separator.
var (
	bucketFunnel     = []byte("funnel")
	bucketFunnelDays = []byte("funnel_days")
)

// The funnel buckets join the fixed buckets, which Open creates, here with
// the code that uses them.
func init() { fixedBuckets = append(fixedBuckets, bucketFunnel, bucketFunnelDays) }

// funnelV1 is the layout of a funnel facts record.
const funnelV1 = 1

// dayLen is the length of a report day, funnel.DayLayout.
const dayLen = len(funnel.DayLayout)

// FunnelVisit returns the facts of a visit, ErrNotFound when none are
// stored.
func (t *tx) FunnelVisit(id string) (*funnel.Visit, error) {
	if id == "" {
		return nil, fmt.Errorf("funnel visit: %w", edge.ErrNotFound)
	}
	raw := t.bucket(bucketFunnel).Get([]byte(id))
	if raw == nil {
		return nil, fmt.Errorf("funnel visit %s: %w", id, edge.ErrNotFound)
	}
	v, err := decodeFunnel(raw)
	if err != nil {
		return nil, fmt.Errorf("funnel visit %s: %w", id, err)
	}
	return v, nil
}

// PutFunnelVisit stores a visit's facts and indexes them under the day the
// visit opened. Facts without an opening are not stored: the report does
// not count them (funnel.Aggregator.Add), and they could not be indexed.
func (t *tx) PutFunnelVisit(v *funnel.Visit) error {
	if v == nil || v.ID == "" {
		return errors.New("put funnel visit: no visit id")
	}
	if v.OpenedAt.IsZero() {
		return nil
	}
	facts, days := t.bucket(bucketFunnel), t.bucket(bucketFunnelDays)
	id := t.keep(append(t.room(), v.ID...))
	key := t.keep(append(append(t.room(), funnel.Day(v.OpenedAt, nil)...), v.ID...))
	raw := facts.Get(id)
	if raw != nil {
		// The opening never changes once folded in, but an index entry
		// under another day must not survive whatever happened.
		if old, err := decodeFunnel(raw); err == nil && !old.OpenedAt.IsZero() {
			if k := funnelDayKey(funnel.Day(old.OpenedAt, nil), v.ID); !bytes.Equal(k, key) {
				if err := days.Delete(k); err != nil {
					return fmt.Errorf("put funnel visit %s: day index: %w", v.ID, err)
				}
			}
		}
	}
	// What is already stored is not put again (PutVisit says why): the
	// day entry is written once per visit, not at every change.
	if rec := t.keep(appendFunnel(t.room(), v)); !bytes.Equal(rec, raw) {
		if err := facts.Put(id, rec); err != nil {
			return fmt.Errorf("put funnel visit %s: %w", v.ID, err)
		}
	}
	if k, _ := days.Cursor().Seek(key); !bytes.Equal(k, key) {
		if err := days.Put(key, nil); err != nil {
			return fmt.Errorf("put funnel visit %s: day index: %w", v.ID, err)
		}
	}
	return nil
}

// FunnelVisits calls fn with the facts of every visit that opened on a day
// from through to (YYYY-MM-DD in CST, inclusive), in day and visit id order.
// It reads only those days' index entries.
func (t *tx) FunnelVisits(from, to string, fn func(*funnel.Visit) error) error {
	if len(from) != dayLen || len(to) != dayLen {
		return fmt.Errorf("funnel visits: days must be YYYY-MM-DD, got %q and %q", from, to)
	}
	facts := t.bucket(bucketFunnel)
	c := t.bucket(bucketFunnelDays).Cursor()
	for k, _ := c.Seek([]byte(from)); k != nil && string(k[:min(len(k), dayLen)]) <= to; k, _ = c.Next() {
		if len(k) <= dayLen {
			return fmt.Errorf("funnel day key %q: %w", k, ErrCorrupt)
		}
		raw := facts.Get(k[dayLen:])
		if raw == nil {
			return fmt.Errorf("funnel visit %s: indexed but missing: %w", k[dayLen:], ErrCorrupt)
		}
		v, err := decodeFunnel(raw)
		if err != nil {
			return fmt.Errorf("funnel visit %s: %w", k[dayLen:], err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

func funnelDayKey(day, visitID string) []byte {
	k := make([]byte, 0, len(day)+len(visitID))
	return append(append(k, day...), visitID...)
}

// deleteFunnel removes a visit's facts and their day index entry, for
// Purge when it removes the visit itself.
func deleteFunnel(btx *bbolt.Tx, id []byte) error {
	facts := btx.Bucket(bucketFunnel)
	raw := facts.Get(id)
	if raw == nil {
		return nil
	}
	if v, err := decodeFunnel(raw); err == nil && !v.OpenedAt.IsZero() {
		if err := btx.Bucket(bucketFunnelDays).Delete(funnelDayKey(funnel.Day(v.OpenedAt, nil), string(id))); err != nil {
			return err
		}
	}
	return facts.Delete(id)
}

// appendFunnel writes funnel facts (funnelV1). The branch is kept although
// an edge holds one: the record is then the whole funnel.Visit.
func appendFunnel(b []byte, v *funnel.Visit) []byte {
	b = append(b, funnelV1)
	b = appendString(b, v.Branch)
	b = appendString(b, v.ID)
	b = appendTime(b, v.OpenedAt)
	b = appendEnum(b, channelEnum, string(v.Channel))
	b = appendUvarint(b, uint64(len(v.Signals)))
	for _, n := range v.Signals {
		b = appendInt(b, n)
	}
	b = appendInt(b, v.RefusedScans)
	b = appendBool(b, v.Recognised)
	b = appendEnum(b, mbankEnum, string(v.MBankAtOpen))
	b = appendEnum(b, tierEnum, string(v.Tier))
	b = appendString(b, v.ClaimedBy)
	b = appendTime(b, v.ClaimedAt)
	b = appendEnum(b, outcomeEnum, string(v.Outcome))
	b = appendString(b, v.OutcomeBy)
	b = appendTime(b, v.OutcomeAt)
	b = appendEnum(b, conversionEnum, string(v.Converted))
	b = appendTime(b, v.ConvertedAt)
	b = appendString(b, v.AttributedTo)
	return appendTime(b, v.ClosedAt)
}

func decodeFunnel(b []byte) (*funnel.Visit, error) {
	r := newReader(b)
	r.version(funnelV1)
	v := &funnel.Visit{Branch: r.str(), ID: r.str(), OpenedAt: r.time(), Channel: huiyan.Channel(r.enum(channelEnum))}
	// The signal counts are written with their number, so that a channel
	// added later is a new version's business, not a misread.
	if n := r.count(); r.err == nil && n != len(v.Signals) {
		r.fail("%d signal counts, want %d", n, len(v.Signals))
	}
	for i := range v.Signals {
		v.Signals[i] = r.int()
	}
	v.RefusedScans = r.int()
	v.Recognised = r.bool()
	v.MBankAtOpen = huiyan.MBankStatus(r.enum(mbankEnum))
	v.Tier = huiyan.Tier(r.enum(tierEnum))
	v.ClaimedBy = r.str()
	v.ClaimedAt = r.time()
	v.Outcome = huiyan.Outcome(r.enum(outcomeEnum))
	v.OutcomeBy = r.str()
	v.OutcomeAt = r.time()
	v.Converted = huiyan.Conversion(r.enum(conversionEnum))
	v.ConvertedAt = r.time()
	v.AttributedTo = r.str()
	v.ClosedAt = r.time()
	if err := r.end("funnel facts"); err != nil {
		return nil, err
	}
	return v, nil
}
