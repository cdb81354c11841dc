package device_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/store"
)

func fptr(f float64) *float64 { return &f }

// chillerType is the settings of the fixture's "chiller" devices.
func chillerType() store.DeviceType {
	return store.DeviceType{
		Name: "chiller",
		Settings: []store.Setting{
			{Key: "chw_setpoint", Type: store.SettingNumber, Unit: "°C", Minimum: fptr(5), Maximum: fptr(12), Step: fptr(0.5), CustomerEditable: true},
			{Key: "mode", Type: store.SettingString, Enum: []json.RawMessage{json.RawMessage(`"cooling"`), json.RawMessage(`"off"`)}, CustomerEditable: true},
			{Key: "max_load", Type: store.SettingInteger, Minimum: fptr(0), Maximum: fptr(100)},
		},
	}
}

// settingsFixture is a registry with chiller devices, the chiller type
// defined, and a shadow service that checks settings.
func settingsFixture(t *testing.T) (*fixture, *device.DeviceTypes, *device.Shadows, *recorder, *events.Subscription) {
	t.Helper()
	f := newFixture(t)
	f.create(t, "ch-1")
	types := device.NewDeviceTypes(f.st, f.reg.Type)
	if _, err := types.Put(chillerType()); err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	sub := bus.Subscribe(16)
	rec := &recorder{}
	svc := device.NewShadows(device.ShadowDeps{Store: f.st, Publisher: rec, Events: bus, Settings: types})
	return f, types, svc, rec, sub
}

var customer = device.Actor{Name: "token:acme-portal", Channel: device.ChannelAPI, Restricted: true}

func wantShadowError(t *testing.T, err error, code int, msg string) {
	t.Helper()
	var se *shadow.Error
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want *shadow.Error %d", err, code)
	}
	if se.Code != code || se.Message != msg {
		t.Errorf("error = %d %q, want %d %q", se.Code, se.Message, code, msg)
	}
}

