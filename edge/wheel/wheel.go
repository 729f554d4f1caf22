package wheel

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"huiyan"
	firmware "huiyan/firmware-contracts"
	"huiyan/hub/funnel"
	"huiyan/hub/prizes"
)

// Errors callers branch on.
var (
	// ErrInvalid: a spin request or a prize table breaks a rule (a bug of
	// the caller or a bad file, never a reason to retry). The same value
	// as prizes.ErrInvalid, which a refused prizes.csv wraps.
	ErrInvalid = prizes.ErrInvalid
	// ErrNotFound: Lookup knows no such spin.
	ErrNotFound = errors.New("not found")
	// ErrNoTable: the prize file has no table for the branch
	// (prizes.ErrNoTable).
	ErrNoTable = prizes.ErrNoTable
	// ErrLocked: another process holds wheel.db.
	ErrLocked = errors.New("wheel.db is locked by another process")
	// ErrSchemaTooNew: wheel.db was written by a newer program.
	ErrSchemaTooNew = errors.New("wheel.db has a newer schema")
	// ErrTampered: an audit export fails Verify.
	ErrTampered = errors.New("audit export does not verify")
)

// SchemaVersion is the layout of wheel.db this program writes.
const SchemaVersion = 1

// DefaultTimeout is how long Open waits for the file lock.
const DefaultTimeout = 2 * time.Second

var (
	bucketMeta    = []byte("meta")
	bucketSpins   = []byte("spins")   // device \x00 spin → the Result, JSON
	bucketAudit   = []byte("audit")   // seq (8 bytes, big-endian) → Record, JSON
	bucketAwarded = []byte("awarded") // campaign \x00 prize → how many were awarded (8 bytes)
	bucketLimits  = []byte("limits")  // day (YYYYMMDD, CST) \x00 who → spins that day (8 bytes)

	keySchema = []byte("schema")
	keySalt   = []byte("salt") // 32 random bytes, made once: the key of unknown customers' hashes
	keyHead   = []byte("head") // seq (8 bytes) + hash (32 bytes) of the newest record
)

// Reasons for no prize (package documentation, "Rules"); "" means won.
// They are the wire's reasons (firmware.WheelReasons).
const (
	ReasonNoPrize         = firmware.WheelNoPrize
	ReasonInventoryOut    = firmware.WheelInventoryOut
	ReasonPrizeClosed     = firmware.WheelPrizeClosed
	ReasonLimitReached    = firmware.WheelLimitReached
	ReasonUnknownCustomer = firmware.WheelUnknownCustomer
	ReasonCampaignClosed  = firmware.WheelCampaignClosed
	ReasonNotPresent      = firmware.WheelNotPresent
)

// SpinRequest is one spin the node asks for.
type SpinRequest struct {
	Device string // the wheel's device id
	Spin   string // the arrival's spin: with Device, what makes the spin unique
	Event  string // the wheel arrival's id, for the result and the audit
	// Customer is HQ's pseudonymous customer id; "" for a customer the bank
	// does not know.
	Customer string
	// Subject identifies an unknown customer (Customer ""), stable across
	// their spins: the mbank token of the arrival, or the node's new-face
	// subject. It is used only through a salted hash (HMAC-SHA256 with a
	// key of wheel.db) and never stored.
	Subject string
	// Present is the node's verdict that the customer is in the branch:
	// their visit has an e-code scan that proved presence
	// (edge.PresentScan). False: the spin is refused, not_present. The zero
	// value refuses, so a caller that forgets cannot give prizes away.
	Present bool
	// At is the time of the decision, from the edge's clock (never the
	// device's ts: a wheel with a wrong clock must not move the campaign
	// window or the day). Zero: the wheel's clock.
	At time.Time
}

// Result is the outcome of a spin, as recorded.
type Result struct {
	Seq    uint64    `json:"seq"` // the audit record
	Device string    `json:"device"`
	Spin   string    `json:"spin"`
	Event  string    `json:"event,omitempty"`
	At     time.Time `json:"at"`
	Prize  string    `json:"prize,omitempty"` // the prize code, "" for none
	NameZH string    `json:"name_zh"`         // the prize's name, or the no-prize entry's (谢谢参与)
	NameEN string    `json:"name_en,omitempty"`
	Won    bool      `json:"won"`
	Reason string    `json:"reason,omitempty"` // why there is no prize (Reason*), "" when Won
	// InventoryAfter is the stock of the drawn prize left after the spin;
	// Unlimited when it has no end or nothing was drawn.
	InventoryAfter int64 `json:"inventory_after"`
	// Duplicate is set when the spin was recorded before (a redelivery):
	// the result is the recorded one and nothing was drawn.
	Duplicate bool `json:"-"`
}

