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

// ReportQuery asks for the branch funnel (GET /pad/report). The server
// checks the syntax; the Reporter fills the defaults, because it knows the
// branch's "today".
type ReportQuery struct {
	// From and To are the first and last day (YYYY-MM-DD in the branch's
	// time zone, China Standard Time), inclusive. An empty To is today; an
	// empty From is Days-1 days before To.
	From, To string
	// Days is how many days up to To the report covers when From is empty
	// (1 to MaxReportDays; 0 means 1, today alone).
	Days int
	// By is "" (the total only) or "day" (a row per day as well).
	By string
	// Format is "json" (the default) or "csv".
	Format string
	// Table picks the CSV: "funnel" (the default: rows and total) or
	// "staff" (the leaderboard).
	Table string
}

// MaxReportDays bounds the days one report covers: a year, which the
// retention (180 days by default) never exceeds anyway.
const MaxReportDays = 366

// ReportAnswer is a report ready to send: the body and its type, and for
// a CSV the file name the browser saves it under.
type ReportAnswer struct {
	ContentType string
	Filename    string
	Body        []byte
}

// Reporter is implemented by a Backend that can answer the branch report
// (the supervisor's screen). The server answers GET /pad/report only for
// the supervisor role, and 404 when the Backend is not a Reporter. Errors
// as for Backend: EInvalid for a query it cannot answer (a range beyond
// MaxReportDays, From after To).
type Reporter interface {
	Report(ctx context.Context, q ReportQuery) (ReportAnswer, error)
}

// SessionTTL is how long a PAD session lasts (DESIGN.md, "PAD login").
const SessionTTL = 12 * time.Hour
