package remotewrite

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hearthiot/hearth/internal/tlsfile"
	"github.com/hearthiot/hearth/store/wal"
)

// Config is the receivers and how they are reached. Credentials apply to
// every URL; a URL may carry its own Basic credentials
// (https://user:pass@host/…), which win.
type Config struct {
	URLs []string
	// BearerToken, or Username and Password (Basic), authenticate.
	BearerToken        string
	Username, Password string
	// CAFile is a PEM file of the CAs to trust for https URLs, besides the
	// system's.
	CAFile             string
	InsecureSkipVerify bool
	// Labels are added to every series, e.g. hearth_box=tokyo-1.
	Labels map[string]string
	// MaxBacklog bounds the bytes of the log one remote holds unsent: past
	// it, its oldest segments are dropped.
	MaxBacklog int64
	// BatchSamples is the most samples one request carries [10000].
	BatchSamples int
	// Linger is how long a partial batch waits for more samples once the
	// remote has caught up [250ms].
	Linger time.Duration
	// Timeout bounds one request [30s].
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a retry [250ms, 10s]:
	// a receiver back is sent to within MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
}

// reserved are the labels Hearth sets itself.
var reserved = []string{"__name__", "device", "customer", "site"}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	for _, raw := range c.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("remote write URL %q: an http:// or https:// address is expected", Redact(raw))
		}
	}
	if len(c.URLs) == 0 {
		return nil
	}
	if c.BearerToken != "" && (c.Username != "" || c.Password != "") {
		return errors.New("remote write: a bearer token or a user and password, not both")
	}
	if c.Password != "" && c.Username == "" {
		return errors.New("remote write: a password without a user")
	}
	for k, v := range c.Labels {
		if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			return fmt.Errorf("remote write label %q: a name of letters, digits and _, not beginning with a digit or __", k)
		}
		if slices.Contains(reserved, k) {
			return fmt.Errorf("remote write label %q: Hearth sets %s itself", k, strings.Join(reserved, ", "))
		}
		if v == "" {
			return fmt.Errorf("remote write label %q: an empty value", k)
		}
	}
	if c.MaxBacklog <= 0 {
		return fmt.Errorf("remote write maximum backlog %d: more than 0 bytes", c.MaxBacklog)
	}
	seen := map[string]bool{}
	for _, raw := range c.URLs {
		id := remoteID(raw)
		if seen[id] {
			return fmt.Errorf("remote write URL %q is given twice", Redact(raw))
		}
		seen[id] = true
	}
	return nil
}

// Redact is a URL without its credentials and query, for logs, metrics and
// pages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that cannot be read)"
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// remoteID names a remote's position file and hold: the URL without
// credentials, hashed.
func remoteID(raw string) string {
	h := sha256.Sum256([]byte(Redact(raw)))
	return hex.EncodeToString(h[:8])
}

// Drop is samples a remote will never send.
type Drop struct {
	Remote  string // the redacted URL
	Samples int
	Reason  string // ReasonBacklog, ReasonRejected or ReasonGap
	Detail  string
	At      time.Time
}

// Reasons for a drop.
const (
	// ReasonBacklog: the remote held more than its disk budget; its oldest
	// segments were dropped.
	ReasonBacklog = "backlog"
	// ReasonRejected: the receiver refused a batch with a 4xx answer.
	ReasonRejected = "rejected"
	// ReasonGap: segments the remote had not sent were gone from disk
	// (the log ran without the remote's hold); their samples are unknown.
	ReasonGap = "gap"
)

