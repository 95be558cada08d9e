package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/tokend/tokend/docs"
)

// exchange is one request of the run and its answer, as they crossed the wire.
type exchange struct {
	req     *http.Request
	reqBody []byte
	status  int
	header  http.Header
	body    []byte
}

// recorder is a RoundTripper that keeps every exchange it carries.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	log  []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.log = append(r.log, exchange{req: req.Clone(context.Background()), reqBody: reqBody, status: res.StatusCode, header: res.Header.Clone(), body: body})
	r.mu.Unlock()
	return res, nil
}

// validateAgainstOpenAPI puts a recording proxy in front of s, so that every
// request of the test — tokenctl's and the SDK's alike — goes through it,
// and when the test ends checks each exchange against docs/openapi.yaml:
// the answer must be one the document declares for its operation and status
// (headers and body schema included), and a request that succeeded must be
// one the document describes.
func validateAgainstOpenAPI(t *testing.T, s *service) {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}

	target, _ := url.Parse(s.url)
	rec := &recorder{base: http.DefaultTransport}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = rec
	front := httptest.NewServer(proxy)
	s.url = front.URL

	t.Cleanup(func() {
		front.Close()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.log) == 0 {
			t.Error("openapi: no exchange recorded")
		}
		ops := map[string]bool{}
		for _, x := range rec.log {
			req := x.req.Clone(context.Background())
			req.Body = io.NopCloser(bytes.NewReader(x.reqBody))
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Errorf("openapi: %s %s answered %d but the document has no such operation: %v", req.Method, req.URL.Path, x.status, err)
				continue
			}
			ops[route.Method+" "+route.Path] = true
			in := &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			}
			if x.status < 300 {
				if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
					t.Errorf("openapi: request %s %s (answered %d) does not match the document: %v", req.Method, req.URL.Path, x.status, err)
				}
			}
			out := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: in,
				Status:                 x.status,
				Header:                 x.header,
				Body:                   io.NopCloser(bytes.NewReader(x.body)),
				Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
			}
			if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
				t.Errorf("openapi: answer %d to %s %s does not match the document: %v\nbody: %.500s", x.status, req.Method, req.URL.Path, err, x.body)
			}
		}
		t.Logf("openapi: %d exchanges over %d operations validated against docs/openapi.yaml", len(rec.log), len(ops))
	})
}
