package device

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/store"
)

// TypeStore keeps device types; *store.Store implements it.
type TypeStore interface {
	PutDeviceType(t store.DeviceType) (store.DeviceType, error)
	GetDeviceType(name string) (store.DeviceType, error)
	ListDeviceTypes() ([]store.DeviceType, error)
	DeleteDeviceType(name string) error
	SeedDeviceTypes(types []store.DeviceType) ([]string, error)
}

// DeviceTypes is the catalogue of device types and their settings. A type
// is stored only once its settings compile, and compiled schemas are kept
// in memory, so the shadow service checks an update without reading or
// compiling anything. It is safe for concurrent use.
//
// All writes to the types go through one DeviceTypes; a type changed in
// the file behind its back is not seen until the process restarts.
type DeviceTypes struct {
	st     TypeStore
	typeOf func(device string) (string, bool)

	mu sync.RWMutex
	// cache maps a type name to its compiled settings; a nil entry is a
	// type that is not defined, remembered as well.
	cache map[string]*settings.Schema
}

// NewDeviceTypes returns the catalogue over st. typeOf tells a device's
// type (Registry.Type), so SettingsOf needs no read of the store.
func NewDeviceTypes(st TypeStore, typeOf func(device string) (string, bool)) *DeviceTypes {
	return &DeviceTypes{st: st, typeOf: typeOf, cache: make(map[string]*settings.Schema)}
}

// Put creates or replaces a device type. Settings that do not compile are
// refused with an error wrapping store.ErrInvalid that names the setting and the
// problem; nothing is stored then.
func (t *DeviceTypes) Put(dt store.DeviceType) (store.DeviceType, error) {
	sch, err := settings.Compile(dt)
	if err != nil {
		return store.DeviceType{}, fmt.Errorf("device type %q: %w", dt.Name, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	stored, err := t.st.PutDeviceType(dt)
	if err != nil {
		return store.DeviceType{}, err
	}
	t.cache[dt.Name] = sch
	return stored, nil
}

// Get returns the device type name.
func (t *DeviceTypes) Get(name string) (store.DeviceType, error) { return t.st.GetDeviceType(name) }

// List returns every device type, sorted by name.
func (t *DeviceTypes) List() ([]store.DeviceType, error) { return t.st.ListDeviceTypes() }

// Delete removes a device type that no device names.
func (t *DeviceTypes) Delete(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.st.DeleteDeviceType(name); err != nil {
		return err
	}
	t.cache[name] = nil
	return nil
}

// Settings returns the compiled settings of a device type; nil when the
// type is not defined.
func (t *DeviceTypes) Settings(typ string) (*settings.Schema, error) {
	t.mu.RLock()
	sch, ok := t.cache[typ]
	t.mu.RUnlock()
	if ok {
		return sch, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if sch, ok := t.cache[typ]; ok {
		return sch, nil
	}
	dt, err := t.st.GetDeviceType(typ)
	switch {
	case errors.Is(err, store.ErrNotFound):
		t.cache[typ] = nil
		return nil, nil
	case err != nil:
		return nil, err
	}
	if sch, err = settings.Compile(dt); err != nil {
		return nil, fmt.Errorf("stored device type %q: %w", typ, err)
	}
	t.cache[typ] = sch
	return sch, nil
}

// SettingsOf returns the compiled settings of a device's type and the
// type's name; the schema is nil when the device has no type, its type is
// not defined, or the device does not exist.
func (t *DeviceTypes) SettingsOf(device string) (*settings.Schema, string, error) {
	typ, ok := t.typeOf(device)
	if !ok || typ == "" {
		return nil, typ, nil
	}
	sch, err := t.Settings(typ)
	return sch, typ, err
}
