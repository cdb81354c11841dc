package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Sample is one element of an instant query result.
type Sample struct {
	// Labels of the series; nil for a scalar result.
	Labels map[string]string
	Time   time.Time
	Value  float64
}

// Query runs an instant query through Hearth's Prometheus-compatible API
// (GET /prometheus/api/v1/query) at time at (the server's now when zero).
// A load run uses it to check that what the broker acknowledged was also
// stored, e.g. sum(count_over_time({customer="load"}[5m])).
func Query(ctx context.Context, api APIClientConfig, query string, at time.Time) ([]Sample, error) {
	if api.BaseURL == "" {
		return nil, fmt.Errorf("query: no API base URL")
	}
	v := url.Values{"query": {query}}
	if !at.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	hc := api.client()
	defer hc.CloseIdleConnections()
	var raw json.RawMessage
	_, err := api.do(ctx, hc, http.MethodGet, "/prometheus/api/v1/query?"+v.Encode(), nil, &raw, http.StatusOK)
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		// Prometheus explains a bad query in the body of a 4xx answer.
		var r queryResponse
		if json.Unmarshal([]byte(apiErr.Body), &r) == nil && r.Status == "error" {
			return nil, fmt.Errorf("query %q: status %d: %s: %s", query, apiErr.Status, r.ErrorType, r.Error)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	samples, err := parseQueryResponse(raw)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	return samples, nil
}

// queryResponse is the Prometheus HTTP API envelope.
type queryResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

type vectorElem struct {
	Metric map[string]string `json:"metric"`
	Value  []json.RawMessage `json:"value"`
}

// parseQueryResponse decodes an instant query answer in the Prometheus
// format: a vector or a scalar.
func parseQueryResponse(data []byte) ([]Sample, error) {
	var r queryResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("cannot parse query response: %w", err)
	}
	switch r.Status {
	case "success":
	case "error":
		return nil, fmt.Errorf("query failed: %s: %s", r.ErrorType, r.Error)
	default:
		return nil, fmt.Errorf("cannot parse query response: status %q", r.Status)
	}
	switch r.Data.ResultType {
	case "vector":
		var elems []vectorElem
		if err := json.Unmarshal(r.Data.Result, &elems); err != nil {
			return nil, fmt.Errorf("cannot parse vector result: %w", err)
		}
		out := make([]Sample, 0, len(elems))
		for i, e := range elems {
			t, v, err := parsePoint(e.Value)
			if err != nil {
				return nil, fmt.Errorf("cannot parse vector element %d: %w", i, err)
			}
			labels := e.Metric
			if labels == nil {
				labels = map[string]string{}
			}
			out = append(out, Sample{Labels: labels, Time: t, Value: v})
		}
		return out, nil
	case "scalar":
		var point []json.RawMessage
		if err := json.Unmarshal(r.Data.Result, &point); err != nil {
			return nil, fmt.Errorf("cannot parse scalar result: %w", err)
		}
		t, v, err := parsePoint(point)
		if err != nil {
			return nil, fmt.Errorf("cannot parse scalar result: %w", err)
		}
		return []Sample{{Time: t, Value: v}}, nil
	default:
		return nil, fmt.Errorf("result type %q not accepted: want vector or scalar from an instant query", r.Data.ResultType)
	}
}

// parsePoint decodes [<unix seconds>, "<value>"].
func parsePoint(p []json.RawMessage) (time.Time, float64, error) {
	if len(p) != 2 {
		return time.Time{}, 0, fmt.Errorf("point has %d elements, want [time, \"value\"]", len(p))
	}
	// p[0] is one valid JSON value; only a JSON number parses as a float.
	sec, err := strconv.ParseFloat(string(bytes.TrimSpace(p[0])), 64)
	if err != nil || math.IsNaN(sec) || math.Abs(sec) > 1e11 {
		return time.Time{}, 0, fmt.Errorf("cannot parse time %s: not a unix time in seconds", p[0])
	}
	var s string
	if err := json.Unmarshal(p[1], &s); err != nil {
		return time.Time{}, 0, fmt.Errorf("cannot parse value %s: %w", p[1], err)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("cannot parse value %q: %w", s, err)
	}
	return time.UnixMilli(int64(math.Round(sec * 1000))), v, nil
}
