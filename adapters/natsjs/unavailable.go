package natsjs

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// IsUnavailable reports whether err is a passing fault of the NATS side
// rather than an answer: a request that timed out or found no responder
// (a stream electing its leader, a node restarting), a connection being
// re-established, or a JetStream API error with status 503. Such a request
// may be sent again; an append sent again is recognised by its event id.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	switch {
	case errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrConnectionClosed):
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}
