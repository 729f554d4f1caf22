package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"huiyan"
	"huiyan/edge"
)

// SchemaVersion is the version of the bucket layout this package writes.
// Open refuses a file written with a newer one.
const SchemaVersion = 1

// Errors callers may branch on.
var (
	// ErrLocked is returned by Open when another process holds the file.
	ErrLocked = errors.New("database locked by another process")
	// ErrSchemaTooNew is returned by Open for a file written by a newer
	// program: opening it could lose data the newer program relies on.
	ErrSchemaTooNew = errors.New("database schema is newer than this program")
	// ErrSnapshotChanged is returned by the Customers iterator when a new
	// snapshot became active while it ran.
	ErrSnapshotChanged = errors.New("snapshot changed during iteration")
)

// Defaults for the options.
const (
	DefaultTimeout       = 2 * time.Second
	DefaultSnapshotBatch = 10_000
)

// Bucket names. Generation buckets are named prefix + "." + decimal number.
var (
	bucketMeta     = []byte("meta")
	bucketDict     = []byte("dict")
	bucketStaff    = []byte("staff")
	bucketVisits   = []byte("visits")
	bucketOpen     = []byte("open")
	bucketDedupe   = []byte("dedupe")
	bucketFeed     = []byte("feed")
	bucketCards    = []byte("cards")
	bucketSessions = []byte("sessions")
	bucketDevices  = []byte("devices")
	bucketOutbox   = []byte("outbox")

	fixedBuckets = [][]byte{
		bucketMeta, bucketDict, bucketStaff, bucketVisits, bucketOpen, bucketDedupe,
		bucketFeed, bucketCards, bucketSessions, bucketDevices, bucketOutbox,
	}
)

const (
	prefixCustomers = "customers"
	prefixAliases   = "aliases"
)

// Keys in the meta bucket.
var (
	keySchema  = []byte("schema")  // uvarint SchemaVersion of the file
	keyGen     = []byte("gen")     // uvarint active generation, absent before the first snapshot
	keyLastGen = []byte("lastgen") // uvarint last generation number handed out
	keyMeta    = []byte("meta")    // meta record (edge.Meta)
	keyDict    = []byte("dict")    // in the dict bucket: the dict record
	// uvarint count of outbox events ever dropped at a limit
	keyOutboxDropped = []byte("outbox_dropped")
)

// DB is the edge's store on one bbolt file. It implements edge.Store; a
// snapshot is applied with ReplaceSnapshot and old records are removed with
// Purge. A DB is safe for concurrent use.
type DB struct {
	bolt  *bbolt.DB
	path  string
	batch int

	// outboxMaxDepth and outboxMaxAge bound the outbox (WithOutboxLimits).
	outboxMaxDepth int
	outboxMaxAge   time.Duration

	// replaceMu serialises ReplaceSnapshot: one new generation at a time.
	replaceMu sync.Mutex
	// dict caches the decoded dictionary with the bytes it came from.
	dict atomic.Pointer[dictCache]
	// span caches the active generation for a range of committed states,
	// so that a read transaction need not read it from the meta bucket
	// (generation).
	span atomic.Pointer[genSpan]
}

var _ edge.Store = (*DB)(nil)

type dictCache struct {
	raw  []byte
	dict *huiyan.TagDict
}

type genNames struct {
	gen                uint64
	customers, aliases []byte
}

// genSpan says that names (nil: no generation yet) was the active
// generation in every committed state from transaction id lo through hi.
//
// A committed state is named by its transaction id: bbolt gives every
// committed write transaction the next id, and a read transaction's ID is
// the id of the state it reads. The active generation never decreases
// with the id (ReplaceSnapshot activates only new, higher numbers; nothing
// else writes keyGen), so a generation read in states lo and hi is the
// generation of every state between them. A read transaction whose id is
// in the span therefore skips the meta bucket: two bucket lookups and a
// Get, a fifth of a lookup by token (BenchmarkResolve).
type genSpan struct {
	names  *genNames
	lo, hi uint64
}

// Option configures Open.
type Option func(*options)

type options struct {
	timeout        time.Duration
	batch          int
	outboxMaxDepth int
	outboxMaxAge   time.Duration
}

// WithTimeout sets how long Open waits for the file lock before it fails
// with ErrLocked (DefaultTimeout). A second edge process on the same data
// directory gets a clear error instead of hanging.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithSnapshotBatch sets how many customers ReplaceSnapshot writes per
// transaction (DefaultSnapshotBatch).
func WithSnapshotBatch(n int) Option {
	return func(o *options) { o.batch = n }
}

