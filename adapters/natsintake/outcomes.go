package natsintake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// OutcomesBucket is the JetStream key-value bucket where the intake
// remembers every outcome it published, by command id.
const OutcomesBucket = "TOKEN_OUTCOMES"

// OutcomesTTL is how long an outcome is remembered: as long as
// TOKEN_COMMANDS keeps the command itself, so that any copy of a command the
// stream can still deliver (a redelivery, a replay, a republish) finds its
// first outcome.
const OutcomesTTL = natsjs.CommandsMaxAge

// Two memories answer for a command. A command that emitted an event is
// remembered by the log itself: its event carries its id, the command
// service recognises a repeat from the read model or the log
// (commands.Service.Execute), and the read model's index of command ids
// answers GET /v1/commands/{id} (Log). A command that was refused, or
// changed nothing, emits no event, yet a repeat must still get that first
// outcome, not a new decision on a state that has moved on: those go to a
// JetStream key-value bucket. The bucket lives with the commands (same
// cluster, same replication, same 7 days), survives the loss of the read
// model (which is rebuilt from events, which do not carry refusals), and is
// shared by every tokend replica. It never holds a secret. Keeping the
// accepted commands out of it spares every one of them a write to the
// bucket: that write cost as much as the event's own append.

// Log is the memory of the commands that emitted events: the read model's
// index of command ids, and how far the log goes, so that an outcome
// published a moment ago is found although the read model may be a little
// behind the log. A zero Log leaves only the bucket.
type Log struct {
	// ReadModel is the Badger read model (*projections.Store).
	ReadModel AppliedCommands
	// LastSequence is the log's last sequence now
	// (natsjs.EventStore.LastSequence).
	LastSequence func(ctx context.Context) (uint64, error)
	// Wait bounds the wait for the read model to reach it. Zero: 5 s.
	Wait time.Duration
}

// AppliedCommands is what Log reads of the read model.
type AppliedCommands interface {
	CommandOutcome(commandID uuid.UUID) (projections.Outcome, bool, error)
	WaitFor(ctx context.Context, seq uint64, timeout time.Duration) error
}

// remembered is an outcome as kept in the bucket: the outcome without its
// secret, with the account it belongs to (GET /v1/commands/{id} answers only
// that account) and what and when it was.
type remembered struct {
	Outcome   wire.Outcome       `json:"outcome"`
	AccountID string             `json:"accountId"`
	Type      domain.CommandType `json:"type"`
	At        time.Time          `json:"at"`
}

// Outcomes remembers the outcomes of commands. It is safe for concurrent use.
type Outcomes struct {
	kv  jetstream.KeyValue
	log Log
}

// OpenOutcomes creates or updates the bucket (idempotently, like the
// streams) with the given number of replicas and returns the store, which
// reads the outcomes of commands that emitted events from log.
func OpenOutcomes(ctx context.Context, js jetstream.JetStream, replicas int, log Log) (*Outcomes, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      OutcomesBucket,
		Description: "tokend: the outcome of every NATS command that emitted no event (refused or no change), by command id, without secrets",
		History:     1,
		TTL:         OutcomesTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("outcomes bucket %s: %w", OutcomesBucket, err)
	}
	if log.Wait <= 0 {
		log.Wait = 5 * time.Second
	}
	return &Outcomes{kv: kv, log: log}, nil
}

// put remembers an outcome, dropping its secret.
func (o *Outcomes) put(ctx context.Context, r remembered) error {
	r.Outcome.Secret = ""
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := o.kv.Put(ctx, r.Outcome.CommandID, b); err != nil {
		return fmt.Errorf("remember the outcome of %s: %w", r.Outcome.CommandID, err)
	}
	return nil
}

// get returns the remembered outcome of a command, and whether there is one.
func (o *Outcomes) get(ctx context.Context, id uuid.UUID) (remembered, bool, error) {
	e, err := o.kv.Get(ctx, id.String())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return remembered{}, false, nil
	}
	if err != nil {
		return remembered{}, false, fmt.Errorf("look up the outcome of %s: %w", id, err)
	}
	r, err := decodeRemembered(id, e.Value())
	return r, err == nil, err
}

// decodeRemembered reads a bucket value of command id.
func decodeRemembered(id uuid.UUID, value []byte) (remembered, error) {
	var r remembered
	if err := json.Unmarshal(value, &r); err != nil {
		return remembered{}, fmt.Errorf("outcome of %s: %w", id, err)
	}
	return r, nil
}

// CommandOutcome returns the outcome of a command of accountID, for GET
// /v1/commands/{id}: from the bucket, else from the log (a command that
// emitted an event). Another account's command is not found, exactly like
// a command that never ran or a refusal that was forgotten (after
// OutcomesTTL).
func (o *Outcomes) CommandOutcome(ctx context.Context, accountID string, id uuid.UUID) (wire.Outcome, bool, error) {
	r, found, err := o.get(ctx, id)
	if natsjs.IsUnavailable(err) {
		return wire.Outcome{}, false, fmt.Errorf("%w (%v)", domain.ErrUnavailable, err)
	}
	if err != nil {
		return wire.Outcome{}, false, err
	}
	if found {
		if r.AccountID != accountID {
			return wire.Outcome{}, false, nil
		}
		return r.Outcome, true, nil
	}
	return o.logged(ctx, accountID, id)
}

// logged returns the outcome of a command that emitted an event, as the
// read model recorded it.
func (o *Outcomes) logged(ctx context.Context, accountID string, id uuid.UUID) (wire.Outcome, bool, error) {
	rm := o.log.ReadModel
	if rm == nil {
		return wire.Outcome{}, false, nil
	}
	a, found, err := rm.CommandOutcome(id)
	if err == nil && !found && o.log.LastSequence != nil {
		// The outcome is published once the event is in the log, and the
		// read model may not have applied it yet: catch up with what the
		// log holds now, then look again.
		var last uint64
		if last, err = o.log.LastSequence(ctx); err == nil {
			if err = rm.WaitFor(ctx, last, o.log.Wait); err == nil {
				a, found, err = rm.CommandOutcome(id)
			}
		}
	}
	if natsjs.IsUnavailable(err) {
		return wire.Outcome{}, false, fmt.Errorf("%w (%v)", domain.ErrUnavailable, err)
	}
	if err != nil {
		return wire.Outcome{}, false, fmt.Errorf("the outcome of %s in the read model: %w", id, err)
	}
	// Only commands on tokens come through NATS; an account's own commands
	// (its licenses and models) have no outcome to ask for.
	if !found || a.AccountID != accountID || a.TokenID == "" {
		return wire.Outcome{}, false, nil
	}
	return wire.Outcome{CommandID: id.String(), Status: wire.StatusAccepted, TokenID: a.TokenID, Version: a.Version, Sequence: a.Sequence}, true, nil
}
