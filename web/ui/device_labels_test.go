package ui_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
)

// TestSettingsInTheReadersLanguage: a device of a built-in type shows its
// settings and their allowed values in the reader's language, Japanese
// or English, and sends the values themselves.
func TestSettingsInTheReadersLanguage(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := e.reg.CreateDevice(device.DeviceSpec{Name: "acme-boiler-1", Customer: "acme", Site: "tokyo-tower", Type: "boiler"}); err != nil {
		t.Fatal(err)
	}
	e.configReport("acme-boiler-1", `{"mode":"heating","flow_setpoint_c":60}`)
	op := e.signIn(opUser)
	if r := e.post(op, "/admin/devices/acme-boiler-1/shadow", url.Values{"update": {`{"state":{"desired":{"mode":"off"}}}`}}); r.status != http.StatusSeeOther {
		t.Fatalf("ask for off: %d\n%s", r.status, r.body)
	}
	fm := e.signIn(acmeUser)
	ja := map[string]string{"Accept-Language": "ja"}

	r := e.do(fm, http.MethodGet, "/devices/acme-boiler-1", nil, ja)
	if r.status != http.StatusOK {
		t.Fatalf("device page: %d", r.status)
	}
	for _, want := range []string{
		`<label for="s.mode">運転モード</label>`,
		`<option value="heating">暖房</option>`,
		`<option value="off" selected>停止</option>`,
		"現在: 暖房", "要求値: 停止",
		`<label for="s.flow_setpoint_c">送水温度設定</label>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the Japanese page lacks %q", want)
		}
	}
	for _, english := range []string{"Operating mode", ">Heating<", ">Off<", "Flow temperature set-point"} {
		if strings.Contains(r.body, english) {
			t.Errorf("the Japanese page shows %q", english)
		}
	}
	// Settings only operators change are not on a customer's form.
	if strings.Contains(r.body, "給湯温度設定") {
		t.Error("the customer's page shows the hot water supply set-point, an operator's setting")
	}

	r = e.get(fm, "/devices/acme-boiler-1")
	for _, want := range []string{`<label for="s.mode">Operating mode</label>`, `<option value="heating">Heating</option>`, "Now: Heating", "Requested: Off"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the English page lacks %q", want)
		}
	}

	// The form sends the value, not its label.
	r = e.do(fm, http.MethodPost, "/devices/acme-boiler-1/settings", url.Values{"s.mode": {"heating"}, "s.flow_setpoint_c": {"60"}},
		map[string]string{"Origin": e.srv.URL, "Accept-Language": "ja"})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", r.status, r.body)
	}
	sh, err := e.st.GetShadow("acme-boiler-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sh.Doc), `"desired":{"mode":"heating"}`) {
		t.Errorf("shadow after saving in Japanese = %s, want desired mode heating", sh.Doc)
	}

	// The operator's page has every simple setting, labelled.
	r = e.do(op, http.MethodGet, "/devices/acme-boiler-1", nil, ja)
	for _, want := range []string{"給湯温度設定", "外気温度補償", "最大燃焼率"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the operator's Japanese page lacks %q", want)
		}
	}
}

// TestSettingLabelsFallBack: a language a label lacks falls back to
// English, and a setting without labels to its description, then its key.
func TestSettingLabelsFallBack(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := e.types.Put(store.DeviceType{Name: "fan", Settings: []store.Setting{
		{Key: "speed", Type: store.SettingString, CustomerEditable: true, Labels: map[string]string{"en": "Fan speed"},
			Enum: []json.RawMessage{json.RawMessage(`"low"`), json.RawMessage(`"high"`)}, ValueLabels: map[string]map[string]string{"low": {"en": "Low", "ja": "弱"}}},
		{Key: "boost", Type: store.SettingBoolean, CustomerEditable: true, Description: "Boost for ten minutes"},
		{Key: "limit", Type: store.SettingInteger, CustomerEditable: true},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.CreateDevice(device.DeviceSpec{Name: "acme-fan-1", Customer: "acme", Site: "tokyo-tower", Type: "fan"}); err != nil {
		t.Fatal(err)
	}
	r := e.do(e.signIn(acmeUser), http.MethodGet, "/devices/acme-fan-1", nil, map[string]string{"Accept-Language": "ja"})
	for _, want := range []string{
		`<label for="s.speed">Fan speed</label>`, `<option value="low">弱</option>`, `<option value="high">high</option>`,
		`<label for="s.boost">Boost for ten minutes</label>`, `<label for="s.limit">limit</label>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestDeviceTypeEditorShowsLabels: the device type page lists each
// setting's labels and names allowed values in the reader's language.
func TestDeviceTypeEditorShowsLabels(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	r := e.do(op, http.MethodGet, "/admin/types/boiler", nil, map[string]string{"Accept-Language": "ja"})
	for _, want := range []string{"表示名", "<div>en: Operating mode</div><div>ja: 運転モード</div>", `&#34;heating&#34; (暖房), &#34;off&#34; (停止)`, `&#34;value_labels&#34;`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the Japanese type page lacks %q", want)
		}
	}
	// Labels typed into the form are stored, and refused when they name
	// a value the setting does not allow.
	good := `[{"key":"mode","type":"string","enum":["on","off"],"labels":{"en":"Mode","ja":"モード"},"value_labels":{"on":{"en":"On","ja":"入"},"off":{"en":"Off","ja":"切"}}}]`
	if r := e.post(op, "/admin/types/boiler", url.Values{"settings": {good}}); r.status != http.StatusSeeOther {
		t.Fatalf("save labels: %d\n%s", r.status, r.body)
	}
	tp, err := e.types.Get("boiler")
	if err != nil || tp.Settings[0].Labels["ja"] != "モード" || tp.Settings[0].ValueLabels["on"]["ja"] != "入" {
		t.Errorf("stored type = %+v, %v", tp, err)
	}
	bad := `[{"key":"mode","type":"string","enum":["on","off"],"value_labels":{"auto":{"en":"Auto"}}}]`
	if r := e.post(op, "/admin/types/boiler", url.Values{"settings": {bad}}); r.status != http.StatusBadRequest ||
		!strings.Contains(configText(r.body), `value_labels name "auto", which is not an allowed value`) {
		t.Errorf("save a label of a value not allowed: %d\n%s", r.status, r.body)
	}
}
