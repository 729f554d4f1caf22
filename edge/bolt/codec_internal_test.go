package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
)

// normalize rewrites v (a pointer) into the form a decoded record has, so
// that reflect.DeepEqual compares what the encoding promises to keep: every
// time.Time in UTC (the instant; zones are checked by TestTimeZone), and
// every empty slice nil (the codec's rule: nil and empty both decode as nil).
func normalize(v any) {
	normalizeValue(reflect.ValueOf(v).Elem())
}

var timeType = reflect.TypeFor[time.Time]()

func normalizeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalizeValue(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
			return
		}
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				normalizeValue(f)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		for i := range v.Len() {
			normalizeValue(v.Index(i))
		}
	}
}

var (
	shanghai = time.FixedZone("CST", 8*3600)
	t0       = time.Date(2026, 11, 23, 9, 30, 1, 250_000_000, shanghai)
	tok1     = strings.Repeat("0123456789abcdef", 4)
	tok2     = strings.Repeat("fedcba9876543210", 4)
)

func fullCustomer() *huiyan.Customer {
	return &huiyan.Customer{
		ID:            "C0000000001",
		DisplayName:   "欧**峰",
		Tier:          huiyan.TierPrivate,
		HomeBranch:    "310101",
		Branches:      []string{"310102", "310103"},
		Manager:       "account-310101",
		Tags:          []int{1, 2, 30, 154, 201, 304},
		MBankStatus:   huiyan.MBankDormant,
		MBankIdleDays: 120,
		Risk:          "R4",
		AUMBand:       "aum_300w_plus",
		Lifecycle:     huiyan.LifecycleChurning,
		OptOut:        true,
		Maturities: []huiyan.Maturity{
			{Product: "CD-3Y", Date: time.Date(2026, 12, 1, 0, 0, 0, 0, shanghai)},
			{Product: "理财-A", Date: time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)},
		},
		Tokens: []huiyan.Ident{
			{Kind: huiyan.IdentIDCard, KeyID: "k1", Token: tok1},
			{Kind: huiyan.IdentBankCard, KeyID: "k1", Token: tok2},
			{Kind: huiyan.IdentMBank, KeyID: "k1", Token: strings.ToUpper(tok1)}, // not canonical: kept as text
			{Kind: "passport", KeyID: "k2", Token: "short"},                      // unknown kind: kept as text
		},
	}
}

func fullVisit() *huiyan.Visit {
	return &huiyan.Visit{
		ID:         "v-0001",
		Branch:     "310101",
		CustomerID: "C0000000001",
		OpenedAt:   t0,
		LastSeenAt: t0.Add(5 * time.Minute),
		ClosedAt:   t0.Add(40 * time.Minute),
		Channel:    huiyan.ChannelCounter,
		Touchpoints: []huiyan.Touchpoint{
			{EventID: "sc-01-000123", Channel: huiyan.ChannelCounter, Device: "sc-01", At: t0},
			{EventID: "ec-01-9", Channel: huiyan.ChannelECode, Device: "ec-01", At: t0.Add(5 * time.Minute)},
		},
		ClaimedBy:    "lobby-310101",
		ClaimedAt:    t0.Add(time.Minute),
		Outcome:      huiyan.OutcomeActivated,
		OutcomeBy:    "lobby-310101",
		OutcomeAt:    t0.Add(6 * time.Minute),
		MBankAtOpen:  huiyan.MBankRegistered,
		Converted:    huiyan.ConversionActivated,
		ConvertedAt:  t0.Add(5 * time.Minute),
		AttributedTo: "wealth-310101",
	}
}