func TestDeviceTypesPut(t *testing.T) {
	f := newFixture(t)
	types := device.NewDeviceTypes(f.st, f.reg.Type)
	bad := chillerType()
	bad.Settings[0].Minimum = fptr(20)
	_, err := types.Put(bad)
	if !errors.Is(err, store.ErrInvalid) || !errors.Is(err, settings.ErrInvalid) {
		t.Fatalf("Put(min above max) = %v, want ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), `setting "chw_setpoint": minimum 20 is above maximum 12`) {
		t.Errorf("error %q does not name the setting and the problem", err)
	}
	if _, err := f.st.GetDeviceType("chiller"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused type was stored: %v", err)
	}

	// Until the type is defined, its devices have no settings; defining it
	// takes effect at once, although "undefined" was cached.
	f.create(t, "ch-1")
	if sch, typ, err := types.SettingsOf("ch-1"); sch != nil || typ != "chiller" || err != nil {
		t.Fatalf("SettingsOf before Put = %v, %q, %v; want none", sch, typ, err)
	}
	if _, err := types.Put(chillerType()); err != nil {
		t.Fatal(err)
	}
	sch, _, err := types.SettingsOf("ch-1")
	if err != nil || sch == nil || sch.Type() != "chiller" {
		t.Fatalf("SettingsOf after Put = %v, %v", sch, err)
	}
	if err := types.Delete("chiller"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Delete of a type in use = %v, want ErrInvalid", err)
	}
	if err := f.reg.DeleteDevice("ch-1"); err != nil {
		t.Fatal(err)
	}
	if err := types.Delete("chiller"); err != nil {
		t.Fatalf("Delete of an unused type: %v", err)
	}
	if sch, err := types.Settings("chiller"); sch != nil || err != nil {
		t.Errorf("Settings after Delete = %v, %v; want none", sch, err)
	}
}

func TestShadowSettingsRefuseDesired(t *testing.T) {
	f, _, svc, rec, _ := settingsFixture(t)
	_, err := svc.Update("ch-1", "", []byte(`{"state":{"desired":{"chw_setpoint":15,"mode":"cooling"}}}`), operator, t0)
	wantShadowError(t, err, http.StatusBadRequest, "desired.chw_setpoint: 15 is above the maximum 12 °C")
	var se *settings.Error
	if !errors.As(err, &se) || len(se.Violations) != 1 || se.Violations[0].Rule != settings.RuleMaximum {
		t.Errorf("error does not list the violation: %v", err)
	}
	if _, err := f.st.GetShadow("ch-1", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused update was stored: %v", err)
	}
	if h := history(t, f.st, "ch-1", ""); len(h) != 0 {
		t.Errorf("a refused update is in the history: %+v", h)
	}
	if msgs := rec.take(); len(msgs) != 0 {
		t.Errorf("a refused update published %v", topics(msgs))
	}

	// A device that sets its own desired state is held to the same rules,
	// answered on update/rejected.
	svc.HandleShadowRequest("ch-1", "", "update", []byte(`{"state":{"desired":{"mode":"turbo"}},"clientToken":"t1"}`))
	msgs := rec.take()
	if len(msgs) != 1 || msgs[0].Topic != "$aws/things/ch-1/shadow/update/rejected" {
		t.Fatalf("published %v, want update/rejected", topics(msgs))
	}
	if got, want := field(t, msgs[0].Payload, "message"), `desired.mode: "turbo" is not one of the allowed values "cooling", "off"`; got != want {
		t.Errorf("rejected message %q, want %q", got, want)
	}
	if got := field(t, msgs[0].Payload, "code"); got != 400.0 {
		t.Errorf("rejected code %v, want 400", got)
	}

	// Named shadows are not settings: anything goes.
	if _, err := svc.Update("ch-1", "notes", []byte(`{"state":{"desired":{"chw_setpoint":99}}}`), operator, t0); err != nil {
		t.Errorf("named shadow update: %v", err)
	}
	if _, err := svc.Update("ch-1", "", []byte(`{"state":{"desired":{"chw_setpoint":7.5,"max_load":90}}}`), operator, t0); err != nil {
		t.Errorf("valid update: %v", err)
	}
}

func TestShadowSettingsCustomer(t *testing.T) {
	f, types, svc, _, _ := settingsFixture(t)
	if _, err := svc.Update("ch-1", "", []byte(`{"state":{"desired":{"chw_setpoint":8}}}`), customer, t0); err != nil {
		t.Fatalf("customer sets an editable key: %v", err)
	}
	h := history(t, f.st, "ch-1", "")
	if len(h) != 1 || h[0].Actor != "token:acme-portal" || h[0].Channel != device.ChannelAPI {
		t.Errorf("history = %+v, want the customer's token", h)
	}
	f.create(t, "untyped")
	if _, err := f.reg.CreateDevice(device.DeviceSpec{Name: "bare", Customer: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.CreateDevice(device.DeviceSpec{Name: "odd", Customer: "acme", Type: "heat-pump"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, thing, shadowName, body, msg string
		code                               int
	}{
		{"not editable", "ch-1", "", `{"state":{"desired":{"max_load":50}}}`, `desired.max_load: customers may not change this setting of device type "chiller"`, 403},
		{"editable but out of range", "ch-1", "", `{"state":{"desired":{"chw_setpoint":30}}}`, "desired.chw_setpoint: 30 is above the maximum 12 °C", 400},
		{"unknown key", "ch-1", "", `{"state":{"desired":{"colour":"red"}}}`, `desired.colour: customers may not change this setting of device type "chiller"`, 403},
		{"reported", "ch-1", "", `{"state":{"reported":{"chw_setpoint":8}}}`, "customers may not change state.reported; only the device reports its state", 403},
		{"whole desired", "ch-1", "", `{"state":{"desired":null}}`, "customers may not delete the whole of state.desired; set each setting instead", 403},
		{"named shadow", "ch-1", "notes", `{"state":{"desired":{"chw_setpoint":8}}}`, `customers may change only settings of the classic shadow, not of the named shadow "notes"`, 403},
		{"no type", "bare", "", `{"state":{"desired":{"chw_setpoint":8}}}`, "the device has no type, so no settings are marked customer-editable", 403},
		{"undefined type", "odd", "", `{"state":{"desired":{"chw_setpoint":8}}}`, `device type "heat-pump" is not defined, so no settings are marked customer-editable`, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Update(tt.thing, tt.shadowName, []byte(tt.body), customer, t0)
			wantShadowError(t, err, tt.code, tt.msg)
		})
	}
	if got := history(t, f.st, "ch-1", ""); len(got) != 1 {
		t.Errorf("refused updates reached the history: %d entries", len(got))
	}
	if _, err := svc.Delete("ch-1", "", customer, t0); err == nil {
		t.Error("a customer deleted a shadow")
	}

	// An operator narrows what customers may change: it applies at once.
	dt := chillerType()
	dt.Settings[0].CustomerEditable = false
	if _, err := types.Put(dt); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Update("ch-1", "", []byte(`{"state":{"desired":{"chw_setpoint":9}}}`), customer, t0)
	wantShadowError(t, err, 403, `desired.chw_setpoint: customers may not change this setting of device type "chiller"`)
}

func TestShadowSettingsFlagReported(t *testing.T) {
	f, _, svc, _, sub := settingsFixture(t)
	svc.HandleShadowRequest("ch-1", "", "update", []byte(`{"state":{"reported":{"chw_setpoint":14,"supply_temp":6.5,"mode":"cooling"}}}`))
	sh, err := f.st.GetShadow("ch-1", "")
	if err != nil {
		t.Fatalf("the report was not stored: %v", err)
	}
	if !strings.Contains(string(sh.Doc), `"chw_setpoint":14`) {
		t.Errorf("stored document %s does not hold the reported value as sent", sh.Doc)
	}
	h := history(t, f.st, "ch-1", "")
	want := []store.HistoryFlag{{Section: "reported", Key: "chw_setpoint", Rule: "maximum", Message: "reported.chw_setpoint: 14 is above the maximum 12 °C"}}
	if len(h) != 1 {
		t.Fatalf("history has %d entries, want 1", len(h))
	}
	if diff := cmp.Diff(want, h[0].Flags); diff != "" {
		t.Errorf("history flags (-want +got):\n%s", diff)
	}
	doc, err := svc.Get("ch-1", "")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := svc.Violations("ch-1", "", doc)
	if err != nil || len(vs) != 1 || vs[0].Key != "chw_setpoint" {
		t.Errorf("Violations = %+v, %v; want chw_setpoint", vs, err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-sub.C():
			if sv, ok := ev.(events.SettingsViolated); ok {
				if diff := cmp.Diff([]string{"reported.chw_setpoint"}, sv.Keys); diff != "" || sv.Device != "ch-1" || sv.Version != 1 {
					t.Errorf("SettingsViolated = %+v", sv)
				}
				return
			}
		case <-deadline:
			t.Fatal("no SettingsViolated event")
		}
	}
}
