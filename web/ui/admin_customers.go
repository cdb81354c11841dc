package ui

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/store"
)

// fleetNameForm is the form that creates a customer or a site; a site's
// also has its address and time zone.
type fleetNameForm struct{ Name, DisplayName, Address, TimeZone string }

func readNameForm(r *http.Request) fleetNameForm {
	return fleetNameForm{Name: strings.TrimSpace(r.PostFormValue("name")), DisplayName: strings.TrimSpace(r.PostFormValue("display_name")),
		Address: strings.TrimSpace(r.PostFormValue("address")), TimeZone: strings.TrimSpace(r.PostFormValue("time_zone"))}
}

type fleetCustomerRow struct {
	Name, DisplayName string
	Sites, Devices    int
}

// fleetCustomersData is what the customer list shows.
type fleetCustomersData struct {
	Query string
	Rows  []fleetCustomerRow
	fleetOutcome[fleetNameForm]
}

// customersPage is the customer list the search of r asks for, with the
// form that creates one.
func (f *fleet) customersPage(r *http.Request, o fleetOutcome[fleetNameForm]) (templ.Component, error) {
	sc := f.scope(r)
	d := fleetCustomersData{Query: strings.TrimSpace(r.URL.Query().Get("q")), fleetOutcome: o}
	customers, err := sc.Customers()
	if err != nil {
		return nil, err
	}
	sites, err := sc.Sites("")
	if err != nil {
		return nil, err
	}
	devices, err := sc.Devices("", "")
	if err != nil {
		return nil, err
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
	return fleetCustomersPage(f.view(r), d), nil
}

// showCustomers: /admin/customers[?q=], with the form that creates one.
func (f *fleet) showCustomers(w http.ResponseWriter, r *http.Request) {
	showFormPage(f, w, r, fleetNameForm{}, f.customersPage)
}

// createCustomer stores a customer from the list's form; a refusal shows
// the form again with what was typed and why.
func (f *fleet) createCustomer(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	form := readNameForm(r)
	c, err := f.scope(r).CreateCustomer(form.Name, form.DisplayName)
	if err != nil {
		refuseForm(f, w, r, err, form, f.customersPage)
		return
	}
	f.redirect(w, r, fleetCustomerPath(c.Name), v.T("fleet.customer.created", c.Name))
}

type fleetSiteRow struct {
	Name, DisplayName string
	Address, TimeZone string
	Devices, Online   int
	Default           bool
}

// fleetCustomerData is what a customer's page shows.
type fleetCustomerData struct {
	Customer store.Customer
	Sites    []fleetSiteRow
	Devices  int
	fleetOutcome[fleetNameForm]
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
		row := fleetSiteRow{Name: s.Name, DisplayName: s.DisplayName, Address: s.Address, TimeZone: s.TimeZone, Default: s.Name == store.DefaultSite}
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

// customerPage is the page of the customer r names: its sites with their
// devices, and the form that creates a site.
func (f *fleet) customerPage(r *http.Request, o fleetOutcome[fleetNameForm]) (templ.Component, error) {
	d, err := f.customerData(r, chi.URLParam(r, "customer"))
	if err != nil {
		return nil, err
	}
	d.fleetOutcome = o
	return fleetCustomerPage(f.view(r), d), nil
}

// showCustomer: /admin/customers/{customer}.
func (f *fleet) showCustomer(w http.ResponseWriter, r *http.Request) {
	showFormPage(f, w, r, fleetNameForm{}, f.customerPage)
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
