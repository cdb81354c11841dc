package loglimit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limiter writes at most burst lines of each kind (a line's message, or
// the key given to Allow) per window and counts the rest. When a window is
// over, the next line logged through it, or Flush, first writes one
// summary line per kind that was held back. Kinds are constant messages
// and phrases, so the counts stay as few as they are.
type Limiter struct {
	logger *slog.Logger
	burst  int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	start time.Time
	kinds map[string]*count
}

type count struct{ written, held int }

// New is a limiter writing to logger; now nil is time.Now.
func New(logger *slog.Logger, burst int, window time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{logger: logger, burst: burst, window: window, now: now, start: now(), kinds: map[string]*count{}}
}

// Log writes the line at level unless burst lines with this message were
// already written in the current window.
func (l *Limiter) Log(ctx context.Context, level slog.Level, msg string, attrs ...any) {
	if l.logger.Enabled(ctx, level) && l.Allow(ctx, msg) {
		l.logger.Log(ctx, level, msg, attrs...)
	}
}

// Allow counts one line of kind and reports whether it is to be written,
// for a caller that writes it itself: through another handler, or with a
// kind that is more than its message (the message and a constant reason).
// A summary of the window that just ended is written first, as by Log.
func (l *Limiter) Allow(ctx context.Context, kind string) bool {
	held, ok := l.take(kind)
	l.summarise(ctx, held)
	return ok
}

// Flush writes the summary of the current window and starts a new one,
// for a component that stops or keeps its own ticker.
func (l *Limiter) Flush(ctx context.Context) {
	l.mu.Lock()
	held := l.turn(l.now())
	l.mu.Unlock()
	l.summarise(ctx, held)
}

// take counts one line of kind and says whether it is written, with the
// counts held back in a window that just ended.
func (l *Limiter) take(kind string) (map[string]int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var held map[string]int
	if now := l.now(); now.Sub(l.start) >= l.window {
		held = l.turn(now)
	}
	c := l.kinds[kind]
	if c == nil {
		c = &count{}
		l.kinds[kind] = c
	}
	if c.written < l.burst {
		c.written++
		return held, true
	}
	c.held++
	return held, false
}

// turn ends the window: it returns how many lines of each kind were held
// back (only kinds with some) and starts afresh. l.mu is held.
func (l *Limiter) turn(now time.Time) map[string]int {
	var held map[string]int
	for kind, c := range l.kinds {
		if c.held > 0 {
			if held == nil {
				held = map[string]int{}
			}
			held[kind] = c.held
		}
	}
	clear(l.kinds)
	l.start = now
	return held
}

func (l *Limiter) summarise(ctx context.Context, held map[string]int) {
	for kind, n := range held {
		l.logger.WarnContext(ctx, "log lines held back", "message", kind, "held", n, "window", l.window)
	}
}
