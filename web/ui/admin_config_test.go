package ui_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/store"
)

// configUsers is the e-mails of the stored users, in the store's order.
func (e *env) configUsers() []string {
	e.t.Helper()
	users, err := e.st.ListUsers()
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.Email
	}
	return out
}

// configTokens is the names of the stored API tokens.
func (e *env) configTokens() []string {
	e.t.Helper()
	tokens, err := e.st.ListTokens()
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = t.Name
	}
	return out
}

// configReport makes a device report state the way it would over MQTT,
// checked against its type's settings.
func (e *env) configReport(name, reported string) {
	e.t.Helper()
	sh := device.NewShadows(device.ShadowDeps{Store: e.st, Publisher: nopPublisher{}, Settings: e.types})
	body := `{"state":{"reported":` + reported + `}}`
	if _, err := sh.Update(name, "", []byte(body), device.Actor{Name: "device:" + name, Channel: device.ChannelMQTT}, time.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// text is a page body with its HTML escapes undone, for matching messages
// that hold quotes.
func configText(body string) string { return html.UnescapeString(body) }

// TestConfigPagesHiddenFromCustomers: every configuration route answers a
// customer like a page that does not exist, and a customer's POST changes
// nothing.
func TestConfigPagesHiddenFromCustomers(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signIn(acmeUser)
	users, tokens := e.configUsers(), e.configTokens()
	form := url.Values{
		"email": {"evil@acme.example"}, "name": {"evil"}, "role": {"operator"},
		"settings": {"[]"}, "update": {`{"state":{"desired":{"chw_setpoint":6}}}`},
	}
	for _, rt := range []struct{ method, path string }{
		{"GET", "/admin/users"},
		{"POST", "/admin/users"},
		{"GET", "/admin/users/" + opUser + "/delete"},
		{"POST", "/admin/users/" + opUser + "/delete"},
		{"GET", "/admin/tokens"},
		{"POST", "/admin/tokens"},
		{"GET", "/admin/tokens/x/delete"},
		{"POST", "/admin/tokens/x/delete"},
		{"GET", "/admin/types"},
		{"GET", "/admin/types/new"},
		{"POST", "/admin/types/new"},
		{"GET", "/admin/types/chiller"},
		{"POST", "/admin/types/chiller"},
		{"GET", "/admin/types/chiller/delete"},
		{"POST", "/admin/types/chiller/delete"},
		{"GET", "/admin/devices/acme-chiller-1/shadow"},
		{"POST", "/admin/devices/acme-chiller-1/shadow"},
		{"GET", "/admin/history"},
	} {
		var r response
		if rt.method == "GET" {
			r = e.get(c, rt.path)
		} else {
			r = e.post(c, rt.path, form)
		}
		if r.status != http.StatusNotFound || strings.Contains(r.body, opUser) || strings.Contains(r.body, "max_load") {
			t.Errorf("%s %s as a customer: %d, want 404 that shows nothing:\n%s", rt.method, rt.path, r.status, r.body)
		}
	}
	if d := cmp.Diff(users, e.configUsers()); d != "" {
		t.Errorf("a customer changed the users (-before +after):\n%s", d)
	}
	if d := cmp.Diff(tokens, e.configTokens()); d != "" {
		t.Errorf("a customer changed the tokens (-before +after):\n%s", d)
	}
	if _, err := e.st.GetShadow("acme-chiller-1", ""); err == nil {
		t.Error("a customer wrote a shadow through the editor")
	}
	if _, err := e.st.GetDeviceType("chiller"); err != nil {
		t.Errorf("a customer deleted a device type: %v", err)
	}
}

// TestConfigAdminOnly: plain operators manage devices but not users or
// tokens, as on the REST API.
func TestConfigAdminOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signInPlainOperator()
	for _, path := range []string{"/admin/users", "/admin/tokens"} {
		if r := e.get(c, path); r.status != http.StatusForbidden || !strings.Contains(r.body, "operator admins") {
			t.Errorf("GET %s as a plain operator: %d, want 403 saying who may", path, r.status)
		}
	}
	users := e.configUsers()
	if r := e.post(c, "/admin/users", url.Values{"email": {"x@hearth.example"}, "role": {"operator"}}); r.status != http.StatusForbidden {
		t.Errorf("a plain operator creating a user: %d, want 403", r.status)
	}
	if d := cmp.Diff(users, e.configUsers()); d != "" {
		t.Errorf("a plain operator changed the users:\n%s", d)
	}
	if r := e.get(c, "/admin/types"); r.status != http.StatusOK {
		t.Errorf("device types for a plain operator: %d, want 200", r.status)
	}
}

var configSecretRe = regexp.MustCompile(`<code class="secret">([^<]+)</code>`)

func TestConfigUsers(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	r := e.get(op, "/admin/users")
	if r.status != http.StatusOK || !strings.Contains(r.body, acmeUser) || !strings.Contains(r.body, globexUser) {
		t.Fatalf("users page: %d\n%s", r.status, r.body)
	}

	const newUser = "New.Person@Acme.example"
	r = e.post(op, "/admin/users", url.Values{"email": {newUser}, "role": {"customer"}, "customer": {"acme"}, "access": {"viewer"}})
	m := configSecretRe.FindStringSubmatch(r.body)
	if r.status != http.StatusCreated || m == nil || !strings.Contains(r.body, "shown only this once") {
		t.Fatalf("create user: %d, want 201 with the one-time password:\n%s", r.status, r.body)
	}
	oneTime := html.UnescapeString(m[1])
	u, err := e.st.GetUser(newUser)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(store.User{Email: "new.person@acme.example", Role: "customer", Access: "viewer", Customer: "acme", MustChangePassword: true},
		store.User{Email: u.Email, Role: u.Role, Access: u.Access, Customer: u.Customer, MustChangePassword: u.MustChangePassword}); d != "" {
		t.Errorf("stored user (-want +got):\n%s", d)
	}
	if ok, _ := secret.VerifyPassword(u.PasswordHash, oneTime); !ok {
		t.Error("the password shown does not match the stored hash")
	}
	if r := e.get(op, "/admin/users"); strings.Contains(r.body, oneTime) || !strings.Contains(r.body, "new.person@acme.example") {
		t.Error("the users page shows the password again, or lacks the new user")
	}
	// The one-time password signs in, for choosing a new one only.
	c := e.browser()
	if r := e.post(c, "/login", url.Values{"email": {newUser}, "password": {oneTime}, "next": {"/"}}); r.status != http.StatusSeeOther {
		t.Fatalf("sign in with the one-time password: %d", r.status)
	}
	if r := e.get(c, "/"); r.status != http.StatusSeeOther || r.location != "/password" {
		t.Errorf("after signing in with a one-time password: %d to %q, want /password", r.status, r.location)
	}

	// An operator belongs to no customer, whatever the form left selected.
	r = e.post(op, "/admin/users", url.Values{"email": {"second@hearth.example"}, "role": {"operator"}, "customer": {"acme"}})
	if u, err := e.st.GetUser("second@hearth.example"); r.status != http.StatusCreated || err != nil || u.Customer != "" || u.Role != "operator" {
		t.Errorf("create operator: %d, %+v, %v", r.status, u, err)
	}

	before := e.configUsers()
	for _, tc := range []struct {
		form   url.Values
		status int
		want   string
	}{
		{url.Values{"email": {""}, "role": {"customer"}, "customer": {"acme"}}, 400, `field "email": required`},
		{url.Values{"email": {"not an address"}, "role": {"customer"}, "customer": {"acme"}}, 400, `not an address`},
		{url.Values{"email": {"x@acme.example"}, "role": {"customer"}}, 400, `field "customer": required for role "customer"`},
		{url.Values{"email": {"x@acme.example"}, "role": {"customer"}, "customer": {"initech"}}, 400, `no customer named "initech"`},
		{url.Values{"email": {"x@acme.example"}, "role": {"king"}}, 400, `field "role" "king"`},
		{url.Values{"email": {"x@acme.example"}, "role": {"customer"}, "customer": {"acme"}, "access": {"operator"}}, 400, `access "operator" for role "customer"`},
		{url.Values{"email": {strings.ToUpper(acmeUser)}, "role": {"customer"}, "customer": {"acme"}}, 409, "already exists"},
	} {
		r := e.post(op, "/admin/users", tc.form)
		if r.status != tc.status || !strings.Contains(configText(r.body), tc.want) || configSecretRe.MatchString(r.body) {
			t.Errorf("create %v: %d, want %d saying %q:\n%s", tc.form, r.status, tc.status, tc.want, r.body)
		}
		if email := tc.form.Get("email"); email != "" && !strings.Contains(r.body, `value="`+html.EscapeString(email)+`"`) {
			t.Errorf("create %v: the form lost the e-mail typed", tc.form)
		}
	}
	if d := cmp.Diff(before, e.configUsers()); d != "" {
		t.Errorf("refused creations changed the users (-before +after):\n%s", d)
	}

	// Deleting asks first; GET changes nothing.
	r = e.get(op, "/admin/users/"+globexUser+"/delete")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Delete user "+globexUser+"?") || !strings.Contains(r.body, `<button type="submit">Delete</button>`) {
		t.Errorf("delete confirmation: %d\n%s", r.status, r.body)
	}
	if _, err := e.st.GetUser(globexUser); err != nil {
		t.Fatal("the confirmation page deleted the user")
	}
	r = e.post(op, "/admin/users/"+globexUser+"/delete", url.Values{})
	if r.status != http.StatusSeeOther || r.location != "/admin/users" {
		t.Fatalf("delete: %d to %q", r.status, r.location)
	}
	if _, err := e.st.GetUser(globexUser); err == nil {
		t.Error("the user is still there")
	}
	if r := e.get(op, "/admin/users"); !strings.Contains(r.body, "User "+globexUser+" deleted.") {
		t.Error("no notice after the delete")
	}
	if r := e.post(op, "/admin/users/nobody@acme.example/delete", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("delete a user that does not exist: %d, want 404", r.status)
	}

	// Nobody deletes themselves.
	r = e.get(op, "/admin/users/"+opUser+"/delete")
	if !strings.Contains(r.body, "you may not delete your own user") || strings.Contains(r.body, `<button type="submit">Delete</button>`) {
		t.Errorf("confirming one's own delete must say no and offer no button:\n%s", r.body)
	}
	r = e.post(op, "/admin/users/"+strings.ToUpper(opUser)+"/delete", url.Values{})
	if r.status != http.StatusBadRequest || !strings.Contains(configText(r.body), "you may not delete your own user") {
		t.Errorf("delete oneself: %d, want 400 saying why:\n%s", r.status, r.body)
	}
	if _, err := e.st.GetUser(opUser); err != nil {
		t.Error("an operator deleted themselves")
	}
}

func TestConfigTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	if r := e.get(op, "/admin/tokens"); r.status != http.StatusOK || !strings.Contains(r.body, "No API tokens.") {
		t.Fatalf("tokens page: %d\n%s", r.status, r.body)
	}
	r := e.post(op, "/admin/tokens", url.Values{"name": {"grafana"}, "role": {"customer"}, "customer": {"acme"}})
	m := configSecretRe.FindStringSubmatch(r.body)
	if r.status != http.StatusCreated || m == nil {
		t.Fatalf("create token: %d, want 201 with the token:\n%s", r.status, r.body)
	}
	plain := html.UnescapeString(m[1])
	tok, err := e.st.TokenByHash(secret.HashToken(plain))
	if err != nil || tok.Name != "grafana" || tok.Role != "customer" || tok.Customer != "acme" {
		t.Fatalf("the token shown is not the one stored: %+v %v", tok, err)
	}
	r = e.get(op, "/admin/tokens")
	if strings.Contains(r.body, plain) || !strings.Contains(r.body, tok.ID) || !strings.Contains(r.body, "grafana") {
		t.Errorf("the list shows the secret again, or lacks the token:\n%s", r.body)
	}

	before := e.configTokens()
	for _, tc := range []struct {
		form   url.Values
		status int
		want   string
	}{
		{url.Values{"name": {"  "}, "role": {"operator"}}, 400, `field "name": required`},
		{url.Values{"name": {"x"}, "role": {"customer"}}, 400, `field "customer": required`},
		{url.Values{"name": {"x"}, "role": {"customer"}, "customer": {"initech"}}, 400, `no customer named "initech"`},
		{url.Values{"name": {"x"}, "role": {"operator"}, "access": {"viewer"}}, 400, `access "viewer" for role "operator"`},
	} {
		r := e.post(op, "/admin/tokens", tc.form)
		if r.status != tc.status || !strings.Contains(configText(r.body), tc.want) || configSecretRe.MatchString(r.body) {
			t.Errorf("create %v: %d, want %d saying %q:\n%s", tc.form, r.status, tc.status, tc.want, r.body)
		}
	}
	if d := cmp.Diff(before, e.configTokens()); d != "" {
		t.Errorf("refused creations changed the tokens (-before +after):\n%s", d)
	}

	path := "/admin/tokens/" + tok.ID + "/delete"
	if r := e.get(op, path); r.status != http.StatusOK || !strings.Contains(r.body, "Delete API token grafana") {
		t.Errorf("delete confirmation: %d\n%s", r.status, r.body)
	}
	if _, err := e.st.TokenByHash(secret.HashToken(plain)); err != nil {
		t.Fatal("the confirmation page deleted the token")
	}
	if r := e.post(op, path, url.Values{}); r.status != http.StatusSeeOther || r.location != "/admin/tokens" {
		t.Fatalf("delete: %d to %q", r.status, r.location)
	}
	if _, err := e.st.TokenByHash(secret.HashToken(plain)); err == nil {
		t.Error("the deleted token still works")
	}
	if r := e.post(op, path, url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("delete it again: %d, want 404", r.status)
	}
}

