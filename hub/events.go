package hub

import (
	"fmt"
	"time"

	"huiyan"
)

// Upstream wire types: what an edge posts to the hub. The hub's HTTP layer
// decodes them strictly, calls Validate and answers the response types;
// the Client sends them.

// MaxEventBatch is the most events one POST /v1/branches/{branch}/events
// carries. A batch is about 200 bytes an event, so 500 is ~100 KB.
const MaxEventBatch = 500

// MaxEventIDLen bounds event and visit ids.
const MaxEventIDLen = 128

// EventKind is what happened to a visit.
type EventKind string

// Event kinds: one per change of a visit that the funnel report counts
// (DESIGN.md, "Hub contract": arrivals, recognised, claimed, served,
// activation rate, new-user rate, time from arrival to claim).
const (
	EventOpened    EventKind = "opened"    // an arrival opened the visit
	EventTouch     EventKind = "touch"     // a later signal joined it
	EventClaimed   EventKind = "claimed"   // a staff member claimed it
	EventReleased  EventKind = "released"  // and let it go again
	EventOutcome   EventKind = "outcome"   // staff recorded an outcome
	EventConverted EventKind = "converted" // a mobile-banking conversion was detected
	EventClosed    EventKind = "closed"    // the visit window ended
)

// Valid reports whether k is a known kind.
func (k EventKind) Valid() bool {
	switch k {
	case EventOpened, EventTouch, EventClaimed, EventReleased, EventOutcome, EventConverted, EventClosed:
		return true
	}
	return false
}

// EventWire is one visit event from an edge. It carries no customer id,
// name or token: the hub's reports count visits, they do not need to know
// who (PIPL data minimisation). Recognised tells a known customer from a
// new face; MBankAtOpen is what conversions are judged against.
//
// ID is the edge's idempotency key, unique within the branch (the edge
// uses its feed seq or visit id and kind): the hub stores an event once,
// however often the edge posts it.
//
// Which fields a kind uses:
//
//	opened     channel, recognised, mbank_at_open and tier (recognised only)
//	touch      channel; refused for an e-code scan that proved no presence
//	claimed    staff
//	released   staff
//	outcome    staff, outcome
//	converted  conversion, staff (the staff member credited, empty for the branch)
//	closed     (none)
type EventWire struct {
	ID          string             `json:"id"`
	Kind        EventKind          `json:"kind"`
	At          time.Time          `json:"at"`
	Visit       string             `json:"visit"`
	Channel     huiyan.Channel     `json:"channel,omitempty"`
	Recognised  bool               `json:"recognised,omitempty"`
	MBankAtOpen huiyan.MBankStatus `json:"mbank_at_open,omitempty"`
	Tier        huiyan.Tier        `json:"tier,omitempty"`
	Staff       string             `json:"staff,omitempty"`
	Outcome     huiyan.Outcome     `json:"outcome,omitempty"`
	Conversion  huiyan.Conversion  `json:"conversion,omitempty"`
	// Refused is, on a touch of channel ecode only, why the scanned code
	// proved no presence (an edge/ecode verdict such as "expired" or
	// "forged"): the scan is counted as such, never as a signal of a
	// customer in the branch.
	Refused string `json:"refused,omitempty"`
}

