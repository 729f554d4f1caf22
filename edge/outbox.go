package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/funnel"
)

// The outbox (edge/DESIGN.md, "Outbox"): every change of a visit puts its
// hub events into the store's outbox in the transaction that records the
// change, and a Sender drains the outbox to the hub.

// eventID is the hub event id of one kind of change recorded with the feed
// event seq of visit: "{visit}:{seq}:{kind}". The feed seq makes it unique
// within the visit (one change, one feed event) and the kind within the
// change (an arrival that opens a visit and converts it makes two events);
// the visit id, random, keeps it unique within the branch even if the
// store were rebuilt and the feed seq started again at 1, where a bare seq
// would make the hub drop new events as duplicates of old ones. The id is
// stored with the event, so a resend carries the same id.
func eventID(visit string, seq uint64, kind hub.EventKind) string {
	b := make([]byte, 0, len(visit)+1+20+1+len(kind))
	b = append(b, visit...)
	b = append(b, ':')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ':')
	return string(append(b, kind...))
}

// outboxFor appends to the outbox the hub events of one committed change of
// a visit: before is the visit as it was (nil for a visit this change
// opened), after as it is now, seq the feed seq of the change's feed event,
// at the time of the change, tier the customer's tier for an opened visit of
// a known customer. It is called inside the transaction that stores the
// change, after its feed event is appended, so the change and its events
// are durable together. Events carry no customer id, name or token.
func outboxFor(tx Tx, seq uint64, at time.Time, before, after *huiyan.Visit, tier huiyan.Tier) error {
	v := after
	ev := func(kind hub.EventKind, when time.Time) hub.EventWire {
		if when.IsZero() {
			when = at
		}
		return hub.EventWire{ID: eventID(v.ID, seq, kind), Kind: kind, At: when, Visit: v.ID}
	}
	var buf [6]hub.EventWire
	evs := buf[:0]
	var prev huiyan.Visit
	if before == nil {
		e := ev(hub.EventOpened, v.OpenedAt)
		e.Channel = v.Channel
		if v.CustomerID != "" {
			e.Recognised, e.MBankAtOpen, e.Tier = true, v.MBankAtOpen, tier
		}
		evs = append(evs, e)
	} else {
		prev = *before
		if n := len(v.Touchpoints); n > len(prev.Touchpoints) {
			e := ev(hub.EventTouch, at)
			e.Channel, e.Refused = v.Touchpoints[n-1].Channel, v.Touchpoints[n-1].Refused
			evs = append(evs, e)
		}
	}
	switch {
	case prev.Converted == huiyan.ConversionNone && v.Converted != huiyan.ConversionNone:
		e := ev(hub.EventConverted, v.ConvertedAt)
		e.Conversion, e.Staff = v.Converted, v.AttributedTo
		evs = append(evs, e)
	case prev.Converted != huiyan.ConversionNone && prev.AttributedTo == "" && v.AttributedTo != "":
		// Re-attribution: a staff member's code scanned after the branch
		// code converted the visit takes the credit (staff code beats
		// branch code). A second converted event says so; the fold
		// (funnel.Visit.Apply) moves the credit and counts the
		// conversion once. At is this change, not the conversion.
		e := ev(hub.EventConverted, at)
		e.Conversion, e.Staff = v.Converted, v.AttributedTo
		evs = append(evs, e)
	}
	if prev.ClaimedBy != v.ClaimedBy {
		if prev.ClaimedBy != "" {
			e := ev(hub.EventReleased, at)
			e.Staff = prev.ClaimedBy // whose claim ended, whoever ended it
			evs = append(evs, e)
		}
		if v.ClaimedBy != "" {
			e := ev(hub.EventClaimed, v.ClaimedAt)
			e.Staff = v.ClaimedBy
			evs = append(evs, e)
		}
	}
	if v.Outcome != "" && (v.Outcome != prev.Outcome || v.OutcomeBy != prev.OutcomeBy || !v.OutcomeAt.Equal(prev.OutcomeAt)) {
		e := ev(hub.EventOutcome, v.OutcomeAt)
		e.Staff, e.Outcome = v.OutcomeBy, v.Outcome
		evs = append(evs, e)
	}
	if prev.ClosedAt.IsZero() && !v.ClosedAt.IsZero() {
		evs = append(evs, ev(hub.EventClosed, v.ClosedAt))
	}
	if len(evs) == 0 {
		return nil
	}
	for _, e := range evs {
		if err := tx.AppendOutbox(e); err != nil {
			return err
		}
	}
	return foldFunnel(tx, v.Branch, evs)
}

