package device_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/shadow"
)

// Each device keeps its own count of the telemetry messages its rate held
// back and refused, with the time of the last of each, beside the rate it
// has now: its type's, else the server's. A change of rates keeps the
// counts.
func TestTelemetryDeviceRate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, name := range []string{"meter-1", "meter-2", "meter-3"} {
		f.create(t, name)
	}
	var typeRate atomic.Int64
	typeRate.Store(10)
	tel := device.NewTelemetry(device.TelemetryLimits{Rate: 1000, Burst: 10, MaxDelay: time.Second}, f.reg, &recordingWriter{},
		device.WithRates(func(d string) (float64, int, bool) { return float64(typeRate.Load()), 5, d == "meter-2" }))
	batch := func(n int) []byte {
		var b strings.Builder
		b.WriteString("[")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"ts": %d, "v": %d}`, nowMS-int64(n-i), i)
		}
		b.WriteString("]")
		return []byte(b.String())
	}
	rateLimited := func(err error) bool {
		var te *device.TelemetryError
		return errors.As(err, &te) && te.Code == device.CodeRateLimited
	}

	if got, want := tel.DeviceRate("meter-3"), (device.RateUse{PerSecond: 1000, Burst: 10}); got != want {
		t.Errorf("a device that never sent: %+v; want %+v", got, want)
	}
	if got := tel.DeviceRate("meter-3"); got.Slowed() {
		t.Errorf("a device that never sent was slowed: %+v", got)
	}
	// The burst passes; the same again at once waits 10ms for the rate.
	if _, err := tel.Ingest("meter-1", batch(10), telemetryNow); err != nil {
		t.Fatal(err)
	}
	if got := tel.DeviceRate("meter-1"); got.Slowed() {
		t.Errorf("after its burst: %+v; want nothing held back", got)
	}
	if _, err := tel.Ingest("meter-1", batch(10), telemetryNow); err != nil {
		t.Fatal(err)
	}
	later := telemetryNow.Add(time.Minute)
	if _, err := tel.Ingest("meter-1", batch(11), later); !rateLimited(err) {
		t.Fatalf("more than the burst at once: %v; want rate_limited", err)
	}
	want := device.RateUse{PerSecond: 1000, Burst: 10, Delayed: 1, LastDelayed: telemetryNow, Refused: 1, LastRefused: later}
	if got := tel.DeviceRate("meter-1"); !sameUse(got, want) {
		t.Errorf("meter-1: %+v; want %+v", got, want)
	}
	// meter-2 has its type's rate, and meter-1's counts are its own.
	if _, err := tel.Ingest("meter-2", batch(6), telemetryNow); !rateLimited(err) {
		t.Fatalf("meter-2 past its type's burst: %v; want rate_limited", err)
	}
	want2 := device.RateUse{PerSecond: 10, Burst: 5, Refused: 1, LastRefused: telemetryNow}
	if got := tel.DeviceRate("meter-2"); !sameUse(got, want2) {
		t.Errorf("meter-2: %+v; want %+v", got, want2)
	}
	if got := tel.DeviceRate("meter-3"); got.Slowed() {
		t.Errorf("meter-3 counted another device's messages: %+v", got)
	}
	// A new rate of the type applies, and what the old one did stays.
	typeRate.Store(50)
	tel.RatesChanged()
	want2.PerSecond = 50
	if got := tel.DeviceRate("meter-2"); !sameUse(got, want2) {
		t.Errorf("meter-2 after its type's rate changed: %+v; want %+v", got, want2)
	}
	if got := tel.DeviceRate("meter-1"); !sameUse(got, want) {
		t.Errorf("meter-1 after the rates changed: %+v; want %+v", got, want)
	}
	// The new rate is the one the limiter takes: 5 at once still pass.
	if _, err := tel.Ingest("meter-2", batch(5), telemetryNow.Add(time.Hour)); err != nil {
		t.Fatalf("meter-2 within its new rate: %v", err)
	}
	if st := tel.Stats(); st.Delayed != 1 {
		t.Errorf("server-wide %d delayed; want 1, the sum of the devices'", st.Delayed)
	}

	// A server without a rate has none to show.
	free := device.NewTelemetry(device.TelemetryLimits{}, f.reg, &recordingWriter{})
	if _, err := free.Ingest("meter-1", batch(10), telemetryNow); err != nil {
		t.Fatal(err)
	}
	if got := free.DeviceRate("meter-1"); got != (device.RateUse{}) {
		t.Errorf("without a rate: %+v; want none", got)
	}
}

// sameUse compares rate uses, their times by instant.
func sameUse(a, b device.RateUse) bool {
	return a.PerSecond == b.PerSecond && a.Burst == b.Burst && a.Delayed == b.Delayed && a.Refused == b.Refused &&
		a.LastDelayed.Equal(b.LastDelayed) && a.LastRefused.Equal(b.LastRefused)
}

// Each device keeps its own count of the shadow updates over MQTT its rate
// refused; updates of people are not limited and not counted.
func TestShadowDeviceRate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(t, "gw-1")
	f.create(t, "gw-2")
	svc, _ := newShadows(t, f, shadow.Limits{}, nil)
	if got, want := svc.DeviceRate("gw-1"), (device.RateUse{PerSecond: 20, Burst: 40}); got != want {
		t.Errorf("before any update: %+v; want %+v", got, want)
	}
	dev := device.Actor{Name: "device:gw-1", Channel: device.ChannelMQTT}
	at := time.Now()
	refused := 0
	for i := range 45 {
		_, err := svc.Update("gw-1", "", []byte(fmt.Sprintf(`{"state":{"reported":{"n":%d}}}`, i)), dev, at)
		var se *shadow.Error
		switch {
		case errors.As(err, &se) && se.Code == http.StatusTooManyRequests:
			refused++
		case err != nil:
			t.Fatalf("update %d: %v", i, err)
		}
	}
	if refused != 5 {
		t.Fatalf("%d of 45 updates at once refused; want the 5 past the burst", refused)
	}
	for range 50 {
		if _, err := svc.Update("gw-2", "", []byte(`{"state":{"desired":{"n":1}}}`), operator, at); err != nil {
			t.Fatalf("an operator's update: %v", err)
		}
	}
	want := device.RateUse{PerSecond: 20, Burst: 40, Refused: 5, LastRefused: at}
	if got := svc.DeviceRate("gw-1"); !sameUse(got, want) {
		t.Errorf("gw-1: %+v; want %+v", got, want)
	}
	if got := svc.DeviceRate("gw-2"); got.Slowed() {
		t.Errorf("gw-2, updated only by an operator: %+v; want nothing refused", got)
	}
}
