// Package natscmd is the NATS side of the tokend Go SDK: commands published
// on tokens.commands.<Type> and answered on tokens.outcomes.<commandId>
// (SendCommand), and audit consumers of an account's events on
// tokens.events.<accountId>.> (SubscribeAudit), as API.md "NATS" describes
// them.
//
// It is a package of its own, beside package sdk rather than in it, because
// it needs the NATS client (github.com/nats-io/nats.go): package sdk, the
// HTTP client, stays on the standard library alone, so that a program that
// only calls the HTTP API does not pull a messaging client in. Request and
// error types are shared with package sdk: a command's data is the HTTP
// body of the same meaning (sdk.CreateTokenRequest, sdk.UpdateTokenRequest),
// and a rejected command's error is an *sdk.Error that matches the same
// sentinels (errors.Is(err, sdk.ErrAlreadyAssigned)).
//
//	nc, _ := nats.Connect(os.Getenv("TOKEND_NATS_URL"))
//	c, _ := natscmd.New(nc, os.Getenv("TOKEND_LICENSE"))
//	out, err := c.SendCommand(ctx, natscmd.IssueToken(sdk.CreateTokenRequest{
//		Name: "alice", ExpirationDate: time.Now().Add(720 * time.Hour).Unix(),
//	}))
//	// out.Secret is shown this once.
package natscmd
