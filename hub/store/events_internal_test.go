package store

import (
	"context"
	"testing"
	"time"

	"huiyan/hub"
)

// TestRecordEvents_OldFormat: a log written before the events themselves
// were replicated holds ids-only commands (record_events); they still
// apply, their ids still make a resend a duplicate, and retention reaches
// them through the leader's receive time.
func TestRecordEvents_OldFormat(t *testing.T) {
	c := Config{ID: "n1", Dir: t.TempDir(), RaftBind: "127.0.0.1:0", HTTPAddr: "127.0.0.1:1", Bootstrap: true,
		HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond, LeaderLeaseTimeout: 250 * time.Millisecond,
		CommitTimeout: 5 * time.Millisecond, WALSegmentBytes: 64 << 10, MmapBytes: 16 << 20}
	s := New(c)
	ctx := context.Background()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !s.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	received := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	v, err := s.apply(ctx, cmdRecordEvents, eventsCmd{Branch: "B001", IDs: []string{"e1", "e2"}, At: received}, nil)
	if n, _ := v.(int); err != nil || n != 2 {
		t.Fatalf("old format: n=%v err=%v", v, err)
	}
	ev := func(id string) hub.EventWire {
		return hub.EventWire{ID: id, Kind: hub.EventOpened, At: received, Visit: "v1", Channel: "counter"}
	}
	r, err := s.RecordEvents(ctx, "B001", []hub.EventWire{ev("e1"), ev("e2"), ev("e3")})
	if err != nil || r.Accepted != 1 || r.Duplicates != 2 {
		t.Fatalf("new format after old: %+v %v, want 1 accepted, 2 duplicates", r, err)
	}
	p, err := s.PurgeEvents(ctx, received.Add(48*time.Hour))
	if err != nil || p.Events != 3 || p.Visits != 1 {
		t.Fatalf("purge %+v %v, want the 3 ids and 1 visit", p, err)
	}
}

func TestEdgeState(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		cred     bool
		lastSeen time.Time
		want     string
	}{
		{"NoCredentialNeverSeen", false, time.Time{}, EdgeNone},
		{"CredentialNeverSeen", true, time.Time{}, EdgeUnknown},
		{"Fresh", true, now.Add(-time.Minute), EdgeOnline},
		{"AtTheLimit", true, now.Add(-EdgeStale), EdgeOnline},
		{"Stale", true, now.Add(-EdgeStale - time.Second), EdgeOffline},
		{"SeenWithoutCredential", false, now.Add(-time.Hour), EdgeOffline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := edgeState(tt.cred, tt.lastSeen, now); got != tt.want {
				t.Fatalf("edgeState=%q, want %q", got, tt.want)
			}
		})
	}
}

func TestSameStatus(t *testing.T) {
	now := time.Now().UTC()
	base := edgeStatusOf(&hub.EdgeStatus{At: now, SnapshotVersion: 3, OutboxDepth: 1,
		Devices: []hub.DeviceStatus{{Device: "sc-01", Online: true, Since: now}}}, now)
	tests := []struct {
		name   string
		change func(*EdgeStatus)
		same   bool
	}{
		{"EdgeClockOnly", func(s *EdgeStatus) { s.At = s.At.Add(time.Minute); s.ReceivedAt = s.ReceivedAt.Add(time.Minute) }, true},
		{"SameInstantOtherZone", func(s *EdgeStatus) { s.Devices[0].Since = s.Devices[0].Since.In(time.FixedZone("X", 3600)) }, true},
		{"Depth", func(s *EdgeStatus) { s.OutboxDepth = 0 }, false},
		{"Snapshot", func(s *EdgeStatus) { s.SnapshotVersion = 4 }, false},
		{"Version", func(s *EdgeStatus) { s.Version = "v2" }, false},
		{"DeviceOffline", func(s *EdgeStatus) { s.Devices[0].Online = false }, false},
		{"DeviceAdded", func(s *EdgeStatus) { s.Devices = append(s.Devices, Device{ID: "x"}) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := base
			next.Devices = append([]Device(nil), base.Devices...)
			tt.change(&next)
			if got := sameStatus(&base, &next); got != tt.same {
				t.Fatalf("sameStatus=%v, want %v", got, tt.same)
			}
		})
	}
}
