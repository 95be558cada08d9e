package sdk

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// CreateTokenRequest is the body of CreateToken. Note and ModelID are
// optional: "" leaves them out.
type CreateTokenRequest struct {
	Name string `json:"name"`
	Note string `json:"note,omitempty"`
	// ExpirationDate is in Unix seconds: strictly in the future and at most
	// the service's maximum lifetime (365 days by default) from now.
	ExpirationDate int64  `json:"expirationDate"`
	ModelID        string `json:"modelId,omitempty"`
}

// CreateToken issues a token (POST /v1/tokens). The answer's Secret is the
// only time the secret is shown: hand it to the end user, do not store it.
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest, opts ...CallOption) (CreatedToken, error) {
	var out CreatedToken
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/tokens", body: req, kind: write}, opts, &out)
	return out, err
}

// GetToken returns one token (GET /v1/tokens/{id}). Another account's token
// answers ErrNotFound, like a missing one.
func (c *Client) GetToken(ctx context.Context, id string, opts ...CallOption) (Token, error) {
	var t Token
	if err := checkID("tokenId", id); err != nil {
		return t, err
	}
	err := c.do(ctx, request{method: http.MethodGet, path: tokenPath(id)}, opts, &t)
	return t, err
}

// Sort is a token list order. A leading "-" is descending. Every order breaks
// ties by id; name order is by the lower-cased name.
type Sort string

// Token list orders (API.md "List query").
const (
	SortCreatedAt          Sort = "createdAt"
	SortCreatedAtDesc      Sort = "-createdAt"
	SortName               Sort = "name"
	SortNameDesc           Sort = "-name"
	SortExpirationDate     Sort = "expirationDate"
	SortExpirationDateDesc Sort = "-expirationDate"
)

// ListOptions filters, orders and pages a token list. The zero ListOptions
// lists every token that is not deleted, newest first, 50 a page.
type ListOptions struct {
	// Status keeps the tokens with any of these statuses; none means all.
	Status []Status
	// ModelID keeps the tokens assigned to this model.
	ModelID string
	// Assigned keeps assigned (true) or unassigned (false) tokens; nil
	// means both.
	Assigned *bool
	// Query keeps the tokens whose name contains it, ignoring case.
	Query string
	// ExpiresBefore and ExpiresAfter bound the expiration date, in Unix
	// seconds; 0 means no bound.
	ExpiresBefore int64
	ExpiresAfter  int64
	// Sort is the order; "" means the service's default, SortCreatedAtDesc.
	Sort Sort
	// Limit is the page size, 1 to 1000; 0 means the service's default, 50.
	Limit int
	// Cursor continues from an earlier page's NextCursor.
	Cursor string
}

