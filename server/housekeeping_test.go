package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// pruneHistory deletes what is older than the retention and keeps the rest.
func TestPruneHistory(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateCustomer(store.Customer{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateDevice(store.Device{Name: "d1", Customer: "acme"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for v, at := range []time.Time{now.AddDate(-2, 0, 0), now.AddDate(0, 0, -10), now.Add(-time.Hour)} {
		version := int64(v + 1)
		err := st.PutShadow(store.Shadow{Device: "d1", Version: version, Doc: json.RawMessage(`{}`), UpdatedAt: at}, version-1,
			&store.HistoryEntry{Device: "d1", Version: version, Time: at, Actor: "scheduler", Channel: "scheduler", Update: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{cfg: Config{HistoryRetention: 365 * 24 * time.Hour}, store: st, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.pruneHistory(now)
	entries, _, err := st.History(store.HistoryQuery{Device: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Version != 3 || entries[1].Version != 2 {
		t.Errorf("after pruning: %d entries %+v, want versions 3 and 2", len(entries), entries)
	}
}
