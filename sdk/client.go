package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Version is the SDK's version, sent in the default User-Agent.
const Version = "0.1.0"

// DefaultUserAgent is the User-Agent sent unless WithUserAgent says otherwise.
const DefaultUserAgent = "tokend-sdk-go/" + Version

// maxResponseBytes bounds what the SDK reads of one answer, so that a broken
// proxy cannot make a client allocate without limit. A page of 1,000 tokens
// is well under 1 MiB.
const maxResponseBytes = 32 << 20

// Client calls the tokend HTTP API. It is safe for concurrent use by many
// goroutines; its only mutable state is the highest stream sequence its own
// writes produced (see WithReadYourWrites).
type Client struct {
	base      string
	license   string
	hc        *http.Client
	userAgent string
	retry     RetryPolicy
	ryw       bool
	lastSeq   atomic.Uint64
}

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient sets the http.Client the SDK sends with; nil means
// http.DefaultClient. Set its Timeout or Transport here; the SDK adds no
// timeout of its own beyond the context of each call.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithUserAgent sets the User-Agent header; "" keeps DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

// WithRetryPolicy replaces DefaultRetryPolicy. NoRetries turns retries off.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *Client) { c.retry = p.normalized() }
}

// WithReadYourWrites turns the automatic X-Min-Sequence on reads on (the
// default) or off.
//
// The service answers writes at once but updates its read model a moment
// later. So that a client always sees its own writes, the Client remembers the
// highest X-Sequence any of its writes answered and sends it as
// X-Min-Sequence on every later read (GET and Introspect): the service then
// waits, at most 5 s, until its read model has caught up. Turn it off for a
// client that only reads, or that prefers a possibly stale answer to waiting.
// MinSequence on one call overrides it for that call.
func WithReadYourWrites(on bool) Option {
	return func(c *Client) { c.ryw = on }
}

// New returns a Client for the service at baseURL (for example
// "https://tokend.example.com", with or without a path prefix) that
// authenticates with license, the provider's "lic_…" key. license may be ""
// for a client that only calls Introspect.
func New(baseURL, license string, opts ...Option) *Client {
	c := &Client{
		base:      strings.TrimRight(baseURL, "/"),
		license:   license,
		hc:        http.DefaultClient,
		userAgent: DefaultUserAgent,
		retry:     DefaultRetryPolicy,
		ryw:       true,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// LastSequence returns the highest X-Sequence the Client's writes have been
// answered with, 0 before any write. Pass it to MinSequence on another Client
// (or another process) to make it read this one's writes.
func (c *Client) LastSequence() uint64 { return c.lastSeq.Load() }

// Meta is what the headers of an answer say besides its body. Get it with
// WithResponseMeta.
type Meta struct {
	// StatusCode is the HTTP status of the last answer.
	StatusCode int
	// Version is the ETag header's version, 0 when absent: the token's for
	// token calls (pass it to IfMatch), the account's for model, license and
	// account writes.
	Version int64
	// Sequence is the X-Sequence header, 0 when absent: the stream sequence
	// of the write's last event. Pass it to MinSequence.
	Sequence uint64
	// RequestID is the X-Request-Id header, "" when absent.
	RequestID string
	// Attempts is how many times the SDK sent the request (1 unless it
	// retried).
	Attempts int
}

// CallOption adjusts one call.
type CallOption func(*callConfig)

type callConfig struct {
	ifMatch    int64
	hasIfMatch bool
	minSeq     uint64
	hasMinSeq  bool
	meta       *Meta
	idemKey    string
}

// IfMatch makes a write conditional: it fails with ErrVersionConflict (412)
// when the token's version is no longer version. Reads ignore it.
func IfMatch(version int64) CallOption {
	return func(cc *callConfig) { cc.ifMatch, cc.hasIfMatch = version, true }
}

// MinSequence makes a read wait until the service's read model has applied
// stream sequence seq (X-Min-Sequence), replacing the Client's automatic
// read-your-writes value for this call; MinSequence(0) sends none. Writes
// ignore it.
func MinSequence(seq uint64) CallOption {
	return func(cc *callConfig) { cc.minSeq, cc.hasMinSeq = seq, true }
}

// IdempotencyKey sets the Idempotency-Key of a write: a UUID such as
// "3b241101-e2bb-4255-8caf-4136c566a962". The service carries out one command
// per key (per account and endpoint), and answers a repeat with the first
// outcome instead of acting again. Without it the SDK draws a random key per
// call, the same on each of its own retries; pass your own to make a retry
// of yours, perhaps from another process, safe: a repeated CreateToken then
// answers the token without its secret (which only the first answer had)
// rather than issuing a second one. Reads ignore it.
func IdempotencyKey(key string) CallOption {
	return func(cc *callConfig) { cc.idemKey = key }
}

// WithResponseMeta fills *m with the headers of the call's answer, also when
// the call fails with an *Error. An iterator fills it for each page.
func WithResponseMeta(m *Meta) CallOption {
	return func(cc *callConfig) { cc.meta = m }
}

// kind says how a call may be retried and whether it reads.
type kind uint8

const (
	// read: no side effect; retried; sends X-Min-Sequence.
	read kind = iota
	// idempotentWrite: repeating it leaves the same state (PUT, DELETE,
	// cancel); retried, but not after a dropped connection when conditional,
	// since a first attempt that landed would make the retry a conflict.
	idempotentWrite
	// write: never retried (creations and PATCH).
	write
)

// request is one API call.
type request struct {
	method string
	path   string
	query  url.Values
	body   any // JSON-encoded when non-nil
	kind   kind
	noAuth bool
	// goneOK makes a 404 answered to a retry after a dropped connection a
	// success: the first attempt may have deleted the thing.
	goneOK bool
}

// do sends r, retrying as the policy and r.kind allow, and decodes a 2xx
// body into out when out is non-nil.
func (c *Client) do(ctx context.Context, r request, opts []CallOption, out any) error {
	var cc callConfig
	for _, o := range opts {
		o(&cc)
	}
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("tokend: encode %s %s: %w", r.method, r.path, err)
		}
	}
	target := c.base + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var minSeq uint64
	if r.kind == read {
		if cc.hasMinSeq {
			minSeq = cc.minSeq
		} else if c.ryw {
			minSeq = c.lastSeq.Load()
		}
	}

	idemKey := cc.idemKey
	if r.kind != read && idemKey == "" {
		idemKey = newUUID()
	}

	dropped := false // an earlier attempt lost its connection
	for attempt := 1; ; attempt++ {
		var body io.Reader
		if payload != nil {
			body = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, target, body)
		if err != nil {
			return fmt.Errorf("tokend: %s %s: %w", r.method, r.path, err)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", c.userAgent)
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if !r.noAuth && c.license != "" {
			req.Header.Set("Authorization", "Bearer "+c.license)
		}
		if cc.hasIfMatch && r.kind != read {
			req.Header.Set("If-Match", strconv.Quote(strconv.FormatInt(cc.ifMatch, 10)))
		}
		if idemKey != "" {
			req.Header.Set("Idempotency-Key", idemKey)
		}
		if minSeq > 0 {
			req.Header.Set("X-Min-Sequence", strconv.FormatUint(minSeq, 10))
		}

		status, header, respBody, err := c.send(req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("tokend: %s %s: %w", r.method, r.path, ctx.Err())
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // its text repeats the method and URL
			}
			// A refused connection never carried the request, so any call
			// may be repeated; a dropped one may have, so only those whose
			// repetition is harmless are.
			refused := errors.Is(err, syscall.ECONNREFUSED)
			retryable := refused || r.kind == read || (r.kind == idempotentWrite && !cc.hasIfMatch)
			if retryable && attempt < c.retry.MaxAttempts {
				dropped = dropped || !refused
				if werr := sleep(ctx, c.retry.backoff(attempt)); werr != nil {
					return fmt.Errorf("tokend: %s %s: %w", r.method, r.path, werr)
				}
				continue
			}
			return fmt.Errorf("tokend: %s %s: %w", r.method, r.path, err)
		}
		if cc.meta != nil {
			*cc.meta = metaOf(status, header, attempt)
		}

		if status >= 200 && status < 300 {
			if r.kind != read {
				c.noteSequence(header)
			}
			if out != nil && status != http.StatusNoContent {
				if err := json.Unmarshal(respBody, out); err != nil {
					return fmt.Errorf("tokend: %s %s: decode answer: %w", r.method, r.path, err)
				}
			}
			return nil
		}

		apiErr := parseError(status, header, respBody)
		if attempt < c.retry.MaxAttempts {
			if status == http.StatusServiceUnavailable && r.kind != write {
				if werr := sleep(ctx, c.retry.backoff(attempt)); werr != nil {
					return apiErr
				}
				continue
			}
			if status == http.StatusTooManyRequests && c.retry.RetryRateLimited {
				// A 429 is refused before anything happens, so any call may
				// be repeated, creations included.
				wait := c.retry.backoff(attempt)
				if ra, ok := retryAfter(header.Get("Retry-After"), time.Now()); ok {
					wait = ra
				}
				if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
					return apiErr // waiting would outlive the caller
				}
				if werr := sleep(ctx, wait); werr != nil {
					return apiErr
				}
				continue
			}
		}
		if r.goneOK && dropped && status == http.StatusNotFound {
			return nil
		}
		return apiErr
	}
}

