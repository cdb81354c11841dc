package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DeviceType is a kind of equipment ("chiller", "iaq") and the settings
// its classic shadow holds. Devices name their type in Device.Type; a type
// nobody has defined has no settings schema.
type DeviceType struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Settings    []Setting `json:"settings"`
	// Metrics declares the telemetry the type's devices send. Optional: a
	// type without them accepts any metric, and alarm rules on it any
	// name; with them, a rule naming another metric is refused. Added
	// after schema version 8 without a new version: older binaries ignore
	// it.
	Metrics []Metric `json:"metrics,omitempty"`
	// Topics are topic templates ("dt/{site}/{name}/data") the type's
	// devices publish on besides Hearth's own topics; package protocol
	// says what a template may hold. Added after schema version 10
	// without a new version: older binaries ignore it.
	Topics []string `json:"topics,omitempty"`
	// TelemetryRate, when set, is the samples a second and at once each
	// of the type's devices may send, instead of the server's. Added
	// after schema version 10 without a new version.
	TelemetryRate *TelemetryRate `json:"telemetry_rate,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// Setting is one key of a device type's desired state: its value's type and
// the rules it must follow, and whether customers may change it. The store
// keeps settings as given and checks only their shape; what the rules mean
// is decided in package device, which compiles them.
type Setting struct {
	// Key is the key in state.desired; dots name keys of nested objects
	// ("zone1.setpoint").
	Key         string `json:"key"`
	Type        string `json:"type"` // number, integer, string, boolean, object or array
	Unit        string `json:"unit,omitempty"`
	Description string `json:"description,omitempty"`
	// Minimum, Maximum and Step (a value must be a multiple of it) apply
	// to numbers and integers.
	Minimum *float64 `json:"minimum,omitempty"`
	Maximum *float64 `json:"maximum,omitempty"`
	Step    *float64 `json:"step,omitempty"`
	// Enum lists the allowed values, each a JSON value.
	Enum []json.RawMessage `json:"enum,omitempty"`
	// Schema is a JSON Schema the value must match, for objects and arrays
	// whose shape the fields above cannot say (an operating program).
	Schema json.RawMessage `json:"schema,omitempty"`
	// CustomerEditable lets a customer change the key, within its rules.
	CustomerEditable bool `json:"customer_editable"`
	// Labels name the setting for people, by BCP 47 language tag
	// ({"en": "Operating mode", "ja": "運転モード"}); pages show the one
	// of the reader's language.
	Labels map[string]string `json:"labels,omitempty"`
	// ValueLabels name allowed values for people, by value and then by
	// language tag ({"heating": {"en": "Heating", "ja": "暖房"}}). A string
	// value is named by its text, any other by its JSON.
	//
	// Both label fields are optional and came after schema version 7
	// without a new version: a binary that predates them reads the types
	// and ignores the labels.
	ValueLabels map[string]map[string]string `json:"value_labels,omitempty"`
}

// Metric is one kind of telemetry a device type sends, and how pages
// present its latest value: under its label in the reader's language,
// with its unit, rounded to its decimals, as the word of its state when
// it has states, and to everyone or to operators only.
//
// Decimals, Audience and States came after schema version 14 without a
// new version: older binaries read the types and ignore them.
type Metric struct {
	Name        string            `json:"name"` // as sent ("chw_supply_c")
	Unit        string            `json:"unit,omitempty"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"` // by language tag, as a setting's
	// Decimals, when set, is how many decimals pages show (0 to
	// MaxDecimals); unset keeps the pages' own rounding.
	Decimals *int `json:"decimals,omitempty"`
	// Audience is who sees the metric on the pages: AudienceEveryone
	// (or empty) or AudienceOperators, for the equipment's and the
	// agent's internals that mean nothing to a customer.
	Audience string `json:"audience,omitempty"`
	// States name values for people: a status or a fault code shown as
	// a word ("Running") instead of a number. A value without a state
	// shows as a number.
	States []MetricState `json:"states,omitempty"`
	// Energy, when set, says the metric carries energy use: which fuel
	// and whether it is a meter reading (a counter, which may reset or
	// roll over) or a rate. Added after schema version 15 without a new
	// version: older binaries read the types and ignore it.
	Energy *MetricEnergy `json:"energy,omitempty"`
	// Outdoor marks a metric that measures the outdoor air temperature
	// in °C, the weather a site's energy baseline is adjusted to.
	Outdoor bool `json:"outdoor,omitempty"`
}

