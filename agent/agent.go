package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hearthiot/hearth/internal/tlsfile"
	"github.com/hearthiot/hearth/protocol"
)

// Agent connects one piece of equipment to Hearth as one device.
type Agent struct {
	cfg    Config
	opts   Options
	logger *slog.Logger
	spool  *Spool
	ctl    *controller
	link   *link
	jobs   *jobsClient
	// restart is set when the binary in place must change before the agent
	// runs (the previous binary of a failed update was put back).
	restart *Restart
}

// Options are what a caller may change besides the configuration.
type Options struct {
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
	// Version is the running binary's version, as --version prints it.
	Version string
	// Executable is the binary an update-agent job replaces (absolute,
	// symbolic links resolved); "" refuses such jobs, as for the agent in
	// Hearth's own binary.
	Executable string
	// LoadMap reads the register map of a modbus-map job; nil refuses such
	// jobs.
	LoadMap MapLoader
	// Trial is set in the process that tries a new binary for an update:
	// it takes no jobs and tells its parent once it has connected.
	Trial *Trial
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
	a := &Agent{cfg: cfg, opts: opts, logger: logger, spool: sp, ctl: ctl, link: l}
	if err := a.newJobs(); err != nil {
		sp.Close()
		return nil, err
	}
	l.spool, l.out, l.inbox, l.sampled, l.counts, l.jobs = sp, out, inbox, sampled, counts, a.jobs
	return a, nil
}

// newJobs builds the jobs client, and takes up an update an earlier run
// left.
func (a *Agent) newJobs() error {
	cfg, logger := a.cfg, a.logger.With("component", "jobs")
	if cfg.Jobs.UpdateConfirmTimeout <= 0 {
		cfg.Jobs.UpdateConfirmTimeout = DefaultUpdateConfirmTimeout
	}
	if cfg.Jobs.DownloadMaxBytes <= 0 {
		cfg.Jobs.DownloadMaxBytes = DefaultDownloadMaxBytes
	}
	if cfg.Jobs.DownloadTimeout <= 0 {
		cfg.Jobs.DownloadTimeout = DefaultDownloadTimeout
	}
	var key ed25519.PublicKey
	if cfg.Jobs.UpdatePublicKeyFile != "" {
		k, err := ReadPublicKey(cfg.Jobs.UpdatePublicKeyFile)
		if err != nil {
			return err
		}
		key = k
	}
	// Downloads come from Hearth: its CA verifies them, as it verifies
	// the MQTT connection (the system's roots with plain MQTT).
	httpTLS := &tls.Config{MinVersion: tls.VersionTLS12}
	if a.link.tls != nil {
		httpTLS.RootCAs = a.link.tls.RootCAs
	}
	dl := newDownloader(httpTLS, cfg.Jobs.DownloadMaxBytes, cfg.Jobs.DownloadTimeout, logger)
	j := newJobsClient(cfg.Device, cfg.Jobs.Enabled, logger)
	j.pub, j.trial = a.link, a.opts.Trial
	j.update = &updater{dir: cfg.Spool.Dir, exe: a.opts.Executable, version: a.opts.Version, key: key,
		confirm: cfg.Jobs.UpdateConfirmTimeout, dl: dl, logger: logger}
	j.maps = &mapJobs{dir: cfg.Spool.Dir, load: a.opts.LoadMap, ctl: a.ctl, dl: dl, logger: logger}
	a.jobs = j
	if a.opts.Trial != nil {
		return nil
	}
	st, ok, rs, err := j.update.resume()
	if err != nil {
		// An update's state that cannot be read must not keep the agent
		// from running: it is set aside, and the job comes again.
		logger.Error("update state not read; set aside", "error", err)
		bad := filepath.Join(cfg.Spool.Dir, updateFile)
		if rerr := os.Rename(bad, bad+".bad"); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return fmt.Errorf("set aside %s: %w", bad, rerr)
		}
		ok = false
	}
	j.setState(st, ok)
	a.restart = rs
	return nil
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
//
// Run returns a *Restart when the agent stopped to restart itself for an
// update: the caller releases the equipment and calls its Do.
func (a *Agent) Run(ctx context.Context) error {
	if a.restart != nil {
		if err := a.spool.Close(); err != nil {
			return err
		}
		return a.restart
	}
	st := a.spool.Stats()
	version := a.opts.Version
	if version == "" {
		version = "dev"
	}
	a.logger.Info("agent started", "device", a.cfg.Device, "hearth", a.cfg.Hearth.Address, "version", version,
		"interval", a.cfg.Telemetry.Interval.String(), "spooled_samples", st.Samples, "trial", a.opts.Trial != nil)
	a.ctl.event(protocol.LevelInfo, CodeAgentStarted, fmt.Sprintf("agent %s started with %d samples waiting to be sent", version, st.Samples))
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	a.jobs.stop = func(rs *Restart) { stop(rs) }
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); a.ctl.run(ctx) }()
	go func() { defer wg.Done(); a.link.run(ctx) }()
	go func() { defer wg.Done(); a.jobs.run(ctx) }()
	wg.Wait()
	if a.ctl.swapped {
		// Taken from a modbus-map job: the agent's own to close.
		closeEquipment(a.ctl.eq, a.logger)
	}
	left := a.spool.Stats().Samples
	if err := a.spool.Close(); err != nil {
		return err
	}
	var rs *Restart
	if errors.As(context.Cause(ctx), &rs) {
		a.logger.Info("agent stopped to restart", "spooled_samples", left, "reason", rs.Error())
		return rs
	}
	a.logger.Info("agent stopped", "spooled_samples", left)
	return nil
}

// Connected reports whether the agent is connected to Hearth now.
func (a *Agent) Connected() bool { return a.link.connected.Load() }

// Spooled is the number of samples waiting in the spool for Hearth's
// acknowledgement.
func (a *Agent) Spooled() uint64 { return a.spool.Stats().Samples }
