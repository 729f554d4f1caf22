package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"huiyan"
	"huiyan/edge/ecode"
	"huiyan/edge/wheel"
	firmware "huiyan/firmware-contracts"
)

// Publisher receives feed events after they are committed: the outbox
// sender and the heartbeat. Publish must not block.
type Publisher interface {
	Publish(e huiyan.FeedEvent)
}

// PADs receives the feed for the staff tablets: the PAD server. Unlike a
// Publisher it is given an arrival's events before the transaction that
// records them commits, so that the fsync is not on the path to the PAD
// (edge/DESIGN.md, "The PAD sees an arrival before its fsync"); every
// other event after its commit. Publish must not block.
//
// Committed says that every event up to a seq is committed: the store now
// has what was given early. Retract says that events given early did not
// commit (the commit failed): the PADs must drop what they were shown
// since their last durable seq, which they do by reconnecting and resuming
// (a seq that names no event resumes with the state). The node never gives
// those seqs to another event.
type PADs interface {
	Publish(e huiyan.FeedEvent)
	Committed(through uint64)
	Retract(reason string)
}

// maxEarly bounds the events of one transaction that go to the PADs
// before its commit, and feedGap is the seqs skipped at every start: more
// than maxEarly, so that a seq a PAD may have been shown just before a
// crash never names another event after the restart.
const (
	maxEarly = 256
	feedGap  = 1024
)

// Config configures a Node. Zero values take the defaults in NewNode.
type Config struct {
	Branch      string
	KeyID       string        // the token key id of the data set; default firmware's "k1"
	VisitWindow time.Duration // default huiyan.DefaultVisitWindow
	// CloseEvery is how often open visits are checked for expiry.
	CloseEvery time.Duration
	Rules      *RuleSet // default DefaultRules
	// ECode verifies the codes of e-code scans (edge/DESIGN.md,
	// "E-codes"). Nil leaves them unverified: every scan counts as a scan
	// of the branch code, as before e-codes rotated; huiyan-edge always
	// sets one.
	ECode *ecode.Issuer
	// Wheel decides the spins of wheel arrivals (edge/DESIGN.md, "Prize
	// wheel"); their results go where SetWheelResults says. Nil: wheel
	// arrivals make visits and cards only, and nobody answers the wheel.
	Wheel   Wheel
	Clock   func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics // may be nil
}

