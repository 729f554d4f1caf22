package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
)

// TestUpdate_ValuesSurviveArenaReuse: the keys and values a write
// transaction puts are encoded into arena chunks that later transactions
// reuse (bolt.tx.room). What a transaction committed must read back
// unchanged after hundreds of later ones, rolled-back ones must leave
// nothing, and values larger than a chunk, or many in one transaction,
// must come back whole.
func TestUpdate_ValuesSurviveArenaReuse(t *testing.T) {
	db := MustOpenDB(t)
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, cst)
	errRollback := errors.New("roll back")
	visit := func(i int) *huiyan.Visit {
		return &huiyan.Visit{ID: fmt.Sprintf("v-%04d", i), Branch: "310101", CustomerID: fmt.Sprintf("C%010d", i),
			OpenedAt: at, LastSeenAt: at.Add(time.Duration(i) * time.Second), Channel: huiyan.ChannelCounter,
			Touchpoints: []huiyan.Touchpoint{{EventID: fmt.Sprintf("e%d", i), Channel: huiyan.ChannelCounter, Device: "sc-01", At: at}}}
	}
	card := func(i int) *huiyan.Card {
		// Every fifth script is larger than an arena chunk (8 KB).
		script := strings.Repeat(fmt.Sprintf("第%d号话术。", i), 1+(i%5/4)*1200)
		return &huiyan.Card{Visit: visit(i), Actions: []huiyan.Action{{Code: "guide_ecode_scan", Script: script, Role: huiyan.RoleLobby}},
			Audience: huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby}}}
	}
	rolledBack := func(i int) bool { return i%7 == 3 }
	seqs := map[int]uint64{}
	const n = 300
	for i := range n {
		var seq uint64
		err := db.Update(context.Background(), func(tx edge.Tx) error {
			if err := tx.PutVisit(visit(i), fmt.Sprintf("C%010d", i)); err != nil {
				return err
			}
			if err := tx.PutCard(card(i)); err != nil {
				return err
			}
			e := &huiyan.FeedEvent{Kind: huiyan.FeedArrival, At: at, Visit: visit(i), Actions: card(i).Actions}
			if err := tx.AppendFeed(e); err != nil {
				return err
			}
			seq = e.Seq
			if err := tx.MarkEventSeen("sc-01", fmt.Sprintf("e%d", i), visit(i).ID, at); err != nil {
				return err
			}
			if rolledBack(i) {
				return errRollback
			}
			return nil
		})
		switch {
		case rolledBack(i) && !errors.Is(err, errRollback):
			t.Fatalf("update %d: err=%v, want the rollback", i, err)
		case !rolledBack(i) && err != nil:
			t.Fatalf("update %d: %v", i, err)
		case !rolledBack(i):
			seqs[i] = seq
		}
	}
	mustView(t, db, func(tx edge.Tx) error {
		for i := range n {
			v, verr := tx.Visit(visit(i).ID)
			c, cerr := tx.Card(visit(i).ID)
			id, eerr := tx.EventSeen("sc-01", fmt.Sprintf("e%d", i))
			if rolledBack(i) {
				if !errors.Is(verr, edge.ErrNotFound) || !errors.Is(cerr, edge.ErrNotFound) || !errors.Is(eerr, edge.ErrNotFound) {
					t.Errorf("rolled-back update %d left data: %v, %v, %v", i, verr, cerr, eerr)
				}
				continue
			}
			if verr != nil || cerr != nil || eerr != nil {
				return fmt.Errorf("update %d: %v, %v, %v", i, verr, cerr, eerr)
			}
			if !equal(v, visit(i)) || !equal(c, card(i)) || id != visit(i).ID {
				t.Errorf("update %d reads back changed: visit %v, card %v, dedupe %q", i, !equal(v, visit(i)), !equal(c, card(i)), id)
			}
			ev, err := tx.FeedAfter(seqs[i]-1, 1)
			if err != nil {
				return err
			}
			if len(ev) != 1 || !equal(ev[0].Visit, visit(i)) || !equal(ev[0].Actions, card(i).Actions) {
				t.Errorf("update %d: feed event %d reads back changed", i, seqs[i])
			}
		}
		return nil
	})
}
