package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/edge"
	"huiyan/hub"
)

// Outbox limits (WithOutboxLimits). A hub event record is about 100 bytes
// (its id repeats the visit id), some 150 with its key and page overhead,
// so a full outbox is about 150 MB of file: affordable on the edge's SSD,
// and a million events are months of a busy branch. Only the pages at the
// two ends of the outbox are touched, so its size costs no memory.
const (
	DefaultOutboxMaxDepth = 1_000_000
	DefaultOutboxMaxAge   = 30 * 24 * time.Hour
)

// outboxTrimMax bounds how many events one transaction drops at a limit,
// so that lowering the limits of a full outbox never makes one huge
// transaction; later appends and TrimOutbox calls drop the rest.
const outboxTrimMax = 10_000

// WithOutboxLimits bounds the outbox: at most maxDepth events, none older
// than maxAge (DefaultOutboxMaxDepth, DefaultOutboxMaxAge for values <= 0).
// At a limit the oldest events are dropped and counted (edge/DESIGN.md,
// "Outbox").
func WithOutboxLimits(maxDepth int, maxAge time.Duration) Option {
	return func(o *options) { o.outboxMaxDepth, o.outboxMaxAge = maxDepth, maxAge }
}

// AppendOutbox stores the event under the outbox bucket's next sequence,
// in this transaction, so the outbox is in commit order. Then it enforces
// the limits: events beyond the depth limit, and events older than the age
// limit relative to e.At, are dropped from the oldest end and counted.
func (t *tx) AppendOutbox(e hub.EventWire) error {
	if e.ID == "" {
		return errors.New("append outbox: empty event id")
	}
	b := t.bucket(bucketOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("append outbox: %w", err)
	}
	b.FillPercent = feedFillPercent
	k := t.keep(binary.BigEndian.AppendUint64(t.room(), seq))
	if err := b.Put(k, t.keep(appendOutbox(t.room(), &e))); err != nil {
		return fmt.Errorf("append outbox %s: %w", e.ID, err)
	}
	if _, err := t.trimOutbox(e.At); err != nil {
		return fmt.Errorf("append outbox %s: %w", e.ID, err)
	}
	return nil
}

// TrimOutbox drops what the limits say has to go as of now.
func (t *tx) TrimOutbox(now time.Time) (int, error) {
	n, err := t.trimOutbox(now)
	if err != nil {
		return n, fmt.Errorf("trim outbox: %w", err)
	}
	return n, nil
}

// trimOutbox drops events from the oldest end while the outbox is deeper
// than its limit or its oldest event is older than the age limit as of now
// (no age check for a zero now), and adds them to the dropped count.
func (t *tx) trimOutbox(now time.Time) (int, error) {
	b := t.bucket(bucketOutbox)
	// One cursor for both ends: this runs at every append.
	c := b.Cursor()
	kl, _ := c.Last()
	kf, vf := c.First()
	if len(kf) != 8 || len(kl) != 8 {
		return 0, nil
	}
	depth := binary.BigEndian.Uint64(kl) - binary.BigEndian.Uint64(kf) + 1
	var before time.Time
	if !now.IsZero() {
		before = now.Add(-t.db.outboxMaxAge)
	}
	var drop [][]byte
	for k, v := kf, vf; k != nil && len(drop) < outboxTrimMax; k, v = c.Next() {
		if depth-uint64(len(drop)) <= uint64(t.db.outboxMaxDepth) {
			if before.IsZero() {
				break
			}
			at, err := outboxAt(v)
			if err != nil {
				return 0, fmt.Errorf("outbox %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if !at.Before(before) {
				break
			}
		}
		drop = append(drop, append([]byte(nil), k...)) // a key must not point into a page Delete changes
	}
	if len(drop) == 0 {
		return 0, nil
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	meta := t.bucket(bucketMeta)
	total, _ := getUvarint(meta, keyOutboxDropped)
	if err := putUvarint(meta, keyOutboxDropped, total+uint64(len(drop))); err != nil {
		return 0, err
	}
	return len(drop), nil
}

// outboxEnds returns the first and last keys of the outbox. Events leave
// only from the oldest end (acknowledged or dropped), so the keys in
// between are all present and the depth is last - first + 1.
func outboxEnds(b *bbolt.Bucket) (first, last uint64, ok bool) {
	c := b.Cursor()
	kf, _ := c.First()
	kl, _ := c.Last()
	if len(kf) != 8 || len(kl) != 8 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(kf), binary.BigEndian.Uint64(kl), true
}

// OutboxBatch returns up to limit events from the oldest end; limit <= 0
// means no limit.
func (t *tx) OutboxBatch(limit int) ([]edge.OutboxItem, error) {
	var list []edge.OutboxItem
	c := t.bucket(bucketOutbox).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if limit > 0 && len(list) == limit {
			break
		}
		if len(k) != 8 {
			return nil, fmt.Errorf("outbox key %x: %w", k, ErrCorrupt)
		}
		e, err := decodeOutbox(v)
		if err != nil {
			return nil, fmt.Errorf("outbox %d: %w", binary.BigEndian.Uint64(k), err)
		}
		list = append(list, edge.OutboxItem{Key: binary.BigEndian.Uint64(k), Event: e})
	}
	return list, nil
}

// AckOutbox deletes every event with a key up to upTo.
func (t *tx) AckOutbox(upTo uint64) error {
	b := t.bucket(bucketOutbox)
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= upTo; k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("ack outbox %d: %w", binary.BigEndian.Uint64(k), err)
		}
	}
	return nil
}

