package sim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hearthiot/hearth/protocol"
)

// FreshConfig configures a freshness probe: one device publishes a sample
// at a time and the probe times how long after its PUBACK the sample shows
// up in each way of reading a range.
type FreshConfig struct {
	Broker string
	// TLS is the broker's TLS settings; nil is plain TCP.
	TLS *tls.Config
	// Device publishes the samples; it must not be one a load runs as,
	// since the broker keeps one session per client ID.
	Device Credentials
	API    APIClientConfig
	// Probes is how many samples of each kind are timed (DefaultFreshProbes
	// when 0): a new sample of a series that exists, and the first sample
	// of a new series.
	Probes int
	// Interval is the time between two probes (DefaultFreshInterval).
	Interval time.Duration
	// Poll is the time between two reads of one path (DefaultFreshPoll).
	Poll time.Duration
	// Timeout is how long a sample may take to show before it counts as
	// missed (DefaultFreshTimeout).
	Timeout time.Duration
	// Metric names the existing series (DefaultFreshMetric); the new
	// series are Metric_new_<run>_<n>.
	Metric string
}

// Defaults of FreshConfig.
const (
	DefaultFreshProbes   = 30
	DefaultFreshInterval = time.Second
	DefaultFreshPoll     = 10 * time.Millisecond
	DefaultFreshTimeout  = 30 * time.Second
	DefaultFreshMetric   = "probe_fresh"
)

// The ways a probe reads its sample back.
const (
	// FreshRange is the REST API's range route,
	// GET /api/v1/devices/{name}/telemetry.
	FreshRange = "range"
	// FreshQuery is PromQL's instant query, last_over_time(m[1m]) at now.
	FreshQuery = "query"
	// FreshQueryRange is PromQL's range query over the last seconds, step
	// 1s, with nocache=1 so that VictoriaMetrics does not align the end
	// to the step (which would hide up to a step of samples).
	FreshQueryRange = "query_range"
)

// FreshPaths are the paths a probe reads, in report order.
var FreshPaths = []string{FreshRange, FreshQuery, FreshQueryRange}

// FreshStats is how long samples of one kind took to show on one path,
// from the PUBACK to the answer that had the sample.
type FreshStats struct {
	Samples  int
	Missed   int // not seen within Timeout
	P50, P99 time.Duration
	Max      time.Duration
}

// FreshResult holds the stats by kind ("existing", "new") and path.
type FreshResult struct {
	Existing map[string]FreshStats
	New      map[string]FreshStats
	// Misses describes each sample a path did not show within Timeout:
	// the sample and the path's last answer, to tell a lost sample from
	// one the answer's shape left out.
	Misses []string `json:",omitempty"`
}

