package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/alarm"
	"github.com/hearthiot/hearth/broker"
	"github.com/hearthiot/hearth/broker/upstream"
	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/device/poll"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/internal/membudget"
	"github.com/hearthiot/hearth/jobs"
	"github.com/hearthiot/hearth/jobs/artifact"
	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/rules"
	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/backup"
	"github.com/hearthiot/hearth/store/remotewrite"
	"github.com/hearthiot/hearth/store/tsdb"
	"github.com/hearthiot/hearth/store/wal"
	"github.com/hearthiot/hearth/strategy"
	"github.com/hearthiot/hearth/web/api"
	"github.com/hearthiot/hearth/web/ui"
)

// Server is one running Hearth: every component built from one Config.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	console io.Writer
	version string

	store     *store.Store
	authority *ca.CA
	registry  *device.Registry
	tsdb      *tsdb.DB
	wal       *wal.Log // nil with --telemetry-log=false
	walReplay wal.ReplayStats
	remote    *remotewrite.Mirror // nil without --remote-write-url
	disk      *diskWatch
	telemetry *device.Telemetry
	shadows   *device.Shadows
	types     *device.DeviceTypes
	presence  *device.Presence
	devEvents *device.DeviceEvents
	broker    *broker.Broker
	out       *broker.Outbound // the broker's sending side, made before it
	poll      *poll.Service
	gate      *gate.Gate
	scheduler *scheduler.Scheduler
	jobs      *jobs.Service
	ownTopics *device.OwnTopics
	rules     *rules.Engine
	alarms    *alarm.Engine

	// strategies runs the energy-saving strategies.
	strategies *strategy.Runner

	notify    *notify.Service
	backups   *backup.Maker
	artifacts *artifact.Store
	self      *selfCheck // Hearth's own addresses, which no notification may call
	api       *api.API
	feeds     http.Handler // calendars' iCalendar feeds
	ui        *ui.UI
	http      *http.Server
	httpLn    net.Listener
	admin     *adminSocket
	tls       *tls.Config // what both listeners present
	events    *events.Bus
	budget    membudget.Budget
	memory    *membudget.Watch // set by the first start step

	// devicesOut is what the shadow service publishes through: out, and
	// the upstream broker for the devices whose shadows this box answers
	// there.
	devicesOut *devicePublisher
	upstream   *upstream.Client // nil without --mqtt-upstream

	// stops are run in reverse order by Stop; each entry is added once its
	// component has started.
	stops []stopStep
	ready atomic.Bool

	statsMu sync.Mutex // guards stats and statsAt
	stats   tsdb.Stats
	statsAt time.Time
	started time.Time
}

type stopStep struct {
	name string
	fn   func(ctx context.Context) error
}

type startStep struct {
	name string
	fn   func(context.Context) error
}

// New checks the configuration. Nothing is opened until Start.
func New(cfg Config, version string, logger *slog.Logger, console io.Writer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	if console == nil {
		console = io.Discard
	}
	out := broker.NewOutbound()
	return &Server{cfg: cfg, version: version, logger: logger, console: console, events: events.New(), out: out, devicesOut: &devicePublisher{local: out}}, nil
}

// Events is the in-process event bus: device connects and disconnects,
// rejected telemetry, shadow updates. Subscribers that fall behind lose
// events; the device path never waits for them.
func (s *Server) Events() *events.Bus { return s.events }

// Start opens and starts every component in dependency order and returns once
// Hearth is ready to serve. On error, what was started is stopped again.
func (s *Server) Start(ctx context.Context) (err error) {
	s.started = time.Now()
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
			defer cancel()
			if stopErr := s.Stop(stopCtx); stopErr != nil {
				s.logger.Error("cannot stop after a failed start", "error", stopErr)
			}
		}
	}()
	for _, st := range s.startSteps() {
		t0 := time.Now()
		if err := st.fn(ctx); err != nil {
			return fmt.Errorf("start %s: %w", st.name, err)
		}
		s.logger.Info("started", "step", st.name, "duration", time.Since(t0).Round(time.Microsecond))
	}
	s.ready.Store(true)
	s.logger.Info("ready", "duration", time.Since(s.started).Round(time.Millisecond))
	s.printBanner()
	return nil
}

