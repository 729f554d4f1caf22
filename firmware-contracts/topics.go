package firmware

import (
	"strings"

	"huiyan"
)

// TopicRoot is the first two levels of every topic: the application and the
// contract version (DESIGN.md, "MQTT contract": "version in the path").
const TopicRoot = "huiyan/v1"

// MaxDeviceIDLen is the longest device id.
const MaxDeviceIDLen = 64

// ValidDeviceID reports whether s is a device id: 1 to 64 characters of
// [0-9A-Za-z_-]. Device ids are MQTT topic levels, so there is no room for
// a wildcard, a separator or a space.
func ValidDeviceID(s string) bool {
	return allIn(s, deviceChars, 1, MaxDeviceIDLen)
}

// TopicKind says which of the contract's topics a topic is.
type TopicKind string

// Topic kinds, one per topic of DESIGN.md, "MQTT contract".
const (
	// TopicArrival: huiyan/v1/{branch}/arrival/{channel}/{device},
	// device → edge, QoS 1.
	TopicArrival TopicKind = "arrival"
	// TopicStatus: huiyan/v1/{branch}/device/{device}/status, device → edge,
	// retained, "online" / "offline" (the Last Will).
	TopicStatus TopicKind = "status"
	// TopicReject: huiyan/v1/{branch}/reject/{device}, edge → device, QoS 1.
	TopicReject TopicKind = "reject"
	// TopicWheelResult: huiyan/v1/{branch}/wheel/{device}/result,
	// edge → wheel, QoS 1.
	TopicWheelResult TopicKind = "wheel_result"
)

// Topic is a parsed topic name. Channel is set for arrival topics only.
type Topic struct {
	Kind    TopicKind
	Branch  string
	Channel huiyan.Channel
	Device  string
}

// Validate reports, as a *huiyan.Error with code EBadTopic, why t is not a
// topic of the contract.
func (t Topic) Validate() error {
	switch {
	case t.Kind != TopicArrival && t.Kind != TopicStatus && t.Kind != TopicReject && t.Kind != TopicWheelResult:
		return topicErr("unknown topic kind")
	case !huiyan.ValidBranchID(t.Branch):
		return topicErr("the branch level must be 1 to 32 characters of [0-9A-Za-z-]")
	case !ValidDeviceID(t.Device):
		return topicErr("the device level must be 1 to 64 characters of [0-9A-Za-z_-]")
	case t.Kind == TopicArrival && !t.Channel.Valid():
		return topicErr("the channel level must be counter, ecode or wheel")
	case t.Kind != TopicArrival && t.Channel != "":
		return topicErr("only arrival topics have a channel")
	}
	return nil
}

// String returns the topic name. It is only meaningful for a topic that
// passes Validate; ParseTopic(t.String()) then returns t.
func (t Topic) String() string {
	p := TopicRoot + "/" + t.Branch + "/"
	switch t.Kind {
	case TopicArrival:
		return p + "arrival/" + string(t.Channel) + "/" + t.Device
	case TopicStatus:
		return p + "device/" + t.Device + "/status"
	case TopicReject:
		return p + "reject/" + t.Device
	case TopicWheelResult:
		return p + "wheel/" + t.Device + "/result"
	}
	return ""
}

// ParseTopic parses a topic name: one of the four topics of DESIGN.md, "MQTT
// contract", with valid branch and device ids, a known channel, no
// wildcard, no empty and no extra level. The error is a *huiyan.Error with
// code EBadTopic whose message names the level, never the topic itself.
func ParseTopic(s string) (Topic, error) {
	rest, ok := strings.CutPrefix(s, TopicRoot+"/")
	if !ok {
		return Topic{}, topicErr("topics start with " + TopicRoot + "/")
	}
	l := strings.Split(rest, "/")
	if len(l) < 3 {
		return Topic{}, topicErr("too few levels")
	}
	var t Topic
	switch {
	case l[1] == "arrival" && len(l) == 4:
		t = Topic{Kind: TopicArrival, Branch: l[0], Channel: huiyan.Channel(l[2]), Device: l[3]}
	case l[1] == "device" && len(l) == 4 && l[3] == "status":
		t = Topic{Kind: TopicStatus, Branch: l[0], Device: l[2]}
	case l[1] == "reject" && len(l) == 3:
		t = Topic{Kind: TopicReject, Branch: l[0], Device: l[2]}
	case l[1] == "wheel" && len(l) == 4 && l[3] == "result":
		t = Topic{Kind: TopicWheelResult, Branch: l[0], Device: l[2]}
	default:
		return Topic{}, topicErr("not one of the arrival, device status, reject or wheel result topics")
	}
	if err := t.Validate(); err != nil {
		return Topic{}, err
	}
	return t, nil
}

// ArrivalTopic returns huiyan/v1/{branch}/arrival/{channel}/{device}.
func ArrivalTopic(branch string, ch huiyan.Channel, device string) (string, error) {
	return build(Topic{Kind: TopicArrival, Branch: branch, Channel: ch, Device: device})
}

// StatusTopic returns huiyan/v1/{branch}/device/{device}/status.
func StatusTopic(branch, device string) (string, error) {
	return build(Topic{Kind: TopicStatus, Branch: branch, Device: device})
}

// RejectTopic returns huiyan/v1/{branch}/reject/{device}.
func RejectTopic(branch, device string) (string, error) {
	return build(Topic{Kind: TopicReject, Branch: branch, Device: device})
}

// WheelResultTopic returns huiyan/v1/{branch}/wheel/{device}/result.
func WheelResultTopic(branch, device string) (string, error) {
	return build(Topic{Kind: TopicWheelResult, Branch: branch, Device: device})
}

func build(t Topic) (string, error) {
	if err := t.Validate(); err != nil {
		return "", err
	}
	return t.String(), nil
}

// ArrivalFilter returns the filter the edge of a branch subscribes to for
// every arrival: huiyan/v1/{branch}/arrival/+/+. The branch id is checked so
// that a bad one can never widen the subscription.
func ArrivalFilter(branch string) (string, error) {
	if !huiyan.ValidBranchID(branch) {
		return "", topicErr("the branch must be 1 to 32 characters of [0-9A-Za-z-]")
	}
	return TopicRoot + "/" + branch + "/arrival/+/+", nil
}

// StatusFilter returns the filter the edge of a branch subscribes to for the
// retained device statuses: huiyan/v1/{branch}/device/+/status.
func StatusFilter(branch string) (string, error) {
	if !huiyan.ValidBranchID(branch) {
		return "", topicErr("the branch must be 1 to 32 characters of [0-9A-Za-z-]")
	}
	return TopicRoot + "/" + branch + "/device/+/status", nil
}

// MayPublish reports whether the device (branch, device) may publish on
// topic: its own arrival topics (any channel) and its own status topic, and
// nothing else (DESIGN.md, "MQTT contract": devices "may publish only under
// their own branch and device id"). Broker ACL hooks use it.
func MayPublish(branch, device, topic string) bool {
	t, err := ParseTopic(topic)
	return err == nil && t.Branch == branch && t.Device == device &&
		(t.Kind == TopicArrival || t.Kind == TopicStatus)
}

// MaySubscribe reports whether the device (branch, device) may subscribe to
// filter: exactly its own reject and wheel result topics, no wildcards.
func MaySubscribe(branch, device, filter string) bool {
	t, err := ParseTopic(filter)
	return err == nil && t.Branch == branch && t.Device == device &&
		(t.Kind == TopicReject || t.Kind == TopicWheelResult)
}

func topicErr(msg string) error {
	return &huiyan.Error{Code: EBadTopic, Message: "topic: " + msg}
}
