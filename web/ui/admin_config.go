package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/api"
)

// Bounds of the configuration pages.
const (
	// configShadowFormLimit bounds the shadow editor's form. It is above the
	// largest update the shadow service accepts, so that a document too
	// large for the service is refused by it with the text kept on the
	// page, rather than lost with the form.
	configShadowFormLimit = 256 << 10
	// configTypeFormLimit bounds the device type form: 256 settings with their
	// JSON Schemas fit.
	configTypeFormLimit = 4 << 20
	// configHistoryRows is the page size of the fleet's history.
	configHistoryRows = 50
)

// config serves the operator pages for users, API tokens, device types,
// shadows and the fleet's history.
type config struct {
	*UI
}

// configRoutes registers the operator pages for users, API tokens, device
// types and shadows, under /admin.
func (u *UI) configRoutes(r chi.Router) {
	c := &config{UI: u}
	r.Get("/users", c.showUsers)
	r.Post("/users", c.createUser)
	c.deletion(r, "/users/{email}/delete", "email", "config.users.deleted", "/admin/users", c.userConfirm, api.Scope.DeleteUser)
	r.Get("/tokens", c.showTokens)
	r.Post("/tokens", c.createToken)
	c.deletion(r, "/tokens/{id}/delete", "id", "config.tokens.deleted", "/admin/tokens", c.tokenConfirm, api.Scope.DeleteToken)
	r.Get("/types", c.showTypes)
	r.Get("/types/new", c.showNewType)
	r.Post("/types/new", c.createType)
	r.Get("/types/{type}", c.showType)
	r.Post("/types/{type}", c.saveType)
	c.deletion(r, "/types/{type}/delete", "type", "config.types.deleted", "/admin/types", c.typeConfirm, api.Scope.DeleteDeviceType)
	r.Get("/devices/{name}/shadow", c.showShadow)
	r.Post("/devices/{name}/shadow", c.updateShadow)
	r.Get("/history", c.showHistory)
}

// configParam is a decoded path parameter: chi hands parameters over as
// they were escaped when the request's path had escapes.
func configParam(r *http.Request, key string) string {
	v := chi.URLParam(r, key)
	if r.URL.RawPath == "" {
		return v
	}
	if s, err := url.PathUnescape(v); err == nil {
		return s
	}
	return v
}

// configConfirmData is a confirmation page before a delete: the question,
// where the form posts, where Cancel goes, and why the delete cannot be
// done when it cannot.
type configConfirmData struct {
	Title    string
	Question string
	Action   string
	Back     string
	Error    string
	Blocked  bool // the delete is known to be refused: no Delete button
}

// deletion registers a delete behind a confirmation page at path: GET
// asks, POST deletes. confirm finds the record, or answers 404, and words
// the question; remove deletes the record the path parameter param names.
// After the delete the browser goes back to list with the message doneKey;
// a refusal shows the confirmation page again with the reason, a fault the
// error page.
func (c *config) deletion(rt chi.Router, path, param, doneKey, list string,
	confirm func(w http.ResponseWriter, r *http.Request) (configConfirmData, bool),
	remove func(sc api.Scope, name string) error) {
	rt.Get(path, func(w http.ResponseWriter, r *http.Request) {
		if d, ok := confirm(w, r); ok {
			c.render(w, r, http.StatusOK, configConfirmPage(c.view(r), d))
		}
	})
	rt.Post(path, func(w http.ResponseWriter, r *http.Request) {
		d, ok := confirm(w, r)
		if !ok {
			return
		}
		name := configParam(r, param)
		c.deleted(w, r, d, remove(c.scope(r), name), c.view(r).T(doneKey, name), list)
	})
}

// deleted finishes a delete: see deletion.
func (c *config) deleted(w http.ResponseWriter, r *http.Request, d configConfirmData, err error, done, list string) {
	if err != nil {
		status, msg, ok := c.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error, d.Blocked = msg, true
		c.render(w, r, status, configConfirmPage(c.view(r), d))
		return
	}
	c.sessions.Put(r.Context(), keyFlash, done)
	http.Redirect(w, r, list, http.StatusSeeOther)
}

