package sim

import (
	"encoding/json"

	"github.com/hearthiot/hearth/protocol/program"
)

// DeviceType is the device type that simulated devices of kind belong to,
// named after the kind, as Hearth's API takes it (PUT
// /api/v1/device-types/{name}): the settings the simulated equipment
// understands, with the ranges customers may choose from. A simulated
// chiller takes a little more than that (see its setting limits), as a
// real controller does.
func DeviceType(kind Kind) (name string, doc json.RawMessage) {
	type setting struct {
		Key              string          `json:"key"`
		Type             string          `json:"type"`
		Unit             string          `json:"unit,omitempty"`
		Description      string          `json:"description,omitempty"`
		Minimum          *float64        `json:"minimum,omitempty"`
		Maximum          *float64        `json:"maximum,omitempty"`
		Step             *float64        `json:"step,omitempty"`
		Enum             []string        `json:"enum,omitempty"`
		Schema           json.RawMessage `json:"schema,omitempty"`
		CustomerEditable bool            `json:"customer_editable"`
	}
	f := func(v float64) *float64 { return &v }
	t := struct {
		Description string    `json:"description"`
		Settings    []setting `json:"settings"`
	}{Settings: []setting{}}
	switch kind {
	case KindChiller:
		t.Description = "Absorption chiller-heater"
		t.Settings = []setting{
			{Key: keyMode, Type: "string", Description: "Operating mode", Enum: []string{"cooling", "heating", "off"}, CustomerEditable: true},
			{Key: keyChwSetpoint, Type: "number", Unit: "°C", Description: "Chilled water set-point", Minimum: f(5), Maximum: f(12), Step: f(0.5), CustomerEditable: true},
			{Key: keyHwSetpoint, Type: "number", Unit: "°C", Description: "Hot water set-point", Minimum: f(40), Maximum: f(60), Step: f(0.5), CustomerEditable: true},
			{Key: program.Key, Type: "object", Description: "Daily operating program", Schema: json.RawMessage(program.JSONSchema)},
		}
	default:
		t.Description = "Indoor air-quality sensor (CO2, temperature, humidity)"
	}
	b, err := json.Marshal(t)
	if err != nil {
		panic(err) // a fixed document
	}
	return string(kind), b
}
