package natscmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/sdk"
)

// Subjects of API.md "Commands".
const (
	commandsPrefix = "tokens.commands."
	outcomesPrefix = "tokens.outcomes."
)

// The command types of API.md.
const (
	TypeIssueToken       = "IssueToken"
	TypeRenameToken      = "RenameToken"
	TypeChangeNote       = "ChangeNote"
	TypeChangeExpiration = "ChangeExpiration"
	TypeSuspendToken     = "SuspendToken"
	TypeReactivateToken  = "ReactivateToken"
	TypeCancelToken      = "CancelToken"
	TypeAssignModel      = "AssignModel"
	TypeUnassignModel    = "UnassignModel"
	TypeDeleteToken      = "DeleteToken"
	TypeUpdateToken      = "UpdateToken"
)

// Command is one command to publish. Use the constructors (IssueToken,
// RenameToken, …) or fill it in.
type Command struct {
	// Type is one of the Type constants: the last token of the subject.
	Type string
	// ID is the command id, a UUID. Empty: SendCommand draws one. Send the
	// same ID again to retry a command: it runs once, and a retry gets its
	// first outcome (without the secret of an IssueToken).
	ID string
	// TokenID is the token the command is about; empty for IssueToken,
	// whose token id the service derives from the command id.
	TokenID string
	// ExpectedVersion, when set, makes the command fail with
	// sdk.ErrVersionConflict unless the token is still at that version.
	ExpectedVersion *int64
	// Data is the command's data, the HTTP body of the same meaning; nil is
	// {}.
	Data any
}

// IssueToken issues a token; the outcome's Secret is shown once.
func IssueToken(req sdk.CreateTokenRequest) Command {
	return Command{Type: TypeIssueToken, Data: req}
}

// RenameToken renames a token.
func RenameToken(tokenID, name string) Command {
	return Command{Type: TypeRenameToken, TokenID: tokenID, Data: map[string]string{"name": name}}
}

// ChangeNote sets a token's note; "" clears it.
func ChangeNote(tokenID, note string) Command {
	var v *string
	if note != "" {
		v = &note
	}
	return Command{Type: TypeChangeNote, TokenID: tokenID, Data: map[string]*string{"note": v}}
}

// ChangeExpiration sets a token's expiration date, in Unix seconds.
func ChangeExpiration(tokenID string, expirationDate int64) Command {
	return Command{Type: TypeChangeExpiration, TokenID: tokenID, Data: map[string]int64{"expirationDate": expirationDate}}
}

// SuspendToken suspends an active token.
func SuspendToken(tokenID string) Command { return Command{Type: TypeSuspendToken, TokenID: tokenID} }

// ReactivateToken reactivates a suspended token.
func ReactivateToken(tokenID string) Command {
	return Command{Type: TypeReactivateToken, TokenID: tokenID}
}

// CancelToken cancels a token, for good.
func CancelToken(tokenID string) Command { return Command{Type: TypeCancelToken, TokenID: tokenID} }

// AssignModel assigns an unassigned token to a model of its account.
func AssignModel(tokenID, modelID string) Command {
	return Command{Type: TypeAssignModel, TokenID: tokenID, Data: map[string]string{"modelId": modelID}}
}

// UnassignModel removes a token's model.
func UnassignModel(tokenID string) Command { return Command{Type: TypeUnassignModel, TokenID: tokenID} }

// DeleteToken deletes a token.
func DeleteToken(tokenID string) Command { return Command{Type: TypeDeleteToken, TokenID: tokenID} }

// UpdateToken changes several fields at once, all or nothing, like PATCH.
func UpdateToken(tokenID string, u sdk.UpdateTokenRequest) Command {
	return Command{Type: TypeUpdateToken, TokenID: tokenID, Data: u}
}

// Status of an outcome.
const (
	StatusAccepted = sdk.OutcomeAccepted
	StatusRejected = sdk.OutcomeRejected
)

// Outcome is what a command did (API.md), as published on
// tokens.outcomes.<commandId>: the sdk.CommandOutcome that GET
// /v1/commands/{id} answers later, plus the secret of a new token. Its Err
// method returns the refusal of a rejected command as an *sdk.Error.
type Outcome struct {
	sdk.CommandOutcome
	// Secret is the new token's secret: only for an accepted IssueToken's
	// first run, and only here. A retried IssueToken whose first outcome was
	// lost is accepted without it (the service keeps only its hash).
	Secret string `json:"secret,omitempty"`
}

// Client publishes commands and consumes audit events for one license. It
// is safe for concurrent use.
type Client struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	license string
}

// New returns a Client on a NATS connection (which the caller closes) that
// authenticates its commands with license, the provider's "lic_…" key.
// SubscribeAudit needs no license: NATS permissions, not the service, guard
// the event stream.
func New(nc *nats.Conn, license string) (*Client, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return &Client{nc: nc, js: js, license: license}, nil
}