func TestConfigDeviceTypes(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	r := e.get(op, "/admin/types")
	if r.status != http.StatusOK || !strings.Contains(r.body, `href="/admin/types/chiller"`) {
		t.Fatalf("types page: %d\n%s", r.status, r.body)
	}
	r = e.get(op, "/admin/types/chiller?mode=json")
	for _, want := range []string{"<code>chw_setpoint</code>", "Chilled water set-point", "<td>°C</td>", "<td>5</td>", "<td>12</td>", "<td>0.5</td>", "&#34;chw_setpoint&#34;", "<textarea"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("type page lacks %q", want)
		}
	}

	// A valid change is stored through the device types, and applies at once.
	good := `[{"key":"chw_setpoint","type":"number","unit":"°C","minimum":5,"maximum":14,"step":0.5,"customer_editable":true}]`
	r = e.post(op, "/admin/types/chiller", url.Values{"description": {"Absorption chiller"}, "settings": {good}})
	if r.status != http.StatusSeeOther || r.location != "/admin/types/chiller" {
		t.Fatalf("save: %d to %q\n%s", r.status, r.location, r.body)
	}
	if tp, err := e.types.Get("chiller"); err != nil || tp.Description != "Absorption chiller" || len(tp.Settings) != 1 || *tp.Settings[0].Maximum != 14 {
		t.Fatalf("stored type: %+v %v", tp, err)
	}
	if r := e.get(op, "/admin/types/chiller"); !strings.Contains(r.body, "Saved.") || !strings.Contains(r.body, "<td>14</td>") {
		t.Error("the type page after saving lacks the notice or the new maximum")
	}
	if r := e.post(op, "/admin/devices/acme-chiller-1/shadow", url.Values{"update": {`{"state":{"desired":{"chw_setpoint":13.5}}}`}}); r.status != http.StatusSeeOther {
		t.Errorf("a value within the new maximum: %d, want accepted", r.status)
	}

	before, err := e.types.Get("chiller")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ settings, want string }{
		{`[{"key":"chw_setpoint","type":"number","minimum":12,"maximum":5}]`, `chw_setpoint`},
		{`[{"key":"mode","type":"string","enum":["cooling","heating"]},{"key":"mode","type":"string"}]`, `"mode" is defined twice`},
		{`[{"key":"a","type":"decimal"}]`, `decimal`},
		{`[{"key":"a","type":"number","minimm":1}]`, `field "minimm" is not accepted`},
		{`[{"key":"a","type":"number","minimum":"1"}]`, `field "minimum": expected a number`},
		{`[{"key":"a",`, `the JSON ends early`},
		{`[{"key" "a"}]`, `not valid JSON at byte`},
		{`{"settings":[]}`, `a JSON array of settings is expected`},
		{``, `a JSON array of settings is expected`},
		{`[] []`, `unexpected data after the JSON array`},
	} {
		r := e.post(op, "/admin/types/chiller", url.Values{"description": {"changed"}, "settings": {tc.settings}})
		if r.status != http.StatusBadRequest || !strings.Contains(configText(r.body), tc.want) {
			t.Errorf("save %s: %d, want 400 saying %q:\n%s", tc.settings, r.status, tc.want, r.body)
		}
		if !strings.Contains(r.body, ">"+html.EscapeString(tc.settings)+"</textarea>") {
			t.Errorf("save %s: the textarea lost what was typed", tc.settings)
		}
	}
	if after, err := e.types.Get("chiller"); err != nil || !cmp.Equal(before, after) {
		t.Errorf("refused saves changed the type: %s %v", cmp.Diff(before, after), err)
	}

	// New types.
	if r := e.get(op, "/admin/types/new"); r.status != http.StatusOK || !strings.Contains(r.body, `name="name"`) {
		t.Fatalf("new type form: %d", r.status)
	}
	for _, tc := range []struct {
		name   string
		status int
		want   string
	}{
		{"", 400, "device type name is empty"},
		{"bad name", 400, `device type name "bad name": only letters`},
		{"chiller", 409, `device type "chiller": already exists`},
	} {
		r := e.post(op, "/admin/types/new", url.Values{"name": {tc.name}, "settings": {"[]"}})
		if r.status != tc.status || !strings.Contains(configText(r.body), tc.want) {
			t.Errorf("create %q: %d, want %d saying %q:\n%s", tc.name, r.status, tc.status, tc.want, r.body)
		}
	}
	if after, _ := e.types.Get("chiller"); !cmp.Equal(before, after) {
		t.Error("creating an existing type replaced it")
	}
	r = e.post(op, "/admin/types/new", url.Values{"name": {"heat-pump"}, "description": {"Air-source heat pump"}, "settings": {`[{"key":"hw_setpoint","type":"number","minimum":40,"maximum":80}]`}})
	if r.status != http.StatusSeeOther || r.location != "/admin/types/heat-pump" {
		t.Fatalf("create heat-pump: %d to %q\n%s", r.status, r.location, r.body)
	}
	if r := e.get(op, "/admin/types/heat-pump"); !strings.Contains(r.body, "Device type heat-pump created.") || !strings.Contains(r.body, "<code>hw_setpoint</code>") {
		t.Errorf("the new type's page:\n%s", r.body)
	}

	// Deleting asks first, and is refused while devices are of the type.
	if r := e.get(op, "/admin/types/chiller/delete"); r.status != http.StatusOK || !strings.Contains(r.body, "Delete device type chiller?") {
		t.Errorf("delete confirmation: %d", r.status)
	}
	r = e.post(op, "/admin/types/chiller/delete", url.Values{})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "2 devices are of this type") {
		t.Errorf("delete a type in use: %d, want 400 saying why:\n%s", r.status, r.body)
	}
	if _, err := e.types.Get("chiller"); err != nil {
		t.Error("a type in use was deleted")
	}
	if r := e.post(op, "/admin/types/heat-pump/delete", url.Values{}); r.status != http.StatusSeeOther || r.location != "/admin/types" {
		t.Errorf("delete heat-pump: %d to %q", r.status, r.location)
	}
	if _, err := e.types.Get("heat-pump"); err == nil {
		t.Error("heat-pump is still there")
	}
	if r := e.get(op, "/admin/types/heat-pump"); r.status != http.StatusNotFound {
		t.Errorf("a deleted type's page: %d, want 404", r.status)
	}
}

