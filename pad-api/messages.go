package pad

import (
	"encoding/json"
	"fmt"
	"time"

	"huiyan"
)

// Message types (DESIGN.md, "PAD contract"). Every websocket message is one
// JSON object in one text frame, with its type in "type".
const (
	// Server → PAD.
	TypeHello   = "hello"
	TypeArrival = "arrival"
	TypeVisit   = "visit"
	TypeDevice  = "device"
	TypeError   = "error"
	TypeState   = "state"
	TypePong    = "pong"

	// PAD → server.
	TypeResume  = "resume"
	TypeClaim   = "claim"
	TypeRelease = "release"
	TypeOutcome = "outcome"
	TypePing    = "ping"
)

// ServerTypes lists the types of the messages the server sends.
var ServerTypes = []string{TypeHello, TypeArrival, TypeVisit, TypeDevice, TypeError, TypeState, TypePong}

// ClientTypes lists the types of the messages a PAD sends.
var ClientTypes = []string{TypeResume, TypeClaim, TypeRelease, TypeOutcome, TypePing}

// Error codes the PAD contract adds to the generic huiyan codes (which an
// error message and the HTTP answers also use: unauthorized, conflict,
// not_found, invalid, forbidden, internal, unavailable, too_large).
const (
	EBadMessage  = "bad_message"  // a websocket message that is not a JSON object with a string "type"
	EUnknownType = "unknown_type" // a message type the server does not know
	ERateLimited = "rate_limited" // too many wrong PINs; retry_after_s says when to try again
)

// TimeLayout is how every time on the PAD wire is written: RFC 3339 with
// milliseconds and always a numeric offset (+08:00, +00:00), in the edge's
// time zone.
const TimeLayout = "2006-01-02T15:04:05.000-07:00"

// DateLayout is how days (maturities) are written.
const DateLayout = "2006-01-02"

// FormatTime writes t in TimeLayout; the zero time is "".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(TimeLayout)
}

// Staff is a staff member as the PAD shows them. Never the PIN hash.
type Staff struct {
	ID   string      `json:"id"`
	Name string      `json:"name"`
	Role huiyan.Role `json:"role"`
}

// Touchpoint is one device signal of a visit. EventID is the arrival's id.
type Touchpoint struct {
	EventID string         `json:"event_id"`
	Channel huiyan.Channel `json:"channel"`
	Device  string         `json:"device"`
	At      string         `json:"at"`
	// Refused is set on an e-code scan that did not prove the customer was
	// in the branch (an expired or forged code: "expired", "forged",
	// "wrong_branch", "unknown_subject"); such a scan never converts.
	Refused string `json:"refused,omitempty"`
}

// Visit is a visit on the wire. ClaimedBy is a staff id ("" when
// unclaimed); Converted is "", "activated" or "new_user".
//
// ClosedAt is an extension to DESIGN.md: it is set (and only then present)
// in the visit message that tells the PADs a visit closed, so that a PAD
// can take the card down without waiting for a state.
type Visit struct {
	ID          string            `json:"id"`
	OpenedAt    string            `json:"opened_at"`
	Channel     huiyan.Channel    `json:"channel"`
	Touchpoints []Touchpoint      `json:"touchpoints"`
	ClaimedBy   string            `json:"claimed_by"`
	Outcome     huiyan.Outcome    `json:"outcome"`
	Converted   huiyan.Conversion `json:"converted"`
	ClosedAt    string            `json:"closed_at,omitempty"`
}

// Tag is a profile tag: Name is the Chinese name staff read, NameEN the
// English one for the language switch.
type Tag struct {
	Code   string         `json:"code"`
	Name   string         `json:"name"`
	NameEN string         `json:"name_en"`
	Kind   huiyan.TagKind `json:"kind"`
}

// Maturity is a product the customer holds and the day (DateLayout) it matures.
type Maturity struct {
	Product string `json:"product"`
	Date    string `json:"date"`
}

// Profile is the instant profile on the wire: masked and only what the job
// needs. It never carries the assigned manager's id, tokens, risk, AUM or
// anything else of the customer record: YourCustomer is computed per
// connection (the viewer is the assigned account manager). CustomerID is
// empty and NewFace true for a customer we do not know. OptOut means service
// help only, no marketing (PIPL art. 24).
type Profile struct {
	CustomerID   string             `json:"customer_id"`
	DisplayName  string             `json:"display_name"`
	Tier         huiyan.Tier        `json:"tier"`
	Tags         []Tag              `json:"tags"`
	MBankStatus  huiyan.MBankStatus `json:"mbank_status"`
	Lifecycle    huiyan.Lifecycle   `json:"lifecycle"`
	Maturities   []Maturity         `json:"maturities"`
	YourCustomer bool               `json:"your_customer"`
	NewFace      bool               `json:"new_face"`
	OptOut       bool               `json:"opt_out"`
}

