package loglimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/internal/loglimit"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestLimiter(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := &clock{t: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	l := loglimit.New(logger, 3, time.Minute, c.now)
	ctx := context.Background()
	for i := range 1000 {
		l.Log(ctx, slog.LevelWarn, "sign-in attempts limited", "n", i)
		l.Log(ctx, slog.LevelInfo, "sign-in refused", "n", i)
		l.Log(ctx, slog.LevelDebug, "client gone", "n", i)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("2000 lines of two kinds in one window wrote %d lines, want 3 of each:\n%s", len(lines), buf.String())
	}
	buf.Reset()
	c.add(time.Minute)
	l.Log(ctx, slog.LevelWarn, "sign-in attempts limited", "n", 1000)
	out := buf.String()
	for _, want := range []string{
		`msg="log lines held back" message="sign-in attempts limited" held=997`,
		`msg="log lines held back" message="sign-in refused" held=997`,
		`msg="sign-in attempts limited" n=1000`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the next window's first line and summaries lack %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d lines at the turn of the window, want 2 summaries and the line:\n%s", n, out)
	}
	buf.Reset()
	for range 5 {
		l.Log(ctx, slog.LevelWarn, "sign-in attempts limited")
	}
	l.Flush(ctx)
	if !strings.Contains(buf.String(), `message="sign-in attempts limited" held=3`) {
		t.Errorf("Flush did not summarise the window:\n%s", buf.String())
	}
	buf.Reset()
	l.Flush(ctx)
	if buf.Len() != 0 {
		t.Errorf("a quiet window summarised: %s", buf.String())
	}
}

// Allow limits lines its caller writes itself, keyed by more than their
// message, and the summary names that key.
func TestAllow(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	c := &clock{t: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	l := loglimit.New(logger, 3, time.Minute, c.now)
	ctx := context.Background()
	var allowed []string
	for _, kind := range strings.Split("a a b a a a b c a", " ") {
		if l.Allow(ctx, kind) {
			allowed = append(allowed, kind)
		}
	}
	if got, want := strings.Join(allowed, " "), "a a b a b c"; got != want {
		t.Errorf("allowed %q, want %q", got, want)
	}
	if buf.Len() != 0 {
		t.Errorf("Allow wrote within its window: %s", buf.String())
	}
	c.add(time.Minute)
	if !l.Allow(ctx, "a") {
		t.Error("the first line of a new window was held back")
	}
	out := buf.String()
	if want := `msg="log lines held back" message=a held=3 window=1m0s`; !strings.Contains(out, want) || strings.Count(out, "\n") != 1 {
		t.Errorf("the turn of the window wrote %q, want one line with %q", out, want)
	}
	buf.Reset()
	l.Flush(ctx)
	if buf.Len() != 0 {
		t.Errorf("a window with nothing held back summarised: %s", buf.String())
	}
}
