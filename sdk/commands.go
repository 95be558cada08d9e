package sdk

import (
	"context"
	"net/http"
	"net/url"
)

// Status of a CommandOutcome.
const (
	OutcomeAccepted = "accepted"
	OutcomeRejected = "rejected"
)

// CommandOutcome is what a command published on NATS did (API.md
// "Commands"), as the service answers GET /v1/commands/{id}: never with a
// secret. Package natscmd, which publishes commands, returns the same
// outcome with the secret of an accepted IssueToken's first run.
type CommandOutcome struct {
	CommandID string `json:"commandId"`
	// Status is OutcomeAccepted or OutcomeRejected.
	Status string `json:"status"`
	// TokenID is the token the command was about; "" (null on the wire)
	// when the command was refused before its token was known.
	TokenID string `json:"tokenId"`
	// Version is the token's version after the command (what IfMatch
	// takes), Sequence the stream sequence of its last event (what
	// MinSequence takes); both 0 for a rejected command.
	Version  int64  `json:"version"`
	Sequence uint64 `json:"sequence"`
	// Error is why a rejected command was refused.
	Error *OutcomeError `json:"error,omitempty"`
}

// OutcomeError is a rejected command's refusal: an API error code and
// message.
type OutcomeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Err returns nil for an accepted command, else its refusal as an *Error
// (Status 0: the refusal did not come as an HTTP answer), which matches the
// sentinels under errors.Is.
func (o CommandOutcome) Err() error {
	if o.Status == OutcomeAccepted {
		return nil
	}
	e := &Error{Code: CodeInternal, Message: "the command was rejected without a reason"}
	if o.Error != nil {
		e.Code, e.Message = o.Error.Code, o.Error.Message
	}
	return e
}

// CommandOutcome returns the outcome of a command the caller's account
// published on NATS (GET /v1/commands/{id}). The service keeps outcomes 7
// days; another account's command, one it never saw and one it has
// forgotten answer ErrNotFound.
func (c *Client) CommandOutcome(ctx context.Context, id string, opts ...CallOption) (CommandOutcome, error) {
	var o CommandOutcome
	if err := checkID("commandId", id); err != nil {
		return o, err
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/commands/" + url.PathEscape(id)}, opts, &o)
	return o, err
}
