// Package openapitest checks real HTTP exchanges against docs/openapi.yaml,
// the document the server serves: the HTTP API's own tests and the
// end-to-end run validate every request and answer they make with it.
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/tokend/tokend/docs"
)

var (
	once      sync.Once
	theRouter routers.Router
	loadErr   error
)

// Router loads the embedded docs/openapi.yaml once, validates it as OpenAPI
// 3.1 and returns a router over its operations.
func Router() (routers.Router, error) {
	once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
		if err == nil {
			err = doc.Validate(context.Background())
		}
		if err != nil {
			loadErr = fmt.Errorf("docs/openapi.yaml: %w", err)
			return
		}
		theRouter, loadErr = legacy.NewRouter(doc)
	})
	return theRouter, loadErr
}

// Exchange is one request and its answer, as they crossed the wire.
type Exchange struct {
	Request     *http.Request
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// RoundTrip sends req through base and returns the answer, with its body
// still readable, and the exchange.
func RoundTrip(base http.RoundTripper, req *http.Request) (*http.Response, Exchange, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, Exchange{}, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := base.RoundTrip(req)
	if err != nil {
		return nil, Exchange{}, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, Exchange{}, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, Exchange{Request: req.Clone(context.Background()), RequestBody: reqBody, Status: res.StatusCode, Header: res.Header.Clone(), Body: body}, nil
}

// ErrNoOperation is the error of Check for an exchange whose request names
// no operation of the document.
var ErrNoOperation = errors.New("the document has no such operation")

// Check validates an exchange against the document: its answer must be one
// the document declares for the operation and status (headers and body
// schema included), and a request that succeeded must be one the document
// describes. It returns the operation ("GET /v1/tokens/{id}") and every
// mismatch it found.
func Check(router routers.Router, x Exchange) (operation string, err error) {
	req := x.Request.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(x.RequestBody))
	route, params, ferr := router.FindRoute(req)
	if ferr != nil {
		return "", fmt.Errorf("%s %s answered %d: %w (%v)", req.Method, req.URL.Path, x.Status, ErrNoOperation, ferr)
	}
	operation = route.Method + " " + route.Path
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	var errs []error
	if x.Status < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			errs = append(errs, fmt.Errorf("request %s %s (answered %d) does not match the document: %w", req.Method, req.URL.Path, x.Status, err))
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 x.Status,
		Header:                 x.Header,
		Body:                   io.NopCloser(bytes.NewReader(x.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		errs = append(errs, fmt.Errorf("answer %d to %s %s does not match the document: %w\nbody: %.500s", x.Status, req.Method, req.URL.Path, err, x.Body))
	}
	return operation, errors.Join(errs...)
}
