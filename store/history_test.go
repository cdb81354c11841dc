package store_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// historyFleet records n entries, one a second from at(0): entry i is of
// device d1 when i is even, else d2; of shadow "program" when i%3 == 0,
// else the classic shadow; by actor "device:…" when i%4 == 0, else
// "user:fm@a.example". It returns the entries' ids ("device/shadow/i").
func historyFleet(t testing.TB, n int) (*store.Store, []string) {
	t.Helper()
	s, _ := shadowFleet(t)
	es := make([]store.HistoryEntry, 0, n)
	ids := make([]string, 0, n)
	for i := range n {
		e := historyOf(i)
		es = append(es, e)
		ids = append(ids, id(e))
	}
	mustOK(t, s.AppendHistoryInOneTransaction(es))
	return s, ids
}

func historyOf(i int) store.HistoryEntry {
	device, shadow, actor := "d1", "", "user:fm@a.example"
	if i%2 == 1 {
		device = "d2"
	}
	if i%3 == 0 {
		shadow = "program"
	}
	if i%4 == 0 {
		actor = "device:" + device
	}
	return store.HistoryEntry{
		Device: device, Shadow: shadow, Version: int64(i + 1), Time: at(0).Add(time.Duration(i) * time.Second),
		Actor: actor, Channel: "mqtt", Update: json.RawMessage(`{"state":{}}`),
	}
}

func id(e store.HistoryEntry) string {
	return fmt.Sprintf("%s/%s/%d", e.Device, e.Shadow, e.Version-1)
}

// pages reads every page of q and returns the ids, newest first.
func pages(t *testing.T, s *store.Store, q store.HistoryQuery) []string {
	t.Helper()
	out := []string{}
	for n := 0; ; n++ {
		if n > 1000 {
			t.Fatal("pagination does not end")
		}
		es, next, err := s.History(q)
		mustOK(t, err)
		if q.Limit > 0 && len(es) > q.Limit {
			t.Fatalf("page of %d entries, limit %d", len(es), q.Limit)
		}
		if next != "" && len(es) == 0 {
			t.Fatal("an empty page has a next cursor")
		}
		for _, e := range es {
			out = append(out, id(e))
		}
		if next == "" {
			return out
		}
		q.Cursor = next
	}
}

// newestFirst selects the ids of keep and reverses them.
func newestFirst(ids []string, keep func(i int) bool) []string {
	out := []string{}
	for i := len(ids) - 1; i >= 0; i-- {
		if keep(i) {
			out = append(out, ids[i])
		}
	}
	return out
}

func TestHistoryQueries(t *testing.T) {
	t.Parallel()
	const n = 60
	s, ids := historyFleet(t, n)
	classic, program, ghost := "", "program", "ghost"
	sec := func(i int) time.Time { return at(0).Add(time.Duration(i) * time.Second) }
	tests := []struct {
		name string
		q    store.HistoryQuery
		keep func(i int) bool
	}{
		{"fleet", store.HistoryQuery{}, func(int) bool { return true }},
		{"device", store.HistoryQuery{Device: "d1"}, func(i int) bool { return i%2 == 0 }},
		{"classic shadow", store.HistoryQuery{Device: "d1", Shadow: &classic}, func(i int) bool { return i%2 == 0 && i%3 != 0 }},
		{"named shadow", store.HistoryQuery{Device: "d2", Shadow: &program}, func(i int) bool { return i%2 == 1 && i%3 == 0 }},
		{"unknown shadow", store.HistoryQuery{Device: "d2", Shadow: &ghost}, func(int) bool { return false }},
		{"unknown device", store.HistoryQuery{Device: "ghost"}, func(int) bool { return false }},
		{"fleet, one shadow name", store.HistoryQuery{Shadow: &program}, func(i int) bool { return i%3 == 0 }},
		{"from", store.HistoryQuery{From: sec(40)}, func(i int) bool { return i >= 40 }},
		{"to", store.HistoryQuery{To: sec(10)}, func(i int) bool { return i < 10 }},
		{"device, range", store.HistoryQuery{Device: "d2", From: sec(11), To: sec(31)}, func(i int) bool { return i%2 == 1 && i >= 11 && i < 31 }},
		{"shadow, range", store.HistoryQuery{Device: "d1", Shadow: &program, From: sec(12), To: sec(36)}, func(i int) bool { return i%6 == 0 && i >= 12 && i < 36 }},
		{"actor", store.HistoryQuery{Actor: "device:d1"}, func(i int) bool { return i%4 == 0 }},
		{"device, actor", store.HistoryQuery{Device: "d2", Actor: "user:fm@a.example"}, func(i int) bool { return i%2 == 1 }},
		{"device, actor of another device", store.HistoryQuery{Device: "d2", Actor: "device:d1"}, func(int) bool { return false }},
		{"range beyond", store.HistoryQuery{From: sec(n)}, func(int) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := newestFirst(ids, tt.keep)
			for _, limit := range []int{0, 1, 3, 7, store.MaxHistoryLimit} {
				q := tt.q
				q.Limit = limit
				if diff := cmp.Diff(want, pages(t, s, q)); diff != "" {
					t.Errorf("limit %d (-want +got):\n%s", limit, diff)
				}
			}
		})
	}
}

