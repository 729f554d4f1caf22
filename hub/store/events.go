package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/funnel"
)

// Upstream events, edge heartbeats, funnel reports and their retention
// (DESIGN.md in this folder, "Events and reports").
//
// An edge's batch of events is one raft command (cmdEvents). Applying it
// stores every event id once per branch (bEvents, with bEventAt by the
// event's time for retention) and folds every new event into its visit's
// facts (bVisits, funnel.Visit: the same fold the edge runs), indexed by
// the day the visit opened (bVisitDay). An event whose id the branch
// already sent is a duplicate and changes nothing: that is what makes a
// resent batch harmless. Reports read only the index entries of their
// days.

// EventsResult is what one batch of events did.
type EventsResult struct {
	Accepted   int `json:"accepted"`   // new events, stored and folded
	Duplicates int `json:"duplicates"` // ids the branch had sent before
	// Expired events are older than the retention horizon: their day was
	// purged, so they are dropped rather than make a visit that no report
	// would read and no purge would reach again.
	Expired int `json:"expired"`
}

// EdgeStatus is the last heartbeat of a branch's edge (hub.EdgeStatus) as
// the hub keeps it (the status bucket, the edge_status command), with the
// hub's receive time. Branch shows its fields.
type EdgeStatus struct {
	// ReceivedAt is the leader's clock when the heartbeat was replicated:
	// "last seen". Heartbeats that change nothing are replicated at most
	// every StatusRefresh, so it trails the newest one by up to that.
	ReceivedAt      time.Time `json:"received_at"`
	At              time.Time `json:"at"` // the edge's clock
	Version         string    `json:"version,omitempty"`
	SnapshotVersion int64     `json:"snapshot_version"`
	OutboxDepth     int       `json:"outbox_depth"`
	OutboxOldest    time.Time `json:"outbox_oldest,omitzero"`
	DevicesOnline   int       `json:"devices_online"`
	DevicesOffline  int       `json:"devices_offline"`
	Devices         []Device  `json:"devices"`
}

// Device is one device an edge reported.
type Device struct {
	ID      string    `json:"device"`
	Channel string    `json:"channel,omitempty"`
	Online  bool      `json:"online"`
	Since   time.Time `json:"since,omitzero"`
}

// Edge states of a branch (Branch.EdgeState).
const (
	EdgeNone    = "none"    // no credential was ever issued: no edge can connect
	EdgeUnknown = "unknown" // a credential exists, but no edge has reported with it yet
	EdgeOnline  = "online"  // last seen within EdgeStale
	EdgeOffline = "offline" // last seen longer ago
)

// StatusRefresh is how often an unchanged heartbeat is replicated. Edges
// report every minute; replicating each would cost ~600 log entries a
// minute for a province, for a "last seen" that is good enough to a few
// minutes. A heartbeat that changes anything (devices, backlog, versions)
// is replicated at once.
const StatusRefresh = 3 * time.Minute

// EdgeStale is how long after its last replicated heartbeat an edge
// counts as offline: StatusRefresh plus two missed one-minute heartbeats.
const EdgeStale = StatusRefresh + 2*time.Minute

// PurgeResult is what a purge removed.
type PurgeResult struct {
	Before string `json:"before"` // the first day kept (YYYY-MM-DD, CST)
	Visits int    `json:"visits"`
	Events int    `json:"events"` // event ids forgotten
}

// purgeLimit bounds what one purge command removes (visits, and event ids
// again): a day of a province is ~200,000 visits and ~1,000,000 events,
// more than one FSM transaction should hold.
var purgeLimit = 50_000

// FunnelQuery selects a funnel report (GET /v1/reports/funnel).
type FunnelQuery struct {
	Branch string       // "" for every branch
	From   string       // first day, YYYY-MM-DD (CST), inclusive
	To     string       // last day, inclusive; at most funnel.MaxDays after From
	Group  funnel.Group // rows by branch, day, or both; the total only when ""
}

// --- writes (leader) ---

