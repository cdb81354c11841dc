package api

import (
	"net/http"
)

// servePrometheus answers a Prometheus HTTP API endpoint through the query
// engine, restricted to the principal's customer.
func (a *API) servePrometheus(endpoint string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.telemetry.ServePrometheus(w, r, endpoint, prometheusScope(principal(r)))
	}
}

// servePrometheusLabelValues: /prometheus/api/v1/label/{label}/values.
func (a *API) servePrometheusLabelValues(w http.ResponseWriter, r *http.Request) {
	label, err := pathParam(r, "label")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if !validMetricName(label) {
		a.writeError(w, r, invalid("label name %q: a letter or '_' followed by letters, digits and '_' is accepted", label))
		return
	}
	a.telemetry.ServePrometheus(w, r, "label/"+label+"/values", prometheusScope(principal(r)))
}

// showBuildInfo: GET /prometheus/api/v1/status/buildinfo. Grafana asks it to
// pick which Prometheus features to use; the answer is the one
// VictoriaMetrics gives, which claims the Prometheus version whose API the
// engine speaks.
func (a *API) showBuildInfo(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Version string `json:"version"`
	}
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		Data   data   `json:"data"`
	}{"success", data{"2.24.0"}})
}