// Payload returns the result's MQTT payload for the wheel
// (firmware.WheelResult, on huiyan/v1/{branch}/wheel/{device}/result).
// The arrival id is the one of the spin's first delivery, which a
// redelivery repeats.
func (r Result) Payload() ([]byte, error) {
	return firmware.WheelResult{ID: r.Event, Spin: r.Spin, Prize: r.Prize, PrizeName: r.NameZH, PrizeNameEN: r.NameEN,
		Reason: r.Reason, TS: r.At.In(funnel.CST).Format(firmware.ReplyTimeLayout)}.Encode()
}

// Options configures Open. Zero values take the defaults.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics // may be nil
	Clock   func() time.Time
	Timeout time.Duration // how long Open waits for the file lock; DefaultTimeout
}

// Wheel is a branch's prize wheel: the draw, the inventory, the limits and
// the audit log, all in one bbolt file (wheel.db).
type Wheel struct {
	db    *bbolt.DB
	log   *slog.Logger
	m     *Metrics
	clock func() time.Time
	salt  []byte
	rand  io.Reader // crypto/rand.Reader

	table atomic.Pointer[loadedTable]
}

type loadedTable struct {
	t           *PrizeTable // nil: no campaign
	fingerprint string
}

// Open opens or creates wheel.db at path (mode 0600) with the branch's
// table, which may be nil (then every spin is campaign_closed until
// SetTable).
func Open(path string, table *PrizeTable, opts Options) (*Wheel, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if table != nil {
		if err := table.Validate(); err != nil {
			return nil, fmt.Errorf("open wheel: %w: %w", ErrInvalid, err)
		}
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.Timeout})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w (waited %s)", path, ErrLocked, opts.Timeout)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w := &Wheel{db: db, log: opts.Logger, m: opts.Metrics, clock: opts.Clock, rand: rand.Reader}
	if err := w.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := w.SetTable(table); err != nil {
		_ = db.Close()
		return nil, err
	}
	return w, nil
}

func (w *Wheel) init() error {
	return w.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketSpins, bucketAudit, bucketAwarded, bucketLimits} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keySchema); {
		case v == nil:
			if err := meta.Put(keySchema, u64(SchemaVersion)); err != nil {
				return err
			}
		case len(v) != 8 || binary.BigEndian.Uint64(v) > SchemaVersion:
			return fmt.Errorf("schema version %x, this program knows up to %d: %w", v, SchemaVersion, ErrSchemaTooNew)
		}
		if s := meta.Get(keySalt); len(s) == 32 {
			w.salt = append([]byte(nil), s...)
			return nil
		}
		w.salt = make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, w.salt); err != nil {
			return fmt.Errorf("salt: %w", err)
		}
		return meta.Put(keySalt, w.salt)
	})
}

// Close closes wheel.db; spins in flight finish first.
func (w *Wheel) Close() error { return w.db.Close() }

// SetTable replaces the prize table (a new file from HQ), or takes it
// away (nil). Awarded counts belong to the campaign: a new table of the
// same campaign keeps them (raising a prize's inventory tops up its
// stock), a new campaign starts from nothing.
func (w *Wheel) SetTable(t *PrizeTable) error {
	lt := &loadedTable{}
	if t != nil {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("prize table: %w: %w", ErrInvalid, err)
		}
		c := *t
		c.Entries = append([]Entry(nil), t.Entries...)
		lt.t, lt.fingerprint = &c, c.Fingerprint()
	}
	w.table.Store(lt)
	if w.m != nil {
		stock, err := w.Stock(context.Background())
		if err != nil {
			return err
		}
		w.m.setStock(stock)
	}
	return nil
}

// Table returns the current table (nil when there is none) and its
// fingerprint. The caller must not change it.
func (w *Wheel) Table() (*PrizeTable, string) {
	lt := w.table.Load()
	return lt.t, lt.fingerprint
}

var (
	spinRe  = regexp.MustCompile(`^[0-9A-Za-z._:-]{1,64}$`)  // firmware's spin
	eventRe = regexp.MustCompile(`^[0-9A-Za-z._:-]{1,128}$`) // firmware's arrival id
)

func (req *SpinRequest) validate() error {
	switch {
	case !firmware.ValidDeviceID(req.Device):
		return fmt.Errorf("%w: device must be a device id", ErrInvalid)
	case !spinRe.MatchString(req.Spin):
		return fmt.Errorf("%w: spin must be 1 to 64 characters of [0-9A-Za-z._:-]", ErrInvalid)
	case !eventRe.MatchString(req.Event):
		return fmt.Errorf("%w: event must be an arrival id", ErrInvalid)
	case req.Customer != "" && !huiyan.ValidCustomerID(req.Customer):
		return fmt.Errorf("%w: customer must be a pseudonymous customer id", ErrInvalid)
	case req.Customer == "" && req.Subject == "":
		return fmt.Errorf("%w: an unknown customer needs a subject", ErrInvalid)
	}
	return nil
}

