package natsintake

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/adapters/auth"
	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
)

// rawCommand is the one command type of the intake's cqrs processor: a
// message of TOKEN_COMMANDS as it arrived. It is decoded by the handler, not
// by the marshaler, because only the handler can tell a message that is not
// a command (dead-lettered) from a command that is refused (an outcome), and
// a marshaler's error would be retried and poisoned instead.
type rawCommand struct {
	Subject   string
	Sequence  uint64
	Delivered uint64
	Header    nats.Header
	Body      []byte
	// prefetched is the look-up of the Nats-Msg-Id's command in the
	// outcomes bucket, started as the message arrived (toMessage), or nil.
	prefetched *lookup
}

// rawCommandName is the cqrs name of rawCommand; every message has it.
const rawCommandName = "TokenCommand"

// rawMarshaler is the intake's cqrs marshaler: every message of the stream
// is a rawCommand, whatever its subject.
type rawMarshaler struct{}

func (rawMarshaler) Name(any) string                         { return rawCommandName }
func (rawMarshaler) NameFromMessage(*message.Message) string { return rawCommandName }

// Marshal turns a rawCommand back into a message, as toMessage would have
// made it.
func (rawMarshaler) Marshal(v any) (*message.Message, error) {
	c, ok := v.(*rawCommand)
	if !ok {
		return nil, fmt.Errorf("command intake: cannot marshal %T", v)
	}
	return withCommand(message.NewMessage(strconv.FormatUint(c.Sequence, 10), c.Body), c), nil
}

// Unmarshal reads the command toMessage put in the message. It fails only
// on a message this package did not make: a permanent fault.
func (rawMarshaler) Unmarshal(m *message.Message, v any) error {
	c, ok := v.(*rawCommand)
	if !ok {
		return permanentError{fmt.Errorf("command intake: cannot unmarshal into %T", v)}
	}
	var err error
	*c, err = rawFromMessage(m)
	return err
}

// commandKey is the context key of the command a message carries.
type commandKey struct{}

// withCommand makes m carry c in its context. Watermill's router and the
// cqrs processor add their values on top of that context, and the poison
// queue hands on the very message, so every step after toMessage finds it.
func withCommand(m *message.Message, c *rawCommand) *message.Message {
	m.SetContext(context.WithValue(m.Context(), commandKey{}, c))
	return m
}

func rawFromMessage(m *message.Message) (rawCommand, error) {
	c, ok := m.Context().Value(commandKey{}).(*rawCommand)
	if !ok || c.Subject == "" {
		return rawCommand{}, permanentError{errors.New("command intake: a message without its command")}
	}
	return *c, nil
}

// values returns every value of a header, whatever the case of its name:
// HTTP's header names are case-insensitive, and a NATS client may well send
// "authorization".
func (c *rawCommand) values(name string) []string {
	var out []string
	for k, vs := range c.Header {
		if strings.EqualFold(k, name) {
			out = append(out, vs...)
		}
	}
	return out
}

// headerCommandID is the message's Nats-Msg-Id when it is a UUID (a
// command id, as API.md asks publishers to send), for answering a message
// whose body cannot say which command it is.
func (c *rawCommand) headerCommandID() uuid.UUID {
	id := c.Header.Get(nats.MsgIdHdr)
	if len(id) != 36 {
		return uuid.Nil
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil
	}
	return u
}

// Reasons of a dead letter, in its Tokend-Dead-Reason header.
const (
	ReasonUnknownType = "unknown_type"
	ReasonTooLarge    = "payload_too_large"
	ReasonMalformed   = "malformed"
	ReasonInternal    = "internal"
)

// Headers of a dead letter (package doc "Dead letters").
const (
	HeaderDeadReason   = "Tokend-Dead-Reason"
	HeaderDeadDetail   = "Tokend-Dead-Detail"
	HeaderDeadSubject  = "Tokend-Dead-Subject"
	HeaderDeadSequence = "Tokend-Dead-Sequence"
	HeaderDeadMsgID    = "Tokend-Dead-Msg-Id"
)

// commandsPrefix starts every command subject, tokens.commands.<Type>.
const commandsPrefix = "tokens.commands."

// metricUnknownType is the type label of commands whose type is unknown:
// a label per unknown name would let any publisher grow the metric forever.
const metricUnknownType = "unknown"

