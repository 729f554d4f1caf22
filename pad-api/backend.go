package pad

import (
	"context"
	"time"

	"huiyan"
)

// Session is a logged-in staff member.
type Session struct {
	Token   string // the cookie value; the Backend stores only a hash of it
	Staff   huiyan.Staff
	Branch  string
	Expires time.Time
}

// Backend is what the PAD handlers need from the edge. Errors that staff
// must read are *huiyan.Error: EUnauthorized for a wrong staff id or PIN or
// an unknown/expired session, EConflict for a visit claimed by someone else
// (the message names who), ENotFound for an unknown or closed visit,
// EInvalid for a bad outcome.
type Backend interface {
	// Login checks a staff id and PIN against the roster and opens a session
	// that survives an edge restart and expires after SessionTTL.
	Login(ctx context.Context, staffID, pin string) (Session, error)
	Logout(ctx context.Context, token string) error
	Session(ctx context.Context, token string) (Session, error)

	// FeedAfter returns up to limit feed events after seq in order, and ok
	// false when events after seq are no longer retained (the PAD then gets
	// the full state instead).
	FeedAfter(ctx context.Context, after uint64, limit int) (events []huiyan.FeedEvent, ok bool, err error)
	// State returns the newest seq, every open visit's card and the devices.
	State(ctx context.Context) (newest uint64, cards []huiyan.Card, devices []huiyan.DeviceState, err error)

	// Claim, Release and Outcome change a visit on behalf of a staff member.
	// The change reaches every PAD as a feed event the edge publishes.
	Claim(ctx context.Context, staffID, visitID string) error
	Release(ctx context.Context, staffID, visitID string) error
	Outcome(ctx context.Context, staffID, visitID string, o huiyan.Outcome) error
}

// SessionTTL is how long a PAD session lasts (DESIGN.md, "PAD login").
const SessionTTL = 12 * time.Hour
