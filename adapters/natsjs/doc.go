// Package natsjs is tokend's adapter to NATS JetStream: the embedded server,
// the connection, the two streams and the event store that appends events
// with optimistic concurrency and loads a token's (or an account's) events.
//
// The layout on the wire is fixed by API.md "NATS": one stream,
// TOKEN_EVENTS, holds every event on tokens.events.<accountId>.<tokenId>
// (account-level events on tokens.events.<accountId>.account), one event a
// message, so one stream sequence orders everything; TOKEN_COMMANDS holds
// commands published on tokens.commands.<Type>.
//
// Appends use the nats.go jetstream API directly rather than Watermill,
// because tokend needs the PubAck's stream sequence, the duplicate flag and
// per-message Nats-Expected-Last-Subject-Sequence (DESIGN.md "Known
// pitfalls").
package natsjs
