package store_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
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
