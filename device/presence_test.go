package device_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
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

func TestPresenceUnknown(t *testing.T) {
	p := device.NewPresence(nil)
	p.Disconnected("ghost", 1, device.ReasonClean, time.Now())
	if info, ok := p.Get("ghost"); ok {
		t.Errorf("Get(ghost) = %+v, true; want unknown", info)
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
