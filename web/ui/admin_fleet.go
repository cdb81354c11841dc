package ui

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/api"
)

// Bounds and fixed values of the fleet pages.
const (
	// issuedTTL is how long issued credentials wait for their download.
	issuedTTL = 10 * time.Minute
	// maxIssued bounds the credentials waiting across all sessions; at the
	// bound the oldest gives way.
	maxIssued = 256
	// maxSessionIssued bounds the credentials one session can reach.
	maxSessionIssued = 8
	// maxFleetRows bounds a device or stale list; a search narrows it.
	maxFleetRows = 500
	defaultStale = time.Hour
	minStale     = time.Minute
	maxStale     = 366 * 24 * time.Hour
	// mqttTLSPort is the standard MQTT over TLS port devices connect to.
	mqttTLSPort = "8883"
	// keyFleetIssued is the session's list of ids of issued credentials,
	// space-separated, oldest first.
	keyFleetIssued = "fleet_issued"
)

// fleet serves the operator pages of the fleet, and holds the credentials
// issued on them until their download.
type fleet struct {
	*UI
	issued *issuedStore
}

// fleetRoutes registers the operator pages for customers, sites, devices
// and their credentials, under /admin.
func (u *UI) fleetRoutes(r chi.Router) {
	f := &fleet{UI: u, issued: newIssuedStore(u.now)}
	r.Get("/customers", f.showCustomers)
	r.Post("/customers", f.createCustomer)
	r.Get("/customers/{customer}", f.showCustomer)
	r.Post("/customers/{customer}/sites", f.createSite)
	r.Get("/customers/{customer}/delete", f.confirmDeleteCustomer)
	r.Post("/customers/{customer}/delete", f.deleteCustomer)
	r.Get("/customers/{customer}/sites/{site}/delete", f.confirmDeleteSite)
	r.Post("/customers/{customer}/sites/{site}/delete", f.deleteSite)
	r.Get("/devices", f.showDevices)
	r.Post("/devices", f.createDevice)
	r.Get("/devices/{name}", f.showFleetDevice)
	r.Get("/devices/{name}/credentials", f.showIssued)
	r.Post("/devices/{name}/credentials.zip", f.downloadCredentials)
	r.Get("/devices/{name}/rotate", f.confirmRotate)
	r.Post("/devices/{name}/rotate", f.rotateCredentials)
	r.Get("/devices/{name}/revoke", f.confirmRevoke)
	r.Post("/devices/{name}/revoke", f.revokeCredentials)
	r.Get("/devices/{name}/delete", f.confirmDeleteDevice)
	r.Post("/devices/{name}/delete", f.deleteDevice)
	r.Get("/health", f.showHealth)
}

// Paths of the fleet pages.
func fleetCustomerPath(name string) string { return "/admin/customers/" + url.PathEscape(name) }
func fleetDevicePath(name string) string {
	return "/admin/devices/" + url.PathEscape(name)
}

