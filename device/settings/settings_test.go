package settings_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/store"
)

func ptr(f float64) *float64 { return &f }

func raws(vs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		out[i] = json.RawMessage(v)
	}
	return out
}

// chiller is the device type most tests use: a set-point with a range and
// a step, a mode from a list, an integer only operators change, a nested
// zone, and an operating program checked by its own JSON Schema.
func chiller() store.DeviceType {
	return store.DeviceType{
		Name: "absorption-chiller",
		Settings: []store.Setting{
			{Key: "chw_setpoint", Type: store.SettingNumber, Unit: "°C", Minimum: ptr(5), Maximum: ptr(12), Step: ptr(0.5), CustomerEditable: true},
			{Key: "mode", Type: store.SettingString, Enum: raws(`"cooling"`, `"heating"`, `"off"`), CustomerEditable: true},
			{Key: "max_load", Type: store.SettingInteger, Unit: "%", Minimum: ptr(0), Maximum: ptr(100)},
			{Key: "offset", Type: store.SettingNumber, Step: ptr(0.1)},
			{Key: "enabled", Type: store.SettingBoolean},
			{Key: "zone1.setpoint", Type: store.SettingNumber, Minimum: ptr(16), Maximum: ptr(28), CustomerEditable: true},
			{Key: "zone1.limit", Type: store.SettingNumber},
			{Key: "program", Type: store.SettingArray, Schema: json.RawMessage(`{
				"maxItems": 4,
				"items": {
					"type": "object",
					"required": ["at", "mode"],
					"properties": {
						"at": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
						"mode": {"$ref": "#/$defs/mode"}
					},
					"additionalProperties": false
				},
				"$defs": {"mode": {"enum": ["cooling", "heating", "off"]}}
			}`)},
		},
	}
}