// foldFunnel folds a change's events into the visit's funnel facts, in the
// transaction that puts them into the outbox: the supervisor's report
// (Node.Report) reads the facts, the hub folds the same events with the
// same code (funnel.Visit.Apply), so the branch screen and HQ agree to the
// visit. The events are all of one visit.
func foldFunnel(tx Tx, branch string, evs []hub.EventWire) error {
	id := evs[0].Visit
	f, err := tx.FunnelVisit(id)
	switch {
	case errors.Is(err, ErrNotFound):
		f = &funnel.Visit{}
	case err != nil:
		return fmt.Errorf("funnel facts of visit %s: %w", id, err)
	}
	for i := range evs {
		f.Apply(branch, &evs[i])
	}
	return tx.PutFunnelVisit(f)
}

// tierOf is the tier an opened event carries: none for a new face.
func tierOf(c *huiyan.Customer) huiyan.Tier {
	if c == nil {
		return ""
	}
	return c.Tier
}

// OutboxMetrics are the outbox's Prometheus metrics. A nil *OutboxMetrics
// records nothing.
type OutboxMetrics struct {
	Depth    prometheus.Gauge   // huiyan_edge_outbox_depth
	Oldest   prometheus.Gauge   // huiyan_edge_outbox_oldest_seconds
	Sent     prometheus.Counter // huiyan_edge_outbox_sent_total
	Failures prometheus.Counter // huiyan_edge_outbox_send_failures_total
	Invalid  prometheus.Counter // huiyan_edge_outbox_invalid_total
	// Dropped (huiyan_edge_outbox_dropped_total) reads the store's count of
	// events dropped at a limit, as last seen by the Sender: it survives
	// restarts, as the drops themselves do.
	Dropped prometheus.CounterFunc
	dropped atomic.Uint64
	// Refused (huiyan_edge_hub_credential_refused) is 1 while the hub
	// refuses this edge's credential (401 or 403 to the last batch): it
	// was revoked or rotated, or the config holds a wrong one. Events keep
	// buffering; an operator must act.
	Refused prometheus.Gauge
}

// NewOutboxMetrics creates the metrics and registers them with reg (if not
// nil).
func NewOutboxMetrics(reg prometheus.Registerer) *OutboxMetrics {
	m := &OutboxMetrics{
		Depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "huiyan_edge_outbox_depth", Help: "Visit events waiting in the outbox for the hub.",
		}),
		Oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "huiyan_edge_outbox_oldest_seconds", Help: "Age of the oldest visit event waiting for the hub; 0 when none waits.",
		}),
		Sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huiyan_edge_outbox_sent_total", Help: "Visit events the hub acknowledged (new or already held).",
		}),
		Failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huiyan_edge_outbox_send_failures_total", Help: "Event batches the hub did not acknowledge (sent again after a backoff).",
		}),
		Invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huiyan_edge_outbox_invalid_total", Help: "Outbox events skipped because the hub contract refuses them (a bug; logged with their ids).",
		}),
	}
	m.Dropped = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "huiyan_edge_outbox_dropped_total", Help: "Visit events dropped unsent at the outbox's depth or age limit, since the store was created.",
	}, func() float64 { return float64(m.dropped.Load()) })
	m.Refused = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "huiyan_edge_hub_credential_refused",
		Help: "1 while the hub refuses this edge's credential (401/403: revoked, rotated or wrong); events keep buffering until an operator fixes hub.token.",
	})
	if reg != nil {
		reg.MustRegister(m.Depth, m.Oldest, m.Sent, m.Failures, m.Invalid, m.Dropped, m.Refused)
	}
	return m
}

func (m *OutboxMetrics) observe(st OutboxStats, now time.Time) {
	if m == nil {
		return
	}
	m.Depth.Set(float64(st.Depth))
	age := 0.0
	if !st.Oldest.IsZero() {
		age = max(0, now.Sub(st.Oldest).Seconds())
	}
	m.Oldest.Set(age)
	m.dropped.Store(st.Dropped)
}

