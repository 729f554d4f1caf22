package edge

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"huiyan"
	"huiyan/edge/wheel"
	"huiyan/hub"
	"huiyan/hub/prizes"
)

// SnapshotStore is what the syncer needs of the store besides Store: an
// atomic replace of the data set (old or new data, never mixed, and the
// stored version always matches the stored data), the branch's prize
// wheel table included, and a read of the current customers in id order,
// to merge a delta into.
type SnapshotStore interface {
	Store
	ReplaceSnapshotWithPrizes(ctx context.Context, meta Meta, dict *huiyan.TagDict, staff []huiyan.Staff,
		prizes PrizesUpdate, customers iter.Seq2[*huiyan.Customer, error], progress func(n int)) error
	Customers(ctx context.Context) iter.Seq2[*huiyan.Customer, error]
}

// SyncConfig configures a Syncer. Zero durations take the defaults.
type SyncConfig struct {
	Branch   string
	KeyID    string // the token key id the data set must use
	Client   *hub.Client
	Keys     hub.KeySet // the hub's pinned public keys
	ChunkDir string     // where chunks are downloaded, resumably
	// Interval is the time between polls when all is well (default 1 min);
	// failures back off exponentially with jitter up to MaxBackoff (10 min).
	Interval   time.Duration
	MaxBackoff time.Duration
	Clock      func() time.Time
	Logger     *slog.Logger
	Metrics    *Metrics
	// Applied is called after a new version is applied (the node reloads
	// its dictionary there, the wheel its table: WheelPrizes.Reload).
	Applied func(ctx context.Context) error
}

// Syncer keeps the edge's data set in step with the hub (DESIGN.md, "Hub
// contract"): it polls the signed manifest for its branch, verifies it
// against the pinned keys before reading it, downloads the chunks
// (resumably, never more than the manifest says), checks the record
// stream, applies it atomically while arrivals keep being served, and
// reports the version it holds. Every refusal keeps the old data.
type Syncer struct {
	store SnapshotStore
	cfg   SyncConfig
	log   *slog.Logger
}

// NewSyncer returns a syncer; Run it.
func NewSyncer(store SnapshotStore, cfg SyncConfig) *Syncer {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Syncer{store: store, cfg: cfg, log: cfg.Logger}
}

// Run polls until ctx ends. It reports the version held at start, so that a
// hub that lost track learns it.
func (s *Syncer) Run(ctx context.Context) error {
	if meta, err := s.meta(ctx); err == nil && meta.SnapshotVersion > 0 {
		s.report(ctx, meta, false)
	}
	wait, fails := time.Duration(0), 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		_, err := s.SyncOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			fails++
			wait = backoff(s.cfg.Interval, s.cfg.MaxBackoff, fails)
			s.log.Warn("sync failed; keeping the current data", "reason", hub.Reason(err), "err", err, "retry_in", wait.Round(time.Second))
		default:
			fails = 0
			wait = jitter(s.cfg.Interval)
		}
	}
}

// backoff is the capped exponential wait after n failures, with full jitter
// so that 600 edges coming back after a hub outage do not poll in step.
func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func jitter(d time.Duration) time.Duration {
	return d*9/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

func (s *Syncer) meta(ctx context.Context) (Meta, error) {
	var m Meta
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		m, err = tx.Meta()
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Meta{Branch: s.cfg.Branch}, nil
	}
	return m, err
}

// SyncOnce fetches and applies the newest version if there is one. It
// returns whether a version was applied.
func (s *Syncer) SyncOnce(ctx context.Context) (bool, error) {
	meta, err := s.meta(ctx)
	if err != nil {
		return false, err
	}
	have := meta.SnapshotVersion
	raw, err := s.cfg.Client.Manifest(ctx, s.cfg.Branch, have)
	if errors.Is(err, hub.ErrNotNewer) {
		s.cfg.Metrics.sync("current")
		return false, nil
	} else if err != nil {
		s.cfg.Metrics.sync(hub.Reason(err))
		return false, fmt.Errorf("fetch manifest: %w", err)
	}
	m, err := hub.Verify(raw, s.cfg.Keys, s.cfg.Branch, have, s.cfg.Clock())
	if errors.Is(err, hub.ErrNotNewer) {
		s.cfg.Metrics.sync("current")
		return false, nil
	} else if err != nil {
		s.cfg.Metrics.sync(hub.Reason(err))
		return false, fmt.Errorf("manifest refused: %w", err)
	}
	start := s.cfg.Clock()
	if err := s.apply(ctx, meta, m); err != nil {
		s.cfg.Metrics.sync(hub.Reason(err))
		return false, err
	}
	s.cfg.Metrics.sync("applied")
	if s.cfg.Applied != nil {
		if err := s.cfg.Applied(ctx); err != nil {
			return true, fmt.Errorf("after applying version %d: %w", m.Version, err)
		}
	}
	meta, _ = s.meta(ctx)
	s.log.Info("snapshot applied", "version", m.Version, "base", m.BaseVersion, "full", m.Full,
		"chunks", len(m.Chunks), "bytes", m.Bytes(), "customers", meta.Customers, "took", s.cfg.Clock().Sub(start).Round(time.Millisecond))
	s.report(ctx, meta, m.Full)
	for _, c := range m.Chunks {
		_ = os.Remove(filepath.Join(s.cfg.ChunkDir, c.SHA256))
	}
	return true, nil
}

