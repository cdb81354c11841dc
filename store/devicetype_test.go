package store_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hearthiot/hearth/store"
)

func setpoint() store.Setting {
	lo, hi := 5.0, 12.0
	return store.Setting{Key: "chw_setpoint", Type: store.SettingNumber, Unit: "°C", Minimum: &lo, Maximum: &hi, CustomerEditable: true}
}

func TestDeviceTypes(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	first, err := s.PutDeviceType(store.DeviceType{Name: "chiller", Description: "Absorption chiller", Settings: []store.Setting{setpoint()}})
	mustOK(t, err)
	if first.CreatedAt.IsZero() || !first.UpdatedAt.Equal(first.CreatedAt) {
		t.Errorf("created %v, updated %v: want both set and equal", first.CreatedAt, first.UpdatedAt)
	}
	mode := store.Setting{Key: "mode", Type: store.SettingString, Enum: []json.RawMessage{json.RawMessage(`"cooling"`), json.RawMessage(`"off"`)}}
	second, err := s.PutDeviceType(store.DeviceType{Name: "chiller", Settings: []store.Setting{setpoint(), mode}})
	mustOK(t, err)
	if !second.CreatedAt.Equal(first.CreatedAt) || second.UpdatedAt.Before(first.UpdatedAt) {
		t.Errorf("replace: created %v (was %v), updated %v", second.CreatedAt, first.CreatedAt, second.UpdatedAt)
	}
	got, err := s.GetDeviceType("chiller")
	mustOK(t, err)
	if diff := cmp.Diff(second, got); diff != "" {
		t.Errorf("GetDeviceType (-want +got):\n%s", diff)
	}
	_, err = s.PutDeviceType(store.DeviceType{Name: "boiler", Settings: nil})
	mustOK(t, err)
	list, err := s.ListDeviceTypes()
	mustOK(t, err)
	if len(list) != 2 || list[0].Name != "boiler" || list[1].Name != "chiller" {
		t.Errorf("ListDeviceTypes = %+v, want boiler and chiller", list)
	}

	// A type devices name stays until they are gone.
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "ch-1", Customer: "acme", Site: store.DefaultSite, Type: "chiller"}))
	if err := s.DeleteDeviceType("chiller"); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "1 devices are of this type") {
		t.Errorf("DeleteDeviceType in use = %v, want ErrInvalid naming the count", err)
	}
	mustOK(t, s.DeleteDevice("ch-1"))
	mustOK(t, s.DeleteDeviceType("chiller"))
	if _, err := s.GetDeviceType("chiller"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDeviceType after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteDeviceType("chiller"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
}

func TestDeviceTypeRefused(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	big := make([]store.Setting, store.MaxSettings+1)
	for i := range big {
		big[i] = store.Setting{Key: strings.Repeat("k", i+1), Type: store.SettingBoolean}
	}
	tests := []struct {
		name string
		dt   store.DeviceType
		want string
	}{
		{"bad name", store.DeviceType{Name: "a/b"}, "device type name"},
		{"empty key", store.DeviceType{Name: "t", Settings: []store.Setting{{Type: store.SettingNumber}}}, "key is empty"},
		{"unknown type", store.DeviceType{Name: "t", Settings: []store.Setting{{Key: "a", Type: "float"}}}, `has type "float"`},
		{"twice", store.DeviceType{Name: "t", Settings: []store.Setting{{Key: "a", Type: "number"}, {Key: "a", Type: "number"}}}, "defined twice"},
		{"enum not JSON", store.DeviceType{Name: "t", Settings: []store.Setting{{Key: "a", Type: "string", Enum: []json.RawMessage{json.RawMessage(`{`)}}}}, "not JSON"},
		{"too many", store.DeviceType{Name: "t", Settings: big}, "settings, at most"},
		{"empty label", store.DeviceType{Name: "t", Settings: []store.Setting{{Key: "a", Type: "number", Labels: map[string]string{"ja": ""}}}}, `labels["ja"] is empty`},
		{"empty label language", store.DeviceType{Name: "t", Settings: []store.Setting{{Key: "a", Type: "number", Labels: map[string]string{"": "A"}}}}, "labels language is empty"},
		{"label too long", store.DeviceType{Name: "t", Settings: []store.Setting{{Key: "a", Type: "number", Labels: map[string]string{"en": strings.Repeat("x", 129)}}}}, "at most 128"},
		{"labels for values not allowed", store.DeviceType{Name: "t", Settings: []store.Setting{{Key: "a", Type: "string",
			ValueLabels: map[string]map[string]string{"x": {"en": "X"}}}}}, "only allowed values are labelled"},
		{"control character in a value label", store.DeviceType{Name: "t", Settings: []store.Setting{{Key: "a", Type: "string", Enum: []json.RawMessage{json.RawMessage(`"x"`)},
			ValueLabels: map[string]map[string]string{"x": {"en": "X\n"}}}}}, "control character"},
	}
	for _, tt := range tests {
		_, err := s.PutDeviceType(tt.dt)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: PutDeviceType = %v, want ErrInvalid saying %q", tt.name, err, tt.want)
		}
	}
	list, err := s.ListDeviceTypes()
	mustOK(t, err)
	if len(list) != 0 {
		t.Errorf("refused types were stored: %+v", list)
	}
}

