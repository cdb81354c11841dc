package gate

import (
	"errors"
	"time"

	"github.com/hearthiot/hearth/protocol/control"
	"github.com/hearthiot/hearth/store"
)

// StrategyRunner switches energy-saving strategies on and off;
// *strategy.Runner implements it.
type StrategyRunner interface {
	Set(st store.StrategySetting) error
	Delete(customer, site, strategy, device string) error
}

// StrategyStore reads the strategies' settings and what they changed;
// *store.Store implements it.
type StrategyStore interface {
	StrategySettings(customer, site string) ([]store.StrategySetting, error)
	StrategyChanges(customer, site, device string, before time.Time, limit int) ([]store.StrategyChange, error)
}

// MaxStrategyChanges bounds one listing of strategy changes.
const MaxStrategyChanges = 500

// SiteStrategy is one strategy of a site: whether the site runs it, and
// the devices that decide for themselves.
type SiteStrategy struct {
	Name      string           `json:"name"`
	Enabled   bool             `json:"enabled"`
	UpdatedAt time.Time        `json:"updated_at,omitzero"`
	UpdatedBy string           `json:"updated_by,omitempty"`
	Devices   []DeviceStrategy `json:"devices"`
}

// DeviceStrategy is a device's own setting of a strategy, which wins over
// its site's.
type DeviceStrategy struct {
	Device    string    `json:"device"`
	Enabled   bool      `json:"enabled"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

func (s Scope) strategies() (StrategyStore, StrategyRunner, error) {
	if err := s.check(); err != nil {
		return nil, nil, err
	}
	if s.g.strategyStore == nil || s.g.strategies == nil {
		return nil, nil, Unavailable("energy-saving strategies are not available on this server")
	}
	return s.g.strategyStore, s.g.strategies, nil
}

// SiteStrategies lists every strategy and how a site p may see runs it.
func (s Scope) SiteStrategies(customer, site string) ([]SiteStrategy, error) {
	ss, _, err := s.strategies()
	if err != nil {
		return nil, err
	}
	if _, err := s.Site(customer, site); err != nil {
		return nil, err
	}
	settings, err := ss.StrategySettings(customer, site)
	if err != nil {
		return nil, err
	}
	out := make([]SiteStrategy, 0, len(control.Names))
	for _, name := range control.Names {
		v := SiteStrategy{Name: name, Devices: []DeviceStrategy{}}
		for _, st := range settings {
			switch {
			case st.Strategy != name:
			case st.Device == "":
				v.Enabled, v.UpdatedAt, v.UpdatedBy = st.Enabled, st.UpdatedAt, st.UpdatedBy
			default:
				v.Devices = append(v.Devices, DeviceStrategy{Device: st.Device, Enabled: st.Enabled, UpdatedAt: st.UpdatedAt, UpdatedBy: st.UpdatedBy})
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// SetStrategy switches a strategy on or off for a site, or for one device
// of it when dev is set. Strategies write settings customers may not
// change themselves (an air handler's outdoor air), so switching them is
// for operators who may change settings.
func (s Scope) SetStrategy(customer, site, strategy, dev string, enabled bool) (store.StrategySetting, error) {
	_, run, err := s.strategies()
	if err != nil {
		return store.StrategySetting{}, err
	}
	if err := s.strategyTarget(customer, site, strategy, dev); err != nil {
		return store.StrategySetting{}, err
	}
	st := store.StrategySetting{Customer: customer, Site: site, Strategy: strategy, Device: dev, Enabled: enabled,
		UpdatedAt: s.g.now().UTC(), UpdatedBy: s.p.ActorName()}
	if err := run.Set(st); err != nil {
		return store.StrategySetting{}, err
	}
	return st, nil
}

// DeleteDeviceStrategy removes a device's own setting of a strategy: the
// device follows its site's again.
func (s Scope) DeleteDeviceStrategy(customer, site, strategy, dev string) error {
	_, run, err := s.strategies()
	if err != nil {
		return err
	}
	if dev == "" {
		return Invalid("name a device: a site's setting is switched off, not removed")
	}
	if err := s.strategyTarget(customer, site, strategy, dev); err != nil {
		return err
	}
	err = run.Delete(customer, site, strategy, dev)
	if errors.Is(err, store.ErrNotFound) {
		return NotFound("device's strategy setting")
	}
	return err
}

// strategyTarget checks that p may switch strategy for the site (and the
// device of it).
func (s Scope) strategyTarget(customer, site, strategy, dev string) error {
	if _, err := s.Site(customer, site); err != nil {
		return err
	}
	if dev != "" {
		d, err := s.deviceFor(dev)
		if err != nil {
			return err
		}
		if d.Customer != customer || d.Site != site {
			return NotFound("device")
		}
	}
	if err := s.operatorOnly("switching energy-saving strategies"); err != nil {
		return err
	}
	if !s.p.MayChangeSettings() {
		return Forbidden("switching energy-saving strategies needs an access level that may change settings")
	}
	if !control.Known(strategy) {
		return NotFound("strategy")
	}
	return nil
}

// SiteStrategyChanges lists what the strategies changed on a site's
// devices, newest first: of one device when dev is set, before a time
// when before is set, at most limit (1 to MaxStrategyChanges).
func (s Scope) SiteStrategyChanges(customer, site, dev string, before time.Time, limit int) ([]store.StrategyChange, error) {
	ss, _, err := s.strategies()
	if err != nil {
		return nil, err
	}
	if _, err := s.Site(customer, site); err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxStrategyChanges {
		return nil, Invalid("limit %d: use 1 to %d", limit, MaxStrategyChanges)
	}
	return ss.StrategyChanges(customer, site, dev, before, limit)
}

// DeviceStrategyChanges lists what the strategies changed on a device p
// may see, newest first.
func (s Scope) DeviceStrategyChanges(name string, before time.Time, limit int) ([]store.StrategyChange, error) {
	ss, _, err := s.strategies()
	if err != nil {
		return nil, err
	}
	d, err := s.deviceFor(name)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxStrategyChanges {
		return nil, Invalid("limit %d: use 1 to %d", limit, MaxStrategyChanges)
	}
	return ss.StrategyChanges(d.Customer, d.Site, d.Name, before, limit)
}
