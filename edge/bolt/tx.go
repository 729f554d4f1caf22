package bolt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/edge"
)

// tx implements edge.Tx on one bbolt transaction. Error messages name visit
// ids and staff ids, never a customer id or token (STYLE.md, "Logs").
type tx struct {
	db *DB
	tx *bbolt.Tx

	// The active generation and its buckets, looked up on first use: a
	// read-only bbolt transaction does not cache buckets itself.
	names              *genNames
	namesLoaded        bool
	customers, aliases *bbolt.Bucket

	// arena holds the keys and values this transaction put (room, keep),
	// in chunk, the arena chunk it uses now.
	arena []byte
	chunk *arenaBuf
}

var _ edge.Tx = (*tx)(nil)

// room returns the free end of the transaction's value arena, to append a
// value or key to, and keep marks what was appended as used; one at a
// time, keep before the next room. bbolt keeps the slices a Put is given
// until the transaction ends, so a value cannot reuse a buffer; the arena
// gives the values of one transaction a shared chunk instead of an
// allocation per value and per doubling while it is encoded (an arrival
// puts half a dozen values of up to a few KB).
func (t *tx) room() []byte {
	if cap(t.arena)-len(t.arena) < arenaMinRoom {
		c, _ := arenas.Get().(*arenaBuf)
		if c == nil {
			c = new(arenaBuf)
		}
		t.chunk, t.arena = c, c[:0]
	}
	return t.arena[len(t.arena):]
}

// arenaBuf is one arena chunk.
type arenaBuf [arenaChunk]byte

// arenas holds arena chunks between write transactions, so that a busy
// branch's arrivals reuse a few chunks instead of allocating one each.
var arenas sync.Pool

// releaseArena gives the transaction's last arena chunk back for another
// transaction. Update calls it only after the bbolt transaction has
// ended (committed or rolled back): until then bbolt may still read the
// values in it. Earlier chunks of a transaction that needed more than one
// are left to the garbage collector.
func (t *tx) releaseArena() {
	if t.chunk != nil {
		arenas.Put(t.chunk)
	}
	t.chunk, t.arena = nil, nil
}

// keep marks v, appended to what room returned, as used and returns it.
// A v that outgrew the room was allocated on its own and leaves the arena
// as it was.
func (t *tx) keep(v []byte) []byte {
	free := t.arena[len(t.arena):cap(t.arena)]
	if len(v) > 0 && len(free) > 0 && &v[0] == &free[0] {
		t.arena = t.arena[:len(t.arena)+len(v)]
	}
	return v[:len(v):len(v)]
}

// The arena's chunk size and the least room worth appending to: an
// arrival's values (feed event, card, visit, dedupe mark, outbox events,
// funnel facts) fit in one chunk.
const (
	arenaChunk   = 8 << 10
	arenaMinRoom = 2 << 10
)

// feedFillPercent packs the append-only feed bucket's pages: keys only grow,
// so a split page is never written to again.
const feedFillPercent = 0.95

func (t *tx) bucket(name []byte) *bbolt.Bucket { return t.tx.Bucket(name) }

// gen returns the active generation, nil before the first snapshot. It is
// read inside this transaction, so a reader sees one generation throughout.
func (t *tx) gen() *genNames {
	if !t.namesLoaded {
		t.names = t.db.generation(t.tx)
		t.namesLoaded = true
	}
	return t.names
}

// genBuckets returns the active generation's customers and aliases buckets.
func (t *tx) genBuckets() (customers, aliases *bbolt.Bucket, err error) {
	if t.customers != nil {
		return t.customers, t.aliases, nil
	}
	g := t.gen()
	if g == nil {
		return nil, nil, nil
	}
	customers, aliases = t.tx.Bucket(g.customers), t.tx.Bucket(g.aliases)
	if customers == nil || aliases == nil {
		return nil, nil, fmt.Errorf("generation %d buckets missing: %w", g.gen, ErrCorrupt)
	}
	t.customers, t.aliases = customers, aliases
	return customers, aliases, nil
}

// Meta returns the data set's description; the zero Meta before the first
// snapshot.
func (t *tx) Meta() (edge.Meta, error) {
	v := t.bucket(bucketMeta).Get(keyMeta)
	if v == nil {
		return edge.Meta{}, nil
	}
	m, err := decodeMeta(v)
	if err != nil {
		return edge.Meta{}, fmt.Errorf("meta: %w", err)
	}
	return m, nil
}

