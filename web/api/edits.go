package api

import (
	"net/http"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// This file holds the operators' edits of customers, sites and devices.

// displayNameRequest is the body of PATCH /api/v1/customers/{customer}.
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
		return "", gate.Invalid(`field "display_name": required; "" shows the name`)
	}
	return *req.DisplayName, nil
}

// deviceChangeRequest is the body of PATCH /api/v1/devices/{name}: the
// fields to change; absent ones stay.
type deviceChangeRequest struct {
	Site        *string           `json:"site"`
	Type        *string           `json:"type"`
	DisplayName *string           `json:"display_name"`
	Attributes  map[string]string `json:"attributes"`
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
	c, err := a.scope(r).SetCustomerDisplayName(name, display)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newCustomerJSON(c))
}

// siteChangeRequest is the body of PATCH
// /api/v1/customers/{customer}/sites/{site}: the fields to change; absent
// ones stay.
type siteChangeRequest struct {
	DisplayName *string `json:"display_name"`
	Address     *string `json:"address"`
	TimeZone    *string `json:"time_zone"`
}

// updateSite: PATCH /api/v1/customers/{customer}/sites/{site}
// {"display_name"?, "address"?, "time_zone"?}.
func (a *API) updateSite(w http.ResponseWriter, r *http.Request) {
	customer, site, err := sitePath(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req siteChangeRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	st, err := a.scope(r).UpdateSite(customer, site, store.SiteChange{DisplayName: req.DisplayName, Address: req.Address, TimeZone: req.TimeZone})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newSiteJSON(st))
}

// updateDevice: PATCH /api/v1/devices/{name} {"site"?, "type"?,
// "display_name"?, "attributes"?} moves the device to another site of its
// customer, changes its type (whose settings then apply to its next shadow
// update) or display name, or replaces its attributes.
func (a *API) updateDevice(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req deviceChangeRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	v, err := a.scope(r).UpdateDevice(name, device.DeviceChange{Site: req.Site, Type: req.Type, DisplayName: req.DisplayName, Attributes: req.Attributes})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newDeviceViewJSON(v))
}
