package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/jobs/artifact"
	"github.com/hearthiot/hearth/web/api"
)

func (s *Server) startHTTP(context.Context) error {
	loc, err := time.LoadLocation(s.cfg.Web.TimeZone)
	if err != nil {
		return fmt.Errorf("time zone %q: %w", s.cfg.Web.TimeZone, err)
	}
	var remote gate.RemoteWrite // nil unless configured: the page then shows nothing of it
	if s.remote != nil {
		remote = remoteWriteStatus{s.remote}
	}
	g, err := gate.New(gate.Deps{
		Zone:                 loc,
		Store:                s.store,
		Registry:             s.registry,
		Telemetry:            telemetryReader{s.tsdb},
		Energy:               energyReader{s.tsdb},
		Shadows:              s.shadows,
		Presence:             s.presence,
		TelemetryRates:       s.telemetry,
		ShadowRates:          s.shadows,
		Types:                s.types,
		Maps:                 MapChecker{},
		Polling:              s.poll,
		Calendars:            s.store,
		Scheduler:            s.scheduler,
		AlarmStore:           s.store,
		Alarms:               s.alarms,
		Channels:             s.store,
		Notifier:             s.notify,
		Mailer:               s.notify,
		Backups:              GateBackups{s.backups},
		RemoteWrite:          remote,
		JobStore:             s.store,
		Jobs:                 s.jobs,
		RuleStore:            s.store,
		Rules:                s.rules,
		Artifacts:            s.artifacts,
		StrategyStore:        s.store,
		Strategies:           s.strategies,
		FixedSSO:             s.cfg.fixedSSO(),
		GroupsOperator:       s.cfg.Web.SSO.GroupsOperator,
		GroupsCustomerPrefix: s.cfg.Web.SSO.GroupsCustomerPrefix,
		Logger:               s.logger.With("component", "gate"),
	})
	if err != nil {
		return err
	}
	s.gate = g
	s.api = api.New(g, api.Config{Location: loc, Logger: s.logger.With("component", "api")})
	s.feeds = s.api.FeedHandler()
	// The listener is bound first: the pages tell people its port.
	ln, err := net.Listen("tcp", s.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", s.cfg.HTTP.Addr, err)
	}
	s.httpLn = ln
	s.notifyListening()
	// Devices reach the download links where browsers reach the pages.
	if err := s.artifacts.SetBaseURL(s.endpoints().PublicURL); err != nil {
		ln.Close()
		return err
	}
	pages, err := s.newUI(s.endpoints())
	if err != nil {
		ln.Close()
		return err
	}
	s.ui = pages
	s.http = &http.Server{
		Handler:           s.routes(),
		TLSConfig:         s.tls.Clone(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slogErrorLog(s.logger.With("component", "http")),
	}
	// ServeTLS, unlike Serve over a TLS listener, offers HTTP/2 ("h2")
	// beside HTTP/1.1 in the handshake.
	go func() {
		if err := s.http.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("https server failed", "error", err)
		}
	}()
	s.onStop("http", s.http.Shutdown)
	// Stops run last-added first: the pages' live streams end before the
	// graceful shutdown, which would otherwise wait for them.
	s.onStop("live pages", func(context.Context) error { pages.Close(); return nil })
	return nil
}

// HTTPAddr is the address the HTTPS listener is bound to.
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// MQTTAddrs are the addresses the MQTT listeners are bound to; plain is nil
// when the plain listener is off.
func (s *Server) MQTTAddrs() (tlsAddr, plain net.Addr) { return s.broker.Addrs() }

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(securityHeaders)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/metrics", s.metrics)
	r.Get("/status", s.status)
	api := s.api.Handler()
	r.Handle("/api/*", api)
	r.Handle("/prometheus/*", api)
	r.Handle("/ical/*", s.feeds)
	// Download links carry their own signature: no token, no session.
	r.Handle(artifact.PathPrefix+"*", s.artifacts.Handler())
	r.Handle("/*", s.ui.Handler())
	return r
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// healthz answers while the process is alive and serving HTTP.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 once every component has started and until stopping
// begins, 503 otherwise.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting or stopping"})
		return
	}
	out := map[string]any{"status": "ready"}
	if s.disk != nil && s.disk.floor > 0 {
		telemetry := "accepted"
		if s.disk.low.Load() {
			telemetry = "refused: the disk is below its free-space floor"
		}
		out["disk"] = map[string]any{"free_bytes": s.disk.free.Load(), "floor_bytes": s.disk.floor, "telemetry": telemetry}
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
