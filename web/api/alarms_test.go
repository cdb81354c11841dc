package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
)

// The alarm API as its contract says: a rule created with the fields of
// the contract (201), a condition that does not compile refused (400),
// the alarm it raises listed by device, acknowledged and cleared.
func TestAlarmRulesAndAlarms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	call := func(as, method, path, body string, status int, out any) {
		t.Helper()
		rec := e.do(t, e.api.Handler(), scenario{method: method, path: path, as: as, body: body})
		if rec.Code != status {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, rec.Code, status, rec.Body)
		}
		if out != nil {
			if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
	}
	var rule struct {
		ID, Kind, Condition string
		Channels            []string
	}
	call(asOperator, "POST", "/api/v1/notification-channels", `{"name": "ops", "customer": "acme", "kind": "email", "to": ["fm@acme.example"]}`, http.StatusCreated, nil)
	call(asOperator, "POST", "/api/v1/alarm-rules", `{"name": "Hot water too hot", "customer": "acme", "device": "`+acmeDevice+`",
		"severity": "major", "condition": "hw_supply_c > 80", "for": "0s", "channels": ["ops"]}`, http.StatusCreated, &rule)
	if rule.ID == "" || rule.Kind != "telemetry" || rule.Condition != "hw_supply_c > 80" || len(rule.Channels) != 1 {
		t.Fatalf("created rule: %+v", rule)
	}
	for _, bad := range []struct{ body, says string }{
		{`{"name": "x", "customer": "acme", "device": "` + acmeDevice + `", "severity": "major", "condition": "hw_supply_c >"}`, `field \"condition\"`},
		{`{"name": "x", "customer": "acme", "device": "` + acmeDevice + `", "severity": "major", "condition": "1 > 0"}`, "names no metric"},
		{`{"name": "x", "customer": "acme", "device": "nope", "severity": "major", "condition": "hw_supply_c > 1"}`, "no such device"},
		{`{"name": "x", "customer": "acme", "device": "` + acmeDevice + `", "severity": "urgent", "condition": "hw_supply_c > 1"}`, "severity"},
		{`{"name": "x", "customer": "acme", "device": "` + acmeDevice + `", "severity": "major", "condition": "hw_supply_c > 1", "for": "soon"}`, "not a duration"},
		{`{"name": "x", "customer": "acme", "severity": "major", "condition": "hw_supply_c > 1"}`, "name the devices"},
		{`{"name": "x", "customer": "acme", "device": "` + acmeDevice + `", "severity": "major", "condition": "hw_supply_c > 1", "channels": ["pager"]}`, `no notification channel named \"pager\"`},
	} {
		rec := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/alarm-rules", as: asOperator, body: bad.body})
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), bad.says) {
			t.Errorf("%s: %d %s; want 400 saying %q", bad.body, rec.Code, rec.Body, bad.says)
		}
	}

	// A sample over the threshold raises the alarm.
	e.alarms.Handle(events.TelemetryStored{Device: acmeDevice, At: testNow, Readings: []events.Reading{{Metric: "hw_supply_c", Timestamp: testNow.UnixMilli(), Value: 85}}})
	e.alarms.Wait()
	type alarmJSON struct {
		ID           string `json:"id"`
		Rule         string `json:"rule"`
		Device       string `json:"device"`
		Severity     string `json:"severity"`
		State        string `json:"state"`
		Acknowledged bool   `json:"acknowledged"`
		Count        int    `json:"count"`
	}
	var list struct{ Alarms []alarmJSON }
	call(asAcme, "GET", "/api/v1/alarms?device="+acmeDevice, "", http.StatusOK, &list)
	if len(list.Alarms) != 1 {
		t.Fatalf("acme's alarms of its device: %+v", list.Alarms)
	}
	a := list.Alarms[0]
	if a.Rule != rule.ID || a.Device != acmeDevice || a.Severity != "major" || a.State != "active" || a.Acknowledged {
		t.Errorf("the alarm: %+v", a)
	}
	var acked alarmJSON
	call(asAcme, "POST", "/api/v1/alarms/"+a.ID+"/ack", `{"comment": "on it"}`, http.StatusOK, &acked)
	if !acked.Acknowledged || acked.State != "active" {
		t.Errorf("acknowledged: %+v", acked)
	}
	var cleared alarmJSON
	call(asOperator, "POST", "/api/v1/alarms/"+a.ID+"/clear", "", http.StatusOK, &cleared)
	if cleared.State != "cleared" {
		t.Errorf("cleared: %+v", cleared)
	}
	call(asAcme, "GET", "/api/v1/alarms?state=open", "", http.StatusOK, &list)
	if len(list.Alarms) != 0 {
		t.Errorf("open alarms after acknowledging and clearing: %+v", list.Alarms)
	}
	call(asAcme, "GET", "/api/v1/alarms?state=sleeping", "", http.StatusBadRequest, nil)

	// Rules: a customer sees its own, changes none without being an admin.
	var rules struct{ Rules []struct{ ID string } }
	call(asAcme, "GET", "/api/v1/alarm-rules", "", http.StatusOK, &rules)
	if len(rules.Rules) != 1 || rules.Rules[0].ID != rule.ID {
		t.Errorf("acme's rules: %+v", rules)
	}
	call(asAcme, "DELETE", "/api/v1/alarm-rules/"+rule.ID, "", http.StatusForbidden, nil)
	call(asOperator, "DELETE", "/api/v1/alarm-rules/"+rule.ID, "", http.StatusNoContent, nil)
	call(asOperator, "GET", "/api/v1/alarm-rules/"+rule.ID, "", http.StatusNotFound, nil)
	// The alarm stays, as history: raised, acknowledged with the comment,
	// cleared by hand.
	var shown struct {
		alarmJSON
		Fields  map[string]any `json:"fields"`
		History []struct {
			Action, By, Comment string
		} `json:"history"`
	}
	call(asOperator, "GET", "/api/v1/alarms/"+a.ID, "", http.StatusOK, &shown)
	if shown.State != "cleared" || !shown.Acknowledged || shown.Fields["hw_supply_c"] != 85.0 {
		t.Errorf("the alarm after its rule was deleted: %+v", shown)
	}
	var steps []string
	for _, h := range shown.History {
		steps = append(steps, h.Action+" "+h.By+" "+h.Comment)
	}
	if want := []string{"raised  ", "acknowledged token:acme-token on it", "cleared token:operator-token "}; !slices.Equal(steps, want) {
		t.Errorf("history %q, want %q", steps, want)
	}
}