func (m *OutboxMetrics) sent(n, invalid int) {
	if m != nil {
		m.Sent.Add(float64(n))
		m.Invalid.Add(float64(invalid))
	}
}

func (m *OutboxMetrics) failed() {
	if m != nil {
		m.Failures.Inc()
	}
}

func (m *OutboxMetrics) refused(yes bool) {
	if m == nil {
		return
	}
	if yes {
		m.Refused.Set(1)
	} else {
		m.Refused.Set(0)
	}
}

// SenderConfig configures a Sender. Zero values take the defaults.
type SenderConfig struct {
	Branch string
	Client *hub.Client
	// Batch is the most events one POST carries (default and at most
	// hub.MaxEventBatch).
	Batch int
	// Poll is how often an empty outbox is looked at (default 1 s). New
	// events do not wait for it: Publish wakes the sender as soon as they
	// are committed; the poll is the safety net.
	Poll time.Duration
	// Backoff is the wait after a first failure (default 1 s); it doubles
	// with every further failure up to MaxBackoff (default 30 s), with
	// jitter. The cap bounds how long a returned link waits for the first
	// try; Kick skips the wait. A refused credential (401, 403) waits the
	// cap at once: trying sooner cannot help.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// WarnDepth and WarnAge are where Warn starts to warn, long before the
	// store's limits: default a tenth of the depth limit, and a day (at
	// most half the age limit).
	WarnDepth int
	WarnAge   time.Duration
	Clock     func() time.Time
	Logger    *slog.Logger
	Metrics   *OutboxMetrics
}

// Sender drains the store's outbox to the hub (POST
// /v1/branches/{branch}/events), oldest first, in batches; a batch is
// deleted from the outbox only after the hub answered 200, which it does
// only once the batch is committed. A failed or unanswered batch is sent
// again, with the same ids, after a capped exponential backoff with full
// jitter: the hub stores every event once by id, so a lost answer never
// counts an event twice. Sending oldest first, one batch at a time, keeps
// the order of every visit's events.
type Sender struct {
	store Store
	cfg   SenderConfig
	log   *slog.Logger
	kick  chan struct{} // skips any wait
	wake  chan struct{} // new events: skips the idle poll wait only

	stats     atomic.Pointer[OutboxStats] // as last seen
	dropped0  atomic.Int64                // Dropped when first seen, -1 before
	lastError atomic.Pointer[string]
	// refused is the hub's refusal of the credential, nil while it is
	// accepted (or nothing was sent yet).
	refused atomic.Pointer[string]
	waits   atomic.Pointer[[]time.Duration] // for tests: the waits after failures, newest last
}

// maxWaitsKept bounds the failure waits a Sender remembers for tests.
const maxWaitsKept = 64

