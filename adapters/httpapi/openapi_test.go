package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/tokend/tokend/docs"
	"github.com/tokend/tokend/internal/openapitest"
)

// openAPIRouter returns the router over docs/openapi.yaml (openapitest).
func openAPIRouter(t testing.TB) routers.Router {
	t.Helper()
	router, err := openapitest.Router()
	if err != nil {
		t.Fatal(err)
	}
	return router
}

// validatingTransport checks every real exchange of the tests against
// docs/openapi.yaml (openapitest.Check). Requests no operation matches must
// have been answered 404 or 405.
type validatingTransport struct {
	t      testing.TB
	base   http.RoundTripper
	router routers.Router
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, x, err := openapitest.RoundTrip(v.base, req)
	if err != nil {
		return nil, err
	}
	notFound := res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed
	if unmatched(x.Status, x.Body) {
		// The document's router is more lenient than net/http's (it takes
		// /v1/tokens/ for /v1/tokens); the server said no route matched.
		return res, nil
	}
	if _, err := openapitest.Check(v.router, x); err != nil && !(notFound && errors.Is(err, openapitest.ErrNoOperation)) {
		v.t.Errorf("openapi: %v", err)
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