// PUT of a rule creates it under the path's id (201) and replaces it
// (200), checked whole; a rule stays with its customer, and POST of an id
// that exists points to PUT.
func TestAlarmRulePut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	// The built-in boiler type, which declares its metrics.
	builtin, err := device.BuiltinTypes()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.SeedDeviceTypes(builtin); err != nil {
		t.Fatal(err)
	}
	type ruleJSON struct {
		ID, Name, Customer, Kind, Severity, Condition, For string
		DeviceType                                         string `json:"device_type"`
		CreatedAt                                          string `json:"created_at"`
		UpdatedAt                                          string `json:"updated_at"`
	}
	put := func(as, id, body string, status int) ruleJSON {
		t.Helper()
		rec := e.do(t, e.api.Handler(), scenario{method: "PUT", path: "/api/v1/alarm-rules/" + id, as: as, body: body})
		if rec.Code != status {
			t.Fatalf("PUT %s: %d, want %d: %s", id, rec.Code, status, rec.Body)
		}
		var out ruleJSON
		if status < 300 {
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	const rule = `{"name": "Boiler hot", "customer": "acme", "device_type": "boiler", "severity": "minor", "condition": "hw_supply_c > 90", "for": "5m"}`
	created := put(asOperator, "boiler-hot", rule, http.StatusCreated)
	if created.ID != "boiler-hot" || created.Kind != "telemetry" || created.DeviceType != "boiler" || created.For != "5m" || created.CreatedAt == "" || created.CreatedAt != created.UpdatedAt {
		t.Errorf("created: %+v", created)
	}

	rec := e.do(t, e.api.Handler(), scenario{method: "GET", path: "/api/v1/alarm-rules/boiler-hot", as: asAcme})
	var shown ruleJSON
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &shown) != nil || shown != created {
		t.Errorf("acme's GET of its rule: %d %s; want %+v", rec.Code, rec.Body, created)
	}
	if rec := e.do(t, e.api.Handler(), scenario{method: "GET", path: "/api/v1/alarm-rules/boiler-hot", as: asGlobex}); rec.Code != http.StatusNotFound {
		t.Errorf("globex's GET of acme's rule: %d %s", rec.Code, rec.Body)
	}

	replaced := put(asOperator, "boiler-hot", strings.Replace(rule, `"minor"`, `"critical"`, 1), http.StatusOK)
	if replaced.Severity != "critical" || replaced.CreatedAt != created.CreatedAt {
		t.Errorf("replaced: %+v; created %+v", replaced, created)
	}
	stale := put(asOperator, "boiler-silent", `{"name": "Boiler silent", "customer": "acme", "site": "`+acmeSite+`", "kind": "stale", "metric": "hw_supply_c", "severity": "warning", "for": "15m"}`, http.StatusCreated)
	if stale.Kind != "stale" || stale.Condition != "" {
		t.Errorf("stale rule: %+v", stale)
	}

	for _, bad := range []struct{ id, body, says string }{
		{"boiler-hot", strings.Replace(rule, `"acme"`, `"globex"`, 1), "stays with"},
		{"boiler-hot", strings.Replace(rule, `{`, `{"id": "other", `, 1), "differs from the path"},
		{"boiler-hot", strings.Replace(rule, `{`, `{"created_at": "2026-01-01T00:00:00Z", `, 1), "created_at"},
		{"boiler-co2", strings.Replace(rule, "hw_supply_c", "co2_ppm", 1), "not a metric of the device type"},
	} {
		rec := e.do(t, e.api.Handler(), scenario{method: "PUT", path: "/api/v1/alarm-rules/" + bad.id, as: asOperator, body: bad.body})
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), bad.says) {
			t.Errorf("PUT %s %s: %d %s; want 400 saying %q", bad.id, bad.body, rec.Code, rec.Body, bad.says)
		}
	}
	rec = e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/alarm-rules", as: asOperator, body: strings.Replace(rule, `{`, `{"id": "boiler-hot", `, 1)})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "PUT /api/v1/alarm-rules/boiler-hot") {
		t.Errorf("POST of an existing id: %d %s", rec.Code, rec.Body)
	}
}