type envelope struct {
	CommandID       string `json:"commandId"`
	TokenID         string `json:"tokenId,omitempty"`
	ExpectedVersion *int64 `json:"expectedVersion,omitempty"`
	Data            any    `json:"data"`
}

// SendCommand publishes cmd and waits, until ctx ends, for its outcome. It
// subscribes to tokens.outcomes.<commandId> before it publishes, so the
// outcome cannot slip by, and publishes with Nats-Msg-Id = the command id
// and the license as Authorization. A command published while the service
// is down waits in the stream and is answered when the service is back, so
// give ctx the deadline you can afford.
//
// It returns the outcome, and for a rejected command also its refusal as an
// *sdk.Error (errors.Is(err, sdk.ErrNotFound) and so on). Other errors are
// NATS's, or ctx's.
//
// JetStream drops a second publish of the same Nats-Msg-Id within its
// duplicate window (two minutes): a retry with the same ID would then wait
// for an outcome that was published before it subscribed. So when the
// publish is acknowledged as a duplicate, SendCommand publishes the command
// once more under a retry message id; the service recognises the command
// id and answers with its first outcome.
func (c *Client) SendCommand(ctx context.Context, cmd Command) (Outcome, error) {
	if cmd.Type == "" {
		return Outcome{}, errors.New("natscmd: a command needs a Type")
	}
	if cmd.ID == "" {
		cmd.ID = uuid.NewString()
	} else if u, err := uuid.Parse(cmd.ID); err != nil || len(cmd.ID) != 36 {
		return Outcome{}, fmt.Errorf("natscmd: command id %q is not a UUID", cmd.ID)
	} else {
		cmd.ID = u.String()
	}
	data := cmd.Data
	if data == nil {
		data = struct{}{}
	}
	body, err := json.Marshal(envelope{CommandID: cmd.ID, TokenID: cmd.TokenID, ExpectedVersion: cmd.ExpectedVersion, Data: data})
	if err != nil {
		return Outcome{}, fmt.Errorf("natscmd: %s data: %w", cmd.Type, err)
	}

	outcomes := make(chan *nats.Msg, 4)
	sub, err := c.nc.ChanSubscribe(outcomesPrefix+cmd.ID, outcomes)
	if err != nil {
		return Outcome{}, err
	}
	defer sub.Unsubscribe()
	// The subscription must reach the server before the command can be
	// answered; on one connection, everything sent later comes after it.
	msg := &nats.Msg{Subject: commandsPrefix + cmd.Type, Data: body, Header: nats.Header{}}
	msg.Header.Set(nats.MsgIdHdr, cmd.ID)
	if c.license != "" {
		msg.Header.Set("Authorization", "Bearer "+c.license)
	}
	ack, err := c.publish(ctx, msg)
	if err != nil {
		return Outcome{}, err
	}
	if ack.Duplicate {
		msg.Header.Set(nats.MsgIdHdr, cmd.ID+".retry."+uuid.NewString())
		if _, err := c.publish(ctx, msg); err != nil {
			return Outcome{}, err
		}
	}
	o, err := awaitOutcome(ctx, outcomes, cmd)
	if err == nil && ack.Duplicate && cmd.Type == TypeIssueToken && o.Status == StatusAccepted && o.Secret == "" {
		// Two copies ran; the one that issued the token (with its secret)
		// may answer a moment after the one that found it issued.
		wait, cancel := context.WithTimeout(ctx, time.Second)
		if first, err := awaitOutcome(wait, outcomes, cmd); err == nil && first.Secret != "" {
			o = first
		}
		cancel()
	}
	if err != nil {
		return Outcome{}, err
	}
	return o, o.Err()
}

// awaitOutcome returns the next outcome on the subscription.
func awaitOutcome(ctx context.Context, outcomes <-chan *nats.Msg, cmd Command) (Outcome, error) {
	select {
	case m := <-outcomes:
		var o Outcome
		if err := json.Unmarshal(m.Data, &o); err != nil {
			return Outcome{}, fmt.Errorf("natscmd: outcome of %s: %w", cmd.ID, err)
		}
		return o, nil
	case <-ctx.Done():
		return Outcome{}, fmt.Errorf("natscmd: no outcome for %s %s: %w", cmd.Type, cmd.ID, ctx.Err())
	}
}

// publish publishes to JetStream, retrying while no stream answers (a
// server restarting), with the same message id so that JetStream drops a
// copy that did land.
func (c *Client) publish(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		ack, err := c.js.PublishMsg(ctx, m)
		if err == nil {
			return ack, nil
		}
		if !errors.Is(err, jetstream.ErrNoStreamResponse) && !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("natscmd: publish %s: %w", m.Subject, err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, fmt.Errorf("natscmd: publish %s: %w (%v)", m.Subject, ctx.Err(), err)
		}
	}
}
