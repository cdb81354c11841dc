package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/hearthiot/hearth/broker"
	"github.com/hearthiot/hearth/device"
)

// countingIngester takes every message and only counts it, so that the
// benchmark measures the broker rather than the time-series store.
type countingIngester struct{ n atomic.Int64 }

func (c *countingIngester) Accept(string, []byte, time.Time) (device.Storing, error) {
	c.n.Add(1)
	return storedNow{}, nil
}

// storedNow is a message stored by the time it was accepted.
type storedNow struct{}

func (storedNow) Wait() (int, error) { return 1, nil }

// BenchmarkTelemetryTLS has N devices publish QoS 1 telemetry over TLS,
// each waiting for its PUBACK before the next message, as firmware does.
func BenchmarkTelemetryTLS(b *testing.B) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			e := newEnv(b)
			ing := &countingIngester{}
			br := startBroker(b, e, broker.Config{TLSAddr: "127.0.0.1:0", TLS: e.serverTLS}, broker.Deps{Ingest: ing}, slog.New(slog.DiscardHandler))
			tlsAddr, _ := br.Addrs()
			f := &fixture{env: e, broker: br, tlsAddr: tlsAddr.String()}
			conns := make([]*v5, clients)
			topics := make([]string, clients)
			for i := range conns {
				d := e.newDevice(b, fmt.Sprintf("bench-%d", i))
				conns[i] = f.mustV5(b, f.secretOpts(d))
				topics[i] = "hearth/things/" + d.name + "/telemetry"
			}
			payload := []byte(`{"chw_supply_c": 7.1, "chw_return_c": 12.4, "co2_ppm": 612}`)

			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i, c := range conns {
				n := b.N / clients
				if i < b.N%clients {
					n++
				}
				wg.Go(func() {
					for range n {
						_, err := c.Publish(context.Background(), &paho.Publish{Topic: topics[i], QoS: 1, Payload: payload})
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			if got := ing.n.Load(); got != int64(b.N) {
				b.Fatalf("ingested %d messages, want %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}