func (s *Syncer) report(ctx context.Context, meta Meta, full bool) {
	r := hub.AppliedReport{Version: meta.SnapshotVersion, AppliedAt: meta.SnapshotAt, Full: full,
		DictVersion: meta.DictVersion, Customers: meta.Customers}
	if err := s.cfg.Client.ReportApplied(ctx, s.cfg.Branch, r); err != nil && ctx.Err() == nil {
		s.log.Warn("report applied version to the hub", "version", meta.SnapshotVersion, "err", err)
	}
}

// apply downloads every chunk first (so that a dead WAN halfway leaves the
// data alone and the next try resumes), then streams the checked records
// into a new generation of the store.
func (s *Syncer) apply(ctx context.Context, meta Meta, m hub.Manifest) error {
	if err := os.MkdirAll(s.cfg.ChunkDir, 0o700); err != nil {
		return fmt.Errorf("chunk dir: %w", err)
	}
	for _, c := range m.Chunks {
		if _, err := s.cfg.Client.Chunk(ctx, m.Branch, c.SHA256, c.Size, s.cfg.ChunkDir); err != nil {
			return fmt.Errorf("download chunk %s: %w", c.SHA256, err)
		}
	}
	sc := hub.NewStreamChecker(m, meta.DictVersion)
	next, stop := iter.Pull2(s.records(ctx, m, sc))
	defer stop()

	// The dictionary, the roster and the prize table come first in the
	// stream; the store takes them with the customers in one swap. A full
	// snapshot without a prize table removes the hub's word about one (a
	// hub that never had prize tables); a delta without keeps the table.
	var dict *huiyan.TagDict
	var staff []huiyan.Staff
	var first *hub.Record
	przUpdate := PrizesUpdate{Set: m.Full}
	for {
		r, err, ok := next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if r.Op == hub.OpDict {
			dict = r.Dict
		} else if r.Op == hub.OpStaff {
			staff = append([]huiyan.Staff{}, r.Staff...)
		} else if r.Op == hub.OpPrizes {
			if err := s.checkPrizes(r.Prizes); err != nil {
				return err
			}
			p := *r.Prizes
			przUpdate = PrizesUpdate{Set: true, Prizes: &p}
		} else {
			first = &r
			break
		}
	}
	rest := func(yield func(hub.Record, error) bool) {
		if first != nil && !yield(*first, nil) {
			return
		}
		for {
			r, err, ok := next()
			if !ok || !yield(r, err) || err != nil {
				return
			}
		}
	}
	var customers iter.Seq2[*huiyan.Customer, error]
	if m.Full {
		customers = s.upserts(rest)
	} else {
		customers = s.merge(s.store.Customers(ctx), rest)
	}
	newMeta := Meta{Branch: s.cfg.Branch, SnapshotVersion: m.Version, SnapshotAt: s.cfg.Clock(), DictVersion: m.DictVersion, KeyID: s.cfg.KeyID}
	if err := s.store.ReplaceSnapshotWithPrizes(ctx, newMeta, dict, staff, przUpdate, customers, nil); err != nil {
		return fmt.Errorf("apply version %d: %w", m.Version, err)
	}
	return nil
}

// records yields the records of the downloaded chunks in manifest order,
// each chunk checked against the manifest and the stream rules.
func (s *Syncer) records(ctx context.Context, m hub.Manifest, sc *hub.StreamChecker) iter.Seq2[hub.Record, error] {
	return func(yield func(hub.Record, error) bool) {
		for _, c := range m.Chunks {
			data, err := s.cfg.Client.Chunk(ctx, m.Branch, c.SHA256, c.Size, s.cfg.ChunkDir)
			if err != nil {
				yield(hub.Record{}, fmt.Errorf("read chunk %s: %w", c.SHA256, err))
				return
			}
			recs, err := hub.ReadChunk(data, c.SHA256, c.Size)
			if err == nil {
				err = sc.Check(c, recs)
			}
			if err != nil {
				yield(hub.Record{}, fmt.Errorf("chunk %s: %w", c.SHA256, err))
				return
			}
			for _, r := range recs {
				if r.Op == hub.OpUpsert {
					if err := s.checkKey(r.Customer); err != nil {
						yield(hub.Record{}, err)
						return
					}
				}
				if !yield(r, nil) {
					return
				}
			}
		}
		if err := sc.Done(); err != nil {
			yield(hub.Record{}, err)
		}
	}
}

// checkKey refuses a data set whose tokens were made under another key than
// the one the devices use: none of them would ever match.
func (s *Syncer) checkKey(c *huiyan.Customer) error {
	for _, t := range c.Tokens {
		if t.KeyID != s.cfg.KeyID {
			return fmt.Errorf("customer tokens under key %q, this edge uses %q: %w", t.KeyID, s.cfg.KeyID, hub.ErrMalformed)
		}
	}
	return nil
}

