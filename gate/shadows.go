package gate

import (
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/store"
)

// shadowService is the shadow service, or why there is none.
func (s Scope) shadowService() (Shadows, error) {
	if s.g.shadows == nil {
		return nil, Unavailable("device shadows are not available on this server")
	}
	return s.g.shadows, nil
}

// Shadow returns the classic (name "") or a named shadow of a device p may
// see, with the reported values that break its type's settings. A failed
// check leaves the violations out: the document is still worth showing.
func (s Scope) Shadow(name, shadowName string) (shadow.Document, []settings.Violation, error) {
	if _, err := s.deviceFor(name); err != nil {
		return shadow.Document{}, nil, err
	}
	svc, err := s.shadowService()
	if err != nil {
		return shadow.Document{}, nil, err
	}
	doc, err := svc.Get(name, shadowName)
	if err != nil {
		return shadow.Document{}, nil, err
	}
	vs, err := svc.Violations(name, shadowName, doc)
	if err != nil {
		s.g.logger.Warn("cannot check shadow against settings", "device", name, "shadow", shadowName, "error", err)
	}
	return doc, vs, nil
}

// UpdateShadow applies an AWS update document to a shadow of a device p
// may see, recorded with p as the actor. Operators may change anything; a
// customer only the desired values the device type's settings mark
// customer-editable, within their rules; a viewer nothing. The answer is
// the update/accepted document.
func (s Scope) UpdateShadow(name, shadowName string, body []byte) ([]byte, error) {
	if _, err := s.deviceFor(name); err != nil {
		return nil, err
	}
	if !s.p.MayChangeSettings() {
		return nil, Forbidden("viewers may read settings but not change them")
	}
	svc, err := s.shadowService()
	if err != nil {
		return nil, err
	}
	return svc.Update(name, shadowName, body, s.p.actor(), s.g.now())
}

// DeleteShadow deletes a shadow of a device; operators only. The answer is
// the delete/accepted document.
func (s Scope) DeleteShadow(name, shadowName string) ([]byte, error) {
	if _, err := s.deviceFor(name); err != nil {
		return nil, err
	}
	if err := s.operatorOnly("deleting shadows"); err != nil {
		return nil, err
	}
	svc, err := s.shadowService()
	if err != nil {
		return nil, err
	}
	return svc.Delete(name, shadowName, s.p.actor(), s.g.now())
}

// History returns the shadow history of a device p may see, newest first;
// q.Device is set from name. History is kept by device name and outlives a
// deleted device, so a customer sees only what happened since this device
// was registered, never what an earlier device of the same name (perhaps
// another customer's) recorded.
func (s Scope) History(name string, q store.HistoryQuery) ([]store.HistoryEntry, string, error) {
	d, err := s.deviceFor(name)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.shadowService(); err != nil {
		return nil, "", err
	}
	q.Device = d.Name
	if !s.p.Operator() && q.From.Before(d.CreatedAt) {
		q.From = d.CreatedAt
	}
	if !q.To.IsZero() && !q.To.After(q.From) {
		return nil, "", nil
	}
	return s.g.store.History(q)
}

// FleetHistory returns the shadow history of the whole fleet, newest first,
// or of one device when q.Device is set; operators only. History is kept by
// device name and outlives a deleted device, so an operator can still read
// what happened to it.
func (s Scope) FleetHistory(q store.HistoryQuery) ([]store.HistoryEntry, string, error) {
	if err := s.operatorOnly("the fleet's history"); err != nil {
		return nil, "", err
	}
	if !q.To.IsZero() && !q.To.After(q.From) {
		return nil, "", Invalid("the time range must start before it ends")
	}
	return s.g.store.History(q)
}

// Settings returns the settings that apply to a device p may see, and its
// type's name; nil when none apply or the server has no device types.
func (s Scope) Settings(name string) (*settings.Schema, string, error) {
	if _, err := s.deviceFor(name); err != nil {
		return nil, "", err
	}
	if s.g.types == nil {
		return nil, "", nil
	}
	return s.g.types.SettingsOf(name)
}
