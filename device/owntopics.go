package device

import (
	"log/slog"
	"slices"
	"sync"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// OwnTopics knows the topics device types declare for their devices
// (protocol's topic templates), expanded for each device, and which device
// may publish on each. The broker asks it for every publish outside a
// device's Hearth topics, so it answers from memory; it follows the
// registry and the device types as they change.
//
// A topic that two devices' templates expand to is neither's: both are
// refused there, and it is logged.
type OwnTopics struct {
	devices DeviceLister
	types   *DeviceTypes
	log     *slog.Logger

	mu       sync.RWMutex
	claims   map[string][]string // topic → devices whose templates give it
	byDevice map[string][]string // device → its topics
}

// DeviceLister lists and describes registered devices; *Registry
// implements it.
type DeviceLister interface {
	Summaries() []DeviceSummary
	Device(name string) (store.Device, error)
}

// NewOwnTopics builds the index; Load fills it.
func NewOwnTopics(devices DeviceLister, types *DeviceTypes, logger *slog.Logger) *OwnTopics {
	return &OwnTopics{devices: devices, types: types, log: logger, claims: map[string][]string{}, byDevice: map[string][]string{}}
}

// Load reads every device's topics.
func (o *OwnTopics) Load() error {
	all := o.devices.Summaries()
	types, err := o.types.List()
	if err != nil {
		return err
	}
	templates := map[string][]string{}
	for _, t := range types {
		templates[t.Name] = t.Topics
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.claims, o.byDevice = map[string][]string{}, map[string][]string{}
	for _, d := range all {
		if t := templates[d.Type]; len(t) > 0 {
			o.setLocked(d.Name, expand(store.Device{Name: d.Name, Customer: d.Customer, Site: d.Site, Type: d.Type}, t))
		}
	}
	return nil
}

func expand(d store.Device, templates []string) []string {
	var out []string
	for _, t := range templates {
		out = append(out, protocol.ExpandTopicTemplate(t, protocol.TopicVars{Name: d.Name, Site: d.Site, Customer: d.Customer, Type: d.Type}))
	}
	return out
}

// setLocked replaces a device's topics.
func (o *OwnTopics) setLocked(name string, topics []string) {
	for _, t := range o.byDevice[name] {
		c := slices.DeleteFunc(o.claims[t], func(n string) bool { return n == name })
		if len(c) == 0 {
			delete(o.claims, t)
		} else {
			o.claims[t] = c
		}
	}
	delete(o.byDevice, name)
	if len(topics) == 0 {
		return
	}
	o.byDevice[name] = topics
	for _, t := range topics {
		o.claims[t] = append(o.claims[t], name)
		if len(o.claims[t]) == 2 {
			o.log.Warn("two devices' topic templates give the same topic; neither may publish there", "topic", t, "devices", o.claims[t])
		}
	}
}

// DeviceChanged follows a device created, changed or deleted (a registry
// hook).
func (o *OwnTopics) DeviceChanged(name string) {
	var topics []string
	if d, err := o.devices.Device(name); err == nil {
		if t, err := o.types.Get(d.Type); err == nil {
			topics = expand(d, t.Topics)
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.setLocked(name, topics)
}

// TypeChanged follows a device type put or deleted (a DeviceTypes hook).
func (o *OwnTopics) TypeChanged(string) {
	if err := o.Load(); err != nil {
		o.log.Error("device topics not reloaded", "error", err)
	}
}

// Owner is the device that may publish on topic through its type's
// templates.
func (o *OwnTopics) Owner(topic string) (string, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	c := o.claims[topic]
	if len(c) != 1 {
		return "", false
	}
	return c[0], true
}

// Topics are a device's own topics from its type's templates.
func (o *OwnTopics) Topics(device string) []string {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return slices.Clone(o.byDevice[device])
}
