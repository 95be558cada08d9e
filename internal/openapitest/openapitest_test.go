package openapitest

import (
	"errors"
	"net/http"
	"testing"
)

// Check passes an answer the document allows and refuses one it does not,
// and names no operation for a path the document lacks.
func TestCheck(t *testing.T) {
	router, err := Router()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://localhost/v1/models/m1", nil)
	h := http.Header{"Content-Type": {"application/json"}}
	if op, err := Check(router, Exchange{Request: req, Status: 200, Header: h, Body: []byte(`{"id":"m1","name":"gpt"}`)}); err != nil || op == "" {
		t.Fatalf("a good answer: %q, %v", op, err)
	}
	if _, err := Check(router, Exchange{Request: req, Status: 200, Header: h, Body: []byte(`{"id":"m1","name":"gpt","secret":"x"}`)}); err == nil {
		t.Fatal("an answer with an undeclared field passed")
	}
	nowhere, _ := http.NewRequest("GET", "http://localhost/v2/nothing", nil)
	if _, err := Check(router, Exchange{Request: nowhere, Status: 404, Header: h, Body: []byte(`{}`)}); !errors.Is(err, ErrNoOperation) {
		t.Fatalf("an unknown path: %v", err)
	}
}
