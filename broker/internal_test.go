package broker

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/device"
)

func TestLogLimiter(t *testing.T) {
	l := newLogLimiter(3)
	var passed []string
	for _, key := range strings.Split("a a b a a a b c a", " ") {
		if l.allow(key) {
			passed = append(passed, key)
		}
	}
	if diff := cmp.Diff(strings.Split("a a b a b c", " "), passed); diff != "" {
		t.Errorf("lines let through (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"a": 3}, l.flush()); diff != "" {
		t.Errorf("suppressed counts (-want +got):\n%s", diff)
	}
	// A new window starts afresh and reports nothing when nothing was held
	// back.
	if !l.allow("a") {
		t.Error("first line of a new window suppressed")
	}
	if got := l.flush(); got != nil {
		t.Errorf("second flush = %v, want nothing", got)
	}
}

// recordHandler keeps the records it is given, with the attributes added
// by With in front.
type recordHandler struct {
	records *[]slog.Record
	attrs   []slog.Attr
}

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(h.attrs...)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	*h.records = append(*h.records, out)
	return nil
}

func (h recordHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return recordHandler{records: h.records, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h recordHandler) WithGroup(string) slog.Handler { return h }

// mochi's log lines are cut to warn and above, stripped of packets (which
// can hold a password), limited, and its noise is dropped.
func TestMochiLogHandler(t *testing.T) {
	var records []slog.Record
	log := slog.New(&mochiLogHandler{next: recordHandler{records: &records}, limiter: newLogLimiter(2)})
	connect := packets.Packet{Connect: packets.ConnectParams{Password: []byte("hunter2")}}

	log.Info("added hook", "hook", "hearth")
	log.Warn("error processing packet", "error", "protocol violation", "client", "x", "pk", connect)
	log.With("packet", connect, "listener", "tls").Warn("error processing packet", "client", "y")
	log.Warn("error processing packet", "client", "z") // over the limit
	log.Error("publish packet error", "error", "not authorized")
	log.Warn("client keepalive is below minimum recommended value and may exhibit connection instability")

	var got []string
	for _, r := range records {
		line := r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool {
			line += " " + a.Key + "=" + a.Value.String()
			return true
		})
		got = append(got, line)
	}
	want := []string{
		"WARN error processing packet error=protocol violation client=x",
		"WARN error processing packet listener=tls client=y",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestTelemetryReasonCode(t *testing.T) {
	tests := []struct {
		code string
		want byte
	}{
		{device.CodeBadJSON, 0x99},
		{device.CodeBadValue, 0x99},
		{device.CodeBadMetric, 0x99},
		{device.CodeBadTimestamp, 0x99},
		{device.CodeBatchTooLarge, 0x99},
		{device.CodeEmpty, 0x99},
		{device.CodeUnknownDevice, 0x83},
		{device.CodeInternal, 0x80},
	}
	for _, tt := range tests {
		if got := telemetryReasonCode(tt.code); got != tt.want {
			t.Errorf("telemetryReasonCode(%q) = %#x, want %#x", tt.code, got, tt.want)
		}
	}
}
