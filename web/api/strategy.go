package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// siteStrategyRoutes are a site's energy-saving strategies, under
// /api/v1/customers/{customer}.
func (a *API) siteStrategyRoutes(r chi.Router) {
	r.Get("/sites/{site}/strategies", a.listSiteStrategies)
	r.Put("/sites/{site}/strategies/{strategy}", a.setSiteStrategy)
	r.Put("/sites/{site}/strategies/{strategy}/devices/{device}", a.setDeviceStrategy)
	r.Delete("/sites/{site}/strategies/{strategy}/devices/{device}", a.deleteDeviceStrategy)
	r.Get("/sites/{site}/strategy-changes", a.listSiteStrategyChanges)
}

// strategySwitch is the body of a PUT of a strategy.
type strategySwitch struct {
	Enabled *bool `json:"enabled"`
}

func (b strategySwitch) enabled() (bool, error) {
	if b.Enabled == nil {
		return false, gate.Invalid(`field "enabled": required; true or false`)
	}
	return *b.Enabled, nil
}

// listSiteStrategies: GET /api/v1/customers/{customer}/sites/{site}/strategies.
func (a *API) listSiteStrategies(w http.ResponseWriter, r *http.Request) {
	customer, site, err := sitePath(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	list, err := a.scope(r).SiteStrategies(customer, site)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"customer": customer, "site": site, "strategies": list})
}

// setSiteStrategy: PUT …/sites/{site}/strategies/{strategy} {"enabled": true}.
func (a *API) setSiteStrategy(w http.ResponseWriter, r *http.Request) {
	a.putStrategy(w, r, false)
}

// setDeviceStrategy: PUT …/strategies/{strategy}/devices/{device} {"enabled": false}.
func (a *API) setDeviceStrategy(w http.ResponseWriter, r *http.Request) {
	a.putStrategy(w, r, true)
}

func (a *API) putStrategy(w http.ResponseWriter, r *http.Request, ofDevice bool) {
	customer, site, err := sitePath(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	name, err := pathParam(r, "strategy")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	dev := ""
	if ofDevice {
		if dev, err = pathParam(r, "device"); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	var body strategySwitch
	if err := decodeJSON(r, &body, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	on, err := body.enabled()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	st, err := a.scope(r).SetStrategy(customer, site, name, dev, on)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// deleteDeviceStrategy: DELETE …/strategies/{strategy}/devices/{device}:
// the device follows its site's setting again.
func (a *API) deleteDeviceStrategy(w http.ResponseWriter, r *http.Request) {
	customer, site, err := sitePath(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	name, err := pathParam(r, "strategy")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	dev, err := pathParam(r, "device")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteDeviceStrategy(customer, site, name, dev); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// changesQuery reads ?before= (RFC 3339) and ?limit= (default 100).
func changesQuery(r *http.Request) (before time.Time, limit int, err error) {
	limit = 100
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > gate.MaxStrategyChanges {
			return time.Time{}, 0, gate.Invalid(`parameter "limit" %q: a whole number from 1 to %d is accepted`, s, gate.MaxStrategyChanges)
		}
	}
	if s := q.Get("before"); s != "" {
		if before, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return time.Time{}, 0, gate.Invalid(`parameter "before" %q: an RFC 3339 time is accepted, e.g. 2026-07-01T09:00:00Z`, s)
		}
	}
	return before, limit, nil
}

// listSiteStrategyChanges: GET …/sites/{site}/strategy-changes?device=&before=&limit=.
func (a *API) listSiteStrategyChanges(w http.ResponseWriter, r *http.Request) {
	customer, site, err := sitePath(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	before, limit, err := changesQuery(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	list, err := a.scope(r).SiteStrategyChanges(customer, site, r.URL.Query().Get("device"), before, limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeChanges(w, list)
}

// listDeviceStrategyChanges: GET /api/v1/devices/{name}/strategy-changes.
func (a *API) listDeviceStrategyChanges(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	before, limit, err := changesQuery(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	list, err := a.scope(r).DeviceStrategyChanges(name, before, limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeChanges(w, list)
}

func writeChanges(w http.ResponseWriter, list []store.StrategyChange) {
	if list == nil {
		list = []store.StrategyChange{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"changes": list})
}