func TestConfigShadowEditor(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	path := "/admin/devices/acme-chiller-1/shadow"
	r := e.get(op, path)
	if r.status != http.StatusOK || !strings.Contains(r.body, "does not exist yet") {
		t.Fatalf("editor of a device without a shadow: %d\n%s", r.status, r.body)
	}
	if r := e.get(op, "/admin/devices/nope/shadow"); r.status != http.StatusNotFound {
		t.Errorf("editor of a device that does not exist: %d, want 404", r.status)
	}

	r = e.post(op, path, url.Values{"update": {`{"state": {"desired": {"chw_setpoint": 7.5, "max_load": 80}}}`}})
	if r.status != http.StatusSeeOther || r.location != path {
		t.Fatalf("apply: %d to %q\n%s", r.status, r.location, r.body)
	}
	sh, err := e.st.GetShadow("acme-chiller-1", "")
	if err != nil || sh.Version != 1 {
		t.Fatalf("shadow after apply: %+v %v", sh, err)
	}
	h, _, err := e.st.History(store.HistoryQuery{Device: "acme-chiller-1"})
	if err != nil || len(h) != 1 || h[0].Actor != "user:"+opUser || h[0].Channel != "page" {
		t.Fatalf("history: %+v %v", h, err)
	}
	r = e.get(op, path)
	for _, want := range []string{"Applied: the shadow is at version 1", "Version 1", "&#34;chw_setpoint&#34;: 7.5", `name="version" inputmode="numeric" autocomplete="off" value="1"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("editor after apply lacks %q", want)
		}
	}
	delta := regexp.MustCompile(`(?s)id="delta-h".*?</section>`).FindString(r.body)
	if !strings.Contains(delta, "max_load") {
		t.Errorf("the delta lacks what the device has not applied:\n%s", delta)
	}

	// Reported values out of the rules are shown.
	e.configReport("acme-chiller-1", `{"chw_setpoint": 30, "max_load": 80}`)
	r = e.get(op, path)
	if !strings.Contains(r.body, "<code>chw_setpoint</code> (maximum)") || !strings.Contains(configText(r.body), "30 is above the maximum 12") {
		t.Errorf("editor lacks the violation of the reported value:\n%s", r.body)
	}

	// Refusals keep the document and change nothing.
	before, _ := e.st.GetShadow("acme-chiller-1", "")
	for _, tc := range []struct {
		update, version string
		status          int
		want            string
	}{
		{`{"state": {"desired": {"chw_setpoint": 20}}}`, "", 400, "desired.chw_setpoint: 20 is above the maximum 12 °C"},
		{`{"state": {"desired": {"boost": true}}}`, "", 400, "boost"},
		{`{"state": {"desired": `, "", 400, "Invalid JSON"},
		{`{"state": {"desired": {"chw_setpoint": 6}}}`, "1", 409, "now at version 2"},
		{`{"state": {"desired": {"chw_setpoint": 6}}}`, "v2", 400, `expected version "v2" is not a whole number`},
		{`{"state": {"desired": {"note": "` + strings.Repeat("x", 70<<10) + `"}}}`, "", 413, "exceeds the maximum size"},
	} {
		r := e.post(op, path, url.Values{"update": {tc.update}, "version": {tc.version}})
		if r.status != tc.status || !strings.Contains(configText(r.body), tc.want) {
			t.Errorf("apply %.60s (version %q): %d, want %d saying %q:\n%.3000s", tc.update, tc.version, r.status, tc.status, tc.want, r.body)
		}
		if !strings.Contains(r.body, ">"+html.EscapeString(tc.update)+"</textarea>") {
			t.Errorf("apply %.60s: the textarea lost the document", tc.update)
		}
	}
	if after, _ := e.st.GetShadow("acme-chiller-1", ""); after.Version != before.Version {
		t.Errorf("refused updates changed the shadow: version %d → %d", before.Version, after.Version)
	}
	// With the version the page offers, the update goes through.
	if r := e.post(op, path, url.Values{"update": {`{"state": {"desired": {"chw_setpoint": 6}}}`}, "version": {"2"}}); r.status != http.StatusSeeOther {
		t.Errorf("apply with the current version: %d\n%s", r.status, r.body)
	}

	// Named shadows are edited under ?name=.
	named := path + "?name=program"
	if r := e.post(op, named, url.Values{"update": {`{"state": {"desired": {"monday": [8, 18]}}}`}}); r.status != http.StatusSeeOther || r.location != named {
		t.Fatalf("apply to a named shadow: %d to %q\n%s", r.status, r.location, r.body)
	}
	if sh, err := e.st.GetShadow("acme-chiller-1", "program"); err != nil || !strings.Contains(string(sh.Doc), "monday") {
		t.Errorf("named shadow: %s %v", sh.Doc, err)
	}
	if r := e.get(op, named); !strings.Contains(r.body, "Shadow program of acme-chiller-1") || !strings.Contains(r.body, "monday") {
		t.Errorf("named shadow editor:\n%s", r.body)
	}
}

func TestConfigHistory(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	if r := e.get(op, "/admin/history"); r.status != http.StatusOK || !strings.Contains(r.body, "No changes recorded.") {
		t.Fatalf("empty history: %d\n%s", r.status, r.body)
	}
	start := time.Now().UTC()
	e.configReport("globex-chiller-9", `{"chw_setpoint": 8}`)
	const changes = 55
	for i := range changes {
		body := fmt.Sprintf(`{"state": {"desired": {"max_load": %d}}}`, i)
		if r := e.post(op, "/admin/devices/acme-chiller-1/shadow", url.Values{"update": {body}}); r.status != http.StatusSeeOther {
			t.Fatalf("change %d: %d", i, r.status)
		}
	}

	r := e.get(op, "/admin/history")
	if r.status != http.StatusOK {
		t.Fatalf("history: %d", r.status)
	}
	if n := strings.Count(r.body, "<tr>") - 1; n != 50 {
		t.Errorf("first page: %d rows, want 50", n)
	}
	// Newest first: the last change leads.
	if i, j := strings.Index(r.body, "max_load: 54 (requested instead of 53)"), strings.Index(r.body, "max_load: 53 (requested instead of 52)"); i < 0 || j < 0 || i > j {
		t.Errorf("history is not newest first (%d, %d)", i, j)
	}
	next := regexp.MustCompile(`href="(/admin/history\?[^"]*cursor=[^"]*)"`).FindStringSubmatch(r.body)
	if next == nil {
		t.Fatal("no link to older changes")
	}
	r = e.get(op, html.UnescapeString(next[1]))
	if n := strings.Count(r.body, "<tr>") - 1; r.status != http.StatusOK || n != changes+1-50 {
		t.Errorf("second page: %d, %d rows, want %d", r.status, n, changes+1-50)
	}
	if !strings.Contains(r.body, "globex-chiller-9") || !strings.Contains(r.body, "device:globex-chiller-9") || strings.Contains(r.body, "Older changes") {
		t.Errorf("the last page lacks the oldest change or offers more:\n%s", r.body)
	}

	for _, tc := range []struct {
		query string
		rows  int
		want  string
	}{
		{"device=globex-chiller-9", 1, "device:globex-chiller-9"},
		{"actor=" + url.QueryEscape("user:"+opUser), 50, "user:" + opUser},
		{"actor=scheduler", 0, "No changes recorded."},
		{"device=acme-chiller-1&actor=" + url.QueryEscape("device:globex-chiller-9"), 0, "No changes recorded."},
		{"to=" + start.Add(-time.Hour).Format("2006-01-02T15:04"), 0, "No changes recorded."},
		{"from=" + start.Add(-time.Minute).Format("2006-01-02T15:04") + "&device=globex-chiller-9", 1, "globex-chiller-9"},
	} {
		r := e.get(op, "/admin/history?"+tc.query)
		if n := strings.Count(r.body, "<tr>") - 1; r.status != http.StatusOK || max(n, 0) != tc.rows || !strings.Contains(r.body, tc.want) {
			t.Errorf("history?%s: %d, %d rows, want %d with %q", tc.query, r.status, n, tc.rows, tc.want)
		}
	}
	for _, tc := range []struct{ query, want string }{
		{"from=yesterday", `From "yesterday" is not a date and time.`},
		{"to=2026-13-01T00:00", `To "2026-13-01T00:00" is not a date and time.`},
		{"from=2026-11-02T00:00&to=2026-11-01T00:00", "the time range must start before it ends"},
		{"device=" + url.QueryEscape("no such/device"), "device"},
		{"cursor=garbage", "cursor"},
	} {
		r := e.get(op, "/admin/history?"+tc.query)
		if r.status != http.StatusBadRequest || !strings.Contains(configText(r.body), tc.want) {
			t.Errorf("history?%s: %d, want 400 saying %q:\n%s", tc.query, r.status, tc.want, r.body)
		}
	}
}

// TestConfigHistoryTimeZone: the from and to filters are read in the
// person's time zone, the one the page shows times in.
func TestConfigHistoryTimeZone(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := e.st.UpdateUser(opUser, func(u *store.User) error { u.TimeZone = "Asia/Tokyo"; return nil }); err != nil {
		t.Fatal(err)
	}
	op := e.signIn(opUser)
	e.configReport("acme-chiller-1", `{"chw_setpoint": 8}`)
	jst := time.FixedZone("JST", 9*3600)
	now := time.Now().In(jst)
	// In Tokyo the change happened after now-1min; read as UTC, that time
	// would lie nine hours later, after it.
	from := now.Add(-time.Minute).Format("2006-01-02T15:04")
	r := e.get(op, "/admin/history?from="+from)
	if !strings.Contains(r.body, "device:acme-chiller-1") || !strings.Contains(r.body, "Asia/Tokyo") {
		t.Errorf("history from %s in Asia/Tokyo lacks the change:\n%s", from, r.body)
	}
}

func TestConfigPagesInJapanese(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := e.st.UpdateUser(opUser, func(u *store.User) error { u.Language = "ja"; return nil }); err != nil {
		t.Fatal(err)
	}
	op := e.signIn(opUser)
	for path, want := range map[string]string{
		"/admin/users":                         "ユーザーの追加",
		"/admin/tokens":                        "API トークンの作成",
		"/admin/types":                         "機器種別の追加",
		"/admin/types/chiller":                 "現在の設定項目",
		"/admin/devices/acme-chiller-1/shadow": "更新ドキュメント",
		"/admin/history":                       "変更履歴",
	} {
		r := e.get(op, path)
		if r.status != http.StatusOK || !strings.Contains(r.body, want) || strings.Contains(r.body, "config.") {
			t.Errorf("GET %s in Japanese: %d, want %q and no message keys", path, r.status, want)
		}
	}
}

// FuzzParseSettings: the device type form's settings JSON never panics the
// parser, a refusal says why, and what it accepts reads back the same once
// written out again.
func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{
		`[]`, ``, `null`, `{}`, `[] []`, `[{"key":"a",`, `[{"key" "a"}]`,
		`[{"key":"chw_setpoint","type":"number","unit":"°C","minimum":5,"maximum":12,"step":0.5,"customer_editable":true}]`,
		`[{"key":"mode","type":"string","enum":["cooling", "heating", "off"]}]`,
		`[{"key":"program","type":"array","schema":{"type":"array","items":{"type":"integer"}}}]`,
		`[{"key":"a","type":"number","minimm":1}]`, `[{"key":"a","minimum":"1"}]`, `[1, 2]`, `[null]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sts, err := gate.ParseSettings([]byte(s))
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseSettings(%q): an error without a message", s)
			}
			return
		}
		b, err := json.Marshal(sts)
		if err != nil {
			t.Fatalf("ParseSettings(%q) accepted what cannot be written: %v", s, err)
		}
		again, err := gate.ParseSettings(b)
		if err != nil {
			t.Fatalf("ParseSettings(%q) accepted %s, which it then refuses: %v", s, b, err)
		}
		if b2, _ := json.Marshal(again); string(b2) != string(b) {
			t.Fatalf("ParseSettings(%q) does not read back: %s, then %s", s, b, b2)
		}
	})
}

// signInPlainOperator adds an operator without admin access and signs in
// as them.
func (e *env) signInPlainOperator() *http.Client {
	e.t.Helper()
	hash, err := secret.HashPassword(password)
	if err != nil {
		e.t.Fatal(err)
	}
	const plain = "plain@hearth.example"
	if err := e.st.CreateUser(store.User{Email: plain, Role: store.RoleOperator, Access: store.AccessOperator, PasswordHash: hash}); err != nil {
		e.t.Fatal(err)
	}
	return e.signIn(plain)
}
