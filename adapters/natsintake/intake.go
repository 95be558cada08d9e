package natsintake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/auth"
	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// Subjects and names of the intake (API.md "Commands").
const (
	// ConsumerName is the durable consumer the intake reads TOKEN_COMMANDS
	// through, and the name of its Watermill handler. It must never change:
	// a new name is a new consumer, which starts from the first command the
	// stream still holds.
	ConsumerName = "tokend-commands"
	// DeadLetterSubject is where messages that are not commands go, with
	// the reason in a header. It is inside tokens.commands.>, so dead
	// letters are kept in TOKEN_COMMANDS; the intake skips them.
	DeadLetterSubject = "tokens.commands.dead"
	// OutcomesPrefix starts the subject of every outcome,
	// tokens.outcomes.<commandId>.
	OutcomesPrefix = "tokens.outcomes."
)

// OutcomeSubject returns tokens.outcomes.<commandId>, where the outcome of
// the command is published; commandID is in its canonical lower-case form.
func OutcomeSubject(commandID string) string { return OutcomesPrefix + commandID }

// Defaults of Config.
const (
	DefaultLanes        = 32
	DefaultAckWait      = 30 * time.Second
	DefaultCloseTimeout = 15 * time.Second
	// executeTimeout bounds one attempt at a command. It is far below
	// AckWait, so that a message is never redelivered while it runs.
	executeTimeout = 10 * time.Second
)

// CommandService carries out commands. *commands.Service implements it.
type CommandService interface {
	Execute(ctx context.Context, cmd domain.Command) (commands.Result, error)
}

// CommandObserver counts commands by type and outcome. *httpapi.Metrics
// implements it, so that commands over HTTP and NATS add up in one metric.
type CommandObserver interface {
	ObserveCommand(typ, outcome string)
}

// Config is what Start needs. URL, JS, Commands, Licenses and Outcomes are
// required; the other fields have usable zero values.
type Config struct {
	// URL is the NATS server the intake consumes from, on a connection of
	// its own: the intake drains it when it closes, to send the last
	// acknowledgements, and that must not be the connection the rest of
	// tokend uses.
	URL string
	// JS publishes outcomes, dead letters and remembered outcomes.
	JS jetstream.JetStream
	// Commands carries out the commands.
	Commands CommandService
	// Licenses authenticates them (the read model).
	Licenses auth.Licenses
	// Outcomes remembers their outcomes (OpenOutcomes).
	Outcomes *Outcomes
	// Metrics counts them; nil counts nothing.
	Metrics CommandObserver
	// Logger receives the intake's logs; nil means slog.Default(). Watermill's
	// own per-message info lines are logged at debug.
	Logger *slog.Logger
	// Lanes is how many commands run at once. Zero: DefaultLanes.
	Lanes int
	// AckWait is how long JetStream waits for a command's acknowledgement
	// before delivering it again. Zero: DefaultAckWait.
	AckWait time.Duration
	// CloseTimeout bounds Close's wait for the commands in flight. Zero:
	// DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Retry is the backoff of transient faults; the zero Retry is
	// DefaultRetry. Its MaxRetries, intervals, Multiplier,
	// RandomizationFactor, MaxElapsedTime and OnRetryHook are used (as
	// Watermill's Retry middleware would); which faults are retried is the
	// intake's to say, so ShouldRetry, Logger and ResetContextOnRetry are not.
	Retry middleware.Retry
}

// DefaultRetry retries a transient fault four times, from 100 ms doubling
// to 1 s (about 1.5 s in all), well within AckWait, before the poison queue
// takes the message.
var DefaultRetry = middleware.Retry{
	MaxRetries:          4,
	InitialInterval:     100 * time.Millisecond,
	MaxInterval:         time.Second,
	Multiplier:          2,
	MaxElapsedTime:      5 * time.Second,
	RandomizationFactor: 0.2,
}

// Intake is the running command intake. Close stops it.
type Intake struct {
	cfg     Config
	log     *slog.Logger
	nc      *nats.Conn // publishes outcomes (core NATS)
	conn    *nats.Conn // consumes, owned by the subscriber
	router  *message.Router
	work    *workers // run handle (workers.go)
	lookups *lookups // in the outcomes bucket (lookups.go)
	lanes   *lanes   // the router's subscriber (subscriber.go)
	done    chan error

	closeOnce sync.Once
	closeErr  error
}