func fullProfile() *huiyan.Profile {
	return &huiyan.Profile{
		CustomerID:  "C0000000001",
		DisplayName: "林*华",
		Tier:        huiyan.TierGold,
		Tags: []huiyan.ProfileTag{
			{Code: "potential_vip", NameZH: "潜力贵宾客户", NameEN: "Potential VIP", Kind: huiyan.TagPredictive, Priority: 10},
			{Code: "mbank_dormant", NameZH: "掌银睡眠", NameEN: "Mobile banking dormant", Kind: huiyan.TagStatus, Priority: -3},
		},
		MBankStatus:   huiyan.MBankDormant,
		MBankIdleDays: -1,
		Lifecycle:     huiyan.LifecycleGrowth,
		Maturities:    []huiyan.Maturity{{Product: "CD-1Y", Date: time.Date(2026, 12, 24, 0, 0, 0, 0, shanghai)}},
		OptOut:        false,
		Manager:       "account-310101",
		YourCustomer:  true,
	}
}

func fullActions() []huiyan.Action {
	return []huiyan.Action{
		{Code: "guide_ecode_scan", Title: "引导扫网点e码", Script: "您好，您的掌银很久没用了，扫一下这个码就能重新激活。", Role: huiyan.RoleLobby, Priority: 1, Reason: "掌银睡眠 120 天"},
		{Code: "x", Role: "auditor", Priority: 1 << 40},
	}
}

func TestCustomerRoundTrip(t *testing.T) {
	testRoundTrip(t, []codecCase[*huiyan.Customer]{
		{"Zero", &huiyan.Customer{}},
		{"Full", fullCustomer()},
		{"EmptySlices", &huiyan.Customer{ID: "c", Branches: []string{}, Tags: []int{}, Maturities: []huiyan.Maturity{}, Tokens: []huiyan.Ident{}}},
		{"UnsortedNegativeTags", &huiyan.Customer{ID: "c", Tags: []int{300, -5, 7, 7, 1 << 50}, MBankIdleDays: -1}},
		{"UnknownEnums", &huiyan.Customer{ID: "c", Tier: "titanium", MBankStatus: "frozen", Risk: "R9", Lifecycle: "reborn"}},
		{"Unicode", &huiyan.Customer{ID: "客户-1", DisplayName: "王*", HomeBranch: "分行", Branches: []string{"", "支行🏦"}}},
		{"BinaryText", &huiyan.Customer{ID: "\x00\xff", DisplayName: "\xc3\x28"}},
		{"LongerThanItsMemory", longCustomer(20)},
		{"MoreThan64Tokens", longCustomer(70)},
	}, func(c *huiyan.Customer) []byte { return appendCustomer(nil, c) }, decodeCustomer)
}

// longCustomer has more of every slice than customerMem has room for, and
// nTokens tokens, every third of them text rather than canonical hex.
func longCustomer(nTokens int) *huiyan.Customer {
	c := fullCustomer()
	c.Branches = []string{"310102", "310103", "310104", "310105"}
	c.Tags = nil
	for i := range 40 {
		c.Tags = append(c.Tags, 1+3*i)
	}
	c.Maturities = append(c.Maturities, huiyan.Maturity{Product: "CD-5Y", Date: time.Date(2031, 2, 3, 0, 0, 0, 0, shanghai)})
	c.Tokens = nil
	for i := range nTokens {
		tok := fmt.Sprintf("%064x", i*7919+1)
		if i%3 == 2 {
			tok = strings.ToUpper(tok)
		}
		c.Tokens = append(c.Tokens, huiyan.Ident{Kind: huiyan.IdentPhone, KeyID: "k1", Token: tok})
	}
	return c
}

// TestDecodeCustomerSlicesCapped checks that the slices of a decoded
// customer, which live in one allocation with room to spare, have no
// capacity beyond their length, as slices made to measure have: two
// appends to the same slice never share memory.
func TestDecodeCustomerSlicesCapped(t *testing.T) {
	c, err := decodeCustomer(appendCustomer(nil, fullCustomer()))
	if err != nil {
		t.Fatal(err)
	}
	for name, lc := range map[string][2]int{
		"Branches":   {len(c.Branches), cap(c.Branches)},
		"Tags":       {len(c.Tags), cap(c.Tags)},
		"Maturities": {len(c.Maturities), cap(c.Maturities)},
		"Tokens":     {len(c.Tokens), cap(c.Tokens)},
	} {
		if lc[0] == 0 || lc[0] != lc[1] {
			t.Errorf("%s: len %d, cap %d; want equal and non-zero", name, lc[0], lc[1])
		}
	}
	a, b := append(c.Tags, 1), append(c.Tags, 2)
	if a[len(a)-1] != 1 || b[len(b)-1] != 2 {
		t.Errorf("appends share memory: %v, %v", a, b)
	}
}

