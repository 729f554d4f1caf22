package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"huiyan/hub/funnel"
)

// Purge defaults (PurgePolicy's zero values).
const (
	// DefaultDedupeWindow is how long an arrival's dedupe mark is kept: far
	// longer than any broker redelivers an unacknowledged message.
	DefaultDedupeWindow = 7 * 24 * time.Hour
	// DefaultFeedKeep is how many of the newest feed events are kept
	// whatever their age. An arrival event with its profile and talk tracks
	// takes about 1 KB, so this is some 20 MB: weeks of a busy branch, where
	// a PAD needs hours at most (an older resume gets the open visits).
	DefaultFeedKeep = 20_000
	// DefaultFeedMinAge is how long a feed event is kept whatever the count,
	// so that a PAD that was off for a day still resumes without a gap.
	DefaultFeedMinAge = 24 * time.Hour
	// DefaultVisitRetention is how long a closed visit and its card are kept.
	DefaultVisitRetention = 180 * 24 * time.Hour
)

// purgeBatch and purgeScan bound one purge transaction: how many keys it
// deletes and how many it looks at, so that arrivals never wait long for
// the write lock.
const (
	purgeBatch = 5_000
	purgeScan  = 20_000
)

// PurgePolicy says what Purge removes. A zero field takes its default.
type PurgePolicy struct {
	// DedupeWindow: dedupe marks older than this are forgotten.
	DedupeWindow time.Duration
	// FeedKeep and FeedMinAge: a feed event is removed only when it is
	// neither among the newest FeedKeep events nor younger than FeedMinAge.
	// The feed is trimmed from its oldest end only, so the retained seqs
	// stay contiguous, and the newest event is always kept.
	FeedKeep   int
	FeedMinAge time.Duration
	// VisitRetention: visits closed longer ago than this are removed with
	// their cards and funnel facts. Open visits are never removed. The
	// funnel facts of visits that opened on a day (CST) that ended longer
	// ago than this are removed too, whole days from the oldest: a report
	// reaches back as far as the retention and no further.
	VisitRetention time.Duration
}

func (p PurgePolicy) withDefaults() PurgePolicy {
	if p.DedupeWindow <= 0 {
		p.DedupeWindow = DefaultDedupeWindow
	}
	if p.FeedKeep <= 0 {
		p.FeedKeep = DefaultFeedKeep
	}
	if p.FeedMinAge <= 0 {
		p.FeedMinAge = DefaultFeedMinAge
	}
	if p.VisitRetention <= 0 {
		p.VisitRetention = DefaultVisitRetention
	}
	return p
}

// PurgeStats counts what a Purge removed.
type PurgeStats struct {
	Dedupe   int // dedupe marks
	Feed     int // feed events
	Sessions int // expired sessions
	Visits   int // closed visits
	Cards    int // cards of those visits
	Funnel   int // funnel facts (of those visits, and of days past the retention)
}

