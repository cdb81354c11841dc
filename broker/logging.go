package broker

import (
	"context"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/hearthiot/hearth/internal/loglimit"
)

// mochiLogHandler is the slog handler given to mochi-mqtt. mochi logs every
// connection and hook at info level and some per-packet events at warn with
// the whole packet attached; the handler keeps warn and above, drops the
// packet attributes (a second CONNECT would carry a password), passes each
// message through the limiter, and drops the lines this package reports
// better itself.
type mochiLogHandler struct {
	next    slog.Handler
	limiter *loglimit.Limiter
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
	if mochiDropped(r.Message) || !h.limiter.Allow(ctx, "mochi: "+r.Message) {
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
