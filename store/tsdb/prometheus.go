package tsdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/prometheus"
)

// promHandler is the shape of VictoriaMetrics' Prometheus API handlers once
// their tracer and start time are bound.
type promHandler func(w http.ResponseWriter, r *http.Request) error

// ServePrometheus answers the Prometheus HTTP API through VictoriaMetrics' own
// handlers, so Grafana gets exactly the responses it expects. endpoint is one
// of "query", "query_range", "labels", "series" or "label/NAME/values"; the
// arguments are read from the URL and, for POST, the form body.
//
// customer "" leaves the request unrestricted (operators). Otherwise every
// series the request can see — in the query, in match[] of labels, label
// values and series — is restricted to customer=<customer>: Hearth sets
// VictoriaMetrics' extra_label itself and drops any extra_label or
// extra_filters the caller sent, since those are how VictoriaMetrics
// restricts and the caller could otherwise widen or replace them.
//
// Authentication and the choice of customer are the caller's job.
func (db *DB) ServePrometheus(w http.ResponseWriter, r *http.Request, endpoint, customer string) {
	start := time.Now()
	h, err := promHandlerFor(endpoint, start)
	if err != nil {
		db.sendError(w, r, http.StatusNotFound, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		db.sendError(w, r, http.StatusBadRequest, fmt.Errorf("parse arguments: %w", err))
		return
	}
	args := make(url.Values, len(r.Form)+1)
	for k, v := range r.Form {
		args[k] = append([]string(nil), v...)
	}
	if endpoint == "query" && args.Get("time") == "" {
		// VictoriaMetrics takes "now" rounded down to the second when an
		// instant query names no time, which hides the samples of the
		// current second; Prometheus takes now as it is.
		args.Set("time", strconv.FormatFloat(float64(start.UnixMilli())/1000, 'f', 3, 64))
	}
	if customer != "" {
		// The arguments VictoriaMetrics reads to restrict a query to some
		// series: for a customer they are Hearth's to set, never the caller's.
		for _, k := range [...]string{"extra_label", "extra_filters", "extra_filters[]"} {
			delete(args, k)
		}
		args.Set("extra_label", "customer="+customer)
	}
	if !db.enter() {
		db.sendError(w, r, http.StatusServiceUnavailable, ErrClosed)
		return
	}
	defer db.leave()
	db.searchable(readStaleness)
	if searchesSeries(endpoint) {
		// The generation, as a label filter VictoriaMetrics adds to
		// every series search of the request (and, in its handlers, to
		// the result cache's key). Taken after the flush.
		args.Add("extra_label", db.readLabel()+"=")
	}
	// VictoriaMetrics' handlers read some arguments from the URL and others
	// from the form, so the restricted request carries them only in its URL
	// and has no body left to read.
	u := *r.URL
	u.RawQuery = args.Encode()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		db.sendError(w, r, http.StatusBadRequest, fmt.Errorf("rebuild request: %w", err))
		return
	}
	req.RemoteAddr = r.RemoteAddr
	release, err := db.acquireQuery(r.Context())
	if err != nil {
		if errors.Is(err, ErrBusy) {
			w.Header().Set("Retry-After", "10")
		}
		db.sendError(w, r, statusOf(err), err)
		return
	}
	defer release()

	tw := &trackingWriter{ResponseWriter: w}
	if err := h(tw, req); err != nil {
		if tw.wrote {
			// The status line is out; the client sees a truncated body.
			db.logger.Warn("prometheus response cut short", "endpoint", endpoint, "error", err)
			return
		}
		db.sendError(w, r, statusOf(err), err)
	}
}

// searchesSeries reports whether an endpoint's answer comes from a series
// search, whose result VictoriaMetrics caches by its filters: queries and
// the series endpoint. Label names and values are read from the index
// without that cache.
func searchesSeries(endpoint string) bool {
	return endpoint == "query" || endpoint == "query_range" || endpoint == "series"
}

func promHandlerFor(endpoint string, start time.Time) (promHandler, error) {
	switch endpoint {
	case "query":
		return func(w http.ResponseWriter, r *http.Request) error { return prometheus.QueryHandler(nil, start, w, r) }, nil
	case "query_range":
		return func(w http.ResponseWriter, r *http.Request) error {
			return prometheus.QueryRangeHandler(nil, start, w, r)
		}, nil
	case "labels":
		return func(w http.ResponseWriter, r *http.Request) error { return prometheus.LabelsHandler(nil, start, w, r) }, nil
	case "series":
		return func(w http.ResponseWriter, r *http.Request) error { return prometheus.SeriesHandler(nil, start, w, r) }, nil
	}
	if rest, ok := strings.CutPrefix(endpoint, "label/"); ok {
		if name, ok := strings.CutSuffix(rest, "/values"); ok && name != "" {
			return func(w http.ResponseWriter, r *http.Request) error {
				return prometheus.LabelValuesHandler(nil, start, name, w, r)
			}, nil
		}
	}
	return nil, fmt.Errorf("unknown Prometheus API endpoint %q; served are query, query_range, labels, series and label/NAME/values", endpoint)
}

// sendError answers in the Prometheus API's error format.
func (db *DB) sendError(w http.ResponseWriter, r *http.Request, status int, err error) {
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	db.logger.Log(r.Context(), level, "prometheus request failed", "path", r.URL.Path, "status", status, "error", err)
	body, _ := json.Marshal(struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}{"error", errorType(status), err.Error()})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorType names the status the way Prometheus' API does.
func errorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_data"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusUnprocessableEntity:
		return "execution"
	case http.StatusServiceUnavailable:
		return "timeout"
	case http.StatusTooManyRequests:
		return "unavailable"
	default:
		return "internal"
	}
}

// trackingWriter notes whether a handler started its response, after which
// an error can no longer change the status.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
