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
		{"cache size without a number", []string{"serve", "--cache-size", "MiB"}, nil, "--cache-size (TOKEND_CACHE_SIZE): must be a size from 4MiB to 64GiB"},
		{"cache size too small", []string{"serve", "--cache-size", "1MiB"}, nil, "--cache-size"},
		{"memtable size too large", []string{"serve", "--memtable-size", "2GiB"}, nil, "--memtable-size (TOKEND_MEMTABLE_SIZE): must be a size from 4MiB to 1GiB"},
		{"memtable size env twin", []string{"serve"}, map[string]string{"TOKEND_MEMTABLE_SIZE": "32 MiB"}, "TOKEND_MEMTABLE_SIZE"},
		{"env twin is checked too", []string{"serve"}, map[string]string{"TOKEND_SYNC": "never"}, "TOKEND_SYNC"},
		{"malformed admin license", []string{"serve"}, map[string]string{"TOKEND_ADMIN_LICENSE": "lic_short"}, "TOKEND_ADMIN_LICENSE: not a well-formed license"},
		{"sort memory too small", []string{"rebuild", "--sort-memory", "1MiB"}, nil, "--sort-memory (TOKEND_SORT_MEMORY): must be a size from 64MiB to 64GiB"},
		{"sort memory env twin", []string{"rebuild"}, map[string]string{"TOKEND_SORT_MEMORY": "lots"}, "TOKEND_SORT_MEMORY"},
		{"sort memory is rebuild's", []string{"serve", "--sort-memory", "1GiB"}, nil, "unknown flag"},
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

func TestParseSize(t *testing.T) {
	const lo, hi = 4 << 20, 64 << 30
	cases := []struct {
		raw  string
		want int64 // 0: refused
	}{
		{"96MiB", 96 << 20},
		{"96mib", 96 << 20},
		{"1GiB", 1 << 30},
		{"64GiB", 64 << 30},
		{"4096KiB", 4 << 20},
		{"4194304", 4 << 20},
		{"4194304B", 4 << 20},
		{"4194303", 0},
		{"65GiB", 0},
		{"9223372036854775807GiB", 0}, // overflows
		{"-96MiB", 0},
		{"96 MiB", 0},
		{"96MB", 0}, // decimal units are not guessed at
		{"96M", 0},
		{"1.5GiB", 0},
		{"", 0},
		{"GiB", 0},
	}
	for _, c := range cases {
		got, err := parseSize(c.raw, lo, hi)
		switch {
		case c.want == 0 && err == nil:
			t.Errorf("parseSize(%q) = %d, want an error", c.raw, got)
		case c.want != 0 && (err != nil || got != c.want):
			t.Errorf("parseSize(%q) = %d, %v; want %d", c.raw, got, err, c.want)
		}
	}
}

func TestReadModelOptionsFollowTheFlags(t *testing.T) {
	c := config{CacheSize: 96 << 20, MemTableSize: 8 << 20}
	o := c.readModelOptions()
	if o.BlockCacheSize != 64<<20 || o.IndexCacheSize != 32<<20 || o.MemTableSize != 8<<20 {
		t.Fatalf("options %+v: want a 64 MiB block cache, a 32 MiB index cache and 8 MiB memtables", o)
	}
}

// FuzzParseSize checks that parseSize never panics, accepts only sizes
// within its bounds, and reads back what formatSize writes.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"96MiB", "1GiB", "4194304", "4096kib", "-1B", "9223372036854775807GiB", "1e9"} {
		f.Add(s)
	}
	const lo, hi = 4 << 20, 64 << 30
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := parseSize(raw, lo, hi)
		if err != nil {
			if !strings.Contains(err.Error(), "must be a size from 4MiB to 64GiB") {
				t.Fatalf("parseSize(%q): an error that does not say the rule: %v", raw, err)
			}
			return
		}
		if n < lo || n > hi {
			t.Fatalf("parseSize(%q) = %d, outside [%d, %d]", raw, n, lo, hi)
		}
		if back, err := parseSize(formatSize(n), lo, hi); err != nil || back != n {
			t.Fatalf("parseSize(formatSize(%d) = %q) = %d, %v", n, formatSize(n), back, err)
		}
	})
}
