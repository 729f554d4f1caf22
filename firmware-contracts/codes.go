package firmware

import "huiyan"

// Reject codes (DESIGN.md, "MQTT contract"). They are what the edge puts in
// the "code" field of a reject message and in the code label of
// huiyan_edge_rejected_total: stable, lower-case machine strings that device
// firmware may branch on. Every error of this package is a *huiyan.Error
// carrying one of them and a message that is safe to publish to the device:
// it names the field and the rule, never a value from the payload.
//
// Decode runs its checks in a fixed order and reports the first that fails:
// size, JSON, top-level fields (unknown or duplicated), v, id, ts, device,
// channel, idents, attrs, code, spin, then the channel's required idents.
const (
	// ETooLarge: the payload is over MaxPayload (16 KiB) bytes.
	ETooLarge = huiyan.ETooLarge
	// EBadJSON: the payload is not valid UTF-8, not valid JSON, not a single
	// JSON object, or has data after the object.
	EBadJSON = "bad_json"
	// EDuplicateKey: an object of the payload names the same key twice.
	// JSON parsers disagree on which one wins, so the payload is refused.
	EDuplicateKey = "duplicate_key"
	// EUnknownField: a field that v1 does not define, at the top level or in
	// an ident. A firmware bug, most often a misspelt name.
	EUnknownField = "unknown_field"
	// EBadVersion: v is missing or not 1.
	EBadVersion = "bad_version"
	// EBadID: id is missing or not 1 to 128 characters of [0-9A-Za-z._:-].
	EBadID = "bad_id"
	// EBadTimestamp: ts is missing or not an RFC 3339 date-time with
	// seconds and an explicit offset ("Z" or ±hh:mm, not -00:00).
	EBadTimestamp = "bad_timestamp"
	// EBadDevice: device is missing or not a device id (see ValidDeviceID).
	EBadDevice = "bad_device"
	// EBadChannel: channel is missing or not counter, ecode or wheel.
	EBadChannel = "bad_channel"
	// ETopicMismatch: the payload's device or channel is not the one in the
	// topic it was published on.
	ETopicMismatch = "topic_mismatch"
	// EBadIdents: idents is missing, not an array of 1 to MaxIdents objects,
	// carries the same token twice, or lacks the mbank ident an ecode or
	// wheel arrival needs.
	EBadIdents = "bad_idents"
	// EBadKind: an ident's kind is missing or not idcard, bankcard, mbank or
	// phone.
	EBadKind = "bad_kind"
	// EBadKey: an ident's key id is missing or not 1 to 16 characters of
	// [0-9A-Za-z_-].
	EBadKey = "bad_key"
	// EBadToken: an ident's token is missing or not 64 lower-case hex
	// characters. Most often a device that sends the raw number.
	EBadToken = "bad_token"
	// EBadAttrs: attrs is not an object of at most MaxAttrs string values
	// with valid keys and values of at most MaxAttrValueLen characters
	// without control characters.
	EBadAttrs = "bad_attrs"
	// EBadCode: an ecode arrival's code is missing, empty, longer than
	// MaxCodeLen characters or has control characters.
	EBadCode = "bad_code"
	// EBadSpin: a wheel arrival's spin is missing or not 1 to 64
	// characters of [0-9A-Za-z._:-].
	EBadSpin = "bad_spin"
	// EBadField: a field the channel does not carry: code outside ecode
	// arrivals, spin outside wheel arrivals.
	EBadField = "bad_field"
	// EBadTopic: the topic is not one of the contract's topics, or not the
	// kind of topic the payload was handed in for.
	EBadTopic = "bad_topic"
	// EBadStatus: a device status payload is neither "online" nor "offline".
	EBadStatus = "bad_status"
	// EUnknownKey: an ident names a key id the edge is not configured with
	// (DESIGN.md, "Identity token"). Decode cannot know the configured key
	// id, so only the edge returns it; it is listed here so that all reject
	// codes live in one place.
	EUnknownKey = "unknown_key"
	// EDuplicate: the arrival's id was already received and committed; the
	// device resent it (QoS 1 redelivery). Nothing was recorded twice. Only
	// the edge returns it.
	EDuplicate = "duplicate"
	// EWrongBranch: the topic or payload names another branch than the
	// edge's. Only the edge returns it.
	EWrongBranch = "wrong_branch"
)

// Codes returns every reject code of this package, in the order of the
// constants above, so that the edge can pre-register its metric labels.
func Codes() []string {
	return []string{
		ETooLarge, EBadJSON, EDuplicateKey, EUnknownField, EBadVersion,
		EBadID, EBadTimestamp, EBadDevice, EBadChannel, ETopicMismatch,
		EBadIdents, EBadKind, EBadKey, EBadToken, EBadAttrs, EBadCode,
		EBadSpin, EBadField, EBadTopic, EBadStatus, EUnknownKey, EDuplicate, EWrongBranch,
	}
}
