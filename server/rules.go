package server

import (
	"context"
	"fmt"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/rules"
	"github.com/hearthiot/hearth/store"
)

// startMessageRules builds what lets devices keep topics and payloads of
// their own, before the broker routes to it: the index of the topics
// their types declare, following the registry and the types, and the
// message rules that map what arrives there.
func (s *Server) startMessageRules(context.Context) error {
	own := device.NewOwnTopics(s.registry, s.types, s.logger.With("component", "device topics"))
	if err := own.Load(); err != nil {
		return err
	}
	s.registry.OnChange(own.DeviceChanged)
	s.types.OnChange(own.TypeChanged)
	s.ownTopics = own
	engine, err := rules.New(rules.Deps{
		Store: s.store, Devices: s.registry, Telemetry: s.telemetry, Shadows: s.shadows, Publisher: s.out,
		Events: s.devEvents, Webhooks: ruleWebhooks{s}, Logger: s.logger.With("component", "rules"),
	})
	if err != nil {
		return err
	}
	if err := engine.Load(); err != nil {
		return err
	}
	s.rules = engine
	return nil
}

// ruleWebhooks sends rules' results through the notification service,
// which starts after the broker.
type ruleWebhooks struct{ s *Server }

func (w ruleWebhooks) SendRuleResult(ctx context.Context, r store.MessageRule, dev store.Device, channels []string, data map[string]any, at time.Time) error {
	if w.s.notify == nil {
		return fmt.Errorf("notifications are not running")
	}
	return w.s.notify.Enqueue(ctx, notify.Message{
		Key: fmt.Sprintf("rule-%s-%s-%d", r.ID, dev.Name, at.UnixNano()), Customer: dev.Customer, Site: dev.Site, Device: dev.Name,
		Rule: r.Name, State: notify.StateRule, Title: r.Name + ": " + dev.Name, Time: at, Data: data, Channels: channels,
	})
}