// configAccount is the new-user or new-token form, kept when it is
// refused: Name is the user's e-mail or the token's name.
type configAccount struct {
	Name, Role, Access, Customer string
}

// readAccount reads the new-user or new-token form. The form offers the
// customer field to every role; an operator belongs to none, whatever was
// left selected.
func readAccount(r *http.Request, nameField string) (configAccount, string) {
	f := configAccount{
		Name: strings.TrimSpace(r.PostFormValue(nameField)), Role: r.PostFormValue("role"),
		Access: r.PostFormValue("access"), Customer: r.PostFormValue("customer"),
	}
	customer := f.Customer
	if f.Role == store.RoleOperator {
		customer = ""
	}
	return f, customer
}

// configAccounts is what the users and the API tokens pages show besides
// their list: the form, and the outcome of the last one sent.
type configAccounts struct {
	Customers []store.Customer
	Form      configAccount
	Error     string
	Notice    string
	NoticeErr bool
	// Created and Secret are the user or token just created and its
	// one-time password or token, shown in the answer to the form and
	// never again.
	Created string
	Secret  string
}

// accountsPage is the users or the API tokens page, with its list read
// through sc.
type accountsPage func(sc api.Scope, v view, a configAccounts) (templ.Component, error)

func usersPage(sc api.Scope, v view, a configAccounts) (templ.Component, error) {
	users, err := sc.Users()
	if err != nil {
		return nil, err
	}
	return configUsersPage(v, a, users), nil
}

func tokensPage(sc api.Scope, v view, a configAccounts) (templ.Component, error) {
	tokens, err := sc.Tokens()
	if err != nil {
		return nil, err
	}
	return configTokensPage(v, a, tokens), nil
}

// accounts answers the users or the API tokens page with a, after
// checking that the person may see it.
func (c *config) accounts(w http.ResponseWriter, r *http.Request, status int, a configAccounts, page accountsPage) {
	sc := c.scope(r)
	customers, err := sc.Customers()
	if err != nil {
		c.fail(w, r, err)
		return
	}
	a.Customers = customers
	if a.Form.Role == "" {
		a.Form.Role = store.RoleCustomer
	}
	comp, err := page(sc, c.view(r), a)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, status, comp)
}

// showUsers: /admin/users, every user and the form to add one.
func (c *config) showUsers(w http.ResponseWriter, r *http.Request) {
	var a configAccounts
	a.Notice, a.NoticeErr = c.flashed(r)
	c.accounts(w, r, http.StatusOK, a, usersPage)
}

// showTokens: /admin/tokens, every API token and the form to add one.
func (c *config) showTokens(w http.ResponseWriter, r *http.Request) {
	var a configAccounts
	a.Notice, a.NoticeErr = c.flashed(r)
	c.accounts(w, r, http.StatusOK, a, tokensPage)
}

// createAccount runs the new-user or new-token form: create makes the
// record and returns its name and secret. The secret is in this answer
// only: it is never put in the session or a URL, which a redirect would
// need.
func (c *config) createAccount(w http.ResponseWriter, r *http.Request, nameField string,
	create func(f configAccount, customer string) (name, secret string, err error), page accountsPage) {
	form, customer := readAccount(r, nameField)
	var a configAccounts
	name, secret, err := create(form, customer)
	status := http.StatusCreated
	if err != nil {
		var msg string
		var ok bool
		if status, msg, ok = c.refusal(w, r, err); !ok {
			return
		}
		a.Form, a.Error = form, c.view(r).T("config.not_saved", msg)
	} else {
		a.Created, a.Secret = name, secret
	}
	c.accounts(w, r, status, a, page)
}

// createUser adds a user with a generated one-time password, which the
// user must change at first sign-in.
func (c *config) createUser(w http.ResponseWriter, r *http.Request) {
	c.createAccount(w, r, "email", func(f configAccount, customer string) (string, string, error) {
		u, password, err := c.scope(r).CreateUser(api.UserSpec{Email: f.Name, Role: f.Role, Access: f.Access, Customer: customer})
		return u.Email, password, err
	}, usersPage)
}

