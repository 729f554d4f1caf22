package bolt_test

import (
	"context"
	"testing"
)

// TestWarmGeneration: the pass after a snapshot swap visits every customer
// and alias of the active generation, across batches, and nothing when it
// is cancelled or its generation is no longer the active one.
func TestWarmGeneration(t *testing.T) {
	const n = 20_000 // three or four tokens each: 70,000 aliases, two batches
	db := MustOpenDB(t)
	mustReplace(t, db, 1, 0, n)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		previous bool
		want     int
	}{
		{"Active", t.Context(), false, n + 3*n + n/2},
		{"Cancelled", cancelled, false, 0},
		{"NotActive", t.Context(), true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.WarmGeneration(tc.ctx, tc.previous)
			if err != nil || got != tc.want {
				t.Errorf("warm = %d keys, %v; want %d", got, err, tc.want)
			}
		})
	}
}
