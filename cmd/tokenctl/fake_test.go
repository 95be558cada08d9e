package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeTokend is a small in-memory stand-in for the service: enough of the
// API for tokenctl's commands, with the contract's error codes, ETag and
// X-Sequence. It records every request.
type fakeTokend struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	seq    uint64
	nextID int
	tokens map[string]map[string]any
	models map[string]string
	reqs   []fakeReq
	// behind makes every read that asks for a sequence answer
	// projection_behind, as a read model that never catches up.
	behind bool
	// fail, when set, answers every request with this status and code.
	fail struct {
		status int
		code   string
	}
}

type fakeReq struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

const fakeLicense = "lic_fake"

func newFakeTokend(t *testing.T) *fakeTokend {
	f := &fakeTokend{t: t, tokens: map[string]map[string]any{}, models: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTokend) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// find returns the first recorded request with this method and path.
func (f *fakeTokend) find(method, path string) (fakeReq, bool) {
	for _, r := range f.requests() {
		if r.Method == method && r.Path == path {
			return r, true
		}
	}
	return fakeReq{}, false
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, msg)
}

func (f *fakeTokend) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, fakeReq{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
	if f.fail.status != 0 {
		apiError(w, f.fail.status, f.fail.code, "scripted failure")
		return
	}
	if r.URL.Path != "/v1/introspect" && r.Header.Get("Authorization") != "Bearer "+fakeLicense {
		apiError(w, 401, "unauthenticated", "a valid license is required")
		return
	}
	if ms := r.Header.Get("X-Min-Sequence"); ms != "" {
		if n, _ := strconv.ParseUint(ms, 10, 64); n > f.seq || f.behind {
			apiError(w, 503, "projection_behind", "behind")
			return
		}
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	write := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	event := func(tok map[string]any) {
		f.seq++
		w.Header().Set("X-Sequence", strconv.FormatUint(f.seq, 10))
		if tok != nil {
			tok["version"] = tok["version"].(int) + 1
			w.Header().Set("ETag", fmt.Sprintf(`"%d"`, tok["version"]))
		}
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // v1, tokens, id, …
	route := r.Method + " " + r.URL.Path
	var tok map[string]any
	if len(parts) > 2 && parts[1] == "tokens" {
		route = r.Method + " /v1/tokens/{id}"
		if len(parts) > 3 {
			route += "/" + strings.Join(parts[3:], "/")
		}
		if tok = f.tokens[parts[2]]; tok == nil {
			apiError(w, 404, "not_found", "token "+parts[2]+" not found")
			return
		}
	}
	switch route {
	case "GET /v1/account":
		write(200, map[string]any{"id": "acct1", "name": "default"})
	case "POST /v1/models":
		f.nextID++
		id := fmt.Sprint("m", f.nextID)
		f.models[id] = in["name"].(string)
		event(nil)
		write(201, map[string]any{"id": id, "name": in["name"]})
	case "POST /v1/tokens":
		f.nextID++
		id := fmt.Sprint("t", f.nextID)
		tok = map[string]any{"id": id, "name": in["name"], "note": in["note"], "expirationDate": in["expirationDate"],
			"status": "ACTIVE", "expired": false, "modelId": nil, "modelName": nil, "secretHint": "tkn_Secr",
			"createdAt": 1800000000 + f.nextID, "updatedAt": 1800000000, "version": 0}
		f.tokens[id] = tok
		event(tok)
		write(201, map[string]any{"token": tok, "secret": "tkn_SecretValue" + id})
	case "GET /v1/tokens":
		var ids []string
		for id := range f.tokens {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit == 0 {
			limit = 50
		}
		page := []any{}
		var next any
		for i := start; i < len(ids); i++ {
			if len(page) == limit {
				next = strconv.Itoa(i)
				break
			}
			page = append(page, f.tokens[ids[i]])
		}
		write(200, map[string]any{"tokens": page, "nextCursor": next})
	case "GET /v1/tokens/{id}":
		write(200, tok)
	case "PATCH /v1/tokens/{id}":
		if im := r.Header.Get("If-Match"); im != "" && im != fmt.Sprintf(`"%d"`, tok["version"]) {
			apiError(w, 412, "version_conflict", "the token has changed since the given version")
			return
		}
		if m, ok := in["modelId"].(string); ok && tok["modelId"] != nil && tok["modelId"] != m {
			apiError(w, 409, "already_assigned", "the token is already assigned to another model: unassign it first")
			return
		}
		for k, v := range in {
			tok[k] = v
		}
		if st, ok := in["status"].(string); ok {
			tok["status"] = strings.ToUpper(st)
		}
		event(tok)
		write(200, tok)
	case "POST /v1/tokens/{id}/cancel":
		tok["status"] = "CANCELED"
		event(tok)
		write(200, tok)
	case "PUT /v1/tokens/{id}/model":
		if tok["modelId"] != nil && tok["modelId"] != in["modelId"] {
			apiError(w, 409, "already_assigned", "the token is already assigned to another model: unassign it first")
			return
		}
		tok["modelId"], tok["modelName"] = in["modelId"], f.models[in["modelId"].(string)]
		event(tok)
		write(200, tok)
	case "DELETE /v1/tokens/{id}/model":
		tok["modelId"], tok["modelName"] = nil, nil
		event(tok)
		write(200, tok)
	case "DELETE /v1/tokens/{id}":
		delete(f.tokens, parts[2])
		event(tok)
		w.WriteHeader(204)
	case "GET /v1/tokens/{id}/audit", "GET /v1/audit":
		write(200, map[string]any{"entries": []any{map[string]any{
			"sequence": 7, "eventId": "e7", "type": "TokenRenamed", "tokenId": "t1", "at": "2026-11-26T21:00:00.5Z",
			"actor": map[string]any{"kind": "license", "id": "l1"}, "commandId": "c7",
			"changes": map[string]any{"name": map[string]any{"from": "old", "to": "new"}, "note": map[string]any{"from": nil, "to": "x"}},
		}}, "nextCursor": nil})
	case "POST /v1/introspect":
		for _, t := range f.tokens {
			if in["token"] == "tkn_SecretValue"+t["id"].(string) && t["status"] == "ACTIVE" {
				out := map[string]any{"active": true}
				for _, k := range []string{"id", "name", "expirationDate", "status", "expired", "modelId", "modelName", "createdAt", "updatedAt"} {
					out[k] = t[k]
				}
				write(200, out)
				return
			}
		}
		write(200, map[string]any{"active": false})
	default:
		apiError(w, 404, "not_found", "no route "+route)
	}
}

// runCLI runs tokenctl in-process against the fake and returns its exit code
// and outputs.
func (f *fakeTokend) run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	all := append([]string{"--url", f.srv.URL, "--license", fakeLicense}, args...)
	code := run(context.Background(), all, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}