// createToken adds an API token.
func (c *config) createToken(w http.ResponseWriter, r *http.Request) {
	c.createAccount(w, r, "name", func(f configAccount, customer string) (string, string, error) {
		t, secret, err := c.scope(r).CreateToken(api.TokenSpec{Name: f.Name, Role: f.Role, Access: f.Access, Customer: customer})
		return t.Name, secret, err
	}, tokensPage)
}

// userConfirm is the confirmation of deleting the user of the request;
// deleting oneself is refused up front.
func (c *config) userConfirm(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := c.view(r)
	email := configParam(r, "email")
	users, err := c.scope(r).Users()
	if err != nil {
		c.fail(w, r, err)
		return configConfirmData{}, false
	}
	for _, x := range users {
		if !strings.EqualFold(x.Email, email) {
			continue
		}
		d := configConfirmData{
			Title: v.T("config.users.title"), Question: v.T("config.users.delete", x.Email),
			Action: "/admin/users/" + url.PathEscape(x.Email) + "/delete", Back: "/admin/users",
		}
		if strings.EqualFold(x.Email, v.User) {
			d.Error, d.Blocked = v.T("config.users.self"), true
		}
		return d, true
	}
	c.notFound(w, r)
	return configConfirmData{}, false
}

// tokenConfirm is the confirmation of deleting the token of the request;
// the question names it as the list does.
func (c *config) tokenConfirm(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := c.view(r)
	id := configParam(r, "id")
	tokens, err := c.scope(r).Tokens()
	if err != nil {
		c.fail(w, r, err)
		return configConfirmData{}, false
	}
	for _, t := range tokens {
		if t.ID == id {
			return configConfirmData{
				Title: v.T("config.tokens.title"), Question: v.T("config.tokens.delete", t.Name, t.ID),
				Action: "/admin/tokens/" + url.PathEscape(id) + "/delete", Back: "/admin/tokens",
			}, true
		}
	}
	c.notFound(w, r)
	return configConfirmData{}, false
}

// configTypesData is what the device types page shows.
type configTypesData struct {
	Types     []store.DeviceType
	Notice    string
	NoticeErr bool
}

// showTypes: /admin/types, every device type.
func (c *config) showTypes(w http.ResponseWriter, r *http.Request) {
	types, err := c.scope(r).DeviceTypes()
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := configTypesData{Types: types}
	d.Notice, d.NoticeErr = c.flashed(r)
	c.render(w, r, http.StatusOK, configTypesPage(c.view(r), d))
}

// configSettingRow is one setting in the readable table of a device type.
type configSettingRow struct {
	Key, Type, Unit, Description string
	Min, Max, Step               string
	Enum                         string
	Schema                       bool
	CustomerEditable             bool
}

func configSettingRows(sts []store.Setting) []configSettingRow {
	out := make([]configSettingRow, 0, len(sts))
	for _, st := range sts {
		enum := make([]string, len(st.Enum))
		for i, e := range st.Enum {
			enum[i] = string(e)
		}
		out = append(out, configSettingRow{
			Key: st.Key, Type: st.Type, Unit: st.Unit, Description: st.Description,
			Min: bound(st.Minimum), Max: bound(st.Maximum), Step: bound(st.Step),
			Enum: strings.Join(enum, ", "), Schema: len(st.Schema) > 0, CustomerEditable: st.CustomerEditable,
		})
	}
	return out
}

// configTypeData is what the page of one device type, or of a new one,
// shows. Settings is the textarea's JSON, as stored or as the person sent
// it; Current are the stored settings.
type configTypeData struct {
	New         bool
	Name        string
	Description string
	Settings    string
	Current     []configSettingRow
	Error       string
	Notice      string
	NoticeErr   bool
}

// configPrettySettings writes settings for the textarea, a field a line.
func configPrettySettings(sts []store.Setting) (string, error) {
	if sts == nil {
		sts = []store.Setting{}
	}
	b, err := json.MarshalIndent(sts, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode settings: %w", err)
	}
	return string(b), nil
}

// showNewType: /admin/types/new, the form for a new device type.
func (c *config) showNewType(w http.ResponseWriter, r *http.Request) {
	if _, err := c.scope(r).DeviceTypes(); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, configTypePage(c.view(r), configTypeData{New: true, Settings: "[]"}))
}

