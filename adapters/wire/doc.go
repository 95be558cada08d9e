// Package wire holds the JSON formats that more than one intake speaks, so
// that a body means the same thing whichever way it arrives: the strict
// decoding of request bodies (an HTTP body, or the "data" of a command
// published on NATS, which API.md defines as the HTTP body's fields), the
// command envelope of tokens.commands.<Type>, and the outcome of a command,
// published on tokens.outcomes.<commandId> and answered by
// GET /v1/commands/{id}.
//
// It knows nothing of transports: reading an HTTP body (media type, size)
// stays in httpapi, and acking or dead-lettering a message in natsintake.
// Every refusal is a *domain.Error with code invalid_argument whose message
// starts with the offending field.
package wire
