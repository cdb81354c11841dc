package ui_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// TestConfigDeviceTypeTopics: a device type's page shows the topics its
// devices publish on, and its form takes them a template a line: good
// ones are stored (the metrics the form does not show are kept), a bad
// one is refused, the topics field marked and what was typed kept, and
// nothing changes.
func TestConfigDeviceTypeTopics(t *testing.T) {
	e := newEnv(t, envOptions{})
	cur, err := e.types.Get("chiller")
	if err != nil {
		t.Fatal(err)
	}
	cur.Metrics = []store.Metric{{Name: "chw_supply_c", Unit: "°C"}}
	if _, err := e.types.Put(cur); err != nil {
		t.Fatal(err)
	}
	settings := `[{"key":"max_load","type":"integer"}]`
	op := e.signIn(opUser)
	contains(t, "a type without topics", e.get(op, "/admin/types/chiller"), http.StatusOK,
		`<h2 id="topics-h">Topics</h2>`, "Its devices publish on Hearth's own topics only.", `name="topics"`)

	r := e.post(op, "/admin/types/chiller", url.Values{"settings": {settings}, "topics": {"dt/{site}/{name}/data\r\n\r\n  gw/{customer}/{name}  \r\n"}})
	if r.status != http.StatusSeeOther || r.location != "/admin/types/chiller" {
		t.Fatalf("save topics: %d to %q\n%s", r.status, r.location, excerpt(r.body))
	}
	saved, err := e.types.Get("chiller")
	if err != nil || !cmp.Equal(saved.Topics, []string{"dt/{site}/{name}/data", "gw/{customer}/{name}"}) || len(saved.Metrics) != 1 {
		t.Fatalf("the stored type: topics %q, metrics %v, %v", saved.Topics, saved.Metrics, err)
	}
	contains(t, "a type with topics", e.get(op, "/admin/types/chiller"), http.StatusOK,
		"<li><code>dt/{site}/{name}/data</code></li>", "<li><code>gw/{customer}/{name}</code></li>",
		">dt/{site}/{name}/data\ngw/{customer}/{name}</textarea>")

	for _, tc := range []struct{ settings, topics, field, says string }{
		{settings, "dt/{site}/data", "type-topics", "{name} must be one of its levels"},
		{settings, "dt/{name}/x\nhearth/things/{name}/x", "type-topics", "Hearth's own topics"},
		{settings, "dt/{name}/x\ndt/{name}/x", "type-topics", "is declared twice"},
		{settings, "dt/+/{name}", "type-topics", "no wildcards"},
		{`[{"key":"a","type":"decimal"}]`, "dt/{name}/x", "settings", "decimal"},
	} {
		r := e.post(op, "/admin/types/chiller", url.Values{"settings": {tc.settings}, "topics": {tc.topics}})
		body := html.UnescapeString(r.body)
		if r.status != http.StatusBadRequest || !strings.Contains(body, tc.says) {
			t.Errorf("topics %q: %d, want 400 saying %q\n%s", tc.topics, r.status, tc.says, excerpt(body))
		}
		other := map[string]string{"type-topics": "settings", "settings": "type-topics"}[tc.field]
		if attr(r.body, tc.field, "aria-invalid") != "true" || attr(r.body, other, "aria-invalid") != "false" {
			t.Errorf("topics %q: %s is aria-invalid %q and %s %q; want only %s marked", tc.topics,
				tc.field, attr(r.body, tc.field, "aria-invalid"), other, attr(r.body, other, "aria-invalid"), tc.field)
		}
		if !strings.Contains(body, ">"+tc.topics+"</textarea>") {
			t.Errorf("topics %q: the field lost what was typed", tc.topics)
		}
	}
	if after, err := e.types.Get("chiller"); err != nil || !cmp.Equal(saved, after) {
		t.Errorf("refused topics changed the type: %s %v", cmp.Diff(saved, after), err)
	}

	r = e.post(op, "/admin/types/new", url.Values{"name": {"gateway"}, "settings": {"[]"}, "topics": {"site/{site}/{name}/telemetry"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("a new type with topics: %d\n%s", r.status, excerpt(r.body))
	}
	if gw, err := e.types.Get("gateway"); err != nil || !cmp.Equal(gw.Topics, []string{"site/{site}/{name}/telemetry"}) {
		t.Errorf("the new type's topics: %q %v", gw.Topics, err)
	}
}

// TestTypeMetricsAsJSON: the JSON form of a device type takes its
// metrics too; a refused metric marks the metrics field, and nothing
// changes.
func TestTypeMetricsAsJSON(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	contains(t, "the JSON form", e.get(op, "/admin/types/boiler?mode=json"), http.StatusOK, `name="metrics"`, `"name": "hw_supply_c"`, `href="?mode=form"`)
	before, err := e.types.Get("chiller")
	if err != nil {
		t.Fatal(err)
	}
	r := e.post(op, "/admin/types/chiller", url.Values{"mode": {"json"}, "settings": {"[]"}, "metrics": {`[{"name":"x","audience":"all"}]`}})
	if r.status != http.StatusBadRequest || attr(r.body, "metrics", "aria-invalid") != "true" || attr(r.body, "settings", "aria-invalid") != "false" {
		t.Errorf("a bad metric: %d, metrics aria-invalid %q, settings %q", r.status, attr(r.body, "metrics", "aria-invalid"), attr(r.body, "settings", "aria-invalid"))
	}
	if after, _ := e.types.Get("chiller"); !cmp.Equal(before, after) {
		t.Errorf("the refused form changed the type: %s", cmp.Diff(before, after))
	}
	r = e.post(op, "/admin/types/chiller", url.Values{"mode": {"json"}, "settings": {"[]"}, "metrics": {`[{"name":"running","states":[{"value":1,"labels":{"en":"On"}}]}]`}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("good metrics: %d\n%s", r.status, excerpt(r.body))
	}
	if after, err := e.types.Get("chiller"); err != nil || len(after.Metrics) != 1 || after.Metrics[0].States[0].Labels["en"] != "On" {
		t.Errorf("stored metrics %+v, %v", after.Metrics, err)
	}
}
