package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Message rules through the API: created from AWS IoT SQL as the contract
// says (201, translated), refused naming what is wrong, tried on a message
// (dry run: what each action would do, nothing done), replaced, listed,
// deleted; customers read their own and write none.
func TestMessageRulesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	call := func(as, method, path, body string, status int, out any) {
		t.Helper()
		rec := e.do(t, e.api.Handler(), scenario{method: method, path: path, as: as, body: body})
		if rec.Code != status {
			t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, as, rec.Code, status, rec.Body)
		}
		if out != nil {
			if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
	}
	type rule struct {
		ID        string `json:"id"`
		Topic     string `json:"topic"`
		Condition string `json:"condition"`
		Select    []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"select"`
		Stats struct {
			Matched int `json:"matched"`
		} `json:"stats"`
	}
	body := `{"name": "chiller data", "sql": "SELECT temp AS chw_supply_c, ts FROM 'dt/+/+/data' WHERE temp > -50", "actions": [{"kind": "telemetry"}]}`
	call(asAcme, "POST", "/api/v1/rules", body, http.StatusForbidden, nil)
	var r rule
	call(asOperator, "POST", "/api/v1/rules", body, http.StatusCreated, &r)
	if r.ID == "" || r.Topic != "dt/+/+/data" || r.Condition != "temp > -50" || len(r.Select) != 2 || r.Select[0].Name != "chw_supply_c" || r.Select[0].Expr != "temp" {
		t.Fatalf("created: %+v", r)
	}
	for _, bad := range []struct{ body, says string }{
		{`{"name": "x", "sql": "SELECT a FROM dt/+", "actions": [{"kind": "telemetry"}]}`, "single quotes"},
		{`{"name": "x", "sql": "SELECT md5(a) AS b FROM 'dt/#'", "actions": [{"kind": "telemetry"}]}`, "function md5 is not supported"},
		{`{"name": "x", "topic": "dt/#/x", "actions": [{"kind": "telemetry"}]}`, `field \"topic\"`},
		{`{"name": "x", "topic": "dt/#", "condition": "temp >", "actions": [{"kind": "telemetry"}]}`, `field \"condition\"`},
		{`{"name": "x", "topic": "dt/#", "actions": [{"kind": "fax"}]}`, `field \"actions[0].kind\"`},
		{`{"name": "x", "topic": "dt/#", "actions": [{"kind": "webhook", "channels": ["ops"]}]}`, "names its customer"},
		{`{"name": "x", "customer": "acme", "topic": "dt/#", "actions": [{"kind": "webhook", "channels": ["ops"]}]}`, `no notification channel named \"ops\"`},
		{`{"name": "x", "topic": "dt/#", "actions": [{"kind": "republish", "topic": "$aws/x"}]}`, `actions[0].topic`},
		{`{"name": "x", "topic": "dt/#", "actions": []}`, "actions"},
	} {
		rec := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/rules", as: asOperator, body: bad.body})
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), bad.says) {
			t.Errorf("%s: %d %s; want 400 saying %q", bad.body, rec.Code, rec.Body, bad.says)
		}
	}

	// A dry run maps the message and says what would be stored.
	var dry struct {
		Matched bool           `json:"matched"`
		Values  map[string]any `json:"values"`
		Device  string         `json:"device"`
		TS      string         `json:"ts"`
		Error   string         `json:"error"`
		Actions []struct {
			Kind    string          `json:"kind"`
			Payload json.RawMessage `json:"payload"`
		} `json:"actions"`
	}
	call(asOperator, "POST", "/api/v1/rules/"+r.ID+"/dry-run",
		`{"device": "`+acmeDevice+`", "topic": "dt/tower/`+acmeDevice+`/data", "payload": {"temp": 7.1, "ts": "2026-12-07T10:00:00+09:00"}}`, http.StatusOK, &dry)
	if !dry.Matched || dry.Device != acmeDevice || dry.Values["chw_supply_c"] != 7.1 || dry.TS != "2026-12-07T01:00:00Z" ||
		len(dry.Actions) != 1 || string(dry.Actions[0].Payload) != `{"ts":1796605200000,"values":{"chw_supply_c":7.1}}` {
		t.Fatalf("dry run: %+v", dry)
	}
	// A payload that is not JSON, a device named that the publisher may not
	// speak for, a topic outside the filter.
	for _, c := range []struct{ body, says string }{
		{`{"device": "` + acmeDevice + `", "topic": "dt/a/b/data", "payload": "not json"}`, "not a JSON object"},
		{`{"device": "` + acmeDevice + `", "topic": "dt/a/b/data", "payload": {"temp": 7, "ts": "yesterday"}}`, "timestamp"},
		{`{"device": "` + acmeDevice + `", "topic": "dt/a/b/other", "payload": {"temp": 7}}`, "not under the rule's filter"},
	} {
		dry.Error = ""
		call(asOperator, "POST", "/api/v1/rules/"+r.ID+"/dry-run", c.body, http.StatusOK, &dry)
		if !strings.Contains(dry.Error, c.says) {
			t.Errorf("dry run %s: error %q; want %q", c.body, dry.Error, c.says)
		}
	}
	call(asOperator, "POST", "/api/v1/rules/dry-run", `{"rule": {"name": "g", "topic": "gw/+/data", "select": [{"name": "device", "expr": "sensor"}, {"expr": "*"}],
		"actions": [{"kind": "republish", "topic": "hearth/things/${device}/mapped"}]}, "device": "`+acmeDevice+`", "topic": "gw/1/data", "payload": {"sensor": "`+globexDevice+`", "co2": 500}}`, http.StatusOK, &dry)
	if !strings.Contains(dry.Error, "may speak only for itself") {
		t.Fatalf("a gateway naming a device it may not speak for: %+v", dry)
	}
	call(asOperator, "POST", "/api/v1/rules/dry-run", `{"device": "`+acmeDevice+`", "topic": "a", "payload": {}}`, http.StatusBadRequest, nil)

	// Replaced, listed (the customer sees none of the operator's global
	// rules' … and its own only), deleted.
	call(asOperator, "PUT", "/api/v1/rules/"+r.ID, `{"name": "chiller data", "customer": "acme", "topic": "dt/+/+/data", "actions": [{"kind": "shadow"}]}`, http.StatusBadRequest, nil)
	call(asOperator, "PUT", "/api/v1/rules/"+r.ID, `{"name": "chiller data", "topic": "dt/+/+/data", "actions": [{"kind": "shadow"}], "disabled": true}`, http.StatusOK, &r)
	call(asOperator, "PUT", "/api/v1/rules/acme-own", `{"name": "acme's", "customer": "acme", "topic": "acme/#", "actions": [{"kind": "event", "code": "acme.data", "level": "info"}]}`, http.StatusCreated, nil)
	var list struct{ Rules []rule }
	call(asAcme, "GET", "/api/v1/rules", "", http.StatusOK, &list)
	if len(list.Rules) != 1 || list.Rules[0].ID != "acme-own" {
		t.Fatalf("acme's rules: %+v", list.Rules)
	}
	call(asAcme, "GET", "/api/v1/rules/"+r.ID, "", http.StatusNotFound, nil)
	call(asAcme, "GET", "/api/v1/rules/acme-own", "", http.StatusOK, &r)
	if r.Topic != "acme/#" {
		t.Fatalf("acme's rule: %+v", r)
	}
	call(asOperator, "GET", "/api/v1/rules", "", http.StatusOK, &list)
	if len(list.Rules) != 2 {
		t.Fatalf("operator's rules: %+v", list.Rules)
	}
	call(asAcme, "DELETE", "/api/v1/rules/acme-own", "", http.StatusForbidden, nil)
	call(asOperator, "DELETE", "/api/v1/rules/acme-own", "", http.StatusNoContent, nil)
	call(asOperator, "GET", "/api/v1/rules/acme-own", "", http.StatusNotFound, nil)
}
