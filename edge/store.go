package edge

import (
	"context"
	"errors"
	"time"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/funnel"
)

// ErrNotFound is returned by Tx lookups for a missing record.
var ErrNotFound = errors.New("not found")

// Store is the edge's durable state: the branch's slice of HQ's snapshot and
// everything that happens at the branch. It is implemented on bbolt by
// edge/bolt. Update runs fn in one read-write transaction: it commits (and
// fsyncs) when fn returns nil and rolls back otherwise, so an arrival, its
// visit, its feed event and its dedupe mark are on disk together or not at all.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Meta describes the data set the edge holds.
type Meta struct {
	Branch          string
	SnapshotVersion int64     // 0 before the first data
	SnapshotAt      time.Time // when the data set was applied
	DictVersion     int
	KeyID           string // the key id every token of the data set was made under
	Customers       int
}

// PrizesUpdate says what a new data set does to the branch's prize wheel
// table (SnapshotStore.ReplaceSnapshotWithPrizes). The zero value keeps
// the stored one: a delta that does not carry the table.
type PrizesUpdate struct {
	// Set replaces the stored table with Prizes, in the same activation as
	// the customers.
	Set bool
	// Prizes is the hub's table (hub.Prizes; Table "" for none). nil with
	// Set removes the hub's word: a full snapshot from a hub that never had
	// prize tables, after which the local table file applies again.
	Prizes *hub.Prizes
}

// Session is a logged-in PAD. Only a hash of the session token is stored.
type Session struct {
	TokenHash string
	StaffID   string
	Created   time.Time
	Expires   time.Time
}

// Tx is one transaction on the Store. Lookups of missing records return
// ErrNotFound. Values returned are copies the caller may modify.
type Tx interface {
	Meta() (Meta, error)
	// Dict returns the tag dictionary of the data set.
	Dict() (*huiyan.TagDict, error)
	// Prizes returns the branch's prize wheel table the data set carries
	// from the hub (Table "" when HQ gives the branch none), or
	// ErrNotFound when the data set has no word from the hub about one:
	// then the local table file applies (DESIGN.md, "Prize wheel").
	Prizes() (hub.Prizes, error)

	CustomerByToken(token string) (*huiyan.Customer, error)
	Customer(id string) (*huiyan.Customer, error)
	Staff(id string) (*huiyan.Staff, error)
	StaffList() ([]huiyan.Staff, error)

	// EventSeen reports whether the arrival (device, event id) was already
	// committed, and the visit it went to: redelivery is idempotent.
	EventSeen(device, eventID string) (visitID string, err error)
	MarkEventSeen(device, eventID, visitID string, at time.Time) error

	Visit(id string) (*huiyan.Visit, error)
	// OpenVisitFor returns the open visit of a subject: the customer id, or
	// for a new face a key derived from its token.
	OpenVisitFor(subject string) (*huiyan.Visit, error)
	// PutVisit stores a visit; an open visit is indexed under its subject and
	// a closed one (ClosedAt set) leaves the index. An empty subject keeps
	// the subject the visit was stored under before (new-face subjects are
	// derived from tokens the visit itself does not keep).
	PutVisit(v *huiyan.Visit, subject string) error
	// OpenVisits returns every open visit, oldest first.
	OpenVisits() ([]*huiyan.Visit, error)
	// Card returns what the arrival event of an open visit carried.
	Card(visitID string) (*huiyan.Card, error)
	PutCard(c *huiyan.Card) error

	// AppendFeed assigns e.Seq (the newest seq + 1) and stores the event.
	AppendFeed(e *huiyan.FeedEvent) error
	// FeedAfter returns up to limit events with seq > after, in order.
	FeedAfter(after uint64, limit int) ([]huiyan.FeedEvent, error)
	// FeedRange returns the oldest retained and the newest seq (0, 0 if none).
	FeedRange() (oldest, newest uint64, err error)
	// SkipFeed makes every later AppendFeed assign a seq greater than
	// through; newest becomes through if it was less. The seqs skipped
	// name no event: the node skips the seqs that PADs may have been shown
	// by a transaction that never committed (edge/DESIGN.md, "The PAD
	// sees an arrival before its fsync").
	SkipFeed(through uint64) error

	PutSession(s Session) error
	Session(tokenHash string) (Session, error)
	DeleteSession(tokenHash string) error

	PutDevice(d huiyan.DeviceState) error
	Devices() ([]huiyan.DeviceState, error)

	// AppendOutbox stores a visit event for the hub at the end of the
	// outbox, in this transaction: the event is durable exactly when the
	// change it reports is. e.ID must be set (the store assigns nothing but
	// the outbox key). At the store's depth or age limit the oldest events
	// are dropped to make room and counted (edge/DESIGN.md, "Outbox").
	AppendOutbox(e hub.EventWire) error
	// OutboxBatch returns up to limit events from the oldest end of the
	// outbox, oldest (first committed) first.
	OutboxBatch(limit int) ([]OutboxItem, error)
	// AckOutbox deletes every event whose key is at most upTo: the hub has
	// acknowledged them. Acknowledging keys already gone is not an error.
	AckOutbox(upTo uint64) error
	// OutboxStats describes the outbox: depth, oldest event, drops, limits.
	OutboxStats() (OutboxStats, error)
	// TrimOutbox drops the events older than the store's age limit as of
	// now (and any beyond its depth limit), counting them as dropped, and
	// returns how many it dropped. AppendOutbox does the same on every
	// append; TrimOutbox is for a branch that records nothing for weeks.
	TrimOutbox(now time.Time) (int, error)

	// FunnelVisit returns the funnel facts of a visit: the fold
	// (funnel.Visit.Apply) of every hub event its changes put into the
	// outbox. ErrNotFound when there are none.
	FunnelVisit(id string) (*funnel.Visit, error)
	// PutFunnelVisit stores a visit's facts, indexed by the day (China
	// Standard Time, funnel.Day) the visit opened. Facts without an
	// opening are not stored: no report counts them.
	PutFunnelVisit(v *funnel.Visit) error
	// FunnelVisits calls fn with the facts of every visit that opened on a
	// day from through to (YYYY-MM-DD, inclusive), reading only those days.
	FunnelVisits(from, to string, fn func(*funnel.Visit) error) error
}

// OutboxItem is one event in the outbox with its key: keys grow in commit
// order, so AckOutbox(last key of a batch) acknowledges exactly that batch
// and everything older.
type OutboxItem struct {
	Key   uint64
	Event hub.EventWire
}

// OutboxStats describes the outbox. Dropped counts every event ever dropped
// at a limit; it is stored, so it survives restarts and only grows.
type OutboxStats struct {
	Depth    int       // events waiting
	Oldest   time.Time // At of the oldest waiting event; zero when empty
	Dropped  uint64    // events dropped at a limit, ever
	MaxDepth int       // the depth limit the store enforces
	MaxAge   time.Duration
}
