package broker

import (
	"context"
	"log/slog"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// logLimiter lets at most burst lines per key through between two flushes
// and counts the rest. A storm of bad connects or refused publishes, often
// from one misconfigured device retrying in a loop, would otherwise bury
// every other log line; with the limiter the operator sees the first lines
// of each kind and one summary per window saying how many were held back.
type logLimiter struct {
	burst int

	mu   sync.Mutex
	keys map[string]*logBucket
}

type logBucket struct {
	passed     int
	suppressed int
}

func newLogLimiter(burst int) *logLimiter {
	return &logLimiter{burst: burst, keys: make(map[string]*logBucket)}
}

// allow reports whether one more line with this key may be logged in the
// current window, and counts it as suppressed when not.
func (l *logLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		b = &logBucket{}
		l.keys[key] = b
	}
	if b.passed < l.burst {
		b.passed++
		return true
	}
	b.suppressed++
	return false
}

// flush ends the current window: it returns how many lines each key had
// suppressed (only keys with at least one) and starts every key afresh.
// Forgetting all keys keeps the map as small as the set of reasons seen in
// one window.
func (l *logLimiter) flush() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out map[string]int
	for k, b := range l.keys {
		if b.suppressed > 0 {
			if out == nil {
				out = make(map[string]int)
			}
			out[k] = b.suppressed
		}
	}
	clear(l.keys)
	return out
}

// mochiLogHandler is the slog handler given to mochi-mqtt. mochi logs every
// connection and hook at info level and some per-packet events at warn with
// the whole packet attached; the handler keeps warn and above, drops the
// packet attributes (a second CONNECT would carry a password), passes each
// message through the limiter, and drops the lines this package reports
// better itself.
type mochiLogHandler struct {
	next    slog.Handler
	limiter *logLimiter
}

// mochiDropped reports mochi's messages that carry no news for an operator:
// refused publishes are counted and logged by the broker's own hook, and
// the keepalive advice fires on every connect of a device with keepalive 0.
func mochiDropped(msg string) bool {
	return msg == "publish packet error" || msg == mqtt.ErrMinimumKeepalive.Error()
}

// packetAttr reports whether an attribute holds a whole packet.
func packetAttr(a slog.Attr) bool { return a.Key == "pk" || a.Key == "packet" }

func (h *mochiLogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && h.next.Enabled(ctx, level)
}

func (h *mochiLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if mochiDropped(r.Message) || !h.limiter.allow("mochi: "+r.Message) {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if !packetAttr(a) {
			out.AddAttrs(a)
		}
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *mochiLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	kept := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if !packetAttr(a) {
			kept = append(kept, a)
		}
	}
	return &mochiLogHandler{next: h.next.WithAttrs(kept), limiter: h.limiter}
}

func (h *mochiLogHandler) WithGroup(name string) slog.Handler {
	return &mochiLogHandler{next: h.next.WithGroup(name), limiter: h.limiter}
}

// clip shortens a client-chosen string (a client id, a topic) before it is
// logged, so that a 64 KiB topic cannot make a 64 KiB log line.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
