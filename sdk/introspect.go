package sdk

import (
	"context"
	"net/http"
)

// Introspect asks what an end user's token secret is worth
// (POST /v1/introspect, RFC 7662 style). It needs no license: the Client's
// license, if any, is not sent. An unknown, deleted, expired, suspended or
// canceled token is not an error: it answers Active false and nothing else.
//
// Introspect changes nothing, so it is retried like a read and sends the
// read-your-writes X-Min-Sequence: after SuspendToken through the same Client,
// Introspect reports the token inactive.
func (c *Client) Introspect(ctx context.Context, secret string, opts ...CallOption) (Introspection, error) {
	var out Introspection
	body := struct {
		Token string `json:"token"`
	}{secret}
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/introspect", body: body, kind: read, noAuth: true}, opts, &out)
	return out, err
}
