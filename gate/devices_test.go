package gate_test

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// newTypedGate is a gate with the built-in device types, as a server
// has them, a customer acme and a device acme-old of a type that was
// never defined, as devices made before types were checked are.
func newTypedGate(t *testing.T) gate.Scope {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logger := slog.New(slog.DiscardHandler)
	authority, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), logger)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := device.NewRegistry(st, authority, logger)
	if err != nil {
		t.Fatal(err)
	}
	types := device.NewDeviceTypes(st, reg.Type)
	if _, err := types.SeedBuiltin(); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateCustomer(store.Customer{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateDevice(device.DeviceSpec{Name: "acme-old", Customer: "acme", Type: "made-up"}); err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(gate.Deps{Store: st, Registry: reg, Types: types, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return g.Scope(gate.Local())
}

func wantInvalid(t *testing.T, err error, fragments ...string) {
	t.Helper()
	p := gate.Describe(err)
	if err == nil || p.Kind != gate.KindInvalid {
		t.Fatalf("error %v (%v), want a refusal of the input", err, p.Kind)
	}
	for _, f := range fragments {
		if !strings.Contains(p.Message, f) {
			t.Errorf("message %q does not say %q", p.Message, f)
		}
	}
}

func TestCreateDeviceType(t *testing.T) {
	t.Parallel()
	sc := newTypedGate(t)
	_, err := sc.CreateDevice(device.DeviceSpec{Name: "acme-ch-1", Customer: "acme", Type: "chillr"})
	wantInvalid(t, err, `field "type": no device type named "chillr"`,
		"the device types are ahu, boiler, chiller, electricity-meter, gas-meter, iaq", "leave the type empty")
	if _, err := sc.Device("acme-ch-1"); gate.Describe(err).Kind != gate.KindNotFound {
		t.Errorf("a refused device was created: %v", err)
	}
	for _, typ := range []string{"chiller", ""} {
		name := "acme-" + typ + "-2"
		is, err := sc.CreateDevice(device.DeviceSpec{Name: name, Customer: "acme", Type: typ})
		if err != nil || is.Device.Type != typ {
			t.Errorf("create a device of type %q = %+v, %v", typ, is.Device, err)
		}
	}
}

func TestUpdateDeviceType(t *testing.T) {
	t.Parallel()
	sc := newTypedGate(t)
	unknown := "heat-pump"
	_, err := sc.UpdateDevice("acme-old", device.DeviceChange{Type: &unknown})
	wantInvalid(t, err, `no device type named "heat-pump"`, "chiller")

	// The type the device has stays acceptable while other things change.
	same, site := "made-up", "default"
	d, err := sc.UpdateDevice("acme-old", device.DeviceChange{Type: &same, Site: &site, Attributes: map[string]string{"floor": "B1"}})
	if err != nil || d.Type != "made-up" || d.Attributes["floor"] != "B1" {
		t.Errorf("update keeping the type = %+v, %v", d.Device, err)
	}
	for _, typ := range []string{"boiler", ""} {
		d, err := sc.UpdateDevice("acme-old", device.DeviceChange{Type: &typ})
		if err != nil || d.Type != typ {
			t.Errorf("change the type to %q = %+v, %v", typ, d.Device, err)
		}
	}
	// Back to the made-up type is a change, and refused.
	_, err = sc.UpdateDevice("acme-old", device.DeviceChange{Type: &same})
	wantInvalid(t, err, `no device type named "made-up"`)
}
