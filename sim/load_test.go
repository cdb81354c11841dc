package sim_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/sim"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// received collects what a counter saw, per device.
type received struct {
	mu       sync.Mutex
	perTopic map[string]int
	bad      []string
}

func (r *received) onMessage(metrics int) func(string, []byte) {
	return func(topic string, payload []byte) {
		var values map[string]float64
		err := json.Unmarshal(payload, &values)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.perTopic[topic]++
		if err != nil || len(values) != metrics {
			r.bad = append(r.bad, fmt.Sprintf("%s: %s (%v)", topic, payload, err))
		}
	}
}

func TestRunLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		broker     brokerOptions
		devices    func(m *mosquitto) (devices []sim.Credentials, counter sim.Credentials)
		cfg        sim.LoadConfig
		counterQoS byte
		filter     string
		minSent    uint64
		maxSent    uint64
	}{
		{
			name:   "client certificates, paced",
			broker: brokerOptions{tls: true, requireCert: true},
			devices: func(m *mosquitto) ([]sim.Credentials, sim.Credentials) {
				all := deviceCerts(t, m.ca, "cert", 21)
				return all[:20], all[20]
			},
			cfg:     sim.LoadConfig{Metrics: 20, Rate: 200, Duration: 1500 * time.Millisecond},
			minSent: 240, maxSent: 360,
		},
		{
			name:   "secrets over TLS, counter with QoS 1",
			broker: brokerOptions{tls: true, passwords: map[string]string{"pw-00000": "s0", "pw-00001": "s1", "pw-00002": "s2", "counter": "c"}},
			devices: func(*mosquitto) ([]sim.Credentials, sim.Credentials) {
				return []sim.Credentials{
					{Name: "pw-00000", Secret: "s0"}, {Name: "pw-00001", Secret: "s1"}, {Name: "pw-00002", Secret: "s2"},
				}, sim.Credentials{Name: "counter", Secret: "c"}
			},
			cfg:        sim.LoadConfig{Metrics: 3, Rate: 150, Duration: time.Second, Inflight: 1},
			counterQoS: 1,
			minSent:    120, maxSent: 180,
		},
		{
			name:   "plain TCP, unpaced, own topic",
			broker: brokerOptions{},
			devices: func(*mosquitto) ([]sim.Credentials, sim.Credentials) {
				return []sim.Credentials{{Name: "tcp-1"}, {Name: "tcp-2"}, {Name: "tcp-3"}}, sim.Credentials{}
			},
			cfg: sim.LoadConfig{
				Duration: 500 * time.Millisecond, Inflight: 8,
				Topic: func(d string) string { return "bench/" + d },
			},
			counterQoS: 1,
			filter:     "bench/+",
			minSent:    300, maxSent: math.MaxUint64,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := startMosquitto(t, tt.broker)
			devices, counterCreds := tt.devices(m)
			cfg := tt.cfg
			cfg.Broker, cfg.TLS, cfg.Devices = m.addr, m.clientTLS(), devices
			metrics := cmp.Or(cfg.Metrics, sim.DefaultMetrics)
			filter := cmp.Or(tt.filter, "hearth/things/+/telemetry")

			ctx := t.Context()
			got := &received{perTopic: map[string]int{}}
			counter, err := sim.Count(ctx, m.addr, m.clientTLS(), filter, sim.CountOptions{
				Credentials: counterCreds, QoS: tt.counterQoS, OnMessage: got.onMessage(metrics),
			})
			if err != nil {
				t.Fatalf("Count: %v", err)
			}
			res, err := sim.RunLoad(ctx, cfg, testLogger(t))
			if err != nil {
				t.Fatalf("RunLoad: %v", err)
			}
			t.Logf("result: %+v", res)

			if res.Connected != len(devices) || res.ConnectFailed != 0 || res.Dropped != 0 {
				t.Errorf("connected %d failed %d dropped %d, want %d 0 0", res.Connected, res.ConnectFailed, res.Dropped, len(devices))
			}
			if res.Sent < tt.minSent || res.Sent > tt.maxSent {
				t.Errorf("sent %d, want %d..%d", res.Sent, tt.minSent, tt.maxSent)
			}
			if res.Acked != res.Sent || res.Failed != 0 {
				t.Errorf("sent %d acked %d failed %d, want all acknowledged", res.Sent, res.Acked, res.Failed)
			}
			if res.Elapsed < cfg.Duration || res.Elapsed > cfg.Duration+2*time.Second {
				t.Errorf("elapsed %v for a %v run", res.Elapsed, cfg.Duration)
			}
			if want := float64(res.Acked) / res.Elapsed.Seconds(); math.Abs(res.MsgsPerSec-want) > 1e-6*want {
				t.Errorf("msgs/s %v, want %v", res.MsgsPerSec, want)
			}
			if want := res.MsgsPerSec * float64(metrics); math.Abs(res.SamplesPerSec-want) > 1e-6*want {
				t.Errorf("samples/s %v, want %v", res.SamplesPerSec, want)
			}
			if !(0 < res.LatencyP50 && res.LatencyP50 <= res.LatencyP99 && res.LatencyP99 <= res.LatencyMax && res.LatencyMax < 5*time.Second) {
				t.Errorf("latencies p50 %v p99 %v max %v not ordered or implausible", res.LatencyP50, res.LatencyP99, res.LatencyMax)
			}
			if res.ConnectTime <= 0 {
				t.Errorf("connect time %v", res.ConnectTime)
			}

			// Every acknowledged message reaches the subscriber.
			deadline := time.Now().Add(5 * time.Second)
			for counter.Stats().Received < res.Acked && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			st, err := counter.Close()
			if err != nil {
				t.Errorf("counter: %v", err)
			}
			if st.Received != res.Acked {
				t.Errorf("counter received %d, broker acknowledged %d", st.Received, res.Acked)
			}
			got.mu.Lock()
			defer got.mu.Unlock()
			if len(got.bad) > 0 {
				t.Errorf("%d bad payloads, first: %s", len(got.bad), got.bad[0])
			}
			topic := protocol.TelemetryTopic
			if cfg.Topic != nil {
				topic = cfg.Topic
			}
			for _, d := range devices {
				if got.perTopic[topic(d.Name)] == 0 {
					t.Errorf("nothing received from %s on %s", d.Name, topic(d.Name))
				}
			}
			if len(got.perTopic) != len(devices) {
				t.Errorf("messages on %d topics, want %d", len(got.perTopic), len(devices))
			}
		})
	}
}