// TestDecodeCustomerAllocs holds the decoder to its three allocations for
// a customer whose slices fit customerMem (the struct with its slices, the
// record's text, the hex of its tokens): every lookup by token pays them.
func TestDecodeCustomerAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *huiyan.Customer
		max  float64
	}{
		{"Full", fullCustomer(), 3},
		{"NoRawTokens", &huiyan.Customer{ID: "c", Tokens: []huiyan.Ident{{Kind: huiyan.IdentPhone, Token: "short"}}}, 2},
		{"NoSlices", &huiyan.Customer{ID: "c"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := appendCustomer(nil, tc.c)
			got := testing.AllocsPerRun(100, func() {
				if _, err := decodeCustomer(b); err != nil {
					t.Fatal(err)
				}
			})
			if got > tc.max {
				t.Errorf("%v allocations per decode, want at most %v", got, tc.max)
			}
		})
	}
}

func TestStaffRoundTrip(t *testing.T) {
	testRoundTrip(t, []codecCase[*huiyan.Staff]{
		{"Zero", &huiyan.Staff{}},
		{"Full", &huiyan.Staff{ID: "lobby-310101", Branch: "310101", Role: huiyan.RoleLobby, DisplayName: "张经理", PINHash: "pbkdf2-sha256$60000$c2FsdA$aGFzaA"}},
		{"UnknownRole", &huiyan.Staff{ID: "s", Role: "janitor"}},
	}, func(s *huiyan.Staff) []byte { return appendStaff(nil, s) }, decodeStaff)
}

func TestVisitRoundTrip(t *testing.T) {
	type stored struct {
		V       *huiyan.Visit
		Subject string
	}
	testRoundTrip(t, []codecCase[stored]{
		{"Zero", stored{V: &huiyan.Visit{}}},
		{"Full", stored{V: fullVisit(), Subject: "C0000000001"}},
		{"OpenNewFace", stored{V: &huiyan.Visit{ID: "v2", OpenedAt: t0, LastSeenAt: t0, Touchpoints: []huiyan.Touchpoint{}}, Subject: "nf:abcd"}},
		{"UnknownEnums", stored{V: &huiyan.Visit{ID: "v3", Channel: "kiosk", Outcome: "sold", Converted: "upgraded"}}},
	}, func(s stored) []byte { return appendVisit(nil, s.V, s.Subject) },
		func(b []byte) (stored, error) {
			v, subject, err := decodeVisit(b)
			return stored{v, subject}, err
		})
}

func TestFeedRoundTrip(t *testing.T) {
	testRoundTrip(t, []codecCase[*huiyan.FeedEvent]{
		{"Zero", &huiyan.FeedEvent{}},
		{"Arrival", &huiyan.FeedEvent{
			Seq: 1 << 40, Kind: huiyan.FeedArrival, At: t0,
			Audience: huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby, huiyan.RoleWealth}, Staff: []string{"account-310101"}},
			Visit:    fullVisit(), Profile: fullProfile(), Actions: fullActions(),
		}},
		{"NewFace", &huiyan.FeedEvent{Seq: 2, Kind: huiyan.FeedArrival, At: t0, Visit: &huiyan.Visit{ID: "v"}, Profile: &huiyan.Profile{}}},
		{"Device", &huiyan.FeedEvent{Seq: 3, Kind: huiyan.FeedDevice, At: t0, Device: "sc-01", DeviceStatus: huiyan.DeviceOffline,
			Audience: huiyan.Audience{Roles: []huiyan.Role{}, Staff: []string{}}}},
		{"UnknownKind", &huiyan.FeedEvent{Kind: "alarm", DeviceStatus: "rebooting"}},
	}, func(e *huiyan.FeedEvent) []byte { return appendFeed(nil, e) }, decodeFeed)
}

