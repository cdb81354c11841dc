package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// boilerType defines the seeded devices' type: a flow temperature customers
// may change within 40–75 °C in steps of 0.5, and a burner limit only
// operators change.
const boilerType = `{
	"description": "Gas condensing boiler",
	"settings": [
		{"key": "flow_temp", "type": "number", "unit": "°C", "minimum": 40, "maximum": 75, "step": 0.5, "customer_editable": true},
		{"key": "burner_limit", "type": "integer", "unit": "%", "minimum": 10, "maximum": 100}
	]
}`

func TestDeviceTypeRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{realClock: true})
	const types = "/api/v1/device-types"
	e.run(t, []scenario{
		{name: "customer may not define types", method: http.MethodPut, path: types + "/boiler", as: asAcme,
			body: boilerType, status: http.StatusForbidden},
		{name: "customer may not list types", method: http.MethodGet, path: types, as: asAcme, status: http.StatusForbidden},
		{name: "settings that cannot hold", method: http.MethodPut, path: types + "/boiler", as: asOperator,
			body:   `{"settings": [{"key": "flow_temp", "type": "number", "minimum": 80, "maximum": 75}]}`,
			status: http.StatusBadRequest, contains: []string{`"code":"invalid"`, `setting \"flow_temp\": minimum 80 is above maximum 75`}},
		{name: "unknown type of value", method: http.MethodPut, path: types + "/boiler", as: asOperator,
			body:   `{"settings": [{"key": "flow_temp", "type": "float"}]}`,
			status: http.StatusBadRequest, contains: []string{`setting \"flow_temp\": type \"float\": number, integer, string, boolean, object or array is accepted`}},
		{name: "unknown field", method: http.MethodPut, path: types + "/boiler", as: asOperator,
			body:   `{"settings": [{"key": "flow_temp", "type": "number", "max": 3}]}`,
			status: http.StatusBadRequest, contains: []string{`"code":"invalid"`, "max"}},
		{name: "settings required", method: http.MethodPut, path: types + "/boiler", as: asOperator,
			body: `{"description": "x"}`, status: http.StatusBadRequest, contains: []string{`field \"settings\": required`}},
		{name: "refused type was not stored", method: http.MethodGet, path: types + "/boiler", as: asOperator, status: http.StatusNotFound},
		{name: "create", method: http.MethodPut, path: types + "/boiler", as: asOperator,
			body: boilerType, status: http.StatusCreated, contains: []string{`"name":"boiler"`, `"key":"flow_temp"`, `"customer_editable":true`}},
		{name: "replace", method: http.MethodPut, path: types + "/boiler", as: asOperator,
			body: boilerType, status: http.StatusOK, contains: []string{`"name":"boiler"`}},
		{name: "labels in two languages", method: http.MethodPut, path: types + "/fan", as: asOperator,
			body: `{"settings": [{"key": "speed", "type": "string", "enum": ["low", "high"], "labels": {"en": "Fan speed", "ja": "風量"},
				"value_labels": {"low": {"en": "Low", "ja": "弱"}, "high": {"en": "High", "ja": "強"}}}]}`,
			status: http.StatusCreated, contains: []string{`"labels":{"en":"Fan speed","ja":"風量"}`, `"value_labels":{"high":{"en":"High","ja":"強"},"low":{"en":"Low","ja":"弱"}}`}},
		{name: "a label of a value not allowed", method: http.MethodPut, path: types + "/fan", as: asOperator,
			body:   `{"settings": [{"key": "speed", "type": "string", "enum": ["low"], "value_labels": {"lo": {"en": "Low"}}}]}`,
			status: http.StatusBadRequest, contains: []string{`value_labels name \"lo\", which is not an allowed value`}},
		{name: "list", method: http.MethodGet, path: types, as: asOperator,
			status: http.StatusOK, contains: []string{`"device_types":[{"name":"boiler"`, `"unit":"°C"`}},
		{name: "show", method: http.MethodGet, path: types + "/fan", as: asOperator,
			status: http.StatusOK, contains: []string{`"name":"fan"`, `"key":"speed"`}},
		{name: "delete a type no device is of", method: http.MethodDelete, path: types + "/fan", as: asOperator, status: http.StatusNoContent},
		{name: "deleted", method: http.MethodGet, path: types + "/fan", as: asOperator, status: http.StatusNotFound},
		{name: "device settings for its customer", method: http.MethodGet, path: "/api/v1/devices/" + acmeDevice + "/settings", as: asAcme,
			status: http.StatusOK, contains: []string{`"type":"boiler","defined":true`, `"key":"burner_limit"`}},
		{name: "device settings of another customer", method: http.MethodGet, path: "/api/v1/devices/" + globexDevice + "/settings", as: asAcme,
			status: http.StatusNotFound, notContains: []string{"boiler"}},
		{name: "a type in use stays", method: http.MethodDelete, path: types + "/boiler", as: asOperator,
			status: http.StatusBadRequest, contains: []string{"2 devices are of this type"}},
		{name: "delete unknown", method: http.MethodDelete, path: types + "/nope", as: asOperator, status: http.StatusNotFound},
	})
}

func TestShadowSettingsRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{realClock: true})
	e.run(t, []scenario{
		{name: "define the type", method: http.MethodPut, path: "/api/v1/device-types/boiler", as: asOperator,
			body: boilerType, status: http.StatusCreated},
		{name: "customer sets an editable key", method: http.MethodPatch, path: acmeShadow, as: asAcme,
			body: `{"state":{"desired":{"flow_temp":55.5}}}`, status: http.StatusOK, contains: []string{`"flow_temp":55.5`, `"version":1`}},
		{name: "customer out of range", method: http.MethodPatch, path: acmeShadow, as: asAcme,
			body:   `{"state":{"desired":{"flow_temp":90}}}`,
			status: http.StatusBadRequest,
			contains: []string{`"message":"desired.flow_temp: 90 is above the maximum 75 °C"`,
				`"violations":[{"key":"flow_temp","rule":"maximum","message":"desired.flow_temp: 90 is above the maximum 75 °C"}]`}},
		{name: "customer off the step", method: http.MethodPatch, path: acmeShadow, as: asAcme,
			body: `{"state":{"desired":{"flow_temp":55.2}}}`, status: http.StatusBadRequest, contains: []string{`"rule":"step"`}},
		{name: "customer on an operator's key", method: http.MethodPatch, path: acmeShadow, as: asAcme,
			body:   `{"state":{"desired":{"burner_limit":50}}}`,
			status: http.StatusForbidden, contains: []string{`desired.burner_limit: customers may not change this setting of device type \"boiler\"`}},
		{name: "customer reports", method: http.MethodPatch, path: acmeShadow, as: asAcme,
			body: `{"state":{"reported":{"flow_temp":50}}}`, status: http.StatusForbidden},
		{name: "customer on another customer's device", method: http.MethodPatch, path: globexShadow, as: asAcme,
			body: `{"state":{"desired":{"flow_temp":50}}}`, status: http.StatusNotFound, notContains: []string{globexDevice}},
		{name: "operator on an operator's key", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body: `{"state":{"desired":{"burner_limit":50}}}`, status: http.StatusOK, contains: []string{`"version":2`}},
		{name: "operator on an unknown key", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body: `{"state":{"desired":{"flow_tmp":50}}}`, status: http.StatusBadRequest, contains: []string{`"rule":"unknown_key"`}},
		{name: "reported out of range is stored", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body: `{"state":{"reported":{"flow_temp":82,"burner_limit":50}}}`, status: http.StatusOK, contains: []string{`"flow_temp":82`, `"version":3`}},
		{name: "and flagged beside the document", method: http.MethodGet, path: acmeShadow, as: asAcme, status: http.StatusOK,
			contains: []string{`"reported":{"burner_limit":50,"flow_temp":82}`,
				`"violations":[{"key":"flow_temp","rule":"maximum","message":"reported.flow_temp: 82 is above the maximum 75 °C"}]}`}},
		{name: "and in the history", method: http.MethodGet, path: acmeShadow + "/history?limit=1", as: asAcme, status: http.StatusOK,
			contains: []string{`"version":3`, `"flags":[{"section":"reported","key":"flow_temp","rule":"maximum"`}},
		{name: "history names the customer's token", method: http.MethodGet, path: acmeShadow + "/history?actor=token:acme-token", as: asOperator,
			status: http.StatusOK, contains: []string{`"version":1`, `"actor":"token:acme-token"`}, notContains: []string{`"version":2`}},
	})
}

// A type's declared metrics are set and read through the API, and alarm
// rules on the type may name only them.
func TestDeviceTypeMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	put := `{"settings": [], "metrics": [{"name": "flow_lpm", "unit": "L/min", "labels": {"en": "Flow", "ja": "流量"}}, {"name": "pressure_bar", "unit": "bar"}]}`
	rec := e.do(t, e.api.Handler(), scenario{method: "PUT", path: "/api/v1/device-types/pump", as: asOperator, body: put})
	if rec.Code != http.StatusCreated {
		t.Fatalf("put: %d %s", rec.Code, rec.Body)
	}
	var got struct {
		Metrics []struct {
			Name, Unit string
			Labels     map[string]string
		} `json:"metrics"`
	}
	rec = e.do(t, e.api.Handler(), scenario{method: "GET", path: "/api/v1/device-types/pump", as: asOperator})
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.Metrics) != 2 || got.Metrics[0].Unit != "L/min" || got.Metrics[0].Labels["ja"] != "流量" {
		t.Fatalf("the type's metrics: %s", rec.Body)
	}
	for _, tt := range []struct {
		cond   string
		status int
	}{{"flow_lpm < 3", http.StatusCreated}, {"flow < 3", http.StatusBadRequest}} {
		body := `{"name": "x", "customer": "acme", "device_type": "pump", "severity": "minor", "condition": "` + tt.cond + `"}`
		if rec := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/alarm-rules", as: asOperator, body: body}); rec.Code != tt.status {
			t.Errorf("a rule on %q: %d %s; want %d", tt.cond, rec.Code, rec.Body, tt.status)
		}
	}
	if rec := e.do(t, e.api.Handler(), scenario{method: "PUT", path: "/api/v1/device-types/pump", as: asOperator, body: `{"settings": [], "metrics": [{"name": "9lives"}]}`}); rec.Code != http.StatusBadRequest {
		t.Errorf("a metric name that is not one: %d", rec.Code)
	}
}
