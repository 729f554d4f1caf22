package edge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"huiyan"
	pad "huiyan/pad-api"
)

var _ pad.Backend = (*Node)(nil)

// dummyPINHash is checked when a staff id is unknown, so that a wrong staff
// id takes as long as a wrong PIN and does not reveal which ids exist.
var dummyPINHash, _ = huiyan.HashPIN("000000", []byte("huiyan-dummy-salt"), huiyan.PINIterations)

func errBadLogin() error {
	return huiyan.Errorf(huiyan.EUnauthorized, "工号或密码错误 / wrong staff id or PIN")
}

func errNoSession() error {
	return huiyan.Errorf(huiyan.EUnauthorized, "登录已过期，请重新登录 / session expired, please log in again")
}

// Login checks a staff id and PIN against the roster and opens a session.
func (n *Node) Login(ctx context.Context, staffID, pin string) (pad.Session, error) {
	var st *huiyan.Staff
	err := n.store.View(ctx, func(tx Tx) error {
		var err error
		st, err = tx.Staff(staffID)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		_ = huiyan.VerifyPIN(dummyPINHash, pin)
		return pad.Session{}, errBadLogin()
	case err != nil:
		return pad.Session{}, err
	}
	if err := huiyan.VerifyPIN(st.PINHash, pin); err != nil {
		if !errors.Is(err, huiyan.ErrPINMismatch) {
			n.log.Error("staff pin hash unusable", "staff", staffID, "err", err)
		}
		return pad.Session{}, errBadLogin()
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return pad.Session{}, fmt.Errorf("session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := n.cfg.Clock()
	s := Session{TokenHash: hashToken(token), StaffID: st.ID, Created: now, Expires: now.Add(pad.SessionTTL)}
	if err := n.store.Update(ctx, func(tx Tx) error { return tx.PutSession(s) }); err != nil {
		return pad.Session{}, fmt.Errorf("store session: %w", err)
	}
	n.markShift(st.ID, s.Expires)
	n.log.Info("pad login", "staff", st.ID, "role", st.Role)
	return pad.Session{Token: token, Staff: *st, Branch: n.cfg.Branch, Expires: s.Expires}, nil
}

// Logout ends a session.
func (n *Node) Logout(ctx context.Context, token string) error {
	var staffID string
	err := n.store.Update(ctx, func(tx Tx) error {
		h := hashToken(token)
		s, err := tx.Session(h)
		if errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		staffID = s.StaffID
		return tx.DeleteSession(h)
	})
	if err == nil && staffID != "" {
		n.shiftMu.Lock()
		delete(n.shift, staffID)
		n.shiftMu.Unlock()
		n.log.Info("pad logout", "staff", staffID)
	}
	return err
}

// Session returns the live session of a token; an unknown or expired token,
// or a staff member no longer on the roster, is EUnauthorized.
func (n *Node) Session(ctx context.Context, token string) (pad.Session, error) {
	if token == "" {
		return pad.Session{}, errNoSession()
	}
	var s Session
	var st *huiyan.Staff
	err := n.store.View(ctx, func(tx Tx) error {
		var err error
		if s, err = tx.Session(hashToken(token)); err != nil {
			return err
		}
		st, err = tx.Staff(s.StaffID)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return pad.Session{}, errNoSession()
	case err != nil:
		return pad.Session{}, err
	case !n.cfg.Clock().Before(s.Expires):
		return pad.Session{}, errNoSession()
	}
	n.markShift(st.ID, s.Expires)
	return pad.Session{Token: token, Staff: *st, Branch: n.cfg.Branch, Expires: s.Expires}, nil
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// markShift records that a staff member is logged in: an account manager on
// shift gets "your customer has arrived" first.
func (n *Node) markShift(staffID string, until time.Time) {
	n.shiftMu.Lock()
	defer n.shiftMu.Unlock()
	if until.After(n.shift[staffID]) {
		n.shift[staffID] = until
	}
}

func (n *Node) onShift(staffID string, now time.Time) bool {
	n.shiftMu.Lock()
	defer n.shiftMu.Unlock()
	return now.Before(n.shift[staffID])
}

// FeedAfter returns up to limit feed events after seq, and ok false when the
// events right after seq are no longer retained or seq is from the future
// (an edge restored from an older backup).
func (n *Node) FeedAfter(ctx context.Context, after uint64, limit int) ([]huiyan.FeedEvent, bool, error) {
	var evs []huiyan.FeedEvent
	ok := true
	err := n.store.View(ctx, func(tx Tx) error {
		oldest, newest, err := tx.FeedRange()
		if err != nil {
			return err
		}
		if after > newest || (oldest > 0 && after+1 < oldest) {
			ok = false
			return nil
		}
		evs, err = tx.FeedAfter(after, limit)
		return err
	})
	return evs, ok, err
}

// State returns the newest seq, the card of every open visit with the visit
// as it is now, and the devices.
func (n *Node) State(ctx context.Context) (uint64, []huiyan.Card, []huiyan.DeviceState, error) {
	var newest uint64
	var cards []huiyan.Card
	var devices []huiyan.DeviceState
	err := n.store.View(ctx, func(tx Tx) error {
		var err error
		if _, newest, err = tx.FeedRange(); err != nil {
			return err
		}
		open, err := tx.OpenVisits()
		if err != nil {
			return err
		}
		now := n.cfg.Clock()
		for _, v := range open {
			if !v.Open(now, n.cfg.VisitWindow) {
				continue // about to be closed; its close event follows
			}
			c, err := tx.Card(v.ID)
			if err != nil {
				return fmt.Errorf("card of visit %s: %w", v.ID, err)
			}
			c.Visit = v
			cards = append(cards, *c)
		}
		devices, err = tx.Devices()
		return err
	})
	return newest, cards, devices, err
}

// Newest returns the newest feed seq.
func (n *Node) Newest(ctx context.Context) (uint64, error) {
	var newest uint64
	err := n.store.View(ctx, func(tx Tx) error {
		var err error
		_, newest, err = tx.FeedRange()
		return err
	})
	return newest, err
}

// Claim gives a visit to a staff member. It is exclusive: a visit claimed by
// someone else is EConflict, naming who has it.
func (n *Node) Claim(ctx context.Context, staffID, visitID string) error {
	return n.changeVisit(ctx, staffID, visitID, func(tx Tx, v *huiyan.Visit, now time.Time) (bool, error) {
		switch v.ClaimedBy {
		case staffID:
			return false, nil
		case "":
			v.ClaimedBy, v.ClaimedAt = staffID, now
			return true, nil
		}
		name := v.ClaimedBy
		if st, err := tx.Staff(v.ClaimedBy); err == nil {
			name = st.DisplayName
		}
		return false, huiyan.Errorf(huiyan.EConflict, "已被%s认领 / already claimed by %s", name, name)
	})
}

// Release gives a claimed visit back. Only its claimer or a supervisor may.
func (n *Node) Release(ctx context.Context, staffID, visitID string) error {
	return n.changeVisit(ctx, staffID, visitID, func(tx Tx, v *huiyan.Visit, now time.Time) (bool, error) {
		if v.ClaimedBy == "" {
			return false, nil
		}
		if v.ClaimedBy != staffID && !isSupervisor(tx, staffID) {
			return false, huiyan.Errorf(huiyan.EForbidden, "只有认领人可以释放 / only the staff member who claimed it can release it")
		}
		v.ClaimedBy, v.ClaimedAt = "", time.Time{}
		return true, nil
	})
}

// Outcome records what came of a visit. A visit claimed by someone else
// takes outcomes only from its claimer or a supervisor; an unclaimed one is
// claimed by whoever records the outcome.
func (n *Node) Outcome(ctx context.Context, staffID, visitID string, o huiyan.Outcome) error {
	if !o.Valid() {
		return huiyan.Errorf(huiyan.EInvalid, "unknown outcome %q", o)
	}
	return n.changeVisit(ctx, staffID, visitID, func(tx Tx, v *huiyan.Visit, now time.Time) (bool, error) {
		if v.ClaimedBy != "" && v.ClaimedBy != staffID && !isSupervisor(tx, staffID) {
			return false, huiyan.Errorf(huiyan.EForbidden, "该客户由他人接待 / another staff member is serving this customer")
		}
		if v.ClaimedBy == "" {
			v.ClaimedBy, v.ClaimedAt = staffID, now
		}
		v.Outcome, v.OutcomeBy, v.OutcomeAt = o, staffID, now
		return true, nil
	})
}

func isSupervisor(tx Tx, staffID string) bool {
	st, err := tx.Staff(staffID)
	return err == nil && st.Role == huiyan.RoleSupervisor
}

// changeVisit applies fn to an open visit and, if it changed, commits it with
// a visit feed event and tells the PADs.
func (n *Node) changeVisit(ctx context.Context, staffID, visitID string, fn func(Tx, *huiyan.Visit, time.Time) (bool, error)) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.cfg.Clock()
	var e huiyan.FeedEvent
	err := n.update(ctx, func(tx Tx) error {
		e = huiyan.FeedEvent{}
		v, err := tx.Visit(visitID)
		if errors.Is(err, ErrNotFound) || (err == nil && !v.ClosedAt.IsZero()) {
			return huiyan.Errorf(huiyan.ENotFound, "该到店记录已结束 / this visit is over or unknown")
		} else if err != nil {
			return err
		}
		before := *v // for the outbox
		changed, err := fn(tx, v, now)
		if err != nil || !changed {
			return err
		}
		if err := tx.PutVisit(v, ""); err != nil {
			return err
		}
		card, err := tx.Card(v.ID)
		if err != nil {
			return fmt.Errorf("card of visit %s: %w", v.ID, err)
		}
		e = huiyan.FeedEvent{Kind: huiyan.FeedVisit, At: now, Audience: card.Audience, Visit: v}
		if err := tx.AppendFeed(&e); err != nil {
			return err
		}
		return outboxFor(tx, e.Seq, now, &before, v, "")
	})
	if err != nil {
		return err
	}
	if e.Seq != 0 {
		n.publish([]huiyan.FeedEvent{e})
		n.log.Info("visit changed", "visit", visitID, "staff", staffID, "seq", e.Seq)
	}
	return nil
}
