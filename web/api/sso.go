package api

import (
	"net/http"

	"github.com/hearthiot/hearth/gate"
)

// listSSOProviders: GET /api/v1/sso-providers.
func (a *API) listSSOProviders(w http.ResponseWriter, r *http.Request) {
	ps, err := a.scope(r).SSOProviders()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sso_providers": ps})
}

// showSSOProvider: GET /api/v1/sso-providers/{name}.
func (a *API) showSSOProvider(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.scope(r).SSOProvider(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// putSSOProvider: PUT /api/v1/sso-providers/{name} creates a provider
// (201) or changes it (200); an absent client_secret keeps the stored one.
func (a *API) putSSOProvider(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var spec gate.SSOProviderSpec
	if err := decodeJSON(r, &spec, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	spec.Name = name
	p, created, err := a.scope(r).PutSSOProvider(spec)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, p)
}

// deleteSSOProvider: DELETE /api/v1/sso-providers/{name}.
func (a *API) deleteSSOProvider(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteSSOProvider(name); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
