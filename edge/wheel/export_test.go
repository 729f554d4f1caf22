package wheel

import (
	"io"
	"math"
)

// Test-only access to the draw's parts, for the black-box tests of the
// engine (an auditor redoes the mapping from draw to row the same way).
var (
	Pick    = pick
	Uniform = uniform
)

// SetRand replaces the wheel's random source: tests only, to show that a
// broken source is noticed.
func (w *Wheel) SetRand(r io.Reader) { w.rand = r }

// ChiSquare returns Pearson's statistic of observed counts against the
// probabilities weights/sum(weights), and its p-value: the probability that
// a draw with exactly those probabilities gives a statistic at least as
// large, from the χ² distribution with len(weights)−1 degrees of freedom
// (categories of weight 0 must have been left out by the caller).
func ChiSquare(observed []int, weights []uint64) (stat, p float64) {
	var n int
	var total uint64
	for i := range observed {
		n += observed[i]
		total += weights[i]
	}
	for i, o := range observed {
		e := float64(n) * float64(weights[i]) / float64(total)
		stat += (float64(o) - e) * (float64(o) - e) / e
	}
	return stat, Chi2Survival(stat, len(observed)-1)
}

// Chi2Survival is P(X ≥ x) for X χ²-distributed with k degrees of
// freedom: the regularised upper incomplete gamma function Q(k/2, x/2),
// by its series below a+1 and its continued fraction above (Numerical
// Recipes, 6.2), each to double precision.
func Chi2Survival(x float64, k int) float64 {
	a, x := float64(k)/2, x/2
	if x <= 0 {
		return 1
	}
	lg, _ := math.Lgamma(a)
	front := math.Exp(-x + a*math.Log(x) - lg)
	const eps, tiny = 1e-15, 1e-300
	if x < a+1 {
		sum, del, ap := 1/a, 1/a, a
		for range 10000 {
			ap++
			del *= x / ap
			sum += del
			if math.Abs(del) < math.Abs(sum)*eps {
				break
			}
		}
		return 1 - sum*front
	}
	b := x + 1 - a
	c, d := 1/tiny, 1/b
	h := d
	for i := 1; i < 10000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return front * h
}

// Chi2Critical is the x with Chi2Survival(x, k) = alpha, by bisection: the
// statistic above which a test at false-alarm rate alpha rejects.
func Chi2Critical(k int, alpha float64) float64 {
	lo, hi := 0.0, 1.0
	for Chi2Survival(hi, k) > alpha {
		hi *= 2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if Chi2Survival(mid, k) > alpha {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
