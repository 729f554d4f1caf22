package hub

import (
	"errors"
	"fmt"
)

// Refusals of a manifest or a chunk (DESIGN.md, "Hub contract", snapshot
// integrity). Callers branch on them with errors.Is; the error returned
// wraps one of them with lowercase context. None of them carries customer
// data, so they may be logged as they are.
var (
	// ErrMalformed is an envelope, manifest, chunk or record that cannot
	// be parsed or breaks the contract's rules. For a manifest it is only
	// returned after a valid signature (or when the envelope itself is
	// unreadable): a signed but malformed manifest is a hub bug, not an
	// attack.
	ErrMalformed = errors.New("malformed")

	// ErrBadSignature is an envelope with no valid signature by a pinned
	// key: no signature at all, or every signature by a pinned key id
	// fails to verify (a forged or altered payload).
	ErrBadSignature = errors.New("no valid signature by a pinned key")

	// ErrUnknownKey is an envelope whose signatures are all by key ids
	// that are not pinned: the hub signs with a key this edge does not
	// know (a rotation it was not told about, or a forgery). It wraps
	// ErrBadSignature, so errors.Is(err, ErrBadSignature) holds for it
	// too; check ErrUnknownKey first to tell the two apart.
	ErrUnknownKey = fmt.Errorf("signed by an unknown key: %w", ErrBadSignature)

	// ErrWrongBranch is a manifest for another branch.
	ErrWrongBranch = errors.New("manifest is for another branch")

	// ErrRollback is a manifest whose version is lower than the version
	// the edge holds.
	ErrRollback = errors.New("manifest version is lower than the version held (rollback)")

	// ErrNotNewer means there is nothing to do: the hub has nothing newer
	// (it answered 204 or 304), or a valid manifest has exactly the
	// version the edge holds. It is not an attack and needs no alarm;
	// the sync loop treats both the same way.
	ErrNotNewer = errors.New("no newer version")

	// ErrExpired is a manifest past its expires_at: an old manifest
	// replayed to keep the edge on stale data (a freeze attack), or a
	// hub whose clock or signing is broken.
	ErrExpired = errors.New("manifest expired (freeze)")

	// ErrBaseMismatch is a delta manifest whose base_version is not the
	// version the edge holds: applying it would mix two data sets.
	ErrBaseMismatch = errors.New("delta base version is not the version held")

	// ErrChunkHash is a chunk whose SHA-256 is not the one the manifest
	// names.
	ErrChunkHash = errors.New("chunk hash mismatch")

	// ErrChunkSize is a chunk whose length is not the one the manifest
	// names, including a download that goes on past it.
	ErrChunkSize = errors.New("chunk size mismatch")
)

// Errors of the hub's HTTP API as the Client reports them (DESIGN.md, "Hub
// contract": a missing or unknown credential is 401, a valid credential
// asking for another branch is 403, an unknown chunk is 404). The Client
// returns them inside a *StatusError.
var (
	ErrUnauthorized = errors.New("unauthorized: missing or unknown credential")
	ErrForbidden    = errors.New("forbidden: the credential may not read this branch")
	ErrNotFound     = errors.New("not found")
	// ErrUnavailable is 429, 502, 503 or 504: try again later.
	ErrUnavailable = errors.New("hub unavailable")
)

// Reason returns a short, stable label for an error of this package, for
// metric labels (huiyan_edge_sync_refused_total{reason}) and reports:
// "bad_signature", "unknown_key", "wrong_branch", "rollback", "not_newer",
// "expired", "base_mismatch", "malformed", "chunk_hash", "chunk_size",
// "unauthorized", "forbidden", "not_found", "unavailable"; "" for nil and
// "other" for anything else (a network error, a cancelled context).
func Reason(err error) string {
	if err == nil {
		return ""
	}
	// ErrUnknownKey before ErrBadSignature: it wraps it.
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return "other"
}

var reasons = []struct {
	err   error
	label string
}{
	{ErrUnknownKey, "unknown_key"},
	{ErrBadSignature, "bad_signature"},
	{ErrWrongBranch, "wrong_branch"},
	{ErrRollback, "rollback"},
	{ErrNotNewer, "not_newer"},
	{ErrExpired, "expired"},
	{ErrBaseMismatch, "base_mismatch"},
	{ErrChunkHash, "chunk_hash"},
	{ErrChunkSize, "chunk_size"},
	{ErrMalformed, "malformed"},
	{ErrUnauthorized, "unauthorized"},
	{ErrForbidden, "forbidden"},
	{ErrNotFound, "not_found"},
	{ErrUnavailable, "unavailable"},
}

// ErrorResponse is the JSON body of every non-2xx answer of the hub's /v1
// API: a stable machine code (a huiyan.E* code or a more specific one) and
// a message for the operator that never contains customer data or a
// secret. The Client reads it into a *StatusError.
type ErrorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// StatusError is a non-2xx answer of the hub. It unwraps to ErrUnauthorized
// (401), ErrForbidden (403), ErrNotFound (404) or ErrUnavailable (429, 502,
// 503, 504), and to nothing for other statuses.
type StatusError struct {
	Method     string
	Path       string // the request path, without query
	StatusCode int
	Code       string // from the ErrorResponse body, if any
	Message    string // from the ErrorResponse body, if any; cut to 200 bytes
}

// Error implements the error interface:
// "GET /v1/branches/B1/manifest: 403 forbidden: the credential …".
func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s %s: %d", e.Method, e.Path, e.StatusCode)
	if err := e.Unwrap(); err != nil {
		s += " " + err.Error()
	}
	if e.Code != "" {
		s += " (" + e.Code
		if e.Message != "" {
			s += ": " + e.Message
		}
		s += ")"
	}
	return s
}

// Unwrap returns the sentinel for the status, or nil.
func (e *StatusError) Unwrap() error {
	switch e.StatusCode {
	case 401:
		return ErrUnauthorized
	case 403:
		return ErrForbidden
	case 404:
		return ErrNotFound
	case 429, 502, 503, 504:
		return ErrUnavailable
	}
	return nil
}