// startSteps are Start's steps in order; docs/architecture.md lists their
// names, and a test keeps the two the same. Everything the broker routes to
// is built before it, publishing through the outbound made in New.
func (s *Server) startSteps() []startStep {
	return []startStep{
		{"memory budget", s.startMemory},
		{"data directory", s.startDataDir},
		{"disk space", s.startDiskWatch},
		{"store", s.startStore},
		{"artifacts", s.startArtifacts},
		{"certificate authority", s.startCA},
		{"registry", s.startRegistry},
		{"server certificate", s.startTLS},
		{"housekeeping", s.startHousekeeping},
		{"time-series store", s.startTSDB},
		{"telemetry ingest", s.startTelemetry},
		{"remote write", s.startRemoteWrite},
		{"device types", s.startDeviceTypes},
		{"shadow service", s.startShadows},
		{"device events", s.startDeviceEvents},
		{"presence", s.startPresence},
		{"job service", s.startJobService},
		{"message rules", s.startMessageRules},
		{"broker", s.startBroker},
		{"mqtt upstream", s.startUpstream},
		{"polling", s.startPolling},
		{"scheduler", s.startScheduler},
		{"jobs", s.startJobs},
		{"notifications", s.startNotifications},
		{"alarms", s.startAlarms},
		{"strategies", s.startStrategies},
		{"backups", s.startBackups},
		{"http", s.startHTTP},
		{"admin socket", s.startAdmin},
		{"first operator", func(context.Context) error { return s.bootstrap() }},
		{"demo", s.startDemo},
	}
}

// Stop stops every started component in reverse start order, bounded by ctx.
// The time-series store is flushed and bbolt closed, so nothing acknowledged
// is lost.
func (s *Server) Stop(ctx context.Context) error {
	s.ready.Store(false)
	var errs []error
	for i := len(s.stops) - 1; i >= 0; i-- {
		st := s.stops[i]
		t0 := time.Now()
		if err := st.fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", st.name, err))
			s.logger.Warn("stop failed", "step", st.name, "error", err)
			continue
		}
		s.logger.Info("stopped", "step", st.name, "duration", time.Since(t0).Round(time.Microsecond))
	}
	s.stops = nil
	return errors.Join(errs...)
}

// Run starts the server, waits until ctx is cancelled (SIGINT, SIGTERM) and
// stops it gracefully within the configured timeout.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	s.logger.Info("stopping", "timeout", s.cfg.ShutdownTimeout)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	return s.Stop(stopCtx)
}

func (s *Server) onStop(name string, fn func(context.Context) error) {
	s.stops = append(s.stops, stopStep{name: name, fn: fn})
}

func (s *Server) startDataDir(context.Context) error {
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory %q: %w", s.cfg.DataDir, err)
	}
	return nil
}

func (s *Server) startStore(context.Context) error {
	st, err := store.Open(s.cfg.storePath(), store.Options{HistoryDeviceBudget: s.cfg.HistoryDeviceBudget})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("%w: is another hearth serving %q?", err, s.cfg.DataDir)
		}
		return err
	}
	s.store = st
	s.onStop("store", func(context.Context) error { return st.Close() })
	return nil
}

func (s *Server) startCA(context.Context) error {
	authority, err := ca.LoadOrCreate(s.cfg.tlsDir(), s.logger.With("component", "ca"))
	if err != nil {
		return err
	}
	s.authority = authority
	return nil
}

func (s *Server) startRegistry(context.Context) error {
	reg, err := device.NewRegistry(s.store, s.authority, s.logger.With("component", "registry"))
	if err != nil {
		return err
	}
	s.registry = reg
	return nil
}

func (s *Server) startTLS(context.Context) error {
	c, err := s.serverTLSConfig()
	if err != nil {
		return err
	}
	s.tls = c
	return nil
}