// who is what the audit and the limits know of the customer: HQ's
// pseudonymous id, or for an unknown customer "u:" and 128 bits of a
// salted hash of the subject. The salt never leaves wheel.db, so the hash
// cannot be matched against tokens or against another branch's.
func (w *Wheel) who(req *SpinRequest) string {
	if req.Customer != "" {
		return req.Customer
	}
	m := hmac.New(sha256.New, w.salt)
	m.Write([]byte(req.Subject))
	return "u:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// Spin decides a spin (package documentation, "Rules"): it checks the
// campaign, the presence, the customer and their limit, draws, gives the
// prize if there is stock, and records the result in the audit log, all
// in one transaction. A spin (device and spin id) seen before returns the
// recorded result with Duplicate set: never a second draw. Refusals are
// results, not errors; an error means nothing was recorded and the spin
// may be retried.
func (w *Wheel) Spin(ctx context.Context, req SpinRequest) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if err := req.validate(); err != nil {
		return Result{}, err
	}
	start := time.Now()
	now := req.At
	if now.IsZero() {
		now = w.clock()
	}
	// What the record keeps: milliseconds, China Standard Time (so that a
	// redelivery's result, read back from disk, equals the first one).
	now = now.Truncate(time.Millisecond).In(funnel.CST)
	lt := w.table.Load()
	who := w.who(&req)
	var res Result
	var rec Record
	err := w.db.Update(func(tx *bbolt.Tx) error {
		spins := tx.Bucket(bucketSpins)
		key := spinKey(req.Device, req.Spin)
		if v := spins.Get(key); v != nil {
			res = Result{}
			if err := json.Unmarshal(v, &res); err != nil {
				return fmt.Errorf("recorded spin: %w", err)
			}
			res.At, res.Duplicate = res.At.In(funnel.CST), true
			return nil
		}
		var err error
		if res, rec, err = w.decide(tx, lt, &req, who, now); err != nil {
			return err
		}
		if err := appendRecord(tx, &rec); err != nil {
			return err
		}
		res.Seq = rec.Seq
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("spin result: %w", err)
		}
		return spins.Put(key, b)
	})
	if err != nil {
		w.log.Error("wheel spin not recorded", "device", req.Device, "spin", req.Spin, "event", req.Event, "err", err)
		return Result{}, fmt.Errorf("wheel spin %s: %w", req.Spin, err)
	}
	w.m.spin(res, lt, time.Since(start))
	w.log.Debug("wheel spin", "device", res.Device, "spin", res.Spin, "event", res.Event, "seq", res.Seq,
		"prize", res.Prize, "reason", res.Reason, "duplicate", res.Duplicate)
	return res, nil
}

