package api

import (
	"net/http"
	"time"

	"github.com/hearthiot/hearth/store"
)

// customerJSON is a customer as the API shows it.
type customerJSON struct {
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

func newCustomerJSON(c store.Customer) customerJSON {
	return customerJSON{Name: c.Name, DisplayName: c.DisplayName, CreatedAt: c.CreatedAt}
}

// siteJSON is a site as the API shows it.
type siteJSON struct {
	Customer    string    `json:"customer"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name,omitempty"`
	Address     string    `json:"address"`
	TimeZone    string    `json:"time_zone"`
	CreatedAt   time.Time `json:"created_at"`
}

func newSiteJSON(s store.Site) siteJSON {
	return siteJSON{Customer: s.Customer, Name: s.Name, DisplayName: s.DisplayName, Address: s.Address, TimeZone: s.TimeZone, CreatedAt: s.CreatedAt}
}

// siteRequest is the body that creates a site.
type siteRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Address     string `json:"address"`
	TimeZone    string `json:"time_zone"`
}

// nameRequest is the body that creates a customer or a site.
type nameRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
}

// createCustomer: POST /api/v1/customers.
func (a *API) createCustomer(w http.ResponseWriter, r *http.Request) {
	var req nameRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	c, err := a.scope(r).CreateCustomer(req.Name, req.DisplayName)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, newCustomerJSON(c))
}

// listCustomers: GET /api/v1/customers. A customer sees only itself.
func (a *API) listCustomers(w http.ResponseWriter, r *http.Request) {
	customers, err := a.scope(r).Customers()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]customerJSON, 0, len(customers))
	for _, c := range customers {
		out = append(out, newCustomerJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// showCustomer: GET /api/v1/customers/{customer}.
func (a *API) showCustomer(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "customer")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	c, err := a.scope(r).Customer(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newCustomerJSON(c))
}

// createSite: POST /api/v1/customers/{customer}/sites.
func (a *API) createSite(w http.ResponseWriter, r *http.Request) {
	customer, err := pathParam(r, "customer")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req siteRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	s, err := a.scope(r).CreateSite(store.Site{Customer: customer, Name: req.Name, DisplayName: req.DisplayName, Address: req.Address, TimeZone: req.TimeZone})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, newSiteJSON(s))
}

// getSite: GET /api/v1/customers/{customer}/sites/{site}.
func (a *API) getSite(w http.ResponseWriter, r *http.Request) {
	customer, site, err := sitePath(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	st, err := a.scope(r).Site(customer, site)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newSiteJSON(st))
}

// listSites: GET /api/v1/customers/{customer}/sites.
func (a *API) listSites(w http.ResponseWriter, r *http.Request) {
	customer, err := pathParam(r, "customer")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	sites, err := a.scope(r).Sites(customer)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]siteJSON, 0, len(sites))
	for _, s := range sites {
		out = append(out, newSiteJSON(s))
	}
	writeJSON(w, http.StatusOK, out)
}