// Start creates or updates the durable consumer and starts carrying out
// commands; it returns once the router runs. Commands published while no
// intake ran are carried out first, in stream order.
func Start(ctx context.Context, cfg Config) (*Intake, error) {
	if cfg.URL == "" || cfg.JS == nil || cfg.Commands == nil || cfg.Licenses == nil || cfg.Outcomes == nil {
		return nil, errors.New("command intake: Config.URL, JS, Commands, Licenses and Outcomes are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Lanes <= 0 {
		cfg.Lanes = DefaultLanes
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.Retry.MaxRetries == 0 && cfg.Retry.InitialInterval == 0 {
		cfg.Retry = DefaultRetry
	}
	log := cfg.Logger.With("component", "command-intake")
	wlog := newWatermillLogger(log)

	consumer := consumerConfig(ConsumerName, cfg.Lanes, cfg.AckWait)
	if _, err := ensureConsumer(ctx, cfg.JS, consumer); err != nil {
		return nil, err
	}
	conn, _, err := natsjs.Connect(cfg.URL, "tokend-intake", cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("command intake: %w", err)
	}
	lookups, err := newLookups(cfg.JS.Conn(), cfg.Outcomes.kv)
	if err != nil {
		conn.Close()
		return nil, err
	}
	in := &Intake{cfg: cfg, log: log, nc: cfg.JS.Conn(), conn: conn, work: newWorkers(cfg.Lanes), lookups: lookups, done: make(chan error, 1)}
	started := false
	defer func() {
		if !started {
			in.work.close()
			_ = lookups.close()
		}
	}()

	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.CloseTimeout}, wlog)
	if err != nil {
		conn.Close()
		return nil, err
	}
	poison, err := middleware.PoisonQueueWithFilter(poisonPublisher{in}, DeadLetterSubject, func(err error) bool {
		// A command cut short by shutdown is not poison: it is nacked and
		// runs again on the next start.
		return !errors.Is(err, context.Canceled)
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	// First added runs outermost: poison catches what retry gives up on,
	// and retry sees a panic as the error the recoverer makes of it.
	router.AddMiddleware(poison, retryMiddleware(cfg.Retry, retryable, wlog), middleware.Recoverer)

	processor, err := cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
		GenerateSubscribeTopic: func(cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
			return natsjs.CommandsSubjects, nil
		},
		SubscriberConstructor: func(p cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			// The consumer's errors (missed heartbeats, pull requests the
			// server refused) reach the operator here. A closed connection
			// is the intake's own shutdown (or the connection's, which says
			// so itself).
			consErr := func(err error) {
				if !errors.Is(err, jetstream.ErrConnectionClosed) && !errors.Is(err, nats.ErrConnectionClosed) {
					log.Warn("command intake: consuming TOKEN_COMMANDS", "err", err.Error())
				}
			}
			l, err := newLanes(conn, consumerConfig(p.HandlerName, cfg.Lanes, cfg.AckWait), cfg.Lanes, time.Second, cfg.CloseTimeout, wlog, consErr, in.lookups)
			in.lanes = l
			return l, err
		},
		Marshaler: rawMarshaler{},
		Logger:    wlog,
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	handler := func(ctx context.Context, c *rawCommand) error {
		return in.work.do(func() error { return in.handle(ctx, c) })
	}
	if err := processor.AddHandlers(cqrs.NewCommandHandler(ConsumerName, handler)); err != nil {
		conn.Close()
		return nil, err
	}
	in.router = router

	go func() { in.done <- router.Run(context.Background()) }()
	select {
	case <-router.Running():
		log.Info("command intake running", "consumer", ConsumerName, "lanes", cfg.Lanes)
		started = true
		return in, nil
	case err := <-in.done:
		conn.Close()
		return nil, fmt.Errorf("command intake: %w", err)
	case <-ctx.Done():
		_ = router.Close()
		conn.Close()
		return nil, ctx.Err()
	}
}

// Close stops taking commands, lets the ones in flight finish (up to
// Config.CloseTimeout), and closes the intake's own connection. The
// connection given as Config.JS stays open. Close is idempotent.
func (in *Intake) Close() error {
	in.closeOnce.Do(func() {
		in.closeErr = in.router.Close()
		if err := <-in.done; err != nil && in.closeErr == nil {
			in.closeErr = err
		}
		// The router does not wait for its subscriber to close: the
		// lanes may still be handing commands back on the connection.
		if in.lanes != nil {
			if err := in.lanes.Close(); err != nil && in.closeErr == nil {
				in.closeErr = err
			}
		}
		in.work.close()
		if err := in.lookups.close(); err != nil && in.closeErr == nil && !errors.Is(err, nats.ErrConnectionClosed) {
			in.closeErr = err
		}
		in.conn.Close()
	})
	return in.closeErr
}

// permanentError is a fault that retrying cannot mend.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// retryable reports whether a handler's error is a transient fault worth
// another attempt: not a panic, not a permanent fault, not shutdown.
func retryable(err error) bool {
	var p permanentError
	var rp middleware.RecoveredPanicError
	return !errors.As(err, &p) && !errors.As(err, &rp) && !errors.Is(err, context.Canceled)
}
