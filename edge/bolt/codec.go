package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"

	"huiyan"
	"huiyan/edge"
)

// The record encoding. Every stored record starts with one byte, the
// version of its layout, followed by its fields in a fixed order:
//
//   - integers as varints (signed: zig-zag, encoding/binary AppendVarint);
//   - strings as a uvarint length and the bytes;
//   - slices as a uvarint count and the elements; a nil and an empty slice
//     are both written as count 0 and both decode as nil;
//   - optional pointers (a feed event's visit) as a presence byte, 0 or 1;
//   - booleans as one byte, 0 or 1;
//   - enumerations (tier, status, channel …) as one byte, the value's index
//     in a table below plus one, or 0 followed by the value as a string for a
//     value the table does not know, so that nothing is lost;
//   - times as a flag byte, the Unix seconds, the nanoseconds and the zone
//     offset, the last two only when non-zero (see appendTime);
//   - identity tokens as 32 raw bytes when they are 64 lower-case hex
//     characters, as a string otherwise.
//
// A layout never changes once released: a new field means a new version
// byte, and the decoder keeps reading the old versions. Decoders check every
// length against the bytes left and return an error wrapping ErrCorrupt for
// anything malformed, never panic, and refuse a version they do not know
// with an error wrapping ErrRecordVersion. Nested values (a feed event's
// visit) carry no version of their own: they belong to the enclosing record.

// ErrCorrupt is wrapped by the errors of decoders given malformed bytes.
var ErrCorrupt = errors.New("corrupt record")

// ErrRecordVersion is wrapped by the errors of decoders given a record
// whose layout version this program does not know (written by a newer one).
var ErrRecordVersion = errors.New("unknown record version")

// Record layout versions.
const (
	customerV1 = 1
	staffV1    = 1
	visitV1    = 1
	feedV1     = 1
	cardV1     = 1
	sessionV1  = 1
	deviceV1   = 1
	metaV1     = 1
	dictV1     = 1
	dedupeV1   = 1
	outboxV1   = 1
	// outboxV2 adds the event's Refused (an e-code scan that proved no
	// presence) at the end.
	outboxV2 = 2
)

// visitV2, feedV2 and cardV2 add a touchpoint's Refused (an e-code scan
// that proved no presence) after its time; the nested visit of a feed
// event or card takes its layout from the enclosing record's version. The
// V1 layouts are still read; only V2 is written.
const (
	visitV2 = 2
	feedV2  = 2
	cardV2  = 2
)

// Enumeration tables. The index of a value is on disk: append only, never
// reorder or remove. Entry 0 of every table is the empty value.
var (
	tierEnum       = []string{"", "normal", "gold", "platinum", "diamond", "private"}
	mbankEnum      = []string{"", "none", "registered", "dormant", "active"}
	lifecycleEnum  = []string{"", "onboarding", "growth", "mature", "churning", "dormant"}
	riskEnum       = []string{"", "R1", "R2", "R3", "R4", "R5"}
	identKindEnum  = []string{"", "idcard", "bankcard", "mbank", "phone"}
	channelEnum    = []string{"", "counter", "ecode", "wheel"}
	outcomeEnum    = []string{"", "served", "activated", "declined", "referred", "follow_up", "no_contact"}
	conversionEnum = []string{"", "activated", "new_user"}
	roleEnum       = []string{"", "lobby", "wealth", "account", "supervisor"}
	tagKindEnum    = []string{"", "branch", "predictive", "status"}
	feedKindEnum   = []string{"", "arrival", "visit", "device"}
	deviceEnum     = []string{"", "online", "offline"}
	eventKindEnum  = []string{"", "opened", "touch", "claimed", "released", "outcome", "converted", "closed"}
)

