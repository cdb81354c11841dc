package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/store"
)

// This file holds the operators' changes to the fleet for Go callers (the
// operator pages): customers, sites, devices and their credentials. Each
// refuses a principal that is not an operator, as the REST routes do with
// requireOperator, and goes to the same registry and store, so a page and
// a REST request obey the same rules and give the same messages.

// customerRemover deletes customers and sites; *store.Store implements it.
// Deps does not require it because the REST API has no such routes; a
// store without it makes these deletes answer 503.
type customerRemover interface {
	DeleteCustomer(name string) error
	DeleteSite(customer, name string) error
}

// operatorOnly refuses principals that are not operators; what names the
// action for the message.
func (s Scope) operatorOnly(what string) error {
	if err := s.check(); err != nil {
		return err
	}
	if !s.p.operator() {
		return forbidden(what + " is for operators")
	}
	return nil
}

// CreateCustomer stores a new customer, with its default site, and returns
// it as stored.
func (s Scope) CreateCustomer(name, displayName string) (store.Customer, error) {
	if err := s.operatorOnly("creating customers"); err != nil {
		return store.Customer{}, err
	}
	return s.a.registry.CreateCustomer(store.Customer{Name: name, DisplayName: displayName, CreatedAt: s.a.now().UTC()})
}

// DeleteCustomer deletes a customer and its sites. The store refuses, with
// a message saying why, while devices, users or API tokens belong to it.
func (s Scope) DeleteCustomer(name string) error {
	if err := s.operatorOnly("deleting customers"); err != nil {
		return err
	}
	rm, ok := s.a.store.(customerRemover)
	if !ok {
		return unavailable("deleting customers is not available on this server")
	}
	return rm.DeleteCustomer(name)
}

// CreateSite stores a new site of an existing customer and returns it as
// stored.
func (s Scope) CreateSite(customer, name, displayName string) (store.Site, error) {
	if err := s.operatorOnly("creating sites"); err != nil {
		return store.Site{}, err
	}
	return s.a.registry.CreateSite(store.Site{Customer: customer, Name: name, DisplayName: displayName, CreatedAt: s.a.now().UTC()})
}

// DeleteSite deletes a site. The store refuses while the site has devices,
// and for the customer's default site.
func (s Scope) DeleteSite(customer, name string) error {
	if err := s.operatorOnly("deleting sites"); err != nil {
		return err
	}
	rm, ok := s.a.store.(customerRemover)
	if !ok {
		return unavailable("deleting sites is not available on this server")
	}
	return rm.DeleteSite(customer, name)
}

// CreateDevice registers a device and issues its first credentials, which
// the answer carries this once. A customer or site that does not exist is
// a mistake in the request (400), not a missing record: the device is the
// thing being made.
func (s Scope) CreateDevice(spec device.DeviceSpec) (device.Issued, error) {
	if err := s.operatorOnly("creating devices"); err != nil {
		return device.Issued{}, err
	}
	is, err := s.a.registry.CreateDevice(spec)
	if errors.Is(err, store.ErrNotFound) {
		return device.Issued{}, invalid("%v", err)
	}
	return is, err
}

// RotateCredentials revokes every active credential of a device and issues
// a new secret and certificate, which the answer carries this once.
func (s Scope) RotateCredentials(name string) (device.Issued, error) {
	if err := s.operatorOnly("rotating credentials"); err != nil {
		return device.Issued{}, err
	}
	if _, err := s.a.deviceFor(s.p, name); err != nil {
		return device.Issued{}, err
	}
	return s.a.registry.RotateCredentials(name)
}

// RevokeCredentials revokes one credential of a device, or every active
// one when credentialID is "".
func (s Scope) RevokeCredentials(name, credentialID string) (DeviceView, error) {
	if err := s.operatorOnly("revoking credentials"); err != nil {
		return DeviceView{}, err
	}
	if _, err := s.a.deviceFor(s.p, name); err != nil {
		return DeviceView{}, err
	}
	d, err := s.a.registry.RevokeCredentials(name, credentialID)
	if err != nil {
		return DeviceView{}, err
	}
	return s.view(d), nil
}

// DeleteDevice deletes a device; its credentials stop working at once.
func (s Scope) DeleteDevice(name string) error {
	if err := s.operatorOnly("deleting devices"); err != nil {
		return err
	}
	if _, err := s.a.deviceFor(s.p, name); err != nil {
		return err
	}
	return s.a.registry.DeleteDevice(name)
}

// ReportedFirmware is the firmware version a device p may see last
// reported in its classic shadow (reported "firmware", else
// "firmware_version"); "" when it reported none or the server has no
// shadows. Fleet pages show it beside the connection state, since a
// rollout is judged by both.
func (s Scope) ReportedFirmware(name string) (string, error) {
	if _, err := s.Device(name); err != nil {
		return "", err
	}
	if s.a.shadows == nil {
		return "", nil
	}
	doc, err := s.a.shadows.Get(name, "")
	var se *shadow.Error
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, key := range [...]string{"firmware", "firmware_version"} {
		switch v := doc.State.Reported[key].(type) {
		case string:
			if v != "" {
				return v, nil
			}
		case json.Number:
			return v.String(), nil
		}
	}
	return "", nil
}
