package sdk

import (
	"context"
	"net/http"
	"net/url"
)

// Account returns the caller's own account (GET /v1/account). It is the
// cheapest way to check that a license works.
func (c *Client) Account(ctx context.Context, opts ...CallOption) (Account, error) {
	var a Account
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/account"}, opts, &a)
	return a, err
}

// CreateAccount creates a provider account and its first license
// (POST /v1/accounts). Only the admin license may: others get
// ErrPermissionDenied. The license in the answer is shown this once.
func (c *Client) CreateAccount(ctx context.Context, name string, opts ...CallOption) (CreatedAccount, error) {
	var out CreatedAccount
	body := struct {
		Name string `json:"name"`
	}{name}
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/accounts", body: body, kind: write}, opts, &out)
	return out, err
}

// Licenses lists the caller's account's licenses, revoked ones included
// (GET /v1/licenses). Keys are never listed.
func (c *Client) Licenses(ctx context.Context, opts ...CallOption) ([]License, error) {
	var out struct {
		Licenses []License `json:"licenses"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/licenses"}, opts, &out)
	return out.Licenses, err
}

// IssueLicense issues another license for the caller's account
// (POST /v1/licenses). The key in the answer is shown this once.
func (c *Client) IssueLicense(ctx context.Context, opts ...CallOption) (IssuedLicense, error) {
	var out IssuedLicense
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/licenses", body: struct{}{}, kind: write}, opts, &out)
	return out, err
}

// RevokeLicense revokes one of the caller's account's licenses
// (DELETE /v1/licenses/{id}); it stops working at once. Revoking the license
// the Client itself uses is allowed, and is the Client's last successful call.
func (c *Client) RevokeLicense(ctx context.Context, id string, opts ...CallOption) error {
	if err := checkID("licenseId", id); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: "/v1/licenses/" + url.PathEscape(id), kind: idempotentWrite, goneOK: true}, opts, nil)
}
