package sdk

import (
	"context"
	"net/http"
	"net/url"
)

// CreateModel registers a model of the caller's account (POST /v1/models).
func (c *Client) CreateModel(ctx context.Context, name string, opts ...CallOption) (Model, error) {
	var m Model
	body := struct {
		Name string `json:"name"`
	}{name}
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/models", body: body, kind: write}, opts, &m)
	return m, err
}

// Models lists the caller's account's models (GET /v1/models).
func (c *Client) Models(ctx context.Context, opts ...CallOption) ([]Model, error) {
	var out struct {
		Models []Model `json:"models"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/models"}, opts, &out)
	return out.Models, err
}

// Model returns one model (GET /v1/models/{id}). A Client whose "license" is
// an end user's token secret may read the model its token is assigned to.
func (c *Client) Model(ctx context.Context, id string, opts ...CallOption) (Model, error) {
	var m Model
	if err := checkID("modelId", id); err != nil {
		return m, err
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/models/" + url.PathEscape(id)}, opts, &m)
	return m, err
}
