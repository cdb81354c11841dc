package broker

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/internal/loglimit"
)

// warnLimited counts each message and reason apart, lets logBurst of a
// kind through per window, and the window's summary names the kind
// operators grep for, under the line the other limited logs write.
func TestWarnLimited(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	b := &Broker{log: logger, logLimit: loglimit.New(logger, 3, time.Minute, nil)}
	for _, reason := range strings.Split("a a b a a a b c a", " ") {
		b.warnLimited("mqtt connect refused", reason, "device", "d")
	}
	var passed []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		_, reason, _ := strings.Cut(line, "reason=")
		reason, _, _ = strings.Cut(reason, " ")
		passed = append(passed, reason)
	}
	if diff := cmp.Diff(strings.Split("a a b a b c", " "), passed); diff != "" {
		t.Errorf("reasons of the lines let through (-want +got):\n%s", diff)
	}
	buf.Reset()
	b.logLimit.Flush(context.Background())
	want := `level=WARN msg="log lines held back" message="mqtt connect refused: a" held=3 window=1m0s`
	if got := strings.TrimSpace(buf.String()); !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 0 {
		t.Errorf("summary = %q, want one line ending %q", got, want)
	}
	// A new window starts afresh and summarises nothing when nothing was
	// held back.
	buf.Reset()
	b.warnLimited("mqtt connect refused", "a")
	b.logLimit.Flush(context.Background())
	if n := strings.Count(buf.String(), "\n"); n != 1 || !strings.Contains(buf.String(), "reason=a") {
		t.Errorf("a new window wrote %q, want the one line and no summary", buf.String())
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
	log := slog.New(&mochiLogHandler{next: recordHandler{records: &records}, limiter: loglimit.New(slog.New(recordHandler{records: &records}), 2, time.Minute, nil)})
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
