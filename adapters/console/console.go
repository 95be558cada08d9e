// Package console is tokend's web console: a small plain-JavaScript app on
// the JSON API, for providers to manage their tokens and models. Its files
// (static/) are embedded in the binary and served by the HTTP API's router:
// the page at "/" and its assets under "/console/". There is no build step
// and nothing is loaded from outside the machine.
//
// Every answer carries a strict Content-Security-Policy (scripts, styles
// and connections from this origin only, no inline code, no framing, Trusted
// Types enforced) and the other hardening headers of securityHeaders. The
// console signs in with a license that the browser keeps in session storage
// and sends as a Bearer header; see docs/console.md for why.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is the path under which the console's assets are served. The page
// itself is served at "/".
const Prefix = "/console/"

// ContentSecurityPolicy is the policy of every console answer. Scripts,
// styles, images and fetches come from this origin only; there is no inline
// script or style (so no 'unsafe-inline'), no eval, no plugins, no <base>,
// and the console cannot be framed (clickjacking). Trusted Types are
// required with no policy allowed, so that a string can never reach an HTML
// or script sink such as innerHTML: the app builds its DOM with
// createElement and textContent only.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"

// securityHeaders are set on every console answer, 404s included.
var securityHeaders = map[string]string{
	"Content-Security-Policy":      ContentSecurityPolicy,
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"X-Frame-Options":              "DENY", // frame-ancestors for browsers that predate it
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Permissions-Policy":           "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

// contentTypes are the types of the embedded files, fixed here rather than
// read from the machine's mime.types, which may differ.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// asset is one embedded file with what its answer needs.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the console: GET or HEAD "/" is the page, "/console/<file>"
// its assets; any other path under Prefix is a plain 404. Answers are
// revalidated on every load (Cache-Control: no-cache with a content ETag),
// so a new binary's console is picked up at once.
func Handler() http.Handler {
	assets := map[string]asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype, ok := contentTypes[path.Ext(p)]
		if !ok {
			ctype = "application/octet-stream"
		}
		assets[strings.TrimPrefix(p, "static/")] = asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("console: reading the embedded files: " + err.Error()) // they were checked at build time
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range securityHeaders {
			h.Set(k, v)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := ""
		switch {
		case r.URL.Path == "/":
			name = "index.html"
		case strings.HasPrefix(r.URL.Path, Prefix):
			name = strings.TrimPrefix(r.URL.Path, Prefix)
		}
		a, ok := assets[name]
		if !ok || name == "index.html" && r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(a.body)
		}
	})
}

// etagMatches reports whether an If-None-Match list names tag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatches(list, tag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}
