package device

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/store"
)

// Reasons a device's session ended, as Presence records them and
// DeviceDisconnected events carry them.
const (
	ReasonClean             = "clean"              // the device sent DISCONNECT
	ReasonKeepaliveTimeout  = "keepalive_timeout"  // silent for 1.5 times its keepalive
	ReasonError             = "error"              // connection lost or protocol error
	ReasonTakenOver         = "taken_over"         // a new connection with the same client id
	ReasonCredentialRevoked = "credential_revoked" // its credential stopped being active
	ReasonServerShutdown    = "server_shutdown"    // Hearth is stopping
	// ReasonServerRestart ends a session that a restored record still
	// showed open: Hearth stopped without recording its end (a crash, a
	// power loss), so the last packet seen is the best known end. Restore
	// sets it; no event carries it, since nothing happened in this run.
	ReasonServerRestart = "server_restart"
)

// PresenceInfo is what is known about a device's connection. Zero times
// are unknown.
type PresenceInfo struct {
	Online         bool
	ConnectedAt    time.Time // start of the current or last session
	DisconnectedAt time.Time // end of the last session; zero while the first is open
	LastSeen       time.Time // last MQTT packet of any kind
	Reason         string    // why the last session ended; "" while online
	Remote         string    // remote address of the current or last session
	Protocol       byte      // MQTT protocol version: 4 (3.1.1) or 5
}

// Presence tracks which devices are connected. It is safe for concurrent
// use.
//
// Each connection carries a session number the broker assigns, increasing.
// A device that reconnects, or two connections racing with the same client
// id, leave the newer session in charge: the late disconnect of a session
// that was already replaced is ignored, so a device is never left offline
// while connected nor online forever after a race.
//
// The state lives in memory, where the MQTT path updates it without waiting
// for a disk; Flush saves what changed since the previous Flush, and Restore
// loads the saved state back at start, so presence survives a restart less
// whatever changed after the last Flush.
type Presence struct {
	events  EventPublisher // nil: no events
	devices sync.Map       // device name → *presenceEntry

	// flushMu lets one Flush run at a time, so that an older snapshot is
	// never written after a newer one. Only Flush takes it: the MQTT path
	// never waits for a save.
	flushMu sync.Mutex
}

// PresenceStore saves presence records in one write; *store.Store
// implements it.
type PresenceStore interface {
	PutPresence(recs []store.PresenceRecord) error
}

type presenceEntry struct {
	lastSeen atomic.Int64 // unix nanoseconds; 0 = unknown

	mu      sync.Mutex
	session uint64 // current or last session; 0 for a restored entry
	info    PresenceInfo
	// changes counts the changes to session and info; saved is its value,
	// and savedSeen lastSeen's, as of the last successful Flush. lastSeen
	// has no counter of its own so that Seen stays one load and one
	// compare-and-swap.
	changes   uint64
	saved     uint64
	savedSeen int64
}

// NewPresence returns a Presence that publishes DeviceConnected and
// DeviceDisconnected events to p, when p is not nil.
func NewPresence(p EventPublisher) *Presence {
	return &Presence{events: p}
}

func (p *Presence) entry(name string) *presenceEntry {
	if e, ok := p.devices.Load(name); ok {
		return e.(*presenceEntry)
	}
	e, _ := p.devices.LoadOrStore(name, &presenceEntry{})
	return e.(*presenceEntry)
}

// Connected records that session of device name started. A session older
// than the one already recorded (its connect reported late) is ignored.
func (p *Presence) Connected(name string, session uint64, remote string, protocol byte, at time.Time) {
	e := p.entry(name)
	e.mu.Lock()
	defer e.mu.Unlock()
	if session < e.session {
		return
	}
	e.session = session
	e.info.Online = true
	e.info.ConnectedAt = at
	e.info.Reason = ""
	e.info.Remote = remote
	e.info.Protocol = protocol
	e.changes++
	e.seen(at)
	if p.events != nil {
		p.events.Publish(events.DeviceConnected{Device: name, At: at, Remote: remote, Protocol: protocol})
	}
}

// Disconnected records that session of device name ended for reason. It is
// ignored unless session is the device's current one.
func (p *Presence) Disconnected(name string, session uint64, reason string, at time.Time) {
	v, ok := p.devices.Load(name)
	if !ok {
		return
	}
	e := v.(*presenceEntry)
	e.mu.Lock()
	defer e.mu.Unlock()
	if session != e.session || !e.info.Online {
		return
	}
	e.info.Online = false
	e.info.DisconnectedAt = at
	e.info.Reason = reason
	e.changes++
	if p.events != nil {
		p.events.Publish(events.DeviceDisconnected{Device: name, At: at, Reason: reason})
	}
}

// Seen records a message from device name. It runs for every packet, so it
// takes no lock. A name with no session recorded yet is ignored: the
// CONNECT packet is read before it names its client, and a refused
// connection must leave no trace; the packets of a session that is being
// established are covered by Connected, which counts as seen.
func (p *Presence) Seen(name string, at time.Time) {
	if e, ok := p.devices.Load(name); ok {
		e.(*presenceEntry).seen(at)
	}
}

