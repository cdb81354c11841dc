package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hearthiot/hearth/store"
)

// Store is what the service keeps in the record store; *store.Store
// implements it.
type Store interface {
	GetNotificationChannel(customer, name string) (store.NotificationChannel, error)
	EnqueueDeliveries(ds []store.Delivery) ([]store.Delivery, error)
	DueDeliveries(customer, channel string, t time.Time, limit int) ([]store.Delivery, time.Time, error)
	QueuedChannels() ([][2]string, error)
	PutDeliveries(ds ...store.Delivery) error
	GroupDeliveries(g store.Delivery, members []uint64) (store.Delivery, error)
	RetryDelivery(id uint64, t, deadline time.Time) (store.Delivery, error)
	PruneDeliveries(before time.Time) (int, error)
	GetUser(email string) (store.User, error)
}

// Config tunes the service; zero values take the defaults in brackets.
type Config struct {
	// RetryFor is how long a delivery that keeps failing is tried before
	// it is given up as a dead letter [24h].
	RetryFor time.Duration
	// FirstRetry is the wait before the second attempt; each next wait is
	// twice as long, up to MaxBackoff, each with jitter [10s, 15m].
	FirstRetry time.Duration
	MaxBackoff time.Duration
	// Timeout bounds one attempt: connecting, sending and the answer
	// [10s].
	Timeout time.Duration
	// GroupWindow is how long a group's window for a channel stays open
	// after its first message, and GroupMin how many of a window's first
	// messages are sent at once; the window's later ones are sent as one
	// when it closes [30s, 1].
	GroupWindow time.Duration
	GroupMin    int
	// Rate and Burst limit the messages sent to one channel per second
	// [1, 10].
	Rate  float64
	Burst int
	// Keep is how long delivered and dead deliveries stay in the outbox
	// [720h].
	Keep time.Duration
	// Poll is how often the outbox is looked at for deliveries that fell
	// due [1s]; an Enqueue looks at once.
	Poll time.Duration
	// PublicURL is Hearth's address in links (https://hearth.example);
	// SetPublicURL changes it once the server knows its port.
	PublicURL string
	// Location is the time zone of quiet hours of users who set none, and
	// of times in e-mail [UTC].
	Location *time.Location
	// Self recognises Hearth's own addresses, which no channel may call;
	// it is checked on the URL and again on each address dialled.
	Self SelfFunc
	// TLS, when set, is the TLS configuration of webhook and Slack calls
	// (tests trust their own CA with it); nil uses the system's roots.
	TLS  *tls.Config
	SMTP SMTPConfig
}

// SMTPConfig is the server e-mail is sent through, always with STARTTLS.
type SMTPConfig struct {
	Host     string // empty: e-mail channels cannot send
	Port     int    // [587]
	User     string // empty: no authentication
	Password string // never logged
	From     string
	// TLS, when set, is the STARTTLS configuration (tests trust their own
	// CA with it); nil uses the system's roots and Host as the name.
	TLS *tls.Config
}

// DefaultConfig is the configuration of zero values.
func DefaultConfig() Config {
	return Config{
		RetryFor: 24 * time.Hour, FirstRetry: 10 * time.Second, MaxBackoff: 15 * time.Minute,
		Timeout: 10 * time.Second, GroupWindow: 30 * time.Second, GroupMin: 1,
		Rate: 1, Burst: 10, Keep: 30 * 24 * time.Hour, Poll: time.Second,
		Location: time.UTC, SMTP: SMTPConfig{Port: 587},
	}
}

func (c *Config) defaults() {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *time.Duration }{
		{&c.RetryFor, &d.RetryFor}, {&c.FirstRetry, &d.FirstRetry}, {&c.MaxBackoff, &d.MaxBackoff},
		{&c.Timeout, &d.Timeout}, {&c.GroupWindow, &d.GroupWindow}, {&c.Keep, &d.Keep}, {&c.Poll, &d.Poll},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if c.GroupMin <= 0 {
		c.GroupMin = d.GroupMin
	}
	if c.Rate <= 0 {
		c.Rate = d.Rate
	}
	if c.Burst <= 0 {
		c.Burst = d.Burst
	}
	if c.Location == nil {
		c.Location = d.Location
	}
	if c.SMTP.Port == 0 {
		c.SMTP.Port = d.SMTP.Port
	}
}