// Node is a branch edge: it turns decoded arrivals into visits, profiles and
// suggested actions, keeps them in the Store and tells the PADs. It also
// implements the PAD backend (pad.Backend).
type Node struct {
	store Store
	cfg   Config
	log   *slog.Logger
	m     *Metrics

	pub     atomic.Pointer[publisherBox]
	pads    atomic.Pointer[padsBox]
	results atomic.Pointer[resultsBox]
	dict    atomic.Pointer[huiyan.TagDict]
	rules   atomic.Pointer[RuleSet]

	// mu serialises changes to visits so that two arrivals of one customer
	// cannot both open a visit; bbolt has one writer anyway.
	mu sync.Mutex
	// qmu guards queue: the arrivals waiting for the next group commit
	// (record).
	qmu   sync.Mutex
	queue []*arrivalJob

	// feedFloor (under mu) is the highest seq that PADs may have seen
	// without a commit: the next transaction that appends to the feed
	// skips past it first (update). 0 when there is none.
	feedFloor uint64

	shiftMu sync.Mutex
	shift   map[string]time.Time // staff id → session expiry: who is on shift

	// devices are the devices whose channel is on record (under mu): the
	// first arrival of a device records it, so that the PADs' device strip
	// can say which are counters, e-code displays and wheels.
	devices map[string]huiyan.Channel

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type publisherBox struct{ p Publisher }

type padsBox struct{ p PADs }

// NewNode returns a node on store. Call Open before use.
func NewNode(store Store, cfg Config) *Node {
	if cfg.KeyID == "" {
		cfg.KeyID = "k1"
	}
	if cfg.VisitWindow <= 0 {
		cfg.VisitWindow = huiyan.DefaultVisitWindow
	}
	if cfg.CloseEvery <= 0 {
		cfg.CloseEvery = 15 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Node{store: store, cfg: cfg, log: cfg.Logger, m: cfg.Metrics, shift: map[string]time.Time{}, devices: map[string]huiyan.Channel{}}
}

// SetPublisher sets where committed feed events go besides the PADs. It
// may be called before or after Open.
func (n *Node) SetPublisher(p Publisher) { n.pub.Store(&publisherBox{p}) }

// SetPADs sets where the PADs' feed goes. It may be called before or after
// Open; events committed before it is set are still in the feed and reach
// PADs when they resume.
func (n *Node) SetPADs(p PADs) { n.pads.Store(&padsBox{p}) }

// Open loads the dictionary and rules and starts closing expired visits.
func (n *Node) Open(ctx context.Context) error {
	if err := n.Reload(ctx); err != nil {
		return err
	}
	// The last run may have shown PADs an arrival that it did not live to
	// commit: its seqs, at most maxEarly after the newest durable one, are
	// skipped by the first transaction that appends to the feed.
	var newest uint64
	if err := n.store.View(ctx, func(tx Tx) error {
		var err error
		_, newest, err = tx.FeedRange()
		return err
	}); err != nil {
		return fmt.Errorf("feed range: %w", err)
	}
	// The skip is committed before the first arrival: a run that died
	// after showing an arrival of its own must not let the next run reuse
	// those seqs either.
	n.mu.Lock()
	n.feedFloor = newest + feedGap
	err := n.update(ctx, func(Tx) error { return nil })
	n.mu.Unlock()
	if err != nil {
		return fmt.Errorf("skip the feed's seqs shown before the start: %w", err)
	}
	ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.closeLoop(ctx)
	}()
	return nil
}

// Reload rereads the dictionary from the store, after a new snapshot.
func (n *Node) Reload(ctx context.Context) error {
	var dict *huiyan.TagDict
	err := n.store.View(ctx, func(tx Tx) error {
		var err error
		dict, err = tx.Dict()
		return err
	})
	if errors.Is(err, ErrNotFound) {
		dict = huiyan.DefaultTagDict() // no snapshot yet: arrivals are new faces
	} else if err != nil {
		return fmt.Errorf("load dictionary: %w", err)
	}
	rules := n.cfg.Rules
	if rules == nil {
		if rules, err = DefaultRules(dict); err != nil {
			return fmt.Errorf("load rules: %w", err)
		}
	}
	n.dict.Store(dict)
	n.rules.Store(rules)
	return nil
}

// Close stops the background work. It does not close the store.
func (n *Node) Close() error {
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	return nil
}

// publish gives committed events to the PADs and the other publishers.
func (n *Node) publish(evs []huiyan.FeedEvent) {
	n.publishPADs(evs)
	n.publishCommitted(evs)
}

// publishPADs gives events to the PADs only: committed ones, or an
// arrival's before its commit (record).
func (n *Node) publishPADs(evs []huiyan.FeedEvent) {
	if b := n.pads.Load(); b != nil && b.p != nil && len(evs) > 0 {
		for _, e := range evs {
			b.p.Publish(e)
		}
		b.p.Committed(evs[len(evs)-1].Seq)
	}
}

// publishCommitted gives committed events to the publishers other than
// the PADs.
func (n *Node) publishCommitted(evs []huiyan.FeedEvent) {
	if b := n.pub.Load(); b != nil && b.p != nil {
		for _, e := range evs {
			b.p.Publish(e)
		}
	}
}

// update is store.Update for a transaction that appends to the feed, under
// mu: first it skips the seqs PADs may have been shown by a transaction
// that did not commit (feedFloor), so that no such seq ever names another
// event; the floor is cleared once a transaction carrying the skip commits.
func (n *Node) update(ctx context.Context, fn func(Tx) error) error {
	floor := n.feedFloor
	err := n.store.Update(ctx, func(tx Tx) error {
		if floor > 0 {
			if err := tx.SkipFeed(floor); err != nil {
				return err
			}
		}
		return fn(tx)
	})
	if err == nil && n.feedFloor == floor {
		n.feedFloor = 0
	}
	return err
}

// identOrder is the order in which idents are tried: the ID card is the
// strongest identity, a phone number the weakest.
var identOrder = map[huiyan.IdentKind]int{huiyan.IdentIDCard: 0, huiyan.IdentBankCard: 1, huiyan.IdentMBank: 2, huiyan.IdentPhone: 3}

// HandleArrival records a decoded arrival: it resolves the customer, opens
// or joins a visit, detects a conversion, composes the profile and actions,
// and commits all of it with the arrival's dedupe mark in one transaction
// before the PADs are told. It returns nil once the arrival is durable (the
// caller may then acknowledge it), a *huiyan.Error for an arrival that must
// be refused, and any other error for a failure worth a redelivery.
//
// A wheel arrival is also a spin: once the arrival is committed the wheel
// decides it, and its result is sent to the wheel before HandleArrival
// returns, so before the device's PUBACK. A redelivered wheel arrival
// (a duplicate) gets its recorded result sent again, since the wheel may
// have missed it, and is then refused as a duplicate like any other.
func (n *Node) HandleArrival(ctx context.Context, a huiyan.Arrival) error {
	res, err := n.record(ctx, a)
	if res == nil {
		return err
	}
	// Sent outside n.mu: waiting for an external broker must not hold up
	// the branch's other arrivals.
	if serr := n.sendResult(ctx, *res); serr != nil {
		n.log.Warn("wheel result not sent; the arrival stays unacknowledged and its redelivery sends it",
			"event", a.EventID, "device", a.Device, "spin", a.Spin, "err", serr)
		return serr
	}
	return err
}

// arrivalJob is one arrival on its way through record: what its part of a
// batch's transaction found and wrote, and how it ends.
type arrivalJob struct {
	a      huiyan.Arrival
	idents []huiyan.Ident // in identOrder
	w      Wheel          // the wheel, for a wheel arrival
	start  time.Time

	// Set by recordOne, again each time the transaction runs.
	evs        []huiyan.FeedEvent
	recognised bool
	opened     bool
	visit      *huiyan.Visit // nil for a refused scan that joined no visit
	seq        uint64
	sc         scan
	customer   string             // the spinner, "" for a new face
	refused    error              // the arrival's own refusal (a duplicate): it wrote nothing
	early      bool               // its events went to the PADs before the commit
	shown      time.Time          // when the PADs were given its events
	spin       <-chan spinOutcome // the wheel's decision, under way (startSpin)
	tail       func() error       // the writes left once the PADs have it

	res  *wheel.Result
	err  error
	done chan struct{}
}

// maxBatch bounds the arrivals committed in one transaction.
const maxBatch = 64

// errNothingToCommit rolls back a batch of duplicates only.
var errNothingToCommit = errors.New("nothing to commit")

// record is HandleArrival without sending the wheel's result, which it
// returns (also with a duplicate error) for a wheel arrival with a wheel.
//
// Group commit. The arrival joins the queue, then waits for mu. Whoever
// holds mu takes every queued arrival (up to maxBatch) and records them in
// one transaction, one fsync: at a quiet branch that is the arrival alone,
// straight away; when arrivals come faster than commits, those that queued
// during a commit share the next one. Each arrival still returns only
// after the commit that holds it.
func (n *Node) record(ctx context.Context, a huiyan.Arrival) (*wheel.Result, error) {
	start := n.cfg.Clock()
	if a.Branch != n.cfg.Branch {
		return nil, huiyan.Errorf(firmware.EWrongBranch, "this edge serves branch %s, not %s", n.cfg.Branch, a.Branch)
	}
	for i, id := range a.Idents {
		if id.KeyID != n.cfg.KeyID {
			return nil, huiyan.Errorf(firmware.EUnknownKey, "ident %d: unknown key id %q", i, id.KeyID)
		}
	}
	j := &arrivalJob{a: a, start: start, done: make(chan struct{})}
	if a.Channel == huiyan.ChannelWheel {
		j.w = n.cfg.Wheel
	}
	j.idents = append([]huiyan.Ident(nil), a.Idents...)
	sort.SliceStable(j.idents, func(x, y int) bool { return identOrder[j.idents[x].Kind] < identOrder[j.idents[y].Kind] })

	n.qmu.Lock()
	n.queue = append(n.queue, j)
	n.qmu.Unlock()
	n.mu.Lock()
	n.qmu.Lock()
	batch := n.queue
	if len(batch) > maxBatch {
		batch = slices.Clone(n.queue[:maxBatch])
		n.queue = slices.Delete(n.queue, 0, maxBatch)
	} else {
		n.queue = nil
	}
	n.qmu.Unlock()
	if len(batch) > 0 {
		n.recordBatch(ctx, batch)
	}
	n.mu.Unlock()
	// Recorded by this call or by the holder of mu before it.
	<-j.done
	return j.res, j.err
}

// recordBatch records arrivals in one transaction and finishes each.
// Under mu.
func (n *Node) recordBatch(ctx context.Context, batch []*arrivalJob) {
	// The batch is the queue's, not the caller's: another caller's
	// deadline must not fail its arrivals.
	ctx = context.WithoutCancel(ctx)
	now := n.cfg.Clock()
	var early uint64 // the newest seq the PADs were given before the commit
	err := n.update(ctx, func(tx Tx) error {
		early = 0
		budget := maxEarly
		recorded := 0
		for _, j := range batch {
			if err := n.recordOne(tx, j, now); err != nil {
				if huiyan.ErrorCode(err) == firmware.EDuplicate {
					j.refused = err // checked first: it wrote nothing
					continue
				}
				return err
			}
			recorded++
			// The PADs' part of this arrival is written (visit, card,
			// feed); its outbox, its dedupe mark, the others of the batch
			// and the commit (with its fsync) are left. The PADs see it
			// now, in seq order: once one arrival has to wait for the
			// commit, the rest of the batch waits too. Anything failing
			// from here on fails the transaction and retracts.
			if budget >= len(j.evs) && n.showEarly(j.evs) {
				budget -= len(j.evs)
				j.early, j.shown = true, n.cfg.Clock()
				if len(j.evs) > 0 {
					early = j.evs[len(j.evs)-1].Seq
				}
			} else {
				budget = -1
			}
			if j.tail != nil {
				if err := j.tail(); err != nil {
					return err
				}
			}
			if j.w != nil && j.visit != nil {
				j.spin = startSpin(ctx, j.w, spinRequest(j.a, j.customer, j.visit, now))
			}
		}
		if recorded == 0 {
			return errNothingToCommit // only duplicates: no fsync for nothing
		}
		return nil
	})
	if errors.Is(err, errNothingToCommit) {
		err = nil
	}
	if err != nil {
		if early > 0 {
			n.retract(early, err)
		}
		if len(batch) > 1 {
			// One arrival's failure must not sink the others with it:
			// each is tried again alone.
			for _, j := range batch {
				n.recordBatch(ctx, []*arrivalJob{j})
			}
			return
		}
		j := batch[0]
		n.log.Error("arrival not recorded", "event", j.a.EventID, "device", j.a.Device, "err", err)
		j.err = err
		close(j.done)
		return
	}
	committed := n.cfg.Clock()
	if b := n.pads.Load(); b != nil && b.p != nil && early > 0 {
		b.p.Committed(early)
	}
	for _, j := range batch {
		j.res, j.err = n.finishArrival(ctx, j, now, committed)
		close(j.done)
	}
}

// recordOne is an arrival's part of a batch's transaction: dedupe,
// recognition, the visit, the card, the feed, the outbox, the dedupe mark.
func (n *Node) recordOne(tx Tx, j *arrivalJob, now time.Time) error {
	a := j.a
	j.evs, j.recognised, j.opened, j.visit, j.seq = j.evs[:0], false, false, nil, 0
	j.sc, j.customer, j.refused, j.early, j.spin, j.tail = scan{present: true}, "", nil, false, nil, nil
	if _, err := tx.EventSeen(a.Device, a.EventID); err == nil {
		return huiyan.Errorf(firmware.EDuplicate, "arrival %s was already received", a.EventID)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	c, err := resolve(tx, j.idents)
	if err != nil {
		return err
	}
	j.recognised = c != nil
	if c != nil {
		j.customer = c.ID
	}
	if a.Channel == huiyan.ChannelECode {
		if j.sc, err = n.verifyScan(tx, a.Code, now); err != nil {
			return err
		}
	}
	subject, v, err := n.findVisit(tx, c, j.idents, now, &j.evs)
	if err != nil {
		return err
	}
	if !j.sc.present && v == nil {
		// A scan that proves no presence opens no visit: the customer is
		// elsewhere, and a card would send staff looking for them. It is
		// received all the same (a redelivery is a duplicate), counted and
		// logged; any visit closed on the way is published.
		return tx.MarkEventSeen(a.Device, a.EventID, "", now)
	}
	tp := huiyan.Touchpoint{EventID: a.EventID, Channel: a.Channel, Device: a.Device, At: touchTime(a.At, now)}
	if !j.sc.present {
		tp.Refused = string(j.sc.verdict)
	}
	var before *huiyan.Visit // the visit as it was, for the outbox
	if v != nil {
		b := *v
		before = &b
	}
	if v == nil {
		j.opened = true
		v = &huiyan.Visit{ID: newVisitID(now), Branch: n.cfg.Branch, OpenedAt: now, Channel: a.Channel}
		if c != nil {
			v.CustomerID, v.MBankAtOpen = c.ID, c.MBankStatus
		}
	}
	if j.sc.present {
		// Only a presence keeps the visit open: a refused scan is on
		// record, but the customer was not seen.
		v.LastSeenAt = now
	}
	v.Touchpoints = append(v.Touchpoints, tp)
	if a.Channel == huiyan.ChannelECode && j.sc.present && c != nil {
		j.sc.convert(v, now)
	}
	if err := tx.PutVisit(v, subject); err != nil {
		return err
	}
	var card *huiyan.Card
	vi := len(j.evs) // the visit's feed event
	if j.opened {
		card = n.compose(v, c, a.Channel, now)
		if err := tx.PutCard(card); err != nil {
			return err
		}
		j.evs = append(j.evs, huiyan.FeedEvent{Kind: huiyan.FeedArrival, At: now, Audience: card.Audience,
			Visit: v, Profile: card.Profile, Actions: card.Actions})
	} else {
		if card, err = tx.Card(v.ID); err != nil {
			return fmt.Errorf("card of visit %s: %w", v.ID, err)
		}
		j.evs = append(j.evs, huiyan.FeedEvent{Kind: huiyan.FeedVisit, At: now, Audience: card.Audience, Visit: v})
	}
	if n.devices[a.Device] != a.Channel {
		if e, err := n.noteDevice(tx, a.Device, a.Channel, now); err != nil {
			return err
		} else if e != nil {
			j.evs = append(j.evs, *e)
		}
	}
	for i := vi; i < len(j.evs); i++ { // visits closed on the way are in the feed already
		if err := tx.AppendFeed(&j.evs[i]); err != nil {
			return err
		}
	}
	j.visit, j.seq = v, j.evs[len(j.evs)-1].Seq
	// What the PADs do not need waits until they have the arrival
	// (recordBatch): the outbox with the funnel facts, and the dedupe mark.
	seq, tier := j.evs[vi].Seq, tierOf(c)
	j.tail = func() error {
		if err := outboxFor(tx, seq, now, before, v, tier); err != nil {
			return err
		}
		return tx.MarkEventSeen(a.Device, a.EventID, v.ID, now)
	}
	return nil
}

type spinOutcome struct {
	r   wheel.Result
	err error
}

// startSpin has the wheel decide a spin while the arrival's own
// transaction commits, so that the spin's commit (wheel.db) and the
// arrival's (edge.db) overlap instead of following each other: the result
// waits for the slower of the two fsyncs, not for both. Deciding before
// the arrival is durable is safe: if the arrival's commit fails, the
// device resends it, and Spin, idempotent by device and spin, answers the
// redelivery with the result decided here; the result itself is sent
// only after both commits.
func startSpin(ctx context.Context, w Wheel, req wheel.SpinRequest) <-chan spinOutcome {
	ch := make(chan spinOutcome, 1)
	go func() {
		r, err := w.Spin(ctx, req)
		ch <- spinOutcome{r, err}
	}()
	return ch
}

// finishArrival does what follows an arrival's commit: the publishers,
// metrics and log, and the spin of a wheel arrival. Under mu.
func (n *Node) finishArrival(ctx context.Context, j *arrivalJob, now, committed time.Time) (*wheel.Result, error) {
	a := j.a
	if j.refused != nil {
		if j.w == nil {
			return nil, j.refused
		}
		res, rerr := n.respin(ctx, j.w, a, now)
		if rerr != nil {
			n.log.Error("redelivered wheel arrival: no result to send", "event", a.EventID, "device", a.Device, "err", rerr)
			return nil, rerr
		}
		return &res, j.refused
	}
	if j.early {
		n.publishCommitted(j.evs)
	} else {
		n.publish(j.evs)
		j.shown = n.cfg.Clock()
	}
	if a.Channel == huiyan.ChannelECode {
		sc := j.sc
		n.m.scan(sc)
		if !sc.present {
			// The subject (a display or staff id, never customer data) says
			// whose code was replayed: a staff code scanned from afar is
			// how marketing credit would be farmed.
			n.log.Info("e-code scan proves no presence", "event", a.EventID, "device", a.Device,
				"verdict", sc.verdict, "kind", sc.code.Kind, "subject", sc.code.Subject, "visit", visitID(j.visit))
		}
	}
	if j.visit == nil { // a refused scan that joined no visit
		n.m.arrival(a.Channel, j.recognised, false, j.shown.Sub(j.start), committed.Sub(j.start))
		return nil, nil
	}
	visit := j.visit
	n.devices[a.Device] = a.Channel
	n.m.arrival(a.Channel, j.recognised, j.opened, j.shown.Sub(j.start), committed.Sub(j.start))
	n.log.Debug("arrival", "event", a.EventID, "device", a.Device, "channel", a.Channel,
		"visit", visit.ID, "recognised", j.recognised, "seq", j.seq)
	if j.w == nil {
		return nil, nil
	}
	// The arrival is on disk whichever way the spin went. A failed spin
	// leaves the arrival unacknowledged; its redelivery is a duplicate, and
	// respin decides the spin then.
	var r wheel.Result
	var err error
	if j.spin != nil {
		o := <-j.spin
		r, err = o.r, o.err
	} else {
		r, err = j.w.Spin(ctx, spinRequest(a, j.customer, visit, now))
	}
	if err != nil {
		if errors.Is(err, wheel.ErrInvalid) {
			// A spin the wheel can never accept: refused and acknowledged,
			// or the broker would redeliver it forever.
			n.log.Error("wheel spin refused", "event", a.EventID, "device", a.Device, "visit", visit.ID, "err", err)
			return nil, refuseSpin(err)
		}
		n.log.Error("wheel spin not recorded; the arrival stays unacknowledged", "event", a.EventID,
			"device", a.Device, "visit", visit.ID, "err", err)
		return nil, err
	}
	n.log.Info("wheel spin", "event", a.EventID, "device", a.Device, "visit", visit.ID, "seq", r.Seq,
		"prize", r.Prize, "reason", r.Reason, "duplicate", r.Duplicate)
	return &r, nil
}

// showEarly gives an arrival's events to the PADs before its commit and
// reports whether it did: not when there are no PADs. Under mu, in the
// arrival's transaction.
func (n *Node) showEarly(evs []huiyan.FeedEvent) bool {
	b := n.pads.Load()
	if b == nil || b.p == nil {
		return false
	}
	for _, e := range evs {
		b.p.Publish(e)
	}
	return true
}

// retract handles an arrival whose events the PADs saw but whose commit
// failed: their seqs are skipped before the next feed append, and the
// PADs are told to drop them. Under mu.
func (n *Node) retract(early uint64, err error) {
	// One past the shown seqs: the newest seq then never names one of
	// them, even after a transaction that only skips (a resume from the
	// newest seq is not checked against the feed).
	n.feedFloor = max(n.feedFloor, early+1)
	n.m.retracted()
	n.log.Error("arrival shown to the PADs did not commit; PADs resync", "through_seq", early, "err", err)
	if b := n.pads.Load(); b != nil && b.p != nil {
		b.p.Retract("an arrival did not commit")
	}
}

func visitID(v *huiyan.Visit) string {
	if v == nil {
		return ""
	}
	return v.ID
}

// resolve returns the customer of the first ident that has one, or nil.
func resolve(tx Tx, idents []huiyan.Ident) (*huiyan.Customer, error) {
	for _, id := range idents {
		c, err := tx.CustomerByToken(id.Token)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	return nil, nil
}

// findVisit returns the visit subject and the open visit an arrival joins,
// or a nil visit when it opens a new one. A visit whose window has passed is
// closed on the way (its event appended to evs).
func (n *Node) findVisit(tx Tx, c *huiyan.Customer, idents []huiyan.Ident, now time.Time, evs *[]huiyan.FeedEvent) (string, *huiyan.Visit, error) {
	subjects := []string{}
	if c != nil {
		subjects = append(subjects, c.ID)
	} else {
		// A new face is known by its tokens: a later scan that carries any
		// of them joins the same visit.
		for _, id := range idents {
			subjects = append(subjects, "face:"+id.Token)
		}
	}
	for _, s := range subjects {
		v, err := tx.OpenVisitFor(s)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return "", nil, err
		}
		if v.Open(now, n.cfg.VisitWindow) {
			return s, v, nil
		}
		if err := n.closeVisit(tx, v, s, evs); err != nil {
			return "", nil, err
		}
	}
	return subjects[0], nil, nil
}

// closeVisit closes an expired visit at the end of its window.
func (n *Node) closeVisit(tx Tx, v *huiyan.Visit, subject string, evs *[]huiyan.FeedEvent) error {
	before := *v
	v.ClosedAt = v.LastSeenAt.Add(n.cfg.VisitWindow)
	if err := tx.PutVisit(v, subject); err != nil {
		return err
	}
	aud := huiyan.Audience{Roles: huiyan.Roles}
	if card, err := tx.Card(v.ID); err == nil {
		aud = card.Audience
	}
	e := huiyan.FeedEvent{Kind: huiyan.FeedVisit, At: v.ClosedAt, Audience: aud, Visit: v}
	if err := tx.AppendFeed(&e); err != nil {
		return err
	}
	if err := outboxFor(tx, e.Seq, v.ClosedAt, &before, v, ""); err != nil {
		return err
	}
	*evs = append(*evs, e)
	return nil
}

// closeLoop closes visits whose window has passed, so that PADs drop their
// cards even when the customer sends no further signal.
func (n *Node) closeLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.CloseEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.CloseExpired(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("close expired visits", "err", err)
			}
		}
	}
}