// MetricEnergy is the energy a metric carries.
type MetricEnergy struct {
	Fuel string `json:"fuel"` // FuelGas or FuelElectricity
	Kind string `json:"kind"` // EnergyCounter or EnergyRate
}

// Fuels and kinds of energy metrics.
const (
	FuelGas         = "gas"
	FuelElectricity = "electricity"
	// EnergyCounter is a meter reading that grows with use; a drop is a
	// reset or a roll-over, after which it counts again from zero.
	EnergyCounter = "counter"
	// EnergyRate is use per hour, integrated over time.
	EnergyRate = "rate"
)

// EnergyUnits are the units an energy metric must be in, by fuel and
// kind, so that totals add up without conversions.
var EnergyUnits = map[string]map[string]string{
	FuelGas:         {EnergyCounter: "m³", EnergyRate: "m³/h"},
	FuelElectricity: {EnergyCounter: "kWh", EnergyRate: "kW"},
}

// checkEnergy checks a metric's energy declaration against its unit.
func checkEnergy(m Metric) error {
	if m.Energy == nil {
		return nil
	}
	units, ok := EnergyUnits[m.Energy.Fuel]
	if !ok {
		return fmt.Errorf("energy fuel %q: %q or %q is accepted: %w", m.Energy.Fuel, FuelGas, FuelElectricity, ErrInvalid)
	}
	unit, ok := units[m.Energy.Kind]
	if !ok {
		return fmt.Errorf("energy kind %q: %q or %q is accepted: %w", m.Energy.Kind, EnergyCounter, EnergyRate, ErrInvalid)
	}
	if m.Unit != unit {
		return fmt.Errorf("unit %q: a %s %s is in %q: %w", m.Unit, m.Energy.Fuel, m.Energy.Kind, unit, ErrInvalid)
	}
	if m.Outdoor {
		return fmt.Errorf("a metric carries energy or measures the outdoor temperature, not both: %w", ErrInvalid)
	}
	return nil
}

// MetricState is one value of a metric and its word, by language tag
// ({"en": "Running", "ja": "運転"}).
type MetricState struct {
	Value  float64           `json:"value"`
	Labels map[string]string `json:"labels"`
}

// Audiences of a metric.
const (
	AudienceEveryone  = "everyone"
	AudienceOperators = "operators"
)

// OperatorsOnly reports whether only operators see the metric on the
// pages.
func (m Metric) OperatorsOnly() bool { return m.Audience == AudienceOperators }

// Limits of a metric's presentation.
const (
	// MaxDecimals bounds a metric's decimals.
	MaxDecimals = 6
	// MaxStates bounds a metric's states.
	MaxStates = 64
)

// MetricNames lists the names of the type's declared metrics, nil when it
// declares none.
func (t DeviceType) MetricNames() []string {
	if len(t.Metrics) == 0 {
		return nil
	}
	out := make([]string, 0, len(t.Metrics))
	for _, m := range t.Metrics {
		out = append(out, m.Name)
	}
	return out
}

// metricName is what a declared metric may be called: a Prometheus metric
// name, as devices' metric names are stored.
var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// Setting value types.
const (
	SettingNumber  = "number"
	SettingInteger = "integer"
	SettingString  = "string"
	SettingBoolean = "boolean"
	SettingObject  = "object"
	SettingArray   = "array"
)

// Limits of a device type.
const (
	// MaxSettings bounds the settings of one device type.
	MaxSettings = 256
	// maxSettingSchema bounds a setting's JSON Schema.
	maxSettingSchema = 16 << 10
	// maxDescriptionLen bounds descriptions.
	maxDescriptionLen = 1024
	// maxLabelLanguages bounds the languages of one label.
	maxLabelLanguages = 16
	// maxLanguageTagLen bounds a language tag; BCP 47 recommends
	// supporting 35 characters.
	maxLanguageTagLen = 35
)