// RecordEvents stores a batch of a branch's visit events through raft, as
// one command, and returns once it is committed and applied here (the
// leader): only then may the edge forget the batch. Each event is stored
// once by id; a resent batch comes back as duplicates. Leader only.
func (s *Store) RecordEvents(ctx context.Context, branch string, evs []hub.EventWire) (EventsResult, error) {
	if !huiyan.ValidBranchID(branch) {
		return EventsResult{}, huiyan.Errorf(huiyan.EInvalid, "%q is not a branch id", branch)
	}
	batch := hub.EventBatch{Events: evs}
	if err := batch.Validate(); err != nil {
		return EventsResult{}, huiyan.Errorf(huiyan.EInvalid, "%v", err)
	}
	if !s.IsLeader() {
		return EventsResult{}, ErrNotLeader
	}
	h := eventBatchCmd{Branch: branch, Events: make([]eventRecord, len(evs)), At: time.Now().UTC()}
	for i := range evs {
		h.Events[i] = toRecord(&evs[i])
	}
	v, err := s.apply(ctx, cmdEvents, h, nil)
	if err != nil {
		return EventsResult{}, err
	}
	r, _ := v.(EventsResult)
	if r.Expired > 0 {
		s.log.Warn("events older than the retention horizon dropped", "branch", branch, "expired", r.Expired)
	}
	return r, nil
}

// ReportStatus records a branch's edge heartbeat through raft, with this
// node's clock as "last seen". A heartbeat equal to the last one (but for
// the edge's clock) within StatusRefresh is not replicated again. Leader
// only.
func (s *Store) ReportStatus(ctx context.Context, branch string, st hub.EdgeStatus) error {
	if !huiyan.ValidBranchID(branch) {
		return huiyan.Errorf(huiyan.EInvalid, "%q is not a branch id", branch)
	}
	if err := st.Validate(); err != nil {
		return huiyan.Errorf(huiyan.EInvalid, "%v", err)
	}
	if !s.IsLeader() {
		return ErrNotLeader
	}
	now := time.Now().UTC()
	next := edgeStatusOf(&st, now)
	cur, err := s.fsm.edgeStatus(branch)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if cur != nil && sameStatus(cur, &next) && now.Sub(cur.ReceivedAt) < StatusRefresh {
		return nil
	}
	_, err = s.apply(ctx, cmdEdgeStatus, statusCmd{Branch: branch, Status: next}, nil)
	return err
}

// PurgeEvents forgets the visits that opened before the day of before
// (CST) and the event ids of events older than that day's first instant,
// through raft, in as many commands as it takes. From then on the branch
// ingest drops events older than that instant (EventsResult.Expired).
// Leader only.
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (PurgeResult, error) {
	day := funnel.Day(before, nil)
	total := PurgeResult{Before: day}
	for {
		if !s.IsLeader() {
			return total, ErrNotLeader
		}
		need, err := s.fsm.purgeNeeded(day)
		if err != nil || !need {
			return total, err
		}
		v, err := s.apply(ctx, cmdPurgeEvents, purgeCmd{Before: day, Limit: purgeLimit, At: time.Now().UTC()}, nil)
		if err != nil {
			return total, err
		}
		r, _ := v.(PurgeResult)
		total.Visits += r.Visits
		total.Events += r.Events
		if r.Visits == 0 && r.Events == 0 {
			// Only the horizon moved (or nothing could be removed): never
			// spin proposing commands that change nothing.
			return total, nil
		}
	}
}

// RunRetention purges visit data older than keep (DESIGN.md: 180 days by
// default) every interval, on the leader only, until ctx ends or the
// store closes. keep must be at least a day. It purges once at start, so
// that a shortened retention takes effect without waiting a whole
// interval. Run it on every node after Open: whichever leads acts.
func (s *Store) RunRetention(ctx context.Context, every, keep time.Duration) error {
	if keep < 24*time.Hour {
		return fmt.Errorf("store: retention %s is shorter than a day", keep)
	}
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if s.IsLeader() {
			r, err := s.PurgeEvents(ctx, time.Now().Add(-keep))
			switch {
			case err != nil && ctx.Err() == nil && !errors.Is(err, ErrNotLeader):
				s.log.Warn("retention purge failed; retrying at the next interval", "err", err)
			case r.Visits > 0 || r.Events > 0:
				s.log.Info("retention purge", "before", r.Before, "visits", r.Visits, "event_ids", r.Events)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.ctx.Done(): // the store closed
			return nil
		case <-t.C:
		}
	}
}

