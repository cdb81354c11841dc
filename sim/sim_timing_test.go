//go:build unix

package sim_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/sim"
)

// The publish benchmarks compare this package's MQTT client with
// eclipse/paho.mqtt.golang under the same load: benchDevices TLS
// connections to mosquitto, each keeping up to benchInflight QoS 1
// publishes of a 20-value message in flight for benchRun. They report
// messages per second and the CPU this process spent per message, which is
// what decides how much of a shared machine is left for the broker.
const (
	benchDevices  = 100
	benchInflight = 10
	benchRun      = 2 * time.Second
)

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRun(b *testing.B, msgs uint64, elapsed, cpu time.Duration) {
	b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(msgs), "cpu-µs/msg")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkPublish(b *testing.B) {
	m := startMosquitto(b, brokerOptions{tls: true, requireCert: true})
	creds := deviceCerts(b, m.ca, "bench", benchDevices)
	payload := []byte(`{"chw_supply_c":7.12,"chw_return_c":12.33,"hw_supply_c":45.12,"hw_return_c":38.22,` +
		`"outdoor_temp_c":15.11,"room_temp_c":22.01,"rh_pct":45.55,"co2_ppm":650.12,"power_kw":35.22,` +
		`"energy_kwh":12000.33,"flow_m3h":18.22,"pressure_kpa":250.11,"fan_speed_pct":60.22,` +
		`"valve_pos_pct":40.33,"compressor_hz":50.11,"cop":4.22,"supply_air_c":16.11,"return_air_c":24.22,` +
		`"damper_pct":30.11,"pm25_ugm3":8.22}`)

	b.Run("sim", func(b *testing.B) {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		cfg := sim.LoadConfig{
			Broker: m.addr, TLS: m.clientTLS(), Devices: creds, Metrics: 20,
			Duration: benchRun, Inflight: benchInflight,
		}
		var msgs uint64
		var elapsed, cpu time.Duration
		for b.Loop() {
			before := cpuTime(b)
			res, err := sim.RunLoad(b.Context(), cfg, quiet)
			if err != nil {
				b.Fatal(err)
			}
			// The CPU of connecting is counted too, as it is for paho.
			cpu += cpuTime(b) - before
			msgs += res.Acked
			elapsed += res.Elapsed
		}
		reportRun(b, msgs, elapsed, cpu)
	})

	b.Run("paho", func(b *testing.B) {
		var msgs uint64
		var elapsed, cpu time.Duration
		for b.Loop() {
			before := cpuTime(b)
			n, d := pahoRun(b, m, creds, payload)
			cpu += cpuTime(b) - before
			msgs += n
			elapsed += d
		}
		reportRun(b, msgs, elapsed, cpu)
	})
}

// pahoRun connects every device with paho, publishes with a sliding window
// of benchInflight tokens per device for benchRun, and disconnects.
func pahoRun(b *testing.B, m *mosquitto, creds []sim.Credentials, payload []byte) (uint64, time.Duration) {
	clients := make([]mqtt.Client, len(creds))
	for i, c := range creds {
		conf := m.clientTLS()
		conf.Certificates = []tls.Certificate{*c.Certificate}
		opts := mqtt.NewClientOptions().
			AddBroker("ssl://" + m.addr).
			SetClientID(c.Name).
			SetTLSConfig(conf).
			SetCleanSession(true).
			SetAutoReconnect(false).
			SetWriteTimeout(10 * time.Second)
		clients[i] = mqtt.NewClient(opts)
		if tok := clients[i].Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("paho connect %s: %v", c.Name, tok.Error())
		}
	}
	defer func() {
		for _, c := range clients {
			c.Disconnect(0)
		}
	}()
	var acked atomic.Uint64
	var failed atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	began := time.Now()
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := protocol.TelemetryTopic(creds[i].Name)
			var window [benchInflight]mqtt.Token
			wait := func(tok mqtt.Token) bool {
				if tok == nil {
					return true
				}
				if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					failed.Store(fmt.Errorf("paho publish from %s: %v", creds[i].Name, tok.Error()))
					return false
				}
				acked.Add(1)
				return true
			}
			for k := 0; ; k++ {
				select {
				case <-stop:
					for _, tok := range window {
						wait(tok)
					}
					return
				default:
				}
				slot := k % benchInflight
				if !wait(window[slot]) {
					return
				}
				window[slot] = c.Publish(topic, 1, false, payload)
			}
		}()
	}
	time.Sleep(benchRun)
	close(stop)
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	return acked.Load(), time.Since(began)
}