// decide runs the rules in the spin's transaction: every check reads what
// the same transaction then writes, and bbolt runs one writing transaction
// at a time, so no two spins can both pass a check that only one may.
func (w *Wheel) decide(tx *bbolt.Tx, lt *loadedTable, req *SpinRequest, who string, now time.Time) (Result, Record, error) {
	t := lt.t
	none := (&PrizeTable{}).NoPrize()
	if t != nil {
		none = t.NoPrize()
	}
	res := Result{Device: req.Device, Spin: req.Spin, Event: req.Event, At: now, NameZH: none.NameZH, NameEN: none.NameEN, InventoryAfter: Unlimited}
	rec := Record{At: now, Device: req.Device, Spin: req.Spin, Event: req.Event, Who: who, Draw: -1, InventoryAfter: Unlimited}
	refuse := func(reason string) (Result, Record, error) {
		res.Reason, rec.Reason = reason, reason
		return res, rec, nil
	}
	if t == nil || now.Before(t.Starts) || !now.Before(t.Ends) {
		if t != nil {
			rec.Campaign, rec.Table = t.Campaign, lt.fingerprint
		}
		return refuse(ReasonCampaignClosed)
	}
	rec.Campaign, rec.Table = t.Campaign, lt.fingerprint
	switch {
	case !req.Present:
		return refuse(ReasonNotPresent)
	case req.Customer == "" && !t.AllowUnknown:
		return refuse(ReasonUnknownCustomer)
	}
	day := now.In(funnel.CST).Format("20060102")
	limits := tx.Bucket(bucketLimits)
	if err := pruneLimits(limits, day); err != nil {
		return res, rec, err
	}
	lk := append([]byte(day+"\x00"), who...)
	used := getU64(limits, lk)
	if used >= uint64(t.SpinsPerDay) {
		return refuse(ReasonLimitReached)
	}
	// From here the spin counts towards the limit, whatever it wins.
	if err := limits.Put(lk, u64(used+1)); err != nil {
		return res, rec, err
	}
	i, x, err := draw(w.rand, t)
	if err != nil {
		return res, rec, err
	}
	e := t.Entries[i]
	rec.Draw, rec.Drawn = int64(x), e.Code
	if e.NoPrize() {
		return refuse(ReasonNoPrize)
	}
	awarded := tx.Bucket(bucketAwarded)
	ak := awardKey(t.Campaign, e.Code)
	n := getU64(awarded, ak)
	left := func(n uint64) int64 {
		if e.Inventory == Unlimited {
			return Unlimited
		}
		return max(e.Inventory-int64(n), 0)
	}
	res.InventoryAfter, rec.InventoryAfter = left(n), left(n)
	switch {
	case !e.Starts.IsZero() && now.Before(e.Starts), !e.Ends.IsZero() && !now.Before(e.Ends):
		return refuse(ReasonPrizeClosed)
	case e.Inventory != Unlimited && int64(n) >= e.Inventory:
		// Fall back to no prize rather than draw again among the prizes
		// left: a second draw would raise their odds above what the
		// auditors approved (package documentation, "Rules").
		return refuse(ReasonInventoryOut)
	}
	if err := awarded.Put(ak, u64(n+1)); err != nil {
		return res, rec, err
	}
	res.Prize, res.Won, res.NameZH, res.NameEN = e.Code, true, e.NameZH, e.NameEN
	res.InventoryAfter, rec.InventoryAfter = left(n+1), left(n+1)
	rec.Prize = e.Code
	return res, rec, nil
}

// pruneLimits drops the counts of days before day: only today's limit is
// ever checked. It runs in every spin's transaction and finds nothing to
// do but on the first spin of a day.
func pruneLimits(b *bbolt.Bucket, day string) error {
	var old [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && string(k[:min(len(k), 8)]) < day; k, _ = c.Next() {
		old = append(old, append([]byte(nil), k...))
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Lookup returns the recorded result of a spin, or ErrNotFound. The node
// uses it to answer a redelivered wheel arrival it already recorded.
func (w *Wheel) Lookup(ctx context.Context, device, spin string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	var res Result
	err := w.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketSpins).Get(spinKey(device, spin))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &res)
	})
	if err != nil {
		return Result{}, fmt.Errorf("wheel spin %s: %w", spin, err)
	}
	res.At, res.Duplicate = res.At.In(funnel.CST), true
	return res, nil
}

// Stock is one prize of the current table with what is left of it.
type Stock struct {
	Code      string
	Inventory int64 // as in the table, or Unlimited
	Awarded   int64 // in the campaign so far
	Left      int64 // Inventory − Awarded, at least 0; Unlimited for an unlimited prize
}

// Stock returns the stock of every prize of the current table (none
// without a table), in the table's order.
func (w *Wheel) Stock(ctx context.Context) ([]Stock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lt := w.table.Load()
	if lt.t == nil {
		return nil, nil
	}
	var out []Stock
	err := w.db.View(func(tx *bbolt.Tx) error {
		awarded := tx.Bucket(bucketAwarded)
		for _, e := range lt.t.Entries {
			if e.NoPrize() {
				continue
			}
			s := Stock{Code: e.Code, Inventory: e.Inventory, Awarded: int64(getU64(awarded, awardKey(lt.t.Campaign, e.Code))), Left: Unlimited}
			if e.Inventory != Unlimited {
				s.Left = max(e.Inventory-s.Awarded, 0)
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("wheel stock: %w", err)
	}
	return out, nil
}

// SpinsToday returns how many spins count towards the customer's limit on
// the day (China Standard Time) of at: for the operator and for tests.
// customer is HQ's id, or "" with subject for an unknown customer.
func (w *Wheel) SpinsToday(ctx context.Context, customer, subject string, at time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	who := w.who(&SpinRequest{Customer: customer, Subject: subject})
	key := append([]byte(at.In(funnel.CST).Format("20060102")+"\x00"), who...)
	var n uint64
	err := w.db.View(func(tx *bbolt.Tx) error {
		n = getU64(tx.Bucket(bucketLimits), key)
		return nil
	})
	return int(n), err
}

func spinKey(device, spin string) []byte { return []byte(device + "\x00" + spin) }

func awardKey(campaign, code string) []byte { return []byte(campaign + "\x00" + code) }

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func getU64(b *bbolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}
