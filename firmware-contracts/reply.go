package firmware

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"

	"huiyan"
)

// ReplyTimeLayout is how the edge writes "ts" in the messages it sends to
// devices: RFC 3339 with milliseconds and the edge's offset.
const ReplyTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Reject is the wire form of a reject message, edge → device on
// huiyan/v1/{branch}/reject/{device}, QoS 1 (DESIGN.md, "MQTT contract"):
// why a message of the device was refused. Devices must ignore fields they
// do not know: later versions of v1 may add some.
type Reject struct {
	V       int    `json:"v"`
	ID      string `json:"id"`      // the refused payload's id, "" when it had no valid one
	Code    string `json:"code"`    // one of Codes()
	Message string `json:"message"` // for the firmware developer; never customer data
	TS      string `json:"ts"`
}

// EncodeReject returns the reject payload for err, the error that refused a
// payload whose id was id (from PeekID). Code and message come from the
// *huiyan.Error in err's chain; any other error is reported as "internal"
// with a generic message, so internal details never reach a device. An id
// that is not a valid arrival id is sent as "".
func EncodeReject(id string, err error, now time.Time) []byte {
	if !validEventID(id) {
		id = ""
	}
	code := huiyan.ErrorCode(err)
	if code == "" {
		code = huiyan.EInternal
	}
	msg := huiyan.ErrorMessage(err)
	if msg == "" {
		msg = "internal error"
	}
	return marshal(Reject{V: Version, ID: id, Code: code, Message: msg, TS: now.Format(ReplyTimeLayout)})
}

// DecodeReject parses a reject payload, for device simulators and tests. It
// ignores unknown fields, as devices must.
func DecodeReject(b []byte) (Reject, error) {
	var r Reject
	if err := json.Unmarshal(b, &r); err != nil {
		return Reject{}, huiyan.Errorf(EBadJSON, "reject: not a JSON object of the reject shape")
	}
	if r.V != Version || r.Code == "" {
		return Reject{}, huiyan.Errorf(huiyan.EInvalid, "reject: v must be 1 and code must be set")
	}
	return r, nil
}

// Device statuses, the payloads of huiyan/v1/{branch}/device/{device}/status
// (DESIGN.md, "MQTT contract"): plain text, not JSON, published retained; a
// device sets StatusOffline as its Last Will (retained, QoS 1) when it
// connects and publishes StatusOnline right after.
const (
	StatusOnline  = huiyan.DeviceOnline  // "online"
	StatusOffline = huiyan.DeviceOffline // "offline"
)

// ParseStatus parses a device status payload: exactly "online" or "offline",
// without quotes or white space. An empty payload on the status topic is not
// a status: it is MQTT's way of clearing the retained message, and the edge
// should treat it as "status unknown" rather than reject it.
func ParseStatus(b []byte) (string, error) {
	switch s := string(b); s {
	case StatusOnline, StatusOffline:
		return s, nil
	}
	return "", huiyan.Errorf(EBadStatus, "status must be online or offline, as plain text")
}

// WheelResult is the wire form of the outcome of a spin, edge → wheel on
// huiyan/v1/{branch}/wheel/{device}/result, QoS 1 (DESIGN.md, "MQTT
// contract"). Devices must ignore fields they do not know: later versions
// of v1 may add some.
type WheelResult struct {
	V         int    `json:"v"`
	ID        string `json:"id"`         // the wheel arrival's id
	Spin      string `json:"spin"`       // the wheel arrival's spin
	Prize     string `json:"prize"`      // the prize code, "" for no prize
	PrizeName string `json:"prize_name"` // what the wheel shows: the prize, or 谢谢参与 for none
	// PrizeNameEN is the English name, for a wheel switched to English;
	// omitted when the prize table has none.
	PrizeNameEN string `json:"prize_name_en,omitempty"`
	// Reason says why there is no prize (one of WheelReasons), so that the
	// wheel can tell "thanks for playing" from "come back tomorrow";
	// omitted when the customer won. Edges before it sent no reason, and
	// later ones may add reasons: a device shows an unknown reason as
	// WheelNoPrize.
	Reason string `json:"reason,omitempty"`
	TS     string `json:"ts"`
}

