package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// newHTTPClient returns a client that keeps up to conns connections to one
// host, like httpapi's BenchmarkHTTP.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			DisableCompression: true,
		},
	}
}

// send does one request and checks its status; out, when set, receives the
// answer's body.
func send(c *http.Client, method, url, license, body string, want int, out *[]byte) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if license != "" {
		req.Header.Set("Authorization", "Bearer "+license)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, res.Body); err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, url, res.StatusCode, want, bytes.TrimSpace(buf.Bytes()))
	}
	if out != nil {
		*out = buf.Bytes()
	}
	return nil
}
