package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/tokend/tokend/internal/openapitest"
)

// recorder is a RoundTripper that keeps every exchange it carries.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	log  []openapitest.Exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, x, err := openapitest.RoundTrip(r.base, req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.log = append(r.log, x)
	r.mu.Unlock()
	return res, nil
}

// validateAgainstOpenAPI puts a recording proxy in front of s, so that every
// request of the test — tokenctl's and the SDK's alike — goes through it,
// and when the test ends checks each exchange against docs/openapi.yaml
// (openapitest.Check): the answer must be one the document declares for its
// operation and status (headers and body schema included), and a request
// that succeeded must be one the document describes.
func validateAgainstOpenAPI(t *testing.T, s *service) {
	t.Helper()
	router, err := openapitest.Router()
	if err != nil {
		t.Fatal(err)
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
			op, err := openapitest.Check(router, x)
			if err != nil {
				t.Errorf("openapi: %v", err)
			}
			if op != "" {
				ops[op] = true
			}
		}
		t.Logf("openapi: %d exchanges over %d operations validated against docs/openapi.yaml", len(rec.log), len(ops))
	})
}
