package wire

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/tokend/tokend/domain"
)

// Outcome statuses (API.md "Commands").
const (
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
)

// Outcome is what a command did, as published on tokens.outcomes.<commandId>
// and answered by GET /v1/commands/{id}:
// {"commandId","status","tokenId","version","sequence","secret"?,"error"?}.
type Outcome struct {
	CommandID string `json:"commandId"`
	// Status is StatusAccepted or StatusRejected.
	Status string `json:"status"`
	// TokenID is the token the command was about; "" (null on the wire) when
	// the command was refused before its token was known.
	TokenID string `json:"-"`
	// Version is the token's version after the command, and Sequence the
	// stream sequence of its last event (of the command's own event when it
	// emitted one); both 0 for a rejected command, which changed nothing.
	Version  int64  `json:"version"`
	Sequence uint64 `json:"sequence"`
	// Secret is the new token's secret, only in the outcome published for
	// an accepted IssueToken's first run; it is never stored.
	Secret string `json:"secret,omitempty"`
	// Error is why a rejected command was refused, as over HTTP.
	Error *ErrorBody `json:"error,omitempty"`
}

// ErrorBody is an API error: {"code","message"}.
type ErrorBody struct {
	Code    domain.Code `json:"code"`
	Message string      `json:"message"`
}

// Rejected returns the outcome of a refused command. An error without an
// API code is reported as internal, with no detail: the cause is for the
// service's log, not for the client.
func Rejected(commandID, tokenID string, err error) Outcome {
	var de *domain.Error
	if !errors.As(err, &de) || de.Code == domain.CodeInternal {
		de = domain.ErrInternal
	}
	return Outcome{CommandID: commandID, Status: StatusRejected, TokenID: tokenID, Error: &ErrorBody{Code: de.Code, Message: de.Message}}
}

type outcomeJSON struct {
	CommandID string     `json:"commandId"`
	Status    string     `json:"status"`
	TokenID   *string    `json:"tokenId"`
	Version   int64      `json:"version"`
	Sequence  uint64     `json:"sequence"`
	Secret    string     `json:"secret,omitempty"`
	Error     *ErrorBody `json:"error,omitempty"`
}

// MarshalJSON writes the outcome with every field API.md lists, tokenId
// null when unknown: json.Marshal's bytes for outcomeJSON, written without
// reflection (one per command on NATS; TestOutcomeJSONIsEncodingJSONs).
func (o Outcome) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 160+len(o.Secret))
	b = append(b, `{"commandId":`...)
	b = domain.AppendJSONString(b, o.CommandID)
	b = append(b, `,"status":`...)
	b = domain.AppendJSONString(b, o.Status)
	b = append(b, `,"tokenId":`...)
	if o.TokenID != "" {
		b = domain.AppendJSONString(b, o.TokenID)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, o.Version, 10)
	b = append(b, `,"sequence":`...)
	b = strconv.AppendUint(b, o.Sequence, 10)
	if o.Secret != "" {
		b = append(b, `,"secret":`...)
		b = domain.AppendJSONString(b, o.Secret)
	}
	if o.Error != nil {
		b = append(b, `,"error":{"code":`...)
		b = domain.AppendJSONString(b, string(o.Error.Code))
		b = append(b, `,"message":`...)
		b = domain.AppendJSONString(b, o.Error.Message)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads an outcome; a null tokenId is "".
func (o *Outcome) UnmarshalJSON(b []byte) error {
	var w outcomeJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*o = Outcome{CommandID: w.CommandID, Status: w.Status, Version: w.Version, Sequence: w.Sequence, Secret: w.Secret, Error: w.Error}
	if w.TokenID != nil {
		o.TokenID = *w.TokenID
	}
	return nil
}
