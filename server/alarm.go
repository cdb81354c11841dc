package server

import (
	"context"
	"fmt"

	"github.com/hearthiot/hearth/alarm"
	"github.com/hearthiot/hearth/notify"
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
		Notifier: alarmNotifier{s},
		Logger:   s.logger.With("component", "alarm"),
	}, s.cfg.Alarms)
	if err != nil {
		return err
	}
	if err := e.Start(ctx); err != nil {
		return err
	}
	ds := s.registry.Summaries()
	names := make([]string, 0, len(ds))
	for _, d := range ds {
		names = append(names, d.Name)
	}
	e.Watch(names)
	s.alarms = e
	s.onStop("alarms", e.Stop)
	return nil
}

// alarmNotifier hands each alarm that becomes active or clears to the
// notification service, for the channels its rule names.
type alarmNotifier struct{ s *Server }

// Notify queues the message of an alarm's change. Its key is the alarm's
// and the change's, counted, so a repeat of the same change is never sent
// twice while a new activation after a clear is; its group is the site's
// and the rule's, so a site's storm is one message a channel.
func (n alarmNotifier) Notify(ctx context.Context, a store.Alarm, r store.AlarmRule, change string) error {
	if n.s.notify == nil {
		return nil
	}
	state, at := notify.StateActive, a.LastAt
	if change == store.AlarmClearedBy {
		state, at = notify.StateCleared, a.ClearedAt
	}
	data := make(map[string]any, len(a.Fields)+3)
	for k, v := range a.Fields {
		data[k] = v
	}
	if r.Kind == alarm.KindOffline {
		data[notify.DataOffline] = true
	}
	if site, err := n.s.store.GetSite(a.Customer, a.Site); err == nil && site.DisplayName != "" {
		data[notify.DataSiteName] = site.DisplayName
	}
	if r.Kind == alarm.KindTelemetry && len(a.Fields) == 1 {
		for k, v := range a.Fields { // the one value that raised it, with its unit
			data[notify.DataValue] = v
			if t, err := n.s.types.Get(a.DeviceType); err == nil {
				for _, m := range t.Metrics {
					if m.Name == k {
						data[notify.DataUnit] = m.Unit
					}
				}
			}
		}
	}
	return n.s.notify.Enqueue(ctx, notify.Message{
		Key:      fmt.Sprintf("alarm:%s:%s:%d", a.ID, state, a.Count),
		Customer: a.Customer, Site: a.Site, Device: a.Device, Rule: r.Name, Severity: a.Severity, State: state,
		Title: r.Name + ": " + a.Device, Text: a.Message, Time: at, Data: data, Channels: r.Channels,
		Group: a.Customer + "/" + a.Site + "/" + r.ID,
	})
}
