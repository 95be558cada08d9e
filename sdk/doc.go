// Package sdk is the Go client of the tokend HTTP API: the management calls
// of a provider (accounts, licenses, models, tokens, audit) and the
// introspection of end users' tokens.
//
// It follows the contract of API.md and imports only the standard library, so
// it can be vendored on its own.
//
//	c := sdk.New("https://tokend.example.com", os.Getenv("TOKEND_LICENSE"))
//	created, err := c.CreateToken(ctx, sdk.CreateTokenRequest{
//		Name:           "alice",
//		ExpirationDate: time.Now().Add(30 * 24 * time.Hour).Unix(),
//	})
//	// created.Secret is shown only this once.
//	tok, err := c.UpdateToken(ctx, created.Token.ID, sdk.UpdateTokenRequest{
//		Note: sdk.Null[string](), // clear the note; absent fields stay as they are
//	}, sdk.IfMatch(created.Token.Version))
//
// Errors the service answers are *Error values that match the sentinels
// (ErrNotFound, ErrAlreadyAssigned, …) under errors.Is. Calls that can be
// repeated safely are retried on a 503 or a dropped connection (RetryPolicy
// says which and why). A Client reads its own writes: after a write, its
// reads wait until the service's read model has caught up with it
// (WithReadYourWrites).
package sdk
