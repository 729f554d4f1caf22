package bolt

import bbolt "go.etcd.io/bbolt"

// FunnelIndex lists the keys of the funnel day index (day + visit id) and
// the ids of the stored facts, for tests that check nothing dangles.
func (db *DB) FunnelIndex() (days, facts []string, err error) {
	err = db.bolt.View(func(btx *bbolt.Tx) error {
		if err := btx.Bucket(bucketFunnelDays).ForEach(func(k, _ []byte) error {
			days = append(days, string(k))
			return nil
		}); err != nil {
			return err
		}
		return btx.Bucket(bucketFunnel).ForEach(func(k, _ []byte) error {
			facts = append(facts, string(k))
			return nil
		})
	})
	return days, facts, err
}