// Purge removes what the policy says has aged out, as of now: dedupe marks,
// feed events, expired sessions, closed visits with their cards, and funnel
// facts. It
// works in many small transactions, so it can run while the branch is busy;
// a cancelled ctx stops it between two of them with what was removed so far
// committed.
func (db *DB) Purge(ctx context.Context, now time.Time, p PurgePolicy) (PurgeStats, error) {
	p = p.withDefaults()
	var st PurgeStats
	var err error

	dedupeBefore := now.Add(-p.DedupeWindow)
	st.Dedupe, err = db.sweep(ctx, bucketDedupe, func(_, v []byte) (bool, bool, error) {
		m, err := decodeDedupe(v)
		if err != nil {
			return false, false, err
		}
		return m.At.Before(dedupeBefore), false, nil
	}, nil)
	if err != nil {
		return st, fmt.Errorf("purge dedupe: %w", err)
	}

	// Seqs only grow, so a keepFrom computed now keeps at least FeedKeep.
	var keepFrom uint64
	if err := db.bolt.View(func(btx *bbolt.Tx) error {
		if newest := btx.Bucket(bucketFeed).Sequence(); newest > uint64(p.FeedKeep) {
			keepFrom = newest - uint64(p.FeedKeep) + 1
		}
		return nil
	}); err != nil {
		return st, fmt.Errorf("purge feed: %w", err)
	}
	feedBefore := now.Add(-p.FeedMinAge)
	if keepFrom > 0 {
		st.Feed, err = db.sweep(ctx, bucketFeed, func(k, v []byte) (bool, bool, error) {
			if len(k) != 8 || binary.BigEndian.Uint64(k) >= keepFrom {
				return false, true, nil
			}
			_, at, err := feedHeader(v)
			if err != nil {
				return false, false, err
			}
			if !at.Before(feedBefore) {
				return false, true, nil // trim from the oldest end only
			}
			return true, false, nil
		}, nil)
		if err != nil {
			return st, fmt.Errorf("purge feed: %w", err)
		}
	}

	st.Sessions, err = db.sweep(ctx, bucketSessions, func(_, v []byte) (bool, bool, error) {
		s, err := decodeSession(v)
		if err != nil {
			return false, false, err
		}
		return !s.Expires.After(now), false, nil
	}, nil)
	if err != nil {
		return st, fmt.Errorf("purge sessions: %w", err)
	}

	visitBefore := now.Add(-p.VisitRetention)
	st.Visits, err = db.sweep(ctx, bucketVisits, func(_, v []byte) (bool, bool, error) {
		vi, _, err := decodeVisit(v)
		if err != nil {
			return false, false, err
		}
		return !vi.ClosedAt.IsZero() && vi.ClosedAt.Before(visitBefore), false, nil
	}, func(btx *bbolt.Tx, id []byte) error {
		cards := btx.Bucket(bucketCards)
		if cards.Get(id) != nil {
			if err := cards.Delete(id); err != nil {
				return err
			}
			btx.OnCommit(func() { st.Cards++ })
		}
		if btx.Bucket(bucketFunnel).Get(id) != nil {
			if err := deleteFunnel(btx, id); err != nil {
				return err
			}
			btx.OnCommit(func() { st.Funnel++ })
		}
		return unindex(btx.Bucket(bucketOpen), id)
	})
	if err != nil {
		return st, fmt.Errorf("purge visits: %w", err)
	}

	// Funnel facts by the day their visit opened: every day before the
	// one visitBefore falls on is past the retention as a whole. The index
	// is in day order, so the sweep stops at the first day it keeps.
	keepDay := []byte(funnel.Day(visitBefore, nil))
	n, err := db.sweep(ctx, bucketFunnelDays, func(k, _ []byte) (bool, bool, error) {
		if len(k) <= dayLen {
			return false, false, fmt.Errorf("funnel day key %q: %w", k, ErrCorrupt)
		}
		if bytes.Compare(k[:dayLen], keepDay) >= 0 {
			return false, true, nil
		}
		return true, false, nil
	}, func(btx *bbolt.Tx, k []byte) error {
		return btx.Bucket(bucketFunnel).Delete(k[dayLen:])
	})
	st.Funnel += n
	if err != nil {
		return st, fmt.Errorf("purge funnel facts: %w", err)
	}
	return st, nil
}

// unindex removes open-index entries that point at the visit id. A closed
// visit should have none; this keeps the index from ever dangling.
func unindex(open *bbolt.Bucket, id []byte) error {
	var subjects [][]byte
	err := open.ForEach(func(k, v []byte) error {
		if bytes.Equal(v, id) {
			subjects = append(subjects, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range subjects {
		if err := open.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// sweep deletes the keys of a bucket that del selects, scanning in key order
// in transactions of at most purgeBatch deletions and purgeScan keys. del
// returns stop to end the scan there. onDelete, if not nil, runs in the same
// transaction for every deleted key. It returns how many keys it deleted.
func (db *DB) sweep(ctx context.Context, bucket []byte,
	del func(k, v []byte) (del, stop bool, err error),
	onDelete func(btx *bbolt.Tx, k []byte) error) (int, error) {
	total := 0
	var from []byte // the first key the next transaction looks at
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		done := false
		var keys [][]byte
		err := db.bolt.Update(func(btx *bbolt.Tx) error {
			keys, done = keys[:0], false
			b := btx.Bucket(bucket)
			c := b.Cursor()
			k, v := c.First()
			if from != nil {
				k, v = c.Seek(from)
			}
			for scanned := 0; ; k, v = c.Next() {
				if k == nil {
					done = true
					break
				}
				if len(keys) == purgeBatch || scanned == purgeScan {
					from = bytes.Clone(k)
					break
				}
				scanned++
				d, stop, err := del(k, v)
				if err != nil {
					return err
				}
				if stop {
					done = true
					break
				}
				if d {
					keys = append(keys, bytes.Clone(k))
				}
			}
			// Delete after the scan: deleting under a cursor moves it.
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
				if onDelete != nil {
					if err := onDelete(btx, k); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(keys)
		if done {
			return total, nil
		}
	}
}
