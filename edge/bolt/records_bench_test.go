package bolt

import (
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/edge"
)

// DecodeCustomer is decodeCustomer, for the benchmark that decodes the
// bytes a Redis GET returns with the cache's own decoder.
func DecodeCustomer(b []byte) (*huiyan.Customer, error) { return decodeCustomer(b) }

// CustomerRecords returns copies of the stored customer records of tokens
// (the bytes CustomerByToken decodes), in one read transaction: what the
// Redis reference benchmark loads, so that both sides serve the same bytes.
func (db *DB) CustomerRecords(tokens []string) ([][]byte, error) {
	out := make([][]byte, 0, len(tokens))
	err := db.bolt.View(func(btx *bbolt.Tx) error {
		g := db.generation(btx)
		if g == nil {
			return fmt.Errorf("no generation: %w", edge.ErrNotFound)
		}
		customers, aliases := btx.Bucket(g.customers), btx.Bucket(g.aliases)
		var key [32]byte
		for _, tok := range tokens {
			if !aliasKey(tok, &key) {
				return fmt.Errorf("token %.8s…: %w", tok, edge.ErrNotFound)
			}
			id := aliases.Get(key[:])
			if id == nil {
				return fmt.Errorf("token %.8s…: %w", tok, edge.ErrNotFound)
			}
			out = append(out, append([]byte(nil), customers.Get(id)...))
		}
		return nil
	})
	return out, err
}