func TestMigrateFromVersion2(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	old, err := store.OpenAtSchemaVersion(path, 2)
	mustOK(t, err)
	want := fill(t, old)
	mustOK(t, old.Close())
	if got := boltBuckets(t, path); got["device_types"] || got["presence"] {
		t.Fatalf("a version-2 file has version-3 buckets: %v", got)
	}
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	got := take(t, s)
	want.Version = store.LatestSchemaVersion()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("after migration (-want +got):\n%s", diff)
	}
	_, err = s.PutDeviceType(store.DeviceType{Name: "chiller", Settings: []store.Setting{setpoint()}})
	mustOK(t, err)
}

func TestSeedDeviceTypes(t *testing.T) {
	t.Parallel()
	s, path := openStore(t)
	builtins := []store.DeviceType{
		{Name: "chiller", Description: "Absorption chiller-heater", Settings: []store.Setting{setpoint()}},
		{Name: "iaq", Description: "Air-quality sensor", Settings: []store.Setting{}},
	}
	// An operator defined a boiler before any release shipped one.
	own, err := s.PutDeviceType(store.DeviceType{Name: "boiler", Description: "Our own boiler", Settings: []store.Setting{}})
	mustOK(t, err)

	created, err := s.SeedDeviceTypes(builtins)
	mustOK(t, err)
	if diff := cmp.Diff([]string{"chiller", "iaq"}, created); diff != "" {
		t.Errorf("first seed created (-want +got):\n%s", diff)
	}
	chiller, err := s.GetDeviceType("chiller")
	mustOK(t, err)
	if chiller.CreatedAt.IsZero() || !chiller.UpdatedAt.Equal(chiller.CreatedAt) || chiller.Description != "Absorption chiller-heater" {
		t.Errorf("seeded chiller = %+v", chiller)
	}

	// The operator edits one built-in and deletes another.
	_, err = s.PutDeviceType(store.DeviceType{Name: "chiller", Description: "Edited", Settings: []store.Setting{}})
	mustOK(t, err)
	mustOK(t, s.DeleteDeviceType("iaq"))

	// A restart, here a reopening of the file, offers the same types
	// again, and an upgrade adds a boiler and a heat pump.
	mustOK(t, s.Close())
	s, err = store.Open(path, store.Options{})
	mustOK(t, err)
	t.Cleanup(func() { s.Close() })
	upgrade := append(slices.Clone(builtins),
		store.DeviceType{Name: "boiler", Description: "Shipped boiler", Settings: []store.Setting{}},
		store.DeviceType{Name: "heat-pump", Settings: []store.Setting{}})
	created, err = s.SeedDeviceTypes(upgrade)
	mustOK(t, err)
	if diff := cmp.Diff([]string{"heat-pump"}, created); diff != "" {
		t.Errorf("seed after the upgrade created (-want +got):\n%s", diff)
	}
	if got, err := s.GetDeviceType("chiller"); err != nil || got.Description != "Edited" {
		t.Errorf("edited chiller after seeding = %+v, %v; want the edit kept", got, err)
	}
	if _, err := s.GetDeviceType("iaq"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted iaq after seeding: %v, want it still deleted", err)
	}
	if got, err := s.GetDeviceType("boiler"); err != nil || got.Description != own.Description {
		t.Errorf("operator's boiler after seeding = %+v, %v; want it kept", got, err)
	}
	// The operator's boiler was offered too: deleting it does not let the
	// shipped one in later.
	mustOK(t, s.DeleteDeviceType("boiler"))
	created, err = s.SeedDeviceTypes(upgrade)
	mustOK(t, err)
	if len(created) != 0 {
		t.Errorf("third seed created %v, want nothing", created)
	}
	if _, err := s.SeedDeviceTypes([]store.DeviceType{{Name: "bad/name"}}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("seeding a type that breaks the rules = %v, want ErrInvalid", err)
	}
}

func TestSeedDeviceTypesReadOnly(t *testing.T) {
	t.Parallel()
	s, path := openStore(t)
	types := []store.DeviceType{{Name: "chiller", Settings: []store.Setting{}}}
	_, err := s.SeedDeviceTypes(types)
	mustOK(t, err)
	mustOK(t, s.Close())
	ro, err := store.Open(path, store.Options{ReadOnly: true})
	mustOK(t, err)
	defer ro.Close()
	// Nothing left to offer needs no write.
	if created, err := ro.SeedDeviceTypes(types); err != nil || len(created) != 0 {
		t.Errorf("read-only seed of offered types = %v, %v; want nothing, no error", created, err)
	}
	if _, err := ro.SeedDeviceTypes(append(types, store.DeviceType{Name: "iaq", Settings: []store.Setting{}})); !errors.Is(err, store.ErrReadOnly) {
		t.Errorf("read-only seed of a new type = %v, want ErrReadOnly", err)
	}
}
