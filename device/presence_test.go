package device_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/store"
)

// eventLog records published events.
type eventLog struct {
	mu  sync.Mutex
	got []events.Event
}

func (l *eventLog) Publish(e events.Event) {
	l.mu.Lock()
	l.got = append(l.got, e)
	l.mu.Unlock()
}

func TestPresence(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type step struct {
		connect    bool
		disconnect bool
		session    uint64
		reason     string
		seen       bool
		at         int
	}
	tests := []struct {
		name   string
		steps  []step
		want   device.PresenceInfo
		events []events.Event
	}{
		{
			name:  "connected",
			steps: []step{{connect: true, session: 1, at: 0}, {seen: true, at: 5}},
			want:  device.PresenceInfo{Online: true, ConnectedAt: at(0), LastSeen: at(5), Remote: "10.0.0.1:1", Protocol: 5},
			events: []events.Event{
				events.DeviceConnected{Device: "d", At: at(0), Remote: "10.0.0.1:1", Protocol: 5},
			},
		},
		{
			name: "clean disconnect",
			steps: []step{
				{connect: true, session: 1, at: 0},
				{disconnect: true, session: 1, reason: device.ReasonClean, at: 9},
			},
			want: device.PresenceInfo{ConnectedAt: at(0), DisconnectedAt: at(9), LastSeen: at(0), Reason: "clean", Remote: "10.0.0.1:1", Protocol: 5},
			events: []events.Event{
				events.DeviceConnected{Device: "d", At: at(0), Remote: "10.0.0.1:1", Protocol: 5},
				events.DeviceDisconnected{Device: "d", At: at(9), Reason: "clean"},
			},
		},
		{
			name: "takeover: late disconnect of the old session is ignored",
			steps: []step{
				{connect: true, session: 1, at: 0},
				{connect: true, session: 2, at: 3},
				{disconnect: true, session: 1, reason: device.ReasonTakenOver, at: 4},
			},
			want: device.PresenceInfo{Online: true, ConnectedAt: at(3), LastSeen: at(3), Remote: "10.0.0.1:1", Protocol: 5},
			events: []events.Event{
				events.DeviceConnected{Device: "d", At: at(0), Remote: "10.0.0.1:1", Protocol: 5},
				events.DeviceConnected{Device: "d", At: at(3), Remote: "10.0.0.1:1", Protocol: 5},
			},
		},
		{
			name: "takeover, then the newer session ends",
			steps: []step{
				{connect: true, session: 1, at: 0},
				{connect: true, session: 2, at: 3},
				{disconnect: true, session: 1, reason: device.ReasonTakenOver, at: 4},
				{disconnect: true, session: 2, reason: device.ReasonKeepaliveTimeout, at: 60},
			},
			want: device.PresenceInfo{ConnectedAt: at(3), DisconnectedAt: at(60), LastSeen: at(3), Reason: "keepalive_timeout", Remote: "10.0.0.1:1", Protocol: 5},
			events: []events.Event{
				events.DeviceConnected{Device: "d", At: at(0), Remote: "10.0.0.1:1", Protocol: 5},
				events.DeviceConnected{Device: "d", At: at(3), Remote: "10.0.0.1:1", Protocol: 5},
				events.DeviceDisconnected{Device: "d", At: at(60), Reason: "keepalive_timeout"},
			},
		},
		{
			name: "old session's disconnect before the new connect",
			steps: []step{
				{connect: true, session: 1, at: 0},
				{disconnect: true, session: 1, reason: device.ReasonTakenOver, at: 3},
				{connect: true, session: 2, at: 3},
			},
			want: device.PresenceInfo{Online: true, ConnectedAt: at(3), DisconnectedAt: at(3), LastSeen: at(3), Remote: "10.0.0.1:1", Protocol: 5},
			events: []events.Event{
				events.DeviceConnected{Device: "d", At: at(0), Remote: "10.0.0.1:1", Protocol: 5},
				events.DeviceDisconnected{Device: "d", At: at(3), Reason: "taken_over"},
				events.DeviceConnected{Device: "d", At: at(3), Remote: "10.0.0.1:1", Protocol: 5},
			},
		},
		{
			name: "older session's connect reported late is ignored",
			steps: []step{
				{connect: true, session: 2, at: 3},
				{connect: true, session: 1, at: 4},
				{disconnect: true, session: 1, reason: device.ReasonError, at: 5},
			},
			want: device.PresenceInfo{Online: true, ConnectedAt: at(3), LastSeen: at(3), Remote: "10.0.0.1:1", Protocol: 5},
			events: []events.Event{
				events.DeviceConnected{Device: "d", At: at(3), Remote: "10.0.0.1:1", Protocol: 5},
			},
		},
		{
			name:  "last seen never goes back",
			steps: []step{{connect: true, session: 1, at: 0}, {seen: true, at: 8}, {seen: true, at: 7}},
			want:  device.PresenceInfo{Online: true, ConnectedAt: at(0), LastSeen: at(8), Remote: "10.0.0.1:1", Protocol: 5},
			events: []events.Event{
				events.DeviceConnected{Device: "d", At: at(0), Remote: "10.0.0.1:1", Protocol: 5},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &eventLog{}
			p := device.NewPresence(log)
			for _, s := range tt.steps {
				switch {
				case s.connect:
					p.Connected("d", s.session, "10.0.0.1:1", 5, at(s.at))
				case s.disconnect:
					p.Disconnected("d", s.session, s.reason, at(s.at))
				case s.seen:
					p.Seen("d", at(s.at))
				}
			}
			got, ok := p.Get("d")
			if !ok {
				t.Fatal("Get: device unknown")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("presence (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.events, log.got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPresenceUnknown: a disconnect or a packet of a device with no
// session recorded (the CONNECT is read before it names its client) leaves
// no trace, and nothing to save.
func TestPresenceUnknown(t *testing.T) {
	p := device.NewPresence(nil)
	p.Disconnected("ghost", 1, device.ReasonClean, time.Now())
	p.Seen("ghost", time.Now())
	p.Seen("", time.Now())
	for _, name := range []string{"ghost", ""} {
		if info, ok := p.Get(name); ok {
			t.Errorf("Get(%q) = %+v, true; want unknown", name, info)
		}
	}
	if got := p.Snapshot(); len(got) != 0 {
		t.Errorf("Snapshot() = %+v; want nothing to save", got)
	}
}

// TestPresenceStorm races many sessions of one device; whichever connected
// last is online once all of them but the last have ended.
func TestPresenceStorm(t *testing.T) {
	p := device.NewPresence(nil)
	const n = 200
	var wg sync.WaitGroup
	now := time.Now()
	for s := uint64(1); s <= n; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Connected("d", s, "r", 4, now)
			p.Seen("d", now)
			if s != n {
				p.Disconnected("d", s, device.ReasonTakenOver, now)
			}
		}()
	}
	wg.Wait()
	if info, _ := p.Get("d"); !info.Online {
		t.Errorf("after the storm: %+v; want online", info)
	}
	p.Disconnected("d", n, device.ReasonClean, now)
	if info, _ := p.Get("d"); info.Online || info.Reason != device.ReasonClean {
		t.Errorf("after the last session ended: %+v; want offline, clean", info)
	}
}

// presenceStore is a real store file with customer acme and the named
// devices, which records every PutPresence call it passes on.
type presenceStore struct {
	path  string
	st    *store.Store
	fail  bool                     // refuse writes, as a full disk would
	calls [][]store.PresenceRecord // what each PutPresence was given
}

var errDiskFull = errors.New("no space left on device")

func newPresenceStore(t *testing.T, devices ...string) *presenceStore {
	t.Helper()
	ps := &presenceStore{path: filepath.Join(t.TempDir(), "hearth.db")}
	ps.open(t)
	if err := ps.st.CreateCustomer(store.Customer{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range devices {
		if err := ps.st.CreateDevice(store.Device{Name: d, Customer: "acme", Type: "chiller"}); err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

func (ps *presenceStore) open(t *testing.T) {
	t.Helper()
	st, err := store.Open(ps.path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ps.st = st
}

func (ps *presenceStore) PutPresence(recs []store.PresenceRecord) error {
	ps.calls = append(ps.calls, recs)
	if ps.fail {
		return errDiskFull
	}
	return ps.st.PutPresence(recs)
}

// saved lists what the file holds.
func (ps *presenceStore) saved(t *testing.T) []store.PresenceRecord {
	t.Helper()
	recs, err := ps.st.ListPresence()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// flushed runs a Flush and returns the records it wrote, nil when it wrote
// nothing.
func (ps *presenceStore) flushed(t *testing.T, p *device.Presence) []store.PresenceRecord {
	t.Helper()
	n := len(ps.calls)
	if err := p.Flush(ps); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	switch len(ps.calls) - n {
	case 0:
		return nil
	case 1:
		return ps.calls[n]
	}
	t.Fatalf("Flush called PutPresence %d times; want at most once", len(ps.calls)-n)
	return nil
}

func TestPresenceRestore(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name  string
		rec   store.PresenceRecord
		want  device.PresenceInfo
		dirty []store.PresenceRecord // what the next flush saves
	}{
		{
			name: "offline stays as it was",
			rec:  store.PresenceRecord{Device: "d", ConnectedAt: at(0), DisconnectedAt: at(9), LastSeen: at(8), Reason: "keepalive_timeout", Remote: "10.0.0.1:1", Protocol: 4},
			want: device.PresenceInfo{ConnectedAt: at(0), DisconnectedAt: at(9), LastSeen: at(8), Reason: "keepalive_timeout", Remote: "10.0.0.1:1", Protocol: 4},
		},
		{
			name: "shut down cleanly",
			rec:  store.PresenceRecord{Device: "d", ConnectedAt: at(0), DisconnectedAt: at(30), LastSeen: at(29), Reason: "server_shutdown", Remote: "10.0.0.1:1", Protocol: 5},
			want: device.PresenceInfo{ConnectedAt: at(0), DisconnectedAt: at(30), LastSeen: at(29), Reason: "server_shutdown", Remote: "10.0.0.1:1", Protocol: 5},
		},
		{
			name: "online: the session ends at its last packet",
			rec:  store.PresenceRecord{Device: "d", Online: true, ConnectedAt: at(0), DisconnectedAt: at(-60), LastSeen: at(42), Remote: "10.0.0.1:1", Protocol: 5},
			want: device.PresenceInfo{ConnectedAt: at(0), DisconnectedAt: at(42), LastSeen: at(42), Reason: "server_restart", Remote: "10.0.0.1:1", Protocol: 5},
			dirty: []store.PresenceRecord{
				{Device: "d", ConnectedAt: at(0), DisconnectedAt: at(42), LastSeen: at(42), Reason: "server_restart", Remote: "10.0.0.1:1", Protocol: 5},
			},
		},
		{
			name: "online without last seen: the session ends when it started",
			rec:  store.PresenceRecord{Device: "d", Online: true, ConnectedAt: at(3), Protocol: 4},
			want: device.PresenceInfo{ConnectedAt: at(3), DisconnectedAt: at(3), Reason: "server_restart", Protocol: 4},
			dirty: []store.PresenceRecord{
				{Device: "d", ConnectedAt: at(3), DisconnectedAt: at(3), Reason: "server_restart", Protocol: 4},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &eventLog{}
			p := device.NewPresence(log)
			p.Restore([]store.PresenceRecord{tt.rec})
			got, ok := p.Get("d")
			if !ok {
				t.Fatal("Get: restored device unknown")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("restored (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.dirty, p.Snapshot()); diff != "" {
				t.Errorf("pending after restore (-want +got):\n%s", diff)
			}
			if len(log.got) != 0 {
				t.Errorf("restore published %v; want no events", log.got)
			}
		})
	}
}

// TestPresenceNewSessionBeatsRestored: the broker numbers sessions from 1
// in each process; the first of them takes over from any restored entry,
// and a device known before Restore runs keeps its state.
func TestPresenceNewSessionBeatsRestored(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	p := device.NewPresence(nil)
	p.Connected("early", 1, "10.0.0.3:1", 5, at(100))
	p.Restore([]store.PresenceRecord{
		{Device: "d", Online: true, ConnectedAt: at(0), LastSeen: at(50), Remote: "10.0.0.1:1", Protocol: 4},
		{Device: "early", ConnectedAt: at(0), DisconnectedAt: at(5), LastSeen: at(5), Reason: "clean"},
	})
	p.Connected("d", 1, "10.0.0.2:1", 5, at(100))
	want := device.PresenceInfo{Online: true, ConnectedAt: at(100), DisconnectedAt: at(50), LastSeen: at(100), Remote: "10.0.0.2:1", Protocol: 5}
	if got, _ := p.Get("d"); !cmp.Equal(want, got) {
		t.Errorf("after a new session (-want +got):\n%s", cmp.Diff(want, got))
	}
	p.Disconnected("d", 1, device.ReasonClean, at(110))
	want = device.PresenceInfo{ConnectedAt: at(100), DisconnectedAt: at(110), LastSeen: at(100), Reason: "clean", Remote: "10.0.0.2:1", Protocol: 5}
	if got, _ := p.Get("d"); !cmp.Equal(want, got) {
		t.Errorf("after the new session ended (-want +got):\n%s", cmp.Diff(want, got))
	}
	want = device.PresenceInfo{Online: true, ConnectedAt: at(100), LastSeen: at(100), Remote: "10.0.0.3:1", Protocol: 5}
	if got, _ := p.Get("early"); !cmp.Equal(want, got) {
		t.Errorf("a device connected before Restore (-want +got):\n%s", cmp.Diff(want, got))
	}
}

// TestPresenceFlush: a flush writes only the devices that changed since
// the last one, nothing when none did, and a failed flush is retried.
func TestPresenceFlush(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ps := newPresenceStore(t, "a", "b", "c")
	p := device.NewPresence(nil)
	online := func(name string, connected, seen int) store.PresenceRecord {
		return store.PresenceRecord{Device: name, Online: true, ConnectedAt: at(connected), LastSeen: at(seen), Remote: "10.0.0.1:1", Protocol: 5}
	}

	if got := ps.flushed(t, p); got != nil {
		t.Errorf("flush of an empty presence wrote %+v", got)
	}
	p.Connected("a", 1, "10.0.0.1:1", 5, at(0))
	p.Connected("b", 2, "10.0.0.1:1", 5, at(1))
	p.Connected("c", 3, "10.0.0.1:1", 5, at(2))
	all := []store.PresenceRecord{online("a", 0, 0), online("b", 1, 1), online("c", 2, 2)}
	if diff := cmp.Diff(all, ps.flushed(t, p)); diff != "" {
		t.Errorf("first flush (-want +got):\n%s", diff)
	}
	if got := ps.flushed(t, p); got != nil {
		t.Errorf("flush without a change wrote %+v", got)
	}

	// A packet and a disconnect: only their devices are written.
	p.Seen("a", at(5))
	p.Seen("b", at(0)) // older than what is known: no change
	p.Disconnected("c", 3, device.ReasonKeepaliveTimeout, at(7))
	c := store.PresenceRecord{Device: "c", ConnectedAt: at(2), DisconnectedAt: at(7), LastSeen: at(2), Reason: "keepalive_timeout", Remote: "10.0.0.1:1", Protocol: 5}
	want := []store.PresenceRecord{online("a", 0, 5), c}
	if diff := cmp.Diff(want, ps.flushed(t, p)); diff != "" {
		t.Errorf("flush after a packet and a disconnect (-want +got):\n%s", diff)
	}
	// Changes that leave a device as it was saved still count: the
	// change counter does not compare values.
	p.Connected("b", 4, "10.0.0.1:1", 5, at(1))
	if diff := cmp.Diff([]store.PresenceRecord{online("b", 1, 1)}, ps.flushed(t, p)); diff != "" {
		t.Errorf("flush after a reconnect (-want +got):\n%s", diff)
	}

	// A failed write keeps the changes pending, and the next flush saves
	// them together with what changed meanwhile.
	p.Seen("a", at(9))
	ps.fail = true
	if err := p.Flush(ps); !errors.Is(err, errDiskFull) {
		t.Fatalf("Flush on a failing store: %v; want it to wrap %v", err, errDiskFull)
	}
	if diff := cmp.Diff([]store.PresenceRecord{online("a", 0, 9)}, p.Snapshot()); diff != "" {
		t.Errorf("pending after a failed flush (-want +got):\n%s", diff)
	}
	ps.fail = false
	p.Disconnected("b", 4, device.ReasonClean, at(12))
	b := store.PresenceRecord{Device: "b", ConnectedAt: at(1), DisconnectedAt: at(12), LastSeen: at(1), Reason: "clean", Remote: "10.0.0.1:1", Protocol: 5}
	want = []store.PresenceRecord{online("a", 0, 9), b}
	if diff := cmp.Diff(want, ps.flushed(t, p)); diff != "" {
		t.Errorf("flush after a failed one (-want +got):\n%s", diff)
	}
	if got := ps.flushed(t, p); got != nil {
		t.Errorf("flush after the retry wrote %+v", got)
	}

	want = []store.PresenceRecord{online("a", 0, 9), b, c}
	if diff := cmp.Diff(want, ps.saved(t)); diff != "" {
		t.Errorf("store holds (-want +got):\n%s", diff)
	}
}

// TestPresenceFlushRestoreRoundTrip: what one process flushed, the next
// restores, on a real store file; nothing restored is written again unless
// it changes.
func TestPresenceFlushRestoreRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.Local)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ps := newPresenceStore(t, "gone", "left", "up")
	first := device.NewPresence(nil)
	first.Connected("left", 1, "10.0.0.1:1", 4, at(0))
	first.Seen("left", at(3))
	first.Disconnected("left", 1, device.ReasonClean, at(4))
	first.Connected("up", 2, "10.0.0.2:1", 5, at(1))
	first.Seen("up", at(6))
	first.Connected("gone", 3, "10.0.0.3:1", 5, at(2))
	first.Connected("never-created", 4, "10.0.0.4:1", 5, at(2))
	if err := ps.st.DeleteDevice("gone"); err != nil {
		t.Fatal(err)
	}
	if err := first.Flush(ps); err != nil {
		t.Fatal(err)
	}
	ps.calls = nil
	if err := ps.st.Close(); err != nil {
		t.Fatal(err)
	}

	ps.open(t)
	saved := ps.saved(t)
	if got := len(saved); got != 2 {
		t.Fatalf("saved %d records, want 2 (of the devices that exist): %+v", got, saved)
	}
	second := device.NewPresence(nil)
	second.Restore(saved)
	for name, want := range map[string]device.PresenceInfo{
		"left": {ConnectedAt: at(0), DisconnectedAt: at(4), LastSeen: at(3), Reason: "clean", Remote: "10.0.0.1:1", Protocol: 4},
		"up":   {ConnectedAt: at(1), DisconnectedAt: at(6), LastSeen: at(6), Reason: "server_restart", Remote: "10.0.0.2:1", Protocol: 5},
	} {
		got, ok := second.Get(name)
		if !ok {
			t.Errorf("%s: not restored", name)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s restored (-want +got):\n%s", name, diff)
		}
	}
	for _, name := range []string{"gone", "never-created"} {
		if info, ok := second.Get(name); ok {
			t.Errorf("%s restored as %+v; its device does not exist", name, info)
		}
	}
	// Only the session the restart closed is saved again.
	got := ps.flushed(t, second)
	if len(got) != 1 || got[0].Device != "up" || got[0].Online || got[0].Reason != device.ReasonServerRestart {
		t.Errorf("first flush after restore wrote %+v; want only up, offline with reason server_restart", got)
	}
}

// TestPresenceFlushWhileBusy flushes while devices connect, send and leave:
// under -race it checks the locking, and the last flush, once they are
// done, saves exactly the final state.
func TestPresenceFlushWhileBusy(t *testing.T) {
	names := []string{"d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7"}
	ps := newPresenceStore(t, names...)
	p := device.NewPresence(nil)
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	const rounds = 200
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				session := uint64(i*rounds + r + 1)
				at := t0.Add(time.Duration(r) * time.Second)
				p.Connected(name, session, "10.0.0.1:1", 5, at)
				p.Seen(name, at.Add(time.Millisecond))
				if r < rounds-1 {
					p.Disconnected(name, session, device.ReasonClean, at.Add(2*time.Millisecond))
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for busy := true; busy; {
		select {
		case <-done:
			busy = false
		default:
		}
		if err := p.Flush(ps); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ps); err != nil {
		t.Fatal(err)
	}
	last := t0.Add((rounds - 1) * time.Second)
	var want []store.PresenceRecord
	for _, name := range names {
		want = append(want, store.PresenceRecord{
			Device: name, Online: true, ConnectedAt: last, DisconnectedAt: last.Add(-time.Second + 2*time.Millisecond),
			LastSeen: last.Add(time.Millisecond), Remote: "10.0.0.1:1", Protocol: 5,
		})
	}
	if diff := cmp.Diff(want, ps.saved(t)); diff != "" {
		t.Errorf("saved after the last flush (-want +got):\n%s", diff)
	}
	if got := p.Snapshot(); len(got) != 0 {
		t.Errorf("pending after the last flush: %+v", got)
	}
}

func BenchmarkPresenceSeen(b *testing.B) {
	p := device.NewPresence(nil)
	p.Connected("d", 1, "r", 4, time.Now())
	now := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Seen("d", now)
		}
	})
}

// TestPresenceHeard: a message relayed by another broker gives a device
// its last seen, and a record that is saved, without making it online;
// Seen alone would ignore a device no session of this broker knows.
func TestPresenceHeard(t *testing.T) {
	ps := newPresenceStore(t, "c1")
	p := device.NewPresence(nil)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	p.Seen("c1", at)
	if _, ok := p.Get("c1"); ok {
		t.Fatal("Seen created an entry")
	}
	p.Heard("c1", at)
	p.Heard("c1", at.Add(-time.Minute)) // never backwards
	info, ok := p.Get("c1")
	if !ok || info.Online || !info.LastSeen.Equal(at) {
		t.Fatalf("after Heard: %+v %v; want offline, last seen %v", info, ok, at)
	}
	recs := ps.flushed(t, p)
	if len(recs) != 1 || recs[0].Device != "c1" || !recs[0].LastSeen.Equal(at) {
		t.Fatalf("saved %+v; want c1 last seen %v", recs, at)
	}
}
