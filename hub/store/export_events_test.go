package store

import "testing"

// SetPurgeLimit makes purge commands remove at most n of each kind until
// the test ends, so that tests see a purge take several commands.
func SetPurgeLimit(tb testing.TB, n int) {
	old := purgeLimit
	purgeLimit = n
	tb.Cleanup(func() { purgeLimit = old })
}
