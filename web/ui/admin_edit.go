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

// editForm is an edit page: the record's title, where the form posts and
// where Cancel goes, the fields, and why the last one sent was refused.
type editForm struct {
	Title, Action, Back string
	Error               string
	// A customer or a site: its display name; a site (Place) also its
	// address and time zone.
	DisplayName       string
	Place             bool
	Address, TimeZone string
	// A device: its site and type, and the choices, and its attributes as
	// key=value lines.
	Device     bool
	Site, Type string
	Sites      []store.Site
	Types      []store.DeviceType
	Attributes string
}

func (u *UI) editRoutes(r chi.Router) {
	u.editRoute(r, "/devices/{name}/edit", u.deviceEditForm, u.saveDevice)
	u.editRoute(r, "/customers/{customer}/edit", u.customerEditForm, u.saveCustomer)
	u.editRoute(r, "/customers/{customer}/sites/{site}/edit", u.siteEditForm, u.saveSite)
}

// editRoute registers an edit page at path: GET shows the form that load
// fills from the record (or answers 404), POST fills it again, lets save
// read what was sent into it and store it, and goes back to the record,
// or shows the form as sent with why it was refused.
func (u *UI) editRoute(r chi.Router, path string,
	load func(w http.ResponseWriter, r *http.Request) (editForm, bool),
	save func(r *http.Request, f *editForm) error) {
	r.Get(path, func(w http.ResponseWriter, r *http.Request) {
		if f, ok := load(w, r); ok {
			u.render(w, r, http.StatusOK, editPage(u.view(r), f))
		}
	})
	r.Post(path, func(w http.ResponseWriter, r *http.Request) {
		f, ok := load(w, r)
		if !ok {
			return
		}
		v := u.view(r)
		err := save(r, &f)
		if err == nil {
			u.sessions.Put(r.Context(), keyFlash, v.T("edit.saved"))
			http.Redirect(w, r, f.Back, http.StatusSeeOther)
			return
		}
		status, msg, ok := u.refusal(w, r, err)
		if !ok {
			return
		}
		f.Error = v.T("config.not_saved", msg)
		u.render(w, r, status, editPage(v, f))
	})
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

// saveDevice moves the device, sets its type and replaces its attributes.
func (u *UI) saveDevice(r *http.Request, f *editForm) error {
	f.Site, f.Type, f.Attributes = r.PostFormValue("site"), r.PostFormValue("type"), r.PostFormValue("attributes")
	attrs, err := parseAttributes(u.view(r), f.Attributes)
	if err != nil {
		return err
	}
	_, err = u.scope(r).UpdateDevice(chi.URLParam(r, "name"), device.DeviceChange{Site: &f.Site, Type: &f.Type, Attributes: attrs})
	if errors.Is(err, store.ErrNotFound) {
		// The device was found by the form: what is missing is the site.
		err = fmt.Errorf("site %q: the device's customer has no site of that name: %w", f.Site, store.ErrInvalid)
	}
	return err
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

// saveCustomer changes the customer's display name.
func (u *UI) saveCustomer(r *http.Request, f *editForm) error {
	f.DisplayName = strings.TrimSpace(r.PostFormValue("display_name"))
	_, err := u.scope(r).SetCustomerDisplayName(chi.URLParam(r, "customer"), f.DisplayName)
	return err
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
		DisplayName: sites[i].DisplayName, Place: true, Address: sites[i].Address, TimeZone: sites[i].TimeZone,
	}, true
}

// saveSite changes the site's display name, address and time zone.
func (u *UI) saveSite(r *http.Request, f *editForm) error {
	f.DisplayName = strings.TrimSpace(r.PostFormValue("display_name"))
	f.Address, f.TimeZone = strings.TrimSpace(r.PostFormValue("address")), strings.TrimSpace(r.PostFormValue("time_zone"))
	_, err := u.scope(r).UpdateSite(chi.URLParam(r, "customer"), chi.URLParam(r, "site"),
		store.SiteChange{DisplayName: &f.DisplayName, Address: &f.Address, TimeZone: &f.TimeZone})
	return err
}