// handle carries out one message of TOKEN_COMMANDS (package doc "What
// happens to a message"). It returns an error only for a fault that is not
// the command's, which the middleware retries and, failing that, poisons.
func (in *Intake) handle(ctx context.Context, c *rawCommand) error {
	if c.Subject == DeadLetterSubject {
		return nil
	}
	name := strings.TrimPrefix(c.Subject, commandsPrefix)
	typ, known := wire.CommandType(name)
	if !known {
		return in.deadLetter(ctx, c, metricUnknownType, ReasonUnknownType, "no command type "+wire.QuoteShort(name),
			domain.Invalid("type", "unknown command type %s: the subject must be tokens.commands.<Type>", wire.QuoteShort(name)))
	}
	if len(c.Body) > wire.MaxBodyBytes {
		return in.deadLetter(ctx, c, string(typ), ReasonTooLarge,
			fmt.Sprintf("%d bytes, over %d", len(c.Body), wire.MaxBodyBytes), domain.ErrPayloadTooLarge)
	}
	env, decodeErr := wire.DecodeEnvelope(c.Body)
	if errors.Is(decodeErr, wire.ErrMalformed) {
		return in.deadLetter(ctx, c, string(typ), ReasonMalformed, decodeErr.Error(), decodeErr)
	}
	cmdID := env.CommandID.String()

	p, err := auth.Authenticate(in.cfg.Licenses, c.values("Authorization"))
	if errors.Is(err, domain.ErrUnauthenticated) {
		in.observe(typ, string(domain.CodeUnauthenticated))
		return in.publish(wire.Rejected(cmdID, env.TokenID, err))
	}
	if err != nil {
		return err
	}

	// A command carried out before gets its first outcome, and nothing runs.
	if r, found, err := in.remembered(c, env.CommandID); err != nil {
		return err
	} else if found {
		if r.AccountID != p.AccountID {
			in.observe(typ, string(domain.CodeInvalidArgument))
			return in.publish(wire.Rejected(cmdID, env.TokenID, domain.Invalid("commandId", "was already used for another command")))
		}
		in.observe(typ, commands.OutcomeRepeated)
		return in.publish(r.Outcome)
	}

	tokenID, body, err := in.decode(typ, env, decodeErr)
	if err != nil {
		return in.conclude(ctx, typ, p, wire.Rejected(cmdID, tokenID, err), commands.OutcomeLabel(commands.Result{}, err))
	}
	var secret string
	if issue, ok := body.(domain.IssueToken); ok {
		if secret, err = issue.DrawSecret(); err != nil {
			return err
		}
		body = issue
	}
	// Shutdown must not cut a command in half: the attempt has its own
	// deadline, not the message's.
	execCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), executeTimeout)
	defer cancel()
	res, err := in.cfg.Commands.Execute(execCtx, domain.Command{
		ID: env.CommandID, AccountID: p.AccountID, TokenID: tokenID, Actor: p.Actor(),
		ExpectedVersion: env.ExpectedVersion, Body: body,
	})
	if code := domain.CodeOf(err); code == domain.CodeInternal || code == domain.CodeUnavailable {
		return err // not the command's fault: retried, never remembered
	}
	label := commands.OutcomeLabel(res, err)
	if err != nil {
		return in.conclude(ctx, typ, p, wire.Rejected(cmdID, tokenID, err), label)
	}
	o := wire.Outcome{CommandID: cmdID, Status: wire.StatusAccepted, TokenID: tokenID, Version: res.Version, Sequence: res.Sequence}
	if secret != "" && !res.Repeated && res.Token.SecretSha256() == domain.HashSecret(secret) {
		// The first run of this IssueToken: the one time its secret is shown.
		// A repeat (its first outcome lost) is accepted without it: only the
		// secret's hash was ever kept (docs/api.md).
		o.Secret = secret
	}
	if len(res.Emitted) > 0 || res.Repeated {
		// The log remembers this command through its event: a repeat is
		// recognised by the command service, and GET /v1/commands/{id}
		// reads it from the read model (Outcomes, "Two memories"). The
		// event is in the log before the outcome is published.
		if err := in.publish(o); err != nil {
			return err
		}
		in.observe(typ, label)
		return nil
	}
	return in.conclude(ctx, typ, p, o, label)
}

// remembered returns the outcome the bucket remembers for command id, if
// any: the answer to the look-up started when the message arrived, for a
// first attempt at a command its Nats-Msg-Id named, else a look-up now
// (lookups.go).
func (in *Intake) remembered(c *rawCommand, id uuid.UUID) (remembered, bool, error) {
	var value []byte
	var err error
	if q := c.prefetched; q != nil && q.id == id && q.claim() {
		value, err = q.wait()
	} else {
		value, err = in.lookups.get(id)
	}
	if err != nil || value == nil {
		return remembered{}, false, err
	}
	r, err := decodeRemembered(id, value)
	return r, err == nil, err
}

// decode checks the envelope's token id and decodes the command's data.
// envErr is the envelope's own refusal, if any, reported first.
func (in *Intake) decode(typ domain.CommandType, env wire.Envelope, envErr error) (string, domain.CommandBody, error) {
	tokenID := env.TokenID
	if typ == domain.CmdIssueToken {
		derived := commands.TokenIDFor(env.CommandID)
		if tokenID != "" && tokenID != derived {
			return tokenID, nil, domain.Invalid("tokenId", "an IssueToken's token id derives from its commandId (%s): leave it out", derived)
		}
		tokenID = derived
	}
	if envErr != nil {
		return tokenID, nil, envErr
	}
	if tokenID == "" {
		return "", nil, domain.Invalid("tokenId", "required for %s", typ)
	}
	if !validTokenID(tokenID) {
		// Like an HTTP path id that cannot name a token: not found.
		return tokenID, nil, domain.ErrNotFound
	}
	body, err := env.DecodeData(typ)
	return tokenID, body, err
}