// Action is a suggested next step with its talk track. Lower Priority first.
type Action struct {
	Code     string      `json:"code"`
	Title    string      `json:"title"`
	Script   string      `json:"script"`
	Role     huiyan.Role `json:"role"`
	Priority int         `json:"priority"`
	Reason   string      `json:"reason"`
}

// Card is one open visit in a state message.
type Card struct {
	Visit   Visit    `json:"visit"`
	Profile Profile  `json:"profile"`
	Actions []Action `json:"actions"`
}

// Device is a device's last known status in a state message. Channel is ""
// when unknown; Since is when the status was last reported.
type Device struct {
	Device  string         `json:"device"`
	Channel huiyan.Channel `json:"channel"`
	Status  string         `json:"status"`
	Since   string         `json:"since"`
}

// HelloMsg is the first message of every connection. Seq is the newest seq
// of the branch feed; live messages follow at once.
type HelloMsg struct {
	Type       string `json:"type"`
	Seq        uint64 `json:"seq"`
	Staff      Staff  `json:"staff"`
	Branch     string `json:"branch"`
	ServerTime string `json:"server_time"`
}

// ArrivalMsg is a new visit, with the profile and suggested actions.
type ArrivalMsg struct {
	Type    string   `json:"type"`
	Seq     uint64   `json:"seq"`
	Visit   Visit    `json:"visit"`
	Profile Profile  `json:"profile"`
	Actions []Action `json:"actions"`
}

// VisitMsg says a visit changed: claimed, released, outcome, a new
// touchpoint, converted, closed. Profile is present when the PAD may not
// have the card (the edge sends it for staff who were not in the arrival's
// audience, e.g. a wealth manager a customer was referred to); a PAD that
// gets a visit it has no card for and no profile keeps the visit and shows
// it without a profile.
type VisitMsg struct {
	Type    string   `json:"type"`
	Seq     uint64   `json:"seq"`
	Visit   Visit    `json:"visit"`
	Profile *Profile `json:"profile,omitempty"`
}

// DeviceMsg says a branch device went online or offline.
type DeviceMsg struct {
	Type   string `json:"type"`
	Seq    uint64 `json:"seq"`
	Device string `json:"device"`
	Status string `json:"status"`
}

// ErrorMsg is an error for this PAD only; the connection stays open unless
// Code is "unauthorized". Request and Visit are extensions to DESIGN.md: the
// type of the PAD message that failed and the visit it named, so that the
// app can undo what it showed on that card.
type ErrorMsg struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Request string `json:"request,omitempty"`
	Visit   string `json:"visit,omitempty"`
}

// StateMsg is every open visit the staff member may see, sent instead of a
// replay when the PAD's seq is too old. Seq is the newest seq; live
// messages with a greater seq follow. Devices is an extension to DESIGN.md:
// the last known status of every branch device, so that a PAD that missed
// device messages is current too.
type StateMsg struct {
	Type    string   `json:"type"`
	Seq     uint64   `json:"seq"`
	Visits  []Card   `json:"visits"`
	Devices []Device `json:"devices"`
}

// PongMsg answers a ping.
type PongMsg struct {
	Type string `json:"type"`
}

// ResumeMsg asks for everything after AfterSeq, the last seq the PAD saw.
// AfterSeq 0 means "I have nothing": the answer is a state.
type ResumeMsg struct {
	Type     string `json:"type"`
	AfterSeq uint64 `json:"after_seq"`
}

// ClaimMsg claims a visit for the logged-in staff member.
type ClaimMsg struct {
	Type  string `json:"type"`
	Visit string `json:"visit"`
}

// ReleaseMsg gives a claimed visit back.
type ReleaseMsg struct {
	Type  string `json:"type"`
	Visit string `json:"visit"`
}

// OutcomeMsg records what came of a visit; Result is one of huiyan.Outcomes.
type OutcomeMsg struct {
	Type   string         `json:"type"`
	Visit  string         `json:"visit"`
	Result huiyan.Outcome `json:"result"`
}

// PingMsg is an application-level ping; the answer is a PongMsg.
type PingMsg struct {
	Type string `json:"type"`
}

// VisitOf converts a domain visit to the wire. A nil visit gives the zero
// Visit with empty lists.
func VisitOf(v *huiyan.Visit) Visit {
	if v == nil {
		return Visit{Touchpoints: []Touchpoint{}}
	}
	w := Visit{
		ID:          v.ID,
		OpenedAt:    FormatTime(v.OpenedAt),
		Channel:     v.Channel,
		Touchpoints: make([]Touchpoint, 0, len(v.Touchpoints)),
		ClaimedBy:   v.ClaimedBy,
		Outcome:     v.Outcome,
		Converted:   v.Converted,
		ClosedAt:    FormatTime(v.ClosedAt),
	}
	for _, tp := range v.Touchpoints {
		w.Touchpoints = append(w.Touchpoints, Touchpoint{EventID: tp.EventID, Channel: tp.Channel, Device: tp.Device, At: FormatTime(tp.At), Refused: tp.Refused})
	}
	return w
}