func TestCardRoundTrip(t *testing.T) {
	testRoundTrip(t, []codecCase[*huiyan.Card]{
		{"Zero", &huiyan.Card{}},
		{"Full", &huiyan.Card{Visit: fullVisit(), Profile: fullProfile(), Actions: fullActions(),
			Audience: huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleWealth}}}},
	}, func(c *huiyan.Card) []byte { return appendCard(nil, c) }, decodeCard)
}

func TestSessionRoundTrip(t *testing.T) {
	testRoundTrip(t, []codecCase[edge.Session]{
		{"Zero", edge.Session{}},
		{"Full", edge.Session{TokenHash: strings.Repeat("ab", 32), StaffID: "lobby-310101", Created: t0, Expires: t0.Add(12 * time.Hour)}},
	}, func(s edge.Session) []byte { return appendSession(nil, &s) }, decodeSession)
}

func TestDeviceRoundTrip(t *testing.T) {
	testRoundTrip(t, []codecCase[huiyan.DeviceState]{
		{"Zero", huiyan.DeviceState{}},
		{"Full", huiyan.DeviceState{Device: "sc-01", Channel: huiyan.ChannelCounter, Status: huiyan.DeviceOnline, Since: t0}},
		{"Unknown", huiyan.DeviceState{Device: "x", Channel: "kiosk", Status: "flapping"}},
	}, func(d huiyan.DeviceState) []byte { return appendDevice(nil, &d) }, decodeDevice)
}

func TestMetaRoundTrip(t *testing.T) {
	testRoundTrip(t, []codecCase[edge.Meta]{
		{"Zero", edge.Meta{}},
		{"Full", edge.Meta{Branch: "310101", SnapshotVersion: 1 << 45, SnapshotAt: t0, DictVersion: 3, KeyID: "k1", Customers: 200_000}},
		{"Negative", edge.Meta{SnapshotVersion: -1, DictVersion: -2, Customers: -3}},
	}, func(m edge.Meta) []byte { return appendMeta(nil, &m) }, decodeMeta)
}

func TestDedupeRoundTrip(t *testing.T) {
	testRoundTrip(t, []codecCase[dedupeMark]{
		{"Zero", dedupeMark{}},
		{"Full", dedupeMark{VisitID: "v-0001", At: t0}},
	}, func(m dedupeMark) []byte { return appendDedupe(nil, m) }, decodeDedupe)
}

func TestDictRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		dict *huiyan.TagDict
	}{
		{"Empty", mustDict(t, 0, nil)},
		{"Shipped", huiyan.DefaultTagDict()},
		{"Custom", mustDict(t, 7, []huiyan.Tag{
			{ID: 500, Code: "z", NameZH: "乙", NameEN: "Z", Kind: huiyan.TagStatus, Priority: -1},
			{ID: 2, Code: "a", NameZH: "甲", NameEN: "A", Kind: huiyan.TagBranch, Category: "wealth", Priority: 30},
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeDict(appendDict(nil, tc.dict))
			if err != nil {
				t.Fatal(err)
			}
			if got.Version() != tc.dict.Version() {
				t.Errorf("version=%d, want %d", got.Version(), tc.dict.Version())
			}
			if want := tc.dict.Tags(); !reflect.DeepEqual(got.Tags(), want) {
				t.Errorf("tags=%+v, want %+v", got.Tags(), want)
			}
		})
	}
}

func mustDict(tb testing.TB, version int, tags []huiyan.Tag) *huiyan.TagDict {
	tb.Helper()
	d, err := huiyan.NewTagDict(version, tags)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

type codecCase[T any] struct {
	name string
	in   T
}

// testRoundTrip encodes and decodes every case and compares the result with
// the normalized input; it then checks that re-encoding the decoded value
// gives the same bytes, so that the encoding is canonical.
func testRoundTrip[T any](t *testing.T, cases []codecCase[T], enc func(T) []byte, dec func([]byte) (T, error)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := enc(tc.in)
			got, err := dec(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if again := enc(got); !bytes.Equal(again, b) {
				t.Errorf("re-encoded=%x, want %x", again, b)
			}
			want := tc.in
			normalize(&want)
			normalize(&got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded=%+v, want %+v", got, want)
			}
		})
	}
}

