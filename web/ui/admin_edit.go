package ui

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
)

// editMessages are the operator edit forms' messages.
var editMessages = map[string]tr{
	"edit.edit":          {"Edit", "編集"},
	"edit.save":          {"Save", "保存"},
	"edit.saved":         {"Saved.", "保存しました。"},
	"edit.device":        {"Edit device %s", "機器 %s の編集"},
	"edit.customer":      {"Edit customer %s", "顧客 %s の編集"},
	"edit.site":          {"Edit site %s", "サイト %s の編集"},
	"edit.display_name":  {"Display name", "表示名"},
	"edit.display_hint":  {"Shown on the pages instead of the name; empty shows the name, which cannot change.", "名前の代わりにページに表示されます。空欄の場合は名前を表示します（名前は変更できません）。"},
	"edit.site_hint":     {"Another site of the same customer; a device stays with its customer.", "同じ顧客の別のサイト。機器の顧客は変更できません。"},
	"edit.type_none":     {"— no type: no settings are checked", "— 種別なし: 設定を検査しない"},
	"edit.type_hint":     {"The type's settings apply from the device's next shadow update.", "種別の設定項目は機器の次回のシャドウ更新から適用されます。"},
	"edit.attributes":    {"Attributes", "属性"},
	"edit.attr_hint":     {"One key=value a line, e.g. serial=A-123; they replace the ones the device has.", "1 行に 1 つの key=value（例: serial=A-123）。現在の属性を置き換えます。"},
	"edit.attr_bad_line": {"line %d %q: write key=value", "%d 行目 %q: key=value の形で書いてください"},
}

// editForm is an edit page: the record's title, where the form posts and
// where Cancel goes, the fields, and why the last one sent was refused.
type editForm struct {
	Title, Action, Back string
	Error               string
	// A customer or a site: its display name.
	DisplayName string
	// A device: its site and type, and the choices, and its attributes as
	// key=value lines.
	Device     bool
	Site, Type string
	Sites      []store.Site
	Types      []store.DeviceType
	Attributes string
}

func (u *UI) editRoutes(r chi.Router) {
	r.Get("/devices/{name}/edit", u.showDeviceEdit)
	r.Post("/devices/{name}/edit", u.saveDeviceEdit)
	r.Get("/customers/{customer}/edit", u.showCustomerEdit)
	r.Post("/customers/{customer}/edit", u.saveCustomerEdit)
	r.Get("/customers/{customer}/sites/{site}/edit", u.showSiteEdit)
	r.Post("/customers/{customer}/sites/{site}/edit", u.saveSiteEdit)
}

// deviceEditForm is the device's edit form, filled with what it holds.
func (u *UI) deviceEditForm(w http.ResponseWriter, r *http.Request) (editForm, bool) {
	sc := u.scope(r)
	d, err := sc.Device(chi.URLParam(r, "name"))
	if err != nil {
		u.fail(w, r, err)
		return editForm{}, false
	}
	sites, err := sc.Sites(d.Customer)
	if err != nil {
		u.fail(w, r, err)
		return editForm{}, false
	}
	types, err := sc.DeviceTypes()
	if err != nil {
		u.fail(w, r, err)
		return editForm{}, false
	}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(d.Attributes)) {
		lines = append(lines, k+"="+d.Attributes[k])
	}
	v := u.view(r)
	return editForm{
		Title: v.T("edit.device", d.Name), Action: fleetDevicePath(d.Name) + "/edit", Back: fleetDevicePath(d.Name),
		Device: true, Site: d.Site, Type: d.Type, Sites: sites, Types: types, Attributes: strings.Join(lines, "\n"),
	}, true
}

// showDeviceEdit: GET /admin/devices/{name}/edit.
func (u *UI) showDeviceEdit(w http.ResponseWriter, r *http.Request) {
	if f, ok := u.deviceEditForm(w, r); ok {
		u.render(w, r, http.StatusOK, editPage(u.view(r), f))
	}
}

// saveDeviceEdit: POST /admin/devices/{name}/edit moves the device, sets
// its type and replaces its attributes.
func (u *UI) saveDeviceEdit(w http.ResponseWriter, r *http.Request) {
	f, ok := u.deviceEditForm(w, r)
	if !ok {
		return
	}
	v := u.view(r)
	f.Site, f.Type, f.Attributes = r.PostFormValue("site"), r.PostFormValue("type"), r.PostFormValue("attributes")
	attrs, err := parseAttributes(v, f.Attributes)
	if err == nil {
		_, err = u.scope(r).UpdateDevice(chi.URLParam(r, "name"), device.DeviceChange{Site: &f.Site, Type: &f.Type, Attributes: attrs})
		if errors.Is(err, store.ErrNotFound) {
			// The device was found above: what is missing is the site.
			err = fmt.Errorf("site %q: the device's customer has no site of that name: %w", f.Site, store.ErrInvalid)
		}
	}
	u.finishEdit(w, r, f, err)
}

