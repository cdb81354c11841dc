package server

import (
	"context"

	"github.com/hearthiot/hearth/alarm"
	"github.com/hearthiot/hearth/store"
)

// startAlarms runs the alarm engine: the rules and the alarms that stand
// loaded, every device the registry knows watched from the start, so that
// an offline or stale-data rule covers a device that never sends again.
func (s *Server) startAlarms(ctx context.Context) error {
	e, err := alarm.New(alarm.Deps{
		Store: s.store, Devices: s.registry, Presence: s.presence, Bus: s.events,
		Metrics: func(typ string) []string {
			t, err := s.types.Get(typ)
			if err != nil {
				return nil
			}
			return t.MetricNames()
		},
		Logger: s.logger.With("component", "alarm"),
	}, s.cfg.Alarms)
	if err != nil {
		return err
	}
	if err := e.Start(ctx); err != nil {
		return err
	}
	if ds, err := s.registry.Devices(store.DeviceFilter{}); err == nil {
		names := make([]string, 0, len(ds))
		for _, d := range ds {
			names = append(names, d.Name)
		}
		e.Watch(names)
	} else {
		s.logger.Warn("alarms watch only the devices heard from", "error", err)
	}
	s.alarms = e
	s.onStop("alarms", e.Stop)
	return nil
}