// NewSender returns a sender on store; Run it.
func NewSender(store Store, cfg SenderConfig) *Sender {
	if cfg.Batch <= 0 || cfg.Batch > hub.MaxEventBatch {
		cfg.Batch = hub.MaxEventBatch
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sender{store: store, cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	s.dropped0.Store(-1)
	return s
}

// Kick makes a waiting Run try at once, skipping a poll or backoff wait:
// for a caller that knows the link is back (a hub sync just succeeded).
// It never blocks.
func (s *Sender) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Publish implements Publisher: the node calls it with every feed event
// right after the transaction that recorded it committed, and every change
// of a visit that puts events into the outbox records an arrival or visit
// feed event in that same transaction (outboxFor takes its seq). So the
// sender learns of new events at once instead of at its next poll. It
// wakes only an idle sender: one that backs off after a failure keeps
// waiting, so that a busy branch cannot hammer a hub that is down or
// refuses it. It never blocks.
func (s *Sender) Publish(e huiyan.FeedEvent) {
	if e.Kind != huiyan.FeedArrival && e.Kind != huiyan.FeedVisit {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Publishers passes every event to each of its publishers in order: the
// node has one Publisher, the PAD server, the outbox sender and the
// heartbeat all want its events. Each must not block.
type Publishers []Publisher

// Publish implements Publisher.
func (ps Publishers) Publish(e huiyan.FeedEvent) {
	for _, p := range ps {
		if p != nil {
			p.Publish(e)
		}
	}
}

// Run sends until ctx ends: whenever the outbox holds events, a batch at a
// time; polling every Poll when it is empty; backing off after a failure.
func (s *Sender) Run(ctx context.Context) error {
	fails := 0
	refused := false // the last failure was a refusal: said once at Error
	for {
		n, err := s.SendOnce(ctx)
		var wait time.Duration
		idle := false
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			fails++
			wait = s.retryWait(err, fails)
			s.noteWait(wait)
			switch {
			case refusal(err) && !refused:
				s.log.Error("hub refuses this edge's credential: visit events are kept until hub.token is fixed",
					"reason", hub.Reason(err), "err", err, "failures", fails, "retry_in", wait.Round(time.Millisecond))
			default:
				s.log.Warn("send events to the hub", "reason", hub.Reason(err), "err", err, "failures", fails, "retry_in", wait.Round(time.Millisecond))
			}
			refused = refusal(err)
		case n > 0:
			if fails > 0 {
				s.log.Info("hub reachable again; sending the outbox", "failures", fails)
			}
			fails, refused = 0, false
			continue
		default:
			fails, refused = 0, false
			wait, idle = s.cfg.Poll, true
		}
		var wake <-chan struct{}
		if idle {
			wake = s.wake
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		case <-s.kick:
			t.Stop()
		case <-wake:
			t.Stop()
		}
	}
}

// refusal reports whether err is the hub refusing the credential itself
// (401: unknown or revoked; 403: not this branch's): no retry soon helps.
func refusal(err error) bool {
	return errors.Is(err, hub.ErrUnauthorized) || errors.Is(err, hub.ErrForbidden)
}

// retryWait is the wait before the next try after the fails-th failure in
// a row: exponential backoff with jitter, and the cap at once for a
// refused credential.
func (s *Sender) retryWait(err error, fails int) time.Duration {
	if refusal(err) {
		return backoff(s.cfg.MaxBackoff, s.cfg.MaxBackoff, 1)
	}
	return backoff(s.cfg.Backoff, s.cfg.MaxBackoff, fails)
}

func (s *Sender) noteWait(d time.Duration) {
	var ws []time.Duration
	if old := s.waits.Load(); old != nil {
		ws = append(ws, (*old)[max(0, len(*old)-maxWaitsKept+1):]...)
	}
	ws = append(ws, d)
	s.waits.Store(&ws)
}

// Waits returns the waits Run chose after its most recent failures (up to
// 64), oldest first: what tests and operators check the backoff by.
func (s *Sender) Waits() []time.Duration {
	if ws := s.waits.Load(); ws != nil {
		return append([]time.Duration(nil), *ws...)
	}
	return nil
}

// Refused returns the hub's refusal of this edge's credential from the
// last try, "" when it was accepted (or not tried yet).
func (s *Sender) Refused() string {
	if r := s.refused.Load(); r != nil {
		return *r
	}
	return ""
}

// SendOnce sends the oldest batch of the outbox and deletes it once the
// hub acknowledged it. It returns how many events left the outbox (0 when
// it was empty). Events the hub contract refuses (EventWire.Validate) are
// logged by id, counted and deleted with their batch, rather than holding
// up every later event forever.
func (s *Sender) SendOnce(ctx context.Context) (int, error) {
	now := s.cfg.Clock()
	var items []OutboxItem
	var st OutboxStats
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if st, err = tx.OutboxStats(); err != nil {
			return err
		}
		items, err = tx.OutboxBatch(s.cfg.Batch)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	if st.Depth > st.MaxDepth || (!st.Oldest.IsZero() && now.Sub(st.Oldest) > st.MaxAge) {
		// Nothing was appended for long (appends trim as they go).
		return s.trim(ctx, now)
	}
	s.observe(st, now)
	if len(items) == 0 {
		return 0, nil
	}
	batch := hub.EventBatch{Events: make([]hub.EventWire, 0, len(items))}
	invalid := 0
	for _, it := range items {
		if err := it.Event.Validate(); err != nil {
			invalid++
			s.log.Error("outbox event refused by the hub contract; skipped", "id", it.Event.ID, "visit", it.Event.Visit, "err", err)
			continue
		}
		batch.Events = append(batch.Events, it.Event)
	}
	var ack hub.EventAck
	if len(batch.Events) > 0 {
		if ack, err = s.cfg.Client.PostEvents(ctx, s.cfg.Branch, batch); err != nil {
			s.cfg.Metrics.failed()
			msg := err.Error()
			s.lastError.Store(&msg)
			if refusal(err) {
				s.refused.Store(&msg)
				s.cfg.Metrics.refused(true)
			}
			return 0, fmt.Errorf("post %d events: %w", len(batch.Events), err)
		}
		s.refused.Store(nil)
		s.cfg.Metrics.refused(false)
	}
	s.lastError.Store(nil)
	last := items[len(items)-1].Key
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.AckOutbox(last); err != nil {
			return err
		}
		st, err = tx.OutboxStats()
		return err
	})
	if err != nil {
		// The hub has them; the next try sends them again and the hub
		// answers them as duplicates.
		return 0, fmt.Errorf("acknowledge outbox up to %d: %w", last, err)
	}
	s.cfg.Metrics.sent(len(batch.Events), invalid)
	s.observe(st, s.cfg.Clock())
	if ack.Accepted+ack.Duplicates != len(batch.Events) {
		s.log.Warn("hub acknowledged a different number of events", "sent", len(batch.Events), "accepted", ack.Accepted, "duplicates", ack.Duplicates)
	}
	s.log.Debug("events sent", "events", len(batch.Events), "accepted", ack.Accepted, "duplicates", ack.Duplicates,
		"first", items[0].Event.ID, "last", items[len(items)-1].Event.ID, "depth", st.Depth)
	return len(items), nil
}

// trim drops what the store's limits say must go, as of now.
func (s *Sender) trim(ctx context.Context, now time.Time) (int, error) {
	var n int
	var st OutboxStats
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if n, err = tx.TrimOutbox(now); err != nil {
			return err
		}
		st, err = tx.OutboxStats()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("trim outbox: %w", err)
	}
	s.observe(st, now)
	s.log.Warn("outbox limit reached: oldest events dropped unsent", "dropped", n, "dropped_total", st.Dropped, "depth", st.Depth)
	return n, nil
}

