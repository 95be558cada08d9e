package sdk

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// PageOptions pages a token's audit trail. The zero PageOptions starts at the
// oldest entry with the service's default page size.
type PageOptions struct {
	// Limit is the page size; 0 means the service's default.
	Limit int
	// Cursor continues from an earlier page's NextCursor.
	Cursor string
}

func (o PageOptions) values() url.Values {
	q := url.Values{}
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

// AuditOptions filters and pages an account's audit trail. The zero
// AuditOptions is the whole trail, oldest first.
type AuditOptions struct {
	// Since and Until bound the events' times in Unix seconds, both
	// inclusive; 0 means no bound.
	Since int64
	Until int64
	// Type keeps the events of one type, e.g. "TokenRenamed".
	Type string
	// Limit is the page size; 0 means the service's default.
	Limit int
	// Cursor continues from an earlier page's NextCursor.
	Cursor string
}

func (o AuditOptions) values() url.Values {
	q := PageOptions{Limit: o.Limit, Cursor: o.Cursor}.values()
	if o.Since != 0 {
		q.Set("since", strconv.FormatInt(o.Since, 10))
	}
	if o.Until != 0 {
		q.Set("until", strconv.FormatInt(o.Until, 10))
	}
	if o.Type != "" {
		q.Set("type", o.Type)
	}
	return q
}

// TokenAudit returns one page of a token's audit trail, oldest first
// (GET /v1/tokens/{id}/audit). A deleted token's trail stays readable.
func (c *Client) TokenAudit(ctx context.Context, id string, o PageOptions, opts ...CallOption) (AuditPage, error) {
	var p AuditPage
	if err := checkID("tokenId", id); err != nil {
		return p, err
	}
	err := c.do(ctx, request{method: http.MethodGet, path: tokenPath(id) + "/audit", query: o.values()}, opts, &p)
	return p, err
}

// AllTokenAudit iterates over a token's whole audit trail from o.Cursor on,
// page by page; a failed page is yielded as an error and ends the iteration.
func (c *Client) AllTokenAudit(ctx context.Context, id string, o PageOptions, opts ...CallOption) iter.Seq2[AuditEntry, error] {
	return paginate(o.Cursor, func(cursor string) ([]AuditEntry, string, error) {
		o.Cursor = cursor
		p, err := c.TokenAudit(ctx, id, o, opts...)
		return p.Entries, p.NextCursor, err
	})
}

// Audit returns one page of the caller's account's whole trail, oldest first
// (GET /v1/audit): its tokens' events and the account-level ones (accounts,
// licenses, models).
func (c *Client) Audit(ctx context.Context, o AuditOptions, opts ...CallOption) (AuditPage, error) {
	var p AuditPage
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/audit", query: o.values()}, opts, &p)
	return p, err
}

// AllAudit iterates over the account's trail from o.Cursor on, page by page;
// a failed page is yielded as an error and ends the iteration.
func (c *Client) AllAudit(ctx context.Context, o AuditOptions, opts ...CallOption) iter.Seq2[AuditEntry, error] {
	return paginate(o.Cursor, func(cursor string) ([]AuditEntry, string, error) {
		o.Cursor = cursor
		p, err := c.Audit(ctx, o, opts...)
		return p.Entries, p.NextCursor, err
	})
}