// readTypeForm reads the device type form: the description and the
// settings' JSON as sent, and the settings parsed, or why they cannot be.
func readTypeForm(w http.ResponseWriter, r *http.Request) (configTypeData, []store.Setting, error) {
	r.Body = http.MaxBytesReader(w, r.Body, configTypeFormLimit)
	if err := r.ParseForm(); err != nil {
		return configTypeData{}, nil, err
	}
	d := configTypeData{Description: strings.TrimSpace(r.PostFormValue("description")), Settings: r.PostFormValue("settings")}
	sts, err := api.ParseSettings([]byte(d.Settings))
	return d, sts, err
}

// createType stores a new device type; a refusal keeps what was typed.
func (c *config) createType(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	d, sts, err := readTypeForm(w, r)
	d.New, d.Name = true, strings.TrimSpace(r.PostFormValue("name"))
	if err == nil {
		_, err = c.scope(r).CreateDeviceType(store.DeviceType{Name: d.Name, Description: d.Description, Settings: sts})
	}
	if err != nil {
		status, msg, ok := c.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error = v.T("config.not_saved", msg)
		c.render(w, r, status, configTypePage(v, d))
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("config.types.created", d.Name))
	http.Redirect(w, r, "/admin/types/"+url.PathEscape(d.Name), http.StatusSeeOther)
}