// A preview replays a rule, unsaved, over a week of one-minute averages:
// the fake telemetry answers 20 at the first step and 21 from the second,
// so "hw_supply_c > 20.5" fires once, a minute in, and never clears.
func TestAlarmRulePreview(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	preview := func(as, body string, status int) string {
		t.Helper()
		rec := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/alarm-rules/preview", as: as, body: body})
		if rec.Code != status {
			t.Fatalf("preview %s: %d, want %d: %s", body, rec.Code, status, rec.Body)
		}
		return rec.Body.String()
	}
	var got struct {
		From, To time.Time
		Step     string
		Fired    int
		Devices  []struct {
			Device  string
			Fired   int
			Firings []struct{ Raised, Cleared time.Time }
		}
	}
	// A customer's editor may preview, though not save, a rule.
	body := preview(asAcme, `{"device": "`+acmeDevice+`", "severity": "major", "condition": "hw_supply_c > 20.5"}`, http.StatusOK)
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	to := testNow.UTC().Truncate(time.Minute)
	if !got.To.Equal(to) || !got.From.Equal(to.Add(-7*24*time.Hour)) || got.Step != "1m0s" || got.Fired != 1 || len(got.Devices) != 1 {
		t.Fatalf("preview: %s", body)
	}
	d := got.Devices[0]
	if d.Device != acmeDevice || d.Fired != 1 || len(d.Firings) != 1 || !d.Firings[0].Raised.Equal(got.From.Add(time.Minute)) || !d.Firings[0].Cleared.IsZero() {
		t.Errorf("the device's replay: %s", body)
	}
	if strings.Contains(body, `"cleared"`) {
		t.Errorf("a firing still active at the end has a cleared time: %s", body)
	}
	if rules, _ := e.store.ListAlarmRules(); len(rules) != 0 {
		t.Errorf("the preview stored a rule: %+v", rules)
	}

	for _, bad := range []struct{ body, says string }{
		{`{"device": "` + acmeDevice + `", "kind": "offline", "severity": "major", "condition": "hw_supply_c > 1", "for": "5m"}`, "kind"},
		{`{"device": "` + acmeDevice + `", "severity": "major", "condition": "hw_supply_c >"}`, `field \"condition\"`},
		{`{"device": "` + acmeDevice + `", "severity": "major"}`, "needs a condition"},
	} {
		if got := preview(asOperator, bad.body, http.StatusBadRequest); !strings.Contains(got, bad.says) {
			t.Errorf("preview %s: %s; want 400 saying %q", bad.body, got, bad.says)
		}
	}
}
