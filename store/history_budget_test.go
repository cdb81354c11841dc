package store_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// TestHistoryDeviceBudget writes far more history for one device than its
// budget: the device keeps its newest entries within the budget, the
// entry just written always, and another device keeps all of its own.
// Pruning and a recount from the entries agree with the sizes kept.
func TestHistoryDeviceBudget(t *testing.T) {
	t.Parallel()
	const budget = 16 << 10
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.Open(path, store.Options{HistoryDeviceBudget: budget})
	mustOK(t, err)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "d1", Customer: "a"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "d2", Customer: "a"}))

	for v := int64(1); v <= 3; v++ {
		mustOK(t, s.PutShadow(store.Shadow{Device: "d2", Version: v, Doc: doc(int(v))}, v-1, entry("d2", "", v, "device:d2")))
	}
	const writes = 300
	padding := strings.Repeat("x", 200)
	for v := int64(1); v <= writes; v++ {
		h := entry("d1", "", v, "device:d1")
		h.Update = json.RawMessage(fmt.Sprintf(`{"state":{"reported":{"note":%q}}}`, padding))
		mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Version: v, Doc: doc(int(v))}, v-1, h))
	}

	size, err := s.HistorySizeOf("d1")
	mustOK(t, err)
	if size.Bytes > budget || size.Bytes < budget/2 {
		t.Errorf("d1 keeps %d bytes of history, want at most the budget %d and more than half of it", size.Bytes, budget)
	}
	kept := historyVersions(t, s, "d1")
	if int64(len(kept)) != size.Entries {
		t.Errorf("d1 has %d entries, its size says %d", len(kept), size.Entries)
	}
	for i, v := range kept {
		if want := int64(writes - i); v != want {
			t.Fatalf("d1's history, newest first, has version %d at %d, want %d: the oldest go first", v, i, want)
		}
	}
	if trimmed := s.HistoryTrimmed(); trimmed != uint64(writes-len(kept)) {
		t.Errorf("HistoryTrimmed = %d, want %d", trimmed, writes-len(kept))
	}
	if got := historyVersions(t, s, "d2"); len(got) != 3 {
		t.Errorf("d2 keeps %d entries of its 3", len(got))
	}

	// An entry larger than the whole budget is still kept, alone.
	big := entry("d1", "", writes+1, "device:d1")
	big.Update = json.RawMessage(fmt.Sprintf(`{"state":{"reported":{"note":%q}}}`, strings.Repeat("y", budget)))
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Version: writes + 1, Doc: doc(writes + 1)}, writes, big))
	if got := historyVersions(t, s, "d1"); len(got) != 1 || got[0] != writes+1 {
		t.Errorf("after an entry larger than the budget, d1 keeps versions %v, want only %d", got, writes+1)
	}

	before := map[string]store.HistorySize{}
	for _, d := range []string{"d1", "d2"} {
		before[d], err = s.HistorySizeOf(d)
		mustOK(t, err)
	}
	mustOK(t, s.Close())
	s, err = store.OpenWithExtraMigrations(path, store.Options{HistoryDeviceBudget: budget}, store.RecountHistorySizes)
	mustOK(t, err)
	t.Cleanup(func() { _ = s.Close() })
	for _, d := range []string{"d1", "d2"} {
		got, err := s.HistorySizeOf(d)
		mustOK(t, err)
		if got != before[d] {
			t.Errorf("%s: counted from the entries %+v, kept as %+v", d, got, before[d])
		}
	}

	if _, err := s.PruneHistory(at(10), 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.HistorySizeOf("d2"); got != (store.HistorySize{}) {
		t.Errorf("d2's history was pruned whole, its size is %+v", got)
	}
	if got, _ := s.HistorySizeOf("d1"); got != before["d1"] {
		t.Errorf("d1's newer history was not pruned, its size went from %+v to %+v", before["d1"], got)
	}
}

// historyVersions is the versions of a device's history, newest first.
func historyVersions(t *testing.T, s *store.Store, device string) []int64 {
	t.Helper()
	var out []int64
	q := store.HistoryQuery{Device: device, Limit: store.MaxHistoryLimit}
	for range 100 {
		es, next, err := s.History(q)
		mustOK(t, err)
		for _, e := range es {
			out = append(out, e.Version)
		}
		if next == "" {
			return out
		}
		q.Cursor = next
	}
	t.Fatal("history pages do not end")
	return nil
}
