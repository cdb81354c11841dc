package ui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
)

// deviceUpdate sends an update to the device's classic shadow as the
// device does over MQTT.
func (e *env) deviceUpdate(name, body string) {
	e.t.Helper()
	sh := device.NewShadows(device.ShadowDeps{Store: e.st, Publisher: nopPublisher{}, Settings: e.types})
	if _, err := sh.Update(name, "", []byte(body), device.Actor{Name: "device:" + name, Channel: device.ChannelMQTT}, time.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// historyCells is the text of the history table's change cells, in
// order, HTML escapes undone.
func historyCells(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	for _, part := range strings.Split(body, `<td class="what">`)[1:] {
		cell, _, ok := strings.Cut(part, "</td>")
		if !ok {
			t.Fatalf("a change cell does not end:\n%s", part)
		}
		out = append(out, configText(cell))
	}
	return out
}

func hasAll(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

func hasNone(t *testing.T, what, body string, refused ...string) {
	t.Helper()
	for _, w := range refused {
		if strings.Contains(body, w) {
			t.Errorf("%s shows %q:\n%s", what, w, body)
		}
	}
}

// TestHistorySaysWhatTheDeviceHeld: a request reads from the value the
// device held then, not from the previous request (or null); a device
// that clears the request as it reports the value is one line; an update
// that changed nothing is no row; labels, units and value labels are the
// type's, in the reader's language; and the operators' history, read a
// filtered page at a time, says the same.
func TestHistorySaysWhatTheDeviceHeld(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := e.reg.CreateDevice(device.DeviceSpec{Name: "acme-boiler-1", Customer: "acme", Site: "tokyo-tower", Type: "boiler"}); err != nil {
		t.Fatal(err)
	}
	op := e.signIn(opUser)
	fm := e.signIn(acmeUser)
	save := func(c *http.Client, value string) {
		t.Helper()
		if r := e.post(c, "/devices/acme-boiler-1/settings", url.Values{"s.flow_setpoint_c": {value}}); r.status != http.StatusSeeOther {
			t.Fatalf("save %s: %d\n%s", value, r.status, r.body)
		}
	}
	e.deviceUpdate("acme-boiler-1", `{"state":{"reported":{"mode":"heating","flow_setpoint_c":60}}}`)
	save(fm, "65")
	// The device says again what it holds: a change of nothing.
	e.deviceUpdate("acme-boiler-1", `{"state":{"reported":{"mode":"heating","flow_setpoint_c":60}}}`)
	// It applies the request and clears it, as at a program's step.
	e.deviceUpdate("acme-boiler-1", `{"state":{"reported":{"flow_setpoint_c":65},"desired":{"flow_setpoint_c":null}}}`)
	// Two requests before the device takes either up.
	save(fm, "70")
	save(op, "75")

	want := []string{
		"Flow temperature set-point: 65 °C → 75 °C (requested instead of 70 °C)",
		"Flow temperature set-point: 65 °C → 70 °C (requested)",
		"Flow temperature set-point: 60 °C → 65 °C (reported)",
		"Flow temperature set-point: 60 °C → 65 °C (requested)",
		"Operating mode: Heating (reported)",
	}
	r := e.get(fm, "/devices/acme-boiler-1")
	cells := historyCells(t, r.body)
	if len(cells) != 5 {
		t.Fatalf("the device page has %d history rows, want 5 (the report that changed nothing left out):\n%s", len(cells), strings.Join(cells, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(cells[i], w) {
			t.Errorf("history row %d = %q, want %q", i, cells[i], w)
		}
	}
	// The first report names both settings: mode first, as the type
	// lists them.
	if !strings.Contains(cells[4], "Flow temperature set-point: 60 °C (reported)") {
		t.Errorf("the first report = %q, want its set-point too", cells[4])
	}
	hasNone(t, "the device page's history", strings.Join(cells, "\n"), "null", "desired.", "request withdrawn", "flow_setpoint_c")

	r = e.do(fm, http.MethodGet, "/devices/acme-boiler-1", nil, map[string]string{"Accept-Language": "ja"})
	hasAll(t, "the Japanese history", strings.Join(historyCells(t, r.body), "\n"),
		"送水温度設定: 65 °C → 75 °C（70 °C に代えて要求）",
		"送水温度設定: 60 °C → 65 °C（要求）",
		"送水温度設定: 60 °C → 65 °C（機器が報告）",
		"運転モード: 暖房（機器が報告）",
	)

	// The operators' history of one person's changes has none of the
	// device's reports on its page, and still says what the device held.
	r = e.get(op, "/admin/history?"+url.Values{"actor": {"user:" + acmeUser}, "device": {"acme-boiler-1"}}.Encode())
	cells = historyCells(t, r.body)
	if len(cells) != 2 || !strings.Contains(cells[0], "Flow temperature set-point: 65 °C → 70 °C (requested)") ||
		!strings.Contains(cells[1], "Flow temperature set-point: 60 °C → 65 °C (requested)") {
		t.Errorf("the operators' history of %s:\n%s", acmeUser, strings.Join(cells, "\n"))
	}
	r = e.get(op, "/admin/history")
	if cells := historyCells(t, r.body); len(cells) != 5 {
		t.Errorf("the operators' history has %d rows, want 5 (the report that changed nothing left out):\n%s", len(cells), strings.Join(cells, "\n"))
	}
}

// TestHistoryRequestWithdrawn: a request removed without the device
// reporting it says so, with the value that was requested.
func TestHistoryRequestWithdrawn(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	for _, update := range []string{`{"state":{"desired":{"max_load":80}}}`, `{"state":{"desired":{"max_load":null}}}`} {
		if r := e.post(op, "/admin/devices/acme-chiller-1/shadow", url.Values{"update": {update}}); r.status != http.StatusSeeOther {
			t.Fatalf("update %s: %d\n%s", update, r.status, r.body)
		}
	}
	cells := historyCells(t, e.get(op, "/devices/acme-chiller-1").body)
	if len(cells) != 2 || !strings.Contains(cells[0], "max_load: 80 (request withdrawn)") || !strings.Contains(cells[1], "max_load: 80 (requested)") {
		t.Errorf("history:\n%s", strings.Join(cells, "\n"))
	}
}

// longProgram is a program of a step every half hour, each setting three
// settings: as long a day plan as a shadow of the built-in boiler holds
// both requested and reported.
func longProgram(steps int) string {
	var b strings.Builder
	b.WriteString(`{"date":"2026-12-02","tz":"Asia/Tokyo","steps":[`)
	for i := range steps {
		if i > 0 {
			b.WriteString(",")
		}
		mode := "heating"
		if i%2 == 1 {
			mode = "off"
		}
		fmt.Fprintf(&b, `{"at":"%02d:%02d","set":{"mode":%q,"flow_setpoint_c":%d,"max_firing_pct":%d}}`,
			i/2, 30*(i%2), mode, 40+i%40, 30+5*(i%14))
	}
	b.WriteString("]}")
	return b.String()
}

// TestHistoryProgramAsDayPlan: a program in the history is its day plan,
// time by time in the type's labels and units, with its JSON on demand;
// its date, time zone and steps are one line, and the device reporting it
// back is another.
func TestHistoryProgramAsDayPlan(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := e.reg.CreateDevice(device.DeviceSpec{Name: "acme-boiler-1", Customer: "acme", Site: "tokyo-tower", Type: "boiler"}); err != nil {
		t.Fatal(err)
	}
	op := e.signIn(opUser)
	prog := `{"date":"2026-12-02","tz":"Asia/Tokyo","steps":[{"at":"07:00","set":{"mode":"heating","flow_setpoint_c":65}},{"at":"22:00","set":{"mode":"off"}}]}`
	if r := e.post(op, "/admin/devices/acme-boiler-1/shadow", url.Values{"update": {`{"state":{"desired":{"program":` + prog + `}}}`}}); r.status != http.StatusSeeOther {
		t.Fatalf("write the program: %d\n%s", r.status, r.body)
	}
	e.deviceUpdate("acme-boiler-1", `{"state":{"reported":{"program":`+prog+`,"mode":"heating"}}}`)

	for _, page := range []string{"/devices/acme-boiler-1", "/admin/history"} {
		r := e.get(op, page)
		cells := historyCells(t, r.body)
		if len(cells) != 2 {
			t.Fatalf("%s: %d history rows, want 2:\n%s", page, len(cells), strings.Join(cells, "\n"))
		}
		plan := "Daily operating program: 07:00 Heating, Flow temperature set-point 65 °C · 22:00 Off — from 2026-12-02, Asia/Tokyo"
		hasAll(t, page+": the request", cells[1], plan+" (requested)", "<details>", "<summary>JSON</summary>", `"at": "07:00"`)
		hasAll(t, page+": the report", cells[0], plan+" (reported)", "Operating mode: Heating (reported)")
		hasNone(t, page+": the history", strings.Join(cells, "\n"), "program.date", "program.steps", `[{"at"`, "null")
		if n := strings.Count(cells[1], "<div class=\"change\">"); n != 1 {
			t.Errorf("%s: the program's request is %d lines, want 1:\n%s", page, n, cells[1])
		}
	}
	r := e.do(op, http.MethodGet, "/devices/acme-boiler-1", nil, map[string]string{"Accept-Language": "ja"})
	hasAll(t, "the Japanese history", strings.Join(historyCells(t, r.body), "\n"),
		"日間運転プログラム: 07:00 暖房, 送水温度設定 65 °C · 22:00 停止 — 2026-12-02 から、Asia/Tokyo（要求）")
}

// TestSettingsErrorsNameTheField: the settings form's errors name the
// setting by its label on the form, in the reader's language, and keep
// the rule's words: for a value the rules refuse and for one that is not
// a number.
func TestSettingsErrorsNameTheField(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := e.reg.CreateDevice(device.DeviceSpec{Name: "acme-boiler-1", Customer: "acme", Site: "tokyo-tower", Type: "boiler"}); err != nil {
		t.Fatal(err)
	}
	fm := e.signIn(acmeUser)
	for _, c := range []struct {
		lang, value string
		want        string
	}{
		{"en", "95", "Not saved: Flow temperature set-point: 95 is above the maximum 80 °C"},
		{"ja", "95", "保存できませんでした: 送水温度設定: 95 is above the maximum 80 °C"},
		{"en", "40.2", "Not saved: Flow temperature set-point: 40.2 is not a multiple of the step 0.5 °C"},
		{"en", "warm", `Not saved: Flow temperature set-point: "warm" is not a number`},
		{"ja", "warm", `保存できませんでした: 送水温度設定: "warm" is not a number`},
	} {
		h := map[string]string{"Origin": e.srv.URL, "Accept-Language": c.lang}
		if r := e.do(fm, http.MethodPost, "/devices/acme-boiler-1/settings", url.Values{"s.flow_setpoint_c": {c.value}}, h); r.status != http.StatusSeeOther {
			t.Fatalf("save %s: %d\n%s", c.value, r.status, r.body)
		}
		body := configText(e.do(fm, http.MethodGet, "/devices/acme-boiler-1", nil, h).body)
		hasAll(t, c.lang+" page after saving "+c.value, body, c.want)
		hasNone(t, c.lang+" page after saving "+c.value, body, "desired.flow_setpoint_c", "s.flow_setpoint_c:")
	}
}
