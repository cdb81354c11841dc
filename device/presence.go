package device

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/device/events"
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

// Presence tracks which devices are connected, kept in memory only: after a
// restart every device is offline and its last_seen unknown until it
// speaks again. It is safe for concurrent use.
//
// Each connection carries a session number the broker assigns, increasing.
// A device that reconnects, or two connections racing with the same client
// id, leave the newer session in charge: the late disconnect of a session
// that was already replaced is ignored, so a device is never left offline
// while connected nor online forever after a race.
type Presence struct {
	events  EventPublisher // nil: no events
	devices sync.Map       // device name → *presenceEntry
}

type presenceEntry struct {
	lastSeen atomic.Int64 // unix nanoseconds; 0 = unknown

	mu      sync.Mutex
	session uint64 // current or last session
	info    PresenceInfo
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
	if p.events != nil {
		p.events.Publish(events.DeviceDisconnected{Device: name, At: at, Reason: reason})
	}
}

// Seen records a message from device name. It runs for every packet, so it
// takes no lock once the device is known.
func (p *Presence) Seen(name string, at time.Time) {
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

// Get returns what is known about device name; ok is false when it has
// not connected since Hearth started.
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