// Fresh runs the probe: it connects cfg.Device, publishes one sample of
// the existing series and waits until it shows, then times cfg.Probes
// samples of each kind, one every cfg.Interval, each read back on every
// path at once.
func Fresh(ctx context.Context, cfg FreshConfig) (FreshResult, error) {
	cfg = cfg.withDefaults()
	if !validProbeMetric(cfg.Metric) {
		return FreshResult{}, fmt.Errorf("fresh: metric %q: a letter or '_' followed by letters, digits and '_' is accepted", cfg.Metric)
	}
	p, err := dialProbe(ctx, cfg)
	if err != nil {
		return FreshResult{}, err
	}
	defer p.close()
	hc := cfg.API.client()
	defer hc.CloseIdleConnections()

	// The existing series must exist before it is timed.
	value := 0.5
	if err := p.publish(ctx, cfg.Metric, value); err != nil {
		return FreshResult{}, err
	}
	if _, _, err := p.await(ctx, hc, cfg, cfg.Metric, value, time.Now()); err != nil {
		return FreshResult{}, fmt.Errorf("fresh: the first sample of %s: %w", cfg.Metric, err)
	}

	run := strconv.FormatInt(time.Now().Unix(), 36)
	took := map[string]map[string][]time.Duration{"existing": {}, "new": {}}
	missed := map[string]map[string]int{"existing": {}, "new": {}}
	var misses []string
	next := time.Now()
	for n := range cfg.Probes {
		for _, kind := range []string{"existing", "new"} {
			next = next.Add(cfg.Interval)
			metric := cfg.Metric
			if kind == "new" {
				metric = fmt.Sprintf("%s_new_%s_%d", cfg.Metric, run, n)
			}
			value++
			if err := p.publish(ctx, metric, value); err != nil {
				return FreshResult{}, err
			}
			acked := time.Now()
			res, last, err := p.await(ctx, hc, cfg, metric, value, acked)
			if err != nil {
				return FreshResult{}, err
			}
			for path, d := range res {
				if d < 0 {
					missed[kind][path]++
					misses = append(misses, fmt.Sprintf("%s series %s: %s=%v acknowledged at %s (%d ms); last answer %v",
						kind, path, metric, value, acked.UTC().Format(time.RFC3339Nano), acked.UnixMilli(), last[path]))
				} else {
					took[kind][path] = append(took[kind][path], d)
				}
			}
			if err := sleepUntil(ctx, next); err != nil {
				return FreshResult{}, err
			}
		}
	}
	stats := func(kind string) map[string]FreshStats {
		out := map[string]FreshStats{}
		for _, path := range FreshPaths {
			d := took[kind][path]
			slices.Sort(d)
			s := FreshStats{Samples: len(d), Missed: missed[kind][path]}
			if len(d) > 0 {
				s.P50, s.P99, s.Max = nearestRank(d, 0.50), nearestRank(d, 0.99), d[len(d)-1]
			}
			out[path] = s
		}
		return out
	}
	return FreshResult{Existing: stats("existing"), New: stats("new"), Misses: misses}, nil
}

func (c FreshConfig) withDefaults() FreshConfig {
	if c.Probes <= 0 {
		c.Probes = DefaultFreshProbes
	}
	if c.Interval <= 0 {
		c.Interval = DefaultFreshInterval
	}
	if c.Poll <= 0 {
		c.Poll = DefaultFreshPoll
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultFreshTimeout
	}
	if c.Metric == "" {
		c.Metric = DefaultFreshMetric
	}
	return c
}

// nearestRank is the q-quantile of sorted durations.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func validProbeMetric(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// probe is the probe's MQTT session and its reader.
type probe struct {
	s      *session
	name   string
	acks   chan uint16
	done   chan struct{}
	err    error
	nextID uint16
}

func dialProbe(ctx context.Context, cfg FreshConfig) (*probe, error) {
	c := cfg.Device
	dc := dialConfig{
		broker:  cfg.Broker,
		connect: connectOptions{clientID: c.Name, keepAlive: uint16(DefaultKeepAlive / time.Second)},
		timeout: DefaultConnectTimeout,
		readBuf: 4 << 10,
		maxBody: 1 << 20,
	}
	if c.Secret != "" {
		dc.connect.username, dc.connect.password = c.Name, c.Secret
	}
	if cfg.TLS != nil {
		dc.tls = cfg.TLS.Clone()
		if dc.tls.ServerName == "" {
			host, _, err := net.SplitHostPort(cfg.Broker)
			if err != nil {
				return nil, fmt.Errorf("fresh: broker %q is not host:port: %w", cfg.Broker, err)
			}
			dc.tls.ServerName = host
		}
		if c.Certificate != nil {
			dc.tls.Certificates = []tls.Certificate{*c.Certificate}
		}
	}
	s, err := dial(ctx, dc)
	if err != nil {
		return nil, fmt.Errorf("fresh: %w", err)
	}
	p := &probe{s: s, name: c.Name, acks: make(chan uint16, 8), done: make(chan struct{})}
	go p.readLoop()
	return p, nil
}

func (p *probe) readLoop() {
	defer close(p.done)
	for {
		pk, err := p.s.read()
		if err != nil {
			p.err = err
			return
		}
		switch pk.kind {
		case packetPuback:
			p.acks <- pk.id
		case packetPublish:
			if err := p.s.acknowledge(pk); err != nil {
				p.err = err
				return
			}
		}
	}
}

func (p *probe) close() {
	p.s.disconnect()
	<-p.done
	p.s.close(nil)
}

