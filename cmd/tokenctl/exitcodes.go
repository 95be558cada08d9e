package main

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/tokend/tokend/sdk"
)

// Exit codes of tokenctl. Scripts branch on them, so they are part of its
// interface: never renumber one.
const (
	exitOK          = 0
	exitFailure     = 1 // anything else: internal errors, unexpected answers
	exitUsage       = 2 // bad command line: unknown command or flag, wrong arguments, bad values, no license
	exitNotFound    = 3 // not_found
	exitConflict    = 4 // already_assigned, token_canceled, version_conflict
	exitInvalid     = 5 // the service refused the input: invalid_argument, payload_too_large, unsupported_media_type
	exitAuth        = 6 // unauthenticated, permission_denied
	exitUnavailable = 7 // rate_limited, projection_behind, another 503, or the service could not be reached
	exitInterrupted = 130
)

// usageError is a mistake on the command line, found before calling the
// service.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(msg string) error { return &usageError{msg: msg} }

// runError marks an error returned by a command's action, as opposed to
// cobra's own parsing and validation errors, which are all usage errors.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// exitCode maps an error to tokenctl's exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var re *runError
	if !errors.As(err, &re) {
		return exitUsage // cobra's: unknown command, flag or argument count
	}
	if errors.Is(err, context.Canceled) {
		return exitInterrupted
	}
	var apiErr *sdk.Error
	if errors.As(err, &apiErr) {
		switch apiErr.Code {
		case sdk.CodeNotFound:
			return exitNotFound
		case sdk.CodeAlreadyAssigned, sdk.CodeTokenCanceled, sdk.CodeVersionConflict:
			return exitConflict
		case sdk.CodeInvalidArgument, sdk.CodePayloadTooLarge, sdk.CodeUnsupportedMediaType:
			return exitInvalid
		case sdk.CodeUnauthenticated, sdk.CodePermissionDenied:
			return exitAuth
		case sdk.CodeRateLimited, sdk.CodeProjectionBehind:
			return exitUnavailable
		}
		if apiErr.Status == http.StatusServiceUnavailable || apiErr.Status == http.StatusBadGateway || apiErr.Status == http.StatusGatewayTimeout {
			return exitUnavailable
		}
		return exitFailure
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return exitUnavailable
	}
	return exitFailure
}
