package domain

import (
	"errors"
	"fmt"
)

// Code is an error code of the public API (API.md "Errors"). The adapters map
// it to an HTTP status; the domain never knows about HTTP.
type Code string

// The API's error codes.
const (
	CodeInvalidArgument      Code = "invalid_argument"
	CodeUnauthenticated      Code = "unauthenticated"
	CodePermissionDenied     Code = "permission_denied"
	CodeNotFound             Code = "not_found"
	CodeAlreadyAssigned      Code = "already_assigned"
	CodeTokenCanceled        Code = "token_canceled"
	CodeVersionConflict      Code = "version_conflict"
	CodePayloadTooLarge      Code = "payload_too_large"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodeRateLimited          Code = "rate_limited"
	CodeProjectionBehind     Code = "projection_behind"
	// CodeUnavailable is not in API.md's list: the event log could not be
	// reached for a while (a cluster electing a leader). The write did not
	// happen, or happened once (a retry with the same command id is safe).
	// HTTP answers it 503 with Retry-After (docs/api.md).
	CodeUnavailable Code = "unavailable"
	CodeInternal    Code = "internal"
)

// Error is a refusal with an API code. Field names the offending input field
// when there is one. Errors compare equal under errors.Is when their codes
// match, so callers test `errors.Is(err, domain.ErrNotFound)`.
type Error struct {
	Code    Code
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinel errors, one per code, for errors.Is.
var (
	ErrInvalidArgument      = &Error{Code: CodeInvalidArgument, Message: "invalid argument"}
	ErrUnauthenticated      = &Error{Code: CodeUnauthenticated, Message: "a valid license is required"}
	ErrPermissionDenied     = &Error{Code: CodePermissionDenied, Message: "permission denied"}
	ErrNotFound             = &Error{Code: CodeNotFound, Message: "not found"}
	ErrAlreadyAssigned      = &Error{Code: CodeAlreadyAssigned, Message: "the token is already assigned to another model: unassign it first"}
	ErrTokenCanceled        = &Error{Code: CodeTokenCanceled, Message: "the token is canceled and can no longer change"}
	ErrVersionConflict      = &Error{Code: CodeVersionConflict, Message: "the token has changed since the given version"}
	ErrPayloadTooLarge      = &Error{Code: CodePayloadTooLarge, Message: "the request body is larger than 65536 bytes"}
	ErrUnsupportedMediaType = &Error{Code: CodeUnsupportedMediaType, Message: "the request body must be application/json"}
	ErrRateLimited          = &Error{Code: CodeRateLimited, Message: "too many requests"}
	ErrProjectionBehind     = &Error{Code: CodeProjectionBehind, Message: "the read model has not caught up with the requested sequence"}
	ErrUnavailable          = &Error{Code: CodeUnavailable, Message: "the event log is not reachable right now; try again shortly"}
	ErrInternal             = &Error{Code: CodeInternal, Message: "internal error"}
)

// Invalid returns an invalid_argument error for field; the message starts with
// the field's name so that a client can show it next to the input.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// CodeOf returns the API code carried by err, or CodeInternal when err carries
// none. A nil error has no code ("").
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
