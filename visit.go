package huiyan

import "time"

// DefaultVisitWindow is how long after its last signal a visit stays open:
// a later signal from the same customer within it joins the visit.
const DefaultVisitWindow = 30 * time.Minute

// Outcome is what staff recorded for a visit.
type Outcome string

// Outcomes a PAD can record. OutcomeNone means nothing was recorded yet.
const (
	OutcomeNone      Outcome = ""
	OutcomeServed    Outcome = "served"     // helped with what they came for
	OutcomeActivated Outcome = "activated"  // staff guided mobile-banking activation
	OutcomeDeclined  Outcome = "declined"   // the customer did not want to talk
	OutcomeReferred  Outcome = "referred"   // handed to a wealth or account manager
	OutcomeFollowUp  Outcome = "follow_up"  // an appointment or call-back was agreed
	OutcomeNoContact Outcome = "no_contact" // left before staff reached them
)

// Outcomes lists every outcome a PAD may record.
var Outcomes = []Outcome{OutcomeServed, OutcomeActivated, OutcomeDeclined, OutcomeReferred, OutcomeFollowUp, OutcomeNoContact}

// Valid reports whether o is an outcome a PAD may record (not OutcomeNone).
func (o Outcome) Valid() bool {
	for _, x := range Outcomes {
		if x == o {
			return true
		}
	}
	return false
}

// Conversion is a mobile-banking conversion detected during a visit.
type Conversion string

// Conversions. They are detected from device signals, never typed in.
const (
	ConversionNone      Conversion = ""
	ConversionActivated Conversion = "activated" // 促活: registered or dormant, then scanned
	ConversionNewUser   Conversion = "new_user"  // 拉新: never registered, then scanned
)

// ConversionFor returns the conversion an e-code scan makes for a customer
// whose mobile-banking status was s when the visit opened.
func ConversionFor(s MBankStatus) Conversion {
	switch {
	case s.NeedsActivation():
		return ConversionActivated
	case s == MBankNone:
		return ConversionNewUser
	}
	return ConversionNone
}

// Touchpoint is one device signal that is part of a visit.
type Touchpoint struct {
	EventID string // the arrival's id
	Channel Channel
	Device  string
	At      time.Time
	// Refused is why an e-code scan does not prove the customer was there
	// (an edge/ecode verdict: "expired", "forged", "wrong_branch",
	// "unknown_subject"); empty for a scan that counts and for every other
	// channel. A refused scan is on the visit's record, but it never
	// converts the visit, never credits a staff member and never lets the
	// customer spin the prize wheel.
	Refused string
}

// Visit is a customer's presence at a branch: the first arrival signal opens
// it, later signals within the visit window join it.
type Visit struct {
	ID          string
	Branch      string
	CustomerID  string // empty for a new face
	OpenedAt    time.Time
	LastSeenAt  time.Time
	ClosedAt    time.Time // zero while open
	Channel     Channel   // the channel of the signal that opened the visit
	Touchpoints []Touchpoint
	ClaimedBy   string // staff id, empty if unclaimed
	ClaimedAt   time.Time
	Outcome     Outcome
	OutcomeBy   string
	OutcomeAt   time.Time
	// MBankAtOpen is the customer's mobile-banking status when the visit
	// opened: conversions are judged against it, not against a status a
	// later snapshot may have changed.
	MBankAtOpen MBankStatus
	Converted   Conversion
	ConvertedAt time.Time
	// AttributedTo is the staff member credited with the conversion (a staff
	// marketing code scanned during the visit), empty for the branch.
	AttributedTo string
}

// NewFace reports whether the visit is of a customer we do not know.
func (v *Visit) NewFace() bool { return v.CustomerID == "" }

// Open reports whether the visit is still open at t under the window.
func (v *Visit) Open(t time.Time, window time.Duration) bool {
	return v.ClosedAt.IsZero() && t.Sub(v.LastSeenAt) < window
}

// HasEvent reports whether the visit already has the arrival with the id.
func (v *Visit) HasEvent(eventID string) bool {
	for _, tp := range v.Touchpoints {
		if tp.EventID == eventID {
			return true
		}
	}
	return false
}
