package events

import (
	"sync"
	"sync/atomic"
	"time"
)

// Event is one of the event types of this package.
type Event interface {
	// Device is the name of the device the event is about.
	DeviceName() string
}

// DeviceConnected: a device's MQTT session started.
type DeviceConnected struct {
	Device   string
	At       time.Time
	Remote   string // remote address
	Protocol byte   // MQTT protocol version: 4 (3.1.1) or 5
}

// DeviceDisconnected: a device's MQTT session ended.
type DeviceDisconnected struct {
	Device string
	At     time.Time
	Reason string // clean, keepalive_timeout, error, taken_over, credential_revoked, server_shutdown
}

// TelemetryRejected: a telemetry message was refused whole.
type TelemetryRejected struct {
	Device  string
	At      time.Time
	Code    string // one of the device package's rejection codes
	Message string
}

// TelemetryStored: a telemetry message of a device was stored. Readings
// holds the newest value of each metric the message carried.
type TelemetryStored struct {
	Device   string
	At       time.Time // when it was stored
	Readings []Reading
}

// Reading is one value of a metric at a time (unix milliseconds).
type Reading struct {
	Metric    string
	Timestamp int64
	Value     float64
}

// ShadowUpdated: an update of a device's shadow was accepted.
type ShadowUpdated struct {
	Device  string
	Shadow  string // "" for the classic shadow
	Version int64
	At      time.Time
	Actor   string
	Channel string
}

// DeltaPending: after an update, desired differs from reported.
type DeltaPending struct {
	Device  string
	Shadow  string
	Version int64
	At      time.Time
}

// SettingsViolated: a device reported values that break rules of its
// type's settings. They are stored as reported; Keys names them
// ("reported.chw_setpoint").
type SettingsViolated struct {
	Device  string
	Shadow  string
	Version int64
	At      time.Time
	Keys    []string
}

// DeviceEvent: a device told of something that happened to it — a fault
// of its equipment, a setting it could not apply, a recovery — on its
// events topic, or Hearth's own poller did for a polled device.
type DeviceEvent struct {
	Device  string
	At      time.Time
	Level   string // info, warning or error
	Code    string // e.g. modbus_timeout, setting_out_of_range
	Message string
	Source  string // "mqtt", or "modbus" for a device Hearth polls
}

// ScheduleFailed: the day's operating program did not reach a device, for
// good: the device refused it (Status "rejected"), or it was not verified
// after every check or stayed away all day ("failed"). Alarms and
// notifications act on it.
type ScheduleFailed struct {
	Device   string
	At       time.Time
	Calendar string
	Date     string // the calendar's local date, YYYY-MM-DD
	Status   string // rejected or failed
	Reason   string
}

// AlarmChanged: an alarm became active (Change "raised") or cleared
// ("cleared") on a device.
type AlarmChanged struct {
	Device   string
	At       time.Time
	Alarm    string // its ID
	Rule     string
	Severity string
	State    string
	Change   string
}

// SystemEvent: something happened to Hearth itself, not to a device —
// remote write dropped samples it will never send, say. Its DeviceName is
// empty; alarm rules of kind "system" match it by Code.
type SystemEvent struct {
	At      time.Time
	Level   string // info, warning or error
	Code    string // e.g. remote_write_dropped
	Message string
	Source  string // the part of Hearth that raised it
}

func (e SystemEvent) DeviceName() string        { return "" }
func (e AlarmChanged) DeviceName() string       { return e.Device }
func (e DeviceEvent) DeviceName() string        { return e.Device }
func (e ScheduleFailed) DeviceName() string     { return e.Device }
func (e DeviceConnected) DeviceName() string    { return e.Device }
func (e DeviceDisconnected) DeviceName() string { return e.Device }
func (e TelemetryRejected) DeviceName() string  { return e.Device }
func (e TelemetryStored) DeviceName() string    { return e.Device }
func (e ShadowUpdated) DeviceName() string      { return e.Device }
func (e DeltaPending) DeviceName() string       { return e.Device }
func (e SettingsViolated) DeviceName() string   { return e.Device }

// Bus delivers events to subscribers. The zero value is not usable; use New.
type Bus struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

// New returns a bus with no subscribers.
func New() *Bus { return &Bus{subs: make(map[*Subscription]struct{})} }

// Subscription receives events on C until Close.
type Subscription struct {
	bus     *Bus
	c       chan Event
	keep    func(Event) bool // nil keeps every event
	dropped atomic.Uint64
	once    sync.Once
}

// Subscribe returns a subscription whose channel holds up to buffer events
// (at least 1).
func (b *Bus) Subscribe(buffer int) *Subscription { return b.SubscribeFunc(buffer, nil) }

// SubscribeFunc is Subscribe for only the events keep accepts: the others
// take no room in the buffer, so a burst of events the subscriber ignores
// cannot crowd out one it needs. keep runs on the publisher's goroutine
// and must be quick.
func (b *Bus) SubscribeFunc(buffer int, keep func(Event) bool) *Subscription {
	s := &Subscription{bus: b, c: make(chan Event, max(buffer, 1)), keep: keep}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Publish hands e to every subscriber that has room and counts a drop for
// each that has not. It never blocks.
func (b *Bus) Publish(e Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		if s.keep != nil && !s.keep(e) {
			continue
		}
		select {
		case s.c <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

// C is the channel events arrive on. It is closed by Close.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped counts the events this subscriber lost because its buffer was
// full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops delivery and closes C. It is safe to call more than once.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		close(s.c)
	})
}