// Dict returns the tag dictionary; ErrNotFound before the first snapshot
// that carried one. A TagDict is immutable, so the decoded one is shared.
func (t *tx) Dict() (*huiyan.TagDict, error) {
	raw := t.bucket(bucketDict).Get(keyDict)
	if raw == nil {
		return nil, fmt.Errorf("dict: %w", edge.ErrNotFound)
	}
	if c := t.db.dict.Load(); c != nil && bytes.Equal(c.raw, raw) {
		return c.dict, nil
	}
	d, err := decodeDict(raw)
	if err != nil {
		return nil, err
	}
	t.db.dict.Store(&dictCache{raw: bytes.Clone(raw), dict: d})
	return d, nil
}

// The not-found errors of the lookups an arrival makes, made once: an
// unknown token (a new face) or a first arrival is the common case, and
// their messages name nothing that varies.
var (
	errNoCustomerByToken = fmt.Errorf("customer by token: %w", edge.ErrNotFound)
	errNoCustomer        = fmt.Errorf("customer: %w", edge.ErrNotFound)
	errEventNotSeen      = fmt.Errorf("event not seen: %w", edge.ErrNotFound)
	errNoOpenVisit       = fmt.Errorf("open visit: %w", edge.ErrNotFound)
)

// CustomerByToken returns the customer an identity token is an alias of.
// A token that is not 64 hex characters is not found.
func (t *tx) CustomerByToken(token string) (*huiyan.Customer, error) {
	var key [32]byte
	if !aliasKey(token, &key) {
		return nil, errNoCustomerByToken
	}
	customers, aliases, err := t.genBuckets()
	if err != nil {
		return nil, err
	}
	if aliases == nil {
		return nil, errNoCustomerByToken
	}
	id := aliases.Get(key[:])
	if id == nil {
		return nil, errNoCustomerByToken
	}
	v := customers.Get(id)
	if v == nil {
		return nil, fmt.Errorf("customer by token: alias of a missing customer: %w", ErrCorrupt)
	}
	return decodeCustomer(v)
}

// Customer returns the customer with the id.
func (t *tx) Customer(id string) (*huiyan.Customer, error) {
	customers, _, err := t.genBuckets()
	if err != nil {
		return nil, err
	}
	if customers == nil || id == "" {
		return nil, errNoCustomer
	}
	v := customers.Get([]byte(id))
	if v == nil {
		return nil, errNoCustomer
	}
	return decodeCustomer(v)
}

// Staff returns the staff member with the id.
func (t *tx) Staff(id string) (*huiyan.Staff, error) {
	if id == "" {
		return nil, fmt.Errorf("staff: %w", edge.ErrNotFound)
	}
	v := t.bucket(bucketStaff).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("staff %s: %w", id, edge.ErrNotFound)
	}
	return decodeStaff(v)
}

// StaffList returns the roster ordered by staff id.
func (t *tx) StaffList() ([]huiyan.Staff, error) {
	var list []huiyan.Staff
	err := t.bucket(bucketStaff).ForEach(func(_, v []byte) error {
		s, err := decodeStaff(v)
		if err != nil {
			return err
		}
		list = append(list, *s)
		return nil
	})
	return list, err
}

// appendDedupeKey appends the dedupe key of an arrival: device, a 0x00
// byte and the event id. MQTT strings never contain U+0000, so no two
// pairs share a key.
func appendDedupeKey(k []byte, device, eventID string) []byte {
	k = append(k, device...)
	k = append(k, 0)
	return append(k, eventID...)
}

// EventSeen returns the visit an already committed arrival went to, and
// ErrNotFound for an arrival not seen before.
func (t *tx) EventSeen(device, eventID string) (string, error) {
	var buf [64]byte // Get keeps no reference to the key
	v := t.bucket(bucketDedupe).Get(appendDedupeKey(buf[:0], device, eventID))
	if v == nil {
		return "", errEventNotSeen
	}
	m, err := decodeDedupe(v)
	if err != nil {
		return "", err
	}
	return m.VisitID, nil
}

// MarkEventSeen records that the arrival went to the visit. Purge forgets
// it after the dedupe window.
func (t *tx) MarkEventSeen(device, eventID, visitID string, at time.Time) error {
	if eventID == "" {
		return errors.New("mark event seen: empty event id")
	}
	k := t.keep(appendDedupeKey(t.room(), device, eventID))
	v := t.keep(appendDedupe(t.room(), dedupeMark{VisitID: visitID, At: at}))
	if err := t.bucket(bucketDedupe).Put(k, v); err != nil {
		return fmt.Errorf("mark event %s/%s seen: %w", device, eventID, err)
	}
	return nil
}