// Open opens or creates the store at path (a file, mode 0600). It creates
// the buckets, records the schema version in a new file, refuses a file with
// a newer one (ErrSchemaTooNew), and removes any generation a crashed
// ReplaceSnapshot left behind.
func Open(path string, opts ...Option) (*DB, error) {
	o := options{timeout: DefaultTimeout, batch: DefaultSnapshotBatch}
	for _, opt := range opts {
		opt(&o)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	if o.batch <= 0 {
		o.batch = DefaultSnapshotBatch
	}
	if o.outboxMaxDepth <= 0 {
		o.outboxMaxDepth = DefaultOutboxMaxDepth
	}
	if o.outboxMaxAge <= 0 {
		o.outboxMaxAge = DefaultOutboxMaxAge
	}
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: o.timeout,
		// The freelist is rebuilt by a scan at Open instead of being written
		// at every commit: after a snapshot swap frees a whole generation it
		// is large, and writing it would add to every arrival's fsync.
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
		// Nothing reads bbolt's statistics, and keeping them costs every
		// transaction two more trips through one mutex that all lookers
		// share, and a merge of its counters.
		NoStatistics: true,
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w (waited %s)", path, ErrLocked, o.timeout)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := &DB{bolt: bdb, path: path, batch: o.batch, outboxMaxDepth: o.outboxMaxDepth, outboxMaxAge: o.outboxMaxAge}
	if err := db.init(); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// init creates the buckets, checks the schema version and drops stray
// generations, in one transaction.
func (db *DB) init() error {
	return db.bolt.Update(func(btx *bbolt.Tx) error {
		for _, name := range fixedBuckets {
			if _, err := btx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := btx.Bucket(bucketMeta)
		switch v, ok := getUvarint(meta, keySchema); {
		case !ok:
			if err := putUvarint(meta, keySchema, SchemaVersion); err != nil {
				return fmt.Errorf("write schema version: %w", err)
			}
		case v > SchemaVersion:
			return fmt.Errorf("schema version %d, this program knows up to %d: %w", v, SchemaVersion, ErrSchemaTooNew)
		}
		active, _ := getUvarint(meta, keyGen)
		return dropGenerations(btx, func(gen uint64) bool { return gen != active })
	})
}

// Close closes the file. Transactions in flight finish first.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close %s: %w", db.path, err)
	}
	return nil
}

// Path returns the file's path.
func (db *DB) Path() string { return db.path }

// Update runs fn in a read-write transaction, committed (and fsynced) when
// fn returns nil and rolled back otherwise; fn's error is returned as is.
// A cancelled ctx stops it before it starts or once it has the write lock.
// The Tx must not be used after fn returns.
func (db *DB) Update(ctx context.Context, fn func(edge.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	btx, err := db.bolt.Begin(true)
	if err != nil {
		return fmt.Errorf("begin update: %w", err)
	}
	t := &tx{db: db, tx: btx}
	// Deferred before the Rollback, so that it runs after it: bbolt holds
	// the values put until the transaction has ended, and no longer.
	defer t.releaseArena()
	defer func() { _ = btx.Rollback() }()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := fn(t); err != nil {
		return err
	}
	if err := btx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// View runs fn in a read-only transaction: a consistent view of the store
// that concurrent updates and snapshot swaps do not change.
func (db *DB) View(ctx context.Context, fn func(edge.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	btx, err := db.bolt.Begin(false)
	if err != nil {
		return fmt.Errorf("begin view: %w", err)
	}
	defer func() { _ = btx.Rollback() }()
	return fn(&tx{db: db, tx: btx})
}

// generation returns the active generation's bucket names, or nil before the
// first snapshot. A read-only transaction whose state is in the cached span
// takes it from there; any other reads the meta bucket, and a read-only one
// then widens the span (genSpan says why that is sound). A writable
// transaction always reads the meta bucket: its id names a state that is
// not committed and may never be.
func (db *DB) generation(btx *bbolt.Tx) *genNames {
	id, ro := uint64(btx.ID()), !btx.Writable()
	s := db.span.Load()
	if ro && s != nil && s.lo <= id && id <= s.hi {
		return s.names
	}
	var n *genNames
	if gen, ok := getUvarint(btx.Bucket(bucketMeta), keyGen); ok {
		if s != nil && s.names != nil && s.names.gen == gen {
			n = s.names
		} else {
			n = newGenNames(gen)
		}
	}
	if ro {
		db.learnGeneration(n, id)
	}
	return n
}

// learnGeneration records that n was the active generation in committed
// state id: it widens the span when n is the span's generation, and
// starts a new span when n is a newer one. What is older than the span is
// not kept: lookups are about the newest state.
func (db *DB) learnGeneration(n *genNames, id uint64) {
	for {
		s := db.span.Load()
		next := &genSpan{names: n, lo: id, hi: id}
		switch {
		case s == nil:
		case sameGeneration(s.names, n):
			if s.lo <= id && id <= s.hi {
				return
			}
			next.lo, next.hi = min(s.lo, id), max(s.hi, id)
		case id < s.hi:
			return
		}
		if db.span.CompareAndSwap(s, next) {
			return
		}
	}
}

func sameGeneration(a, b *genNames) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.gen == b.gen
}

func newGenNames(gen uint64) *genNames {
	return &genNames{
		gen:       gen,
		customers: genBucket(prefixCustomers, gen),
		aliases:   genBucket(prefixAliases, gen),
	}
}

func genBucket(prefix string, gen uint64) []byte {
	return strconv.AppendUint([]byte(prefix+"."), gen, 10)
}

// parseGenBucket returns the generation of a generation bucket's name.
func parseGenBucket(name []byte) (uint64, bool) {
	prefix, num, ok := strings.Cut(string(name), ".")
	if !ok || (prefix != prefixCustomers && prefix != prefixAliases) {
		return 0, false
	}
	gen, err := strconv.ParseUint(num, 10, 64)
	return gen, err == nil
}

// dropGenerations deletes every generation bucket whose generation drop
// selects.
func dropGenerations(btx *bbolt.Tx, drop func(gen uint64) bool) error {
	var names [][]byte
	err := btx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
		if gen, ok := parseGenBucket(name); ok && drop(gen) {
			names = append(names, append([]byte(nil), name...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := btx.DeleteBucket(name); err != nil {
			return fmt.Errorf("delete bucket %s: %w", name, err)
		}
	}
	return nil
}

func getUvarint(b *bbolt.Bucket, key []byte) (uint64, bool) {
	v := b.Get(key)
	n, size := binary.Uvarint(v)
	return n, size > 0 && size == len(v)
}

func putUvarint(b *bbolt.Bucket, key []byte, v uint64) error {
	return b.Put(key, appendUvarint(nil, v))
}
