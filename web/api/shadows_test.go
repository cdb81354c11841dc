package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
)

// recordingPublisher records what the shadow service sends to devices.
type recordingPublisher struct {
	mu     sync.Mutex
	topics []string
	bodies []string
}

func (p *recordingPublisher) Publish(topic string, payload []byte, _ byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.topics = append(p.topics, topic)
	p.bodies = append(p.bodies, string(payload))
	return nil
}

// message returns the last payload published on topic, or "".
func (p *recordingPublisher) message(topic string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.topics) - 1; i >= 0; i-- {
		if p.topics[i] == topic {
			return p.bodies[i]
		}
	}
	return ""
}

const (
	acmeShadow   = "/api/v1/devices/" + acmeDevice + "/shadow"
	globexShadow = "/api/v1/devices/" + globexDevice + "/shadow"
)

func TestShadowRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.run(t, []scenario{
		{name: "get before any update", method: http.MethodGet, path: acmeShadow, as: asOperator,
			status: http.StatusNotFound, contains: []string{`"code":"not_found"`, "No shadow exists with name"}},
		{name: "patch creates version 1", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body:   `{"state":{"desired":{"setpoint":21.5,"mode":"eco"},"reported":{"setpoint":19}},"clientToken":"c-1"}`,
			status: http.StatusOK, contains: []string{`"version":1`, `"setpoint":21.5`, `"clientToken":"c-1"`}},
		{name: "get shows desired and delta", method: http.MethodGet, path: acmeShadow, as: asOperator,
			status: http.StatusOK, contains: []string{`"version":1`, `"delta":{"mode":"eco","setpoint":21.5}`, `"reported":{"setpoint":19}`}},
		{name: "stale version is a conflict", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body:   `{"state":{"desired":{"setpoint":22}},"version":7}`,
			status: http.StatusConflict, contains: []string{`{"error":{"code":"conflict","message":"Version conflict"}}`}},
		{name: "current version is accepted", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body:   `{"state":{"desired":{"setpoint":22}},"version":1}`,
			status: http.StatusOK, contains: []string{`"version":2`}},
		{name: "null deletes a key", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body: `{"state":{"desired":{"mode":null}}}`, status: http.StatusOK, contains: []string{`"version":3`}},
		{name: "deleted key is gone", method: http.MethodGet, path: acmeShadow, as: asOperator,
			status: http.StatusOK, contains: []string{`"delta":{"setpoint":22}`}, notContains: []string{"eco", `"mode"`}},
		{name: "malformed document", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body: `{"state":"on"}`, status: http.StatusBadRequest, contains: []string{`"code":"invalid"`, "State node must be an object"}},
		{name: "empty key", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body:   `{"state":{"reported":{"":1}}}`,
			status: http.StatusBadRequest, contains: []string{`"code":"invalid"`, "state.reported: a key is empty"}, notContains: []string{"history"}},
		{name: "nested empty key", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body:   `{"state":{"desired":{"x":{"":1}}}}`,
			status: http.StatusBadRequest, contains: []string{`"code":"invalid"`, "state.desired.x: a key is empty"}},
		{name: "number over float64", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body:   `{"state":{"reported":{"big":1e400}}}`,
			status: http.StatusBadRequest, contains: []string{`"code":"invalid"`, "state.reported.big: the number 1e400 is out of range for a 64-bit float"}},
		{name: "refused documents changed nothing", method: http.MethodGet, path: acmeShadow, as: asOperator,
			status: http.StatusOK, contains: []string{`"version":3`}, notContains: []string{"1e400", `"x"`, `""`}},
		{name: "not JSON", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			header: map[string]string{"Content-Type": "text/plain"}, body: `{"state":{}}`,
			status: http.StatusUnsupportedMediaType, contains: []string{`"code":"unsupported_media_type"`}},
		{name: "empty body", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			status: http.StatusBadRequest, contains: []string{`"code":"invalid"`}},
		{name: "state over the limit", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body:   `{"state":{"desired":{"blob":"` + strings.Repeat("x", 9000) + `"}}}`,
			status: http.StatusRequestEntityTooLarge, contains: []string{`"code":"too_large"`}},
		{name: "named shadow is separate", method: http.MethodPatch, path: acmeShadow + "?name=schedule", as: asOperator,
			body: `{"state":{"desired":{"start":"06:00"}}}`, status: http.StatusOK, contains: []string{`"version":1`, `"06:00"`}},
		{name: "get named shadow", method: http.MethodGet, path: acmeShadow + "?name=schedule", as: asOperator,
			status: http.StatusOK, contains: []string{`"start":"06:00"`}, notContains: []string{"setpoint"}},
		{name: "classic shadow lacks the named one's keys", method: http.MethodGet, path: acmeShadow, as: asOperator,
			status: http.StatusOK, notContains: []string{"06:00"}},
		{name: "bad shadow name", method: http.MethodGet, path: acmeShadow + "?name=" + url.QueryEscape("a/b"), as: asOperator,
			status: http.StatusBadRequest, contains: []string{`"code":"invalid"`}},
		{name: "delete named shadow", method: http.MethodDelete, path: acmeShadow + "?name=schedule", as: asOperator,
			status: http.StatusOK, contains: []string{`"version":1`}},
		{name: "deleted shadow is gone", method: http.MethodGet, path: acmeShadow + "?name=schedule", as: asOperator,
			status: http.StatusNotFound, contains: []string{`"code":"not_found"`}},
		{name: "unknown device", method: http.MethodGet, path: "/api/v1/devices/nope/shadow", as: asOperator,
			status: http.StatusNotFound, contains: []string{`"device not found"`}},
	})

	// The REST path publishes what the MQTT path does: the device hears
	// the delta of the PATCH.
	delta := e.published.message("$aws/things/" + acmeDevice + "/shadow/update/delta")
	if !strings.Contains(delta, `"setpoint":22`) || !strings.Contains(delta, `"version":3`) {
		t.Errorf("delta published after PATCH = %q, want setpoint 22 at version 3", delta)
	}
}

