package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestFlagsAreCheckedWithClearMessages(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad sync", []string{"serve", "--sync", "sometimes"}, nil, "--sync"},
		{"bad replicas", []string{"serve", "--replicas", "0"}, nil, "--replicas"},
		{"bad lifetime", []string{"serve", "--max-lifetime", "forever"}, nil, "--max-lifetime"},
		{"bad rate limit", []string{"serve", "--rate-limit", "maybe"}, nil, "--rate-limit"},
		{"env twin is checked too", []string{"serve"}, map[string]string{"TOKEND_SYNC": "never"}, "TOKEND_SYNC"},
		{"malformed admin license", []string{"serve"}, map[string]string{"TOKEND_ADMIN_LICENSE": "lic_short"}, "TOKEND_ADMIN_LICENSE: not a well-formed license"},
		{"unknown flag", []string{"serve", "--colour"}, nil, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, nil, "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			args := append(c.args, "--data-dir", t.TempDir())
			if c.args[0] == "frobnicate" {
				args = c.args
			}
			code := run(context.Background(), args, &out, &errOut)
			if code == 0 || !strings.Contains(errOut.String(), c.want) {
				t.Fatalf("exit %d, stderr %q, want a failure naming %q", code, errOut.String(), c.want)
			}
		})
	}
}