// showType: /admin/types/{type}, the type's settings as a table and as
// JSON to edit.
func (c *config) showType(w http.ResponseWriter, r *http.Request) {
	t, err := c.scope(r).DeviceType(configParam(r, "type"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	js, err := configPrettySettings(t.Settings)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := configTypeData{Name: t.Name, Description: t.Description, Settings: js, Current: configSettingRows(t.Settings)}
	d.Notice, d.NoticeErr = c.flashed(r)
	c.render(w, r, http.StatusOK, configTypePage(c.view(r), d))
}

// saveType replaces a device type's description and settings through the
// same device type catalogue as the API; a refusal names the setting and
// the rule and keeps what was typed.
func (c *config) saveType(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	sc := c.scope(r)
	cur, err := sc.DeviceType(configParam(r, "type"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d, sts, err := readTypeForm(w, r)
	d.Name, d.Current = cur.Name, configSettingRows(cur.Settings)
	if err == nil {
		_, err = sc.UpdateDeviceType(store.DeviceType{Name: cur.Name, Description: d.Description, Settings: sts})
	}
	if err != nil {
		status, msg, ok := c.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error = v.T("config.not_saved", msg)
		c.render(w, r, status, configTypePage(v, d))
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("config.types.saved"))
	http.Redirect(w, r, "/admin/types/"+url.PathEscape(cur.Name), http.StatusSeeOther)
}

// typeConfirm is the confirmation of deleting the type of the request.
func (c *config) typeConfirm(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := c.view(r)
	t, err := c.scope(r).DeviceType(configParam(r, "type"))
	if err != nil {
		c.fail(w, r, err)
		return configConfirmData{}, false
	}
	back := "/admin/types/" + url.PathEscape(t.Name)
	return configConfirmData{
		Title: v.T("config.types.title"), Question: v.T("config.types.delete", t.Name), Action: back + "/delete", Back: back,
	}, true
}

// configShadowData is what the shadow editor shows.
type configShadowData struct {
	Device  string
	Shadow  string // "" is the classic shadow
	Exists  bool
	Version int64
	// Desired, Reported and Delta are pretty JSON, "" when empty.
	Desired, Reported, Delta string
	Violations               []settings.Violation
	// Update and Expect are the form: the update document and the
	// expected version, as sent or prefilled from the shadow.
	Update    string
	Expect    string
	Error     string
	Notice    string
	NoticeErr bool
}

// URL is the editor's own address, for its form and the redirect after it.
func (d configShadowData) URL() string { return configShadowLink(d.Device, d.Shadow) }

// configShadowTitle names the shadow the editor shows.
func configShadowTitle(v view, d configShadowData) string {
	if d.Shadow == "" {
		return v.T("config.shadow.title", d.Device)
	}
	return v.T("config.shadow.named", d.Shadow, d.Device)
}

// configShadowLink is the editor of a device's shadow.
func configShadowLink(device, name string) string {
	p := "/admin/devices/" + url.PathEscape(device) + "/shadow"
	if name != "" {
		p += "?" + url.Values{"name": {name}}.Encode()
	}
	return p
}

// configPretty writes a section of a shadow for reading; "" when empty.
func configPretty(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode shadow section: %w", err)
	}
	return string(b), nil
}

// loadShadow fills d with the shadow's current state and returns its
// desired section; a shadow that does not exist yet is an empty one.
func (c *config) loadShadow(sc api.Scope, d *configShadowData) (map[string]any, error) {
	doc, vs, err := sc.Shadow(d.Device, d.Shadow)
	var se *shadow.Error
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		// Only the shadow is missing: Shadow answers a device that is
		// not there with the API's 404, which is no *shadow.Error.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d.Exists, d.Version, d.Violations = true, doc.Version, vs
	for _, s := range []struct {
		dst *string
		m   map[string]any
	}{{&d.Desired, doc.State.Desired}, {&d.Reported, doc.State.Reported}, {&d.Delta, shadow.Delta(doc)}} {
		if *s.dst, err = configPretty(s.m); err != nil {
			return nil, err
		}
	}
	return doc.State.Desired, nil
}

// showShadow: /admin/devices/{name}/shadow[?name=S], the shadow's desired,
// reported and delta state, what breaks the type's rules, and a form for
// an update document that starts from the current desired state.
func (c *config) showShadow(w http.ResponseWriter, r *http.Request) {
	d := configShadowData{Device: configParam(r, "name"), Shadow: r.URL.Query().Get("name")}
	desired, err := c.loadShadow(c.scope(r), &d)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if desired == nil {
		desired = map[string]any{}
	}
	b, err := json.MarshalIndent(map[string]any{"state": map[string]any{"desired": desired}}, "", "  ")
	if err != nil {
		c.fail(w, r, fmt.Errorf("encode update document of %q: %w", d.Device, err))
		return
	}
	d.Update = string(b)
	if d.Exists {
		d.Expect = strconv.FormatInt(d.Version, 10)
	}
	d.Notice, d.NoticeErr = c.flashed(r)
	c.render(w, r, http.StatusOK, configShadowPage(c.view(r), d))
}

// configWithVersion sets the version of an update document, so that the
// shadow service refuses it when the shadow has moved past that version.
// A body that is not a JSON object is left as it is, for the service to
// refuse in its own words.
func configWithVersion(body []byte, version int64) []byte {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil || doc == nil {
		return body
	}
	doc["version"] = json.RawMessage(strconv.FormatInt(version, 10))
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// updateShadow applies the editor's update document through the same
// scope as the API: checked against the device type's settings, recorded
// in the history as the signed-in person on the page channel, and the
// device gets the delta. A refusal is shown with the document kept.
func (c *config) updateShadow(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	sc := c.scope(r)
	d := configShadowData{Device: configParam(r, "name"), Shadow: r.URL.Query().Get("name")}
	r.Body = http.MaxBytesReader(w, r.Body, configShadowFormLimit)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, err)
		return
	}
	d.Update, d.Expect = r.PostFormValue("update"), strings.TrimSpace(r.PostFormValue("version"))
	body := []byte(d.Update)
	status := http.StatusOK
	if d.Expect != "" {
		n, err := strconv.ParseInt(d.Expect, 10, 64)
		if err != nil || n < 0 {
			status, d.Error = http.StatusBadRequest, v.T("config.shadow.bad_ver", d.Expect)
		} else {
			body = configWithVersion(body, n)
		}
	}
	var accepted []byte
	if d.Error == "" {
		var err error
		if accepted, err = sc.UpdateShadow(d.Device, d.Shadow, body); err != nil {
			var msg string
			var ok bool
			if status, msg, ok = c.refusal(w, r, err); !ok {
				return
			}
			d.Error = v.T("config.not_saved", msg)
		}
	}
	if d.Error != "" {
		expect := d.Expect
		if _, err := c.loadShadow(sc, &d); err != nil {
			c.fail(w, r, err)
			return
		}
		if status == http.StatusConflict {
			// The document was meant for an older version: say which is
			// current, and offer it for the next try.
			d.Error = v.T("config.shadow.conflict", d.Version)
			expect = strconv.FormatInt(d.Version, 10)
		}
		d.Expect = expect
		c.render(w, r, status, configShadowPage(v, d))
		return
	}
	var res struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(accepted, &res); err != nil {
		c.fail(w, r, fmt.Errorf("decode accepted document of %q: %w", d.Device, err))
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("config.shadow.applied", res.Version))
	http.Redirect(w, r, d.URL(), http.StatusSeeOther)
}

// configHistoryRow is one change on the fleet's history page.
type configHistoryRow struct {
	When, Device, Shadow, Actor, Channel string
	Version                              int64
	Changes                              []string
	Flags                                []string
}

// configHistoryData is what the fleet's history page shows: the filter as
// typed, the entries, and the address of the next page.
type configHistoryData struct {
	Device, Actor, From, To string
	Rows                    []configHistoryRow
	Next                    string
	Error                   string
}

// historyTime reads a datetime-local filter in the page's time zone, the
// zone its times are shown in; the zero time when it is empty, and ok
// false when it is not a date and time.
func historyTime(v view, s string) (t time.Time, ok bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", s, v.loc)
	return t, err == nil
}

// showHistory: /admin/history, the shadow history of the whole fleet,
// newest first, filtered by device, actor and time (from inclusive, to
// exclusive), a page at a time.
func (c *config) showHistory(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	q := r.URL.Query()
	d := configHistoryData{
		Device: strings.TrimSpace(q.Get("device")), Actor: strings.TrimSpace(q.Get("actor")),
		From: q.Get("from"), To: q.Get("to"),
	}
	from, okFrom := historyTime(v, d.From)
	to, okTo := historyTime(v, d.To)
	switch {
	case !okFrom:
		d.Error = v.T("config.history.bad_time", v.T("config.history.from"), d.From)
	case !okTo:
		d.Error = v.T("config.history.bad_time", v.T("config.history.to"), d.To)
	}
	if d.Error != "" {
		c.render(w, r, http.StatusBadRequest, configHistoryPage(v, d))
		return
	}
	entries, next, err := c.scope(r).FleetHistory(store.HistoryQuery{
		Device: d.Device, Actor: d.Actor, From: from, To: to, Cursor: q.Get("cursor"), Limit: configHistoryRows,
	})
	if err != nil {
		status, msg, ok := c.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error = msg
		c.render(w, r, status, configHistoryPage(v, d))
		return
	}
	for _, e := range entries {
		row := configHistoryRow{
			When: v.Time(e.Time), Device: e.Device, Shadow: e.Shadow, Actor: e.Actor, Channel: e.Channel, Version: e.Version,
		}
		for _, ch := range e.Changes {
			row.Changes = append(row.Changes, fmt.Sprintf("%s.%s: %s → %s", ch.Section, ch.Key, string(ch.Old), string(ch.New)))
		}
		for _, f := range e.Flags {
			row.Flags = append(row.Flags, f.Message)
		}
		d.Rows = append(d.Rows, row)
	}
	if next != "" {
		d.Next = "/admin/history?" + url.Values{
			"device": {d.Device}, "actor": {d.Actor}, "from": {d.From}, "to": {d.To}, "cursor": {next},
		}.Encode()
	}
	c.render(w, r, http.StatusOK, configHistoryPage(v, d))
}

// configHistoryLink is the history page filtered by one field: what a
// click on a device or an actor in the table means.
func configHistoryLink(field, value string) string {
	return "/admin/history?" + url.Values{field: {value}}.Encode()
}

// configYesNo writes a flag for a table.
func configYesNo(v view, b bool) string {
	if b {
		return v.T("config.yes")
	}
	return v.T("config.no")
}

// configOrNone writes "—" for an empty cell.
func configOrNone(v view, s string) string {
	if s == "" {
		return v.T("config.none")
	}
	return s
}

// configAccessLevels are the access levels the forms offer; the store
// checks which fit the role.
var configAccessLevels = []string{store.AccessAdmin, store.AccessOperator, store.AccessEditor, store.AccessViewer}
