package server

import (
	"context"

	"github.com/hearthiot/hearth/strategy"
)

// startStrategies starts the energy-saving strategies: the runner reads
// which sites and devices run them and watches telemetry from the bus,
// writing through the shadow service.
func (s *Server) startStrategies(ctx context.Context) error {
	r, err := strategy.New(strategy.Deps{
		Store: s.store, Devices: s.registry, Types: s.types, Shadows: s.shadows,
		Calendars: s.scheduler, Bus: s.events, Logger: s.logger.With("component", "strategy"),
	}, s.cfg.Strategies)
	if err != nil {
		return err
	}
	if err := r.Start(ctx); err != nil {
		return err
	}
	s.strategies = r
	s.onStop("strategies", r.Stop)
	return nil
}
