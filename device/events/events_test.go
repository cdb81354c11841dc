package events_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device/events"
)

func TestDeliveredInOrderToEverySubscriber(t *testing.T) {
	bus := events.New()
	a, b := bus.Subscribe(10), bus.Subscribe(10)
	at := time.Unix(1767225600, 0)
	sent := []events.Event{
		events.DeviceConnected{Device: "d1", At: at, Remote: "127.0.0.1:5000", Protocol: 5},
		events.TelemetryRejected{Device: "d1", At: at, Code: "bad_json", Message: "payload is not valid JSON"},
		events.DeviceDisconnected{Device: "d1", At: at, Reason: "clean"},
	}
	for _, e := range sent {
		bus.Publish(e)
	}
	for name, s := range map[string]*events.Subscription{"a": a, "b": b} {
		var got []events.Event
		for range sent {
			got = append(got, <-s.C())
		}
		if diff := cmp.Diff(sent, got); diff != "" {
			t.Errorf("subscriber %s (-want +got):\n%s", name, diff)
		}
	}
}

// A slow subscriber loses events and they are counted; publishing does not
// wait for it, and a subscriber with room still gets everything.
func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	bus := events.New()
	slow, fast := bus.Subscribe(2), bus.Subscribe(100)
	done := make(chan struct{})
	go func() {
		for range 50 {
			bus.Publish(events.ShadowUpdated{Device: "d", Version: 1})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	if got := slow.Dropped(); got != 48 {
		t.Errorf("slow subscriber dropped %d, want 48", got)
	}
	if got := fast.Dropped(); got != 0 || len(fast.C()) != 50 {
		t.Errorf("fast subscriber dropped %d and holds %d, want 0 and 50", got, len(fast.C()))
	}
}

func TestPublishWithoutSubscribersAndAfterClose(t *testing.T) {
	bus := events.New()
	bus.Publish(events.DeltaPending{Device: "d"}) // nobody listens: nothing happens
	s := bus.Subscribe(1)
	s.Close()
	s.Close()
	bus.Publish(events.DeltaPending{Device: "d"})
	if _, open := <-s.C(); open {
		t.Error("a closed subscription still delivers")
	}
}

func TestConcurrentPublishSubscribeClose(t *testing.T) {
	bus := events.New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				if i%2 == 0 {
					bus.Publish(events.DeviceConnected{Device: "d"})
					continue
				}
				s := bus.Subscribe(j % 4)
				bus.Publish(events.DeviceConnected{Device: "d"})
				s.Close()
			}
		}()
	}
	wg.Wait()
}

func BenchmarkPublish(b *testing.B) {
	bus := events.New()
	for range 4 {
		s := bus.Subscribe(1024)
		go func() {
			for range s.C() {
			}
		}()
	}
	e := events.TelemetryRejected{Device: "d", Code: "bad_json"}
	b.ResetTimer()
	for b.Loop() {
		bus.Publish(e)
	}
}

// A filtered subscriber's buffer holds only what it keeps: a burst of
// other events neither fills it nor counts as dropped.
func TestSubscribeFuncKeepsOnlyWhatItWants(t *testing.T) {
	bus := events.New()
	sub := bus.SubscribeFunc(2, func(e events.Event) bool {
		_, ok := e.(events.DeviceConnected)
		return ok
	})
	for range 100 {
		bus.Publish(events.ShadowUpdated{Device: "d", Version: 1})
	}
	bus.Publish(events.DeviceConnected{Device: "d"})
	if got := sub.Dropped(); got != 0 || len(sub.C()) != 1 {
		t.Fatalf("dropped %d and holds %d, want 0 and 1", got, len(sub.C()))
	}
	if e, ok := (<-sub.C()).(events.DeviceConnected); !ok || e.Device != "d" {
		t.Errorf("got %#v, want the connection", e)
	}
}
