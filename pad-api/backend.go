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
	// An unknown staff id and a wrong PIN must be the same EUnauthorized
	// error and take about as long (the server answers both alike and counts
	// both against its rate limits).
	Login(ctx context.Context, staffID, pin string) (Session, error)
	// Logout ends the session of a token; an unknown token is not an error.
	Logout(ctx context.Context, token string) error
	// Session returns the live session of a token: EUnauthorized when it is
	// unknown, expired or its staff member left the roster.
	Session(ctx context.Context, token string) (Session, error)

	// FeedAfter returns up to limit feed events after seq in order, and ok
	// false when events after seq are no longer retained (the PAD then gets
	// the full state instead). Every event of the branch is returned; the
	// server filters them by audience.
	FeedAfter(ctx context.Context, after uint64, limit int) (events []huiyan.FeedEvent, ok bool, err error)
	// State returns the newest seq, every open visit's card and the devices,
	// read in one consistent view: every event up to newest is reflected in
	// the cards, none after it.
	State(ctx context.Context) (newest uint64, cards []huiyan.Card, devices []huiyan.DeviceState, err error)
	// Newest returns the newest seq of the feed (0 for an empty feed). The
	// hello message carries it, and a resume asking for more than it (an
	// edge restored from an older backup) gets the state instead.
	Newest(ctx context.Context) (uint64, error)

	// Claim, Release and Outcome change a visit on behalf of a staff member.
	// The change reaches every PAD as a feed event the edge publishes.
	Claim(ctx context.Context, staffID, visitID string) error
	Release(ctx context.Context, staffID, visitID string) error
	Outcome(ctx context.Context, staffID, visitID string, o huiyan.Outcome) error
}

// SessionTTL is how long a PAD session lasts (DESIGN.md, "PAD login").
const SessionTTL = 12 * time.Hour
