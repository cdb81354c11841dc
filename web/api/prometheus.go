package api

import (
	"net/http"
	"strconv"

	"github.com/hearthiot/hearth/gate"
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

// promAnswer writes a successful Prometheus API answer with data.
func promAnswer(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		Data   any    `json:"data"`
	}{"success", data})
}

// showMetadata: GET /prometheus/api/v1/metadata[?metric=&limit=], the
// type, help and unit of each metric the principal may see, for Grafana's
// query builder and metric browser.
func (a *API) showMetadata(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			a.writeError(w, r, gate.Invalid(`parameter "limit" %q: a whole number is accepted`, s))
			return
		}
		limit = max(n, 0) // Prometheus reads a negative limit as none
	}
	md, err := a.scope(r).PrometheusMetadata(r.Context(), r.URL.Query().Get("metric"), limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	promAnswer(w, md)
}

// showRules: GET /prometheus/api/v1/rules. Hearth keeps no recording or
// alerting rules in the query engine; Grafana asks, and gets none.
func (a *API) showRules(w http.ResponseWriter, r *http.Request) {
	if _, err := a.scope(r).PrometheusVersion(); err != nil {
		a.writeError(w, r, err)
		return
	}
	promAnswer(w, map[string]any{"groups": []any{}})
}

// showExemplars: /prometheus/api/v1/query_exemplars. Devices send no
// exemplars; Grafana probes for them, and gets none.
func (a *API) showExemplars(w http.ResponseWriter, r *http.Request) {
	if _, err := a.scope(r).PrometheusVersion(); err != nil {
		a.writeError(w, r, err)
		return
	}
	promAnswer(w, []any{})
}
