package wheel

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"testing"
)

// Alpha is the false-alarm rate of the goodness-of-fit tests: with a draw
// that is exactly right, a test fails by chance once in a million runs.
const Alpha = 1e-6

func TestChi2Survival(t *testing.T) {
	for _, tt := range []struct {
		x    float64
		k    int
		want float64
	}{
		{0, 3, 1},
		{3.841458820694124, 1, 0.05},  // the textbook 5 % point, 1 dof
		{23.928126966, 1, 1e-6},       // z² for the two-sided normal 1e-6 point, z = 4.891638
		{27.631021115928547, 2, 1e-6}, // 2 dof: Q = exp(−x/2) exactly, so x = −2 ln 1e-6
		{2, 2, math.Exp(-1)},
		{18.307038053275146, 10, 0.05}, // tables
		{11.070497693516351, 5, 0.05},
		{1.6103079869623229, 5, 0.9},
	} {
		if got := Chi2Survival(tt.x, tt.k); math.Abs(got-tt.want) > 1e-6*tt.want {
			t.Errorf("Chi2Survival(%v, %d) = %v, want %v", tt.x, tt.k, got, tt.want)
		}
	}
	if got := Chi2Critical(2, Alpha); math.Abs(got-27.631021115928547) > 1e-6 {
		t.Errorf("Chi2Critical(2, 1e-6) = %v, want 27.631021", got)
	}
}

func TestUniform(t *testing.T) {
	word := func(xs ...uint64) io.Reader {
		var b []byte
		for _, x := range xs {
			b = binary.BigEndian.AppendUint64(b, x)
		}
		return bytes.NewReader(b)
	}
	for _, tt := range []struct {
		name string
		n    uint64
		in   io.Reader
		want uint64
	}{
		{"One", 1, word(12345), 0},
		{"Modulo", 10, word(1234567), 7},
		{"PowerOfTwoTakesAll", 1 << 20, word(math.MaxUint64), 1<<20 - 1},
		// 2^64 mod 3 = 1: the single value 2^64−1 is the incomplete run,
		// refused; the next value is used.
		{"RejectsIncompleteRun", 3, word(math.MaxUint64, 5), 2},
		{"TakesLastCompleteRun", 3, word(math.MaxUint64 - 1), (math.MaxUint64 - 1) % 3},
		// 2^64 mod 10^6 = 551616: the top 551616 values are refused.
		{"RejectsTopMillion", 1_000_000, word(math.MaxUint64-551615, math.MaxUint64-551616, 0), (math.MaxUint64 - 551616) % 1_000_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := uniform(tt.in, tt.n)
			if err != nil || got != tt.want {
				t.Fatalf("uniform = %d, %v, want %d", got, err, tt.want)
			}
		})
	}
	t.Run("ErrSource", func(t *testing.T) {
		if _, err := uniform(bytes.NewReader([]byte{1, 2, 3}), 10); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
	})
}

func TestPick(t *testing.T) {
	ws := []uint64{0, 3, 0, 2, 5}
	want := []int{1, 1, 1, 3, 3, 4, 4, 4, 4, 4} // x = 0 … 9
	for x, w := range want {
		if got := pick(ws, uint64(x)); got != w {
			t.Errorf("pick(%v, %d) = %d, want %d", ws, x, got, w)
		}
	}
}

// oddsTable is the table of the goodness-of-fit tests: prizes of 0.5 %,
// 2 %, 7.5 % and 15 %, and 75 % no prize, per million.
var oddsTable = &PrizeTable{Scale: 1_000_000, Entries: []Entry{
	{Code: "phone", Weight: 5_000}, {Code: "cup", Weight: 20_000}, {Code: "cash-8", Weight: 75_000},
	{Code: "pen", Weight: 150_000}, {Weight: 750_000},
}}

// sampler draws one entry index of oddsTable.
type sampler func() (int, error)

func counts(t *testing.T, n int, s sampler) []int {
	t.Helper()
	c := make([]int, len(oddsTable.Entries))
	for range n {
		i, err := s()
		if err != nil {
			t.Fatal(err)
		}
		c[i]++
	}
	return c
}

func weightsOf(tb *PrizeTable) []uint64 {
	ws := make([]uint64, len(tb.Entries))
	for i, e := range tb.Entries {
		ws[i] = e.Weight
	}
	return ws
}

// TestDrawOdds draws 200,000 times and compares the frequencies with the
// weights by Pearson's χ² goodness-of-fit test (4 degrees of freedom; the
// smallest expected count is 1,000) at the false-alarm rate Alpha = 10⁻⁶:
// a correct draw fails it once in a million runs. The critical value comes
// from the χ² distribution itself (Chi2Survival, checked against exact
// values in TestChi2Survival), not from an approximation.
//
// The test must also be able to fail: the same test is run on draws with
// the classic bugs, modulo bias (x mod scale of a 20-bit number, which
// makes the first 48,576 of every million values twice as likely) and a
// skewed weight (the cup drawn 20 % more often than approved). Both must be
// rejected; at 200,000 draws their expected statistics are in the
// hundreds, so a biased draw passing is far less likely than Alpha.
func TestDrawOdds(t *testing.T) {
	const n = 200_000
	ws := weightsOf(oddsTable)
	crit := Chi2Critical(len(ws)-1, Alpha)
	t.Run("OK", func(t *testing.T) {
		c := counts(t, n, func() (int, error) {
			i, _, err := draw(rand.Reader, oddsTable)
			return i, err
		})
		stat, p := ChiSquare(c, ws)
		t.Logf("counts %v, χ²=%.2f (critical %.2f at α=%g), p=%.3g", c, stat, crit, Alpha, p)
		if p < Alpha {
			t.Fatalf("the draw does not follow the weights: χ²=%.2f > %.2f, p=%.3g", stat, crit, p)
		}
	})
	biased := map[string]sampler{
		"ModuloBias": func() (int, error) {
			var b [4]byte
			if _, err := rand.Read(b[:]); err != nil {
				return 0, err
			}
			x := uint64(binary.BigEndian.Uint32(b[:])>>12) % oddsTable.Scale // 20 bits mod a million
			return pick(ws, x), nil
		},
		"SkewedWeight": func() (int, error) {
			skewed := *oddsTable
			skewed.Entries = append([]Entry(nil), oddsTable.Entries...)
			skewed.Entries[1].Weight += 4_000 // cup: 2.4 % instead of 2 %
			skewed.Entries[4].Weight -= 4_000
			i, _, err := draw(rand.Reader, &skewed)
			return i, err
		},
	}
	for name, s := range biased {
		t.Run("Rejects"+name, func(t *testing.T) {
			c := counts(t, n, s)
			stat, p := ChiSquare(c, ws)
			t.Logf("counts %v, χ²=%.2f, p=%.3g", c, stat, p)
			if p >= Alpha {
				t.Fatalf("a biased draw passed: χ²=%.2f ≤ %.2f, p=%.3g", stat, crit, p)
			}
		})
	}
}
