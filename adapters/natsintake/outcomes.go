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
)

// OutcomesBucket is the JetStream key-value bucket where the intake
// remembers every outcome it published, by command id.
const OutcomesBucket = "TOKEN_OUTCOMES"

// OutcomesTTL is how long an outcome is remembered: as long as
// TOKEN_COMMANDS keeps the command itself, so that any copy of a command the
// stream can still deliver (a redelivery, a replay, a republish) finds its
// first outcome.
const OutcomesTTL = natsjs.CommandsMaxAge

// Why a JetStream key-value bucket, and not the Badger read model that
// already remembers the outcome of every command that emitted an event: a
// command that was refused, or changed nothing, emits no event, yet a repeat
// must still get that first outcome, not a new decision on a state that has
// moved on. The bucket lives with the commands (same cluster, same
// replication, same 7 days), survives the loss of the read model (which is
// rebuilt from events, which do not carry refusals), and is shared by every
// tokend replica. It never holds a secret.

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
	kv jetstream.KeyValue
}

// OpenOutcomes creates or updates the bucket (idempotently, like the
// streams) with the given number of replicas and returns the store.
func OpenOutcomes(ctx context.Context, js jetstream.JetStream, replicas int) (*Outcomes, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      OutcomesBucket,
		Description: "tokend: the outcome of every command published on NATS, by command id, without secrets",
		History:     1,
		TTL:         OutcomesTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("outcomes bucket %s: %w", OutcomesBucket, err)
	}
	return &Outcomes{kv: kv}, nil
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
	var r remembered
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return remembered{}, false, fmt.Errorf("outcome of %s: %w", id, err)
	}
	return r, true, nil
}

// CommandOutcome returns the remembered outcome of a command of accountID,
// for GET /v1/commands/{id}. Another account's command is not found,
// exactly like a command that never ran or was forgotten (after
// OutcomesTTL).
func (o *Outcomes) CommandOutcome(ctx context.Context, accountID string, id uuid.UUID) (wire.Outcome, bool, error) {
	r, found, err := o.get(ctx, id)
	if err != nil || !found || r.AccountID != accountID {
		return wire.Outcome{}, false, err
	}
	return r.Outcome, true, nil
}