// Reasons for no prize, the "reason" of a wheel result (edge/wheel decides
// them; its package documentation has the rules).
const (
	// WheelNoPrize: the draw landed on the no-prize entry (谢谢参与).
	WheelNoPrize = "no_prize"
	// WheelInventoryOut: the draw landed on a prize that is all given
	// away; the spin counts and is no prize.
	WheelInventoryOut = "inventory_out"
	// WheelPrizeClosed: the draw landed on a prize outside its own
	// validity window; the spin counts and is no prize.
	WheelPrizeClosed = "prize_closed"
	// WheelLimitReached: the customer has used today's spins; no draw.
	WheelLimitReached = "limit_reached"
	// WheelUnknownCustomer: the bank does not know the customer and the
	// branch does not let unknown customers play; no draw.
	WheelUnknownCustomer = "unknown_customer"
	// WheelCampaignClosed: no campaign runs at the branch now; no draw.
	WheelCampaignClosed = "campaign_closed"
	// WheelNotPresent: the customer's presence at the branch was not
	// proven (their e-code scan was refused: a photo of an old code, a
	// forged one); no draw.
	WheelNotPresent = "not_present"
)

// WheelReasons returns the reasons a v1 edge sends, a new slice on every
// call.
func WheelReasons() []string {
	return []string{WheelNoPrize, WheelInventoryOut, WheelPrizeClosed, WheelLimitReached,
		WheelUnknownCustomer, WheelCampaignClosed, WheelNotPresent}
}

// MaxPrizeLen, MaxPrizeNameLen and MaxWheelReasonLen bound a wheel result's
// prize code, names and reason.
const (
	MaxPrizeLen       = 64 // characters of prize, [0-9A-Za-z._:-]
	MaxPrizeNameLen   = 64 // characters of prize_name and prize_name_en, no control characters
	MaxWheelReasonLen = 32 // characters of reason, [a-z_], starting with a letter
)

// ValidPrizeCode reports whether s can be a prize code: 1 to MaxPrizeLen
// characters of [0-9A-Za-z._:-].
func ValidPrizeCode(s string) bool { return s != "" && len(s) <= MaxPrizeLen && prizeRe.MatchString(s) }

// ValidPrizeName reports whether s can be a prize name on the wire: at
// most MaxPrizeNameLen characters, no control characters.
func ValidPrizeName(s string) bool { return validText(s, 0, MaxPrizeNameLen) }

// EncodeWheelResult returns the result payload for the spin of the wheel
// arrival id. It checks its input (code huiyan.EInvalid), since what the
// edge sends must pass schema/wheel-result.schema.json too. It sends no
// reason and no English name; Encode does.
func EncodeWheelResult(id, spin, prize, prizeName string, now time.Time) ([]byte, error) {
	return WheelResult{ID: id, Spin: spin, Prize: prize, PrizeName: prizeName, TS: now.Format(ReplyTimeLayout)}.Encode()
}

// Encode checks r and returns its payload (code huiyan.EInvalid when a
// field breaks the contract). V is set to Version; TS must be set, in
// ReplyTimeLayout. Reason must be empty when Prize is set, and one of
// WheelReasons (or empty) when it is not.
func (r WheelResult) Encode() ([]byte, error) {
	r.V = Version
	if err := r.validate(); err != nil {
		return nil, err
	}
	if r.Reason != "" && !slices.Contains(WheelReasons(), r.Reason) {
		return nil, huiyan.Errorf(huiyan.EInvalid, "wheel result: reason must be one of %s", strings.Join(WheelReasons(), ", "))
	}
	return marshal(r), nil
}

// DecodeWheelResult parses and checks a wheel result payload, for device
// simulators and tests. It ignores unknown fields, as devices must, and
// accepts a reason it does not know (a later edge's) if it is well formed.
func DecodeWheelResult(b []byte) (WheelResult, error) {
	var r WheelResult
	if err := json.Unmarshal(b, &r); err != nil {
		return WheelResult{}, huiyan.Errorf(EBadJSON, "wheel result: not a JSON object of the wheel result shape")
	}
	if err := r.validate(); err != nil {
		return WheelResult{}, err
	}
	return r, nil
}