func (s *Sender) observe(st OutboxStats, now time.Time) {
	s.stats.Store(&st)
	s.dropped0.CompareAndSwap(-1, int64(st.Dropped))
	s.cfg.Metrics.observe(st, now)
}

// Stats returns the outbox as the sender last saw it (the zero value
// before its first look).
func (s *Sender) Stats() OutboxStats {
	if st := s.stats.Load(); st != nil {
		return *st
	}
	return OutboxStats{}
}

// Warn returns a one-line warning for /healthz, or "" when all is well: the
// hub refuses this edge's credential, the outbox is deeper than WarnDepth,
// its oldest event older than WarnAge, or events were dropped at a limit
// since the sender started. The thresholds are far below the limits, so
// operators hear of a dead link or hub weeks before anything is lost; a
// refused credential is said at once, since only an operator can fix it.
func (s *Sender) Warn() string {
	st := s.stats.Load()
	if st == nil {
		return ""
	}
	var w []string
	if s.refused.Load() != nil {
		w = append(w, fmt.Sprintf("hub refuses this edge's credential (revoked, rotated or a wrong hub.token): "+
			"%d visit events kept in the outbox until an operator fixes it", st.Depth))
	}
	warnDepth := s.cfg.WarnDepth
	if warnDepth <= 0 {
		warnDepth = max(1, st.MaxDepth/10)
	}
	warnAge := s.cfg.WarnAge
	if warnAge <= 0 {
		warnAge = min(24*time.Hour, st.MaxAge/2)
	}
	if d0 := s.dropped0.Load(); d0 >= 0 && st.Dropped > uint64(d0) {
		w = append(w, fmt.Sprintf("%d visit events dropped unsent at the outbox limit (%d events, %s)", st.Dropped-uint64(d0), st.MaxDepth, st.MaxAge))
	}
	if st.Depth >= warnDepth {
		w = append(w, fmt.Sprintf("outbox holds %d visit events (limit %d)", st.Depth, st.MaxDepth))
	}
	if !st.Oldest.IsZero() {
		if age := s.cfg.Clock().Sub(st.Oldest); age >= warnAge {
			w = append(w, fmt.Sprintf("oldest unsent visit event is %s old (dropped at %s)", age.Round(time.Minute), st.MaxAge))
		}
	}
	if len(w) == 0 {
		return ""
	}
	msg := "hub events: " + strings.Join(w, "; ")
	if e := s.lastError.Load(); e != nil {
		msg += "; last error: " + *e
	}
	return msg
}