// --- reads (any node, its own state) ---

// Funnel computes the funnel report of the query from this node's state.
// A follower may trail the leader by the entries it has not applied yet
// (milliseconds on a healthy cluster). Each day is read in its own read
// transaction, so a long report never holds one open for long.
func (s *Store) Funnel(ctx context.Context, q FunnelQuery) (*funnel.Report, error) {
	return s.fsm.funnel(ctx, q)
}

// VisitFacts returns what the hub folded of one visit of a branch.
func (s *Store) VisitFacts(branch, visit string) (*funnel.Visit, error) {
	var vf visitFacts
	err := s.fsm.view(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bVisits), pairKey(branch, visit), &vf)
	})
	if err != nil {
		return nil, err
	}
	return &vf.Visit, nil
}

// --- FSM ---

// visitFacts is a visit as bVisits keeps it: the fold, and the day its
// index entry is under (the opening day; before the opening arrived, the
// day of the first event, so that retention reaches it too).
type visitFacts struct {
	Day string `json:"day"`
	funnel.Visit
}

func pairKey(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// dayKey is a bVisitDay key: the day, then the bVisits key.
func dayKey(day string, visitKey []byte) []byte {
	k := make([]byte, 0, len(day)+1+len(visitKey))
	k = append(k, day...)
	k = append(k, 0)
	return append(k, visitKey...)
}

// eventAtKey is a bEventAt key: the event's time in whole seconds (times
// before 1970 count as 1970), then the bEvents key.
func eventAtKey(at time.Time, idKey []byte) []byte {
	k := make([]byte, 8, 8+len(idKey))
	binary.BigEndian.PutUint64(k, uint64(max(at.Unix(), 0)))
	return append(k, idKey...)
}

func toRecord(e *hub.EventWire) eventRecord {
	return eventRecord{ID: e.ID, Kind: string(e.Kind), At: e.At, Visit: e.Visit, Channel: string(e.Channel),
		Recognised: e.Recognised, MBankAtOpen: string(e.MBankAtOpen), Tier: string(e.Tier), Staff: e.Staff,
		Outcome: string(e.Outcome), Conversion: string(e.Conversion)}
}

func (r *eventRecord) wire() hub.EventWire {
	return hub.EventWire{ID: r.ID, Kind: hub.EventKind(r.Kind), At: r.At, Visit: r.Visit, Channel: huiyan.Channel(r.Channel),
		Recognised: r.Recognised, MBankAtOpen: huiyan.MBankStatus(r.MBankAtOpen), Tier: huiyan.Tier(r.Tier), Staff: r.Staff,
		Outcome: huiyan.Outcome(r.Outcome), Conversion: huiyan.Conversion(r.Conversion)}
}

// purgeHorizon is the first instant still kept, zero before any purge.
func purgeHorizon(tx *bolt.Tx) time.Time {
	d := tx.Bucket(bMeta).Get(kPurged)
	if d == nil {
		return time.Time{}
	}
	t, err := funnel.ParseDay(string(d), nil)
	if err != nil {
		return time.Time{}
	}
	return t
}

// applyRecordEvents applies the first format of the command, ids only,
// which logs written before the events themselves were replicated still
// hold. The ids are indexed by the leader's receive time for retention.
func (f *fsm) applyRecordEvents(tx *bolt.Tx, h *eventsCmd, index uint64) (int, error) {
	if !huiyan.ValidBranchID(h.Branch) {
		return 0, huiyan.Errorf(huiyan.EInvalid, "record_events: bad branch")
	}
	b, at := tx.Bucket(bEvents), tx.Bucket(bEventAt)
	n := 0
	for _, id := range h.IDs {
		k := pairKey(h.Branch, id)
		if b.Get(k) != nil {
			continue
		}
		if err := b.Put(k, be64(index)); err != nil {
			return 0, err
		}
		if err := at.Put(eventAtKey(h.At, k), nil); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// applyEvents stores and folds a batch. The checks here are only those
// the state needs (ids present); the full contract (hub.EventWire.Validate)
// is checked before the command is proposed, so that a stricter contract
// in a later release never makes a node refuse an entry the others took.
func (f *fsm) applyEvents(tx *bolt.Tx, h *eventBatchCmd, index uint64) (EventsResult, error) {
	if !huiyan.ValidBranchID(h.Branch) {
		return EventsResult{}, huiyan.Errorf(huiyan.EInvalid, "events: bad branch")
	}
	for i := range h.Events {
		if e := &h.Events[i]; e.ID == "" || e.Visit == "" || e.At.IsZero() {
			return EventsResult{}, huiyan.Errorf(huiyan.EInvalid, "events: event %d lacks an id, visit or time", i+1)
		}
	}
	ids, ats := tx.Bucket(bEvents), tx.Bucket(bEventAt)
	fold := newFolder(tx.Bucket(bVisits), tx.Bucket(bVisitDay), h.Branch)
	horizon := purgeHorizon(tx)
	var r EventsResult
	for i := range h.Events {
		e := &h.Events[i]
		k := pairKey(h.Branch, e.ID)
		switch {
		case ids.Get(k) != nil:
			r.Duplicates++
			continue
		case e.At.Before(horizon):
			r.Expired++
			continue
		}
		if err := ids.Put(k, be64(index)); err != nil {
			return EventsResult{}, err
		}
		if err := ats.Put(eventAtKey(e.At, k), nil); err != nil {
			return EventsResult{}, err
		}
		if err := fold.add(e); err != nil {
			return EventsResult{}, err
		}
		r.Accepted++
	}
	return r, fold.flush()
}

// folder folds the events of one batch into their visits' facts. A batch
// carries several events of most of its visits, so each visit is read and
// decoded once and written once per batch, in the order first met.
type folder struct {
	visits, days *bolt.Bucket
	branch       string
	byKey        map[string]*foldedVisit
	order        []*foldedVisit
}

type foldedVisit struct {
	key    []byte
	oldDay string // the index day stored before this batch, "" for a new visit
	facts  visitFacts
}

func newFolder(visits, days *bolt.Bucket, branch string) *folder {
	return &folder{visits: visits, days: days, branch: branch, byKey: map[string]*foldedVisit{}}
}

func (f *folder) add(e *eventRecord) error {
	fv := f.byKey[e.Visit]
	if fv == nil {
		fv = &foldedVisit{key: pairKey(f.branch, e.Visit)}
		if data := f.visits.Get(fv.key); data != nil {
			if err := json.Unmarshal(data, &fv.facts); err != nil {
				return fmt.Errorf("decode visit facts: %w", err)
			}
			fv.oldDay = fv.facts.Day
		} else {
			fv.facts.Day = funnel.Day(e.At, nil)
		}
		f.byKey[e.Visit] = fv
		f.order = append(f.order, fv)
	}
	w := e.wire()
	fv.facts.Visit.Apply(f.branch, &w)
	if !fv.facts.OpenedAt.IsZero() {
		fv.facts.Day = funnel.Day(fv.facts.OpenedAt, nil)
	}
	return nil
}

// flush writes the folded visits and keeps the day index right: a visit
// is indexed under its opening day once its opening is known.
func (f *folder) flush() error {
	for _, fv := range f.order {
		if fv.facts.Day != fv.oldDay {
			if fv.oldDay != "" {
				if err := f.days.Delete(dayKey(fv.oldDay, fv.key)); err != nil {
					return err
				}
			}
			if err := f.days.Put(dayKey(fv.facts.Day, fv.key), nil); err != nil {
				return err
			}
		}
		if err := putJSON(f.visits, fv.key, fv.facts); err != nil {
			return err
		}
	}
	return nil
}

func (f *fsm) applyEdgeStatus(tx *bolt.Tx, h *statusCmd) error {
	if !huiyan.ValidBranchID(h.Branch) {
		return huiyan.Errorf(huiyan.EInvalid, "edge_status: bad branch")
	}
	return putJSON(tx.Bucket(bStatus), []byte(h.Branch), h.Status)
}

// applyPurge removes up to h.Limit visits opened before h.Before and up
// to h.Limit event ids older than its first instant. It records the
// horizon first, so that from this command on no older event is taken in
// while the rest is purged.
func (f *fsm) applyPurge(tx *bolt.Tx, h *purgeCmd) (PurgeResult, error) {
	horizon, err := funnel.ParseDay(h.Before, nil)
	if err != nil || h.Limit <= 0 {
		return PurgeResult{}, huiyan.Errorf(huiyan.EInvalid, "purge_events: bad day or limit")
	}
	m := tx.Bucket(bMeta)
	if cur := m.Get(kPurged); cur == nil || string(cur) < h.Before {
		if err := m.Put(kPurged, []byte(h.Before)); err != nil {
			return PurgeResult{}, err
		}
	}
	r := PurgeResult{Before: h.Before}
	visits, days := tx.Bucket(bVisits), tx.Bucket(bVisitDay)
	// Keys are gathered first: deleting under a bbolt cursor skips keys.
	var gone [][]byte
	c := days.Cursor()
	for k, _ := c.First(); k != nil && len(gone) < h.Limit; k, _ = c.Next() {
		i := bytes.IndexByte(k, 0)
		if i < 0 || string(k[:i]) >= h.Before {
			break
		}
		gone = append(gone, bytes.Clone(k))
	}
	for _, k := range gone {
		if err := visits.Delete(k[bytes.IndexByte(k, 0)+1:]); err != nil {
			return PurgeResult{}, err
		}
		if err := days.Delete(k); err != nil {
			return PurgeResult{}, err
		}
	}
	r.Visits = len(gone)

	byTime, ids := tx.Bucket(bEventAt), tx.Bucket(bEvents)
	gone = gone[:0]
	limit := uint64(max(horizon.Unix(), 0))
	c = byTime.Cursor()
	for k, _ := c.First(); k != nil && len(gone) < h.Limit && binary.BigEndian.Uint64(k[:8]) < limit; k, _ = c.Next() {
		gone = append(gone, bytes.Clone(k))
	}
	for _, k := range gone {
		if err := ids.Delete(k[8:]); err != nil {
			return PurgeResult{}, err
		}
		if err := byTime.Delete(k); err != nil {
			return PurgeResult{}, err
		}
	}
	r.Events = len(gone)
	return r, nil
}

// purgeNeeded reports whether anything is left to purge before day: the
// horizon is not there yet, or visits or ids older than it remain (a
// purge a leader change cut short).
func (f *fsm) purgeNeeded(day string) (bool, error) {
	horizon, err := funnel.ParseDay(day, nil)
	if err != nil {
		return false, err
	}
	var need bool
	err = f.view(func(tx *bolt.Tx) error {
		if cur := tx.Bucket(bMeta).Get(kPurged); cur == nil || string(cur) < day {
			need = true
			return nil
		}
		if k, _ := tx.Bucket(bVisitDay).Cursor().First(); k != nil {
			if i := bytes.IndexByte(k, 0); i >= 0 && string(k[:i]) < day {
				need = true
				return nil
			}
		}
		if k, _ := tx.Bucket(bEventAt).Cursor().First(); k != nil && binary.BigEndian.Uint64(k[:8]) < uint64(max(horizon.Unix(), 0)) {
			need = true
		}
		return nil
	})
	return need, err
}

func (f *fsm) edgeStatus(branch string) (*EdgeStatus, error) {
	var st EdgeStatus
	err := f.view(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bStatus), []byte(branch), &st)
	})
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// funnel aggregates the visits of the query's days, reading only their
// index entries (and, for one branch, only that branch's).
func (f *fsm) funnel(ctx context.Context, q FunnelQuery) (*funnel.Report, error) {
	if q.Branch != "" && !huiyan.ValidBranchID(q.Branch) {
		return nil, huiyan.Errorf(huiyan.EInvalid, "%q is not a branch id", q.Branch)
	}
	if !q.Group.Valid() {
		return nil, huiyan.Errorf(huiyan.EInvalid, "unknown grouping %q", q.Group)
	}
	days, err := funnel.Days(q.From, q.To)
	if err != nil {
		return nil, huiyan.Errorf(huiyan.EInvalid, "%v", err)
	}
	a := funnel.NewAggregator(q.Group, funnel.CST, q.From, q.To)
	for _, day := range days {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		prefix := []byte(day + "\x00")
		if q.Branch != "" {
			prefix = dayKey(day, []byte(q.Branch+"\x00"))
		}
		err := f.view(func(tx *bolt.Tx) error {
			visits := tx.Bucket(bVisits)
			c := tx.Bucket(bVisitDay).Cursor()
			n := 0
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				if n++; n%4096 == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
				var vf visitFacts
				if err := getJSON(visits, k[len(day)+1:], &vf); err != nil {
					return fmt.Errorf("visit of the %s index: %w", day, err)
				}
				a.Add(&vf.Visit)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return a.Report(), nil
}

// edgeStatusOf converts a heartbeat, received now.
func edgeStatusOf(st *hub.EdgeStatus, now time.Time) EdgeStatus {
	out := EdgeStatus{ReceivedAt: now, At: st.At, Version: st.Version, SnapshotVersion: st.SnapshotVersion,
		OutboxDepth: st.OutboxDepth, OutboxOldest: st.OutboxOldest, Devices: make([]Device, len(st.Devices))}
	for i, d := range st.Devices {
		out.Devices[i] = Device{ID: d.Device, Channel: string(d.Channel), Online: d.Online, Since: d.Since}
		if d.Online {
			out.DevicesOnline++
		} else {
			out.DevicesOffline++
		}
	}
	return out
}

// sameStatus reports whether b says nothing a is not already saying,
// ignoring the clocks of the report itself.
func sameStatus(a, b *EdgeStatus) bool {
	if a.Version != b.Version || a.SnapshotVersion != b.SnapshotVersion || a.OutboxDepth != b.OutboxDepth ||
		!a.OutboxOldest.Equal(b.OutboxOldest) || len(a.Devices) != len(b.Devices) {
		return false
	}
	for i := range a.Devices {
		x, y := a.Devices[i], b.Devices[i]
		if x.ID != y.ID || x.Channel != y.Channel || x.Online != y.Online || !x.Since.Equal(y.Since) {
			return false
		}
	}
	return true
}

// edgeState names a branch's edge state at now (see EdgeNone…).
func edgeState(hasCredential bool, lastSeen, now time.Time) string {
	switch {
	case !lastSeen.IsZero() && now.Sub(lastSeen) <= EdgeStale:
		return EdgeOnline
	case !lastSeen.IsZero():
		return EdgeOffline
	case hasCredential:
		return EdgeUnknown
	}
	return EdgeNone
}

// setHeartbeat fills the branch's heartbeat fields from the stored one.
func (b *Branch) setHeartbeat(st *EdgeStatus) {
	depth := st.OutboxDepth
	b.HeartbeatAt, b.EdgeVersion, b.EdgeSnapshotVersion = st.ReceivedAt, st.Version, st.SnapshotVersion
	b.OutboxDepth, b.OutboxOldest = &depth, st.OutboxOldest
	b.DevicesOnline, b.DevicesOffline, b.Devices = st.DevicesOnline, st.DevicesOffline, st.Devices
}

// setEdgeState fills LastSeen and EdgeState as of now.
func (b *Branch) setEdgeState() {
	b.LastSeen = b.ReportedAt
	if b.HeartbeatAt.After(b.LastSeen) {
		b.LastSeen = b.HeartbeatAt
	}
	b.EdgeState = edgeState(!b.CredentialAt.IsZero(), b.LastSeen, time.Now())
}