// Heard records a message from device name that reached Hearth through
// another broker (see broker/upstream). Unlike Seen it creates the
// device's entry: no session of this box's broker does, and a broker that
// publishes no lifecycle events leaves the last message as all there is
// to know. The device is not marked online by it.
func (p *Presence) Heard(name string, at time.Time) {
	p.entry(name).seen(at)
}

// seen moves lastSeen forward, never back: packets of one device are read
// in order, but the connect of a new session may report a time a moment
// older than a packet of the old one.
func (e *presenceEntry) seen(at time.Time) {
	n := at.UnixNano()
	for {
		old := e.lastSeen.Load()
		if old >= n || e.lastSeen.CompareAndSwap(old, n) {
			return
		}
	}
}

// Get returns what is known about device name; ok is false when nothing
// is: it has neither connected since Hearth started nor been restored.
func (p *Presence) Get(name string) (PresenceInfo, bool) {
	v, ok := p.devices.Load(name)
	if !ok {
		return PresenceInfo{}, false
	}
	e := v.(*presenceEntry)
	e.mu.Lock()
	info := e.info
	e.mu.Unlock()
	if n := e.lastSeen.Load(); n != 0 {
		info.LastSeen = time.Unix(0, n)
	}
	return info, true
}

// Restore loads saved records, once at start before the broker accepts
// connections. Every restored device is offline: a record still saying
// online tells of a session whose end Hearth never recorded (a crash, a
// power loss), which is closed at its last packet seen with
// ReasonServerRestart, and saved so by the next Flush.
//
// Restored entries are at session 0 and the broker numbers sessions from 1
// in each process, so any new session beats them, and no disconnect can
// apply to them. A device already known when Restore runs keeps its state:
// whatever happened in this process is newer than any record.
func (p *Presence) Restore(recs []store.PresenceRecord) {
	// The entries of a fleet are made in one slice, not one by one.
	entries := make([]presenceEntry, len(recs))
	for i, r := range recs {
		e := &entries[i]
		e.info = PresenceInfo{
			ConnectedAt:    r.ConnectedAt,
			DisconnectedAt: r.DisconnectedAt,
			Reason:         r.Reason,
			Remote:         r.Remote,
			Protocol:       r.Protocol,
		}
		if r.Online {
			end := r.LastSeen
			if end.IsZero() {
				end = r.ConnectedAt
			}
			e.info.DisconnectedAt = end
			e.info.Reason = ReasonServerRestart
			e.changes = 1
		}
		if !r.LastSeen.IsZero() {
			n := r.LastSeen.UnixNano()
			e.lastSeen.Store(n)
			e.savedSeen = n
		}
		p.devices.LoadOrStore(r.Device, e)
	}
}

// Snapshot returns the records of the devices whose presence changed since
// the last successful Flush, sorted by device name. It changes nothing.
func (p *Presence) Snapshot() []store.PresenceRecord {
	recs, _ := p.snapshot()
	return recs
}

// Flush saves to st the presence of every device that changed since the
// last successful Flush, in one write, and nothing when none did. When the
// write fails the changes stay pending and the next Flush tries them
// again. No entry is locked during the write, so connects, disconnects and
// packets go on meanwhile; what changes during it is saved next time.
func (p *Presence) Flush(st PresenceStore) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	recs, marks := p.snapshot()
	if len(recs) == 0 {
		return nil
	}
	if err := st.PutPresence(recs); err != nil {
		return fmt.Errorf("save presence of %d devices: %w", len(recs), err)
	}
	for _, m := range marks {
		m.e.mu.Lock()
		m.e.saved = m.changes
		m.e.savedSeen = m.seen
		m.e.mu.Unlock()
	}
	return nil
}

// savedMark is what a snapshot read of one entry, to mark it saved once
// the write succeeded.
type savedMark struct {
	e       *presenceEntry
	changes uint64
	seen    int64
}

// snapshot reads the entries that changed since they were last saved.
// Each entry is locked only while it is read.
func (p *Presence) snapshot() ([]store.PresenceRecord, []savedMark) {
	var recs []store.PresenceRecord
	var marks []savedMark
	p.devices.Range(func(k, v any) bool {
		e := v.(*presenceEntry)
		e.mu.Lock()
		defer e.mu.Unlock()
		seen := e.lastSeen.Load()
		if e.changes == e.saved && seen == e.savedSeen {
			return true
		}
		rec := store.PresenceRecord{
			Device:         k.(string),
			Online:         e.info.Online,
			ConnectedAt:    e.info.ConnectedAt.UTC(),
			DisconnectedAt: e.info.DisconnectedAt.UTC(),
			Reason:         e.info.Reason,
			Remote:         e.info.Remote,
			Protocol:       e.info.Protocol,
		}
		if seen != 0 {
			rec.LastSeen = time.Unix(0, seen).UTC()
		}
		recs = append(recs, rec)
		marks = append(marks, savedMark{e: e, changes: e.changes, seen: seen})
		return true
	})
	slices.SortFunc(recs, func(a, b store.PresenceRecord) int { return strings.Compare(a.Device, b.Device) })
	return recs, marks
}