func TestShadowTenancy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{realClock: true})
	e.run(t, []scenario{
		{name: "operator sets acme", method: http.MethodPatch, path: acmeShadow, as: asOperator,
			body: `{"state":{"desired":{"setpoint":21}}}`, status: http.StatusOK},
		{name: "operator sets globex", method: http.MethodPatch, path: globexShadow, as: asOperator,
			body: `{"state":{"desired":{"secret_setting":"globex-only"}}}`, status: http.StatusOK},
		{name: "customer reads own", method: http.MethodGet, path: acmeShadow, as: asAcme,
			status: http.StatusOK, contains: []string{`"setpoint":21`}, notContains: []string{"globex-only"}},
		{name: "customer history of own", method: http.MethodGet, path: acmeShadow + "/history", as: asAcme,
			status: http.StatusOK, contains: []string{`"actor":"token:operator-token"`}, notContains: []string{"globex-only"}},
		{name: "customer may not patch own", method: http.MethodPatch, path: acmeShadow, as: asAcme,
			body:   `{"state":{"desired":{"setpoint":30}}}`,
			status: http.StatusForbidden, contains: []string{`"code":"forbidden"`, `device type \"boiler\" is not defined, so no settings are marked customer-editable`}},
		{name: "customer may not delete own", method: http.MethodDelete, path: acmeShadow, as: asAcme,
			status: http.StatusForbidden, contains: []string{`"code":"forbidden"`}},
		{name: "other customer's shadow", method: http.MethodGet, path: globexShadow, as: asAcme,
			status: http.StatusNotFound, contains: []string{`"device not found"`}, notContains: []string{"globex-only", globexDevice}},
		{name: "other customer's patch", method: http.MethodPatch, path: globexShadow, as: asAcme,
			body:   `{"state":{"desired":{"secret_setting":"acme-was-here"}}}`,
			status: http.StatusNotFound, notContains: []string{"globex-only", globexDevice}},
		{name: "other customer's delete", method: http.MethodDelete, path: globexShadow, as: asAcme,
			status: http.StatusNotFound, notContains: []string{"globex-only", globexDevice}},
		{name: "other customer's history", method: http.MethodGet, path: globexShadow + "/history", as: asAcme,
			status: http.StatusNotFound, notContains: []string{"globex-only", globexDevice}},
		{name: "globex unchanged", method: http.MethodGet, path: globexShadow, as: asGlobex,
			status: http.StatusOK, contains: []string{`"version":1`, "globex-only"}, notContains: []string{"acme-was-here"}},
		{name: "no token", method: http.MethodGet, path: acmeShadow, as: asNobody, status: http.StatusUnauthorized},
	})
}

