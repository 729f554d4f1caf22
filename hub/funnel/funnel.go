// Package funnel computes the branch funnel (DESIGN.md, "Hub contract":
// arrivals, recognised, claimed, served, activation rate, new-user rate,
// time from arrival to claim) from the visit events an edge sends upstream.
//
// The edge and the hub compute it the same way by construction: both fold
// the same hub.EventWire stream into the same per-visit facts (Visit.Apply)
// and aggregate those with the same Aggregator. The edge folds each event
// in the transaction that puts it into its outbox; the hub folds it when
// the raft command that stores it is applied. A supervisor's branch screen
// and the HQ report for that branch therefore agree to the visit, once the
// outbox has drained.
//
// Definitions (docs for HQ and the branch supervisors):
//
//   - A visit is one customer presence (DESIGN.md, "Visit"); every count
//     below counts visits, not device signals, on the day (in the report's
//     time zone, China Standard Time by default) the visit opened.
//   - arrivals: visits opened; by_channel splits them by the channel of the
//     signal that opened them (counter, ecode, wheel); signals counts every
//     device signal of those visits, opening and later ones, by channel;
//     refused_scans counts the e-code scans of those visits whose code
//     proved no presence (expired or forged: a photographed code scanned
//     elsewhere), which are not signals and never convert.
//   - recognised: visits of a customer found in HQ's tags; new_faces: the
//     others (拉新 chances).
//   - claimed: visits some staff member claimed at least once; the claim
//     time is from the visit opening to its first claim, reported as the
//     median and the 90th percentile (nearest rank) over claimed visits.
//   - served: visits with a recorded outcome that means the customer was
//     helped: served, activated, referred, follow_up (not declined, not
//     no_contact); outcomes counts every visit by its last recorded outcome.
//   - need_activation: recognised visits whose customer's mobile banking
//     was registered or dormant when the visit opened; activated: those of
//     them converted by an e-code scan (促活); activation_rate = activated /
//     need_activation (促活率).
//   - no_mbank: recognised visits whose customer had no mobile banking when
//     the visit opened; new_users: those of them converted (拉新);
//     new_user_rate = new_users / no_mbank (拉新率).
//   - Per staff member: claims (visits they claimed first), served and
//     outcomes they recorded, and the conversions credited to them through
//     their marketing code (activations and new users); a conversion not
//     credited to anyone is the branch's.
//
// Rates are 0 when their denominator is 0. Nothing here knows who a
// customer is: the facts hold a visit id and counts, never a customer id.
package funnel

import (
	"time"

	"huiyan"
	"huiyan/hub"
)

// Visit is what the funnel knows of one visit: the fold of its events.
// It is stored (JSON) by the edge and by the hub, one per visit.
type Visit struct {
	Branch string `json:"branch"`
	ID     string `json:"visit"`
	// OpenedAt is zero until the visit's opened event is folded in; such a
	// visit is not counted (its events arrived before its opening, which
	// the edge's per-visit order rules out, or the opening was purged).
	OpenedAt time.Time      `json:"opened_at,omitzero"`
	Channel  huiyan.Channel `json:"channel,omitempty"`
	Signals  [3]int         `json:"signals"` // by channel: counter, ecode, wheel
	// RefusedScans counts e-code scans whose code proved no presence.
	RefusedScans int                `json:"refused_scans,omitempty"`
	Recognised   bool               `json:"recognised,omitempty"`
	MBankAtOpen  huiyan.MBankStatus `json:"mbank_at_open,omitempty"`
	Tier         huiyan.Tier        `json:"tier,omitempty"`
	ClaimedBy    string             `json:"claimed_by,omitempty"` // the first claim
	ClaimedAt    time.Time          `json:"claimed_at,omitzero"`
	Outcome      huiyan.Outcome     `json:"outcome,omitempty"` // the last one recorded
	OutcomeBy    string             `json:"outcome_by,omitempty"`
	OutcomeAt    time.Time          `json:"outcome_at,omitzero"`
	Converted    huiyan.Conversion  `json:"converted,omitempty"`
	ConvertedAt  time.Time          `json:"converted_at,omitzero"`
	// AttributedTo is the staff member credited with the conversion, empty
	// for the branch.
	AttributedTo string    `json:"attributed_to,omitempty"`
	ClosedAt     time.Time `json:"closed_at,omitzero"`
}

// channelIndex maps a channel to its place in Visit.Signals, -1 if unknown.
func channelIndex(c huiyan.Channel) int {
	switch c {
	case huiyan.ChannelCounter:
		return 0
	case huiyan.ChannelECode:
		return 1
	case huiyan.ChannelWheel:
		return 2
	}
	return -1
}

// Apply folds one event of the visit into v. Events come in the order they
// happened (the edge sends them so, per visit); Apply is still careful
// where order could matter: the first claim stays the first, a repeated
// opening does not count twice. A valid event (hub.EventWire.Validate) is
// expected; fields a kind does not use are ignored.
func (v *Visit) Apply(branch string, e *hub.EventWire) {
	if v.ID == "" {
		v.Branch, v.ID = branch, e.Visit
	}
	switch e.Kind {
	case hub.EventOpened:
		if !v.OpenedAt.IsZero() {
			return
		}
		v.OpenedAt, v.Channel = e.At, e.Channel
		v.Recognised, v.MBankAtOpen, v.Tier = e.Recognised, e.MBankAtOpen, e.Tier
		if i := channelIndex(e.Channel); i >= 0 {
			v.Signals[i]++
		}
	case hub.EventTouch:
		if e.Refused != "" {
			v.RefusedScans++
			return
		}
		if i := channelIndex(e.Channel); i >= 0 {
			v.Signals[i]++
		}
	case hub.EventClaimed:
		if v.ClaimedBy == "" || e.At.Before(v.ClaimedAt) {
			v.ClaimedBy, v.ClaimedAt = e.Staff, e.At
		}
	case hub.EventReleased:
		// A release does not undo the claim: the staff member reacted,
		// which is what the claim time measures.
	case hub.EventOutcome:
		if v.Outcome == "" || !e.At.Before(v.OutcomeAt) {
			v.Outcome, v.OutcomeBy, v.OutcomeAt = e.Outcome, e.Staff, e.At
		}
	case hub.EventConverted:
		switch {
		case v.Converted == "":
			v.Converted, v.ConvertedAt, v.AttributedTo = e.Conversion, e.At, e.Staff
		case v.AttributedTo == "" && e.Staff != "":
			// A conversion credited to the branch is re-attributed when a
			// staff member's code is scanned later in the visit (staff code
			// beats branch code); the edge sends a second converted event.
			v.AttributedTo = e.Staff
		}
	case hub.EventClosed:
		if v.ClosedAt.IsZero() {
			v.ClosedAt = e.At
		}
	}
}

// Served reports whether the visit's last outcome means the customer was
// helped (see the package documentation).
func (v *Visit) Served() bool {
	switch v.Outcome {
	case huiyan.OutcomeServed, huiyan.OutcomeActivated, huiyan.OutcomeReferred, huiyan.OutcomeFollowUp:
		return true
	}
	return false
}
