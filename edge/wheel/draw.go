package wheel

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
)

// uniform returns an integer uniformly distributed in [0, n), n ≥ 1, made
// from 64-bit values read from r (crypto/rand.Reader in the engine).
//
// x % n alone would be biased whenever n does not divide 2^64: the
// remainders below 2^64 mod n would come up once more often than the
// others. So values from the last, incomplete run of n (x ≥ 2^64 − 2^64 mod n)
// are rejected and a new value read. At most n/2^64 of the values are
// rejected (under 1 in 10^10 for the weight scales a table allows), so a
// draw reads 8 bytes nearly always.
func uniform(r io.Reader, n uint64) (uint64, error) {
	if n == 0 {
		return 0, fmt.Errorf("uniform: empty range")
	}
	// rem = 2^64 mod n; the values 2^64 − rem … 2^64 − 1 are the incomplete run.
	rem := (math.MaxUint64%n + 1) % n
	var b [8]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("random source: %w", err)
		}
		x := binary.BigEndian.Uint64(b[:])
		if rem == 0 || x <= math.MaxUint64-rem {
			return x % n, nil
		}
	}
}

// pick returns the index of the entry whose range holds x, the ranges laid
// end to end in the given order: entry i holds [w0+…+w(i-1), w0+…+wi).
// Entries of weight 0 hold nothing and are never picked. x must be below
// the sum of the weights.
func pick(weights []uint64, x uint64) int {
	cum := make([]uint64, len(weights))
	var s uint64
	for i, w := range weights {
		s += w
		cum[i] = s
	}
	return sort.Search(len(cum), func(i int) bool { return cum[i] > x })
}

// draw draws an entry of t: its index and the uniform number it came from
// (recorded in the audit, so that an auditor can redo the mapping).
func draw(r io.Reader, t *PrizeTable) (int, uint64, error) {
	x, err := uniform(r, t.Scale)
	if err != nil {
		return 0, 0, err
	}
	ws := make([]uint64, len(t.Entries))
	for i, e := range t.Entries {
		ws[i] = e.Weight
	}
	return pick(ws, x), x, nil
}
