package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tokend/tokend/adapters/console"
)

// get does one request against h and returns the recorded answer.
func get(h http.Handler, method, path string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHandler: the page, its assets, their types, the security headers on
// every answer, revalidation with ETags, and 404s for anything else.
func TestHandler(t *testing.T) {
	h := console.Handler()
	for _, c := range []struct {
		path, ctype string
	}{
		{"/", "text/html; charset=utf-8"},
		{"/console/app.js", "text/javascript; charset=utf-8"},
		{"/console/api.js", "text/javascript; charset=utf-8"},
		{"/console/format.js", "text/javascript; charset=utf-8"},
		{"/console/app.css", "text/css; charset=utf-8"},
		{"/console/favicon.svg", "image/svg+xml"},
	} {
		w := get(h, "GET", c.path, nil)
		if w.Code != 200 || w.Header().Get("Content-Type") != c.ctype || w.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", c.path, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
		}
		checkSecurityHeaders(t, c.path, w.Header())
		if w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q", c.path, w.Header().Get("Cache-Control"))
		}
		tag := w.Header().Get("ETag")
		if w2 := get(h, "GET", c.path, map[string]string{"If-None-Match": tag}); tag == "" || w2.Code != 304 || w2.Body.Len() != 0 {
			t.Errorf("GET %s If-None-Match %s: %d", c.path, tag, w2.Code)
		}
		if w3 := get(h, "HEAD", c.path, nil); w3.Code != 200 || w3.Body.Len() != 0 || w3.Header().Get("Content-Length") == "" {
			t.Errorf("HEAD %s: %d, %d bytes", c.path, w3.Code, w3.Body.Len())
		}
	}
	for _, p := range []string{"/console/", "/console/index.html", "/console/nope.js", "/console/../go.mod", "/index.html"} {
		w := get(h, "GET", p, nil)
		if w.Code != 404 {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
		checkSecurityHeaders(t, p, w.Header())
	}
	if w := get(h, "POST", "/", nil); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

func checkSecurityHeaders(t *testing.T, path string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "require-trusted-types-for 'script'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", path, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-") || strings.Contains(csp, "http:") || strings.Contains(csp, "https:") || strings.Contains(csp, "*") {
		t.Errorf("%s: CSP %q allows inline code or other origins", path, csp)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if h.Get(k) != v {
			t.Errorf("%s: %s = %q, want %q", path, k, h.Get(k), v)
		}
	}
}

// TestAssetsAreSelfContained: the page loads only same-origin files that
// exist, and no file holds inline script or style, an event-handler
// attribute, an outside URL or an HTML sink — what the CSP forbids, checked
// here too so that a mistake fails a test and not only a browser's console.
func TestAssetsAreSelfContained(t *testing.T) {
	h := console.Handler()
	page := get(h, "GET", "/", nil).Body.String()
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("the page references %d files", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if strings.HasPrefix(ref, "#") {
			continue
		}
		if !strings.HasPrefix(ref, console.Prefix) {
			t.Errorf("the page references %q, outside %s", ref, console.Prefix)
			continue
		}
		if w := get(h, "GET", ref, nil); w.Code != 200 {
			t.Errorf("the page references %q: %d", ref, w.Code)
		}
	}
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`<script>|<script [^>]*>[^<]`), // inline script
		regexp.MustCompile(`<style|\sstyle=`),             // inline style
		regexp.MustCompile(`\son[a-z]+=`),                 // event-handler attributes
		regexp.MustCompile(`https?://`),                   // other origins
		regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`),
		regexp.MustCompile(`setAttribute\('style'|\.cssText`),
	}
	for _, name := range []string{"/", "/console/app.js", "/console/api.js", "/console/format.js", "/console/app.css"} {
		body, _ := io.ReadAll(get(h, "GET", name, nil).Body)
		for _, re := range forbidden {
			if loc := re.FindIndex(body); loc != nil {
				t.Errorf("%s holds %q, which the CSP forbids", name, body[loc[0]:loc[1]])
			}
		}
	}
}

// TestMountedInAPI: in the real server the console answers "/" and its
// assets, while unknown routes — under /v1/ too — keep the API's JSON 404
// and the API's answers keep their own headers.
func TestMountedInAPI(t *testing.T) {
	s := newStack(t)
	for _, c := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/", 200, "text/html; charset=utf-8"},
		{"/console/app.js", 200, "text/javascript; charset=utf-8"},
		{"/v1/nope", 404, "application/json"},
		{"/v1/tokens/a/b/c", 404, "application/json"},
		{"/nope", 404, "application/json"},
		{"/healthz", 200, ""},
	} {
		res, err := http.Get(s.url + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status || c.ctype != "" && res.Header.Get("Content-Type") != c.ctype {
			t.Errorf("GET %s: %d %q: %.80s", c.path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		if c.ctype == "application/json" && !strings.Contains(string(body), `"not_found"`) {
			t.Errorf("GET %s: %s", c.path, body)
		}
		if strings.HasPrefix(c.ctype, "text/") && res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no CSP", c.path)
		}
	}
	// A write to "/" is the API's JSON 405, not the console's.
	req, _ := http.NewRequest("POST", s.url+"/", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("POST /: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
