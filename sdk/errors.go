package sdk

import (
	"fmt"
	"net/http"
)

// Error codes of the API (API.md "Errors"). Error.Code holds one of them for
// every answer the service gives; an answer that does not carry the API's
// error body (a proxy's 502, say) gets the code its status implies, or none.
const (
	CodeInvalidArgument      = "invalid_argument"
	CodeUnauthenticated      = "unauthenticated"
	CodePermissionDenied     = "permission_denied"
	CodeNotFound             = "not_found"
	CodeAlreadyAssigned      = "already_assigned"
	CodeTokenCanceled        = "token_canceled"
	CodeVersionConflict      = "version_conflict"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeRateLimited          = "rate_limited"
	CodeProjectionBehind     = "projection_behind"
	CodeUnavailable          = "unavailable" // docs/api.md: the event log could not be reached; the write did not happen, or happened once
	CodeInternal             = "internal"
)

// Error is a refusal answered by the service: the HTTP status and the API's
// error code and message. Errors match under errors.Is when their codes are
// equal, so callers write
//
//	if errors.Is(err, sdk.ErrNotFound) { … }
//
// and use errors.As to reach the status, message or request id.
type Error struct {
	// Status is the HTTP status of the answer; 0 when the SDK refused the
	// call itself before sending it.
	Status int
	// Code is the API's error code (one of the Code constants), or "" when
	// the answer carried none and its status implies none.
	Code string
	// Message is the service's explanation, meant for people.
	Message string
	// RequestID is the X-Request-Id of the answer when the service sent one:
	// quote it when reporting a problem.
	RequestID string
}

// Error formats the error as "code: message", the form tokenctl prints.
func (e *Error) Error() string {
	switch {
	case e.Code != "" && e.Message != "":
		return e.Code + ": " + e.Message
	case e.Code != "":
		return e.Code
	case e.Message != "":
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	default:
		return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
}

// Is reports whether target is an *Error with the same, non-empty code. It is
// what makes the sentinel errors below match any answer with their code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code != "" && t.Code == e.Code
}

// Sentinel errors, one per API code, for errors.Is. They are compared by code
// only: the status and message of the answer do not matter.
var (
	ErrInvalidArgument      = &Error{Status: http.StatusBadRequest, Code: CodeInvalidArgument}
	ErrUnauthenticated      = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated}
	ErrPermissionDenied     = &Error{Status: http.StatusForbidden, Code: CodePermissionDenied}
	ErrNotFound             = &Error{Status: http.StatusNotFound, Code: CodeNotFound}
	ErrAlreadyAssigned      = &Error{Status: http.StatusConflict, Code: CodeAlreadyAssigned}
	ErrTokenCanceled        = &Error{Status: http.StatusConflict, Code: CodeTokenCanceled}
	ErrVersionConflict      = &Error{Status: http.StatusPreconditionFailed, Code: CodeVersionConflict}
	ErrPayloadTooLarge      = &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge}
	ErrUnsupportedMediaType = &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType}
	ErrRateLimited          = &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited}
	ErrProjectionBehind     = &Error{Status: http.StatusServiceUnavailable, Code: CodeProjectionBehind}
	ErrUnavailable          = &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable}
	ErrInternal             = &Error{Status: http.StatusInternalServerError, Code: CodeInternal}
)

// codeForStatus is the code an answer without the API's error body gets: only
// statuses that mean one code unambiguously have one. 409 (two codes) and
// 503 (the service's projection_behind, or any proxy's outage) have none.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeInvalidArgument
	case http.StatusUnauthorized:
		return CodeUnauthenticated
	case http.StatusForbidden:
		return CodePermissionDenied
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusPreconditionFailed:
		return CodeVersionConflict
	case http.StatusRequestEntityTooLarge:
		return CodePayloadTooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedMediaType
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusInternalServerError:
		return CodeInternal
	}
	return ""
}