// CloseExpired closes every open visit whose window has passed.
func (n *Node) CloseExpired(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.cfg.Clock()
	var evs []huiyan.FeedEvent
	err := n.update(ctx, func(tx Tx) error {
		evs = evs[:0]
		open, err := tx.OpenVisits()
		if err != nil {
			return err
		}
		for _, v := range open {
			if v.Open(now, n.cfg.VisitWindow) {
				continue
			}
			if err := n.closeVisit(tx, v, "", &evs); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	n.publish(evs)
	n.m.closed(len(evs))
	return nil
}

// touchTime is the device's time of the signal unless the device clock is
// clearly wrong (more than five minutes off), then the edge's.
func touchTime(device, now time.Time) time.Time {
	if device.IsZero() || device.Sub(now).Abs() > 5*time.Minute {
		return now
	}
	return device
}

// newVisitID returns a unique, time-ordered visit id: the date in the
// branch's zone and 48 random bits.
func newVisitID(now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "v" + now.In(branchZone).Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// noteDevice records the channel of a device that sent an arrival. A device
// never seen before is online (it just sent something): that is a device
// event for the PADs, returned to be appended to the feed.
func (n *Node) noteDevice(tx Tx, device string, ch huiyan.Channel, now time.Time) (*huiyan.FeedEvent, error) {
	ds, err := tx.Devices()
	if err != nil {
		return nil, err
	}
	d := huiyan.DeviceState{Device: device, Channel: ch, Status: huiyan.DeviceOnline, Since: now}
	known := false
	for _, x := range ds {
		if x.Device == device {
			known = true
			d.Status, d.Since = x.Status, x.Since
		}
	}
	if err := tx.PutDevice(d); err != nil {
		return nil, err
	}
	if known {
		return nil, nil
	}
	return &huiyan.FeedEvent{Kind: huiyan.FeedDevice, At: now, Audience: huiyan.Audience{Roles: huiyan.Roles},
		Device: device, DeviceStatus: huiyan.DeviceOnline}, nil
}

// HandleStatus records a device's online/offline status.
func (n *Node) HandleStatus(ctx context.Context, device, status string, channel huiyan.Channel) error {
	if status != huiyan.DeviceOnline && status != huiyan.DeviceOffline {
		return huiyan.Errorf(huiyan.EInvalid, "device status must be %q or %q", huiyan.DeviceOnline, huiyan.DeviceOffline)
	}
	// Feed events are appended and published under mu so that PADs get
	// them in seq order.
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.cfg.Clock()
	var e huiyan.FeedEvent
	err := n.update(ctx, func(tx Tx) error {
		prev, err := tx.Devices()
		if err != nil {
			return err
		}
		for _, d := range prev {
			if d.Device == device && d.Status == status {
				e = huiyan.FeedEvent{} // no change: a retained status seen again on reconnect
				return nil
			}
			if d.Device == device && channel == "" {
				channel = d.Channel
			}
		}
		if err := tx.PutDevice(huiyan.DeviceState{Device: device, Channel: channel, Status: status, Since: now}); err != nil {
			return err
		}
		e = huiyan.FeedEvent{Kind: huiyan.FeedDevice, At: now, Audience: huiyan.Audience{Roles: huiyan.Roles},
			Device: device, DeviceStatus: status}
		return tx.AppendFeed(&e)
	})
	if err != nil {
		return err
	}
	if e.Seq != 0 {
		n.publish([]huiyan.FeedEvent{e})
		n.log.Info("device status", "device", device, "status", status)
	}
	return nil
}