// Stats are the service's counters since it was built.
type Stats struct {
	Enqueued       uint64 // deliveries added to the outbox
	Delivered      uint64 // deliveries a receiver accepted (a grouped one counts once)
	FailedAttempts uint64 // attempts that failed, each retried or given up
	Dead           uint64 // deliveries given up
	Grouped        uint64 // deliveries sent inside a grouped one
}

// Service enqueues messages and delivers them.
type Service struct {
	cfg    Config
	st     Store
	logger *slog.Logger
	now    func() time.Time
	client *http.Client

	public atomic.Pointer[string] // Config.PublicURL, or what SetPublicURL set

	mu      sync.Mutex
	workers map[[2]string]*worker
	windows map[windowKey]*window // open group windows of channels
	running bool

	wake    chan struct{}
	stop    chan struct{} // closed when Stop begins
	soft    context.Context
	cancel  context.CancelFunc // of soft: waiting ends
	hard    context.Context
	abort   context.CancelFunc // of hard: attempts under way end
	wg      sync.WaitGroup
	counter struct{ enqueued, delivered, failed, dead, grouped atomic.Uint64 }
}

type windowKey struct{ customer, channel, group, state string }

// New builds the service; Start starts its workers.
func New(cfg Config, st Store, logger *slog.Logger) (*Service, error) {
	if st == nil {
		return nil, errors.New("new notification service: a store is required")
	}
	cfg.defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		cfg: cfg, st: st, logger: logger, now: time.Now,
		workers: map[[2]string]*worker{}, windows: map[windowKey]*window{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	s.public.Store(&cfg.PublicURL)
	s.soft, s.cancel = context.WithCancel(context.Background())
	s.hard, s.abort = context.WithCancel(context.Background())
	s.client = s.newHTTPClient()
	return s, nil
}

// SetPublicURL sets Hearth's address in the links of messages sent from
// now on.
func (s *Service) SetPublicURL(u string) { s.public.Store(&u) }

func (s *Service) publicURL() string { return *s.public.Load() }

// newHTTPClient is the client of webhook and Slack calls: no redirects
// followed (a redirect could lead anywhere, Hearth included), and no
// connection to an address Self recognises, whatever a name resolves to.
func (s *Service) newHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: s.cfg.Timeout, Control: func(_, address string, _ syscall.RawConn) error {
		host, port, err := net.SplitHostPort(address)
		if err == nil && s.cfg.Self != nil && s.cfg.Self(host, port) {
			return fmt.Errorf("%s is Hearth itself: %w", address, errSelf)
		}
		return err
	}}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       s.cfg.TLS.Clone(),
		TLSHandshakeTimeout:   s.cfg.Timeout,
		ResponseHeaderTimeout: s.cfg.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var errSelf = errors.New("refusing to call Hearth itself")

// Start starts the dispatcher, which hands each channel's due deliveries
// to that channel's worker; deliveries left pending by the last run
// resume. It returns at once.
func (s *Service) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return errors.New("notification service already started")
	}
	s.running = true
	s.wg.Add(1)
	go s.dispatch()
	return nil
}

// Stop stops taking deliveries up and waits for the attempts under way to
// finish and be recorded; when ctx ends first, they are cut short (and
// sent again after the next start, under the same idempotency key).
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return nil
	}
	s.running = false
	close(s.stop)
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.abort()
		return nil
	case <-ctx.Done():
		s.abort()
		<-done
		return fmt.Errorf("stop notifications: attempts under way cut short: %w", ctx.Err())
	}
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	return Stats{
		Enqueued: s.counter.enqueued.Load(), Delivered: s.counter.delivered.Load(),
		FailedAttempts: s.counter.failed.Load(), Dead: s.counter.dead.Load(), Grouped: s.counter.grouped.Load(),
	}
}

