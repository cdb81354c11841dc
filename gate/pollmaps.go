package gate

import (
	"context"
	"errors"
	"time"

	"github.com/hearthiot/hearth/store"
)

// PollMapResult is what storing a register map did.
type PollMapResult struct {
	Device    string
	Source    string // "tcp host:port"
	Points    int
	Polled    bool // the poller took the new map
	UpdatedAt time.Time
}

// pollMaps checks access to a device's register map: the device must be
// visible, the principal an operator, and the server able to check maps.
func (s Scope) pollMaps(name string) (MapChecker, error) {
	if _, err := s.deviceFor(name); err != nil {
		return nil, err
	}
	if err := s.operatorOnly("register maps"); err != nil {
		return nil, err
	}
	if s.g.maps == nil {
		return nil, Unavailable("register maps are not available on this server")
	}
	return s.g.maps, nil
}

// PollMap returns the register map of a device, as it was written;
// operators only.
func (s Scope) PollMap(name string) (store.PollMap, error) {
	if _, err := s.pollMaps(name); err != nil {
		return store.PollMap{}, err
	}
	pm, err := s.g.store.GetPollMap(name)
	if errors.Is(err, store.ErrNotFound) {
		return store.PollMap{}, NotFound("register map")
	}
	return pm, err
}

// PutPollMap makes Hearth poll the device's Modbus TCP equipment itself
// with the register map text (YAML), and says whether the map is new. The
// map is checked whole first: a refusal names each problem with its line,
// and nothing is stored.
func (s Scope) PutPollMap(ctx context.Context, name, text string) (PollMapResult, bool, error) {
	maps, err := s.pollMaps(name)
	if err != nil {
		return PollMapResult{}, false, err
	}
	m, err := maps.CheckMap(name, text)
	if err != nil {
		return PollMapResult{}, false, err
	}
	pm, created, err := s.g.store.PutPollMap(name, text)
	if err != nil {
		return PollMapResult{}, false, err
	}
	out := PollMapResult{Device: name, Source: m.Source, Points: m.Points, UpdatedAt: pm.UpdatedAt}
	if s.g.polling != nil {
		if err := s.g.polling.Reload(ctx, name); err != nil {
			s.g.logger.Error("cannot start polling", "device", name, "error", err)
		} else {
			out.Polled = true
		}
	}
	return out, created, nil
}

// DeletePollMap stops polling the device and forgets its register map.
func (s Scope) DeletePollMap(ctx context.Context, name string) error {
	if _, err := s.pollMaps(name); err != nil {
		return err
	}
	err := s.g.store.DeletePollMap(name)
	if errors.Is(err, store.ErrNotFound) {
		return NotFound("register map")
	}
	if err != nil {
		return err
	}
	if s.g.polling != nil {
		if err := s.g.polling.Reload(ctx, name); err != nil {
			s.g.logger.Error("cannot stop polling", "device", name, "error", err)
		}
	}
	return nil
}