// send performs one attempt and reads the whole answer, so that a connection
// dropped mid-body counts as a dropped connection, not as a bad answer.
func (c *Client) send(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// noteSequence raises lastSeq to the answer's X-Sequence.
func (c *Client) noteSequence(h http.Header) {
	seq, err := strconv.ParseUint(h.Get("X-Sequence"), 10, 64)
	if err != nil || seq == 0 {
		return
	}
	for {
		cur := c.lastSeq.Load()
		if seq <= cur || c.lastSeq.CompareAndSwap(cur, seq) {
			return
		}
	}
}

func metaOf(status int, h http.Header, attempts int) Meta {
	m := Meta{StatusCode: status, RequestID: h.Get("X-Request-Id"), Attempts: attempts}
	m.Version, _ = parseETag(h.Get("ETag"))
	m.Sequence, _ = strconv.ParseUint(h.Get("X-Sequence"), 10, 64)
	return m
}

// parseETag reads `"7"` or `W/"7"`.
func parseETag(s string) (int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// parseError builds the *Error of a non-2xx answer, from the API's error
// body when there is one and from the status otherwise.
func parseError(status int, h http.Header, body []byte) *Error {
	e := &Error{Status: status, RequestID: h.Get("X-Request-Id")}
	var wire struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &wire) == nil && wire.Error != nil && wire.Error.Code != "" {
		e.Code, e.Message = wire.Error.Code, wire.Error.Message
		return e
	}
	e.Code = codeForStatus(status)
	if msg := strings.TrimSpace(string(body)); msg != "" && len(msg) <= 200 && !strings.ContainsAny(msg, "<\n") {
		e.Message = msg
	} else {
		e.Message = http.StatusText(status)
	}
	return e
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkID refuses an empty id before sending: it would address the
// collection instead of an item. The error matches ErrInvalidArgument and has
// Status 0, since the service never saw the call.
func checkID(field, id string) error {
	if strings.TrimSpace(id) == "" {
		return &Error{Code: CodeInvalidArgument, Message: field + ": must not be empty"}
	}
	return nil
}