// TestNilAndEmptySlices pins the rule: nil and empty slices both decode as nil.
func TestNilAndEmptySlices(t *testing.T) {
	empty := &huiyan.Customer{Branches: []string{}, Tags: []int{}, Maturities: []huiyan.Maturity{}, Tokens: []huiyan.Ident{}}
	if a, b := appendCustomer(nil, empty), appendCustomer(nil, &huiyan.Customer{}); !bytes.Equal(a, b) {
		t.Fatalf("empty=%x, nil=%x: want the same bytes", a, b)
	}
	got, err := decodeCustomer(appendCustomer(nil, empty))
	if err != nil {
		t.Fatal(err)
	}
	if got.Branches != nil || got.Tags != nil || got.Maturities != nil || got.Tokens != nil {
		t.Errorf("decoded=%+v, want nil slices", got)
	}
}

// TestTimeZone checks that a time keeps its instant and its zone offset, so
// that a maturity date at midnight in the branch's zone is still that date.
func TestTimeZone(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   time.Time
	}{
		{"Shanghai", time.Date(2026, 12, 1, 0, 0, 0, 0, shanghai)},
		{"UTC", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"Local", time.Date(2026, 12, 1, 0, 0, 0, 0, time.Local)},
		{"HalfHour", time.Date(2026, 12, 1, 0, 0, 0, 1, time.FixedZone("IST", 5*3600+1800))},
		{"OddOffset", time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 29143))},
		{"Nanos", time.Date(2262, 4, 11, 23, 47, 16, 854_775_807, time.UTC)},
		{"Year1", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		{"Year9999", time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, shanghai)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReader(appendTime(nil, tc.in))
			got := r.time()
			if err := r.end("time"); err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.in) {
				t.Errorf("time=%v, want %v", got, tc.in)
			}
			if g, w := got.Format("2006-01-02T15:04:05.999999999-07:00"), tc.in.Format("2006-01-02T15:04:05.999999999-07:00"); g != w {
				t.Errorf("wall clock=%s, want %s", g, w)
			}
		})
	}
	t.Run("LocalLocation", func(t *testing.T) {
		in := time.Date(2026, 6, 1, 12, 0, 0, 0, time.Local)
		if _, off := in.Zone(); off == 0 {
			t.Skip("time.Local is UTC here")
		}
		r := newReader(appendTime(nil, in))
		if got := r.time(); got.Location() != time.Local {
			t.Errorf("location=%v, want Local", got.Location())
		}
	})
}

func TestToken(t *testing.T) {
	var key [32]byte
	if !aliasKey(tok1, &key) {
		t.Fatal("aliasKey refused a lower-case token")
	}
	var upper [32]byte
	if !aliasKey(strings.ToUpper(tok1), &upper) || upper != key {
		t.Error("upper-case token gives another key")
	}
	for _, bad := range []string{"", tok1[:63], tok1 + "0", strings.Replace(tok1, "0", "g", 1)} {
		if aliasKey(bad, &key) {
			t.Errorf("aliasKey(%q) accepted", bad)
		}
	}
	if n := len(appendToken(nil, tok1)); n != 33 {
		t.Errorf("canonical token takes %d bytes, want 33", n)
	}
}

// TestTimePrefix: the longest time the encoding writes, after a version
// byte, fits in timePrefix, the head outboxAt copies.
func TestTimePrefix(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		t0,
		time.Unix(-1<<62, 999_999_999).In(time.FixedZone("", -(maxZoneOffset - 1))),
		time.Unix(1<<62, 999_999_999).In(time.FixedZone("", maxZoneOffset-1)),
	} {
		if n := 1 + len(appendTime(nil, tm)); n > timePrefix {
			t.Errorf("%v: version and time take %d bytes, timePrefix is %d", tm, n, timePrefix)
		}
	}
}