// ProfileFor converts a domain profile to the wire for the staff member
// viewer (a staff id): YourCustomer is true only when viewer is the
// customer's assigned account manager. Manager itself never reaches the
// wire. A nil profile is a new face.
func ProfileFor(p *huiyan.Profile, viewer string) Profile {
	return profileOf(p, yours(p, viewer))
}

func yours(p *huiyan.Profile, viewer string) bool {
	return p != nil && viewer != "" && p.Manager == viewer
}

func profileOf(p *huiyan.Profile, yourCustomer bool) Profile {
	if p == nil {
		return Profile{Tags: []Tag{}, Maturities: []Maturity{}, NewFace: true}
	}
	w := Profile{
		CustomerID:   p.CustomerID,
		DisplayName:  p.DisplayName,
		Tier:         p.Tier,
		Tags:         make([]Tag, 0, len(p.Tags)),
		MBankStatus:  p.MBankStatus,
		Lifecycle:    p.Lifecycle,
		Maturities:   make([]Maturity, 0, len(p.Maturities)),
		YourCustomer: yourCustomer,
		NewFace:      p.NewFace(),
		OptOut:       p.OptOut,
	}
	for _, t := range p.Tags {
		w.Tags = append(w.Tags, Tag{Code: t.Code, Name: t.NameZH, NameEN: t.NameEN, Kind: t.Kind})
	}
	for _, m := range p.Maturities {
		date := ""
		if !m.Date.IsZero() {
			date = m.Date.Format(DateLayout)
		}
		w.Maturities = append(w.Maturities, Maturity{Product: m.Product, Date: date})
	}
	return w
}

// ActionsOf converts suggested actions to the wire; never nil.
func ActionsOf(as []huiyan.Action) []Action {
	w := make([]Action, 0, len(as))
	for _, a := range as {
		w = append(w, Action{Code: a.Code, Title: a.Title, Script: a.Script, Role: a.Role, Priority: a.Priority, Reason: a.Reason})
	}
	return w
}

// CardFor converts an open visit's card for the staff member viewer.
func CardFor(c huiyan.Card, viewer string) Card {
	return Card{Visit: VisitOf(c.Visit), Profile: ProfileFor(c.Profile, viewer), Actions: ActionsOf(c.Actions)}
}

// DeviceOf converts a device state to the wire.
func DeviceOf(d huiyan.DeviceState) Device {
	return Device{Device: d.Device, Channel: d.Channel, Status: d.Status, Since: FormatTime(d.Since)}
}

// StateFor builds the state message for a staff member: the cards whose
// audience includes them, and every device (device status is not customer
// data, and every role needs to know a super-counter is down).
func StateFor(newest uint64, cards []huiyan.Card, devices []huiyan.DeviceState, viewer *huiyan.Staff) StateMsg {
	m := StateMsg{Type: TypeState, Seq: newest, Visits: []Card{}, Devices: make([]Device, 0, len(devices))}
	for _, c := range cards {
		if c.Audience.Includes(viewer) {
			m.Visits = append(m.Visits, CardFor(c, viewer.ID))
		}
	}
	for _, d := range devices {
		m.Devices = append(m.Devices, DeviceOf(d))
	}
	return m
}

// EventFor converts a feed event to its message (ArrivalMsg, VisitMsg or
// DeviceMsg) for the staff member viewer. It does not check the audience.
func EventFor(e huiyan.FeedEvent, viewer string) (any, error) {
	return eventMsg(e, yours(e.Profile, viewer))
}

func eventMsg(e huiyan.FeedEvent, yourCustomer bool) (any, error) {
	switch e.Kind {
	case huiyan.FeedArrival:
		return ArrivalMsg{Type: TypeArrival, Seq: e.Seq, Visit: VisitOf(e.Visit), Profile: profileOf(e.Profile, yourCustomer), Actions: ActionsOf(e.Actions)}, nil
	case huiyan.FeedVisit:
		m := VisitMsg{Type: TypeVisit, Seq: e.Seq, Visit: VisitOf(e.Visit)}
		if e.Profile != nil {
			p := profileOf(e.Profile, yourCustomer)
			m.Profile = &p
		}
		return m, nil
	case huiyan.FeedDevice:
		return DeviceMsg{Type: TypeDevice, Seq: e.Seq, Device: e.Device, Status: e.DeviceStatus}, nil
	}
	return nil, fmt.Errorf("feed event %d: unknown kind %q", e.Seq, e.Kind)
}

func encodeEvent(e huiyan.FeedEvent, yourCustomer bool) ([]byte, error) {
	m, err := eventMsg(e, yourCustomer)
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// inbound is any PAD → server message; which fields matter depends on Type.
// AfterSeq is a pointer so that a resume without it is told apart from 0.
type inbound struct {
	Type     string  `json:"type"`
	AfterSeq *uint64 `json:"after_seq"`
	Visit    string  `json:"visit"`
	Result   string  `json:"result"`
}
