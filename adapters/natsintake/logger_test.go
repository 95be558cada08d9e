package natsintake

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
)

// Watermill's logs reach slog at the levels the intake maps them to, with
// their fields; below the logger's level nothing is written.
func TestWatermillLogger(t *testing.T) {
	for _, c := range []struct {
		level slog.Level
		want  []string
	}{
		{slog.LevelInfo, []string{"boom"}},
		{slog.LevelDebug, []string{"boom", "said info", "said debug"}},
		{watermill.LevelTrace, []string{"boom", "said info", "said debug", "said trace"}},
	} {
		var buf bytes.Buffer
		l := newWatermillLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: c.level}))).
			With(watermill.LogFields{"lane": 3})
		l.Error("boom", errors.New("x"), nil)
		l.Info("said info", nil)
		l.Debug("said debug", watermill.LogFields{"k": "v"})
		l.Trace("said trace", nil)
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != len(c.want) {
			t.Fatalf("at %v: %d records, want %d:\n%s", c.level, len(lines), len(c.want), buf.String())
		}
		for i, w := range c.want {
			if !strings.Contains(lines[i], `"msg":"`+w+`"`) || !strings.Contains(lines[i], `"lane":3`) {
				t.Errorf("at %v: record %d is %s, want %q with the lane", c.level, i, lines[i], w)
			}
		}
		if c.level == slog.LevelDebug && !strings.Contains(lines[1], `"level":"DEBUG"`) {
			t.Errorf("Watermill's Info is not demoted to Debug: %s", lines[1])
		}
	}
}
