package huiyan

import "time"

// FeedKind is the kind of a branch feed event (DESIGN.md, "PAD contract").
type FeedKind string

// Feed event kinds, one per PAD message that carries a seq.
const (
	FeedArrival FeedKind = "arrival" // a new visit: visit, profile, actions
	FeedVisit   FeedKind = "visit"   // a visit changed: claimed, released, outcome, touchpoint, converted, closed
	FeedDevice  FeedKind = "device"  // a device went online or offline
)

// Device statuses as devices publish them (retained, offline as Last Will).
const (
	DeviceOnline  = "online"
	DeviceOffline = "offline"
)

// Audience says which staff a feed event is for. Supervisors see every event.
type Audience struct {
	Roles []Role   // every staff member with one of these roles
	Staff []string // and these staff ids (an assigned account manager)
}

// Includes reports whether the event is for the staff member.
func (a Audience) Includes(s *Staff) bool {
	if s.Role == RoleSupervisor {
		return true
	}
	for _, r := range a.Roles {
		if r == s.Role {
			return true
		}
	}
	for _, id := range a.Staff {
		if id == s.ID {
			return true
		}
	}
	return false
}

// FeedEvent is one entry of the branch feed: what the PADs are told, in
// order. Seq is branch-wide, strictly increasing and survives restarts, so a
// PAD that reconnects asks for everything after the last seq it saw.
type FeedEvent struct {
	Seq      uint64
	Kind     FeedKind
	At       time.Time
	Audience Audience
	// Arrival and visit events.
	Visit   *Visit
	Profile *Profile // arrival events, and visit events for PADs that missed the arrival
	Actions []Action // arrival events
	// Device events.
	Device       string
	DeviceStatus string
}

// Card is an open visit as a PAD shows it: the state a reconnecting PAD gets
// when its last seq is too old to replay.
type Card struct {
	Visit    *Visit
	Profile  *Profile
	Actions  []Action
	Audience Audience
}

// DeviceState is the last known status of a branch device.
type DeviceState struct {
	Device  string
	Channel Channel // as seen in its topics, empty if unknown
	Status  string  // DeviceOnline or DeviceOffline
	Since   time.Time
}