// OutboxStats returns the depth, the oldest event's time, the dropped count
// and the limits.
func (t *tx) OutboxStats() (edge.OutboxStats, error) {
	st := edge.OutboxStats{MaxDepth: t.db.outboxMaxDepth, MaxAge: t.db.outboxMaxAge}
	st.Dropped, _ = getUvarint(t.bucket(bucketMeta), keyOutboxDropped)
	b := t.bucket(bucketOutbox)
	first, last, ok := outboxEnds(b)
	if !ok {
		return st, nil
	}
	st.Depth = int(last - first + 1)
	at, err := outboxAt(b.Get(seqKey(first)))
	if err != nil {
		return st, fmt.Errorf("outbox %d: %w", first, err)
	}
	st.Oldest = at
	return st, nil
}

// appendOutbox writes a hub event. At comes first so that the limits can be
// checked without decoding the rest (outboxAt).
func appendOutbox(b []byte, e *hub.EventWire) []byte {
	b = append(b, outboxV2)
	b = appendTime(b, e.At)
	b = appendString(b, e.ID)
	b = appendEnum(b, eventKindEnum, string(e.Kind))
	b = appendString(b, e.Visit)
	b = appendEnum(b, channelEnum, string(e.Channel))
	b = appendBool(b, e.Recognised)
	b = appendEnum(b, mbankEnum, string(e.MBankAtOpen))
	b = appendEnum(b, tierEnum, string(e.Tier))
	b = appendString(b, e.Staff)
	b = appendEnum(b, outcomeEnum, string(e.Outcome))
	b = appendEnum(b, conversionEnum, string(e.Conversion))
	return appendString(b, e.Refused)
}

func decodeOutbox(b []byte) (hub.EventWire, error) {
	r := newReader(b)
	ver := r.versions(outboxV1, outboxV2)
	e := hub.EventWire{
		At:          r.time(),
		ID:          r.str(),
		Kind:        hub.EventKind(r.enum(eventKindEnum)),
		Visit:       r.str(),
		Channel:     huiyan.Channel(r.enum(channelEnum)),
		Recognised:  r.bool(),
		MBankAtOpen: huiyan.MBankStatus(r.enum(mbankEnum)),
		Tier:        huiyan.Tier(r.enum(tierEnum)),
		Staff:       r.str(),
		Outcome:     huiyan.Outcome(r.enum(outcomeEnum)),
		Conversion:  huiyan.Conversion(r.enum(conversionEnum)),
	}
	if ver >= outboxV2 {
		e.Refused = r.str()
	}
	if err := r.end("outbox event"); err != nil {
		return hub.EventWire{}, err
	}
	return e, nil
}

// outboxAt reads only the time of an outbox record. It copies only the
// record's head, which holds the version and the time (timePrefix), not
// the whole record: the limits check the oldest event at every append.
func outboxAt(b []byte) (time.Time, error) {
	r := reader{s: string(b[:min(len(b), timePrefix)])}
	r.versions(outboxV1, outboxV2)
	at := r.time()
	if r.err != nil {
		return time.Time{}, fmt.Errorf("decode outbox event: %w", r.err)
	}
	return at, nil
}
