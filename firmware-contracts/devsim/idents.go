package devsim

import "math/rand/v2"

// Idents are the raw identifiers of a generated customer. They exist only in
// memory: gen writes their tokens (firmware.Token under firmware.DemoKey,
// key id k1), never the values. They are recognisably synthetic, so that no
// generated number can be a real person's or a real card:
//
//   - IDCard: 18 characters in the GB 11643 layout with a valid check
//     character, but the region code starts with 9, which GB/T 2260 never
//     assigns ("9" + 5 digits, birth date YYYYMMDD matching the customer's
//     age, 2 sequence digits, a gender digit odd for men, check character).
//   - BankCards: a 19-digit debit card with issuer prefix 99901, and for
//     credit_card_holder a 16-digit credit card with prefix 99902 (or, for
//     multi_debit_card, a second debit card); issuer identification numbers
//     starting with 9 belong to no card scheme. Both end in a Luhn digit.
//   - MBank: the mobile-banking user id, "MB" and 16 hex digits; empty when
//     the customer never registered (mbank_status none).
//   - Phone: a mainland mobile number in E.164, +86 1[35789] and 9 digits.
//
// Within one seed every value is unique for customer indexes below
// MaxGenCustomers: each is an invertible function of the index.
type Idents struct {
	IDCard    string
	BankCards []string
	MBank     string
	Phone     string
}

// IDBirthYearBase is the year customers' ages count from when their birth
// dates are made, so that identifiers do not depend on the reference date.
const IDBirthYearBase = 2026

// CustomerIdents returns the raw identifiers of the customer at index (the
// data line index+2 of tags.csv, 0-based after the header) in data sets
// made with seed, whatever their -customers, -branches or reference date:
// the identifiers come from the customer's own random stream. A simulator
// that has the seed can present them to firmware.Token as a device would;
// one that has only the data directory reads the tokens from tags.csv.
func CustomerIdents(seed int64, index int) (Idents, error) {
	m, err := defaultModel()
	if err != nil {
		return Idents{}, err
	}
	if index < 0 || index >= MaxGenCustomers {
		return Idents{}, errIndex(index)
	}
	k := newSeedKeys(seed)
	var pcg rand.PCG
	r := rand.New(&pcg)
	var c customer
	k.seedCore(&pcg, index)
	c.index = index
	m.person(r, &c, &k)
	id := c.ids
	id.BankCards = append([]string(nil), c.ids.BankCards...)
	return id, nil
}

