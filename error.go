package huiyan

import (
	"errors"
	"fmt"
)

// Generic error codes. Adapters map them once per transport: to an HTTP
// status, to a PAD "error" message, to an MQTT reject. Packages that own a
// wire contract (firmware, pad, hub) add their own, more specific codes; a
// code is a stable, lower-case machine string that clients may branch on.
const (
	EConflict     = "conflict"     // the state does not allow it (visit already claimed)
	EInternal     = "internal"     // a fault of ours; the message is generic
	EInvalid      = "invalid"      // the input is malformed
	ENotFound     = "not_found"    // the thing does not exist
	EUnauthorized = "unauthorized" // no or wrong credential
	EForbidden    = "forbidden"    // a valid credential asking for what it may not have
	ETooLarge     = "too_large"    // the input is over its size limit
	EUnavailable  = "unavailable"  // a dependency is down; try again later
)

// Error is an error a person must read: a stable machine Code and a Message
// written for the operator, firmware developer or staff member who sees it.
// The Message never contains customer data.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("huiyan error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EInternal
	}
}

// ErrorMessage returns the message of the first *Error in err's chain, and a
// generic sentence for any other non-nil error so that internal details never
// reach a device or a tablet.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}