// Visit returns the visit with the id.
func (t *tx) Visit(id string) (*huiyan.Visit, error) {
	if id == "" {
		return nil, fmt.Errorf("visit: %w", edge.ErrNotFound)
	}
	raw := t.bucket(bucketVisits).Get([]byte(id))
	if raw == nil {
		return nil, fmt.Errorf("visit %s: %w", id, edge.ErrNotFound)
	}
	v, _, err := decodeVisit(raw)
	return v, err
}

// OpenVisitFor returns the visit indexed as open under the subject. The
// caller judges the visit window (huiyan.Visit.Open): the store only knows
// whether ClosedAt was set.
func (t *tx) OpenVisitFor(subject string) (*huiyan.Visit, error) {
	if subject == "" {
		return nil, fmt.Errorf("open visit: %w", edge.ErrNotFound)
	}
	id := t.bucket(bucketOpen).Get([]byte(subject))
	if id == nil {
		return nil, errNoOpenVisit
	}
	return t.indexedVisit(id)
}

func (t *tx) indexedVisit(id []byte) (*huiyan.Visit, error) {
	raw := t.bucket(bucketVisits).Get(id)
	if raw == nil {
		return nil, fmt.Errorf("open visit %s: indexed but missing: %w", id, ErrCorrupt)
	}
	v, _, err := decodeVisit(raw)
	return v, err
}

// PutVisit stores the visit. An open one (ClosedAt zero) is indexed under the
// subject, replacing whatever visit the subject had; a closed one leaves the
// index. An empty subject means the one the visit was stored under before.
// Only an open visit keeps its subject: a closed one is stored without it.
func (t *tx) PutVisit(v *huiyan.Visit, subject string) error {
	if v == nil || v.ID == "" {
		return errors.New("put visit: no visit id")
	}
	visits, idx := t.bucket(bucketVisits), t.bucket(bucketOpen)
	id := t.keep(append(t.room(), v.ID...))
	var prev string // the subject the visit is indexed under now
	raw := visits.Get(id)
	if raw != nil {
		var err error
		if prev, err = visitSubject(raw); err != nil {
			return fmt.Errorf("put visit %s: %w", v.ID, err)
		}
	}
	if subject == "" {
		subject = prev
	}
	open := v.ClosedAt.IsZero()
	if open && subject == "" {
		return fmt.Errorf("put visit %s: an open visit needs a subject", v.ID)
	}
	// Drop the entries this visit no longer has, if they are still its own.
	for _, s := range []string{prev, subject} {
		if s == "" || (open && s == subject) {
			continue
		}
		if bytes.Equal(idx.Get([]byte(s)), id) {
			if err := idx.Delete([]byte(s)); err != nil {
				return fmt.Errorf("put visit %s: open index: %w", v.ID, err)
			}
		}
	}
	// What is already stored is not put again: a Put makes bbolt load the
	// page into a node, and the commit write it and its parents back, for
	// nothing. A visit changes many times under the same subject.
	stored := ""
	if open {
		stored = subject
		if !bytes.Equal(idx.Get([]byte(subject)), id) {
			if err := idx.Put(t.keep(append(t.room(), subject...)), id); err != nil {
				return fmt.Errorf("put visit %s: open index: %w", v.ID, err)
			}
		}
	}
	if rec := t.keep(appendVisit(t.room(), v, stored)); !bytes.Equal(rec, raw) {
		if err := visits.Put(id, rec); err != nil {
			return fmt.Errorf("put visit %s: %w", v.ID, err)
		}
	}
	return nil
}

