package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
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
// Retract says that events given early did not commit (the commit failed):
// the PADs must drop what they were shown since their last durable seq,
// which they do by reconnecting and resuming (a seq that names no event
// resumes with the state). The node never gives those seqs to another
// event.
type PADs interface {
	Publish(e huiyan.FeedEvent)
	Retract(reason string)
}

// maxEarly bounds the events of one arrival that go to the PADs before
// the commit, and feedGap is the seqs skipped at every start: more than
// maxEarly, so that a seq a PAD may have been shown just before a crash
// never names another event after the restart.
const (
	maxEarly = 16
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
	n.mu.Lock()
	n.feedFloor = newest + feedGap
	n.mu.Unlock()
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
	if b := n.pads.Load(); b != nil && b.p != nil {
		for _, e := range evs {
			b.p.Publish(e)
		}
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

// record is HandleArrival under n.mu. For a wheel arrival with a wheel it
// returns the spin's result to send (also with a duplicate error).
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
	w := n.cfg.Wheel
	if a.Channel != huiyan.ChannelWheel {
		w = nil
	}
	idents := append([]huiyan.Ident(nil), a.Idents...)
	sort.SliceStable(idents, func(i, j int) bool { return identOrder[idents[i].Kind] < identOrder[idents[j].Kind] })

	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.cfg.Clock()
	var evs []huiyan.FeedEvent
	var recognised, opened bool
	var visit *huiyan.Visit
	var seq uint64
	var sc scan
	var customer string // the spinner, "" for a new face
	var early uint64    // the newest seq the PADs were given before the commit
	var shown time.Time // when they were given it
	err := n.update(ctx, func(tx Tx) error {
		evs, early = evs[:0], 0
		sc = scan{present: true}
		if _, err := tx.EventSeen(a.Device, a.EventID); err == nil {
			return huiyan.Errorf(firmware.EDuplicate, "arrival %s was already received", a.EventID)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		c, err := resolve(tx, idents)
		if err != nil {
			return err
		}
		recognised = c != nil
		customer = ""
		if c != nil {
			customer = c.ID
		}
		if a.Channel == huiyan.ChannelECode {
			if sc, err = n.verifyScan(tx, a.Code, now); err != nil {
				return err
			}
		}
		subject, v, err := n.findVisit(tx, c, idents, now, &evs)
		if err != nil {
			return err
		}
		if !sc.present && v == nil {
			// A scan that proves no presence opens no visit: the customer
			// is elsewhere, and a card would send staff looking for them.
			// It is received all the same (a redelivery is a duplicate),
			// counted and logged; any visit closed on the way is published.
			visit = nil
			if err := tx.MarkEventSeen(a.Device, a.EventID, "", now); err != nil {
				return err
			}
			early, shown = n.showEarly(evs), n.cfg.Clock()
			return nil
		}
		tp := huiyan.Touchpoint{EventID: a.EventID, Channel: a.Channel, Device: a.Device, At: touchTime(a.At, now)}
		if !sc.present {
			tp.Refused = string(sc.verdict)
		}
		var before *huiyan.Visit // the visit as it was, for the outbox
		if v != nil {
			b := *v
			before = &b
		}
		if v == nil {
			opened = true
			v = &huiyan.Visit{ID: newVisitID(now), Branch: n.cfg.Branch, OpenedAt: now, Channel: a.Channel}
			if c != nil {
				v.CustomerID, v.MBankAtOpen = c.ID, c.MBankStatus
			}
		}
		if sc.present {
			// Only a presence keeps the visit open: a refused scan is on
			// record, but the customer was not seen.
			v.LastSeenAt = now
		}
		v.Touchpoints = append(v.Touchpoints, tp)
		if a.Channel == huiyan.ChannelECode && sc.present && c != nil {
			sc.convert(v, now)
		}
		if err := tx.PutVisit(v, subject); err != nil {
			return err
		}
		var card *huiyan.Card
		vi := len(evs) // the visit's feed event
		if opened {
			card = n.compose(v, c, a.Channel, now)
			if err := tx.PutCard(card); err != nil {
				return err
			}
			evs = append(evs, huiyan.FeedEvent{Kind: huiyan.FeedArrival, At: now, Audience: card.Audience,
				Visit: v, Profile: card.Profile, Actions: card.Actions})
		} else {
			if card, err = tx.Card(v.ID); err != nil {
				return fmt.Errorf("card of visit %s: %w", v.ID, err)
			}
			evs = append(evs, huiyan.FeedEvent{Kind: huiyan.FeedVisit, At: now, Audience: card.Audience, Visit: v})
		}
		if n.devices[a.Device] != a.Channel {
			if e, err := n.noteDevice(tx, a.Device, a.Channel, now); err != nil {
				return err
			} else if e != nil {
				evs = append(evs, *e)
			}
		}
		for i := vi; i < len(evs); i++ { // visits closed on the way are in the feed already
			if err := tx.AppendFeed(&evs[i]); err != nil {
				return err
			}
		}
		if err := outboxFor(tx, evs[vi].Seq, now, before, v, tierOf(c)); err != nil {
			return err
		}
		visit, seq = v, evs[len(evs)-1].Seq
		if err := tx.MarkEventSeen(a.Device, a.EventID, v.ID, now); err != nil {
			return err
		}
		// Everything is written; only the commit (and its fsync) is left.
		// The PADs see the arrival now, the device's PUBACK waits for the
		// commit.
		early, shown = n.showEarly(evs), n.cfg.Clock()
		return nil
	})
	if err != nil && early > 0 {
		n.retract(early, err)
	}
	if err != nil {
		if huiyan.ErrorCode(err) != firmware.EDuplicate {
			n.log.Error("arrival not recorded", "event", a.EventID, "device", a.Device, "err", err)
			return nil, err
		}
		if w == nil {
			return nil, err
		}
		res, rerr := n.respin(ctx, w, a, now)
		if rerr != nil {
			n.log.Error("redelivered wheel arrival: no result to send", "event", a.EventID, "device", a.Device, "err", rerr)
			return nil, rerr
		}
		return &res, err
	}
	committed := n.cfg.Clock()
	if early > 0 {
		n.publishCommitted(evs)
	} else {
		n.publish(evs)
		shown = n.cfg.Clock()
	}
	if a.Channel == huiyan.ChannelECode {
		n.m.scan(sc)
		if !sc.present {
			// The subject (a display or staff id, never customer data) says
			// whose code was replayed: a staff code scanned from afar is
			// how marketing credit would be farmed.
			n.log.Info("e-code scan proves no presence", "event", a.EventID, "device", a.Device,
				"verdict", sc.verdict, "kind", sc.code.Kind, "subject", sc.code.Subject, "visit", visitID(visit))
		}
	}
	if visit == nil { // a refused scan that joined no visit
		n.m.arrival(a.Channel, recognised, false, shown.Sub(start), committed.Sub(start))
		return nil, nil
	}
	n.devices[a.Device] = a.Channel
	n.m.arrival(a.Channel, recognised, opened, shown.Sub(start), committed.Sub(start))
	n.log.Debug("arrival", "event", a.EventID, "device", a.Device, "channel", a.Channel,
		"visit", visit.ID, "recognised", recognised, "seq", seq)
	var res *wheel.Result
	if w != nil {
		// After the commit: the arrival is on disk whichever way the spin
		// goes. A failed spin leaves the arrival unacknowledged; its
		// redelivery is a duplicate, and respin decides the spin then.
		r, err := w.Spin(ctx, spinRequest(a, customer, visit, now))
		if err != nil {
			if errors.Is(err, wheel.ErrInvalid) {
				// A spin the wheel can never accept: refused and
				// acknowledged, or the broker would redeliver it forever.
				n.log.Error("wheel spin refused", "event", a.EventID, "device", a.Device, "visit", visit.ID, "err", err)
				return nil, refuseSpin(err)
			}
			n.log.Error("wheel spin not recorded; the arrival stays unacknowledged", "event", a.EventID,
				"device", a.Device, "visit", visit.ID, "err", err)
			return nil, err
		}
		res = &r
		n.log.Info("wheel spin", "event", a.EventID, "device", a.Device, "visit", visit.ID, "seq", r.Seq,
			"prize", r.Prize, "reason", r.Reason, "duplicate", r.Duplicate)
	}
	return res, nil
}

// showEarly gives an arrival's events to the PADs before its commit and
// returns the newest seq given, 0 when none was (no PADs, no events, or
// more than maxEarly: those wait for the commit). Called last in the
// arrival's transaction function, under mu.
func (n *Node) showEarly(evs []huiyan.FeedEvent) uint64 {
	b := n.pads.Load()
	if b == nil || b.p == nil || len(evs) == 0 || len(evs) > maxEarly {
		return 0
	}
	for _, e := range evs {
		b.p.Publish(e)
	}
	return evs[len(evs)-1].Seq
}

// retract handles an arrival whose events the PADs saw but whose commit
// failed: their seqs are skipped before the next feed append, and the
// PADs are told to drop them. Under mu.
func (n *Node) retract(early uint64, err error) {
	n.feedFloor = max(n.feedFloor, early)
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
