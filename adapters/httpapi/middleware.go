package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/domain"
)

type ctxKey struct{}

// requestIDOf returns the id given to r by ServeHTTP, "" outside it.
func requestIDOf(r *http.Request) string {
	id, _ := r.Context().Value(ctxKey{}).(string)
	return id
}

// requestIDs draws request ids: a random prefix per process and a counter,
// unique without a syscall per request.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (g *requestIDs) next() string {
	return g.prefix + strconv.FormatUint(g.n.Add(1), 10)
}

// usableRequestID reports whether a client's X-Request-Id can be echoed and
// logged as it is: 1 to 128 visible ASCII characters. Anything else is
// replaced, so that a header cannot forge log lines or bloat them.
func usableRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ServeHTTP gives the request an id (the client's X-Request-Id when usable),
// routes it, answers unmatched routes with JSON errors, recovers panics as
// 500s, and then counts and logs it. The log line holds the method, route
// pattern, path, status and duration — never a header or a body, so never a
// license or a secret.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !usableRequestID(id) {
		id = s.ids.next()
	}
	w.Header().Set("X-Request-Id", id)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
	sw := &statusWriter{ResponseWriter: w, r: r}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "panic",
				slog.String("requestId", id), slog.String("route", r.Pattern), slog.Any("panic", p))
			if !sw.wrote {
				s.writeError(sw, r, domain.ErrInternal)
			}
		}
		s.finish(sw, r, start)
	}()
	s.mux.ServeHTTP(sw, r)
}

// finish counts and logs an answered request.
func (s *Server) finish(sw *statusWriter, r *http.Request, start time.Time) {
	d := time.Since(start)
	route := r.Pattern // set by the mux on this very request
	if route == "" {
		route = "unmatched"
	}
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	s.metrics.observeRequest(route, status, d)
	if !s.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("requestId", requestIDOf(r)),
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.String("path", r.URL.Path), // the path holds ids only; the query is left out
		slog.Int("status", status),
		slog.Float64("durationMs", float64(d.Microseconds())/1000),
		slog.String("remote", s.clientAddr(r)),
	)
}

// statusWriter records the status, and turns the mux's own plain-text 404
// and 405 answers (for paths or methods no route matches) into the API's
// JSON errors, keeping the Allow header the mux sets on a 405.
type statusWriter struct {
	http.ResponseWriter
	r       *http.Request
	status  int
	wrote   bool
	swallow bool // the mux's plain-text body is being replaced
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wrote {
		w.ResponseWriter.WriteHeader(code) // let net/http complain as usual
		return
	}
	w.wrote = true
	w.status = code
	if w.r.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.swallow = true
		var e *domain.Error
		if code == http.StatusMethodNotAllowed {
			e = &domain.Error{Code: codeMethodNotAllowed, Message: "method " + w.r.Method + " is not allowed here; see the Allow header"}
		} else {
			e = &domain.Error{Code: domain.CodeNotFound, Message: "no such route"}
		}
		h := w.Header()
		h.Del("X-Content-Type-Options")
		h.Set("Content-Type", "application/json")
		b, _ := json.Marshal(errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}})
		b = append(b, '\n')
		h.Set("Content-Length", strconv.Itoa(len(b)))
		w.ResponseWriter.WriteHeader(code)
		_, _ = w.ResponseWriter.Write(b)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes through (promhttp and streaming answers use them).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// writeJSON answers v as JSON with status. encoding/json's HTML escaping is
// off: the answers are not embedded in HTML, and "<" reads better than
// "\u003c" in a name.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// marshalJSON encodes v without HTML escaping, ending in a newline.
func marshalJSON(v any) ([]byte, error) {
	if m, ok := v.(json.Marshaler); ok {
		// Its own encoding as it is: the Encoder would check and compact
		// it again, byte by byte, for the same bytes (a third of
		// introspection's handler in its profile).
		b, err := m.MarshalJSON()
		if err != nil {
			return nil, err
		}
		return append(b, '\n'), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