var (
	prizeRe       = regexp.MustCompile(prizePattern)
	wheelReasonRe = regexp.MustCompile(wheelReasonPattern)
)

// wheelReasonPattern is shared, letter for letter, with the schema.
const wheelReasonPattern = `^([a-z][a-z_]{0,31})?$`

func (r WheelResult) validate() error {
	switch {
	case r.V != Version:
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: v must be 1")
	case !validEventID(r.ID):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: id must be an arrival id")
	case !validSpin(r.Spin):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: spin must be 1 to %d characters of [0-9A-Za-z._:-]", MaxSpinLen)
	case len(r.Prize) > MaxPrizeLen || !prizeRe.MatchString(r.Prize):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: prize must be empty or 1 to %d characters of [0-9A-Za-z._:-]", MaxPrizeLen)
	case !validText(r.PrizeName, 0, MaxPrizeNameLen):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: prize_name must be at most %d characters without control characters", MaxPrizeNameLen)
	case !validText(r.PrizeNameEN, 0, MaxPrizeNameLen):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: prize_name_en must be at most %d characters without control characters", MaxPrizeNameLen)
	case !wheelReasonRe.MatchString(r.Reason):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: reason must be empty or 1 to %d characters of [a-z_] starting with a letter", MaxWheelReasonLen)
	case r.Reason != "" && r.Prize != "":
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: a result with a prize has no reason")
	case !validTimestamp(r.TS):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: ts must be RFC 3339 with an explicit offset")
	}
	return nil
}

// WheelResultFixtures returns wheel result payloads, valid (Valid) or not,
// for device firmware and the schema agreement test: DecodeWheelResult and
// schema/wheel-result.schema.json must give each the same verdict. A new
// slice on every call.
func WheelResultFixtures() []WheelResultFixture {
	const head = `{"v":1,"id":"wh-01-000001","spin":"spin-20261123-0001",`
	const ts = `"ts":"2026-11-23T10:00:00.350+08:00"}`
	return []WheelResultFixture{
		{"valid/prize", head + `"prize":"cup","prize_name":"保温杯","prize_name_en":"Thermos cup",` + ts, true},
		{"valid/no-prize", head + `"prize":"","prize_name":"谢谢参与","prize_name_en":"Thanks for playing","reason":"no_prize",` + ts, true},
		{"valid/limit-reached", head + `"prize":"","prize_name":"谢谢参与","reason":"limit_reached",` + ts, true},
		{"valid/not-present", head + `"prize":"","prize_name":"谢谢参与","reason":"not_present",` + ts, true},
		{"valid/no-reason", head + `"prize":"","prize_name":"谢谢参与",` + ts, true},
		{"valid/later-reason", head + `"prize":"","prize_name":"谢谢参与","reason":"wheel_broken",` + ts, true},
		{"valid/unknown-field", head + `"prize":"","prize_name":"","coupon":"later",` + ts, true},
		{"invalid/prize-with-reason", head + `"prize":"cup","prize_name":"保温杯","reason":"no_prize",` + ts, false},
		{"invalid/reason-upper-case", head + `"prize":"","prize_name":"谢谢参与","reason":"No_Prize",` + ts, false},
		{"invalid/reason-too-long", head + `"prize":"","prize_name":"谢谢参与","reason":"` + strings.Repeat("r", MaxWheelReasonLen+1) + `",` + ts, false},
		{"invalid/name-en-control", head + `"prize":"cup","prize_name":"保温杯","prize_name_en":"cup\n",` + ts, false},
		{"invalid/prize-space", head + `"prize":"a cup","prize_name":"保温杯",` + ts, false},
		{"invalid/no-ts", head + `"prize":"cup","prize_name":"保温杯"}`, false},
	}
}

// WheelResultFixture is one wheel result payload and whether a device must
// accept it.
type WheelResultFixture struct {
	Name    string
	Payload string
	Valid   bool
}