// PutDeviceType creates a device type or replaces the one of the same name,
// keeping its CreatedAt. It returns the stored record.
func (s *Store) PutDeviceType(t DeviceType) (DeviceType, error) {
	if err := checkDeviceType(t); err != nil {
		return DeviceType{}, fmt.Errorf("put device type %q: %w", t.Name, err)
	}
	at := now()
	t.UpdatedAt = at
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketDeviceTypes))
		var old DeviceType
		ok, err := getJSON(b, []byte(t.Name), &old)
		if err != nil {
			return err
		}
		t.CreatedAt = at
		if ok {
			t.CreatedAt = old.CreatedAt
		}
		return putJSON(b, []byte(t.Name), t)
	})
	if err != nil {
		return DeviceType{}, fmt.Errorf("put device type %q: %w", t.Name, err)
	}
	return t, nil
}

// keyOfferedTypes holds in the meta bucket the names of the device types
// SeedDeviceTypes has offered this file, as a JSON array, so that each is
// offered once in the file's life.
const keyOfferedTypes = "offered_device_types"

// SeedDeviceTypes offers types to the file: each one it was never offered
// before is created unless a type of its name exists, and is remembered
// as offered either way, in the same transaction. It returns the names it
// created.
//
// So a type offered once is never created again: an operator's changes
// to it stay, and a type the operator deleted stays deleted, across
// restarts and upgrades; a type a later release adds is offered on that
// release's first start. A type of the same name the operator defined
// before is theirs and is kept as it is.
func (s *Store) SeedDeviceTypes(types []DeviceType) ([]string, error) {
	for _, t := range types {
		if err := checkDeviceType(t); err != nil {
			return nil, fmt.Errorf("seed device type %q: %w", t.Name, err)
		}
	}
	// Most starts have nothing to offer; a read answers that without the
	// write a bbolt update costs even when it changes nothing.
	var offered map[string]bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		offered, err = readOffered(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("seed device types: %w", err)
	}
	if !slices.ContainsFunc(types, func(t DeviceType) bool { return !offered[t.Name] }) {
		return nil, nil
	}
	var created []string
	err = s.update(func(tx *bolt.Tx) error {
		created = nil
		offered, err := readOffered(tx)
		if err != nil {
			return err
		}
		b := tx.Bucket([]byte(bucketDeviceTypes))
		at := now()
		for _, t := range types {
			if offered[t.Name] {
				continue
			}
			offered[t.Name] = true
			if b.Get([]byte(t.Name)) != nil {
				continue
			}
			t.CreatedAt, t.UpdatedAt = at, at
			if err := putJSON(b, []byte(t.Name), t); err != nil {
				return err
			}
			created = append(created, t.Name)
		}
		return putJSON(tx.Bucket([]byte(bucketMeta)), []byte(keyOfferedTypes), slices.Sorted(maps.Keys(offered)))
	})
	if err != nil {
		return nil, fmt.Errorf("seed device types: %w", err)
	}
	return created, nil
}

// readOffered reads the names of the device types offered to the file.
func readOffered(tx *bolt.Tx) (map[string]bool, error) {
	var names []string
	if _, err := getJSON(tx.Bucket([]byte(bucketMeta)), []byte(keyOfferedTypes), &names); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// GetDeviceType returns the device type name.
func (s *Store) GetDeviceType(name string) (DeviceType, error) {
	t, err := getRecord[DeviceType](s, bucketDeviceTypes, name)
	if err != nil {
		return DeviceType{}, fmt.Errorf("get device type %q: %w", name, err)
	}
	return t, nil
}

// ListDeviceTypes returns every device type, sorted by name.
func (s *Store) ListDeviceTypes() ([]DeviceType, error) {
	out, err := listRecords[DeviceType](s, bucketDeviceTypes)
	if err != nil {
		return nil, fmt.Errorf("list device types: %w", err)
	}
	return out, nil
}

// DeleteDeviceType removes a device type. It refuses with ErrInvalid while
// devices still name it, since they would silently lose their settings
// schema.
func (s *Store) DeleteDeviceType(name string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketDeviceTypes))
		if b.Get([]byte(name)) == nil {
			return ErrNotFound
		}
		n, err := countDevicesOfType(tx, name)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d devices are of this type: %w", n, ErrInvalid)
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete device type %q: %w", name, err)
	}
	return nil
}

