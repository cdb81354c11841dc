package api_test

import (
	"net/http"
	"testing"
)

// registerMap is a small register map of Modbus TCP equipment.
const registerMap = `source:
  tcp: 127.0.0.1:1502
  unit_id: 1
points:
  - metric: chw_supply_c
    function: input
    address: 0
    type: int16
    scale: 0.01
  - setting: mode
    function: holding
    address: 0
    type: uint16
    writable: true
    values: {off: 0, cooling: 1, heating: 2}
`

// TestPollMapRoutes: operators give a device a register map, read it back
// as written, and take it away; a wrong map is refused naming its lines.
func TestPollMapRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	path := "/api/v1/devices/" + acmeDevice + "/modbus"
	yamlBody := map[string]string{"Content-Type": "application/yaml"}
	e.run(t, []scenario{
		{name: "none yet", method: http.MethodGet, path: path, as: asOperator, status: http.StatusNotFound},
		{name: "give it one", method: http.MethodPut, path: path, as: asOperator, header: yamlBody, body: registerMap, status: http.StatusCreated,
			contains: []string{`"device":"` + acmeDevice + `"`, `"source":"tcp 127.0.0.1:1502"`, `"points":2`, `"polled":false`}},
		{name: "replace it", method: http.MethodPut, path: path, as: asOperator, header: yamlBody, body: registerMap, status: http.StatusOK},
		{name: "a wrong map", method: http.MethodPut, path: path, as: asOperator, header: yamlBody,
			body: "source:\n  tcp: 127.0.0.1:1502\npoints:\n  - metric: x\n    function: coil\n    address: -1\n", status: http.StatusBadRequest,
			contains: []string{`"problems":[{"line":`}},
		{name: "as JSON", method: http.MethodPut, path: path, as: asOperator, body: `{"source":{}}`, status: http.StatusUnsupportedMediaType},
		{name: "a customer may not", method: http.MethodGet, path: path, as: asAcme, status: http.StatusForbidden},
		{name: "stop polling", method: http.MethodDelete, path: path, as: asOperator, status: http.StatusNoContent},
		{name: "stopped", method: http.MethodGet, path: path, as: asOperator, status: http.StatusNotFound},
	})
	// The map reads back as it was written, as YAML.
	put := e.do(t, e.api.Handler(), scenario{method: http.MethodPut, path: path, as: asOperator, header: yamlBody, body: registerMap})
	if put.Code != http.StatusCreated {
		t.Fatalf("put: %d %s", put.Code, put.Body)
	}
	rec := e.do(t, e.api.Handler(), scenario{method: http.MethodGet, path: path, as: asOperator})
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml; charset=utf-8" || rec.Body.String() != registerMap {
		t.Errorf("get: %d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}