// historyPage is the answer of the history route as a test reads it.
type historyPage struct {
	Entries []struct {
		Version int64  `json:"version"`
		Time    string `json:"time"`
		Actor   string `json:"actor"`
		Channel string `json:"channel"`
		Shadow  string `json:"shadow"`
		Update  json.RawMessage
		Changes []struct {
			Section string          `json:"section"`
			Key     string          `json:"key"`
			Old     json.RawMessage `json:"old"`
			New     json.RawMessage `json:"new"`
		} `json:"changes"`
	} `json:"entries"`
	NextCursor string `json:"next_cursor"`
}

func (e *env) history(t *testing.T, query string) historyPage {
	t.Helper()
	rec := e.do(t, e.api.Handler(), scenario{method: http.MethodGet, path: acmeShadow + "/history" + query, as: asOperator})
	if rec.Code != http.StatusOK {
		t.Fatalf("history%s: status %d: %s", query, rec.Code, rec.Body)
	}
	var page historyPage
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatalf("history%s: %v: %s", query, err, rec.Body)
	}
	return page
}

// entryLine is what a history test compares of each entry.
type entryLine struct {
	Version int64
	Shadow  string
	Actor   string
	Channel string
	Changes string // section.key:old→new, joined by spaces
}

func (p historyPage) lines() []entryLine {
	out := []entryLine{}
	for _, en := range p.Entries {
		var ch []string
		for _, c := range en.Changes {
			ch = append(ch, c.Section+"."+c.Key+":"+string(c.Old)+"→"+string(c.New))
		}
		out = append(out, entryLine{en.Version, en.Shadow, en.Actor, en.Channel, strings.Join(ch, " ")})
	}
	return out
}

func TestShadowHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, body := range []string{
		`{"state":{"desired":{"setpoint":20}}}`,
		`{"state":{"desired":{"setpoint":21,"mode":"eco"}}}`,
		`{"state":{"desired":{"mode":null}}}`,
	} {
		e.run(t, []scenario{{name: "patch", method: http.MethodPatch, path: acmeShadow, as: asOperator, body: body, status: http.StatusOK}})
	}
	rec := e.do(t, e.api.LocalHandler(), scenario{method: http.MethodPatch, path: acmeShadow + "?name=schedule", body: `{"state":{"desired":{"start":"06:00"}}}`})
	if rec.Code != http.StatusOK {
		t.Fatalf("local patch: status %d: %s", rec.Code, rec.Body)
	}

	const op = "token:operator-token"
	all := []entryLine{
		{1, "schedule", "local", "api", `desired.start:null→"06:00"`},
		{3, "", op, "api", `desired.mode:"eco"→null`},
		{2, "", op, "api", `desired.mode:null→"eco" desired.setpoint:20→21`},
		{1, "", op, "api", `desired.setpoint:null→20`},
	}
	tests := []struct {
		name  string
		query string
		want  []entryLine
	}{
		{"every shadow, newest first", "", all},
		{"classic shadow", "?name=", all[1:]},
		{"named shadow", "?name=schedule", all[:1]},
		{"by actor", "?actor=local", all[:1]},
		{"unknown actor", "?actor=token:nobody", []entryLine{}},
		{"time range excludes now", "?to=" + url.QueryEscape(testNow.Format("2006-01-02T15:04:05Z")), []entryLine{}},
		{"time range includes now", "?from=" + url.QueryEscape(testNow.Format("2006-01-02T15:04:05Z")), all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := e.history(t, tt.query)
			if diff := cmp.Diff(tt.want, page.lines()); diff != "" {
				t.Errorf("history%s (-want +got):\n%s", tt.query, diff)
			}
			if page.NextCursor != "" {
				t.Errorf("history%s: next_cursor %q on the only page", tt.query, page.NextCursor)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		var got []entryLine
		query := "?name=&limit=2"
		pages := 0
		for {
			page := e.history(t, query)
			pages++
			got = append(got, page.lines()...)
			if page.NextCursor == "" {
				break
			}
			if pages > 3 {
				t.Fatalf("pagination does not end: cursor %q", page.NextCursor)
			}
			query = "?name=&limit=2&cursor=" + url.QueryEscape(page.NextCursor)
		}
		if pages != 2 {
			t.Errorf("%d pages of 2 for 3 entries, want 2", pages)
		}
		if diff := cmp.Diff(all[1:], got); diff != "" {
			t.Errorf("paged history (-want +got):\n%s", diff)
		}
	})

	t.Run("entry fields", func(t *testing.T) {
		page := e.history(t, "?name=&limit=1")
		if len(page.Entries) != 1 {
			t.Fatalf("%d entries, want 1", len(page.Entries))
		}
		en := page.Entries[0]
		if want := "2026-11-05T08:00:00.000Z"; en.Time != want {
			t.Errorf("time %q, want %q", en.Time, want)
		}
		if want := `{"state":{"desired":{"mode":null}}}`; string(en.Update) != want {
			t.Errorf("update %s, want %s", en.Update, want)
		}
	})

	e.run(t, []scenario{
		{name: "bad limit", method: http.MethodGet, path: acmeShadow + "/history?limit=0", as: asOperator,
			status: http.StatusBadRequest, contains: []string{`parameter \"limit\"`}},
		{name: "limit not a number", method: http.MethodGet, path: acmeShadow + "/history?limit=%2B5", as: asOperator,
			status: http.StatusBadRequest, contains: []string{`"code":"invalid"`}},
		{name: "bad from", method: http.MethodGet, path: acmeShadow + "/history?from=yesterday", as: asOperator,
			status: http.StatusBadRequest, contains: []string{`parameter \"from\"`}},
		{name: "bad cursor", method: http.MethodGet, path: acmeShadow + "/history?cursor=zz", as: asOperator,
			status: http.StatusBadRequest, contains: []string{`"code":"invalid"`}},
	})
}

func TestShadowUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noShadows: true})
	var rows []scenario
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, acmeShadow, ""},
		{http.MethodPatch, acmeShadow, `{"state":{"desired":{"a":1}}}`},
		{http.MethodDelete, acmeShadow, ""},
		{http.MethodGet, acmeShadow + "/history", ""},
	} {
		rows = append(rows, scenario{name: r.method + " " + r.path, method: r.method, path: r.path, body: r.body,
			as: asOperator, status: http.StatusServiceUnavailable, contains: []string{`"code":"unavailable"`}})
	}
	e.run(t, rows)
}

// A customer that gets a device name an earlier (deleted) device had does
// not see that device's shadow history; an operator still does.
func TestShadowHistoryOfReusedName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{realClock: true})
	e.run(t, []scenario{{name: "operator sets acme's device", method: http.MethodPatch, path: acmeShadow, as: asOperator,
		body: `{"state":{"desired":{"acme_secret":1}}}`, status: http.StatusOK}})
	if err := e.registry.DeleteDevice(acmeDevice); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // the new device is registered after the old one's history
	if _, err := e.registry.CreateDevice(device.DeviceSpec{Name: acmeDevice, Customer: asGlobex}); err != nil {
		t.Fatal(err)
	}
	e.run(t, []scenario{
		{name: "new owner sees no earlier history", method: http.MethodGet, path: acmeShadow + "/history", as: asGlobex,
			status: http.StatusOK, contains: []string{`"entries":[]`}, notContains: []string{"acme_secret"}},
		{name: "operator still sees it", method: http.MethodGet, path: acmeShadow + "/history", as: asOperator,
			status: http.StatusOK, contains: []string{"acme_secret"}},
	})
}
