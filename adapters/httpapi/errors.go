package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/tokend/tokend/domain"
)

// codeMethodNotAllowed is the code of a 405 answer. API.md lists no code for
// a wrong method (it names the routes, not what happens off them), so the
// answer carries this one; docs/api.md says so.
const codeMethodNotAllowed domain.Code = "method_not_allowed"

// statusOf maps an API error code to its HTTP status (API.md "Errors").
// Unknown codes are internal errors: a code the table does not know was
// never promised to a client.
func statusOf(c domain.Code) int {
	switch c {
	case domain.CodeInvalidArgument:
		return http.StatusBadRequest
	case domain.CodeUnauthenticated:
		return http.StatusUnauthorized
	case domain.CodePermissionDenied:
		return http.StatusForbidden
	case domain.CodeNotFound:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case domain.CodeAlreadyAssigned, domain.CodeTokenCanceled:
		return http.StatusConflict
	case domain.CodeVersionConflict:
		return http.StatusPreconditionFailed
	case domain.CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case domain.CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case domain.CodeRateLimited:
		return http.StatusTooManyRequests
	case domain.CodeProjectionBehind, domain.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    domain.Code `json:"code"`
	Message string      `json:"message"`
}

// retryAfterError is a refusal that tells the client when to come back: the
// 429 of the rate limiters and the 503 of a read model that is behind.
type retryAfterError struct {
	err     *domain.Error
	seconds int
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// withRetryAfter attaches a Retry-After of at least one second to err.
func withRetryAfter(err *domain.Error, seconds int) error {
	return &retryAfterError{err: err, seconds: max(seconds, 1)}
}

// writeError answers err as API.md's error object. An error without an API
// code is a 500 whose message says nothing of the cause: the cause goes to
// the log only, under the request's id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var de *domain.Error
	if !errors.As(err, &de) {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			// The client went away; nobody reads the answer. Say so in the log
			// without calling it an internal error.
			s.log.LogAttrs(r.Context(), slog.LevelDebug, "client gone", slog.String("requestId", requestIDOf(r)))
		} else {
			s.log.LogAttrs(r.Context(), slog.LevelError, "internal error",
				slog.String("requestId", requestIDOf(r)),
				slog.String("route", r.Pattern),
				slog.String("error", err.Error()))
		}
		de = domain.ErrInternal
	}
	status := statusOf(de.Code)
	if status == http.StatusInternalServerError {
		de = domain.ErrInternal // never an internal message to the client
	}
	var ra *retryAfterError
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.Itoa(ra.seconds))
	} else if de.Code == domain.CodeUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusUnauthorized {
		// RFC 6750 section 3: a 401 names the scheme it wants.
		w.Header().Set("WWW-Authenticate", `Bearer realm="tokend"`)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: de.Code, Message: de.Message}})
}