func (s *Server) startTSDB(context.Context) error {
	db, err := tsdb.Open(tsdb.Config{
		Dir:         s.cfg.tsdbDir(),
		Retention:   s.cfg.TSDB.Retention,
		MemoryBytes: s.cfg.TSDB.MemoryBytes,
	}, s.logger.With("component", "tsdb"))
	if err != nil {
		return err
	}
	s.tsdb = db
	s.onStop("time-series store", func(context.Context) error {
		if err := db.Close(); err != nil {
			return err
		}
		// The store wrote everything it was given: the telemetry log,
		// closed before it, holds nothing it lacks — but what a remote
		// write receiver has not been sent yet stays.
		return wal.RemoveSegmentsBefore(s.cfg.walDir(), s.walHoldOrAll())
	})
	return nil
}

// startTelemetry builds the ingest the broker hands telemetry to: decoded,
// labelled from the registry, appended to the time-series store.
func (s *Server) startTelemetry(context.Context) error {
	// The log is replayed even when it is turned off now: it may hold
	// what a crash of a run with it took from the time-series store.
	if err := s.openTelemetryLog(); err != nil {
		return err
	}
	w := newReadingWriter(s.tsdb, s.wal, s.disk, newAppendSlots(s.budget))
	if w.groups != nil {
		// Stopped after the broker, whose stop waits for every message
		// in flight, and before the log.
		s.onStop("telemetry ingest", func(context.Context) error { w.groups.close(); return nil })
	}
	s.telemetry = device.NewTelemetry(device.TelemetryLimits{
		MaxBatch:   s.cfg.Telemetry.MaxBatch,
		MaxMetrics: s.cfg.Telemetry.MaxMetrics,
		MaxFuture:  s.cfg.Telemetry.MaxFuture,
		Retention:  s.cfg.TSDB.Retention,
		Rate:       s.cfg.Telemetry.Rate,
		Burst:      s.cfg.Telemetry.Burst,
	}, s.registry, w, device.WithEvents(s.events), device.WithRates(s.typeRate))
	return nil
}

// typeRate is a device's type's telemetry rate, when the type sets one.
func (s *Server) typeRate(device string) (float64, int, bool) {
	typ, ok := s.registry.Type(device)
	if !ok || typ == "" || s.types == nil {
		return 0, 0, false
	}
	t, err := s.types.Get(typ)
	if err != nil || t.TelemetryRate == nil {
		return 0, 0, false
	}
	return t.TelemetryRate.SamplesPerSecond, t.TelemetryRate.Burst, true
}

// startDeviceTypes builds the catalogue and creates the built-in types
// this data directory was never offered: all of them on the first start,
// after an upgrade those the new release adds. One offered before is not
// created again, so what an operator changed or deleted stays so.
func (s *Server) startDeviceTypes(context.Context) error {
	s.types = device.NewDeviceTypes(s.store, s.registry.Type)
	// A type's or a device's change may change a device's telemetry rate.
	s.types.OnChange(func(string) { s.telemetry.RatesChanged() })
	s.registry.OnChange(func(string) { s.telemetry.RatesChanged() })
	created, err := s.types.SeedBuiltin()
	if err != nil {
		return err
	}
	if len(created) > 0 {
		s.logger.Info("built-in device types created", "types", created)
	}
	return nil
}

// startShadows builds the shadow service, which answers devices through the
// broker's outbound. Requests reach it only once the broker and the HTTP
// listener run, which start after it and stop before it.
func (s *Server) startShadows(context.Context) error {
	s.shadows = device.NewShadows(device.ShadowDeps{
		Store: s.store, Publisher: s.devicesOut, Events: s.events, Settings: s.types, Logger: s.logger.With("component", "shadows"),
	})
	return nil
}

func (s *Server) startDeviceEvents(context.Context) error {
	s.devEvents = device.NewDeviceEvents(s.events)
	return nil
}

// presenceFlushInterval is how often the presence of devices that changed
// is saved: a crash loses at most this much of it.
const presenceFlushInterval = 10 * time.Second

// startPresence restores the presence saved by the previous run, before the
// broker accepts connections, and saves what changes every
// presenceFlushInterval in one write, off the MQTT path. Its stop step runs
// after the broker's, so the final save holds every device's
// server_shutdown.
func (s *Server) startPresence(context.Context) error {
	recs, err := s.store.ListPresence()
	if err != nil {
		return err
	}
	p := device.NewPresence(s.events)
	p.Restore(recs)
	s.presence = p
	s.logger.Info("presence restored", "devices", len(recs))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(presenceFlushInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := p.Flush(s.store); err != nil {
				s.logger.Warn("presence not saved; retrying at the next flush", "error", err)
			}
		}
	}()
	s.onStop("presence", func(context.Context) error {
		cancel()
		<-done
		return p.Flush(s.store)
	})
	return nil
}

