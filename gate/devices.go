package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/store"
)

// DeviceView is a device with its connection state.
type DeviceView struct {
	store.Device
	Presence    device.PresenceInfo
	HasPresence bool // false when the server has no presence source
	// TelemetryRate is the device's telemetry rate and how many of its
	// messages it held back or refused since start; ShadowRate the same
	// for its shadow updates over MQTT. Each is nil when the server does
	// not limit that.
	TelemetryRate, ShadowRate *device.RateUse
}

func (s Scope) view(d store.Device) DeviceView {
	v := DeviceView{Device: d}
	if s.g.presence != nil {
		v.Presence, _ = s.g.presence.Get(d.Name)
		v.HasPresence = true
	}
	if s.g.telemetryRates != nil {
		u := s.g.telemetryRates.DeviceRate(d.Name)
		v.TelemetryRate = &u
	}
	if s.g.shadowRates != nil {
		u := s.g.shadowRates.DeviceRate(d.Name)
		v.ShadowRate = &u
	}
	return v
}

// deviceFor returns the device p may see under name: any device for an
// operator, only its own for a customer.
func (s Scope) deviceFor(name string) (store.Device, error) {
	if err := s.check(); err != nil {
		return store.Device{}, err
	}
	d, err := s.g.registry.Device(name)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.p.Operator() && d.Customer != s.p.Customer {
		return store.Device{}, NotFound("device")
	}
	if err != nil {
		return store.Device{}, err
	}
	return d, nil
}

// deviceFilter narrows a device listing to what p may see. A customer's
// filter is always its own customer; naming another finds nothing.
func (s Scope) deviceFilter(customer, site string) (store.DeviceFilter, error) {
	if err := s.check(); err != nil {
		return store.DeviceFilter{}, err
	}
	if s.p.Operator() {
		return store.DeviceFilter{Customer: customer, Site: site}, nil
	}
	if customer != "" && customer != s.p.Customer {
		return store.DeviceFilter{}, NotFound("customer")
	}
	return store.DeviceFilter{Customer: s.p.Customer, Site: site}, nil
}

// Devices returns the devices of a customer and site p may see; empty
// strings mean all of them.
func (s Scope) Devices(customer, site string) ([]DeviceView, error) {
	f, err := s.deviceFilter(customer, site)
	if err != nil {
		return nil, err
	}
	ds, err := s.g.registry.Devices(f)
	if err != nil {
		return nil, err
	}
	out := make([]DeviceView, len(ds))
	for i, d := range ds {
		out[i] = s.view(d)
	}
	return out, nil
}

// OnlineOnly keeps the devices whose connection state is online, or
// offline when online is false. Without a presence source the state is
// unknown, which is refused rather than answered with nothing.
func OnlineOnly(views []DeviceView, online bool) ([]DeviceView, error) {
	out := views[:0:0]
	for _, v := range views {
		if !v.HasPresence {
			return nil, Unavailable("connection state is not available")
		}
		if v.Presence.Online == online {
			out = append(out, v)
		}
	}
	return out, nil
}

// Device returns a device p may see; another customer's is not found.
func (s Scope) Device(name string) (DeviceView, error) {
	d, err := s.deviceFor(name)
	if err != nil {
		return DeviceView{}, err
	}
	return s.view(d), nil
}

// CreateDevice registers a device and issues its first credentials, which
// the answer carries this once. A customer or site that does not exist is
// a mistake in the request, not a missing record: the device is the thing
// being made.
func (s Scope) CreateDevice(spec device.DeviceSpec) (device.Issued, error) {
	if err := s.operatorOnly("creating devices"); err != nil {
		return device.Issued{}, err
	}
	switch {
	case spec.Name == "":
		return device.Issued{}, Invalid(`field "name": required; it is the device's MQTT client id`)
	case spec.Customer == "":
		return device.Issued{}, Invalid(`field "customer": required; the name of an existing customer`)
	}
	if _, err := s.g.store.GetCustomer(spec.Customer); err != nil {
		return device.Issued{}, missingReference("customer", spec.Customer, err)
	}
	if err := s.knownType(spec.Type); err != nil {
		return device.Issued{}, err
	}
	is, err := s.g.registry.CreateDevice(spec)
	if errors.Is(err, store.ErrNotFound) {
		return device.Issued{}, Invalid("%v", err)
	}
	return is, err
}