func TestRunLoadRefused(t *testing.T) {
	t.Parallel()
	m := startMosquitto(t, brokerOptions{tls: true, passwords: map[string]string{"good-1": "a", "good-2": "b", "good-3": "c"}})
	cfg := sim.LoadConfig{Broker: m.addr, TLS: m.clientTLS(), Rate: 30, Duration: 300 * time.Millisecond}

	t.Run("some devices", func(t *testing.T) {
		cfg := cfg
		cfg.Devices = []sim.Credentials{{Name: "good-1", Secret: "a"}, {Name: "good-2", Secret: "wrong"}, {Name: "good-3", Secret: "c"}}
		res, err := sim.RunLoad(t.Context(), cfg, testLogger(t))
		if err != nil {
			t.Fatalf("RunLoad: %v", err)
		}
		if res.Connected != 2 || res.ConnectFailed != 1 || res.Sent == 0 || res.Failed != 0 {
			t.Errorf("result %+v, want 2 connected, 1 failed, messages sent and acknowledged", res)
		}
	})
	t.Run("all devices", func(t *testing.T) {
		cfg := cfg
		cfg.Devices = []sim.Credentials{{Name: "good-1", Secret: "x"}, {Name: "nobody", Secret: "y"}}
		_, err := sim.RunLoad(t.Context(), cfg, testLogger(t))
		if err == nil || !strings.Contains(err.Error(), "connection refused: ") {
			t.Errorf("RunLoad error = %v, want the broker's refusal", err)
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		cfg := cfg
		cfg.TLS = cfg.TLS.Clone()
		cfg.TLS.RootCAs = newCA(t).Pool()
		cfg.Devices = []sim.Credentials{{Name: "good-1", Secret: "a"}}
		_, err := sim.RunLoad(t.Context(), cfg, testLogger(t))
		if err == nil || !strings.Contains(err.Error(), "tls handshake") {
			t.Errorf("RunLoad error = %v, want a failed TLS handshake", err)
		}
	})
}

// With a keepalive of 1 s and one message in the whole run, only PINGREQs
// keep the connections open. mosquitto 2.0 closes a client silent for 1.5
// keepalive periods, but checks only every few seconds (about 5.7 s after
// connecting here), hence the long run.
func TestRunLoadKeepAlive(t *testing.T) {
	t.Parallel()
	m := startMosquitto(t, brokerOptions{})
	res, err := sim.RunLoad(t.Context(), sim.LoadConfig{
		Broker:    m.addr,
		Devices:   []sim.Credentials{{Name: "quiet-1"}, {Name: "quiet-2"}},
		Rate:      0.01,
		Duration:  8 * time.Second,
		KeepAlive: time.Second,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("RunLoad: %v", err)
	}
	if res.Dropped != 0 || res.Sent != 1 || res.Acked != 1 {
		t.Errorf("result %+v, want no drops and exactly one message", res)
	}
}

func TestRunLoadBrokerLost(t *testing.T) {
	t.Parallel()
	m := startMosquitto(t, brokerOptions{})
	devices := []sim.Credentials{{Name: "lost-1"}, {Name: "lost-2"}, {Name: "lost-3"}}
	time.AfterFunc(500*time.Millisecond, func() { m.kill(t) })
	began := time.Now()
	res, err := sim.RunLoad(t.Context(), sim.LoadConfig{
		Broker: m.addr, Devices: devices, Rate: 300, Duration: 30 * time.Second,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("RunLoad: %v", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("run took %v after every connection was lost", took)
	}
	if res.Dropped != len(devices) || res.Sent == 0 || res.Sent != res.Acked+res.Failed {
		t.Errorf("result %+v, want all %d dropped and sent = acked + failed", res, len(devices))
	}
}

func TestRunLoadCancel(t *testing.T) {
	t.Parallel()
	m := startMosquitto(t, brokerOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	began := time.Now()
	res, err := sim.RunLoad(ctx, sim.LoadConfig{
		Broker: m.addr, Devices: []sim.Credentials{{Name: "c-1"}, {Name: "c-2"}}, Rate: 100, Duration: 30 * time.Second,
	}, testLogger(t))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RunLoad error = %v, want context.Canceled", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("cancelled run took %v", took)
	}
	if res.Connected != 2 || res.Sent == 0 {
		t.Errorf("result %+v, want the partial measurement", res)
	}
}

func TestRunLoadConfigErrors(t *testing.T) {
	t.Parallel()
	ok := sim.LoadConfig{Broker: "127.0.0.1:1", Devices: []sim.Credentials{{Name: "a"}}, Duration: time.Second}
	tests := []struct {
		name   string
		change func(*sim.LoadConfig)
		want   string
	}{
		{"no broker", func(c *sim.LoadConfig) { c.Broker = "" }, "no broker"},
		{"broker without port", func(c *sim.LoadConfig) { c.Broker = "localhost" }, "not host:port"},
		{"no devices", func(c *sim.LoadConfig) { c.Devices = nil }, "no devices"},
		{"nameless device", func(c *sim.LoadConfig) { c.Devices = []sim.Credentials{{}} }, "has no name"},
		{"duplicate device", func(c *sim.LoadConfig) { c.Devices = []sim.Credentials{{Name: "a"}, {Name: "a"}} }, "appears twice"},
		{"no duration", func(c *sim.LoadConfig) { c.Duration = 0 }, "duration"},
		{"negative rate", func(c *sim.LoadConfig) { c.Rate = -1 }, "rate"},
		{"NaN rate", func(c *sim.LoadConfig) { c.Rate = math.NaN() }, "rate"},
		{"infinite rate", func(c *sim.LoadConfig) { c.Rate = math.Inf(1) }, "rate"},
		{"QoS 2", func(c *sim.LoadConfig) { c.QoS = 2 }, "QoS 2"},
		{"inflight too large", func(c *sim.LoadConfig) { c.Inflight = 70000 }, "inflight"},
		{"negative metrics", func(c *sim.LoadConfig) { c.Metrics = -1 }, "metrics"},
		{"keepalive too long", func(c *sim.LoadConfig) { c.KeepAlive = 20 * time.Hour }, "keepalive"},
		{"keepalive below a second", func(c *sim.LoadConfig) { c.KeepAlive = 500 * time.Millisecond }, "keepalive"},
		{"negative drain", func(c *sim.LoadConfig) { c.DrainTimeout = -time.Second }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			_, err := sim.RunLoad(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RunLoad error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// silentBroker accepts MQTT connections on 127.0.0.1, answers CONNECT with
// a CONNACK and then never sends anything again.
func silentBroker(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				// Whatever the client sent first (its CONNECT) is answered once.
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err != nil {
					return
				}
				if _, err := c.Write([]byte{0x20, 2, 0, 0}); err != nil {
					return
				}
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return l.Addr().String()
}

func TestRunLoadSilentBroker(t *testing.T) {
	t.Parallel()
	addr := silentBroker(t)
	began := time.Now()
	res, err := sim.RunLoad(t.Context(), sim.LoadConfig{
		Broker: addr, Devices: []sim.Credentials{{Name: "s-1"}}, Rate: 10, Duration: 20 * time.Second,
		KeepAlive: time.Second,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("RunLoad: %v", err)
	}
	// The client gives up after 1.5 keepalive periods without a byte.
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("run took %v against a silent broker", took)
	}
	if res.Dropped != 1 || res.Acked != 0 || res.Failed != res.Sent || res.Sent == 0 {
		t.Errorf("result %+v, want one dropped device and nothing acknowledged", res)
	}
}