// Validate reports the first field that breaks the table above, wrapping
// ErrMalformed. It never echoes a value.
func (e *EventWire) Validate() error {
	bad := func(field, reason string) error {
		return fmt.Errorf("event: %s: %s: %w", field, reason, ErrMalformed)
	}
	switch {
	case !validEventID(e.ID):
		return bad("id", fmt.Sprintf("want 1 to %d characters of 0-9 A-Z a-z . _ : -", MaxEventIDLen))
	case !e.Kind.Valid():
		return bad("kind", "unknown kind")
	case e.At.IsZero():
		return bad("at", "required")
	case !validEventID(e.Visit):
		return bad("visit", fmt.Sprintf("want 1 to %d characters of 0-9 A-Z a-z . _ : -", MaxEventIDLen))
	case e.Staff != "" && !huiyan.ValidStaffID(e.Staff):
		return bad("staff", "invalid staff id")
	}
	switch e.Kind {
	case EventOpened, EventTouch:
		if !e.Channel.Valid() {
			return bad("channel", "want counter, ecode or wheel")
		}
	case EventClaimed, EventReleased:
		if e.Staff == "" {
			return bad("staff", "required")
		}
	case EventOutcome:
		switch {
		case e.Staff == "":
			return bad("staff", "required")
		case !e.Outcome.Valid():
			return bad("outcome", "unknown outcome")
		}
	case EventConverted:
		if e.Conversion != huiyan.ConversionActivated && e.Conversion != huiyan.ConversionNewUser {
			return bad("conversion", "want activated or new_user")
		}
	}
	if e.Refused != "" {
		switch {
		case e.Kind != EventTouch || e.Channel != huiyan.ChannelECode:
			return bad("refused", "only on a touch of channel ecode")
		case len(e.Refused) > 32 || !huiyan.IsLowerSnake(e.Refused):
			return bad("refused", "want a verdict code of at most 32 lower-case letters and _")
		}
	}
	if e.Kind == EventOpened && e.Recognised {
		switch {
		case !e.MBankAtOpen.Valid():
			return bad("mbank_at_open", "required for a recognised customer")
		case !e.Tier.Valid():
			return bad("tier", "required for a recognised customer")
		}
	} else if e.MBankAtOpen != "" || e.Tier != "" {
		return bad("mbank_at_open", "only for an opened visit of a recognised customer")
	}
	return nil
}

func validEventID(s string) bool {
	if len(s) == 0 || len(s) > MaxEventIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// EventBatch is the body of POST /v1/branches/{branch}/events:
// {"events":[…]}, 1 to MaxEventBatch events in the order they happened.
type EventBatch struct {
	Events []EventWire `json:"events"`
}

// Validate checks the batch's size, every event, and that no id appears
// twice in it, wrapping ErrMalformed.
func (b *EventBatch) Validate() error {
	if n := len(b.Events); n == 0 || n > MaxEventBatch {
		return fmt.Errorf("events: %d events, want 1 to %d: %w", n, MaxEventBatch, ErrMalformed)
	}
	seen := make(map[string]struct{}, len(b.Events))
	for i := range b.Events {
		if err := b.Events[i].Validate(); err != nil {
			return fmt.Errorf("events: event %d: %w", i+1, err)
		}
		if _, ok := seen[b.Events[i].ID]; ok {
			return fmt.Errorf("events: event %d: id repeated in the batch: %w", i+1, ErrMalformed)
		}
		seen[b.Events[i].ID] = struct{}{}
	}
	return nil
}

// EventAck is the answer to an EventBatch (200): how many events were new
// and how many the hub had already, by id. Accepted + Duplicates is the
// batch's length; the edge may forget the batch once it has the answer.
type EventAck struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// AppliedReport is the body of POST /v1/branches/{branch}/applied, which an
// edge sends after it applied a manifest (and again at start, so that a
// hub that lost it learns it): the version it now holds and since when,
// for /v1/branches and the HQ dashboard. The hub answers 204. It is a
// report, not a command: the hub never trusts it for what to send next
// (the edge says what it has with ?have= on the manifest endpoint).
type AppliedReport struct {
	Version     int64     `json:"version"`
	AppliedAt   time.Time `json:"applied_at"`
	Full        bool      `json:"full"` // a full snapshot brought it, not a delta
	DictVersion int       `json:"dict_version"`
	Customers   int       `json:"customers"` // the customers the edge holds
}

// Validate checks the report's fields, wrapping ErrMalformed.
func (r *AppliedReport) Validate() error {
	switch {
	case r.Version < 1:
		return fmt.Errorf("applied: version %d, want at least 1: %w", r.Version, ErrMalformed)
	case r.AppliedAt.IsZero():
		return fmt.Errorf("applied: applied_at is required: %w", ErrMalformed)
	case r.DictVersion < 1:
		return fmt.Errorf("applied: dict_version %d, want at least 1: %w", r.DictVersion, ErrMalformed)
	case r.Customers < 0:
		return fmt.Errorf("applied: customers %d is negative: %w", r.Customers, ErrMalformed)
	}
	return nil
}
