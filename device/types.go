package device

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/protocol"
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
	// hooks are told the name of a type that was put or deleted.
	hooks []func(typ string)
}

// OnChange registers fn to be told, after the write, of every type put or
// deleted; it runs outside the catalogue's lock.
func (t *DeviceTypes) OnChange(fn func(typ string)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hooks = append(t.hooks, fn)
}

func (t *DeviceTypes) changed(typ string) {
	t.mu.RLock()
	hooks := slices.Clone(t.hooks)
	t.mu.RUnlock()
	for _, fn := range hooks {
		fn(typ)
	}
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
	for _, tp := range dt.Topics {
		if err := protocol.CheckTopicTemplate(tp); err != nil {
			return store.DeviceType{}, fmt.Errorf("device type %q: %w: %w", dt.Name, err, ErrInvalid)
		}
	}
	stored, err := t.put(dt, sch)
	if err != nil {
		return store.DeviceType{}, err
	}
	t.changed(dt.Name)
	return stored, nil
}

func (t *DeviceTypes) put(dt store.DeviceType, sch *settings.Schema) (store.DeviceType, error) {
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
	if err := t.st.DeleteDeviceType(name); err != nil {
		t.mu.Unlock()
		return err
	}
	t.cache[name] = nil
	t.mu.Unlock()
	t.changed(name)
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