// checkPrizes refuses a data set whose prize table this edge's wheel
// could not run: not a valid table of this branch in canonical form
// (hub/prizes.ParseCanonical), so that the fingerprint the hub published
// is the one the wheel's audit log will name. The hub checked it with the
// same rules; failing here means a hub of another release (edges are
// upgraded first) or a broken one, and the old data stay.
func (s *Syncer) checkPrizes(p *hub.Prizes) error {
	if p.Table == "" {
		return nil
	}
	if _, err := prizes.ParseCanonical(p.Table, s.cfg.Branch); err != nil {
		return fmt.Errorf("prize table: %v: %w", err, hub.ErrMalformed)
	}
	return nil
}

// upserts turns the records of a full snapshot into customers.
func (s *Syncer) upserts(recs iter.Seq2[hub.Record, error]) iter.Seq2[*huiyan.Customer, error] {
	return func(yield func(*huiyan.Customer, error) bool) {
		for r, err := range recs {
			if err != nil {
				yield(nil, err)
				return
			}
			if r.Op != hub.OpUpsert {
				yield(nil, fmt.Errorf("%s record in the customers of a full snapshot: %w", r.Op, hub.ErrMalformed))
				return
			}
			if !yield(r.Customer, nil) {
				return
			}
		}
	}
}

// merge applies a delta's records (sorted by customer id) to the current
// customers (sorted by id, as the store keeps them), streaming: memory does
// not grow with the data set.
func (s *Syncer) merge(cur iter.Seq2[*huiyan.Customer, error], delta iter.Seq2[hub.Record, error]) iter.Seq2[*huiyan.Customer, error] {
	return func(yield func(*huiyan.Customer, error) bool) {
		nextCur, stopCur := iter.Pull2(cur)
		defer stopCur()
		c, err, ok := nextCur()
		for r, derr := range delta {
			if derr != nil {
				yield(nil, derr)
				return
			}
			id := r.ID()
			for ; ok && err == nil && c.ID < id; c, err, ok = nextCur() {
				if !yield(c, nil) {
					return
				}
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if ok && c.ID == id {
				c, err, ok = nextCur() // replaced or deleted
			}
			if r.Op == hub.OpUpsert && !yield(r.Customer, nil) {
				return
			}
		}
		for ; ok; c, err, ok = nextCur() {
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// WheelPrizes keeps the branch's prize wheel on the table its data set
// carries (issue 7: "prize table and odds per branch from the hub
// snapshot"), with the local table file as the fallback for an edge
// without a hub (DESIGN.md, "Prize wheel"). Reload it at start and after
// every applied version (SyncConfig.Applied): the wheel changes tables at
// once, without a restart, and keeps the awarded counts of the campaign.
type WheelPrizes struct {
	Wheel  *wheel.Wheel
	Branch string
	// Local is the table of the local file (wheel_prizes in the edge
	// config); nil without one.
	Local  *wheel.PrizeTable
	Logger *slog.Logger

	mu     sync.Mutex
	loaded bool // Reload ran once: the table in force was logged
	warned bool // the local file's being ignored was logged
}

// Reload gives the wheel the table it must run: the hub's when the data
// set carries the hub's word (no table at all when HQ gives the branch
// none: the hub is then in charge, whatever the local file says), the
// local file's otherwise. The table in force is logged at the first
// Reload and whenever it changes, with its campaign and fingerprint; the
// same table again changes nothing. A stored table the wheel cannot run
// is an error, and the wheel keeps the table it has.
func (w *WheelPrizes) Reload(ctx context.Context, st Store) error {
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var p hub.Prizes
	err := st.View(ctx, func(tx Tx) error {
		var err error
		p, err = tx.Prizes()
		return err
	})
	fromHub := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("prize table: %w", err)
	}
	table, source := w.Local, "wheel_prizes"
	if fromHub {
		table, source = nil, "hub"
		if p.Table != "" {
			if table, err = prizes.ParseCanonical(p.Table, w.Branch); err != nil {
				return fmt.Errorf("prize table from the hub: %w", err)
			}
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if fromHub && w.Local != nil && !w.warned {
		w.warned = true
		log.Warn("wheel_prizes is ignored: the hub's data set carries the branch's prize table, and the hub's wins",
			"local_campaign", w.Local.Campaign, "local_table", w.Local.Fingerprint())
	}
	fp := ""
	if table != nil {
		fp = table.Fingerprint()
	}
	cur, curFP := w.Wheel.Table()
	if w.loaded && (cur == nil) == (table == nil) && curFP == fp {
		return nil
	}
	if err := w.Wheel.SetTable(table); err != nil {
		return err
	}
	w.loaded = true
	if table == nil {
		log.Warn("no prize table: every wheel spin is answered campaign_closed", "source", source)
		return nil
	}
	log.Info("prize table in force", "source", source, "campaign", table.Campaign, "table", fp, "prizes", len(table.Entries))
	return nil
}