// countDevicesOfType reads every device; deleting a type is rare and a
// fleet of ten thousand devices is read in milliseconds, so no index is
// kept for it.
func countDevicesOfType(tx *bolt.Tx, typ string) (int, error) {
	n := 0
	err := tx.Bucket([]byte(bucketDevices)).ForEach(func(k, v []byte) error {
		var d struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("cannot decode device %q: %w", k, err)
		}
		if d.Type == typ {
			n++
		}
		return nil
	})
	return n, err
}

func checkDeviceType(t DeviceType) error {
	if err := checkSlug("device type name", t.Name); err != nil {
		return err
	}
	if err := checkText("description", t.Description, maxDescriptionLen, false); err != nil {
		return err
	}
	if len(t.Settings) > MaxSettings {
		return fmt.Errorf("%d settings, at most %d are accepted: %w", len(t.Settings), MaxSettings, ErrInvalid)
	}
	seen := make(map[string]bool, len(t.Settings))
	for i, st := range t.Settings {
		if err := checkSetting(st); err != nil {
			return fmt.Errorf("setting %d: %w", i+1, err)
		}
		if seen[st.Key] {
			return fmt.Errorf("setting %q is defined twice: %w", st.Key, ErrInvalid)
		}
		seen[st.Key] = true
	}
	if len(t.Metrics) > MaxSettings {
		return fmt.Errorf("%d metrics, at most %d are accepted: %w", len(t.Metrics), MaxSettings, ErrInvalid)
	}
	names := make(map[string]bool, len(t.Metrics))
	for i, m := range t.Metrics {
		if len(m.Name) > maxNameLen || !metricName.MatchString(m.Name) {
			return fmt.Errorf("metric %d: name %q: use letters, digits and '_', not starting with a digit: %w", i+1, m.Name, ErrInvalid)
		}
		if names[m.Name] {
			return fmt.Errorf("metric %q is declared twice: %w", m.Name, ErrInvalid)
		}
		names[m.Name] = true
		if err := checkText("unit", m.Unit, maxNameLen, false); err != nil {
			return fmt.Errorf("metric %q: %w", m.Name, err)
		}
		if err := checkText("description", m.Description, maxDescriptionLen, false); err != nil {
			return fmt.Errorf("metric %q: %w", m.Name, err)
		}
		if err := checkLabels("labels", m.Labels); err != nil {
			return fmt.Errorf("metric %q: %w", m.Name, err)
		}
		if err := checkPresentation(m); err != nil {
			return fmt.Errorf("metric %q: %w", m.Name, err)
		}
		if err := checkEnergy(m); err != nil {
			return fmt.Errorf("metric %q: %w", m.Name, err)
		}
		if m.Outdoor && m.Unit != "°C" {
			return fmt.Errorf("metric %q: an outdoor temperature is in \"°C\", not %q: %w", m.Name, m.Unit, ErrInvalid)
		}
	}
	if len(t.Topics) > maxTopics {
		return fmt.Errorf("%d topics, at most %d are accepted: %w", len(t.Topics), maxTopics, ErrInvalid)
	}
	topics := make(map[string]bool, len(t.Topics))
	for _, tp := range t.Topics {
		if tp == "" || len(tp) > 256 {
			return fmt.Errorf("topic %q: 1 to 256 bytes: %w", tp, ErrInvalid)
		}
		if topics[tp] {
			return fmt.Errorf("topic %q is declared twice: %w", tp, ErrInvalid)
		}
		topics[tp] = true
	}
	if r := t.TelemetryRate; r != nil && (!(r.SamplesPerSecond > 0) || r.SamplesPerSecond > 1e7 || r.Burst < 1 || r.Burst > 1e9) {
		return fmt.Errorf("telemetry_rate: samples_per_second above 0 (at most 10,000,000) and a burst of 1 to 1,000,000,000: %w", ErrInvalid)
	}
	return nil
}

