package firmware

import (
	"encoding/json"
	"regexp"
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
	TS        string `json:"ts"`
}

// MaxPrizeLen and MaxPrizeNameLen bound a wheel result's prize code and name.
const (
	MaxPrizeLen     = 64 // characters of prize, [0-9A-Za-z._:-]
	MaxPrizeNameLen = 64 // characters of prize_name, no control characters
)

// EncodeWheelResult returns the result payload for the spin of the wheel
// arrival id. It checks its input (code huiyan.EInvalid), since what the
// edge sends must pass schema/wheel-result.schema.json too.
func EncodeWheelResult(id, spin, prize, prizeName string, now time.Time) ([]byte, error) {
	r := WheelResult{V: Version, ID: id, Spin: spin, Prize: prize, PrizeName: prizeName, TS: now.Format(ReplyTimeLayout)}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return marshal(r), nil
}

// DecodeWheelResult parses and checks a wheel result payload, for device
// simulators and tests. It ignores unknown fields, as devices must.
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

var prizeRe = regexp.MustCompile(prizePattern)

func (r WheelResult) validate() error {
	switch {
	case r.V != Version:
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: v must be 1")
	case !validEventID(r.ID):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: id must be an arrival id")
	case len(r.Spin) > MaxSpinLen || !spinRe.MatchString(r.Spin):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: spin must be 1 to %d characters of [0-9A-Za-z._:-]", MaxSpinLen)
	case len(r.Prize) > MaxPrizeLen || !prizeRe.MatchString(r.Prize):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: prize must be empty or 1 to %d characters of [0-9A-Za-z._:-]", MaxPrizeLen)
	case !validText(r.PrizeName, 0, MaxPrizeNameLen):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: prize_name must be at most %d characters without control characters", MaxPrizeNameLen)
	case !tsRe.MatchString(r.TS):
		return huiyan.Errorf(huiyan.EInvalid, "wheel result: ts must be RFC 3339 with an explicit offset")
	}
	return nil
}
