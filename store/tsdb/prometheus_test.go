package tsdb_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hearthiot/hearth/store/tsdb"
)

// promResponse is the envelope of every Prometheus API answer.
type promResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

// seen is what a scenario checks in an answer: the devices of the series
// returned, or the list of label names or values.
func seen(t *testing.T, endpoint string, data json.RawMessage) []string {
	t.Helper()
	var out []string
	switch {
	case endpoint == "query" || endpoint == "query_range":
		var d struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("decode %s data %s: %v", endpoint, data, err)
		}
		for _, r := range d.Result {
			out = append(out, r.Metric["device"])
		}
	case endpoint == "series":
		var d []map[string]string
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("decode series data %s: %v", data, err)
		}
		for _, m := range d {
			out = append(out, m["device"])
		}
	default: // labels, label values
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("decode %s data %s: %v", endpoint, data, err)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return out
}

func TestServePrometheus(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	every := func(metric string) []tsdb.Point {
		return ramp(metric, base, 10*time.Second, 60, func(i int) float64 { return float64(i) })
	}
	// Customer c1 has two devices without a site; c2 has one with a site
	// and a metric of its own, so label names and values differ too.
	mustAppend(t, db, "d1", "c1", "", every("temp"))
	mustAppend(t, db, "d2", "c1", "", every("temp"))
	mustAppend(t, db, "d3", "c2", "s3", append(every("temp"), every("secret")...))
	db.Flush()

	at := strconv.FormatInt(base.Add(5*time.Minute).Unix(), 10)
	from := strconv.FormatInt(base.Unix(), 10)
	to := strconv.FormatInt(base.Add(10*time.Minute).Unix(), 10)
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name       string
		endpoint   string
		customer   string
		args       url.Values
		post       bool // arguments in a form body instead of the URL
		wantStatus int
		want       []string
	}{
		{"query unscoped", "query", "", q("query", "temp", "time", at), false, 200, []string{"d1", "d2", "d3"}},
		{"query scoped", "query", "c1", q("query", "temp", "time", at), false, 200, []string{"d1", "d2"}},
		{"query scoped, caller's extra_label dropped", "query", "c1",
			q("query", "temp", "time", at, "extra_label", "customer=c2"), false, 200, []string{"d1", "d2"}},
		{"query scoped, caller's extra_filters[] dropped", "query", "c1",
			q("query", "temp", "time", at, "extra_filters[]", `{customer="c2"}`), false, 200, []string{"d1", "d2"}},
		{"query scoped, caller's extra_filters dropped", "query", "c1",
			q("query", "temp", "time", at, "extra_filters", `{customer="c2"}`), false, 200, []string{"d1", "d2"}},
		{"query scoped, extra_label in the form body dropped", "query", "c1",
			q("query", "temp", "time", at, "extra_label", "customer=c2"), true, 200, []string{"d1", "d2"}},
		{"query scoped, other customer named in the query", "query", "c1",
			q("query", `temp{customer="c2"}`, "time", at), false, 200, nil},
		{"query scoped, every series asked for", "query", "c1",
			q("query", `{__name__=~".+"}`, "time", at), false, 200, []string{"d1", "d2"}},
		{"query scoped, or of selectors", "query", "c1",
			q("query", `secret or temp{device="d3"} or temp{device="d1"}`, "time", at), false, 200, []string{"d1"}},
		{"query scoped, raw samples of a window", "query", "c1",
			q("query", `{__name__=~".+"}[5m]`, "time", at), false, 200, []string{"d1", "d2"}},
		{"query scoped, aggregation", "query", "c1",
			q("query", `count by (device) ({__name__=~".+"})`, "time", at), false, 200, []string{"d1", "d2"}},
		{"query scoped, customer value taken literally", "query", "c.*",
			q("query", "temp", "time", at), false, 200, nil},
		{"query_range unscoped", "query_range", "",
			q("query", "temp", "start", from, "end", to, "step", "60"), false, 200, []string{"d1", "d2", "d3"}},
		{"query_range scoped", "query_range", "c1",
			q("query", "temp", "start", from, "end", to, "step", "60", "extra_label", "customer=c2"), true, 200, []string{"d1", "d2"}},
		{"labels unscoped", "labels", "", q("start", from, "end", to), false, 200,
			[]string{"__name__", "customer", "device", "site"}},
		{"labels scoped", "labels", "c1", q("start", from, "end", to), false, 200,
			[]string{"__name__", "customer", "device"}},
		{"labels scoped, match[] of another customer", "labels", "c1",
			q("start", from, "end", to, "match[]", `{customer="c2"}`), false, 200, nil},
		{"labels scoped, caller's extra_filters[] dropped", "labels", "c1",
			q("start", from, "end", to, "extra_filters[]", `{customer="c2"}`), false, 200, []string{"__name__", "customer", "device"}},
		{"label values unscoped", "label/device/values", "", q("start", from, "end", to), false, 200, []string{"d1", "d2", "d3"}},
		{"label values scoped", "label/device/values", "c1", q("start", from, "end", to), false, 200, []string{"d1", "d2"}},
		{"metric names scoped", "label/__name__/values", "c1", q("start", from, "end", to), false, 200, []string{"temp"}},
		{"metric names unscoped", "label/__name__/values", "", q("start", from, "end", to), false, 200, []string{"secret", "temp"}},
		{"customer values scoped", "label/customer/values", "c1",
			q("start", from, "end", to, "extra_label", "customer=c2"), false, 200, []string{"c1"}},
		{"label values scoped, match[] of another customer", "label/device/values", "c1",
			q("start", from, "end", to, "match[]", `temp{customer="c2"}`), false, 200, nil},
		{"label values scoped, two match[]", "label/device/values", "c1",
			q("start", from, "end", to, "match[]", `secret`, "match[]", `temp{device=~"d1|d3"}`), true, 200, []string{"d1"}},
		{"series unscoped", "series", "", q("start", from, "end", to, "match[]", `{__name__=~".+"}`), false, 200, []string{"d1", "d2", "d3"}},
		{"series scoped", "series", "c1", q("start", from, "end", to, "match[]", `{__name__=~".+"}`), false, 200, []string{"d1", "d2"}},
		{"series scoped, other customer's metric", "series", "c1", q("start", from, "end", to, "match[]", `secret`), false, 200, nil},
		{"series scoped, caller's extra_label dropped", "series", "c1",
			q("start", from, "end", to, "match[]", `{device="d3"}`, "extra_label", "customer=c2"), false, 200, nil},
		{"series without match[]", "series", "c1", q("start", from, "end", to), false, 400, nil},
		{"bad query", "query", "c1", q("query", "temp{", "time", at), false, 400, nil},
		{"unknown endpoint", "targets", "", q(), false, 404, nil},
		{"label values without a name", "label//values", "", q(), false, 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/api/v1/" + tt.endpoint
			var r *http.Request
			if tt.post {
				r = httptest.NewRequest(http.MethodPost, path, strings.NewReader(tt.args.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				r = httptest.NewRequest(http.MethodGet, path+"?"+tt.args.Encode(), nil)
			}
			w := httptest.NewRecorder()
			db.ServePrometheus(w, r, tt.endpoint, tt.customer)

			body := w.Body.String()
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.wantStatus, body)
			}
			var resp promResponse
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatalf("body is not JSON: %v; body %s", err, body)
			}
			if tt.wantStatus != 200 {
				if resp.Status != "error" || resp.Error == "" || resp.ErrorType == "" {
					t.Errorf("error body %s lacks status, errorType or error", body)
				}
				return
			}
			if resp.Status != "success" {
				t.Fatalf("status %q; body %s", resp.Status, body)
			}
			if diff := cmp.Diff(tt.want, seen(t, tt.endpoint, resp.Data), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("answer (-want +got):\n%s\nbody %s", diff, body)
			}
			if tt.customer == "c1" {
				// Nothing of the other customer may appear anywhere.
				for _, foreign := range []string{`"d3"`, `"c2"`, `"s3"`, `"secret"`, `"site"`} {
					if strings.Contains(body, foreign) {
						t.Errorf("scoped answer contains %s: %s", foreign, body)
					}
				}
			}
		})
	}
}

