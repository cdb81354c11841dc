package api_test

import (
	"encoding/json"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// TestStrategies: operators switch a site's strategies and a device's own
// setting; customers read them and what they changed, and switch nothing;
// wrong requests say what was wrong.
func TestStrategies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	site := "/api/v1/customers/acme/sites/acme-hq/strategies"
	if err := e.store.AddStrategyChanges([]store.StrategyChange{
		{Customer: acme, Site: acmeSite, Device: acmeDevice, Strategy: "setpoint_reset", At: testNow, Action: "set", Key: "hw_setpoint_c",
			From: json.RawMessage("55"), To: json.RawMessage("50"), Reason: "load 20 %"},
		{Customer: acme, Site: acmeSite, Device: acmeDevice, Strategy: "setpoint_reset", At: testNow.Add(15 * 60e9), Action: "yield", Key: "hw_setpoint_c",
			From: json.RawMessage("50"), To: json.RawMessage("58"), Reason: "a person's value holds", By: "user:a@acme.example"},
	}); err != nil {
		t.Fatal(err)
	}
	e.run(t, []scenario{
		{name: "every strategy, off", method: "GET", path: site, as: asAcme, status: 200,
			contains: []string{`"name":"setpoint_reset","enabled":false`, `"name":"co2_ventilation"`, `"name":"optimum_start"`}},
		{name: "a customer switches nothing", method: "PUT", path: site + "/setpoint_reset", as: asAcme, body: `{"enabled":true}`, status: 403,
			contains: []string{"for operators"}},
		{name: "on for the site", method: "PUT", path: site + "/setpoint_reset", as: asOperator, body: `{"enabled":true}`, status: 200,
			contains: []string{`"strategy":"setpoint_reset"`, `"enabled":true`, `"updated_by":"token:`}},
		{name: "off for one device", method: "PUT", path: site + "/setpoint_reset/devices/" + acmeDevice, as: asOperator, body: `{"enabled":false}`, status: 200,
			contains: []string{`"device":"` + acmeDevice + `"`, `"enabled":false`}},
		{name: "listed", method: "GET", path: site, as: asAcme, status: 200,
			contains: []string{`"name":"setpoint_reset","enabled":true`, `"devices":[{"device":"` + acmeDevice + `","enabled":false`}},
		{name: "the device follows its site again", method: "DELETE", path: site + "/setpoint_reset/devices/" + acmeDevice, as: asOperator, status: 204},
		{name: "removed twice", method: "DELETE", path: site + "/setpoint_reset/devices/" + acmeDevice, as: asOperator, status: 404},
		{name: "a site's setting is not removed", method: "GET", path: site, as: asOperator, status: 200, contains: []string{`"devices":[]`}},
		{name: "an unknown strategy", method: "PUT", path: site + "/night_purge", as: asOperator, body: `{"enabled":true}`, status: 404, contains: []string{"strategy not found"}},
		{name: "enabled is required", method: "PUT", path: site + "/optimum_start", as: asOperator, body: `{}`, status: 400, contains: []string{`field \"enabled\": required`}},
		{name: "enabled is a boolean", method: "PUT", path: site + "/optimum_start", as: asOperator, body: `{"enabled":"yes"}`, status: 400},
		{name: "no other field", method: "PUT", path: site + "/optimum_start", as: asOperator, body: `{"enabled":true,"lead":3}`, status: 400},
		{name: "a device of no such site", method: "PUT", path: "/api/v1/customers/acme/sites/elsewhere/strategies/optimum_start/devices/" + acmeDevice, as: asOperator, body: `{"enabled":true}`, status: 404},
		{name: "changes, newest first", method: "GET", path: "/api/v1/customers/acme/sites/acme-hq/strategy-changes", as: asAcme, status: 200,
			contains: []string{`"changes":[{"customer":"acme","site":"acme-hq","device":"acme-boiler-1","strategy":"setpoint_reset","at":"2026-`, `"action":"yield"`, `"by":"user:a@acme.example"`}},
		{name: "a device's changes", method: "GET", path: "/api/v1/devices/" + acmeDevice + "/strategy-changes?limit=1", as: asAcme, status: 200,
			contains: []string{`"action":"yield"`}, notContains: []string{`"action":"set"`}},
		{name: "older ones", method: "GET", path: "/api/v1/devices/" + acmeDevice + "/strategy-changes?before=" + testNow.Add(60e9).Format("2006-01-02T15:04:05Z07:00"), as: asAcme, status: 200,
			contains: []string{`"action":"set"`, `"from":55,"to":50`}, notContains: []string{`"action":"yield"`}},
		{name: "a bad limit", method: "GET", path: "/api/v1/devices/" + acmeDevice + "/strategy-changes?limit=0", as: asAcme, status: 400, contains: []string{`parameter \"limit\"`}},
		{name: "a bad time", method: "GET", path: "/api/v1/customers/acme/sites/acme-hq/strategy-changes?before=yesterday", as: asAcme, status: 400, contains: []string{`parameter \"before\"`}},
	})
}