// ---- encoding ----

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func appendVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }
func appendInt(b []byte, v int) []byte        { return binary.AppendVarint(b, int64(v)) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendEnum(b []byte, table []string, s string) []byte {
	for i, x := range table {
		if x == s {
			return append(b, byte(i+1))
		}
	}
	return appendString(append(b, 0), s)
}

func appendStrings(b []byte, ss []string) []byte {
	b = appendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// Time flags: bit 0 marks a non-zero time, bit 1 nanoseconds, bit 2 a zone
// offset. A zero time.Time is the single byte 0.
const (
	timeSet  = 1
	timeNsec = 2
	timeZone = 4
)

// appendTime writes the instant and the zone offset, so that a maturity date
// at midnight +08:00 is still that date when read back. The zone's name is
// not kept: a time decodes in time.Local when the offsets agree, in UTC for
// offset 0, and in a fixed zone otherwise.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	_, off := t.Zone()
	ns := t.Nanosecond()
	flags := byte(timeSet)
	if ns != 0 {
		flags |= timeNsec
	}
	if off != 0 {
		flags |= timeZone
	}
	b = append(b, flags)
	b = appendVarint(b, t.Unix())
	if ns != 0 {
		b = appendUvarint(b, uint64(ns))
	}
	if off != 0 {
		b = appendVarint(b, int64(off))
	}
	return b
}

// appendToken writes a 64-character lower-case hex token as 32 raw bytes
// (flag 1) and anything else as a string (flag 0), so that every value
// round-trips exactly.
func appendToken(b []byte, tok string) []byte {
	var raw [32]byte
	if canonicalToken(tok, &raw) {
		return append(append(b, 1), raw[:]...)
	}
	return appendString(append(b, 0), tok)
}

const hexDigits = "0123456789abcdef"

// canonicalToken decodes a token of exactly 64 lower-case hex characters.
func canonicalToken(tok string, raw *[32]byte) bool {
	if len(tok) != 64 {
		return false
	}
	for i := range 32 {
		hi, ok1 := lowerHex(tok[2*i])
		lo, ok2 := lowerHex(tok[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		raw[i] = hi<<4 | lo
	}
	return true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// aliasKey is the key of a token in the aliases bucket: the 32 bytes the
// hex stands for. Upper-case hex is accepted and means the same bytes.
func aliasKey(tok string, key *[32]byte) bool {
	if len(tok) != 64 {
		return false
	}
	for i := range 32 {
		hi, ok1 := anyHex(tok[2*i])
		lo, ok2 := anyHex(tok[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		key[i] = hi<<4 | lo
	}
	return true
}

func anyHex(c byte) (byte, bool) {
	if c >= 'A' && c <= 'F' {
		return c - 'A' + 10, true
	}
	return lowerHex(c)
}

func appendMaturities(b []byte, ms []huiyan.Maturity) []byte {
	b = appendUvarint(b, uint64(len(ms)))
	for _, m := range ms {
		b = appendString(b, m.Product)
		b = appendTime(b, m.Date)
	}
	return b
}

func appendCustomer(b []byte, c *huiyan.Customer) []byte {
	b = append(b, customerV1)
	b = appendString(b, c.ID)
	b = appendString(b, c.DisplayName)
	b = appendEnum(b, tierEnum, string(c.Tier))
	b = appendString(b, c.HomeBranch)
	b = appendStrings(b, c.Branches)
	b = appendString(b, c.Manager)
	// Tag ids are sorted, so deltas are small: most take one byte.
	b = appendUvarint(b, uint64(len(c.Tags)))
	prev := 0
	for _, id := range c.Tags {
		b = appendVarint(b, int64(id)-int64(prev))
		prev = id
	}
	b = appendEnum(b, mbankEnum, string(c.MBankStatus))
	b = appendInt(b, c.MBankIdleDays)
	b = appendEnum(b, riskEnum, string(c.Risk))
	b = appendString(b, c.AUMBand)
	b = appendEnum(b, lifecycleEnum, string(c.Lifecycle))
	b = appendBool(b, c.OptOut)
	b = appendMaturities(b, c.Maturities)
	b = appendUvarint(b, uint64(len(c.Tokens)))
	for _, t := range c.Tokens {
		b = appendEnum(b, identKindEnum, string(t.Kind))
		b = appendString(b, t.KeyID)
		b = appendToken(b, t.Token)
	}
	return b
}

func appendStaff(b []byte, s *huiyan.Staff) []byte {
	b = append(b, staffV1)
	b = appendString(b, s.ID)
	b = appendString(b, s.Branch)
	b = appendEnum(b, roleEnum, string(s.Role))
	b = appendString(b, s.DisplayName)
	return appendString(b, s.PINHash)
}

func appendVisitBody(b []byte, v *huiyan.Visit) []byte {
	b = appendString(b, v.ID)
	b = appendString(b, v.Branch)
	b = appendString(b, v.CustomerID)
	b = appendTime(b, v.OpenedAt)
	b = appendTime(b, v.LastSeenAt)
	b = appendTime(b, v.ClosedAt)
	b = appendEnum(b, channelEnum, string(v.Channel))
	b = appendUvarint(b, uint64(len(v.Touchpoints)))
	for _, tp := range v.Touchpoints {
		b = appendString(b, tp.EventID)
		b = appendEnum(b, channelEnum, string(tp.Channel))
		b = appendString(b, tp.Device)
		b = appendTime(b, tp.At)
		b = appendString(b, tp.Refused)
	}
	b = appendString(b, v.ClaimedBy)
	b = appendTime(b, v.ClaimedAt)
	b = appendEnum(b, outcomeEnum, string(v.Outcome))
	b = appendString(b, v.OutcomeBy)
	b = appendTime(b, v.OutcomeAt)
	b = appendEnum(b, mbankEnum, string(v.MBankAtOpen))
	b = appendEnum(b, conversionEnum, string(v.Converted))
	b = appendTime(b, v.ConvertedAt)
	return appendString(b, v.AttributedTo)
}

// appendVisit writes a visit as the visits bucket stores it: with the
// subject it is indexed under while open ("" once closed), so that PutVisit
// can move or drop the index entry when the caller passes no subject.
func appendVisit(b []byte, v *huiyan.Visit, subject string) []byte {
	b = append(b, visitV2)
	b = appendString(b, subject)
	return appendVisitBody(b, v)
}

func appendProfileBody(b []byte, p *huiyan.Profile) []byte {
	b = appendString(b, p.CustomerID)
	b = appendString(b, p.DisplayName)
	b = appendEnum(b, tierEnum, string(p.Tier))
	b = appendUvarint(b, uint64(len(p.Tags)))
	for _, t := range p.Tags {
		b = appendString(b, t.Code)
		b = appendString(b, t.NameZH)
		b = appendString(b, t.NameEN)
		b = appendEnum(b, tagKindEnum, string(t.Kind))
		b = appendInt(b, t.Priority)
	}
	b = appendEnum(b, mbankEnum, string(p.MBankStatus))
	b = appendInt(b, p.MBankIdleDays)
	b = appendEnum(b, lifecycleEnum, string(p.Lifecycle))
	b = appendMaturities(b, p.Maturities)
	b = appendBool(b, p.OptOut)
	b = appendString(b, p.Manager)
	return appendBool(b, p.YourCustomer)
}

func appendActions(b []byte, as []huiyan.Action) []byte {
	b = appendUvarint(b, uint64(len(as)))
	for _, a := range as {
		b = appendString(b, a.Code)
		b = appendString(b, a.Title)
		b = appendString(b, a.Script)
		b = appendEnum(b, roleEnum, string(a.Role))
		b = appendInt(b, a.Priority)
		b = appendString(b, a.Reason)
	}
	return b
}

func appendAudience(b []byte, a huiyan.Audience) []byte {
	b = appendUvarint(b, uint64(len(a.Roles)))
	for _, r := range a.Roles {
		b = appendEnum(b, roleEnum, string(r))
	}
	return appendStrings(b, a.Staff)
}

func appendOptVisit(b []byte, v *huiyan.Visit) []byte {
	if v == nil {
		return append(b, 0)
	}
	return appendVisitBody(append(b, 1), v)
}

func appendOptProfile(b []byte, p *huiyan.Profile) []byte {
	if p == nil {
		return append(b, 0)
	}
	return appendProfileBody(append(b, 1), p)
}

// appendFeed writes a feed event. Seq and At come first so that Purge can
// read them without decoding the rest (feedHeader).
func appendFeed(b []byte, e *huiyan.FeedEvent) []byte {
	b = append(b, feedV2)
	b = appendUvarint(b, e.Seq)
	b = appendTime(b, e.At)
	b = appendEnum(b, feedKindEnum, string(e.Kind))
	b = appendAudience(b, e.Audience)
	b = appendOptVisit(b, e.Visit)
	b = appendOptProfile(b, e.Profile)
	b = appendActions(b, e.Actions)
	b = appendString(b, e.Device)
	return appendEnum(b, deviceEnum, e.DeviceStatus)
}

func appendCard(b []byte, c *huiyan.Card) []byte {
	b = append(b, cardV2)
	b = appendOptVisit(b, c.Visit)
	b = appendOptProfile(b, c.Profile)
	b = appendActions(b, c.Actions)
	return appendAudience(b, c.Audience)
}

func appendSession(b []byte, s *edge.Session) []byte {
	b = append(b, sessionV1)
	b = appendString(b, s.TokenHash)
	b = appendString(b, s.StaffID)
	b = appendTime(b, s.Created)
	return appendTime(b, s.Expires)
}

func appendDevice(b []byte, d *huiyan.DeviceState) []byte {
	b = append(b, deviceV1)
	b = appendString(b, d.Device)
	b = appendEnum(b, channelEnum, string(d.Channel))
	b = appendEnum(b, deviceEnum, d.Status)
	return appendTime(b, d.Since)
}

func appendMeta(b []byte, m *edge.Meta) []byte {
	b = append(b, metaV1)
	b = appendString(b, m.Branch)
	b = appendVarint(b, m.SnapshotVersion)
	b = appendTime(b, m.SnapshotAt)
	b = appendInt(b, m.DictVersion)
	b = appendString(b, m.KeyID)
	return appendInt(b, m.Customers)
}

// appendDict writes a dictionary's version and its tags, by id.
func appendDict(b []byte, d *huiyan.TagDict) []byte {
	b = append(b, dictV1)
	b = appendInt(b, d.Version())
	tags := d.Tags()
	b = appendUvarint(b, uint64(len(tags)))
	for _, t := range tags {
		b = appendInt(b, t.ID)
		b = appendString(b, t.Code)
		b = appendString(b, t.NameZH)
		b = appendString(b, t.NameEN)
		b = appendEnum(b, tagKindEnum, string(t.Kind))
		b = appendString(b, t.Category)
		b = appendInt(b, t.Priority)
	}
	return b
}

// dedupeMark is the value of a dedupe entry: the visit the arrival went to
// and when it was committed.
type dedupeMark struct {
	VisitID string
	At      time.Time
}

func appendDedupe(b []byte, m dedupeMark) []byte {
	b = append(b, dedupeV1)
	b = appendTime(b, m.At)
	return appendString(b, m.VisitID)
}

// ---- decoding ----

// reader decodes from a string holding a copy of the record: decoded strings
// are slices of it, so a record costs one allocation for all its text, and
// nothing refers to bbolt's memory-mapped pages after the transaction.
// The first error sticks; later reads return zero values.
type reader struct {
	s   string
	err error
}

func newReader(b []byte) *reader { return &reader{s: string(b)} }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format+": %w", append(args, ErrCorrupt)...)
	}
}

// versions reads the record's layout version, which must be one of
// known, and returns it.
func (r *reader) versions(known ...byte) byte {
	if len(r.s) == 0 {
		r.fail("empty")
		return 0
	}
	v := r.s[0]
	r.s = r.s[1:]
	for _, k := range known {
		if v == k {
			return v
		}
	}
	r.err = fmt.Errorf("version %d: %w", v, ErrRecordVersion)
	return 0
}

// version reads the record's layout version and checks it is want.
func (r *reader) version(want byte) {
	if len(r.s) == 0 {
		r.fail("empty")
		return
	}
	v := r.s[0]
	r.s = r.s[1:]
	if v != want {
		r.err = fmt.Errorf("version %d: %w", v, ErrRecordVersion)
	}
}

// end checks that the record had nothing after its last field and names
// the record in the error.
func (r *reader) end(record string) error {
	if r.err == nil && len(r.s) != 0 {
		r.fail("%d trailing bytes", len(r.s))
	}
	if r.err != nil {
		return fmt.Errorf("decode %s: %w", record, r.err)
	}
	return nil
}

func (r *reader) byte1() byte {
	if r.err != nil {
		return 0
	}
	if len(r.s) == 0 {
		r.fail("truncated")
		return 0
	}
	c := r.s[0]
	r.s = r.s[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; i < len(r.s); i++ {
		if i == binary.MaxVarintLen64 {
			r.fail("varint overflows 64 bits")
			return 0
		}
		c := r.s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				r.fail("varint overflows 64 bits")
				return 0
			}
			r.s = r.s[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	r.fail("truncated varint")
	return 0
}

func (r *reader) varint() int64 {
	ux := r.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (r *reader) int() int {
	v := r.varint()
	if int64(int(v)) != v {
		r.fail("integer %d out of range", v)
		return 0
	}
	return int(v)
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.s)) {
		r.fail("string of %d bytes, %d left", n, len(r.s))
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

// count reads a slice length. Every element takes at least one byte, so a
// count above the bytes left is corrupt: no huge allocation on bad input.
func (r *reader) count() int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.s)) {
		r.fail("%d elements, %d bytes left", n, len(r.s))
		return 0
	}
	return int(n)
}

func (r *reader) bool() bool {
	switch r.byte1() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad boolean")
	return false
}

func (r *reader) enum(table []string) string {
	i := r.byte1()
	switch {
	case r.err != nil:
		return ""
	case i == 0:
		return r.str()
	case int(i) <= len(table):
		return table[i-1]
	}
	r.fail("enumeration index %d out of range", i)
	return ""
}

func (r *reader) strings() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.str()
	}
	return ss
}

// timePrefix is enough bytes for a version byte and a time: its flags,
// seconds (at most 10 bytes), nanoseconds (5) and zone offset (3).
const timePrefix = 1 + 1 + binary.MaxVarintLen64 + 5 + 3

// maxZoneOffset bounds a stored zone offset; real ones are within ±15h.
const maxZoneOffset = 24 * 60 * 60

func (r *reader) time() time.Time {
	flags := r.byte1()
	if r.err != nil || flags == 0 {
		return time.Time{}
	}
	if flags&timeSet == 0 || flags > timeSet|timeNsec|timeZone {
		r.fail("bad time flags %#x", flags)
		return time.Time{}
	}
	sec := r.varint()
	var ns uint64
	if flags&timeNsec != 0 {
		if ns = r.uvarint(); ns >= 1e9 {
			r.fail("nanoseconds %d out of range", ns)
		}
	}
	var off int64
	if flags&timeZone != 0 {
		if off = r.varint(); off <= -maxZoneOffset || off >= maxZoneOffset {
			r.fail("zone offset %d out of range", off)
		}
	}
	if r.err != nil {
		return time.Time{}
	}
	t := time.Unix(sec, int64(ns))
	if off == 0 {
		return t.UTC()
	}
	if _, lo := t.Zone(); int64(lo) == off {
		return t // time.Unix returns local time
	}
	return t.In(fixedZone(int(off)))
}

// zones caches fixed zones for offsets on a quarter hour, so that decoding a
// time in a zone other than time.Local does not allocate a Location each time.
var zones [2*14*4 + 1]atomic.Pointer[time.Location]

func fixedZone(off int) *time.Location {
	const quarter = 15 * 60
	if off%quarter != 0 || off < -14*3600 || off > 14*3600 {
		return time.FixedZone("", off)
	}
	slot := &zones[off/quarter+14*4]
	if loc := slot.Load(); loc != nil {
		return loc
	}
	loc := time.FixedZone("", off)
	slot.Store(loc)
	return loc
}

func (r *reader) maturities() []huiyan.Maturity {
	n := r.count()
	if n == 0 {
		return nil
	}
	ms := make([]huiyan.Maturity, n)
	for i := range ms {
		ms[i].Product = r.str()
		ms[i].Date = r.time()
	}
	return ms
}

// customerMem is the memory of one decoded customer: the struct and room
// for the slices of a usual one, so that decoding a customer makes three
// allocations (this, the record's text, the text of its tokens) instead
// of one per slice and token; a longer slice gets its own. An arrival
// decodes a customer on every lookup (BenchmarkResolve).
type customerMem struct {
	c          huiyan.Customer
	tags       [16]int
	tokens     [4]huiyan.Ident
	branches   [2]string
	maturities [2]huiyan.Maturity
}

// within returns the first n elements of room, capped so that an append
// by the caller cannot reach past them, or a new slice when room is too
// short.
func within[T any](room []T, n int) []T {
	if n <= len(room) {
		return room[:n:n]
	}
	return make([]T, n)
}

func (r *reader) customer(m *customerMem) {
	c := &m.c
	c.ID = r.str()
	c.DisplayName = r.str()
	c.Tier = huiyan.Tier(r.enum(tierEnum))
	c.HomeBranch = r.str()
	if n := r.count(); n > 0 {
		c.Branches = within(m.branches[:], n)
		for i := range c.Branches {
			c.Branches[i] = r.str()
		}
	}
	c.Manager = r.str()
	if n := r.count(); n > 0 {
		c.Tags = within(m.tags[:], n)
		prev := int64(0)
		for i := range c.Tags {
			prev += r.varint()
			if int64(int(prev)) != prev {
				r.fail("tag id %d out of range", prev)
			}
			c.Tags[i] = int(prev)
		}
	}
	c.MBankStatus = huiyan.MBankStatus(r.enum(mbankEnum))
	c.MBankIdleDays = r.int()
	c.Risk = huiyan.Risk(r.enum(riskEnum))
	c.AUMBand = r.str()
	c.Lifecycle = huiyan.Lifecycle(r.enum(lifecycleEnum))
	c.OptOut = r.bool()
	if n := r.count(); n > 0 {
		c.Maturities = within(m.maturities[:], n)
		for i := range c.Maturities {
			c.Maturities[i].Product = r.str()
			c.Maturities[i].Date = r.time()
		}
	}
	if n := r.count(); n > 0 {
		c.Tokens = within(m.tokens[:], n)
		r.tokens(c.Tokens)
	}
}

// tokens reads the idents of a customer. The hex of every token stored as
// raw bytes is made in one string, which the tokens are slices of; a raw
// token's Token holds its 32 raw bytes (a slice of the record's text)
// until then, bit i of raw marking ident i. Idents beyond the 64th (none
// in practice) get a string each.
func (r *reader) tokens(ids []huiyan.Ident) {
	var raw uint64
	for i := range ids {
		ids[i].Kind = huiyan.IdentKind(r.enum(identKindEnum))
		ids[i].KeyID = r.str()
		switch flag := r.byte1(); {
		case r.err != nil:
			return
		case flag == 0:
			ids[i].Token = r.str()
		case flag != 1:
			r.fail("bad token flag")
			return
		case len(r.s) < 32:
			r.fail("truncated token")
			return
		case i < 64:
			ids[i].Token = r.s[:32]
			r.s = r.s[32:]
			raw |= 1 << i
		default:
			var out [64]byte
			tokenHex(&out, r.s[:32])
			ids[i].Token = string(out[:])
			r.s = r.s[32:]
		}
	}
	if raw == 0 {
		return
	}
	var sb strings.Builder
	sb.Grow(64 * bits.OnesCount64(raw))
	for i := range min(len(ids), 64) {
		if raw&(1<<i) != 0 {
			var out [64]byte
			tokenHex(&out, ids[i].Token)
			sb.Write(out[:])
		}
	}
	all := sb.String()
	for i := range min(len(ids), 64) {
		if raw&(1<<i) != 0 {
			ids[i].Token, all = all[:64], all[64:]
		}
	}
}

// tokenHex writes the lower-case hex of a raw token's 32 bytes.
func tokenHex(out *[64]byte, raw string) {
	for i := range 32 {
		c := raw[i]
		out[2*i] = hexDigits[c>>4]
		out[2*i+1] = hexDigits[c&0x0f]
	}
}

func decodeCustomer(b []byte) (*huiyan.Customer, error) {
	r := newReader(b)
	r.version(customerV1)
	m := new(customerMem)
	r.customer(m)
	if err := r.end("customer"); err != nil {
		return nil, err
	}
	return &m.c, nil
}

func decodeStaff(b []byte) (*huiyan.Staff, error) {
	r := newReader(b)
	r.version(staffV1)
	s := &huiyan.Staff{
		ID:          r.str(),
		Branch:      r.str(),
		Role:        huiyan.Role(r.enum(roleEnum)),
		DisplayName: r.str(),
		PINHash:     r.str(),
	}
	if err := r.end("staff"); err != nil {
		return nil, err
	}
	return s, nil
}

// visit reads a visit body; withRefused says the layout has a touchpoint's
// Refused (visitV2 and the records that nest it).
func (r *reader) visit(withRefused bool) *huiyan.Visit {
	v := &huiyan.Visit{
		ID:         r.str(),
		Branch:     r.str(),
		CustomerID: r.str(),
		OpenedAt:   r.time(),
		LastSeenAt: r.time(),
		ClosedAt:   r.time(),
		Channel:    huiyan.Channel(r.enum(channelEnum)),
	}
	if n := r.count(); n > 0 {
		v.Touchpoints = make([]huiyan.Touchpoint, n)
		for i := range v.Touchpoints {
			v.Touchpoints[i] = huiyan.Touchpoint{
				EventID: r.str(),
				Channel: huiyan.Channel(r.enum(channelEnum)),
				Device:  r.str(),
				At:      r.time(),
			}
			if withRefused {
				v.Touchpoints[i].Refused = r.str()
			}
		}
	}
	v.ClaimedBy = r.str()
	v.ClaimedAt = r.time()
	v.Outcome = huiyan.Outcome(r.enum(outcomeEnum))
	v.OutcomeBy = r.str()
	v.OutcomeAt = r.time()
	v.MBankAtOpen = huiyan.MBankStatus(r.enum(mbankEnum))
	v.Converted = huiyan.Conversion(r.enum(conversionEnum))
	v.ConvertedAt = r.time()
	v.AttributedTo = r.str()
	return v
}

// visitSubject reads only the subject of a stored visit, the first field
// of every visit layout: PutVisit needs no more of the record it replaces,
// so it neither copies nor decodes the rest.
func visitSubject(b []byte) (string, error) {
	if len(b) == 0 {
		return "", fmt.Errorf("decode visit: empty: %w", ErrCorrupt)
	}
	if b[0] != visitV1 && b[0] != visitV2 {
		return "", fmt.Errorf("decode visit: version %d: %w", b[0], ErrRecordVersion)
	}
	n, size := binary.Uvarint(b[1:])
	if size <= 0 || n > uint64(len(b)-1-size) {
		return "", fmt.Errorf("decode visit: bad subject: %w", ErrCorrupt)
	}
	return string(b[1+size : 1+size+int(n)]), nil
}

func decodeVisit(b []byte) (v *huiyan.Visit, subject string, err error) {
	r := newReader(b)
	ver := r.versions(visitV1, visitV2)
	subject = r.str()
	v = r.visit(ver == visitV2)
	if err := r.end("visit"); err != nil {
		return nil, "", err
	}
	return v, subject, nil
}

func (r *reader) profile() *huiyan.Profile {
	p := &huiyan.Profile{
		CustomerID:  r.str(),
		DisplayName: r.str(),
		Tier:        huiyan.Tier(r.enum(tierEnum)),
	}
	if n := r.count(); n > 0 {
		p.Tags = make([]huiyan.ProfileTag, n)
		for i := range p.Tags {
			p.Tags[i] = huiyan.ProfileTag{
				Code:     r.str(),
				NameZH:   r.str(),
				NameEN:   r.str(),
				Kind:     huiyan.TagKind(r.enum(tagKindEnum)),
				Priority: r.int(),
			}
		}
	}
	p.MBankStatus = huiyan.MBankStatus(r.enum(mbankEnum))
	p.MBankIdleDays = r.int()
	p.Lifecycle = huiyan.Lifecycle(r.enum(lifecycleEnum))
	p.Maturities = r.maturities()
	p.OptOut = r.bool()
	p.Manager = r.str()
	p.YourCustomer = r.bool()
	return p
}

func (r *reader) actions() []huiyan.Action {
	n := r.count()
	if n == 0 {
		return nil
	}
	as := make([]huiyan.Action, n)
	for i := range as {
		as[i] = huiyan.Action{
			Code:     r.str(),
			Title:    r.str(),
			Script:   r.str(),
			Role:     huiyan.Role(r.enum(roleEnum)),
			Priority: r.int(),
			Reason:   r.str(),
		}
	}
	return as
}

func (r *reader) audience() huiyan.Audience {
	var a huiyan.Audience
	if n := r.count(); n > 0 {
		a.Roles = make([]huiyan.Role, n)
		for i := range a.Roles {
			a.Roles[i] = huiyan.Role(r.enum(roleEnum))
		}
	}
	a.Staff = r.strings()
	return a
}

func (r *reader) optVisit(withRefused bool) *huiyan.Visit {
	if r.bool() {
		return r.visit(withRefused)
	}
	return nil
}

func (r *reader) optProfile() *huiyan.Profile {
	if r.bool() {
		return r.profile()
	}
	return nil
}

func decodeFeed(b []byte) (*huiyan.FeedEvent, error) {
	r := newReader(b)
	ver := r.versions(feedV1, feedV2)
	e := &huiyan.FeedEvent{
		Seq:  r.uvarint(),
		At:   r.time(),
		Kind: huiyan.FeedKind(r.enum(feedKindEnum)),
	}
	e.Audience = r.audience()
	e.Visit = r.optVisit(ver == feedV2)
	e.Profile = r.optProfile()
	e.Actions = r.actions()
	e.Device = r.str()
	e.DeviceStatus = r.enum(deviceEnum)
	if err := r.end("feed event"); err != nil {
		return nil, err
	}
	return e, nil
}

// feedHeader reads only a feed event's seq and time.
func feedHeader(b []byte) (seq uint64, at time.Time, err error) {
	r := newReader(b)
	r.versions(feedV1, feedV2)
	seq = r.uvarint()
	at = r.time()
	if r.err != nil {
		return 0, time.Time{}, fmt.Errorf("decode feed event: %w", r.err)
	}
	return seq, at, nil
}

func decodeCard(b []byte) (*huiyan.Card, error) {
	r := newReader(b)
	ver := r.versions(cardV1, cardV2)
	c := &huiyan.Card{
		Visit:   r.optVisit(ver == cardV2),
		Profile: r.optProfile(),
		Actions: r.actions(),
	}
	c.Audience = r.audience()
	if err := r.end("card"); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeSession(b []byte) (edge.Session, error) {
	r := newReader(b)
	r.version(sessionV1)
	s := edge.Session{
		TokenHash: r.str(),
		StaffID:   r.str(),
		Created:   r.time(),
		Expires:   r.time(),
	}
	if err := r.end("session"); err != nil {
		return edge.Session{}, err
	}
	return s, nil
}

func decodeDevice(b []byte) (huiyan.DeviceState, error) {
	r := newReader(b)
	r.version(deviceV1)
	d := huiyan.DeviceState{
		Device:  r.str(),
		Channel: huiyan.Channel(r.enum(channelEnum)),
		Status:  r.enum(deviceEnum),
		Since:   r.time(),
	}
	if err := r.end("device"); err != nil {
		return huiyan.DeviceState{}, err
	}
	return d, nil
}

func decodeMeta(b []byte) (edge.Meta, error) {
	r := newReader(b)
	r.version(metaV1)
	m := edge.Meta{
		Branch:          r.str(),
		SnapshotVersion: r.varint(),
		SnapshotAt:      r.time(),
		DictVersion:     r.int(),
		KeyID:           r.str(),
		Customers:       r.int(),
	}
	if err := r.end("meta"); err != nil {
		return edge.Meta{}, err
	}
	return m, nil
}

// decodeDict decodes a dictionary record. A record that decodes but that
// huiyan.NewTagDict refuses is corrupt too: only valid dictionaries are
// ever written.
func decodeDict(b []byte) (*huiyan.TagDict, error) {
	r := newReader(b)
	r.version(dictV1)
	version := r.int()
	var tags []huiyan.Tag
	if n := r.count(); n > 0 {
		tags = make([]huiyan.Tag, n)
		for i := range tags {
			tags[i] = huiyan.Tag{
				ID:       r.int(),
				Code:     r.str(),
				NameZH:   r.str(),
				NameEN:   r.str(),
				Kind:     huiyan.TagKind(r.enum(tagKindEnum)),
				Category: r.str(),
				Priority: r.int(),
			}
		}
	}
	if err := r.end("dict"); err != nil {
		return nil, err
	}
	d, err := huiyan.NewTagDict(version, tags)
	if err != nil {
		return nil, fmt.Errorf("decode dict: %v: %w", err, ErrCorrupt)
	}
	return d, nil
}

func decodeDedupe(b []byte) (dedupeMark, error) {
	r := newReader(b)
	r.version(dedupeV1)
	m := dedupeMark{At: r.time(), VisitID: r.str()}
	if err := r.end("dedupe mark"); err != nil {
		return dedupeMark{}, err
	}
	return m, nil
}
