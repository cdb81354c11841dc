package ui_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// TestStrategiesPage: an operator switches a site's strategy and a
// device's own setting from the page; the site's people read which run
// and what they changed, and switch nothing; a wrong form says what was
// wrong and changes nothing.
func TestStrategiesPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	const page = "/sites/acme/tokyo-tower/strategies"
	if err := e.st.AddStrategyChanges([]store.StrategyChange{
		{Customer: "acme", Site: "tokyo-tower", Device: "acme-chiller-1", Strategy: "setpoint_reset", At: time.Now().Add(-time.Hour),
			Action: "set", Key: "chw_setpoint_c", From: json.RawMessage("7"), To: json.RawMessage("7.5"), Reason: "load 35 %, outdoor 24 °C"},
		{Customer: "acme", Site: "tokyo-tower", Device: "acme-chiller-1", Strategy: "setpoint_reset", At: time.Now().Add(-time.Minute),
			Action: "yield", Key: "chw_setpoint_c", From: json.RawMessage("7.5"), To: json.RawMessage("6"), Reason: "a person's value holds", By: "user:fm@acme.example"},
	}); err != nil {
		t.Fatal(err)
	}
	op := e.signIn(opUser)
	if r := e.get(op, "/sites/acme/tokyo-tower"); !strings.Contains(r.body, `href="`+page+`"`) {
		t.Errorf("the site page does not link its strategies: %d", r.status)
	}
	if r := e.get(op, "/devices/acme-chiller-1"); !strings.Contains(r.body, `href="`+page+`?device=acme-chiller-1"`) {
		t.Errorf("the device page does not link its strategy changes: %d", r.status)
	}
	r := e.post(op, page+"/setpoint_reset", url.Values{"enabled": {"on"}})
	if r.status != http.StatusSeeOther || r.location != page {
		t.Fatalf("switch on: %d %q", r.status, r.location)
	}
	r = e.get(op, page)
	for _, want := range []string{`data-strategy="setpoint_reset" data-enabled="on"`, `data-strategy="optimum_start" data-enabled="off"`,
		"Set-point reset switched on for tokyo-tower.", `data-action="yield"`, "changed by user:fm@acme.example", "load 35 %, outdoor 24 °C"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page after switching lacks %q", want)
		}
	}
	if i, j := strings.Index(r.body, `data-action="yield"`), strings.Index(r.body, `data-action="set"`); i < 0 || j < 0 || i > j {
		t.Errorf("changes not newest first")
	}
	if r := e.post(op, page+"/setpoint_reset", url.Values{"enabled": {"off"}, "device": {"acme-chiller-1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("off for the chiller: %d", r.status)
	}
	if sts, _ := e.st.StrategySettings("acme", "tokyo-tower"); len(sts) != 2 || !sts[0].Enabled || sts[1].Device != "acme-chiller-1" || sts[1].Enabled {
		t.Errorf("settings after the page's switches: %+v", sts)
	}
	if r := e.post(op, page+"/setpoint_reset", url.Values{"enabled": {"maybe"}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, "is not a choice: on, off or inherit") {
		t.Errorf("a bad choice: %d", r.status)
	}
	if r := e.post(op, page+"/night_purge", url.Values{"enabled": {"on"}}); r.status != http.StatusNotFound {
		t.Errorf("an unknown strategy: %d", r.status)
	}
	if r := e.get(op, page+"?device=nobody"); r.status != http.StatusBadRequest {
		t.Errorf("changes of a device not of the site: %d", r.status)
	}

	fm := e.signIn(acmeUser)
	r = e.get(fm, page+"?device=acme-chiller-1")
	if r.status != http.StatusOK || strings.Contains(r.body, `data-enabled="inherit"`) || strings.Contains(r.body, ">Switch off<") ||
		!strings.Contains(r.body, `data-strategy="setpoint_reset" data-enabled="on"`) || !strings.Contains(r.body, `data-action="set"`) {
		t.Errorf("the customer's page: %d, with switches or without the changes", r.status)
	}
	if r := e.post(fm, page+"/setpoint_reset", url.Values{"enabled": {"off"}}); r.status != http.StatusForbidden {
		t.Errorf("a customer switching: %d, want 403", r.status)
	}
	if sts, _ := e.st.StrategySettings("acme", "tokyo-tower"); !sts[0].Enabled {
		t.Error("the customer switched the site's strategy off")
	}
}
