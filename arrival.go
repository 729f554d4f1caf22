package huiyan

import "time"

// IdentKind is the kind of identifier a token was made from.
type IdentKind string

// Identifier kinds (DESIGN.md, "Identity token").
const (
	IdentIDCard   IdentKind = "idcard"   // resident identity card number
	IdentBankCard IdentKind = "bankcard" // bank card number
	IdentMBank    IdentKind = "mbank"    // mobile-banking user id
	IdentPhone    IdentKind = "phone"    // mobile phone number
)

// IdentKinds lists every identifier kind.
var IdentKinds = []IdentKind{IdentIDCard, IdentBankCard, IdentMBank, IdentPhone}

// Valid reports whether k is a known kind.
func (k IdentKind) Valid() bool {
	switch k {
	case IdentIDCard, IdentBankCard, IdentMBank, IdentPhone:
		return true
	}
	return false
}

// Ident is one pseudonymous identity token a device saw: never the raw
// number, only hex(HMAC-SHA256(key, kind + ":" + normalised value)) made
// under the key named by KeyID.
type Ident struct {
	Kind  IdentKind
	KeyID string
	Token string // 64 lower-case hex characters
}

// Channel is the kind of device an arrival came from.
type Channel string

// Channels.
const (
	ChannelCounter Channel = "counter" // super-counter (超级柜台): ID card inserted
	ChannelECode   Channel = "ecode"   // branch or staff e-code (网点e码 / 营销e码) scanned with mobile banking
	ChannelWheel   Channel = "wheel"   // prize wheel (智惠转盘) played with mobile banking
)

// Channels lists every channel.
var Channels = []Channel{ChannelCounter, ChannelECode, ChannelWheel}

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	return c == ChannelCounter || c == ChannelECode || c == ChannelWheel
}

// Arrival is one signal from a branch device that a customer is present.
type Arrival struct {
	EventID string // the device's message id, unique per device
	Branch  string
	Device  string
	Channel Channel
	At      time.Time // when the device saw the customer
	Idents  []Ident
	Attrs   map[string]string // device-specific detail: counter_no, business …
	Code    string            // e-code scans: the scanned code's content
	Spin    string            // wheel spins: the spin's id
}
