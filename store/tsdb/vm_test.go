package tsdb

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmstorage"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/prompb"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/storage"
)

// TestStorageDropsRowsOutsideRetention records what VictoriaMetrics itself
// does with timestamps outside the retention, the reason Append refuses
// them: it accepts the write without an error, drops the rows, and only
// logs a warning.
func TestStorageDropsRowsOutsideRetention(t *testing.T) {
	var logs syncBuffer
	db, err := Open(Config{Dir: t.TempDir(), Retention: 30 * 24 * time.Hour},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	now := time.Now()
	row := func(metric string, ts time.Time) storage.MetricRow {
		name := storage.MarshalMetricNameRaw(nil, []prompb.Label{{Name: "__name__", Value: metric}, {Name: "device", Value: "d"}})
		return storage.MetricRow{MetricNameRaw: name, Timestamp: ts.UnixMilli(), Value: 1}
	}
	rows := []storage.MetricRow{
		row("too_old", now.Add(-31*24*time.Hour)),
		row("too_new", now.Add(3*24*time.Hour)),
		row("fine", now.Add(-time.Hour)),
	}
	if err := vmstorage.VMInsertAPI.WriteRows(rows); err != nil {
		t.Fatalf("WriteRows error = %v; the storage used to accept such rows silently", err)
	}
	db.Flush()
	for metric, at := range map[string]time.Time{"too_old": now.Add(-31 * 24 * time.Hour), "too_new": now.Add(3 * 24 * time.Hour), "fine": now.Add(-time.Hour)} {
		got, err := db.Query(context.Background(), metric, at.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if stored := len(got) == 1; stored != (metric == "fine") {
			t.Errorf("%s stored = %v", metric, stored)
		}
	}
	if st := db.Stats(); st.RowsStored != 1 {
		t.Errorf("RowsStored = %d, want 1", st.RowsStored)
	}
	if !strings.Contains(logs.String(), "too small timestamp") {
		t.Errorf("no warning about the dropped row in %q", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the storage's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestVMLogWriter(t *testing.T) {
	tests := []struct {
		line string
		want string
	}{
		{"warn\tlib/storage/storage.go:1885\tcannot create some metrics\n",
			`level=WARN msg="storage engine message" caller=lib/storage/storage.go:1885 text="cannot create some metrics"`},
		{"error\tlib/fs/fs.go:1\tdisk\tfull\n",
			"level=ERROR msg=\"storage engine message\" caller=lib/fs/fs.go:1 text=\"disk\\tfull\""},
		{"info\tx.go:2\thello\n", `level=INFO msg="storage engine message" caller=x.go:2 text=hello`},
		{"error\t/home/build/go/pkg/mod/github.com/!victoria!metrics/!victoria!metrics@v1.150.0/lib/fs/fs.go:288\tFATAL: lock\n",
			`level=ERROR msg="storage engine message" caller=lib/fs/fs.go:288 text="FATAL: lock"`},
		{"unparsable", `level=ERROR msg="storage engine message" caller="" text=unparsable`},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		w := &vmLogWriter{logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))}
		n, err := w.Write([]byte(tt.line))
		if err != nil || n != len(tt.line) {
			t.Errorf("Write(%q) = %d, %v", tt.line, n, err)
		}
		if got := strings.TrimSpace(out.String()); got != tt.want {
			t.Errorf("Write(%q) logged\n%s\nwant\n%s", tt.line, got, tt.want)
		}
	}
}
