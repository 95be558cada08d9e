package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/tokend/tokend/docs"
)

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

// openAPIRouter loads docs/openapi.yaml (the embedded copy the server
// serves), validates it as OpenAPI 3.1 and returns a router over it.
func openAPIRouter(t testing.TB) routers.Router {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(docs.OpenAPI)
		if err != nil {
			specErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			specErr = err
			return
		}
		specRouter, specErr = legacy.NewRouter(doc)
	})
	if specErr != nil {
		t.Fatalf("docs/openapi.yaml: %v", specErr)
	}
	return specRouter
}

// validatingTransport checks every real exchange of the tests against
// docs/openapi.yaml: each answer must be one the document declares for its
// operation and status (status, headers, body schema), and each request that
// succeeded must be one the document describes. Requests no route matches
// must have been answered 404 or 405.
type validatingTransport struct {
	t      testing.TB
	base   http.RoundTripper
	router routers.Router
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))

	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := v.router.FindRoute(vreq)
	if err == nil && unmatched(res.StatusCode, body) {
		// The document's router is more lenient than net/http's (it takes
		// /v1/tokens/ for /v1/tokens); the server said no route matched.
		err = errors.New("no route in the server")
	}
	if err != nil {
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
			v.t.Errorf("openapi: %s %s answered %d but the document has no such operation: %v", req.Method, req.URL.Path, res.StatusCode, err)
		}
		return res, nil
	}
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	if res.StatusCode < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			v.t.Errorf("openapi: request %s %s (answered %d) does not match the document: %v", req.Method, req.URL.Path, res.StatusCode, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		v.t.Errorf("openapi: answer %d to %s %s does not match the document: %v\nbody: %.500s", res.StatusCode, req.Method, req.URL.Path, err, body)
	}
	return res, nil
}

// unmatched reports whether an answer is the server's own for a request no
// route matched: a 405, or a 404 saying so.
func unmatched(status int, body []byte) bool {
	return status == http.StatusMethodNotAllowed ||
		status == http.StatusNotFound && bytes.Contains(body, []byte(`"no such route"`))
}

// TestOpenAPIDocument: the served document is the embedded one and loads
// as valid OpenAPI 3.1; every route the server has is in it.
func TestOpenAPIDocument(t *testing.T) {
	router := openAPIRouter(t)
	s := newStack(t)
	r := s.must(200, req{method: "GET", path: "/openapi.yaml"})
	if !bytes.Equal(r.body, docs.OpenAPI) || r.header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("served document differs from docs/openapi.yaml (%s)", r.header.Get("Content-Type"))
	}
	for _, route := range []string{
		"GET /v1/account", "POST /v1/accounts", "GET /v1/licenses", "POST /v1/licenses", "DELETE /v1/licenses/x",
		"POST /v1/models", "GET /v1/models", "GET /v1/models/x", "POST /v1/tokens", "GET /v1/tokens",
		"GET /v1/tokens/x", "PATCH /v1/tokens/x", "DELETE /v1/tokens/x", "POST /v1/tokens/x/cancel",
		"PUT /v1/tokens/x/model", "DELETE /v1/tokens/x/model", "GET /v1/tokens/x/audit", "GET /v1/audit",
		"POST /v1/introspect", "GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.yaml",
	} {
		method, path, _ := bytes.Cut([]byte(route), []byte(" "))
		hr, _ := http.NewRequest(string(method), "http://localhost"+string(path), nil)
		if _, _, err := router.FindRoute(hr); err != nil {
			t.Errorf("%s is not in docs/openapi.yaml: %v", route, err)
		}
	}
}

// TestOpenAPIValidatorBites: the validation the transport does refuses an
// answer the document does not allow, so a passing suite means something.
func TestOpenAPIValidatorBites(t *testing.T) {
	router := openAPIRouter(t)
	hr, _ := http.NewRequest("GET", "http://localhost/v1/tokens/abc", nil)
	route, params, err := router.FindRoute(hr)
	if err != nil {
		t.Fatal(err)
	}
	check := func(status int, body string, h http.Header) error {
		return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route},
			Status:                 status, Header: h, Body: io.NopCloser(bytes.NewReader([]byte(body))),
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		})
	}
	h := http.Header{"Content-Type": {"application/json"}, "Etag": {`"1"`}}
	good := `{"id":"a","name":"n","note":null,"expirationDate":1,"status":"ACTIVE","expired":false,"modelId":null,"modelName":null,"secretHint":"tkn_abcd","createdAt":1,"updatedAt":1,"version":1}`
	if err := check(200, good, h); err != nil {
		t.Fatalf("a good view refused: %v", err)
	}
	for name, c := range map[string]struct {
		status int
		body   string
	}{
		"extra field":      {200, strings.Replace(good, `"id":"a"`, `"id":"a","secret":"x"`, 1)},
		"lower-case state": {200, strings.Replace(good, "ACTIVE", "active", 1)},
		"undeclared 418":   {418, `{}`},
		"bad error code":   {404, `{"error":{"code":"nope","message":"m"}}`},
	} {
		if err := check(c.status, c.body, h); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