func (o ListOptions) values() url.Values {
	q := url.Values{}
	for _, s := range o.Status {
		q.Add("status", string(s))
	}
	if o.ModelID != "" {
		q.Set("modelId", o.ModelID)
	}
	if o.Assigned != nil {
		q.Set("assigned", strconv.FormatBool(*o.Assigned))
	}
	if o.Query != "" {
		q.Set("q", o.Query)
	}
	if o.ExpiresBefore != 0 {
		q.Set("expiresBefore", strconv.FormatInt(o.ExpiresBefore, 10))
	}
	if o.ExpiresAfter != 0 {
		q.Set("expiresAfter", strconv.FormatInt(o.ExpiresAfter, 10))
	}
	if o.Sort != "" {
		q.Set("sort", string(o.Sort))
	}
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

// ListTokens returns one page of the caller's tokens (GET /v1/tokens).
func (c *Client) ListTokens(ctx context.Context, o ListOptions, opts ...CallOption) (Page, error) {
	var p Page
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/tokens", query: o.values()}, opts, &p)
	return p, err
}

// AllTokens iterates over every token ListTokens would list, fetching page
// after page from o.Cursor on. A failed page is yielded as an error, and ends
// the iteration:
//
//	for tok, err := range client.AllTokens(ctx, sdk.ListOptions{Query: "bot"}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(tok.ID, tok.Name)
//	}
//
// The service guarantees that paging through a list while it changes never
// repeats or skips a token that existed throughout and whose sort key did
// not change.
func (c *Client) AllTokens(ctx context.Context, o ListOptions, opts ...CallOption) iter.Seq2[Token, error] {
	return paginate(o.Cursor, func(cursor string) ([]Token, string, error) {
		o.Cursor = cursor
		p, err := c.ListTokens(ctx, o, opts...)
		return p.Tokens, p.NextCursor, err
	})
}

// UpdateTokenRequest is a partial update of a token (PATCH): an absent field
// (the zero Optional) is left unchanged. Note and ModelID may be set to null,
// which clears the note and unassigns the model; the other fields may not,
// and UpdateToken refuses a null for them with ErrInvalidArgument before
// sending.
//
// A model can be assigned only to an unassigned token: to move a token to
// another model, unassign it (ModelID: Null) and assign it in a second call.
type UpdateTokenRequest struct {
	Name           Optional[string] `json:"name,omitzero"`
	Note           Optional[string] `json:"note,omitzero"`
	ExpirationDate Optional[int64]  `json:"expirationDate,omitzero"`
	Status         Optional[Status] `json:"status,omitzero"`
	ModelID        Optional[string] `json:"modelId,omitzero"`
}

// UpdateToken changes any of a token's fields at once (PATCH
// /v1/tokens/{id}): all or nothing, as one event. Setting a field to the
// value it has is a no-op. It is never retried (see RetryPolicy).
func (c *Client) UpdateToken(ctx context.Context, id string, u UpdateTokenRequest, opts ...CallOption) (Token, error) {
	var t Token
	if err := checkID("tokenId", id); err != nil {
		return t, err
	}
	for _, f := range []struct {
		name string
		null bool
	}{{"name", u.Name.IsNull()}, {"expirationDate", u.ExpirationDate.IsNull()}, {"status", u.Status.IsNull()}} {
		if f.null {
			return t, &Error{Code: CodeInvalidArgument, Message: f.name + ": must not be null"}
		}
	}
	err := c.do(ctx, request{method: http.MethodPatch, path: tokenPath(id), body: u, kind: write}, opts, &t)
	return t, err
}

// CancelToken cancels a token (POST /v1/tokens/{id}/cancel). Canceling is
// final: every later change is refused with ErrTokenCanceled, except
// deletion. Cancelling a canceled token succeeds and changes nothing, which
// is why the SDK retries this POST.
func (c *Client) CancelToken(ctx context.Context, id string, opts ...CallOption) (Token, error) {
	var t Token
	if err := checkID("tokenId", id); err != nil {
		return t, err
	}
	err := c.do(ctx, request{method: http.MethodPost, path: tokenPath(id) + "/cancel", kind: idempotentWrite}, opts, &t)
	return t, err
}

// AssignModel assigns an unassigned token to a model of the same account
// (PUT /v1/tokens/{id}/model). A token assigned to another model is refused
// with ErrAlreadyAssigned (unassign it first); a model the account does not
// have, with ErrInvalidArgument.
func (c *Client) AssignModel(ctx context.Context, id, modelID string, opts ...CallOption) (Token, error) {
	var t Token
	if err := checkID("tokenId", id); err != nil {
		return t, err
	}
	body := struct {
		ModelID string `json:"modelId"`
	}{modelID}
	err := c.do(ctx, request{method: http.MethodPut, path: tokenPath(id) + "/model", body: body, kind: idempotentWrite}, opts, &t)
	return t, err
}

// UnassignModel removes a token's model (DELETE /v1/tokens/{id}/model); on an
// unassigned token it is a no-op.
func (c *Client) UnassignModel(ctx context.Context, id string, opts ...CallOption) (Token, error) {
	var t Token
	if err := checkID("tokenId", id); err != nil {
		return t, err
	}
	err := c.do(ctx, request{method: http.MethodDelete, path: tokenPath(id) + "/model", kind: idempotentWrite}, opts, &t)
	return t, err
}

// DeleteToken deletes a token (DELETE /v1/tokens/{id}): it leaves every list
// and its secret stops working at once; its audit trail stays.
func (c *Client) DeleteToken(ctx context.Context, id string, opts ...CallOption) error {
	if err := checkID("tokenId", id); err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: tokenPath(id), kind: idempotentWrite, goneOK: true}, opts, nil)
}

func tokenPath(id string) string { return "/v1/tokens/" + url.PathEscape(id) }

// paginate turns a page fetcher into an iterator over items, starting at
// cursor and following next cursors until one is "".
func paginate[T any](cursor string, fetch func(cursor string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			items, next, err := fetch(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" || next == cursor {
				return
			}
			cursor = next
		}
	}
}
