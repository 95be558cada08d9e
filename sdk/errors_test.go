package sdk

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestErrorsMatchSentinelsByCode(t *testing.T) {
	sentinels := []error{
		ErrInvalidArgument, ErrUnauthenticated, ErrPermissionDenied, ErrNotFound,
		ErrAlreadyAssigned, ErrTokenCanceled, ErrVersionConflict, ErrPayloadTooLarge,
		ErrUnsupportedMediaType, ErrRateLimited, ErrProjectionBehind, ErrUnavailable, ErrInternal,
	}
	tests := []struct {
		name   string
		status int
		code   string
		want   error
	}{
		{"invalid argument", 400, "invalid_argument", ErrInvalidArgument},
		{"unauthenticated", 401, "unauthenticated", ErrUnauthenticated},
		{"permission denied", 403, "permission_denied", ErrPermissionDenied},
		{"not found", 404, "not_found", ErrNotFound},
		{"already assigned", 409, "already_assigned", ErrAlreadyAssigned},
		{"token canceled", 409, "token_canceled", ErrTokenCanceled},
		{"version conflict", 412, "version_conflict", ErrVersionConflict},
		{"payload too large", 413, "payload_too_large", ErrPayloadTooLarge},
		{"unsupported media type", 415, "unsupported_media_type", ErrUnsupportedMediaType},
		{"rate limited", 429, "rate_limited", ErrRateLimited},
		{"projection behind", 503, "projection_behind", ErrProjectionBehind},
		{"unavailable", 503, "unavailable", ErrUnavailable},
		{"internal", 500, "internal", ErrInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("X-Request-Id", "req-1")
				writeError(w, tc.status, tc.code, "the message")
			})
			_, err := f.client(WithRetryPolicy(NoRetries)).GetToken(context.Background(), "tok1")
			for _, s := range sentinels {
				if got, want := errors.Is(err, s), s == tc.want; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", s, got, want)
				}
			}
			var apiErr *Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("errors.As(%v, *Error) = false", err)
			}
			if apiErr.Status != tc.status || apiErr.Code != tc.code || apiErr.Message != "the message" || apiErr.RequestID != "req-1" {
				t.Errorf("error = %+v", apiErr)
			}
			if got, want := err.Error(), tc.code+": the message"; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

// An answer without the API's error body (a proxy's, say) still maps to the
// code its status implies, and to none when the status is ambiguous.
func TestErrorsWithoutAPIBody(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantCode string
		wantMsg  string
	}{
		{"plain 404", 404, "404 page not found\n", CodeNotFound, "404 page not found"},
		{"html 502", 502, "<html><body>Bad gateway</body></html>", "", "Bad Gateway"},
		{"empty 409", 409, "", "", "Conflict"},
		{"json without code", 400, `{"error":{}}`, CodeInvalidArgument, `{"error":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			_, err := f.client(WithRetryPolicy(NoRetries)).Models(context.Background())
			var apiErr *Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if apiErr.Status != tc.status || apiErr.Code != tc.wantCode || apiErr.Message != tc.wantMsg {
				t.Errorf("error = %+v, want status %d code %q message %q", apiErr, tc.status, tc.wantCode, tc.wantMsg)
			}
			if tc.wantCode == "" && errors.Is(err, ErrInternal) {
				t.Error("an unknown failure must not pass for an API code")
			}
		})
	}
}

func TestEmptyIDRefusedBeforeSending(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
	})
	c := f.client()
	ctx := context.Background()
	calls := map[string]error{}
	_, calls["GetToken"] = c.GetToken(ctx, "")
	_, calls["CancelToken"] = c.CancelToken(ctx, " ")
	calls["DeleteToken"] = c.DeleteToken(ctx, "")
	_, calls["Model"] = c.Model(ctx, "")
	calls["RevokeLicense"] = c.RevokeLicense(ctx, "")
	_, calls["TokenAudit"] = c.TokenAudit(ctx, "", PageOptions{})
	for name, err := range calls {
		var apiErr *Error
		if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &apiErr) || apiErr.Status != 0 {
			t.Errorf("%s: err = %v, want a local invalid_argument", name, err)
		}
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Status: 404, Code: "not_found", Message: "token x not found"}, "not_found: token x not found"},
		{ErrNotFound, "not_found"},
		{&Error{Status: 502, Message: "upstream down"}, "HTTP 502: upstream down"},
		{&Error{Status: 504}, "HTTP 504 Gateway Timeout"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	for status, code := range map[int]string{400: CodeInvalidArgument, 401: CodeUnauthenticated, 403: CodePermissionDenied,
		404: CodeNotFound, 409: "", 412: CodeVersionConflict, 413: CodePayloadTooLarge, 415: CodeUnsupportedMediaType,
		429: CodeRateLimited, 500: CodeInternal, 502: "", 503: ""} {
		if got := codeForStatus(status); got != code {
			t.Errorf("codeForStatus(%d) = %q, want %q", status, got, code)
		}
	}
}