// OpenVisits returns every visit in the open index, oldest first.
func (t *tx) OpenVisits() ([]*huiyan.Visit, error) {
	var list []*huiyan.Visit
	err := t.bucket(bucketOpen).ForEach(func(_, id []byte) error {
		v, err := t.indexedVisit(id)
		if err != nil {
			return err
		}
		list = append(list, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b *huiyan.Visit) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return list, nil
}

// Card returns the card stored for the visit.
func (t *tx) Card(visitID string) (*huiyan.Card, error) {
	if visitID == "" {
		return nil, fmt.Errorf("card: %w", edge.ErrNotFound)
	}
	v := t.bucket(bucketCards).Get([]byte(visitID))
	if v == nil {
		return nil, fmt.Errorf("card %s: %w", visitID, edge.ErrNotFound)
	}
	return decodeCard(v)
}

// PutCard stores the card under its visit's id.
func (t *tx) PutCard(c *huiyan.Card) error {
	if c == nil || c.Visit == nil || c.Visit.ID == "" {
		return errors.New("put card: no visit id")
	}
	k := t.keep(append(t.room(), c.Visit.ID...))
	if err := t.bucket(bucketCards).Put(k, t.keep(appendCard(t.room(), c))); err != nil {
		return fmt.Errorf("put card %s: %w", c.Visit.ID, err)
	}
	return nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

// AppendFeed assigns e.Seq and stores the event. The seq comes from the feed
// bucket's own sequence, which is committed with the event: strictly
// increasing, never reused once committed, and not reset by Purge.
func (t *tx) AppendFeed(e *huiyan.FeedEvent) error {
	b := t.bucket(bucketFeed)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("append feed: %w", err)
	}
	e.Seq = seq
	b.FillPercent = feedFillPercent
	k := t.keep(binary.BigEndian.AppendUint64(t.room(), seq))
	if err := b.Put(k, t.keep(appendFeed(t.room(), e))); err != nil {
		return fmt.Errorf("append feed %d: %w", seq, err)
	}
	return nil
}

// FeedAfter returns up to limit events with seq > after, in order; limit <= 0
// means no limit.
func (t *tx) FeedAfter(after uint64, limit int) ([]huiyan.FeedEvent, error) {
	if after == math.MaxUint64 {
		return nil, nil
	}
	var list []huiyan.FeedEvent
	c := t.bucket(bucketFeed).Cursor()
	for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
		if limit > 0 && len(list) == limit {
			break
		}
		e, err := decodeFeed(v)
		if err != nil {
			return nil, fmt.Errorf("feed %d: %w", binary.BigEndian.Uint64(k), err)
		}
		list = append(list, *e)
	}
	return list, nil
}

// FeedRange returns the oldest retained seq and the newest seq ever
// assigned; (0, 0) before the first event. Purge always keeps the newest
// event, so newest is also the last one stored.
func (t *tx) FeedRange() (oldest, newest uint64, err error) {
	b := t.bucket(bucketFeed)
	if k, _ := b.Cursor().First(); len(k) == 8 {
		oldest = binary.BigEndian.Uint64(k)
	}
	return oldest, b.Sequence(), nil
}

// PutSession stores a session under its token hash.
func (t *tx) PutSession(s edge.Session) error {
	if s.TokenHash == "" {
		return errors.New("put session: empty token hash")
	}
	if err := t.bucket(bucketSessions).Put([]byte(s.TokenHash), appendSession(nil, &s)); err != nil {
		return fmt.Errorf("put session: %w", err)
	}
	return nil
}

// Session returns the session with the token hash, expired or not: the
// caller checks Expires, and Purge removes expired sessions.
func (t *tx) Session(tokenHash string) (edge.Session, error) {
	if tokenHash == "" {
		return edge.Session{}, fmt.Errorf("session: %w", edge.ErrNotFound)
	}
	v := t.bucket(bucketSessions).Get([]byte(tokenHash))
	if v == nil {
		return edge.Session{}, fmt.Errorf("session: %w", edge.ErrNotFound)
	}
	return decodeSession(v)
}

// DeleteSession removes a session; deleting a missing one is not an error,
// so that logging out twice is harmless.
func (t *tx) DeleteSession(tokenHash string) error {
	if tokenHash == "" {
		return nil
	}
	if err := t.bucket(bucketSessions).Delete([]byte(tokenHash)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// PutDevice stores a device's last known state.
func (t *tx) PutDevice(d huiyan.DeviceState) error {
	if d.Device == "" {
		return errors.New("put device: empty device id")
	}
	if err := t.bucket(bucketDevices).Put([]byte(d.Device), appendDevice(nil, &d)); err != nil {
		return fmt.Errorf("put device %s: %w", d.Device, err)
	}
	return nil
}

// Devices returns every known device, ordered by id.
func (t *tx) Devices() ([]huiyan.DeviceState, error) {
	var list []huiyan.DeviceState
	err := t.bucket(bucketDevices).ForEach(func(_, v []byte) error {
		d, err := decodeDevice(v)
		if err != nil {
			return err
		}
		list = append(list, d)
		return nil
	})
	return list, err
}
