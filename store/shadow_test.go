package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hearthiot/hearth/store"
)

// shadowFleet is a store with devices d1 and d2 of customer a.
func shadowFleet(t testing.TB) (*store.Store, string) {
	t.Helper()
	s, path := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "d1", Customer: "a"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "d2", Customer: "a"}))
	return s, path
}

func doc(v int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"state":{"desired":{"sp":%d}},"version":%d}`, v, v))
}

// entry is a history entry for version v of a shadow, at minute v.
func entry(device, shadow string, v int64, actor string) *store.HistoryEntry {
	return &store.HistoryEntry{
		Device: device, Shadow: shadow, Version: v, Time: at(int(v)),
		Actor: actor, Channel: "api",
		Update:  json.RawMessage(fmt.Sprintf(`{"state":{"desired":{"sp":%d}}}`, v)),
		Changes: []store.HistoryChange{{Section: store.SectionDesired, Key: "sp", Old: json.RawMessage("null"), New: json.RawMessage(fmt.Sprint(v))}},
	}
}

func shadowName(s store.Shadow) string { return s.Device + "/" + s.Name }

// allHistory is every entry of the fleet, newest first.
func allHistory(t testing.TB, s *store.Store) []store.HistoryEntry {
	t.Helper()
	es, next, err := s.History(store.HistoryQuery{Limit: store.MaxHistoryLimit})
	mustOK(t, err)
	if next != "" {
		t.Fatalf("history longer than %d entries", store.MaxHistoryLimit)
	}
	return es
}

func TestShadows(t *testing.T) {
	t.Parallel()
	s, _ := shadowFleet(t)

	classic := store.Shadow{Device: "d1", Version: 1, Doc: json.RawMessage(`{ "state" : {"desired": {"sp": 21}} }`), UpdatedAt: at(1)}
	mustOK(t, s.PutShadow(classic, 0, entry("d1", "", 1, "user:fm@a.example")))
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Name: "program", Version: 1, Doc: doc(1), UpdatedAt: at(2)}, 0, nil))
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Name: "boiler-2", Version: 1, Doc: doc(1), UpdatedAt: at(3)}, 0, nil))
	mustOK(t, s.PutShadow(store.Shadow{Device: "d2", Name: "program", Version: 1, Doc: doc(1), UpdatedAt: at(4)}, 0, nil))

	got, err := s.GetShadow("d1", "")
	mustOK(t, err)
	want := classic
	want.Doc = json.RawMessage(`{"state":{"desired":{"sp":21}}}`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetShadow (-want +got):\n%s", diff)
	}

	list, err := s.ListShadows("d1")
	mustOK(t, err)
	if diff := cmp.Diff([]string{"d1/", "d1/boiler-2", "d1/program"}, names(list, shadowName)); diff != "" {
		t.Errorf("ListShadows (-want +got):\n%s", diff)
	}
	list, err = s.ListShadows("d2")
	mustOK(t, err)
	if diff := cmp.Diff([]string{"d2/program"}, names(list, shadowName)); diff != "" {
		t.Errorf("ListShadows of d2 (-want +got):\n%s", diff)
	}

	// The next version replaces the document.
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Version: 2, Doc: doc(2)}, 1, entry("d1", "", 2, "device:d1")))
	got, err = s.GetShadow("d1", "")
	mustOK(t, err)
	if got.Version != 2 || string(got.Doc) != string(doc(2)) || got.UpdatedAt.IsZero() {
		t.Errorf("after the second put: %+v", got)
	}

	for _, tt := range []struct {
		device, name string
	}{{"d1", "absent"}, {"d2", ""}, {"ghost", ""}} {
		_, err := s.GetShadow(tt.device, tt.name)
		wantErr(t, err, store.ErrNotFound)
	}
	_, err = s.ListShadows("ghost")
	wantErr(t, err, store.ErrNotFound)
	err = s.PutShadow(store.Shadow{Device: "ghost", Version: 1, Doc: doc(1)}, 0, nil)
	wantErr(t, err, store.ErrNotFound)
	if !strings.Contains(err.Error(), `device "ghost"`) {
		t.Errorf("error %q does not name the missing device", err)
	}
	if n := len(allHistory(t, s)); n != 2 {
		t.Errorf("%d history entries, want 2", n)
	}
}

func TestShadowRules(t *testing.T) {
	t.Parallel()
	s, _ := shadowFleet(t)
	ok := store.Shadow{Device: "d1", Version: 1, Doc: doc(1)}
	tests := []struct {
		name   string
		change func(*store.Shadow, **store.HistoryEntry)
		expect int64
		msg    string
	}{
		{"empty device", func(sh *store.Shadow, _ **store.HistoryEntry) { sh.Device = "" }, 0, "device name is empty"},
		{"shadow name with slash", func(sh *store.Shadow, _ **store.HistoryEntry) { sh.Name = "a/b" }, 0, "only letters"},
		{"shadow name too long", func(sh *store.Shadow, _ **store.HistoryEntry) { sh.Name = strings.Repeat("n", 65) }, 0, "at most 64"},
		{"version zero", func(sh *store.Shadow, _ **store.HistoryEntry) { sh.Version = 0 }, 0, "starts at 1"},
		{"version not after expected", func(sh *store.Shadow, _ **store.HistoryEntry) {}, 1, "does not follow"},
		{"negative expected version", func(sh *store.Shadow, _ **store.HistoryEntry) {}, -1, "negative"},
		{"empty document", func(sh *store.Shadow, _ **store.HistoryEntry) { sh.Doc = nil }, 0, "not valid JSON"},
		{"document not JSON", func(sh *store.Shadow, _ **store.HistoryEntry) { sh.Doc = json.RawMessage(`{"a":`) }, 0, "not valid JSON"},
		{"document not an object", func(sh *store.Shadow, _ **store.HistoryEntry) { sh.Doc = json.RawMessage(`[1]`) }, 0, "not a JSON object"},
		{"document too large", func(sh *store.Shadow, _ **store.HistoryEntry) {
			sh.Doc = json.RawMessage(`{"a":"` + strings.Repeat("x", store.MaxShadowDocSize) + `"}`)
		}, 0, "at most 65536"},
		{"history of another version", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Version = 2 }, 0, "history entry names"},
		{"history of another shadow", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Shadow = "x" }, 0, "history entry names"},
		{"history without actor", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Actor = "" }, 0, "actor is empty"},
		{"history without channel", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Channel = "" }, 0, "channel is empty"},
		{"history channel too long", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Channel = strings.Repeat("c", 33) }, 0, "at most 32"},
		{"history actor with control", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Actor = "user:\n" }, 0, "control character"},
		{"history update too large", func(_ *store.Shadow, h **store.HistoryEntry) {
			(*h).Update = json.RawMessage(`"` + strings.Repeat("x", store.MaxHistoryUpdateSize) + `"`)
		}, 0, "at most 65536"},
		{"history update not JSON", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Update = json.RawMessage(`{`) }, 0, "update is not valid JSON"},
		{"history change section", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Changes[0].Section = "delta" }, 0, `section "delta"`},
		{"history change without key", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Changes[0].Key = "" }, 0, "key is empty"},
		{"history change value not JSON", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Changes[0].New = json.RawMessage(`nope`) }, 0, "not valid JSON"},
		{"history time before 1970", func(_ *store.Shadow, h **store.HistoryEntry) { (*h).Time = at(0).AddDate(-100, 0, 0) }, 0, "from 1970 to 2262"},
		{"history entry too large", func(_ *store.Shadow, h **store.HistoryEntry) {
			big := json.RawMessage(`"` + strings.Repeat("x", 60<<10) + `"`)
			for i := range 5 {
				(*h).Changes = append((*h).Changes, store.HistoryChange{Section: store.SectionReported, Key: fmt.Sprint("k", i), New: big})
			}
		}, 0, "encoded, at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := ok
			h := entry("d1", "", 1, "device:d1")
			tt.change(&sh, &h)
			err := s.PutShadow(sh, tt.expect, h)
			wantErr(t, err, store.ErrInvalid)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
	// Nothing of the refused writes reached the file; in particular a bad
	// history entry, checked after the shadow was written in the
	// transaction, rolled that write back.
	list, err := s.ListShadows("d1")
	mustOK(t, err)
	if len(list) != 0 {
		t.Errorf("refused writes left shadows: %+v", list)
	}
	if es := allHistory(t, s); len(es) != 0 {
		t.Errorf("refused writes left history: %+v", es)
	}
}

func TestShadowVersionConflict(t *testing.T) {
	t.Parallel()
	s, _ := shadowFleet(t)
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Version: 1, Doc: doc(1), UpdatedAt: at(1)}, 0, entry("d1", "", 1, "device:d1")))
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Version: 2, Doc: doc(2), UpdatedAt: at(2)}, 1, entry("d1", "", 2, "device:d1")))
	before, err := s.GetShadow("d1", "")
	mustOK(t, err)
	history := allHistory(t, s)

	for _, expect := range []int64{0, 1, 3} {
		err := s.PutShadow(store.Shadow{Device: "d1", Version: expect + 1, Doc: doc(9)}, expect, entry("d1", "", expect+1, "user:x@a.example"))
		wantErr(t, err, store.ErrVersionConflict)
		if want := fmt.Sprintf("stored version is 2, the write expected %d", expect); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	after, err := s.GetShadow("d1", "")
	mustOK(t, err)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("shadow changed by refused writes (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(history, allHistory(t, s)); diff != "" {
		t.Errorf("history changed by refused writes (-before +after):\n%s", diff)
	}
}

func TestShadowConcurrentWritersOneWins(t *testing.T) {
	t.Parallel()
	s, _ := shadowFleet(t)
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Version: 1, Doc: doc(1)}, 0, nil))
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			h := entry("d1", "", 2, fmt.Sprintf("user:u%d@a.example", i))
			errs[i] = s.PutShadow(store.Shadow{Device: "d1", Version: 2, Doc: doc(2)}, 1, h)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrVersionConflict):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers won, want 1", won)
	}
	if n := len(allHistory(t, s)); n != 1 {
		t.Errorf("%d history entries, want the winner's only", n)
	}
}

// TestShadowBatchedWritesFailAlone starts many writes of many devices at
// the same moment, so that bbolt joins them into shared transactions, and
// checks that a write refused inside a transaction (a version conflict, a
// device that does not exist, a history entry the store refuses) fails
// alone: every other write of its batch is stored with its history entry,
// and nothing of a refused one is.
func TestShadowBatchedWritesFailAlone(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	const devices = 48
	dev := func(i int) string { return fmt.Sprintf("dev-%02d", i) }
	// Set up in parallel too: a lone PutShadow waits out the batch delay.
	var setup sync.WaitGroup
	for i := range devices {
		setup.Go(func() {
			err := s.CreateDevice(store.Device{Name: dev(i), Customer: "a"})
			if err == nil {
				err = s.PutShadow(store.Shadow{Device: dev(i), Version: 1, Doc: doc(1)}, 0, nil)
			}
			if err == nil {
				err = s.PutShadow(store.Shadow{Device: dev(i), Name: "old", Version: 1, Doc: doc(1)}, 0, nil)
			}
			if err != nil {
				t.Errorf("set up %s: %v", dev(i), err)
			}
		})
	}
	setup.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// A write either has a fixed outcome (want), or races with the other
	// write of its pair for the same version (race): exactly one wins.
	type write struct {
		actor  string
		race   int // 0: none; writes with the same race number compete
		want   error
		do     func(h *store.HistoryEntry) error
		device string
		shadow string
		ver    int64
	}
	var ws []write
	put := func(device, shadow string, expect int64, actor string, race int, want error) {
		ws = append(ws, write{actor: actor, race: race, want: want, device: device, shadow: shadow, ver: expect + 1,
			do: func(h *store.HistoryEntry) error {
				return s.PutShadow(store.Shadow{Device: device, Name: shadow, Version: expect + 1, Doc: doc(int(expect + 1))}, expect, h)
			}})
	}
	for i := range devices {
		d := dev(i)
		put(d, "", 1, "device:"+d, 0, nil)
		switch i % 4 {
		case 0: // a writer that read before version 1 was written, and a new shadow
			put(d, "old", 0, "user:stale@a.example", 0, store.ErrVersionConflict)
			put(d, "named", 0, "user:first@a.example", 0, nil)
		case 1: // two writers that read the same version of one shadow
			put(d, "old", 1, "user:left@a.example", i, nil)
			put(d, "old", 1, "user:right@a.example", i, nil)
		case 2: // a history entry the store refuses after the shadow is put
			put(d, "bad", 0, "", 0, store.ErrInvalid)
		case 3: // a delete, and a device that does not exist
			ws = append(ws, write{actor: "user:del@a.example", want: nil, device: d, shadow: "old", ver: 1,
				do: func(h *store.HistoryEntry) error { return s.DeleteShadow(d, "old", h) }})
			put("ghost-"+d, "", 0, "user:ghost@a.example", 0, store.ErrNotFound)
		}
	}

	commits := int(s.Commits())
	errs := make([]error, len(ws))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			h := entry(w.device, w.shadow, w.ver, w.actor)
			<-start
			errs[i] = w.do(h)
		})
	}
	close(start)
	wg.Wait()
	commits = int(s.Commits()) - commits

	var accepted []store.HistoryEntry
	winners := map[int]int{}
	for i, w := range ws {
		err := errs[i]
		switch {
		case w.race != 0 && err == nil:
			winners[w.race]++
		case w.race != 0:
			if !errors.Is(err, store.ErrVersionConflict) {
				t.Errorf("%s by %q: %v, want success or a version conflict", w.device, w.actor, err)
			}
			continue
		case w.want == nil && err != nil:
			t.Errorf("%s/%s by %q: %v, want success", w.device, w.shadow, w.actor, err)
		case w.want != nil && !errors.Is(err, w.want):
			t.Errorf("%s/%s by %q: %v, want %v", w.device, w.shadow, w.actor, err, w.want)
		}
		if err == nil {
			accepted = append(accepted, *entry(w.device, w.shadow, w.ver, w.actor))
		}
	}
	for race, n := range winners {
		if n != 1 {
			t.Errorf("%d writers of %s won, want exactly 1", n, dev(race))
		}
	}
	if len(winners) != devices/4 {
		t.Errorf("%d races had a winner, want %d", len(winners), devices/4)
	}

	// Every accepted write, and no other, has its history entry.
	byKey := func(e store.HistoryEntry) string {
		return fmt.Sprintf("%s/%s/%d/%s", e.Device, e.Shadow, e.Version, e.Actor)
	}
	sortEntries := cmpopts.SortSlices(func(a, b store.HistoryEntry) bool { return byKey(a) < byKey(b) })
	if diff := cmp.Diff(accepted, allHistory(t, s), sortEntries, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("history (-accepted writes +stored):\n%s", diff)
	}
	// The shadows say the same.
	for i := range devices {
		d := dev(i)
		got, err := s.GetShadow(d, "")
		mustOK(t, err)
		if got.Version != 2 {
			t.Errorf("%s: version %d, want 2", d, got.Version)
		}
		list, err := s.ListShadows(d)
		mustOK(t, err)
		want := map[int][]string{0: {"", "named", "old"}, 1: {"", "old"}, 2: {"", "old"}, 3: {""}}[i%4]
		if diff := cmp.Diff(want, names(list, func(sh store.Shadow) string { return sh.Name })); diff != "" {
			t.Errorf("shadows of %s (-want +got):\n%s", d, diff)
		}
	}
	// The writes shared transactions: refused calls roll back and run
	// again alone without committing, so each commit is a batch.
	t.Logf("%d writes, %d accepted, %d commits", len(ws), len(accepted), commits)
	if commits >= len(accepted) {
		t.Errorf("%d commits for %d accepted writes: the writes were not batched", commits, len(accepted))
	}
}

// TestShadowWritesOnReadOnlyStore: the batched writes keep the read-only
// guard of every other write.
func TestShadowWritesOnReadOnlyStore(t *testing.T) {
	t.Parallel()
	s, path := shadowFleet(t)
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Version: 1, Doc: doc(1)}, 0, nil))
	mustOK(t, s.Close())
	ro, err := store.Open(path, store.Options{ReadOnly: true})
	mustOK(t, err)
	defer ro.Close()
	wantErr(t, ro.PutShadow(store.Shadow{Device: "d1", Version: 2, Doc: doc(2)}, 1, entry("d1", "", 2, "device:d1")), store.ErrReadOnly)
	wantErr(t, ro.DeleteShadow("d1", "", nil), store.ErrReadOnly)
}

func TestDeleteShadow(t *testing.T) {
	t.Parallel()
	s, _ := shadowFleet(t)
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Name: "program", Version: 1, Doc: doc(1)}, 0, entry("d1", "program", 1, "device:d1")))

	wantErr(t, s.DeleteShadow("d1", "", nil), store.ErrNotFound)
	wantErr(t, s.DeleteShadow("ghost", "program", nil), store.ErrNotFound)
	bad := entry("d1", "other", 1, "user:x@a.example")
	wantErr(t, s.DeleteShadow("d1", "program", bad), store.ErrInvalid)
	bad = entry("d1", "program", 1, "")
	wantErr(t, s.DeleteShadow("d1", "program", bad), store.ErrInvalid)
	if _, err := s.GetShadow("d1", "program"); err != nil {
		t.Fatalf("refused delete removed the shadow: %v", err)
	}

	del := &store.HistoryEntry{Device: "d1", Shadow: "program", Version: 1, Time: at(5), Actor: "user:x@a.example", Channel: "page"}
	mustOK(t, s.DeleteShadow("d1", "program", del))
	_, err := s.GetShadow("d1", "program")
	wantErr(t, err, store.ErrNotFound)
	es := allHistory(t, s)
	if len(es) != 2 || es[0].Actor != "user:x@a.example" || es[0].Update != nil {
		t.Errorf("history after delete: %+v", es)
	}
	// A deleted shadow starts again from expected version 0.
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Name: "program", Version: 2, Doc: doc(2)}, 0, nil))
}

func TestDeleteDeviceRemovesShadowsKeepsHistory(t *testing.T) {
	t.Parallel()
	s, _ := shadowFleet(t)
	for _, name := range []string{"", "program"} {
		mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Name: name, Version: 1, Doc: doc(1)}, 0, entry("d1", name, 1, "device:d1")))
	}
	mustOK(t, s.PutShadow(store.Shadow{Device: "d2", Version: 1, Doc: doc(1)}, 0, entry("d2", "", 1, "device:d2")))
	mustOK(t, s.DeleteDevice("d1"))

	for _, name := range []string{"", "program"} {
		_, err := s.GetShadow("d1", name)
		wantErr(t, err, store.ErrNotFound)
	}
	if _, err := s.GetShadow("d2", ""); err != nil {
		t.Errorf("deleting d1 removed d2's shadow: %v", err)
	}
	mustOK(t, s.CreateDevice(store.Device{Name: "d1", Customer: "a"}))
	list, err := s.ListShadows("d1")
	mustOK(t, err)
	if len(list) != 0 {
		t.Errorf("a new device of the same name inherited shadows: %+v", list)
	}
	es, _, err := s.History(store.HistoryQuery{Device: "d1"})
	mustOK(t, err)
	if len(es) != 2 {
		t.Errorf("history of the deleted device has %d entries, want 2 kept for audit", len(es))
	}
}

// fillShadows writes shadows and history of two devices.
func fillShadows(t *testing.T, s *store.Store) ([]store.Shadow, []store.HistoryEntry) {
	t.Helper()
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "d1", Customer: "a"}))
	for v := int64(1); v <= 3; v++ {
		mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Version: v, Doc: doc(int(v)), UpdatedAt: at(int(v))}, v-1, entry("d1", "", v, "device:d1")))
	}
	mustOK(t, s.PutShadow(store.Shadow{Device: "d1", Name: "program", Version: 1, Doc: doc(1), UpdatedAt: at(1)}, 0, entry("d1", "program", 1, "scheduler")))
	list, err := s.ListShadows("d1")
	mustOK(t, err)
	return list, allHistory(t, s)
}

func TestShadowsReopen(t *testing.T) {
	t.Parallel()
	s, path := openStore(t)
	shadows, history := fillShadows(t, s)
	mustOK(t, s.Close())

	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	list, err := s.ListShadows("d1")
	mustOK(t, err)
	if diff := cmp.Diff(shadows, list); diff != "" || len(list) != 2 {
		t.Errorf("shadows after reopen (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(history, allHistory(t, s)); diff != "" || len(history) != 4 {
		t.Errorf("history after reopen (-before +after):\n%s", diff)
	}
}

func TestMigrateFromVersion1(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	old, err := store.OpenAtSchemaVersion(path, 1)
	mustOK(t, err)
	want := fill(t, old)
	if want.Version != 1 {
		t.Fatalf("old file at version %d, want 1", want.Version)
	}
	mustOK(t, old.Close())
	if got := boltBuckets(t, path); got["shadows"] || got["history"] {
		t.Fatalf("a version-1 file has version-2 buckets: %v", got)
	}

	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	got := take(t, s)
	want.Version = store.LatestSchemaVersion()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("after migration (-want +got):\n%s", diff)
	}
	if got.Version != store.LatestSchemaVersion() {
		t.Errorf("migrated to %d, latest is %d", got.Version, store.LatestSchemaVersion())
	}
	mustOK(t, s.PutShadow(store.Shadow{Device: "chiller-1", Version: 1, Doc: doc(1)}, 0, entry("chiller-1", "", 1, "device:chiller-1")))
	es, _, err := s.History(store.HistoryQuery{Device: "chiller-1"})
	mustOK(t, err)
	if len(es) != 1 {
		t.Errorf("history on the migrated file has %d entries, want 1", len(es))
	}
}