// startBroker builds the broker with everything it routes to, bound to the
// outbound the shadow service already publishes through, and starts it.
func (s *Server) startBroker(ctx context.Context) error {
	mqttTLS := s.tls.Clone()
	mqttTLS.ClientCAs = s.authority.Pool()
	mqttTLS.ClientAuth = tls.VerifyClientCertIfGiven
	b, err := broker.New(broker.Config{
		TLSAddr:           s.cfg.MQTT.Addr,
		TLS:               mqttTLS,
		PlainAddr:         s.cfg.MQTT.PlainAddr,
		MaxPayload:        s.cfg.MQTT.MaxPayload,
		MaxClients:        s.cfg.MQTT.MaxClients,
		ReceiveMaximum:    s.cfg.MQTT.ReceiveMaximum,
		ClientBufferBytes: s.cfg.MQTT.ClientBufferBytes,
	}, broker.Deps{
		Outbound:     s.out,
		Auth:         s.registry,
		Ingest:       s.telemetry,
		Shadows:      s.shadows,
		Presence:     s.presence,
		DeviceEvents: s.devEvents,
		Jobs:         s.jobs,
		OwnTopics:    s.ownTopics,
		Rules:        s.rules,
		Shed:         s.memory,
	}, s.logger.With("component", "broker"))
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return err
	}
	s.broker = b
	s.registry.OnChange(b.CredentialsChanged)
	s.onStop("broker", b.Stop)
	return nil
}

// startPolling starts direct polling of the devices that have a register
// map; a change of a device (deleted, say) makes it look again.
func (s *Server) startPolling(ctx context.Context) error {
	logger := s.logger.With("component", "poll")
	p, err := poll.New(poll.Deps{
		Maps: s.store, Telemetry: s.telemetry, Shadows: s.shadows, Presence: s.presence, Events: s.events, Logger: logger,
	})
	if err != nil {
		return err
	}
	if err := p.Start(ctx); err != nil {
		return err
	}
	s.poll = p
	s.registry.OnChange(p.Changed)
	s.onStop("polling", p.Stop)
	return nil
}

// startScheduler starts the operating calendars: each day's program pushed
// to the devices and verified; a push time missed while Hearth was stopped
// is caught up, and checks pending at the last stop resume.
func (s *Server) startScheduler(ctx context.Context) error {
	sch, err := scheduler.New(scheduler.Deps{
		Store: s.store, Devices: s.registry, Shadows: s.shadows, Presence: s.presence,
		Types: s.types, Bus: s.events, Logger: s.logger.With("component", "scheduler"),
	}, s.cfg.Schedule)
	if err != nil {
		return err
	}
	if err := sch.Start(ctx); err != nil {
		return err
	}
	s.scheduler = sch
	s.registry.OnChange(func(string) { sch.DevicesChanged() })
	s.onStop("scheduler", sch.Stop)
	return nil
}

// startArtifacts opens the files devices download: the uploads a stop
// cut short and content no artifact names are removed, and the key that
// signs download links is read (made on the first start). Links are made
// under the public URL once the HTTPS listener is bound.
func (s *Server) startArtifacts(context.Context) error {
	a, err := artifact.Open(s.cfg.DataDir, s.store, artifact.Options{
		MaxSize: s.cfg.ArtifactMaxSize,
		Logger:  s.logger.With("component", "artifacts"),
	})
	if err != nil {
		return err
	}
	s.artifacts = a
	return nil
}

// Artifacts is the artifact store of a started server: the files
// operators upload for devices to download, and the signed links devices
// download them through (SignedURL), for the parts that hand devices
// links, such as jobs.
func (s *Server) Artifacts() *artifact.Store { return s.artifacts }

// Store is the record store of a started server, for in-process tools and
// tests that inspect what Hearth recorded.
func (s *Server) Store() *store.Store { return s.store }
