package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hearthiot/hearth/store"
)

// deviceTypes is the device type catalogue for an operator, or why there
// is none.
func (s Scope) deviceTypes(what string) (DeviceTypes, error) {
	if err := s.operatorOnly(what); err != nil {
		return nil, err
	}
	if s.g.types == nil {
		return nil, Unavailable("device types are not available on this server")
	}
	return s.g.types, nil
}

// DeviceTypes returns every device type, sorted by name.
func (s Scope) DeviceTypes() ([]store.DeviceType, error) {
	types, err := s.deviceTypes("reading device types")
	if err != nil {
		return nil, err
	}
	return types.List()
}

// DeviceType returns one device type.
func (s Scope) DeviceType(name string) (store.DeviceType, error) {
	types, err := s.deviceTypes("reading device types")
	if err != nil {
		return store.DeviceType{}, err
	}
	return types.Get(name)
}

// CreateDeviceType stores a device type that does not exist yet (exists
// when it does), so that creating cannot silently replace another's
// settings.
func (s Scope) CreateDeviceType(t store.DeviceType) (store.DeviceType, error) {
	types, err := s.deviceTypes("creating device types")
	if err != nil {
		return store.DeviceType{}, err
	}
	if t.Name != "" {
		_, err := types.Get(t.Name)
		if err == nil {
			return store.DeviceType{}, fmt.Errorf("device type %q: %w", t.Name, store.ErrExists)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.DeviceType{}, err
		}
	}
	return types.Put(t)
}

// UpdateDeviceType replaces the description and settings of an existing
// device type (not found when it does not exist). Settings that do not
// compile are refused naming the setting and the problem; nothing is
// stored then. They take effect for the next update of every device of the
// type.
func (s Scope) UpdateDeviceType(t store.DeviceType) (store.DeviceType, error) {
	types, err := s.deviceTypes("changing device types")
	if err != nil {
		return store.DeviceType{}, err
	}
	if _, err := types.Get(t.Name); err != nil {
		return store.DeviceType{}, err
	}
	return types.Put(t)
}

// PutDeviceType creates the type or replaces its description and
// settings, and says which it did. Settings are required: an empty list
// for a type whose devices take none.
func (s Scope) PutDeviceType(t store.DeviceType) (store.DeviceType, bool, error) {
	types, err := s.deviceTypes("changing device types")
	if err != nil {
		return store.DeviceType{}, false, err
	}
	if t.Settings == nil {
		return store.DeviceType{}, false, Invalid(`field "settings": required; a list of settings, empty for a type whose devices take none`)
	}
	created := false
	if _, err := types.Get(t.Name); errors.Is(err, store.ErrNotFound) {
		created = true
	} else if err != nil {
		return store.DeviceType{}, false, err
	}
	out, err := types.Put(t)
	return out, created, err
}

// DeleteDeviceType deletes a device type; it is refused while devices are
// of the type.
func (s Scope) DeleteDeviceType(name string) error {
	types, err := s.deviceTypes("deleting device types")
	if err != nil {
		return err
	}
	return types.Delete(name)
}

// ParseSettings reads a device type's settings as JSON: the "settings"
// array of the REST API's device type, as an operator types it into the
// device type form. Unknown fields, a wrong JSON type and trailing data
// are refused with a message that says where and what is accepted; what
// the settings mean is the device types' to check.
func ParseSettings(b []byte) ([]store.Setting, error) {
	const empty = `settings: a JSON array of settings is expected, [] for a type whose devices take none`
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, Invalid(empty)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var out []store.Setting
	var typ *json.UnmarshalTypeError
	if err := dec.Decode(&out); errors.As(err, &typ) && typ.Field == "" {
		return nil, Invalid("settings: a JSON array of settings is expected, got %s", typ.Value)
	} else if err != nil {
		return nil, JSONError(err, &out, "settings")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Invalid("settings: unexpected data after the JSON array")
	}
	if out == nil {
		return nil, Invalid(empty)
	}
	return out, nil
}

// ParseMetrics reads a device type's metrics as JSON: the "metrics" array
// of the REST API's device type, as an operator types it into the device
// type form. Empty is no metrics. Unknown fields, a wrong JSON type and
// trailing data are refused with a message that says where and what is
// accepted.
func ParseMetrics(b []byte) ([]store.Metric, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var out []store.Metric
	var typ *json.UnmarshalTypeError
	if err := dec.Decode(&out); errors.As(err, &typ) && typ.Field == "" {
		return nil, Invalid("metrics: a JSON array of metrics is expected, got %s", typ.Value)
	} else if err != nil {
		return nil, JSONError(err, &out, "metrics")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Invalid("metrics: unexpected data after the JSON array")
	}
	return out, nil
}
