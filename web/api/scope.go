package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/store"
)

// This file is where tenancy is decided. A customer principal reaches a
// customer's or a device's routes only through scopeCustomer and
// scopeDevice, lists devices only through deviceFilter, and queries
// Prometheus only through prometheusScope. Records of other customers answer
// exactly like records that do not exist.

// scopeCustomer guards /customers/{customer}/…: a customer principal may
// only name its own customer.
func (a *API) scopeCustomer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := pathParam(r, "customer")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		// An empty name would mean "every customer" to the store.
		if p := principal(r); name == "" || !p.operator() && p.Customer != name {
			a.writeError(w, r, notFound("customer"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// scopeDevice guards /devices/{name}/…: it loads the device through
// deviceFor and hands it to the handlers, which use no other.
func (a *API) scopeDevice(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := pathParam(r, "name")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		d, err := a.deviceFor(principal(r), name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(contextWithDevice(r.Context(), d)))
	})
}

// deviceFor returns the device p may see under name: any device for an
// operator, only its own for a customer.
func (a *API) deviceFor(p Principal, name string) (store.Device, error) {
	d, err := a.registry.Device(name)
	if errors.Is(err, store.ErrNotFound) || err == nil && !p.operator() && d.Customer != p.Customer {
		return store.Device{}, notFound("device")
	}
	if err != nil {
		return store.Device{}, err
	}
	return d, nil
}

func contextWithDevice(ctx context.Context, d store.Device) context.Context {
	return context.WithValue(ctx, deviceKey, d)
}

// scopedDevice is the device scopeDevice loaded for this request.
func scopedDevice(r *http.Request) store.Device {
	d, _ := r.Context().Value(deviceKey).(store.Device)
	return d
}

// deviceFilter narrows a device listing to what p may see. A customer's
// filter is always its own customer; naming another finds nothing.
func deviceFilter(p Principal, customer, site string) (store.DeviceFilter, error) {
	if p.operator() {
		return store.DeviceFilter{Customer: customer, Site: site}, nil
	}
	if customer != "" && customer != p.Customer {
		return store.DeviceFilter{}, notFound("customer")
	}
	return store.DeviceFilter{Customer: p.Customer, Site: site}, nil
}

// prometheusScope is the customer a Prometheus query is restricted to: none
// for operators, the principal's own for customers.
func prometheusScope(p Principal) string {
	if p.operator() {
		return ""
	}
	return p.Customer
}

// pathParam returns a decoded path parameter. chi matches on the escaped
// path when the request has one, and then hands parameters over escaped.
func pathParam(r *http.Request, key string) (string, error) {
	v := chi.URLParam(r, key)
	if r.URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", invalid("path parameter %s %q: bad escaping: %v", key, v, err)
	}
	return u, nil
}
