package natsjs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id on both
// streams. A retry after it is caught by the command ids the service keeps
// itself (DESIGN.md "Known pitfalls"), and by Append's look-up of the event
// id when the retry's expected sequence is stale.
const DuplicateWindow = 2 * time.Minute

// CommandsMaxAge is how long TOKEN_COMMANDS keeps a command.
const CommandsMaxAge = 7 * 24 * time.Hour

// EventsStreamConfig returns the configuration of TOKEN_EVENTS: file
// storage, every event kept forever (limits retention with no limits),
// messages neither deletable nor purgeable, direct gets allowed for fast
// loads.
func EventsStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        EventsStream,
		Description: "tokend events: tokens.events.<accountId>.<tokenId|account>; the source of truth",
		Subjects:    []string{EventsSubjects},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      0, // forever
		// One token's events are its history: never cap them per subject.
		MaxMsgsPerSubject: -1,
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		Duplicates:        DuplicateWindow,
		DenyDelete:        true,
		DenyPurge:         true,
		AllowDirect:       true,
	}
}

// CommandsStreamConfig returns the configuration of TOKEN_COMMANDS: file
// storage, limits retention, commands kept CommandsMaxAge.
func CommandsStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        CommandsStream,
		Description: "tokend commands: tokens.commands.<Type>",
		Subjects:    []string{CommandsSubjects},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      CommandsMaxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Duplicates:  DuplicateWindow,
		AllowDirect: true,
	}
}

// EnsureStreams creates TOKEN_EVENTS and TOKEN_COMMANDS, or updates them to
// the configuration above, with the given number of replicas (at least 1).
// It is idempotent and safe to run from several processes at once: a
// creation that loses a race to another process is retried as an update.
//
// A cluster that is still electing leaders (all nodes just restarted) may
// leave a request unanswered or answer 503: EnsureStreams sends it again,
// each try bounded by a few seconds, until ctx ends.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	if replicas < 1 {
		return fmt.Errorf("ensure streams: replicas must be at least 1, got %d", replicas)
	}
	for _, cfg := range []jetstream.StreamConfig{EventsStreamConfig(replicas), CommandsStreamConfig(replicas)} {
		if err := retryUnavailable(ctx, func(ctx context.Context) error { return ensureStream(ctx, js, cfg) }); err != nil {
			return err
		}
	}
	return nil
}

// retryUnavailable runs op, each try with its own 5 s deadline, again
// while it fails with IsUnavailable and ctx lasts.
func retryUnavailable(ctx context.Context, op func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		tryCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := op(tryCtx)
		cancel()
		if err == nil || !IsUnavailable(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	var err error
	for range 3 {
		if _, err = js.CreateOrUpdateStream(ctx, cfg); err == nil {
			return nil
		}
		// Two processes both saw "not found", both created: the loser's
		// create fails (only if the configurations differ; identical ones
		// succeed) and the next round updates instead.
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			break
		}
	}
	return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
}