// TestVisitSubject reads the subject of stored visits of both layouts as
// decodeVisit does, and refuses what decodeVisit refuses at the subject.
func TestVisitSubject(t *testing.T) {
	v2 := appendVisit(nil, fullVisit(), "face:abc")
	v1 := appendVisitBodyV1(appendString([]byte{visitV1}, "C0000000001"), fullVisit())
	for _, tc := range []struct {
		name string
		b    []byte
		want string
		err  error
	}{
		{"V2", v2, "face:abc", nil},
		{"V1", v1, "C0000000001", nil},
		{"Closed", appendVisit(nil, fullVisit(), ""), "", nil},
		{"Empty", nil, "", ErrCorrupt},
		{"UnknownVersion", append([]byte{0x7f}, v2[1:]...), "", ErrRecordVersion},
		{"TruncatedLength", []byte{visitV2, 0x80}, "", ErrCorrupt},
		{"LongerThanRecord", []byte{visitV2, 9, 'a', 'b'}, "", ErrCorrupt},
		{"HugeLength", []byte{visitV2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "", ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := visitSubject(tc.b)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err=%v, want %v", err, tc.err)
				}
				return
			}
			_, want, derr := decodeVisit(tc.b)
			if err != nil || derr != nil || got != tc.want || got != want {
				t.Errorf("subject=%q, %v; want %q (decodeVisit: %q, %v)", got, err, tc.want, want, derr)
			}
		})
	}
}

// encodedRecords is one encoded value of every record type, with its decoder.
func encodedRecords() []struct {
	name string
	b    []byte
	dec  func([]byte) error
} {
	return []struct {
		name string
		b    []byte
		dec  func([]byte) error
	}{
		{"Customer", appendCustomer(nil, fullCustomer()), func(b []byte) error { _, err := decodeCustomer(b); return err }},
		{"Staff", appendStaff(nil, &huiyan.Staff{ID: "s", Role: huiyan.RoleWealth, PINHash: "h"}), func(b []byte) error { _, err := decodeStaff(b); return err }},
		{"Visit", appendVisit(nil, fullVisit(), "subject"), func(b []byte) error { _, _, err := decodeVisit(b); return err }},
		{"Feed", appendFeed(nil, &huiyan.FeedEvent{Seq: 9, Kind: huiyan.FeedArrival, At: t0, Visit: fullVisit(), Profile: fullProfile(), Actions: fullActions(),
			Audience: huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby}, Staff: []string{"a"}}}), func(b []byte) error { _, err := decodeFeed(b); return err }},
		{"Card", appendCard(nil, &huiyan.Card{Visit: fullVisit(), Profile: fullProfile(), Actions: fullActions()}), func(b []byte) error { _, err := decodeCard(b); return err }},
		{"Session", appendSession(nil, &edge.Session{TokenHash: "h", StaffID: "s", Created: t0, Expires: t0}), func(b []byte) error { _, err := decodeSession(b); return err }},
		{"Device", appendDevice(nil, &huiyan.DeviceState{Device: "d", Channel: huiyan.ChannelWheel, Status: "online", Since: t0}), func(b []byte) error { _, err := decodeDevice(b); return err }},
		{"Meta", appendMeta(nil, &edge.Meta{Branch: "b", SnapshotVersion: 3, SnapshotAt: t0, KeyID: "k1", Customers: 9}), func(b []byte) error { _, err := decodeMeta(b); return err }},
		{"Dict", appendDict(nil, huiyan.DefaultTagDict()), func(b []byte) error { _, err := decodeDict(b); return err }},
		{"Dedupe", appendDedupe(nil, dedupeMark{VisitID: "v", At: t0}), func(b []byte) error { _, err := decodeDedupe(b); return err }},
		{"Outbox", appendOutbox(nil, &outboxEvents()[0]), func(b []byte) error { _, err := decodeOutbox(b); return err }},
	}
}

