// Package projections is the read side of tokend: the projector that folds
// the TOKEN_EVENTS stream into a Badger read model, the queries served from
// it (token views, lists, audit trails, introspection, models, accounts,
// licenses, command outcomes) and the rebuild that recreates it from the
// stream.
//
// The event log is the source of truth (DESIGN.md decision 1): everything in
// the read model is a pure function of the stream's messages and their
// sequences, so a rebuild writes exactly the keys and values the live
// projector wrote. The projector is exactly-once in effect (decision 5):
// every event's changes and the checkpoint that records it are committed in
// one Badger transaction, and an event at or below the checkpoint is skipped.
//
// The key layout is documented in docs/readmodel.md and implemented in
// keys.go; the value encodings are in codec.go.
//
// This package consumes the stream through nats.go/jetstream directly and
// never imports the adapters: adapters depend on projections, not the other
// way round.
package projections