func mustCompile(t testing.TB, dt store.DeviceType) *settings.Schema {
	t.Helper()
	s, err := settings.Compile(dt)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

// doc decodes JSON as the shadow parser does: numbers kept exact.
func doc(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

func TestCheckDesired(t *testing.T) {
	s := mustCompile(t, chiller())
	tests := []struct {
		name    string
		desired string
		want    []settings.Violation // nil: accepted
	}{
		{name: "within every rule", desired: `{"chw_setpoint": 7.5, "mode": "cooling", "max_load": 80, "enabled": true}`},
		{name: "bounds are inclusive", desired: `{"chw_setpoint": 12, "max_load": 0}`},
		{name: "an integer written as a float", desired: `{"max_load": 80.0}`},
		{name: "a decimal step is exact", desired: `{"offset": 21.3}`},
		{name: "null deletes any key", desired: `{"chw_setpoint": null, "zone1": null, "program": null}`},
		{name: "nested", desired: `{"zone1": {"setpoint": 21}}`},
		{name: "empty", desired: `{}`},
		{name: "program by its schema", desired: `{"program": [{"at": "07:00", "mode": "cooling"}, {"at": "19:30", "mode": "off"}]}`},
		{
			name:    "above the maximum",
			desired: `{"chw_setpoint": 15}`,
			want:    []settings.Violation{{Key: "chw_setpoint", Rule: settings.RuleMaximum, Message: "desired.chw_setpoint: 15 is above the maximum 12 °C"}},
		},
		{
			name:    "below the minimum",
			desired: `{"chw_setpoint": 4.5}`,
			want:    []settings.Violation{{Key: "chw_setpoint", Rule: settings.RuleMinimum, Message: "desired.chw_setpoint: 4.5 is below the minimum 5 °C"}},
		},
		{
			name:    "off the step",
			desired: `{"chw_setpoint": 7.3}`,
			want:    []settings.Violation{{Key: "chw_setpoint", Rule: settings.RuleStep, Message: "desired.chw_setpoint: 7.3 is not a multiple of the step 0.5 °C"}},
		},
		{
			name:    "wrong type",
			desired: `{"chw_setpoint": "7"}`,
			want:    []settings.Violation{{Key: "chw_setpoint", Rule: settings.RuleType, Message: "desired.chw_setpoint: must be a number, not a string"}},
		},
		{
			name:    "a fraction for an integer",
			desired: `{"max_load": 50.5}`,
			want:    []settings.Violation{{Key: "max_load", Rule: settings.RuleType, Message: "desired.max_load: must be an integer, not a number"}},
		},
		{
			name:    "not an allowed value",
			desired: `{"mode": "turbo"}`,
			want:    []settings.Violation{{Key: "mode", Rule: settings.RuleEnum, Message: `desired.mode: "turbo" is not one of the allowed values "cooling", "heating", "off"`}},
		},
		{
			name:    "unknown key",
			desired: `{"chw_setpont": 7}`,
			want:    []settings.Violation{{Key: "chw_setpont", Rule: settings.RuleUnknownKey, Message: `desired.chw_setpont: not a setting of device type "absorption-chiller"`}},
		},
		{
			name:    "unknown nested key",
			desired: `{"zone1": {"setpoint": 20, "colour": "red"}}`,
			want:    []settings.Violation{{Key: "zone1.colour", Rule: settings.RuleUnknownKey, Message: `desired.zone1.colour: not a setting of device type "absorption-chiller"`}},
		},
		{
			name:    "a key that spells a nested key",
			desired: `{"zone1.setpoint": 20, "": 1}`,
			want: []settings.Violation{
				{Key: `""`, Rule: settings.RuleUnknownKey, Message: `desired."": not a setting of device type "absorption-chiller"`},
				{Key: `"zone1.setpoint"`, Rule: settings.RuleUnknownKey, Message: `desired."zone1.setpoint": not a setting of device type "absorption-chiller"`},
			},
		},
		{
			name:    "nested out of range",
			desired: `{"zone1": {"setpoint": 30}}`,
			want:    []settings.Violation{{Key: "zone1.setpoint", Rule: settings.RuleMaximum, Message: "desired.zone1.setpoint: 30 is above the maximum 28"}},
		},
		{
			name:    "a value where an object of settings is",
			desired: `{"zone1": 21}`,
			want:    []settings.Violation{{Key: "zone1", Rule: settings.RuleType, Message: "desired.zone1: must be an object, not a number"}},
		},
		{
			name:    "program item breaks the schema",
			desired: `{"program": [{"at": "seven", "mode": "cooling"}]}`,
			want:    []settings.Violation{{Key: "program.0.at", Rule: settings.RuleSchema, Message: `desired.program.0.at: 'seven' does not match pattern '^[0-2][0-9]:[0-5][0-9]$'`}},
		},
		{
			name:    "every violation, sorted by key",
			desired: `{"mode": "turbo", "chw_setpoint": 40, "extra": 1}`,
			want: []settings.Violation{
				{Key: "chw_setpoint", Rule: settings.RuleMaximum, Message: "desired.chw_setpoint: 40 is above the maximum 12 °C"},
				{Key: "extra", Rule: settings.RuleUnknownKey, Message: `desired.extra: not a setting of device type "absorption-chiller"`},
				{Key: "mode", Rule: settings.RuleEnum, Message: `desired.mode: "turbo" is not one of the allowed values "cooling", "heating", "off"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CheckDesired(doc(t, tt.desired))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckDesired(%s) = %v, want accepted", tt.desired, err)
				}
				return
			}
			var se *settings.Error
			if !errors.As(err, &se) {
				t.Fatalf("CheckDesired(%s) = %v, want *settings.Error", tt.desired, err)
			}
			if diff := cmp.Diff(tt.want, se.Violations); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReported(t *testing.T) {
	s := mustCompile(t, chiller())
	// Readings and facts that are not settings are no violation; settings
	// out of their rules are listed, and stored anyway by the caller.
	got := s.Reported(doc(t, `{"chw_setpoint": 14, "firmware": "2.1.0", "supply_temp": 6.8, "zone1": {"setpoint": 21, "humidity": 40}, "mode": "defrost"}`))
	want := []settings.Violation{
		{Key: "chw_setpoint", Rule: settings.RuleMaximum, Message: "reported.chw_setpoint: 14 is above the maximum 12 °C"},
		{Key: "mode", Rule: settings.RuleEnum, Message: `reported.mode: "defrost" is not one of the allowed values "cooling", "heating", "off"`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Reported (-want +got):\n%s", diff)
	}
	if got := s.Reported(nil); got != nil {
		t.Errorf("Reported(nil) = %v, want none", got)
	}
}

func TestCheckCustomer(t *testing.T) {
	s := mustCompile(t, chiller())
	tests := []struct {
		desired string
		wantKey string // "" when allowed
	}{
		{`{"chw_setpoint": 8, "mode": "off"}`, ""},
		{`{"chw_setpoint": null}`, ""},
		{`{"zone1": {"setpoint": 22}}`, ""},
		{`{"max_load": 50}`, "max_load"},
		{`{"chw_setpoint": 8, "enabled": false}`, "enabled"},
		{`{"zone1": {"setpoint": 22, "limit": 3}}`, "zone1.limit"},
		// Deleting the zone would delete its limit, which customers may
		// not change.
		{`{"zone1": null}`, "zone1.limit"},
		{`{"zone1": 5}`, "zone1"},
		{`{"unknown": 1}`, "unknown"},
		{`{"program": []}`, "program"},
		// A top-level key that spells a nested setting's key is not it.
		{`{"zone1.setpoint": 22}`, `"zone1.setpoint"`},
	}
	for _, tt := range tests {
		err := s.CheckCustomer(doc(t, tt.desired))
		if tt.wantKey == "" {
			if err != nil {
				t.Errorf("CheckCustomer(%s) = %v, want allowed", tt.desired, err)
			}
			continue
		}
		var fe *settings.ForbiddenError
		if !errors.As(err, &fe) || fe.Key != tt.wantKey {
			t.Errorf("CheckCustomer(%s) = %v, want forbidden key %q", tt.desired, err, tt.wantKey)
			continue
		}
		if want := "desired." + tt.wantKey + `: customers may not change this setting of device type "absorption-chiller"`; err.Error() != want {
			t.Errorf("message = %q, want %q", err.Error(), want)
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	base := func(st ...store.Setting) store.DeviceType {
		return store.DeviceType{Name: "t", Settings: st}
	}
	tests := []struct {
		name string
		dt   store.DeviceType
		want string // in the message
	}{
		{"parent and child", base(store.Setting{Key: "zone", Type: "number"}, store.Setting{Key: "zone.setpoint", Type: "number"}), `setting "zone" is also the object holding other settings`},
		{"duplicate", base(store.Setting{Key: "a", Type: "number"}, store.Setting{Key: "a", Type: "string"}), `setting "a" is defined twice`},
		{"empty part", base(store.Setting{Key: "a..b", Type: "number"}), `has an empty part`},
		{"minimum above maximum", base(store.Setting{Key: "a", Type: "number", Minimum: ptr(5), Maximum: ptr(1)}), "minimum 5 is above maximum 1"},
		{"range on a string", base(store.Setting{Key: "a", Type: "string", Maximum: ptr(1)}), "apply to numbers and integers, not to a string"},
		{"zero step", base(store.Setting{Key: "a", Type: "number", Step: ptr(0)}), "step 0 is not above 0"},
		{"allowed value out of range", base(store.Setting{Key: "a", Type: "integer", Maximum: ptr(3), Enum: raws("1", "5")}), "allowed value 5 breaks the setting's rules"},
		{"allowed value of another type", base(store.Setting{Key: "a", Type: "string", Enum: raws("1")}), "allowed value 1 breaks the setting's rules"},
		{"schema on a number", base(store.Setting{Key: "a", Type: "number", Schema: json.RawMessage(`{}`)}), "a schema applies to objects and arrays"},
		{"schema that is not a schema", base(store.Setting{Key: "a", Type: "object", Schema: json.RawMessage(`{"type": 5}`)}), "not a valid JSON Schema"},
		{"schema reading a file", base(store.Setting{Key: "a", Type: "object", Schema: json.RawMessage(`{"$ref": "file:///etc/passwd"}`)}), "not a valid JSON Schema"},
		{"schema reading the network", base(store.Setting{Key: "a", Type: "object", Schema: json.RawMessage(`{"$ref": "https://example.com/s.json"}`)}), "not a valid JSON Schema"},
		{"label language not a tag", base(store.Setting{Key: "a", Type: "number", Labels: map[string]string{"japanese!": "A"}}), `setting "a": labels: "japanese!" is not a BCP 47 language tag`},
		{"label language not canonical", base(store.Setting{Key: "a", Type: "number", Labels: map[string]string{"ja-jp": "A"}}), `write the language tag "ja-jp" as "ja-JP"`},
		{"value labels without enum", base(store.Setting{Key: "a", Type: "string", ValueLabels: map[string]map[string]string{"x": {"en": "X"}}}), "the setting has no enum"},
		{"value label of a value not allowed", base(store.Setting{Key: "mode", Type: "string", Enum: raws(`"cooling"`, `"off"`),
			ValueLabels: map[string]map[string]string{"heating": {"en": "Heating"}}}), `value_labels name "heating", which is not an allowed value; the allowed values are "cooling", "off"`},
		{"value label language not a tag", base(store.Setting{Key: "mode", Type: "string", Enum: raws(`"off"`),
			ValueLabels: map[string]map[string]string{"off": {"EN": "Off"}}}), `value_labels of "off": write the language tag "EN" as "en"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := settings.Compile(tt.dt)
			if !errors.Is(err, settings.ErrInvalid) {
				t.Fatalf("Compile = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile = %q, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestSettingsKeepOrder(t *testing.T) {
	dt := chiller()
	s := mustCompile(t, dt)
	if diff := cmp.Diff(dt.Settings, s.Settings()); diff != "" {
		t.Errorf("Settings (-want +got):\n%s", diff)
	}
	if st, ok := s.Setting("zone1.setpoint"); !ok || !st.CustomerEditable {
		t.Errorf("Setting(zone1.setpoint) = %+v, %v", st, ok)
	}
	if _, ok := s.Setting("zone1"); ok {
		t.Error("Setting(zone1) found a setting for an object of settings")
	}
}

// FuzzCheckDesired feeds arbitrary desired documents to the checks: they
// must not panic, and every refusal must name a key and a rule.
func FuzzCheckDesired(f *testing.F) {
	for _, seed := range []string{
		`{"chw_setpoint": 7.5}`, `{"chw_setpoint": 1e400}`, `{"chw_setpoint": -0}`, `{"zone1": {"setpoint": "x"}}`,
		`{"program": [{"at": "07:00", "mode": "off"}, 1, [], {}]}`, `{"mode": ["cooling"]}`, `{"a": {"b": {"c": null}}}`,
		`{"max_load": 1e2}`, `{"offset": 0.30000000000000004}`,
	} {
		f.Add([]byte(seed))
	}
	s := mustCompile(f, chiller())
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil {
			return
		}
		for _, vs := range [][]settings.Violation{violations(t, s.CheckDesired(m)), s.Reported(m)} {
			for _, v := range vs {
				if v.Key == "" || v.Rule == "" || v.Message == "" {
					t.Errorf("violation without key, rule or message: %+v", v)
				}
			}
		}
		_ = s.CheckCustomer(m)
	})
}

func violations(t *testing.T, err error) []settings.Violation {
	if err == nil {
		return nil
	}
	var se *settings.Error
	if !errors.As(err, &se) {
		t.Fatalf("CheckDesired = %v, want *settings.Error", err)
	}
	if len(se.Violations) == 0 {
		t.Fatal("a refusal without violations")
	}
	return se.Violations
}

// FuzzCompile feeds arbitrary settings schemas to Compile: it must refuse
// or compile, never panic, and a compiled schema must check a document.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"type": "object"}`, `{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}}`,
		`{"items": {"pattern": "(a+)+$"}}`, `{"$id": "https://x/"}`, `{"$ref": "https://hearth.invalid/device-types/t/desired.json"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, schema []byte) {
		if !json.Valid(schema) {
			return
		}
		s, err := settings.Compile(store.DeviceType{Name: "t", Settings: []store.Setting{{Key: "a", Type: store.SettingArray, Schema: schema}}})
		if err != nil {
			if !errors.Is(err, settings.ErrInvalid) {
				t.Fatalf("Compile = %v, want ErrInvalid", err)
			}
			return
		}
		_ = s.CheckDesired(map[string]any{"a": []any{json.Number("1"), "x", map[string]any{}}})
	})
}

func TestCompileNamesTheSettingOfABadSchema(t *testing.T) {
	_, err := settings.Compile(store.DeviceType{Name: "t", Settings: []store.Setting{
		{Key: "ok", Type: store.SettingNumber},
		{Key: "program", Type: store.SettingArray, Schema: json.RawMessage(`{"items": {"type": "time"}}`)},
	}})
	want := `setting "program": its schema is not a valid JSON Schema: at "/items/type": `
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Compile = %v, want it to start with %q", err, want)
	}
}

func TestLabels(t *testing.T) {
	st := store.Setting{
		Key: "mode", Type: store.SettingString, Description: "Mode of operation",
		Enum:        raws(`"cooling"`, `"heating"`, `"off"`),
		Labels:      map[string]string{"en": "Operating mode", "ja": "運転モード", "pt-BR": "Modo"},
		ValueLabels: map[string]map[string]string{"cooling": {"en": "Cooling", "ja": "冷房"}, "heating": {"en": "Heating"}},
	}
	mustCompile(t, store.DeviceType{Name: "t", Settings: []store.Setting{st}})
	for _, tt := range []struct {
		lang, want string
	}{
		{"ja", "運転モード"},
		{"en", "Operating mode"},
		{"pt", "Modo"},           // the same base language
		{"fr", "Operating mode"}, // English when the language is missing
		{"", "Operating mode"},
	} {
		if got := settings.Label(st, tt.lang); got != tt.want {
			t.Errorf("Label(%q) = %q, want %q", tt.lang, got, tt.want)
		}
	}
	if got := settings.Label(store.Setting{Key: "mode", Description: "Mode of operation"}, "ja"); got != "Mode of operation" {
		t.Errorf("Label without labels = %q, want the description", got)
	}
	if got := settings.Label(store.Setting{Key: "mode"}, "ja"); got != "mode" {
		t.Errorf("Label without labels or description = %q, want the key", got)
	}
	for _, tt := range []struct {
		value, lang, want string
	}{
		{`"cooling"`, "ja", "冷房"},
		{`"heating"`, "ja", "Heating"}, // English when Japanese is missing
		{`"off"`, "ja", "off"},         // the value when no label is
	} {
		if got := settings.ValueLabel(st, json.RawMessage(tt.value), tt.lang); got != tt.want {
			t.Errorf("ValueLabel(%s, %q) = %q, want %q", tt.value, tt.lang, got, tt.want)
		}
	}
	// Values other than strings are named by their JSON.
	pulse := store.Setting{Key: "pulse", Type: store.SettingNumber, Enum: raws("0.01", " 1 "),
		ValueLabels: map[string]map[string]string{"0.01": {"en": "10 L"}, "1": {"en": "1 m³"}}}
	mustCompile(t, store.DeviceType{Name: "t", Settings: []store.Setting{pulse}})
	if got := settings.ValueLabel(pulse, json.RawMessage(" 1 "), "ja"); got != "1 m³" {
		t.Errorf("ValueLabel of a number = %q, want its English label", got)
	}
}
