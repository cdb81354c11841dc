package api

import (
	"net/http"
)

// servePrometheus answers a Prometheus HTTP API endpoint through the query
// engine, restricted by the gate to the principal's customer.
func (a *API) servePrometheus(endpoint string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := a.scope(r).ServePrometheus(w, r, endpoint); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// servePrometheusLabelValues: /prometheus/api/v1/label/{label}/values.
func (a *API) servePrometheusLabelValues(w http.ResponseWriter, r *http.Request) {
	label, err := pathParam(r, "label")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).ServePrometheusLabelValues(w, r, label); err != nil {
		a.writeError(w, r, err)
	}
}

// showBuildInfo: GET /prometheus/api/v1/status/buildinfo. Grafana asks it to
// pick which Prometheus features to use.
func (a *API) showBuildInfo(w http.ResponseWriter, r *http.Request) {
	version, err := a.scope(r).PrometheusVersion()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	type data struct {
		Version string `json:"version"`
	}
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		Data   data   `json:"data"`
	}{"success", data{version}})
}