func TestServePrometheusQueryRangeValues(t *testing.T) {
	db := openDB(t, t.TempDir())
	base := twoHoursAgo()
	mustAppend(t, db, "d1", "c1", "s1", ramp("temp", base, time.Minute, 10, func(i int) float64 { return 20 + float64(i)/2 }))
	db.Flush()

	args := url.Values{
		"query": {`max_over_time(temp{device="d1"}[2m])`},
		"start": {strconv.FormatInt(base.Add(2*time.Minute).Unix(), 10)},
		"end":   {strconv.FormatInt(base.Add(8*time.Minute).Unix(), 10)},
		"step":  {"2m"},
	}
	w := httptest.NewRecorder()
	db.ServePrometheus(w, httptest.NewRequest(http.MethodGet, "/api/v1/query_range?"+args.Encode(), nil), "query_range", "c1")
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var resp struct {
		Data struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Data.ResultType != "matrix" || len(resp.Data.Result) != 1 {
		t.Fatalf("unexpected answer %s", w.Body)
	}
	var got []string
	for _, v := range resp.Data.Result[0].Values {
		got = append(got, strconv.FormatFloat(v[0].(float64), 'f', -1, 64)+"="+v[1].(string))
	}
	// Each step takes the largest sample of (T-2m, T].
	t0 := base.Unix()
	want := []string{
		strconv.FormatInt(t0+120, 10) + "=21",
		strconv.FormatInt(t0+240, 10) + "=22",
		strconv.FormatInt(t0+360, 10) + "=23",
		strconv.FormatInt(t0+480, 10) + "=24",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
}

// TestServePrometheusInstantQueryAtNow checks that an instant query without
// a time is evaluated at now to the millisecond, as Prometheus does, not
// at the start of the current second: a sample of this second shows.
func TestServePrometheusInstantQueryAtNow(t *testing.T) {
	db := openDB(t, t.TempDir())
	// Well inside a second, so that the query runs in the same second.
	for ms := time.Now().Nanosecond() / 1e6; ms < 20 || ms > 500; ms = time.Now().Nanosecond() / 1e6 {
		time.Sleep(5 * time.Millisecond)
	}
	ts := time.Now().Add(-5 * time.Millisecond)
	mustAppend(t, db, "d", "c", "s", []tsdb.Point{{Metric: "m", Timestamp: ts.UnixMilli(), Value: 42}})
	db.Flush()
	r := httptest.NewRequest(http.MethodGet, "/api/v1/query?"+url.Values{"query": {`last_over_time(m{device="d"}[1m])`}}.Encode(), nil)
	w := httptest.NewRecorder()
	db.ServePrometheus(w, r, "query", "c")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"42"`) {
		t.Errorf("instant query without a time, %s after the sample: status %d, body %s; want the sample's 42",
			time.Since(ts).Round(time.Millisecond), w.Code, w.Body)
	}
}