func TestHistoryPageSizeAndCursor(t *testing.T) {
	t.Parallel()
	s, ids := historyFleet(t, 120)
	es, next, err := s.History(store.HistoryQuery{})
	mustOK(t, err)
	if len(es) != store.DefaultHistoryLimit || next == "" {
		t.Fatalf("first default page: %d entries, cursor %q", len(es), next)
	}
	if id(es[0]) != ids[len(ids)-1] {
		t.Errorf("first entry %s, want the newest %s", id(es[0]), ids[len(ids)-1])
	}
	// Entries written after the first page do not shift the next one.
	mustOK(t, s.AppendHistoryInOneTransaction([]store.HistoryEntry{historyOf(500)}))
	es2, _, err := s.History(store.HistoryQuery{Cursor: next})
	mustOK(t, err)
	if got, want := id(es2[0]), ids[len(ids)-1-store.DefaultHistoryLimit]; got != want {
		t.Errorf("second page starts at %s, want %s", got, want)
	}
	// Exactly a page full: no cursor to an empty page.
	_, next, err = s.History(store.HistoryQuery{Device: "d1", Limit: 61})
	mustOK(t, err)
	if next != "" {
		t.Errorf("a query that returned everything has cursor %q", next)
	}
}

func TestHistoryQueryRules(t *testing.T) {
	t.Parallel()
	s, _ := historyFleet(t, 3)
	bad := "a/b"
	tests := []struct {
		name string
		q    store.HistoryQuery
		msg  string
	}{
		{"negative limit", store.HistoryQuery{Limit: -1}, "limit -1"},
		{"limit too large", store.HistoryQuery{Limit: store.MaxHistoryLimit + 1}, "1 to 1000"},
		{"cursor not base64", store.HistoryQuery{Cursor: "!!"}, "cursor"},
		{"cursor too short", store.HistoryQuery{Cursor: "AAAA"}, "cursor"},
		{"from after to", store.HistoryQuery{From: at(5), To: at(5)}, "is not before"},
		{"from before 1970", store.HistoryQuery{From: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, "from 1970"},
		{"bad device", store.HistoryQuery{Device: "a/b"}, "device name"},
		{"bad shadow", store.HistoryQuery{Device: "d1", Shadow: &bad}, "shadow name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.History(tt.q)
			wantErr(t, err, store.ErrInvalid)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestHistoryEntryRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := shadowFleet(t)
	h := &store.HistoryEntry{
		Device: "d1", Shadow: "program", Version: 1, Time: at(3).Add(123456789),
		Actor: "token:grafana", Channel: "api",
		Update: json.RawMessage(`{ "state": {"desired": {"sp": 21, "mode": null}} }`),
		Changes: []store.HistoryChange{
			{Section: store.SectionDesired, Key: "sp", New: json.RawMessage(`21`)},
			{Section: store.SectionDesired, Key: "mode", Old: json.RawMessage(` "eco" `), New: json.RawMessage(`null`)},
		},
	}
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Name: "program", Version: 1, Doc: doc(1)}, 0, h))
	es, _, err := s.History(store.HistoryQuery{Device: "d1"})
	mustOK(t, err)
	want := []store.HistoryEntry{{
		Device: "d1", Shadow: "program", Version: 1, Time: at(3).Add(123456789),
		Actor: "token:grafana", Channel: "api",
		Update: json.RawMessage(`{"state":{"desired":{"sp":21,"mode":null}}}`),
		Changes: []store.HistoryChange{
			{Section: store.SectionDesired, Key: "sp", Old: json.RawMessage(`null`), New: json.RawMessage(`21`)},
			{Section: store.SectionDesired, Key: "mode", Old: json.RawMessage(`"eco"`), New: json.RawMessage(`null`)},
		},
	}}
	if diff := cmp.Diff(want, es); diff != "" {
		t.Errorf("history entry (-want +got):\n%s", diff)
	}
	if string(h.Changes[0].Old) != "" {
		t.Error("PutShadow changed the caller's entry")
	}
}

