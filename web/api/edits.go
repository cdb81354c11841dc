package api

import (
	"net/http"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
)

// This file holds the operators' edits of customers, sites and devices,
// for the REST routes and for Go callers (the operator pages) alike.

// displayNameRequest is the body of PATCH /api/v1/customers/{customer}
// and of its sites.
type displayNameRequest struct {
	DisplayName *string `json:"display_name"`
}

// decodeDisplayName reads a displayNameRequest, whose field is required.
func decodeDisplayName(r *http.Request) (string, error) {
	var req displayNameRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return "", err
	}
	if req.DisplayName == nil {
		return "", invalid(`field "display_name": required; "" shows the name`)
	}
	return *req.DisplayName, nil
}

// deviceChangeRequest is the body of PATCH /api/v1/devices/{name}: the
// fields to change; absent ones stay.
type deviceChangeRequest struct {
	Site       *string           `json:"site"`
	Type       *string           `json:"type"`
	Attributes map[string]string `json:"attributes"`
}

// Customer returns a customer the principal may see: any for operators,
// its own for a customer.
func (s Scope) Customer(name string) (store.Customer, error) {
	if err := s.check(); err != nil {
		return store.Customer{}, err
	}
	if !s.p.operator() && name != s.p.Customer {
		return store.Customer{}, notFound("customer")
	}
	return s.a.store.GetCustomer(name)
}

// SetCustomerDisplayName changes the name a customer is shown by.
func (s Scope) SetCustomerDisplayName(name, display string) (store.Customer, error) {
	if err := s.operatorOnly("renaming customers"); err != nil {
		return store.Customer{}, err
	}
	return s.a.registry.SetCustomerDisplayName(name, display)
}

// SetSiteDisplayName changes the name a site is shown by.
func (s Scope) SetSiteDisplayName(customer, name, display string) (store.Site, error) {
	if err := s.operatorOnly("renaming sites"); err != nil {
		return store.Site{}, err
	}
	return s.a.registry.SetSiteDisplayName(customer, name, display)
}

// UpdateDevice moves a device to another site of its customer, changes its
// type or replaces its attributes.
func (s Scope) UpdateDevice(name string, change device.DeviceChange) (DeviceView, error) {
	if err := s.operatorOnly("changing devices"); err != nil {
		return DeviceView{}, err
	}
	d, err := s.a.registry.UpdateDevice(name, change)
	if err != nil {
		return DeviceView{}, err
	}
	return s.view(d), nil
}

// renameCustomer: PATCH /api/v1/customers/{customer} {"display_name"}.
func (a *API) renameCustomer(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "customer")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	display, err := decodeDisplayName(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	c, err := a.Scope(principal(r)).SetCustomerDisplayName(name, display)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newCustomerJSON(c))
}

// renameSite: PATCH /api/v1/customers/{customer}/sites/{site}
// {"display_name"}.
func (a *API) renameSite(w http.ResponseWriter, r *http.Request) {
	customer, err := pathParam(r, "customer")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	site, err := pathParam(r, "site")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	display, err := decodeDisplayName(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	st, err := a.Scope(principal(r)).SetSiteDisplayName(customer, site, display)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newSiteJSON(st))
}

// updateDevice: PATCH /api/v1/devices/{name} {"site"?, "type"?,
// "attributes"?} moves the device to another site of its customer,
// changes its type (whose settings then apply to its next shadow update)
// or replaces its attributes.
func (a *API) updateDevice(w http.ResponseWriter, r *http.Request) {
	var req deviceChangeRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	d := scopedDevice(r)
	v, err := a.Scope(principal(r)).UpdateDevice(d.Name, device.DeviceChange{Site: req.Site, Type: req.Type, Attributes: req.Attributes})
	if err != nil {
		if req.Site != nil {
			err = missingReference("site", *req.Site, err)
		}
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.withPresence(newDeviceJSON(v.Device)))
}
