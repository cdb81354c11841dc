package api_test

import (
	"net/http"
	"testing"
)

// TestMetricPresentation: a device type's metrics carry their decimals,
// audience and states through the API; a bad one is refused naming the
// metric and what was wrong.
func TestMetricPresentation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	good := `{"settings": [], "metrics": [
		{"name": "running", "labels": {"en": "Operation", "ja": "運転"}, "decimals": 0,
		 "states": [{"value": 0, "labels": {"en": "Stopped", "ja": "停止"}}, {"value": 1, "labels": {"en": "Running", "ja": "運転"}}]},
		{"name": "agent_spool_backlog", "audience": "operators"}]}`
	e.run(t, []scenario{
		{name: "put", method: http.MethodPut, path: "/api/v1/device-types/pump", as: asOperator, body: good,
			status: http.StatusCreated, contains: []string{`"audience":"operators"`, `"decimals":0`, `"value":1`, `"Running"`}},
		{name: "read back", method: http.MethodGet, path: "/api/v1/device-types/pump", as: asOperator,
			status: http.StatusOK, contains: []string{`"labels":{"en":"Stopped","ja":"停止"}`}},
		{name: "an audience nobody has", method: http.MethodPut, path: "/api/v1/device-types/pump", as: asOperator,
			body:   `{"settings": [], "metrics": [{"name": "x", "audience": "customers"}]}`,
			status: http.StatusBadRequest, contains: []string{`metric \"x\"`, `audience \"customers\"`}},
		{name: "too many decimals", method: http.MethodPut, path: "/api/v1/device-types/pump", as: asOperator,
			body:   `{"settings": [], "metrics": [{"name": "x", "decimals": 9}]}`,
			status: http.StatusBadRequest, contains: []string{`metric \"x\"`, "decimals 9"}},
		{name: "a state's language is not a tag", method: http.MethodPut, path: "/api/v1/device-types/pump", as: asOperator,
			body:   `{"settings": [], "metrics": [{"name": "x", "states": [{"value": 1, "labels": {"english": "On"}}]}]}`,
			status: http.StatusBadRequest, contains: []string{`metric \"x\"`, "BCP 47"}},
		{name: "unchanged after the refusals", method: http.MethodGet, path: "/api/v1/device-types/pump", as: asOperator,
			status: http.StatusOK, contains: []string{`"audience":"operators"`}},
	})
}
