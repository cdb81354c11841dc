package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hearthiot/hearth/internal/tlsfile"
	"github.com/hearthiot/hearth/protocol"
)

// Agent connects one piece of equipment to Hearth as one device.
type Agent struct {
	cfg    Config
	logger *slog.Logger
	spool  *Spool
	ctl    *controller
	link   *link
}

// Options are what a caller may change besides the configuration.
type Options struct {
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
}

// New builds an agent for the equipment eq: it reads the credentials,
// opens the spool and loads the saved operating program. Nothing runs
// until Run.
func New(cfg Config, eq Equipment, logger *slog.Logger, opts Options) (*Agent, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if cfg.Telemetry.Interval <= 0 {
		cfg.Telemetry.Interval = DefaultInterval
	}
	if cfg.Telemetry.Batch <= 0 {
		cfg.Telemetry.Batch = DefaultBatch
	}
	if cfg.Hearth.KeepAlive <= 0 {
		cfg.Hearth.KeepAlive = DefaultKeepAlive
	}
	if cfg.Hearth.ConnectTimeout <= 0 {
		cfg.Hearth.ConnectTimeout = DefaultConnectTimeout
	}
	l := &link{
		name:   cfg.Device,
		cfg:    cfg.Hearth,
		logger: logger.With("component", "link"),
		batch:  cfg.Telemetry.Batch,
	}
	if err := l.credentials(cfg.Device); err != nil {
		return nil, err
	}
	sp, err := OpenSpool(cfg.Spool.Dir, SpoolOptions{MaxSamples: cfg.Spool.MaxSamples, MaxBytes: cfg.Spool.MaxBytes}, logger.With("component", "spool"))
	if err != nil {
		return nil, err
	}
	out := newOutbox()
	inbox := make(chan shadowMsg, 16)
	sampled := make(chan struct{}, 1)
	counts := new(counters)
	ctl, err := newController(eq, sp, out, logger.With("component", "equipment"), opts.Now, cfg.Spool.Dir, cfg.Telemetry.Interval, inbox, sampled, counts)
	if err != nil {
		sp.Close()
		return nil, err
	}
	l.spool, l.out, l.inbox, l.sampled, l.counts = sp, out, inbox, sampled, counts
	return &Agent{cfg: cfg, logger: logger, spool: sp, ctl: ctl, link: l}, nil
}

// credentials prepares TLS and the MQTT user name and password.
func (l *link) credentials(name string) error {
	h := l.cfg
	if h.SecretFile != "" || h.Secret != "" {
		secret, err := h.ReadSecret()
		if err != nil {
			return err
		}
		l.username, l.password = name, []byte(secret)
	}
	if h.Plain {
		return nil
	}
	pool, err := tlsfile.CertPool(h.CAFile)
	if err != nil {
		return err
	}
	serverName := h.ServerName
	if serverName == "" {
		serverName, _, _ = net.SplitHostPort(h.Address)
	}
	l.tls = &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if h.CertificateFile != "" {
		cert, err := tls.LoadX509KeyPair(h.CertificateFile, h.KeyFile)
		if err != nil {
			return fmt.Errorf("read client certificate %s and key %s: %w", h.CertificateFile, h.KeyFile, err)
		}
		l.tls.Certificates = []tls.Certificate{cert}
	}
	return nil
}

// Run polls the equipment and keeps the connection to Hearth until ctx
// ends, then stops both and closes the spool. Samples taken are on disk
// before Run moves on, so a stop loses none.
func (a *Agent) Run(ctx context.Context) error {
	st := a.spool.Stats()
	a.logger.Info("agent started", "device", a.cfg.Device, "hearth", a.cfg.Hearth.Address,
		"interval", a.cfg.Telemetry.Interval.String(), "spooled_samples", st.Samples)
	a.ctl.event(protocol.LevelInfo, CodeAgentStarted, fmt.Sprintf("agent started with %d samples waiting to be sent", st.Samples))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.ctl.run(ctx) }()
	go func() { defer wg.Done(); a.link.run(ctx) }()
	wg.Wait()
	left := a.spool.Stats().Samples
	if err := a.spool.Close(); err != nil {
		return err
	}
	a.logger.Info("agent stopped", "spooled_samples", left)
	return nil
}

// Connected reports whether the agent is connected to Hearth now.
func (a *Agent) Connected() bool { return a.link.connected.Load() }

// Spooled is the number of samples waiting in the spool for Hearth's
// acknowledgement.
func (a *Agent) Spooled() uint64 { return a.spool.Stats().Samples }
