package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseWhen reads a point in time given on the command line, as Unix
// seconds:
//
//   - digits: Unix seconds, as the API takes them ("1767225600");
//   - RFC 3339: "2026-12-31T00:00:00Z";
//   - a duration from now: Go's syntax ("720h", "90m") plus days ("30d",
//     "1d12h"). sign is +1 for dates ahead (expirations) and -1 for dates
//     behind (since, until), so "24h" means "in a day" for --expires and "a
//     day ago" for --since.
func parseWhen(flag, s string, now time.Time, sign int) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, usagef(fmt.Sprintf("--%s wants a time, got nothing", flag))
	}
	if isDigits(s) {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, usagef(fmt.Sprintf("--%s: %q is too large for Unix seconds", flag, s))
		}
		return v, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	if d, err := parseDuration(s); err == nil {
		return now.Add(time.Duration(sign) * d).Unix(), nil
	}
	return 0, usagef(fmt.Sprintf("--%s: %q is neither Unix seconds, an RFC 3339 time nor a duration such as 720h or 30d", flag, s))
}

// parseDuration is time.ParseDuration with a leading count of days ("30d",
// "1d12h"), since token lifetimes are counted in days.
func parseDuration(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 && isDigits(s[:i]) {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("too many days: %s", s[:i])
		}
		days = time.Duration(n) * 24 * time.Hour
		if s = s[i+1:]; s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return days + d, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