// Mirror runs one sender per receiver.
type Mirror struct {
	cfg     Config
	log     *wal.Log
	dir     string
	logger  *slog.Logger
	onDrop  func(Drop)
	remotes []*remote
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New builds the senders; dir keeps their positions. onDrop, if set, is
// called for every drop, off the ingest path.
func New(cfg Config, log *wal.Log, dir string, version string, logger *slog.Logger, onDrop func(Drop)) (*Mirror, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSamples <= 0 {
		cfg.BatchSamples = 10000
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 250 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(10*time.Second, cfg.MinBackoff)
	}
	if onDrop == nil {
		onDrop = func(Drop) {}
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // the operator's choice, documented
	if cfg.CAFile != "" {
		pool, err := tlsfile.CertPool(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("remote write: %w", err)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 4
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the remote write directory: %w", err)
	}
	m := &Mirror{cfg: cfg, log: log, dir: dir, logger: logger, onDrop: onDrop}
	extra := make([]label, 0, len(cfg.Labels))
	for k, v := range cfg.Labels {
		extra = append(extra, label{k, v})
	}
	for _, raw := range cfg.URLs {
		u, _ := url.Parse(raw)
		r := &remote{m: m, url: raw, name: Redact(raw), id: remoteID(raw), client: client, version: version, extra: extra}
		switch {
		case u.User != nil:
			r.user = u.User.Username()
			r.pass, _ = u.User.Password()
			u.User = nil
			r.endpoint = u.String()
		default:
			r.endpoint = raw
			r.user, r.pass, r.bearer = cfg.Username, cfg.Password, cfg.BearerToken
		}
		r.logger = logger.With("remote", r.name)
		m.remotes = append(m.remotes, r)
	}
	return m, nil
}

// Start places every remote at its saved position, holding the log's
// segments from there, and starts sending.
func (m *Mirror) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	for _, r := range m.remotes {
		pos, err := r.loadPosition()
		if err != nil {
			cancel()
			return err
		}
		r.reader = m.log.NewReader(pos)
		r.acked = r.reader.Position()
		m.log.Hold(r.id, r.acked.Segment)
		r.logger.Info("remote write starting", "segment", r.acked.Segment, "offset", r.acked.Offset,
			"backlog_bytes", m.log.Backlog(r.acked))
	}
	for _, r := range m.remotes {
		m.wg.Add(2)
		go func() {
			defer m.wg.Done()
			r.countBacklog(ctx, r.acked)
		}()
		go func() {
			defer m.wg.Done()
			r.run(ctx)
		}()
	}
	return nil
}

// Stop ends sending, bounded by ctx, and saves every remote's position.
// The log's segments a remote has not sent stay on disk for the next
// start (see Hold).
func (m *Mirror) Stop(ctx context.Context) error {
	if m.cancel == nil {
		return nil
	}
	m.cancel()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("remote write did not stop in time: %w", ctx.Err())
	}
	var errs []error
	for _, r := range m.remotes {
		if err := r.savePosition(); err != nil {
			errs = append(errs, err)
		}
		r.reader.Close()
	}
	return errors.Join(errs...)
}

// Hold is the oldest log segment a remote has not sent, to be kept when
// the log is closed; 0 when there is no remote.
func (m *Mirror) Hold() uint64 {
	var hold uint64
	for _, r := range m.remotes {
		r.mu.Lock()
		s := r.acked.Segment
		r.mu.Unlock()
		if hold == 0 || s < hold {
			hold = s
		}
	}
	return hold
}

// Status is one remote's progress.
type Status struct {
	URL   string // redacted
	State string // StateCaughtUp, StateSending, StateRetrying
	// LagSamples are the samples in the log not sent yet; LagSeconds is
	// how far behind the newest sample sent is, 0 when caught up.
	LagSamples   int64
	LagSeconds   float64
	BacklogBytes int64
	MaxBacklog   int64

	SamplesSent, BytesSent, BatchesSent uint64
	Retries, FailedBatches              uint64
	// Dropped counts the samples dropped, by reason.
	Dropped    map[string]uint64
	LastSent   time.Time
	LastError  string
	LastErrAt  time.Time
	LastStatus int // the last answer's HTTP status, 0 for a network error
}

// States of a remote.
const (
	StateCaughtUp = "caught up"
	StateSending  = "sending"
	StateRetrying = "retrying"
)

// Status reports every remote, in the order of the configuration.
func (m *Mirror) Status() []Status {
	out := make([]Status, len(m.remotes))
	for i, r := range m.remotes {
		out[i] = r.status()
	}
	return out
}

// positionFile keeps a remote's position across restarts.
func (r *remote) positionFile() string { return r.m.dir + "/" + r.id + ".pos" }

// Jitter spreads retries of many boxes after a receiver's outage.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}