// TestDecodeCorrupt feeds every decoder every truncation of a good record,
// the record with a trailing byte, and the record with each byte changed:
// never a panic, and an error wrapping ErrCorrupt where the bytes cannot be
// a record.
func TestDecodeCorrupt(t *testing.T) {
	for _, rec := range encodedRecords() {
		t.Run(rec.name, func(t *testing.T) {
			if err := rec.dec(rec.b); err != nil {
				t.Fatalf("good record: %v", err)
			}
			for n := range len(rec.b) {
				if err := rec.dec(rec.b[:n]); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("truncated to %d of %d bytes: err=%v, want ErrCorrupt", n, len(rec.b), err)
				}
			}
			if err := rec.dec(append(bytes.Clone(rec.b), 0)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("trailing byte: err=%v, want ErrCorrupt", err)
			}
			// Byte 0 is the version (TestDecodeUnknownVersion); about 500
			// positions of the rest, as the dict record is 10 KB.
			b := bytes.Clone(rec.b)
			step := max(1, len(b)/500)
			for i := 1; i < len(b); i += step {
				for _, x := range []byte{0x00, 0x7f, 0x80, 0xff} {
					old := b[i]
					b[i] = x
					_ = rec.dec(b) // must not panic
					b[i] = old
				}
			}
		})
	}
}

func TestDecodeUnknownVersion(t *testing.T) {
	for _, rec := range encodedRecords() {
		t.Run(rec.name, func(t *testing.T) {
			for _, v := range []byte{0, 0x7f, 0xff} { // no record has a layout 0 or that many
				b := bytes.Clone(rec.b)
				b[0] = v
				if err := rec.dec(b); !errors.Is(err, ErrRecordVersion) {
					t.Errorf("version=%d: err=%v, want ErrRecordVersion", v, err)
				}
			}
		})
	}
}

func TestDecodeHostile(t *testing.T) {
	customer := func(b []byte) error { _, err := decodeCustomer(b); return err }
	feed := func(b []byte) error { _, err := decodeFeed(b); return err }
	feedTime := func(flags byte, fields ...int64) []byte { // a feed event cut after its time
		b := append([]byte{feedV1, 1}, flags)
		for _, f := range fields {
			b = appendVarint(b, f)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		dec  func([]byte) error
	}{
		{"HugeCount", append([]byte{customerV1, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, make([]byte, 16)...), customer},
		{"HugeString", []byte{customerV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, customer},
		{"VarintOverflow", []byte{customerV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, customer},
		{"VarintTooLong", []byte{customerV1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, customer},
		{"BadEnum", []byte{customerV1, 0, 0, 99}, customer},
		{"BadBool", append(appendCustomer(nil, &huiyan.Customer{})[:13], 2), customer},
		{"BadTimeFlags", feedTime(0x08), feed},
		{"TimeFlagsWithoutSet", feedTime(timeNsec, 0), feed},
		{"BadNanos", append(feedTime(timeSet|timeNsec, 0), appendUvarint(nil, 1e9)...), feed},
		{"BadZone", feedTime(timeSet|timeZone, 0, 90_000), feed},
		{"BadTokenFlag", append(appendCustomer(nil, &huiyan.Customer{})[:15], 1, 1, 0, 7), customer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.dec(tc.b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("err=%v, want ErrCorrupt", err)
			}
		})
	}
}

// FuzzDecodeCustomer checks that no input makes the customer decoder panic,
// and that whatever it accepts survives another encode and decode.
func FuzzDecodeCustomer(f *testing.F) {
	for _, c := range []*huiyan.Customer{{}, fullCustomer(), {ID: "c", Tags: []int{-1, 1 << 40}, MBankIdleDays: -1}} {
		b := appendCustomer(nil, c)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{customerV1})
	f.Add([]byte{2, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCustomer(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrRecordVersion) {
				t.Fatalf("err=%v, want ErrCorrupt or ErrRecordVersion", err)
			}
			return
		}
		again, err := decodeCustomer(appendCustomer(nil, c))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		normalize(&c)
		normalize(&again)
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("re-decoded=%+v, want %+v", again, c)
		}
	})
}
