package edge

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"huiyan"
	"huiyan/hub"
)

// HeartbeatConfig configures a Heartbeat. Zero values take the defaults.
type HeartbeatConfig struct {
	Branch  string
	Client  *hub.Client
	Version string // the edge binary's version, shown on the HQ dashboard
	// Every is how often the status is posted (default 60 s).
	Every time.Duration
	// Settle is how long after a device went online or offline the status
	// is posted (default 2 s): soon, but a device that flaps, or a broker
	// restart that reports every device at once, makes one post.
	Settle time.Duration
	// Timeout bounds one post (default 10 s): a hung hub must not delay
	// the next beat.
	Timeout time.Duration
	Logger  *slog.Logger
	Clock   func() time.Time
}

// Heartbeat posts the edge's status to the hub (POST
// /v1/branches/{branch}/status, hub.EdgeStatus): snapshot version, outbox
// backlog and devices, for the HQ dashboard. It is a report, nothing
// depends on it arriving: a failed post is logged at debug and the next
// beat carries the newer status anyway.
type Heartbeat struct {
	store Store
	cfg   HeartbeatConfig
	log   *slog.Logger
	kick  chan struct{}

	sent     atomic.Int64 // posts the hub accepted
	failures atomic.Int64
}

// NewHeartbeat returns a heartbeat on store; Run it.
func NewHeartbeat(store Store, cfg HeartbeatConfig) *Heartbeat {
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 2 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Heartbeat{store: store, cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1)}
}

// Publish implements Publisher: a device event (a device went online or
// offline, or was seen for the first time) makes the next post come after
// Settle instead of at the next beat. It never blocks.
func (h *Heartbeat) Publish(e huiyan.FeedEvent) {
	if e.Kind == huiyan.FeedDevice {
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
}

// Run posts the status at once, then every Every and Settle after a
// device change, until ctx ends.
func (h *Heartbeat) Run(ctx context.Context) error {
	beat := time.NewTimer(0)
	defer beat.Stop()
	var settle *time.Timer
	var settled <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if settle != nil {
				settle.Stop()
			}
			return ctx.Err()
		case <-h.kick:
			if settle == nil {
				settle = time.NewTimer(h.cfg.Settle)
				settled = settle.C
			}
			continue
		case <-beat.C:
		case <-settled:
		}
		if settle != nil {
			settle.Stop()
			settle, settled = nil, nil
		}
		if err := h.Send(ctx); err != nil && ctx.Err() == nil {
			h.log.Debug("heartbeat not sent; the next beat carries a newer status", "reason", hub.Reason(err), "err", err)
		}
		beat.Reset(h.cfg.Every)
	}
}

// Send posts the status once.
func (h *Heartbeat) Send(ctx context.Context) error {
	st, err := h.Status(ctx)
	if err != nil {
		h.failures.Add(1)
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	if err := h.cfg.Client.ReportStatus(ctx, h.cfg.Branch, st); err != nil {
		h.failures.Add(1)
		return fmt.Errorf("heartbeat: %w", err)
	}
	h.sent.Add(1)
	return nil
}

// Sent and Failures count the posts the hub accepted and those that failed.
func (h *Heartbeat) Sent() int64     { return h.sent.Load() }
func (h *Heartbeat) Failures() int64 { return h.failures.Load() }

// Status reads the edge's status from the store, in one view: the
// snapshot version, the outbox backlog and every known device. A device
// whose id the hub contract would refuse is left out rather than losing
// the whole report (device ids are checked at the broker, so none should
// be).
func (h *Heartbeat) Status(ctx context.Context) (hub.EdgeStatus, error) {
	st := hub.EdgeStatus{At: h.cfg.Clock(), Version: h.cfg.Version, Devices: []hub.DeviceStatus{}}
	if len(st.Version) > 64 {
		st.Version = st.Version[:64]
	}
	err := h.store.View(ctx, func(tx Tx) error {
		meta, err := tx.Meta()
		if err != nil {
			return fmt.Errorf("meta: %w", err)
		}
		st.SnapshotVersion = meta.SnapshotVersion
		ob, err := tx.OutboxStats()
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		st.OutboxDepth, st.OutboxOldest = ob.Depth, ob.Oldest
		devices, err := tx.Devices()
		if err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		for _, d := range devices {
			if len(st.Devices) == hub.MaxStatusDevices {
				break
			}
			ds := hub.DeviceStatus{Device: d.Device, Channel: d.Channel, Online: d.Status == huiyan.DeviceOnline, Since: d.Since}
			one := hub.EdgeStatus{At: st.At, Devices: []hub.DeviceStatus{ds}}
			if one.Validate() != nil {
				continue
			}
			st.Devices = append(st.Devices, ds)
		}
		return nil
	})
	if err != nil {
		return hub.EdgeStatus{}, fmt.Errorf("heartbeat status: %w", err)
	}
	return st, nil
}