// redirect leaves msg for the next page and sends the browser to path.
func (f *fleet) redirect(w http.ResponseWriter, r *http.Request, path, msg string) {
	if msg != "" {
		f.sessions.Put(r.Context(), keyFlash, msg)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// reshow answers a create form the registry or store refused: page
// builds the form's page again with the message of the refusal (and what
// was typed), answered with the API's status; a fault is the error page.
func (f *fleet) reshow(w http.ResponseWriter, r *http.Request, err error, page func(msg string) (templ.Component, error)) {
	status, msg, ok := f.refusal(w, r, err)
	if !ok {
		return
	}
	c, err := page(f.view(r).T("fleet.not_created", msg))
	if err != nil {
		f.fail(w, r, err)
		return
	}
	f.render(w, r, status, c)
}

// refuseChange answers a change that failed: a record that is not there
// is the 404 page, another refusal goes back to the page at back with its
// message, a fault is the error page.
func (f *fleet) refuseChange(w http.ResponseWriter, r *http.Request, err error, back, key string) {
	status, msg, ok := f.refusal(w, r, err)
	if !ok {
		return
	}
	if status == http.StatusNotFound {
		f.notFound(w, r)
		return
	}
	f.redirect(w, r, back, "!"+f.view(r).T(key, msg))
}

// matches reports whether q (case-insensitive) is part of one of fields;
// an empty q matches everything.
func fleetMatches(q string, fields ...string) bool {
	if q == "" {
		return true
	}
	q = strings.ToLower(q)
	return slices.ContainsFunc(fields, func(s string) bool { return strings.Contains(strings.ToLower(s), q) })
}

// --- customers and sites ---

type fleetNameForm struct{ Name, DisplayName string }

type fleetCustomerRow struct {
	Name, DisplayName string
	Sites, Devices    int
}

// fleetCustomersData is what the customer list shows.
type fleetCustomersData struct {
	Query    string
	Rows     []fleetCustomerRow
	Form     fleetNameForm
	Error    string
	Flash    string
	FlashErr bool
}

func (f *fleet) customersData(r *http.Request) (fleetCustomersData, error) {
	sc := f.scope(r)
	d := fleetCustomersData{Query: strings.TrimSpace(r.URL.Query().Get("q"))}
	customers, err := sc.Customers()
	if err != nil {
		return d, err
	}
	sites, err := sc.Sites("")
	if err != nil {
		return d, err
	}
	devices, err := sc.Devices("", "")
	if err != nil {
		return d, err
	}
	siteCount, deviceCount := map[string]int{}, map[string]int{}
	for _, s := range sites {
		siteCount[s.Customer]++
	}
	for _, dv := range devices {
		deviceCount[dv.Customer]++
	}
	for _, c := range customers {
		if fleetMatches(d.Query, c.Name, c.DisplayName) {
			d.Rows = append(d.Rows, fleetCustomerRow{Name: c.Name, DisplayName: c.DisplayName, Sites: siteCount[c.Name], Devices: deviceCount[c.Name]})
		}
	}
	return d, nil
}

// showCustomers: /admin/customers[?q=], with the form that creates one.
func (f *fleet) showCustomers(w http.ResponseWriter, r *http.Request) {
	d, err := f.customersData(r)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	d.Flash, d.FlashErr = f.flashed(r)
	f.render(w, r, http.StatusOK, fleetCustomersPage(f.view(r), d))
}

// createCustomer stores a customer from the list's form; a refusal shows
// the form again with what was typed and why.
func (f *fleet) createCustomer(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	form := fleetNameForm{Name: strings.TrimSpace(r.PostFormValue("name")), DisplayName: strings.TrimSpace(r.PostFormValue("display_name"))}
	c, err := f.scope(r).CreateCustomer(form.Name, form.DisplayName)
	if err != nil {
		f.reshow(w, r, err, func(msg string) (templ.Component, error) {
			d, err := f.customersData(r)
			d.Form, d.Error = form, msg
			return fleetCustomersPage(v, d), err
		})
		return
	}
	f.redirect(w, r, fleetCustomerPath(c.Name), v.T("fleet.customer.created", c.Name))
}

type fleetSiteRow struct {
	Name, DisplayName string
	Devices, Online   int
	Default           bool
}

// fleetCustomerData is what a customer's page shows.
type fleetCustomerData struct {
	Customer store.Customer
	Sites    []fleetSiteRow
	Devices  int
	Form     fleetNameForm
	Error    string
	Flash    string
	FlashErr bool
}

func (f *fleet) customerData(r *http.Request, name string) (fleetCustomerData, error) {
	sc := f.scope(r)
	sites, err := sc.Sites(name)
	if err != nil {
		return fleetCustomerData{}, err
	}
	customers, err := sc.Customers()
	if err != nil {
		return fleetCustomerData{}, err
	}
	i := slices.IndexFunc(customers, func(c store.Customer) bool { return c.Name == name })
	if i < 0 {
		return fleetCustomerData{}, fmt.Errorf("customer %q: %w", name, store.ErrNotFound)
	}
	devices, err := sc.Devices(name, "")
	if err != nil {
		return fleetCustomerData{}, err
	}
	d := fleetCustomerData{Customer: customers[i], Devices: len(devices)}
	for _, s := range sites {
		row := fleetSiteRow{Name: s.Name, DisplayName: s.DisplayName, Default: s.Name == store.DefaultSite}
		for _, dv := range devices {
			if dv.Site == s.Name {
				row.Devices++
				if dv.Presence.Online {
					row.Online++
				}
			}
		}
		d.Sites = append(d.Sites, row)
	}
	return d, nil
}

// showCustomer: /admin/customers/{customer}, its sites with their devices
// and the form that creates a site.
func (f *fleet) showCustomer(w http.ResponseWriter, r *http.Request) {
	d, err := f.customerData(r, chi.URLParam(r, "customer"))
	if err != nil {
		f.fail(w, r, err)
		return
	}
	d.Flash, d.FlashErr = f.flashed(r)
	f.render(w, r, http.StatusOK, fleetCustomerPage(f.view(r), d))
}

// createSite stores a site from the customer page's form; a refusal shows
// the page again with what was typed and why.
func (f *fleet) createSite(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	customer := chi.URLParam(r, "customer")
	form := fleetNameForm{Name: strings.TrimSpace(r.PostFormValue("name")), DisplayName: strings.TrimSpace(r.PostFormValue("display_name"))}
	s, err := f.scope(r).CreateSite(customer, form.Name, form.DisplayName)
	if err != nil {
		f.reshow(w, r, err, func(msg string) (templ.Component, error) {
			d, err := f.customerData(r, customer)
			d.Form, d.Error = form, msg
			return fleetCustomerPage(v, d), err
		})
		return
	}
	f.redirect(w, r, fleetCustomerPath(customer), v.T("fleet.site.created", s.Name))
}

// fleetConfirmData is a question before a change that cannot be undone.
type fleetConfirmData struct {
	Title    string
	Question string
	Hint     string
	Action   string // the URL the form posts to
	Fields   [][2]string
	Button   string
	Cancel   string
}

func (f *fleet) confirmDeleteCustomer(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	d, err := f.customerData(r, chi.URLParam(r, "customer"))
	if err != nil {
		f.fail(w, r, err)
		return
	}
	name := d.Customer.Name
	if d.Customer.DisplayName != "" {
		name += " (" + d.Customer.DisplayName + ")"
	}
	path := fleetCustomerPath(d.Customer.Name)
	f.render(w, r, http.StatusOK, fleetConfirmPage(v, fleetConfirmData{
		Title: v.T("fleet.customer.delete"), Question: v.T("fleet.customer.confirm", name), Hint: v.T("fleet.customer.delete_hint"),
		Action: path + "/delete", Button: v.T("fleet.delete"), Cancel: path,
	}))
}

// deleteCustomer deletes a customer; the store's refusal (devices, users
// or tokens left) is shown on the customer's page.
func (f *fleet) deleteCustomer(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	name := chi.URLParam(r, "customer")
	if err := f.scope(r).DeleteCustomer(name); err != nil {
		f.refuseChange(w, r, err, fleetCustomerPath(name), "fleet.not_deleted")
		return
	}
	f.redirect(w, r, "/admin/customers", v.T("fleet.customer.deleted", name))
}

func (f *fleet) confirmDeleteSite(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	customer, site := chi.URLParam(r, "customer"), chi.URLParam(r, "site")
	d, err := f.customerData(r, customer)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	if !slices.ContainsFunc(d.Sites, func(s fleetSiteRow) bool { return s.Name == site }) {
		f.notFound(w, r)
		return
	}
	path := fleetCustomerPath(customer)
	f.render(w, r, http.StatusOK, fleetConfirmPage(v, fleetConfirmData{
		Title: v.T("fleet.site.delete", site), Question: v.T("fleet.site.confirm", site, customer),
		Action: path + "/sites/" + url.PathEscape(site) + "/delete", Button: v.T("fleet.delete"), Cancel: path,
	}))
}

// deleteSite deletes a site; the store's refusal (devices left, the
// default site) is shown on the customer's page.
func (f *fleet) deleteSite(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	customer, site := chi.URLParam(r, "customer"), chi.URLParam(r, "site")
	if err := f.scope(r).DeleteSite(customer, site); err != nil {
		f.refuseChange(w, r, err, fleetCustomerPath(customer), "fleet.not_deleted")
		return
	}
	f.redirect(w, r, fleetCustomerPath(customer), v.T("fleet.site.deleted", site))
}

// --- devices ---

// fleetDeviceRow is one device of a fleet list.
type fleetDeviceRow struct {
	Name, Customer, Site, Type string
	Online, Known              bool
	LastSeen                   time.Time
	Firmware                   string
}

// fleetDeviceForm is what the create form holds.
type fleetDeviceForm struct{ Name, Customer, Site, Type string }

// fleetDevicesData is what the device list shows.
type fleetDevicesData struct {
	Query, Online string
	Rows          []fleetDeviceRow
	Total         int // matching devices; Rows holds at most maxFleetRows
	Customers     []string
	Form          fleetDeviceForm
	Error         string
	Flash         string
	FlashErr      bool
}

// row is a device as fleet lists show it, with its reported firmware; a
// shadow that cannot be read leaves the firmware blank rather than the
// page.
func (f *fleet) row(sc api.Scope, d api.DeviceView) fleetDeviceRow {
	fw, err := sc.ReportedFirmware(d.Name)
	if err != nil {
		f.logger.Warn("cannot read reported firmware", "device", d.Name, "error", err)
	}
	return fleetDeviceRow{
		Name: d.Name, Customer: d.Customer, Site: d.Site, Type: d.Type, Online: d.Presence.Online,
		Known: !d.Presence.ConnectedAt.IsZero(), LastSeen: d.Presence.LastSeen, Firmware: fw,
	}
}

func (f *fleet) devicesData(r *http.Request) (fleetDevicesData, error) {
	v := f.view(r)
	sc := f.scope(r)
	q := r.URL.Query()
	d := fleetDevicesData{Query: strings.TrimSpace(q.Get("q")), Online: q.Get("online"), Form: fleetDeviceForm{Site: store.DefaultSite}}
	var online *bool
	if d.Online != "" {
		b, err := strconv.ParseBool(d.Online)
		if err != nil {
			return d, badRequest(v.T("fleet.bad_online", d.Online))
		}
		online = &b
	}
	devices, err := sc.Devices("", "")
	if err != nil {
		return d, err
	}
	slices.SortFunc(devices, func(a, b api.DeviceView) int { return cmp.Compare(a.Name, b.Name) })
	for _, dv := range devices {
		if !fleetMatches(d.Query, dv.Name, dv.Customer, dv.Site, dv.Type) || online != nil && dv.Presence.Online != *online {
			continue
		}
		d.Total++
		if len(d.Rows) < maxFleetRows {
			d.Rows = append(d.Rows, f.row(sc, dv))
		}
	}
	customers, err := sc.Customers()
	if err != nil {
		return d, err
	}
	for _, c := range customers {
		d.Customers = append(d.Customers, c.Name)
	}
	return d, nil
}

// showDevices: /admin/devices[?q=&online=], with the form that creates
// one.
func (f *fleet) showDevices(w http.ResponseWriter, r *http.Request) {
	d, err := f.devicesData(r)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	d.Flash, d.FlashErr = f.flashed(r)
	f.render(w, r, http.StatusOK, fleetDevicesPage(f.view(r), d))
}

// createDevice registers a device from the list's form and sends the
// browser to its new credentials; a refusal shows the form again.
func (f *fleet) createDevice(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	form := fleetDeviceForm{}
	for _, fv := range []struct {
		dst  *string
		name string
	}{{&form.Name, "name"}, {&form.Customer, "customer"}, {&form.Site, "site"}, {&form.Type, "type"}} {
		*fv.dst = strings.TrimSpace(r.PostFormValue(fv.name))
	}
	is, err := f.scope(r).CreateDevice(device.DeviceSpec{Name: form.Name, Customer: form.Customer, Site: form.Site, Type: form.Type})
	if err != nil {
		f.reshow(w, r, err, func(msg string) (templ.Component, error) {
			d, err := f.devicesData(r)
			d.Form, d.Error = form, msg
			return fleetDevicesPage(v, d), err
		})
		return
	}
	f.handOver(w, r, is)
}

// fleetCredentialRow is one credential on a device's page.
type fleetCredentialRow struct {
	store.Credential
	Active bool
}

// fleetDeviceData is what an operator's device page shows.
type fleetDeviceData struct {
	Device      api.DeviceView
	Firmware    string
	Attributes  [][2]string
	Credentials []fleetCredentialRow
	Pending     bool // credentials issued in this session wait for download
	Flash       string
	FlashErr    bool
}

// showFleetDevice: /admin/devices/{name}, its placement, attributes and
// credentials, with the actions on them.
func (f *fleet) showFleetDevice(w http.ResponseWriter, r *http.Request) {
	sc := f.scope(r)
	dv, err := sc.Device(chi.URLParam(r, "name"))
	if err != nil {
		f.fail(w, r, err)
		return
	}
	d := fleetDeviceData{Device: dv, Firmware: f.row(sc, dv).Firmware}
	for _, k := range slices.Sorted(maps.Keys(dv.Attributes)) {
		d.Attributes = append(d.Attributes, [2]string{k, dv.Attributes[k]})
	}
	for _, c := range dv.Credentials {
		d.Credentials = append(d.Credentials, fleetCredentialRow{Credential: c, Active: c.Active()})
	}
	// Newest first: the ones in use are at the top.
	slices.Reverse(d.Credentials)
	_, _, d.Pending = f.issuedFor(r.Context(), dv.Name)
	d.Flash, d.FlashErr = f.flashed(r)
	f.render(w, r, http.StatusOK, fleetDevicePage(f.view(r), d))
}

// device loads the device a credentials or delete route names; false when
// it has answered (404 or a fault).
func (f *fleet) device(w http.ResponseWriter, r *http.Request) (api.DeviceView, bool) {
	d, err := f.scope(r).Device(chi.URLParam(r, "name"))
	if err != nil {
		f.fail(w, r, err)
		return api.DeviceView{}, false
	}
	return d, true
}

func (f *fleet) confirmRotate(w http.ResponseWriter, r *http.Request) {
	d, ok := f.device(w, r)
	if !ok {
		return
	}
	v := f.view(r)
	path := fleetDevicePath(d.Name)
	f.render(w, r, http.StatusOK, fleetConfirmPage(v, fleetConfirmData{
		Title: v.T("fleet.cred.rotate"), Question: v.T("fleet.cred.confirm_rotate", d.Name),
		Action: path + "/rotate", Button: v.T("fleet.cred.rotate"), Cancel: path,
	}))
}

// rotateCredentials issues new credentials and sends the browser to them.
func (f *fleet) rotateCredentials(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	is, err := f.scope(r).RotateCredentials(name)
	if err != nil {
		f.refuseChange(w, r, err, fleetDevicePath(name), "fleet.not_rotated")
		return
	}
	f.handOver(w, r, is)
}

func (f *fleet) confirmRevoke(w http.ResponseWriter, r *http.Request) {
	d, ok := f.device(w, r)
	if !ok {
		return
	}
	v := f.view(r)
	path := fleetDevicePath(d.Name)
	c := fleetConfirmData{Action: path + "/revoke", Button: v.T("fleet.cred.revoke"), Cancel: path}
	if id := r.URL.Query().Get("credential"); id != "" {
		if !slices.ContainsFunc(d.Credentials, func(c store.Credential) bool { return c.ID == id }) {
			f.notFound(w, r)
			return
		}
		c.Title, c.Question = v.T("fleet.cred.revoke"), v.T("fleet.cred.confirm_revoke", id, d.Name)
		c.Fields = [][2]string{{"credential", id}}
	} else {
		c.Title, c.Question = v.T("fleet.cred.revoke_all"), v.T("fleet.cred.confirm_revoke_all", d.Name)
	}
	f.render(w, r, http.StatusOK, fleetConfirmPage(v, c))
}

// revokeCredentials revokes the credential the form names, or all.
func (f *fleet) revokeCredentials(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	name, id := chi.URLParam(r, "name"), r.PostFormValue("credential")
	path := fleetDevicePath(name)
	if _, err := f.scope(r).RevokeCredentials(name, id); err != nil {
		f.refuseChange(w, r, err, path, "fleet.not_revoked")
		return
	}
	msg := v.T("fleet.cred.revoked_all", name)
	if id != "" {
		msg = v.T("fleet.cred.revoked_one", id)
	}
	f.redirect(w, r, path, msg)
}

func (f *fleet) confirmDeleteDevice(w http.ResponseWriter, r *http.Request) {
	d, ok := f.device(w, r)
	if !ok {
		return
	}
	v := f.view(r)
	path := fleetDevicePath(d.Name)
	f.render(w, r, http.StatusOK, fleetConfirmPage(v, fleetConfirmData{
		Title: v.T("fleet.device.delete"), Question: v.T("fleet.device.confirm", d.Name),
		Action: path + "/delete", Button: v.T("fleet.delete"), Cancel: path,
	}))
}

func (f *fleet) deleteDevice(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	name := chi.URLParam(r, "name")
	if err := f.scope(r).DeleteDevice(name); err != nil {
		f.refuseChange(w, r, err, fleetDevicePath(name), "fleet.not_deleted")
		return
	}
	f.redirect(w, r, "/admin/devices", v.T("fleet.device.deleted", name))
}

// --- issued credentials ---

// handOver keeps newly issued credentials for this session and sends the
// browser to the page that shows them.
func (f *fleet) handOver(w http.ResponseWriter, r *http.Request, is device.Issued) {
	id, err := f.issued.put(is)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	ctx := r.Context()
	ids := append(strings.Fields(f.sessions.GetString(ctx, keyFleetIssued)), id)
	if n := len(ids) - maxSessionIssued; n > 0 {
		for _, old := range ids[:n] {
			f.issued.drop(old)
		}
		ids = ids[n:]
	}
	f.sessions.Put(ctx, keyFleetIssued, strings.Join(ids, " "))
	http.Redirect(w, r, fleetDevicePath(is.Device.Name)+"/credentials", http.StatusSeeOther)
}

// issuedFor finds the newest credentials of device name this session can
// reach.
func (f *fleet) issuedFor(ctx context.Context, name string) (string, issuedBundle, bool) {
	ids := strings.Fields(f.sessions.GetString(ctx, keyFleetIssued))
	for _, id := range slices.Backward(ids) {
		if b, ok := f.issued.get(id); ok && b.device == name {
			return id, b, true
		}
	}
	return "", issuedBundle{}, false
}

// forgetIssued removes id from the session's list.
func (f *fleet) forgetIssued(ctx context.Context, id string) {
	ids := slices.DeleteFunc(strings.Fields(f.sessions.GetString(ctx, keyFleetIssued)), func(s string) bool { return s == id })
	if len(ids) == 0 {
		f.sessions.Remove(ctx, keyFleetIssued)
		return
	}
	f.sessions.Put(ctx, keyFleetIssued, strings.Join(ids, " "))
}

// fleetIssuedData is what the page of new credentials shows.
type fleetIssuedData struct {
	Device  string
	Secret  string // "" once shown
	Expires time.Time
}

// showIssued: the new credentials of a device. The secret shows on the
// first visit only; the download stays until it is taken or expires.
func (f *fleet) showIssued(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	name := chi.URLParam(r, "name")
	id, b, ok := f.issuedFor(r.Context(), name)
	if !ok {
		f.render(w, r, http.StatusGone, fleetIssuedGonePage(v, name))
		return
	}
	secret, _ := f.issued.takeSecret(id)
	f.render(w, r, http.StatusOK, fleetIssuedPage(v, fleetIssuedData{Device: name, Secret: secret, Expires: b.expires}))
}

// downloadCredentials answers the one download of new credentials, a zip
// file, and forgets them.
func (f *fleet) downloadCredentials(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	id, _, ok := f.issuedFor(r.Context(), name)
	var b issuedBundle
	if ok {
		b, ok = f.issued.take(id)
		f.forgetIssued(r.Context(), id)
	}
	if !ok {
		f.render(w, r, http.StatusGone, fleetIssuedGonePage(f.view(r), name))
		return
	}
	body, err := credentialsZip(b, mqttHost(r), f.now())
	if err != nil {
		f.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", safeFileName(name)+"-credentials.zip"))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// mqttHost is the host devices reach Hearth at, as the browser reached
// it: the request's host without its port, and only the characters a host
// name or address has.
func mqttHost(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' {
			return c
		}
		return -1
	}, host)
	if host == "" {
		return "localhost"
	}
	return host
}

// credentialsReadme tells how to connect with the files beside it.
const credentialsReadme = `Credentials of device {device}, issued by Hearth on {issued}.

Files
  certificate.pem   the device's client certificate (CN = {device}), valid until {not_after}
  private-key.pem   its private key: keep it secret, on the device only
  ca.pem            Hearth's certificate authority, to check the server

Hearth keeps neither the private key nor the secret. If they are lost,
rotate the device's credentials on its page to get new ones.

Connect over MQTT/TLS to {host}, port {port}, with client id {device}.
With the certificate:

  mosquitto_pub -h {host} -p {port} --cafile ca.pem \
    --cert certificate.pem --key private-key.pem -i {device} \
    -t 'hearth/things/{device}/telemetry' -m '{"temperature_c": 21.5}'

Or with the secret the page showed once, instead of the certificate:

  mosquitto_pub -h {host} -p {port} --cafile ca.pem -i {device} \
    -u {device} -P 'SECRET' \
    -t 'hearth/things/{device}/telemetry' -m '{"temperature_c": 21.5}'

Topics of this device (it may use topics under its own name only)
  hearth/things/{device}/telemetry              publish readings: {"metric": value, ...}
  $aws/things/{device}/shadow/update            publish the settings it applied:
                                                {"state": {"reported": {...}}}
  $aws/things/{device}/shadow/update/delta      subscribe: settings to apply
  $aws/things/{device}/shadow/get               publish "" to get the shadow,
  $aws/things/{device}/shadow/get/accepted      and receive it here
  $aws/things/{device}/jobs/notify-next         subscribe: firmware updates and other jobs
`

// credentialsZip packs issued credentials with a README for host.
func credentialsZip(b issuedBundle, host string, now time.Time) ([]byte, error) {
	notAfter := "-"
	if !b.notAfter.IsZero() {
		notAfter = b.notAfter.UTC().Format(time.DateOnly)
	}
	readme := strings.NewReplacer("{device}", b.device, "{host}", host, "{port}", mqttTLSPort,
		"{issued}", b.issuedAt.UTC().Format(time.RFC3339), "{not_after}", notAfter).Replace(credentialsReadme)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, file := range []struct {
		name, body string
		private    bool
	}{
		{"certificate.pem", b.cert, false},
		{"private-key.pem", b.key, true},
		{"ca.pem", b.ca, false},
		{"README.txt", readme, false},
	} {
		h := &zip.FileHeader{Name: file.name, Method: zip.Deflate, Modified: now}
		h.SetMode(0o644)
		if file.private {
			h.SetMode(0o600)
		}
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return nil, fmt.Errorf("write %s to the credentials zip: %w", file.name, err)
		}
		if _, err := io.WriteString(fw, file.body); err != nil {
			return nil, fmt.Errorf("write %s to the credentials zip: %w", file.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("close the credentials zip: %w", err)
	}
	return buf.Bytes(), nil
}

// issuedBundle is credentials issued on a page, waiting for their one
// download.
type issuedBundle struct {
	device            string
	secret            string // "" once shown
	cert, key, ca     string
	issuedAt, expires time.Time
	notAfter          time.Time // of the certificate
}

// issuedStore keeps newly issued credentials in memory until their
// download. The private key and the secret must not reach a disk, and a
// session is written to the store's file, so the session holds only the
// bundle's random id. A bundle lives issuedTTL at most; at maxIssued the
// one closest to expiry gives way.
type issuedStore struct {
	now func() time.Time
	mu  sync.Mutex
	by  map[string]issuedBundle
}

func newIssuedStore(now func() time.Time) *issuedStore {
	return &issuedStore{now: now, by: map[string]issuedBundle{}}
}

// put keeps is and returns its id.
func (s *issuedStore) put(is device.Issued) (string, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("make an id for issued credentials: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	b := issuedBundle{
		device: is.Device.Name, secret: is.Secret, cert: is.CertificatePEM, key: is.PrivateKeyPEM, ca: is.CAPEM,
		issuedAt: now, expires: now.Add(issuedTTL),
	}
	for _, c := range is.Device.Credentials {
		if c.Kind == store.CredentialCertificate && c.Active() {
			b.notAfter = c.NotAfter
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.by {
		if !now.Before(v.expires) {
			delete(s.by, k)
		}
	}
	for len(s.by) >= maxIssued {
		oldest := ""
		for k, v := range s.by {
			if oldest == "" || v.expires.Before(s.by[oldest].expires) {
				oldest = k
			}
		}
		delete(s.by, oldest)
	}
	s.by[id] = b
	return id, nil
}

// get returns the bundle id while it has not expired.
func (s *issuedStore) get(id string) (issuedBundle, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live(id)
}

// live is get with s.mu held; it forgets an expired bundle.
func (s *issuedStore) live(id string) (issuedBundle, bool) {
	b, ok := s.by[id]
	if ok && !s.now().Before(b.expires) {
		delete(s.by, id)
		return issuedBundle{}, false
	}
	return b, ok
}

// takeSecret returns the bundle's secret and forgets it, so it shows once.
func (s *issuedStore) takeSecret(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.live(id)
	if !ok {
		return "", false
	}
	secret := b.secret
	b.secret = ""
	s.by[id] = b
	return secret, true
}

// take returns the bundle and forgets it.
func (s *issuedStore) take(id string) (issuedBundle, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.live(id)
	delete(s.by, id)
	return b, ok
}

func (s *issuedStore) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.by, id)
}

// --- fleet health ---

type fleetHealthCustomer struct {
	Name                   string
	Total, Online, Offline int
}

// fleetHealthData is what the fleet health page shows.
type fleetHealthData struct {
	Stale                  string // the threshold as asked for
	Total, Online, Offline int
	Customers              []fleetHealthCustomer
	StaleRows              []fleetDeviceRow
	StaleTotal             int
}

// parseStale reads the stale threshold: a Go duration (90m, 24h) or whole
// days (7d).
func parseStale(s string) (time.Duration, bool) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, false
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, false
		}
	}
	return d, d >= minStale && d <= maxStale
}

