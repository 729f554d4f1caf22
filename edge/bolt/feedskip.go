package bolt

import "fmt"

// SkipFeed makes every later AppendFeed assign a seq greater than through
// (the feed bucket's sequence is what AppendFeed takes the next seq from).
func (t *tx) SkipFeed(through uint64) error {
	b := t.bucket(bucketFeed)
	if b.Sequence() >= through {
		return nil
	}
	if err := b.SetSequence(through); err != nil {
		return fmt.Errorf("skip feed to %d: %w", through, err)
	}
	return nil
}