// validTokenID reports whether id can name a token: 1 to 128 bytes of UTF-8
// without control characters that can stand as one token of a NATS
// subject, and not "account" (the subject of the account's own events).
func validTokenID(id string) bool {
	if len(id) > 128 || !utf8.ValidString(id) || natsjs.ValidSubjectToken("tokenId", id) != nil || id == domain.AccountSubject {
		return false
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// conclude remembers the outcome of a command that emitted no event (a
// refusal or a no-op), without a secret, so that a repeat gets this outcome
// again and GET /v1/commands/{id} finds it, and then publishes it.
// Remembering comes first: a publisher that holds the outcome and sends the
// command again, or asks for it over HTTP, must find it remembered.
func (in *Intake) conclude(ctx context.Context, typ domain.CommandType, p auth.Principal, o wire.Outcome, label string) error {
	if err := in.cfg.Outcomes.put(ctx, remembered{Outcome: o, AccountID: p.AccountID, Type: typ, At: time.Now().UTC()}); err != nil {
		return err
	}
	if err := in.publish(o); err != nil {
		return err
	}
	in.observe(typ, label)
	return nil
}

// publish sends an outcome on tokens.outcomes.<commandId> (core NATS: the
// publisher subscribed before it published the command).
func (in *Intake) publish(o wire.Outcome) error {
	b, err := o.MarshalJSON() // not json.Marshal, which would compact it again
	if err != nil {
		return permanentError{err}
	}
	if err := in.nc.Publish(OutcomeSubject(o.CommandID), b); err != nil {
		return fmt.Errorf("publish the outcome of %s: %w", o.CommandID, err)
	}
	return nil
}

func (in *Intake) observe(typ domain.CommandType, outcome string) {
	if in.cfg.Metrics != nil {
		in.cfg.Metrics.ObserveCommand(string(typ), outcome)
	}
}

// deadLetter publishes the message on the dead-letter subject with the
// reason, and, when the message names its command, a rejected outcome with
// refusal, so that a publisher waiting for it learns why at once.
func (in *Intake) deadLetter(ctx context.Context, c *rawCommand, typeLabel, reason, detail string, refusal error) error {
	h := nats.Header{}
	for k, vs := range c.Header {
		switch {
		case strings.EqualFold(k, "Authorization"):
			// A license is never stored outside the read model's hashes.
		case strings.EqualFold(k, nats.MsgIdHdr):
			h[HeaderDeadMsgID] = vs
		default:
			h[k] = vs
		}
	}
	if len(detail) > 1024 {
		detail = detail[:1024]
	}
	h.Set(HeaderDeadReason, reason)
	h.Set(HeaderDeadDetail, strings.ToValidUTF8(strings.NewReplacer("\r", " ", "\n", " ").Replace(detail), "?"))
	h.Set(HeaderDeadSubject, c.Subject)
	h.Set(HeaderDeadSequence, strconv.FormatUint(c.Sequence, 10))
	h.Set(nats.MsgIdHdr, "dead-"+strconv.FormatUint(c.Sequence, 10))
	if _, err := in.cfg.JS.PublishMsg(ctx, &nats.Msg{Subject: DeadLetterSubject, Header: h, Data: c.Body}); err != nil {
		return fmt.Errorf("dead-letter %s #%d: %w", c.Subject, c.Sequence, err)
	}
	in.log.Warn("dead-lettered a message", "subject", c.Subject, "sequence", c.Sequence, "reason", reason, "detail", detail)
	in.observe(domain.CommandType(typeLabel), reason)
	id := c.headerCommandID()
	if env, err := wire.DecodeEnvelope(c.Body); err == nil || !errors.Is(err, wire.ErrMalformed) {
		id = env.CommandID
	}
	if id == uuid.Nil {
		return nil
	}
	return in.publish(wire.Rejected(id.String(), "", refusal))
}

// poisonPublisher is the poison queue of the Watermill router: a message
// whose handling kept failing (after the retries, or at once for a panic)
// is dead-lettered with reason internal.
type poisonPublisher struct{ in *Intake }

func (p poisonPublisher) Publish(_ string, msgs ...*message.Message) error {
	for _, m := range msgs {
		c, err := rawFromMessage(m)
		if err != nil {
			return err
		}
		detail := m.Metadata.Get("reason_poisoned")
		p.in.log.Error("a command kept failing; dead-lettering it", "subject", c.Subject, "sequence", c.Sequence, "err", detail)
		ctx, cancel := context.WithTimeout(context.Background(), executeTimeout)
		label := metricUnknownType
		if typ, ok := wire.CommandType(strings.TrimPrefix(c.Subject, commandsPrefix)); ok {
			label = string(typ)
		}
		err = p.in.deadLetter(ctx, &c, label, ReasonInternal, detail, domain.ErrInternal)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

func (poisonPublisher) Close() error { return nil }