// showHealth: /admin/health[?stale=24h], the connection state of the whole
// fleet and of each customer, and the devices not seen for longer than the
// threshold (default 1 h), longest silent first; devices never seen lead.
func (f *fleet) showHealth(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	sc := f.scope(r)
	d := fleetHealthData{Stale: strings.TrimSpace(r.URL.Query().Get("stale"))}
	stale := defaultStale
	if d.Stale == "" {
		d.Stale = "1h"
	} else if s, ok := parseStale(d.Stale); ok {
		stale = s
	} else {
		f.fail(w, r, badRequest(v.T("fleet.health.bad_stale", d.Stale)))
		return
	}
	customers, err := sc.Customers()
	if err != nil {
		f.fail(w, r, err)
		return
	}
	devices, err := sc.Devices("", "")
	if err != nil {
		f.fail(w, r, err)
		return
	}
	d.Customers = make([]fleetHealthCustomer, len(customers))
	by := make(map[string]*fleetHealthCustomer, len(customers))
	for i, c := range customers {
		d.Customers[i].Name = c.Name
		by[c.Name] = &d.Customers[i]
	}
	cutoff := f.now().Add(-stale)
	var silent []api.DeviceView
	for _, dv := range devices {
		// Every device has a customer (the store refuses deleting one
		// that has devices); a missing one only goes uncounted by customer.
		c := by[dv.Customer]
		if c == nil {
			c = &fleetHealthCustomer{}
		}
		d.Total++
		c.Total++
		if dv.Presence.Online {
			d.Online++
			c.Online++
		} else {
			d.Offline++
			c.Offline++
		}
		if dv.Presence.LastSeen.Before(cutoff) {
			silent = append(silent, dv)
		}
	}
	slices.SortFunc(silent, func(a, b api.DeviceView) int {
		return cmp.Or(a.Presence.LastSeen.Compare(b.Presence.LastSeen), cmp.Compare(a.Name, b.Name))
	})
	d.StaleTotal = len(silent)
	for _, dv := range silent[:min(len(silent), maxFleetRows)] {
		d.StaleRows = append(d.StaleRows, f.row(sc, dv))
	}
	f.render(w, r, http.StatusOK, fleetHealthPage(v, d))
}
