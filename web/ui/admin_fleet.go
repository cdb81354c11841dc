package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"
)

// maxFleetRows bounds a device or stale list; a search narrows it.
const maxFleetRows = 500

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
	r.Get("/devices/new", f.showNewDevice)
	r.Get("/devices/import", f.showImportDevices)
	r.Post("/devices/import", f.importDevices)
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

// fleetOutcome is what a fleet page with a create form shows of the last
// form: the form as it was sent and why it was refused, or the message
// the redirect after a change left.
type fleetOutcome[F any] struct {
	Form     F
	Error    string
	Flash    string
	FlashErr bool
}

// fleetFormPage draws a fleet page with a create form (the customers,
// a customer's sites, the devices) with o, reading what else it shows
// from the request.
type fleetFormPage[F any] func(r *http.Request, o fleetOutcome[F]) (templ.Component, error)

// showFormPage answers a page with its form, filled with form's defaults,
// and the message a redirect left for it.
func showFormPage[F any](f *fleet, w http.ResponseWriter, r *http.Request, form F, page fleetFormPage[F]) {
	o := fleetOutcome[F]{Form: form}
	o.Flash, o.FlashErr = f.flashed(r)
	answerFormPage(f, w, r, http.StatusOK, page, o)
}

// refuseForm answers a create form the registry or store refused: its
// page again with what was typed and why, with the API's status; a fault
// is the error page.
func refuseForm[F any](f *fleet, w http.ResponseWriter, r *http.Request, err error, form F, page fleetFormPage[F]) {
	status, msg, ok := f.refusal(w, r, err)
	if !ok {
		return
	}
	answerFormPage(f, w, r, status, page, fleetOutcome[F]{Form: form, Error: f.view(r).T("fleet.not_created", msg)})
}

func answerFormPage[F any](f *fleet, w http.ResponseWriter, r *http.Request, status int, page fleetFormPage[F], o fleetOutcome[F]) {
	c, err := page(r, o)
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
