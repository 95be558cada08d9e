// Package natsintake carries out the commands that clients publish on NATS
// (API.md "Commands"): a Watermill router whose cqrs command processor
// consumes TOKEN_COMMANDS through one durable JetStream consumer, and answers
// each command on tokens.outcomes.<commandId>.
//
// # One consumer, many lanes
//
// Every command type arrives on its own subject, tokens.commands.<Type>, but
// the intake reads them all through one durable pull consumer on
// tokens.commands.> (ConsumerName, which is also the Watermill handler's
// name: renaming it would create a new consumer). One consumer rather than
// one per type because a consumer per type cannot see a type nobody
// registered, so unknown types would never be dead-lettered, and because one
// command must not be delivered to several consumers that each ignore it.
// The handler carries out Config.Lanes commands at once: the intake's own
// Watermill subscriber (lanes, subscriber.go) pulls from the durable
// consumer on one subscription and hands each message to the router from
// one of that many forwarders, each waiting for its message's
// acknowledgement before it takes the next. Commands in flight together are not ordered against
// each other; a publisher whose next command depends on the previous one
// waits for its outcome, as sdk/natscmd's SendCommand does. Each command is
// carried out on one of as many long-lived workers (workers.go), not in the
// goroutine Watermill's router starts for each message.
//
// # What happens to a message
//
//   - On tokens.commands.dead (the intake's own dead letters, inside
//     tokens.commands.>): acknowledged and left alone.
//   - Unknown type, a body over 65,536 bytes, or a body that is not one JSON
//     object with a valid commandId: dead-lettered (below). When the message
//     names its command (the body's commandId, else a UUID Nats-Msg-Id), a
//     rejected outcome is published too, so a waiting publisher is not left
//     hanging.
//   - A missing, malformed, unknown or revoked license: rejected,
//     unauthenticated (auth.Authenticate, as over HTTP). Not remembered: the
//     command never ran for any account, and the same id may be retried with
//     a good license.
//   - A command id already in the bucket (Outcomes): its first outcome is
//     published again, without a secret, and nothing runs. This is what
//     makes a command published twice run once even after JetStream's
//     two-minute duplicate window (its Nats-Msg-Id drops copies within it).
//     The look-up starts as the message arrives, when its Nats-Msg-Id is
//     its command id and it is a first delivery, and the lanes ask the
//     bucket together: one batched direct get for the commands that arrive
//     while the previous one is in flight (lookups.go).
//   - Otherwise the envelope and "data" are decoded by package wire exactly
//     like the HTTP body, and the command runs through the command service
//     (commands.Service.Execute, the one write path). The outcome is
//     published on tokens.outcomes.<commandId> once it is remembered: a
//     command that emitted an event is remembered by the log (its event,
//     which the command service and the read model recognise by command
//     id); a refusal or a no-op is first put in the bucket, without a
//     secret (Intake.conclude). So a publisher that holds the outcome finds
//     it at GET /v1/commands/{id}. Then the message is acknowledged.
//   - A fault that is not the command's (NATS or the read model unreachable,
//     a timeout) is retried with backoff by the retry middleware
//     (retry.go, Config.Retry's schedule); a panic is
//     caught by the Recoverer and not retried; what still fails goes to the
//     poison queue, which is the dead-letter subject with reason "internal",
//     and a rejected outcome with code internal is published.
//
// # Dead letters
//
// A dead letter is published on tokens.commands.dead (so it is kept in
// TOKEN_COMMANDS) with the original body and headers, minus Authorization,
// plus Tokend-Dead-Reason (unknown_type, payload_too_large, malformed or
// internal), Tokend-Dead-Detail, Tokend-Dead-Subject and
// Tokend-Dead-Sequence (the original's subject and stream sequence) and
// Tokend-Dead-Msg-Id (its Nats-Msg-Id). Its own Nats-Msg-Id derives from the
// original's stream sequence, so dead-lettering a redelivered message twice
// stores it once.
//
// # Watermill's known consumer issues
//
// The intake reads TOKEN_COMMANDS through its own Watermill subscriber
// rather than watermill-nats' JetStream subscriber, for these issues and
// for its cost: that subscriber's callback waits for each acknowledgement,
// so running n commands at once takes n subscriptions, with a pull request,
// a context and a timer per command (about 9% of
// BenchmarkCommandsWithOutcomes' CPU per command, medians of 10 alternated
// runs).
//
// watermill#609: watermill-nats' JetStream subscriber pulls messages ahead
// (500 by default) and JetStream's AckWait runs from delivery, so a backlog
// waiting in the client is redelivered while still queued. Here the
// subscription pulls two messages per lane at a time and the consumer's
// MaxAckPending is four times the lanes, so a message waits in the client
// at most for about three commands per lane before it
// (TestSlowBacklogIsNotRedelivered; with watermill-nats' defaults, the same
// test sees most of the backlog delivered twice or three times).
// watermill#671: its default consumer is
// created anew (and deleted) on every subscription, replaying every message
// still in the stream; here the intake creates or updates its own durable
// consumer by name and never deletes it, so a restart resumes after the last
// acknowledged command. Even a replay (an operator deleting the consumer)
// would only republish remembered outcomes.
//
// Two more, found in watermill-nats v2.1.3's JetStream subscriber before
// the intake had its own: its unmarshaler refuses a message with a repeated
// header and the subscriber then dereferences the nil message it got (any
// publisher could crash tokend with two Authorization headers); the
// intake's conversion (toMessage) never fails. And closing that subscriber
// closes each output channel while a callback may still be sending on it (a
// data race under -race, a "send on closed channel" panic when the two
// meet); the intake's subscriber closes its channel only once no forwarder can send
// (lanes.Close, TestCloseMidBacklog).
package natsintake
