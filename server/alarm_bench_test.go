package server_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
)

// BenchmarkAlarmToWebhook measures, through a real server, the time from
// publishing a sample that crosses a threshold (a rule with no duration)
// to its alarm's CloudEvent arriving at a webhook receiver on loopback:
// MQTT/TLS ingest, the event bus, the alarm engine, the alarm's store
// write, the notification outbox's write and the HTTP delivery. Each
// iteration raises an alarm and clears it. The notification group window
// is a millisecond so that consecutive alarms of one rule and site are not
// gathered (a group's first message is never delayed; later ones within
// the window are, by design), and iterations are paced under the channel's
// rate limit. It reports p50 and p99 in milliseconds.
//
//	go test -run '^$' -bench AlarmToWebhook -benchtime 100x ./server/
func BenchmarkAlarmToWebhook(b *testing.B) {
	h := startHearthWith(b, b.TempDir(), func(c *server.Config) { c.Notify.GroupWindow = time.Millisecond })
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addTypedDevice(op, "iaq-1", "acme", "iaq")
	hook := newWebhook(b)
	var channel struct {
		Secret string `json:"secret"`
	}
	if st := h.apiCall(op, "POST", "/api/v1/notification-channels", map[string]any{"name": "ops", "customer": "acme", "kind": "webhook", "url": hook.srv.URL}, &channel); st != http.StatusCreated {
		b.Fatalf("create channel: %d", st)
	}
	hook.setSecret(channel.Secret)
	if st := h.apiCall(op, "POST", "/api/v1/alarm-rules", map[string]any{"name": "CO2 high", "customer": "acme", "device_type": "iaq",
		"severity": "major", "condition": "co2_ppm > 1000", "for": "0s", "clear_condition": "co2_ppm < 900", "channels": []string{"ops"}}, nil); st != http.StatusCreated {
		b.Fatalf("create rule: %d", st)
	}
	c, _, err := h.v3("iaq-1", d, true, "")
	if err != nil {
		b.Fatal(err)
	}
	publish := func(v float64) time.Time {
		at := time.Now()
		if tok := c.Publish("hearth/things/iaq-1/telemetry", 1, false, `{"co2_ppm": `+strconv.FormatFloat(v, 'f', -1, 64)+`}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("publish: %v", tok.Error())
		}
		return at
	}
	// wait returns when the n-th event arrived.
	wait := func(n int) time.Time {
		deadline := time.After(30 * time.Second)
		for {
			if evs, _ := hook.received(); len(evs) >= n {
				return evs[n-1].at
			}
			select {
			case <-hook.notify:
			case <-time.After(50 * time.Millisecond):
			case <-deadline:
				b.Fatalf("the webhook got no event %d in 30 s", n)
			}
		}
	}
	var lat []time.Duration
	n := 0
	b.ResetTimer()
	for i := range b.N {
		sent := publish(1200 + float64(i%50))
		n++
		lat = append(lat, wait(n).Sub(sent))
		publish(800)
		n++
		wait(n)
		// Each channel takes 1 message a second (bursts of 10); an
		// iteration sends two, so the pause keeps the channel unsaturated,
		// as an alarm's channel is between storms.
		time.Sleep(2 * time.Second)
	}
	b.StopTimer()
	if evs, failed := hook.received(); failed != 0 || len(evs) != 2*b.N {
		b.Fatalf("%d events, %d failed their checks; want %d and none", len(evs), failed, 2*b.N)
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