// CustomerID returns the pseudonymous customer id of the customer at index
// in data sets made with seed: "C" and 13 Crockford base32 characters of an
// invertible 64-bit mix of the index under a seed-derived key, so ids are
// unique within a seed and say nothing about the person.
func CustomerID(seed int64, index int) string {
	k := newSeedKeys(seed)
	var b [14]byte
	return string(k.appendCustomerID(b[:0], index))
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func (k *seedKeys) appendCustomerID(dst []byte, index int) []byte {
	v := mix64(uint64(index) ^ k.cid)
	dst = append(dst, 'C')
	for i := 12; i >= 0; i-- {
		dst = append(dst, crockford[(v>>(5*uint(i)))&31])
	}
	return dst
}

// mix64 is the SplitMix64 finaliser: a bijection of uint64 that scatters
// neighbouring inputs.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// seedKeys are the per-seed constants every stream and identifier derives
// from.
type seedKeys struct {
	core1, core2, place1, place2, staff1, staff2 uint64
	cid, mbank                                   uint64
	idOff, debitOff, creditOff, phoneOff         uint64
}

func newSeedKeys(seed int64) seedKeys {
	s := uint64(seed)
	d := func(salt uint64) uint64 { return mix64(mix64(s^salt) + salt) }
	return seedKeys{
		core1: d(0x636f726531), core2: d(0x636f726532),
		place1: d(0x706c616331), place2: d(0x706c616332),
		staff1: d(0x7374616631), staff2: d(0x7374616632),
		cid: d(0x636964), mbank: d(0x6d62616e6b),
		idOff:     d(0x6964636172) % idSpace,
		debitOff:  d(0x6465626974) % 1e13,
		creditOff: d(0x6372656469) % 1e10,
		phoneOff:  d(0x70686f6e65) % 1e9,
	}
}

func (k *seedKeys) seedCore(p *rand.PCG, index int) {
	p.Seed(mix64(k.core1+uint64(index)), mix64(k.core2^uint64(index)))
}

func (k *seedKeys) seedPlace(p *rand.PCG, index int) {
	p.Seed(mix64(k.place1+uint64(index)), mix64(k.place2^uint64(index)))
}

func (k *seedKeys) seedStaff(p *rand.PCG, branch int) {
	p.Seed(mix64(k.staff1+uint64(branch)), mix64(k.staff2^uint64(branch)))
}

// idSpace is how many distinct ID numbers a seed has: 10^7 sequence values
// (5 region and 2 sequence digits) times 5 gender-digit pairs.
const idSpace = 5e7

// Multipliers of the invertible affine maps index → identifier digits: each
// is coprime with 10, so the map is a permutation modulo a power of ten.
const (
	idMul     = 7_368_787
	debitMul  = 6_364_136_223
	creditMul = 1_442_695_041
	phoneMul  = 40_503
)

var (
	idCardWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	idCardCheck   = "10X98765432"
)

// idents draws c's raw identifiers. It runs last on the core stream.
func (m *model) idents(r *rand.Rand, c *customer, k *seedKeys) {
	idx := uint64(c.index)

	u := (idx*idMul + k.idOff) % idSpace
	u7, h := u%1e7, u/1e7
	var id [18]byte
	b := append(id[:0], '9')
	b = appendDigits(b, u7/100, 5)
	b = appendDigits(b, uint64(IDBirthYearBase-c.age), 4)
	b = appendDigits(b, uint64(1+r.IntN(12)), 2)
	b = appendDigits(b, uint64(1+r.IntN(28)), 2)
	b = appendDigits(b, u7%100, 2)
	g := 2 * h
	if c.male {
		g++
	}
	b = appendDigits(b, g, 1)
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(b[i]-'0') * idCardWeights[i]
	}
	b = append(b, idCardCheck[sum%11])
	c.ids.IDCard = string(b)

	c.ids.BankCards = c.ids.BankCards[:0]
	c.ids.BankCards = append(c.ids.BankCards, debitCard(2*idx, k))
	switch {
	case c.has(m.credit):
		v := (idx*creditMul + k.creditOff) % 1e10
		c.ids.BankCards = append(c.ids.BankCards, luhnCard("99902", v, 10))
	case c.has(m.multiCard):
		c.ids.BankCards = append(c.ids.BankCards, debitCard(2*idx+1, k))
	}

	c.ids.MBank = ""
	if c.mbank != "none" {
		v := mix64(idx ^ k.mbank)
		var mb [18]byte
		b := append(mb[:0], "MB"...)
		for i := 15; i >= 0; i-- {
			b = append(b, "0123456789ABCDEF"[(v>>(4*uint(i)))&15])
		}
		c.ids.MBank = string(b)
	}

	var ph [14]byte
	p := append(ph[:0], "+861"...)
	p = append(p, "35789"[r.IntN(5)])
	p = appendDigits(p, (idx*phoneMul+k.phoneOff)%1e9, 9)
	c.ids.Phone = string(p)
}

func debitCard(n uint64, k *seedKeys) string {
	return luhnCard("99901", (n*debitMul+k.debitOff)%1e13, 13)
}

// luhnCard returns prefix, v as width digits and a Luhn check digit.
func luhnCard(prefix string, v uint64, width int) string {
	var a [20]byte
	b := appendDigits(append(a[:0], prefix...), v, width)
	sum := 0
	for i := len(b) - 1; i >= 0; i-- {
		d := int(b[i] - '0')
		if (len(b)-1-i)%2 == 0 { // doubled: every second digit from the right of the full number
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return string(append(b, byte('0'+(10-sum%10)%10)))
}

// appendDigits appends v as exactly width decimal digits, zero-padded.
func appendDigits(dst []byte, v uint64, width int) []byte {
	n := len(dst)
	for range width {
		dst = append(dst, '0')
	}
	for i := len(dst) - 1; i >= n; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
	return dst
}