// parseAttributes reads key=value lines; blank lines are skipped.
func parseAttributes(v view, text string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %w", v.T("edit.attr_bad_line", i+1, line), store.ErrInvalid)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return out, nil
}

// finishEdit answers a sent edit form: back to the record with a notice,
// or the form again, as sent, with why it was refused.
func (u *UI) finishEdit(w http.ResponseWriter, r *http.Request, f editForm, err error) {
	v := u.view(r)
	if err == nil {
		u.sessions.Put(r.Context(), keyFlash, v.T("edit.saved"))
		http.Redirect(w, r, f.Back, http.StatusSeeOther)
		return
	}
	c := &config{UI: u}
	status, msg, ok := c.refusal(w, r, err)
	if !ok {
		return
	}
	f.Error = v.T("config.not_saved", msg)
	u.render(w, r, status, editPage(v, f))
}

// customerEditForm is the customer's edit form.
func (u *UI) customerEditForm(w http.ResponseWriter, r *http.Request) (editForm, bool) {
	c, err := u.scope(r).Customer(chi.URLParam(r, "customer"))
	if err != nil {
		u.fail(w, r, err)
		return editForm{}, false
	}
	v := u.view(r)
	return editForm{
		Title: v.T("edit.customer", c.Name), Action: fleetCustomerPath(c.Name) + "/edit", Back: fleetCustomerPath(c.Name),
		DisplayName: c.DisplayName,
	}, true
}

// showCustomerEdit: GET /admin/customers/{customer}/edit.
func (u *UI) showCustomerEdit(w http.ResponseWriter, r *http.Request) {
	if f, ok := u.customerEditForm(w, r); ok {
		u.render(w, r, http.StatusOK, editPage(u.view(r), f))
	}
}

// saveCustomerEdit: POST /admin/customers/{customer}/edit.
func (u *UI) saveCustomerEdit(w http.ResponseWriter, r *http.Request) {
	f, ok := u.customerEditForm(w, r)
	if !ok {
		return
	}
	f.DisplayName = strings.TrimSpace(r.PostFormValue("display_name"))
	_, err := u.scope(r).SetCustomerDisplayName(chi.URLParam(r, "customer"), f.DisplayName)
	u.finishEdit(w, r, f, err)
}

// siteEditForm is the site's edit form.
func (u *UI) siteEditForm(w http.ResponseWriter, r *http.Request) (editForm, bool) {
	customer, name := chi.URLParam(r, "customer"), chi.URLParam(r, "site")
	sites, err := u.scope(r).Sites(customer)
	if err != nil {
		u.fail(w, r, err)
		return editForm{}, false
	}
	i := slices.IndexFunc(sites, func(s store.Site) bool { return s.Name == name })
	if i < 0 {
		u.notFound(w, r)
		return editForm{}, false
	}
	v := u.view(r)
	return editForm{
		Title:  v.T("edit.site", customer+" / "+name),
		Action: fleetCustomerPath(customer) + "/sites/" + url.PathEscape(name) + "/edit", Back: fleetCustomerPath(customer),
		DisplayName: sites[i].DisplayName,
	}, true
}

// showSiteEdit: GET /admin/customers/{customer}/sites/{site}/edit.
func (u *UI) showSiteEdit(w http.ResponseWriter, r *http.Request) {
	if f, ok := u.siteEditForm(w, r); ok {
		u.render(w, r, http.StatusOK, editPage(u.view(r), f))
	}
}

// saveSiteEdit: POST /admin/customers/{customer}/sites/{site}/edit.
func (u *UI) saveSiteEdit(w http.ResponseWriter, r *http.Request) {
	f, ok := u.siteEditForm(w, r)
	if !ok {
		return
	}
	f.DisplayName = strings.TrimSpace(r.PostFormValue("display_name"))
	_, err := u.scope(r).SetSiteDisplayName(chi.URLParam(r, "customer"), chi.URLParam(r, "site"), f.DisplayName)
	u.finishEdit(w, r, f, err)
}