// publish sends {"metric": value} with QoS 1 and waits for its PUBACK.
func (p *probe) publish(ctx context.Context, metric string, value float64) error {
	payload, err := json.Marshal(map[string]float64{metric: value})
	if err != nil {
		return err
	}
	p.nextID = p.nextID%65535 + 1
	id := p.nextID
	topic := protocol.TelemetryTopic(p.name)
	if err := p.s.write(func(b []byte) []byte { return appendPublish(b, topic, payload, 1, id) }); err != nil {
		return fmt.Errorf("fresh: publish: %w", err)
	}
	timer := time.NewTimer(DefaultConnectTimeout)
	defer timer.Stop()
	for {
		select {
		case got := <-p.acks:
			if got == id {
				return nil
			}
		case <-p.done:
			return fmt.Errorf("fresh: connection lost waiting for PUBACK: %v", p.err)
		case <-timer.C:
			return fmt.Errorf("fresh: no PUBACK within %s", DefaultConnectTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// await reads metric's newest value on every path at once, every
// cfg.Poll, until each has value, and returns how long after acked each
// saw it (-1: not within cfg.Timeout) and each path's last answer.
func (p *probe) await(ctx context.Context, hc *http.Client, cfg FreshConfig, metric string, value float64, acked time.Time) (map[string]time.Duration, map[string]string, error) {
	out := map[string]time.Duration{}
	last := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(FreshPaths))
	for i, path := range FreshPaths {
		wg.Go(func() {
			for {
				got, err := p.read(ctx, hc, cfg.API, path, metric, acked)
				seen := time.Since(acked)
				if err != nil {
					errs[i] = err
					return
				}
				if slices.Contains(got, value) {
					mu.Lock()
					out[path] = seen
					mu.Unlock()
					return
				}
				if seen > cfg.Timeout {
					mu.Lock()
					out[path] = -1
					last[path] = fmt.Sprint(got)
					mu.Unlock()
					return
				}
				if err := sleepUntil(ctx, time.Now().Add(cfg.Poll)); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return out, last, errors.Join(errs...)
}

// read returns the values path answers for metric of the probe's device
// around acked.
func (p *probe) read(ctx context.Context, hc *http.Client, api APIClientConfig, path, metric string, acked time.Time) ([]float64, error) {
	sel := fmt.Sprintf(`last_over_time(%s{device=%q}[1m])`, metric, p.name)
	var vals []float64
	switch path {
	case FreshRange:
		v := url.Values{"metric": {metric}, "from": {strconv.FormatInt(acked.Add(-time.Minute).UnixMilli(), 10)}}
		var r struct {
			Points []struct {
				Min, Max float64
			} `json:"points"`
		}
		if _, err := api.do(ctx, hc, http.MethodGet, "/api/v1/devices/"+url.PathEscape(p.name)+"/telemetry?"+v.Encode(), nil, &r, http.StatusOK); err != nil {
			return nil, err
		}
		for _, pt := range r.Points {
			vals = append(vals, pt.Min, pt.Max)
		}
	case FreshQuery:
		v := url.Values{"query": {sel}}
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if _, err := api.do(ctx, hc, http.MethodGet, "/prometheus/api/v1/query?"+v.Encode(), nil, &r, http.StatusOK); err != nil {
			return nil, err
		}
		for _, s := range r.Data.Result {
			vals = appendPromValue(vals, s.Value)
		}
	case FreshQueryRange:
		now := time.Now()
		v := url.Values{"query": {sel}, "step": {"1"}, "nocache": {"1"},
			"start": {promSeconds(acked.Add(-2 * time.Second))}, "end": {promSeconds(now)}}
		var r struct {
			Data struct {
				Result []struct {
					Values [][2]any `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		if _, err := api.do(ctx, hc, http.MethodGet, "/prometheus/api/v1/query_range?"+v.Encode(), nil, &r, http.StatusOK); err != nil {
			return nil, err
		}
		for _, s := range r.Data.Result {
			if len(s.Values) > 0 {
				vals = appendPromValue(vals, s.Values[len(s.Values)-1])
			}
		}
	default:
		return nil, fmt.Errorf("fresh: unknown path %q", path)
	}
	return vals, nil
}

func appendPromValue(dst []float64, v [2]any) []float64 {
	s, ok := v[1].(string)
	if !ok {
		return dst
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return dst
	}
	return append(dst, f)
}

func promSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