// Enqueue adds messages to the outbox, one delivery for each channel a
// message names, all in one transaction: when it returns nil they are
// stored and will be delivered, across restarts. A key a channel already
// has in the outbox is left out. The first message of a group for a
// channel (Config.GroupMin of them) is sent at once and opens a window of
// Config.GroupWindow; the group's later messages in that window wait for
// it to close and are sent as one. A refused message (ErrInvalid)
// refuses the whole call.
func (s *Service) Enqueue(ctx context.Context, msgs ...Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now().UTC()
	var ds []store.Delivery
	for _, m := range msgs {
		if err := m.check(); err != nil {
			return err
		}
		if m.Time.IsZero() {
			m.Time = now
		}
		channels := slices.Compact(slices.Sorted(slices.Values(m.Channels)))
		m.Channels = nil
		body, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode message %q: %w", m.Key, err)
		}
		for _, ch := range channels {
			d := store.Delivery{
				Key: m.Key, Customer: m.Customer, Channel: ch, Group: m.Group, State: m.State,
				Message: body, NextAttempt: now, Deadline: now.Add(s.cfg.RetryFor),
			}
			if m.Group != "" {
				d.NextAttempt = s.nextAttempt(windowKey{m.Customer, ch, m.Group, m.State}, now)
			}
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return nil
	}
	added, err := s.st.EnqueueDeliveries(ds)
	if err != nil {
		return err
	}
	s.counter.enqueued.Add(uint64(len(added)))
	for _, d := range added {
		if d.Status == store.DeliveryDead {
			s.counter.dead.Add(1)
			s.logger.Warn("notification to a channel that does not exist", "customer", d.Customer, "channel", d.Channel, "key", d.Key)
		}
	}
	s.poke()
	return nil
}

// window is one group's window for one channel and state.
type window struct {
	end time.Time // when it closes
	n   int       // messages it has had
}

// nextAttempt is when a message of group window k enqueued at now is
// first sent: at once when it is among the window's first GroupMin (a
// window opens with the first message of a group), else when the window
// closes, with the window's other late messages, as one.
func (s *Service) nextAttempt(k windowKey, now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.windows[k]; ok && w.end.After(now) {
		w.n++
		if w.n <= s.cfg.GroupMin {
			return now
		}
		return w.end
	}
	if len(s.windows) > 1000 {
		for wk, w := range s.windows {
			if !w.end.After(now) {
				delete(s.windows, wk)
			}
		}
	}
	s.windows[k] = &window{end: now.Add(s.cfg.GroupWindow), n: 1}
	return now
}

// Retry gives a dead delivery (or the grouped one that carries it)
// another Config.RetryFor of attempts, starting now.
func (s *Service) Retry(id uint64) (store.Delivery, error) {
	now := s.now().UTC()
	d, err := s.st.RetryDelivery(id, now, now.Add(s.cfg.RetryFor))
	if err != nil {
		return store.Delivery{}, err
	}
	s.poke()
	return d, nil
}

// Test sends a test message to c now, outside the outbox and regardless
// of anyone's preferences, and answers what the receiver said.
func (s *Service) Test(ctx context.Context, c store.NotificationChannel) Result {
	var b [8]byte
	_, _ = rand.Read(b[:])
	m := Message{
		Key: "test-" + hex.EncodeToString(b[:]), Customer: c.Customer, State: StateTest, Severity: "info",
		Title: "Test notification from Hearth",
		Text:  fmt.Sprintf("Channel %q of customer %s works: this is the message its notifications will look like.", c.Name, c.Customer),
		Time:  s.now().UTC(),
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	d := store.Delivery{Key: m.Key, Customer: c.Customer, Channel: c.Name}
	return s.send(ctx, c, m, &d, false)
}

// poke tells the dispatcher to look at the outbox now.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
