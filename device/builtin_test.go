package device_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/protocol/program"
	"github.com/hearthiot/hearth/store"
)

// builtinNames are the names of the shipped types; a rename breaks every
// installation's devices of the old name, so it must be deliberate.
var builtinNames = []string{"ahu", "boiler", "chiller", "electricity-meter", "gas-meter", "iaq"}

// pageLanguages are the languages of the pages, which every built-in
// label must have.
var pageLanguages = []string{"en", "ja"}

func builtins(t *testing.T) []store.DeviceType {
	t.Helper()
	types, err := device.BuiltinTypes()
	if err != nil {
		t.Fatal(err)
	}
	return types
}

func TestBuiltinTypes(t *testing.T) {
	types := builtins(t)
	var names []string
	for _, dt := range types {
		names = append(names, dt.Name)
		if _, err := settings.Compile(dt); err != nil {
			t.Errorf("built-in type %q does not compile: %v", dt.Name, err)
		}
		if dt.Description == "" || len(dt.Settings) == 0 {
			t.Errorf("built-in type %q has no description or no settings", dt.Name)
		}
	}
	if diff := cmp.Diff(builtinNames, names); diff != "" {
		t.Errorf("built-in type names (-want +got):\n%s", diff)
	}
}

// TestBuiltinLabels: every setting and every allowed value of a built-in
// type is named in every language of the pages, so that no page shows a
// key or an English word to a Japanese reader.
func TestBuiltinLabels(t *testing.T) {
	for _, dt := range builtins(t) {
		for _, st := range dt.Settings {
			if st.Description == "" {
				t.Errorf("%s.%s has no description", dt.Name, st.Key)
			}
			for _, lang := range pageLanguages {
				if strings.TrimSpace(st.Labels[lang]) == "" {
					t.Errorf("%s.%s has no %s label", dt.Name, st.Key, lang)
				}
			}
			for _, raw := range st.Enum {
				v := settings.ValueKey(raw)
				for _, lang := range pageLanguages {
					if strings.TrimSpace(st.ValueLabels[v][lang]) == "" {
						t.Errorf("%s.%s: allowed value %s has no %s label", dt.Name, st.Key, raw, lang)
					}
				}
			}
			if st.Labels["ja"] != "" && st.Labels["ja"] == st.Labels["en"] {
				t.Errorf("%s.%s: the Japanese label is the English one, %q", dt.Name, st.Key, st.Labels["en"])
			}
		}
	}
}

// TestBuiltinPrograms: a built-in type's program is the protocol's, so
// the scheduler's programs pass and devices can read what passes.
func TestBuiltinPrograms(t *testing.T) {
	var want any
	if err := json.Unmarshal([]byte(program.JSONSchema), &want); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, dt := range builtins(t) {
		for _, st := range dt.Settings {
			if st.Key != program.Key {
				continue
			}
			n++
			var got any
			if err := json.Unmarshal(st.Schema, &got); err != nil {
				t.Fatalf("%s.program: %v", dt.Name, err)
			}
			if diff := cmp.Diff(want, got); diff != "" || st.Type != store.SettingObject || st.CustomerEditable {
				t.Errorf("%s.program is not the protocol's program, operator-only (-want +got):\n%s", dt.Name, diff)
			}
		}
	}
	if n == 0 {
		t.Error("no built-in type takes a program")
	}
}

// TestBuiltinTypesDocumented: docs/device-types.md names every built-in
// type and setting, so an operator can read what each one means.
func TestBuiltinTypesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/device-types.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range builtins(t) {
		if !strings.Contains(string(doc), "`"+dt.Name+"`") {
			t.Errorf("docs/device-types.md does not name the type %s", dt.Name)
		}
		for _, st := range dt.Settings {
			if !strings.Contains(string(doc), "`"+st.Key+"`") {
				t.Errorf("docs/device-types.md does not name %s.%s", dt.Name, st.Key)
			}
		}
	}
}

func TestSeedBuiltin(t *testing.T) {
	f := newFixture(t)
	types := device.NewDeviceTypes(f.st, f.reg.Type)
	// A device of a type not defined yet is not checked, and that answer
	// is cached; seeding must not leave it stale.
	if _, err := f.reg.CreateDevice(device.DeviceSpec{Name: "ahu-1", Customer: "acme", Type: "ahu"}); err != nil {
		t.Fatal(err)
	}
	if sch, _, err := types.SettingsOf("ahu-1"); err != nil || sch != nil {
		t.Fatalf("SettingsOf before seeding = %v, %v; want no settings", sch, err)
	}

	created, err := types.SeedBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(builtinNames, created); diff != "" {
		t.Errorf("first seed created (-want +got):\n%s", diff)
	}
	if sch, typ, err := types.SettingsOf("ahu-1"); err != nil || sch == nil || typ != "ahu" {
		t.Errorf("SettingsOf after seeding = %v, %q, %v; want the ahu's settings", sch, typ, err)
	}

	// The operator narrows the chiller and deletes the gas meter; a
	// restart seeds again and keeps both choices.
	chiller, err := types.Get("chiller")
	if err != nil {
		t.Fatal(err)
	}
	chiller.Settings = slices.DeleteFunc(chiller.Settings, func(st store.Setting) bool { return st.Key == "hw_setpoint_c" })
	if _, err := types.Put(chiller); err != nil {
		t.Fatal(err)
	}
	if err := types.Delete("gas-meter"); err != nil {
		t.Fatal(err)
	}
	f.restart(t)
	types = device.NewDeviceTypes(f.st, f.reg.Type)
	if created, err := types.SeedBuiltin(); err != nil || len(created) != 0 {
		t.Errorf("seed after a restart = %v, %v; want nothing created", created, err)
	}
	if got, err := types.Get("chiller"); err != nil || slices.ContainsFunc(got.Settings, func(st store.Setting) bool { return st.Key == "hw_setpoint_c" }) {
		t.Errorf("the operator's chiller after a restart = %+v, %v; want it as edited", got, err)
	}
	if _, err := types.Get("gas-meter"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the deleted gas meter after a restart: %v; want it still deleted", err)
	}
}
