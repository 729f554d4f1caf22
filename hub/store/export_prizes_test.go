package store

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// PrizeVersions returns the versions whose prize tables the state keeps,
// in order: to see that collection drops the ones no retained version
// uses.
func PrizeVersions(s *Store) ([]uint64, error) {
	var out []uint64
	err := s.fsm.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bPrizes).ForEach(func(k, _ []byte) error {
			if len(k) == 8 {
				out = append(out, binary.BigEndian.Uint64(k))
			}
			return nil
		})
	})
	return out, err
}
