package hub

import (
	"fmt"
	"time"

	"huiyan"
)

// EdgeStatus is the body of POST /v1/branches/{branch}/status, the edge's
// heartbeat (every minute, and at once when a device changes state): what
// the HQ dashboard shows per branch next to the snapshot version — when
// the edge was last seen, its outbox backlog and its devices. Like
// AppliedReport it is a report the hub shows, never trusts for anything
// else. It names devices, never customers. The hub answers 204.
type EdgeStatus struct {
	At              time.Time      `json:"at"`
	Version         string         `json:"version,omitempty"` // the edge binary's version
	SnapshotVersion int64          `json:"snapshot_version"`
	OutboxDepth     int            `json:"outbox_depth"`
	OutboxOldest    time.Time      `json:"outbox_oldest,omitzero"` // the oldest unsent event's time
	Devices         []DeviceStatus `json:"devices"`
}

// DeviceStatus is one device the edge knows and its last state.
type DeviceStatus struct {
	Device  string         `json:"device"`
	Channel huiyan.Channel `json:"channel,omitempty"` // "" until its first arrival
	Online  bool           `json:"online"`
	Since   time.Time      `json:"since,omitzero"` // when it went online or offline
}

// MaxStatusDevices bounds the devices in one EdgeStatus: a branch has a
// handful; the bound keeps a broken edge from filling the hub's log.
const MaxStatusDevices = 256

// Validate checks the report's fields, wrapping ErrMalformed.
func (s *EdgeStatus) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("status: "+format+": %w", append(a, ErrMalformed)...)
	}
	switch {
	case s.At.IsZero():
		return bad("at is required")
	case s.SnapshotVersion < 0:
		return bad("snapshot_version %d is negative", s.SnapshotVersion)
	case s.OutboxDepth < 0:
		return bad("outbox_depth %d is negative", s.OutboxDepth)
	case len(s.Version) > 64:
		return bad("version longer than 64 bytes")
	case len(s.Devices) > MaxStatusDevices:
		return bad("%d devices, want at most %d", len(s.Devices), MaxStatusDevices)
	}
	for i, d := range s.Devices {
		switch {
		case !validEventID(d.Device) || len(d.Device) > 64:
			return bad("device %d: invalid device id", i+1)
		case d.Channel != "" && !d.Channel.Valid():
			return bad("device %d: unknown channel", i+1)
		}
	}
	return nil
}