func TestPruneHistory(t *testing.T) {
	t.Parallel()
	const n = 50
	s, ids := historyFleet(t, n)
	cut := at(0).Add(37 * time.Second) // entries 0..36 are older
	wantErr(t, func() error { _, err := s.PruneHistory(cut, -1); return err }(), store.ErrInvalid)

	deleted, err := s.PruneHistory(cut, 4)
	mustOK(t, err)
	if deleted != 37 {
		t.Errorf("deleted %d entries, want 37", deleted)
	}
	kept := func(i int) bool { return i >= 37 }
	classic, program := "", "program"
	for _, q := range []store.HistoryQuery{
		{},
		{Device: "d1"},
		{Device: "d2", Shadow: &classic},
		{Device: "d1", Shadow: &program},
	} {
		want := newestFirst(ids, func(i int) bool {
			e := historyOf(i)
			return kept(i) && (q.Device == "" || e.Device == q.Device) && (q.Shadow == nil || e.Shadow == *q.Shadow)
		})
		if diff := cmp.Diff(want, pages(t, s, q)); diff != "" {
			t.Errorf("after prune, query %+v (-want +got):\n%s", q, diff)
		}
	}
	deleted, err = s.PruneHistory(cut, 0)
	mustOK(t, err)
	if deleted != 0 {
		t.Errorf("a second prune deleted %d entries", deleted)
	}
	deleted, err = s.PruneHistory(at(59), 5)
	mustOK(t, err)
	if deleted != n-37 {
		t.Errorf("pruning everything deleted %d entries, want %d", deleted, n-37)
	}
	if es := allHistory(t, s); len(es) != 0 {
		t.Errorf("%d entries left", len(es))
	}
}

// FuzzHistoryCursor feeds History cursors as a client could send them: an
// unknown cursor is ErrInvalid, and any accepted one yields a page of
// matching entries, newest first.
func FuzzHistoryCursor(f *testing.F) {
	s, _ := historyFleet(f, 30)
	_, next, err := s.History(store.HistoryQuery{Limit: 7})
	mustOK(f, err)
	for _, seed := range []string{"", next, "AAAA", "!!", "AAAAAAAAAAAAAAAAAAAAAA", "__________________________", next + "A"} {
		f.Add(seed, "d1")
		f.Add(seed, "")
	}
	f.Fuzz(func(t *testing.T, cursor, device string) {
		es, _, err := s.History(store.HistoryQuery{Device: device, Cursor: cursor, Limit: 5})
		if err != nil {
			wantErr(t, err, store.ErrInvalid)
			return
		}
		for i, e := range es {
			if device != "" && e.Device != device {
				t.Errorf("entry of device %q in a query of %q", e.Device, device)
			}
			if i > 0 && e.Time.After(es[i-1].Time) {
				t.Errorf("entry %d is newer than the one before it", i)
			}
		}
	})
}