// UpdateDevice moves a device to another site of its customer, changes its
// type (whose settings then apply to its next shadow update) or replaces
// its attributes. A new type must be defined, as on creation; the type a
// device has is accepted as it is, so that a device of a type that was
// never defined (made before types were checked) can still be moved or
// given attributes.
func (s Scope) UpdateDevice(name string, change device.DeviceChange) (DeviceView, error) {
	cur, err := s.deviceFor(name)
	if err != nil {
		return DeviceView{}, err
	}
	if err := s.operatorOnly("changing devices"); err != nil {
		return DeviceView{}, err
	}
	if change.Type != nil && *change.Type != cur.Type {
		if err := s.knownType(*change.Type); err != nil {
			return DeviceView{}, err
		}
	}
	d, err := s.g.registry.UpdateDevice(name, change)
	if err != nil {
		if change.Site != nil {
			err = missingReference("site", *change.Site, err)
		}
		return DeviceView{}, err
	}
	return s.view(d), nil
}

// DeleteDevice deletes a device; its credentials stop working at once.
func (s Scope) DeleteDevice(name string) error {
	if _, err := s.deviceFor(name); err != nil {
		return err
	}
	if err := s.operatorOnly("deleting devices"); err != nil {
		return err
	}
	return s.g.registry.DeleteDevice(name)
}

// RotateCredentials revokes every active credential of a device and issues
// a new secret and certificate, which the answer carries this once.
func (s Scope) RotateCredentials(name string) (device.Issued, error) {
	if _, err := s.deviceFor(name); err != nil {
		return device.Issued{}, err
	}
	if err := s.operatorOnly("rotating credentials"); err != nil {
		return device.Issued{}, err
	}
	return s.g.registry.RotateCredentials(name)
}

// RevokeCredentials revokes one credential of a device, or every active
// one when credentialID is "".
func (s Scope) RevokeCredentials(name, credentialID string) (DeviceView, error) {
	if _, err := s.deviceFor(name); err != nil {
		return DeviceView{}, err
	}
	if err := s.operatorOnly("revoking credentials"); err != nil {
		return DeviceView{}, err
	}
	d, err := s.g.registry.RevokeCredentials(name, credentialID)
	if err != nil {
		return DeviceView{}, err
	}
	return s.view(d), nil
}

// ReportedFirmware is the firmware version a device p may see last
// reported in its classic shadow (reported "firmware", else
// "firmware_version"); "" when it reported none or the server has no
// shadows. Fleet pages show it beside the connection state, since a
// rollout is judged by both.
func (s Scope) ReportedFirmware(name string) (string, error) {
	if _, err := s.deviceFor(name); err != nil {
		return "", err
	}
	if s.g.shadows == nil {
		return "", nil
	}
	doc, err := s.g.shadows.Get(name, "")
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

// maxTypesNamed bounds the device types a refusal lists.
const maxTypesNamed = 20

// knownType refuses a device type that is not defined, naming the ones
// that are: a device of an undefined type would take any settings
// unchecked, and its customer could change none of them. No type ("") is
// accepted: a gateway or a device whose settings Hearth does not manage
// has none, as a thing in AWS IoT need not have a type, and choosing
// that is an explicit choice, not a typo.
func (s Scope) knownType(name string) error {
	if name == "" {
		return nil
	}
	if s.g.types == nil {
		return Unavailable("device types are not available on this server; leave the type empty")
	}
	_, err := s.g.types.Get(name)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	types, err := s.g.types.List()
	if err != nil {
		return err
	}
	if len(types) == 0 {
		return Invalid(`field "type": no device type named %q, and no device type is defined; define it first, or leave the type empty for a device whose settings are not checked`, name)
	}
	names := make([]string, 0, min(len(types), maxTypesNamed))
	for _, t := range types[:min(len(types), maxTypesNamed)] {
		names = append(names, t.Name)
	}
	list := strings.Join(names, ", ")
	if len(types) > maxTypesNamed {
		list += fmt.Sprintf(", … (%d in all)", len(types))
	}
	return Invalid(`field "type": no device type named %q; the device types are %s; define it first, or leave the type empty for a device whose settings are not checked`, name, list)
}