// checkPresentation checks how a metric is shown: its decimals, audience
// and states.
func checkPresentation(m Metric) error {
	if m.Decimals != nil && (*m.Decimals < 0 || *m.Decimals > MaxDecimals) {
		return fmt.Errorf("decimals %d: 0 to %d are accepted: %w", *m.Decimals, MaxDecimals, ErrInvalid)
	}
	switch m.Audience {
	case "", AudienceEveryone, AudienceOperators:
	default:
		return fmt.Errorf("audience %q: %q or %q is accepted: %w", m.Audience, AudienceEveryone, AudienceOperators, ErrInvalid)
	}
	if len(m.States) > MaxStates {
		return fmt.Errorf("%d states, at most %d are accepted: %w", len(m.States), MaxStates, ErrInvalid)
	}
	seen := make(map[float64]bool, len(m.States))
	for _, st := range m.States {
		if math.IsNaN(st.Value) || math.IsInf(st.Value, 0) {
			return fmt.Errorf("a state's value must be a finite number: %w", ErrInvalid)
		}
		if seen[st.Value] {
			return fmt.Errorf("state %v is named twice: %w", st.Value, ErrInvalid)
		}
		seen[st.Value] = true
		if len(st.Labels) == 0 {
			return fmt.Errorf("state %v has no word; give it labels by language (\"en\": \"Running\"): %w", st.Value, ErrInvalid)
		}
		if err := checkLabels(fmt.Sprintf("state %v labels", st.Value), st.Labels); err != nil {
			return err
		}
	}
	return nil
}

// maxTopics bounds a device type's topic templates.
const maxTopics = 10

// TelemetryRate is how many samples a second a device may have stored on
// average, and how many at once.
type TelemetryRate struct {
	SamplesPerSecond float64 `json:"samples_per_second"`
	Burst            int     `json:"burst"`
}

func checkSetting(st Setting) error {
	if err := checkText("key", st.Key, maxNameLen, true); err != nil {
		return err
	}
	switch st.Type {
	case SettingNumber, SettingInteger, SettingString, SettingBoolean, SettingObject, SettingArray:
	default:
		return fmt.Errorf("setting %q has type %q; number, integer, string, boolean, object or array is accepted: %w", st.Key, st.Type, ErrInvalid)
	}
	if err := checkText("unit", st.Unit, maxNameLen, false); err != nil {
		return fmt.Errorf("setting %q: %w", st.Key, err)
	}
	if err := checkText("description", st.Description, maxDescriptionLen, false); err != nil {
		return fmt.Errorf("setting %q: %w", st.Key, err)
	}
	if len(st.Schema) > maxSettingSchema {
		return fmt.Errorf("setting %q has a schema of %d bytes, at most %d are accepted: %w", st.Key, len(st.Schema), maxSettingSchema, ErrInvalid)
	}
	for _, v := range st.Enum {
		if !json.Valid(v) {
			return fmt.Errorf("setting %q has an allowed value that is not JSON: %w", st.Key, ErrInvalid)
		}
	}
	if len(st.Schema) > 0 && !json.Valid(st.Schema) {
		return fmt.Errorf("setting %q has a schema that is not JSON: %w", st.Key, ErrInvalid)
	}
	if err := checkLabels("labels", st.Labels); err != nil {
		return fmt.Errorf("setting %q: %w", st.Key, err)
	}
	// Only allowed values have labels, so there are no more of them than
	// allowed values.
	if len(st.ValueLabels) > len(st.Enum) {
		return fmt.Errorf("setting %q has labels for %d values and %d allowed values; only allowed values are labelled: %w", st.Key, len(st.ValueLabels), len(st.Enum), ErrInvalid)
	}
	for _, v := range slices.Sorted(maps.Keys(st.ValueLabels)) {
		if err := checkText("labelled value", v, maxDescriptionLen, true); err != nil {
			return fmt.Errorf("setting %q: %w", st.Key, err)
		}
		if err := checkLabels(fmt.Sprintf("value_labels of %q", v), st.ValueLabels[v]); err != nil {
			return fmt.Errorf("setting %q: %w", st.Key, err)
		}
	}
	return nil
}

// checkLabels checks the shape of labels by language: whether the tags
// are BCP 47 is package device's to decide.
func checkLabels(field string, labels map[string]string) error {
	if len(labels) > maxLabelLanguages {
		return fmt.Errorf("%s has %d languages, at most %d are accepted: %w", field, len(labels), maxLabelLanguages, ErrInvalid)
	}
	for _, lang := range slices.Sorted(maps.Keys(labels)) {
		if err := checkText(field+" language", lang, maxLanguageTagLen, true); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("%s[%q]", field, lang), labels[lang], maxNameLen, true); err != nil {
			return err
		}
	}
	return nil
}
