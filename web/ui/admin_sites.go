package ui

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/store"
)

// createSite stores a site from the customer page's form; a refusal shows
// the page again with what was typed and why.
func (f *fleet) createSite(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	customer := chi.URLParam(r, "customer")
	form := readNameForm(r)
	s, err := f.scope(r).CreateSite(store.Site{Customer: customer, Name: form.Name, DisplayName: form.DisplayName, Address: form.Address, TimeZone: form.TimeZone})
	if err != nil {
		refuseForm(f, w, r, err, form, f.customerPage)
		return
	}
	f.redirect(w, r, fleetCustomerPath(customer), v.T("fleet.site.created", s.Name))
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
