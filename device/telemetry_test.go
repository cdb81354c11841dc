package device_test

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
)

var telemetryNow = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

const nowMS = int64(1793611800000) // telemetryNow in unix milliseconds

func TestTelemetryNowConstant(t *testing.T) {
	if got := telemetryNow.UnixMilli(); got != nowMS {
		t.Fatalf("telemetryNow = %d ms, constant says %d", got, nowMS)
	}
}

func TestDecodeTelemetryAccepted(t *testing.T) {
	t.Parallel()
	ts := nowMS - 60_000
	tests := []struct {
		name    string
		payload string
		want    []device.Reading
	}{
		{
			name:    "flat object",
			payload: `{"chw_supply_c": 7.1, "co2_ppm": 612}`,
			want:    []device.Reading{{"chw_supply_c", nowMS, 7.1}, {"co2_ppm", nowMS, 612}},
		},
		{
			name:    "flat object with ts and booleans",
			payload: fmt.Sprintf(`{"pump_on": true, "ts": %d, "alarm": false, "_x9": -1.5e2}`, ts),
			want:    []device.Reading{{"pump_on", ts, 1}, {"alarm", ts, 0}, {"_x9", ts, -150}},
		},
		{
			name:    "ts and values",
			payload: fmt.Sprintf(`{"ts": %d, "values": {"a": 1, "B_2": 2}}`, ts),
			want:    []device.Reading{{"a", ts, 1}, {"B_2", ts, 2}},
		},
		{
			name:    "values without ts",
			payload: `{"values": {"a": 0}}`,
			want:    []device.Reading{{"a", nowMS, 0}},
		},
		{
			name:    "values may contain a metric named ts",
			payload: `{"values": {"ts": 3}}`,
			want:    []device.Reading{{"ts", nowMS, 3}},
		},
		{
			name:    "back-fill array of both shapes in payload order",
			payload: fmt.Sprintf(`[{"ts": %d, "values": {"a": 1}}, {"ts": %d, "a": 2, "b": 3}, {"a": 4}]`, ts-1000, ts),
			want:    []device.Reading{{"a", ts - 1000, 1}, {"a", ts, 2}, {"b", ts, 3}, {"a", nowMS, 4}},
		},
		{
			name:    "escaped key that unescapes to a valid name",
			payload: `{"co2\u005fppm": 1}`,
			want:    []device.Reading{{"co2_ppm", nowMS, 1}},
		},
		{
			name:    "ts at the retention edge and the future edge",
			payload: fmt.Sprintf(`[{"ts": %d, "a": 1}, {"ts": %d, "a": 2}]`, nowMS-int64(device.DefaultRetention/time.Millisecond), nowMS+int64(device.DefaultMaxFuture/time.Millisecond)),
			want: []device.Reading{
				{"a", nowMS - int64(device.DefaultRetention/time.Millisecond), 1},
				{"a", nowMS + int64(device.DefaultMaxFuture/time.Millisecond), 2},
			},
		},
		{
			name:    "whitespace and large numbers",
			payload: " \n{ \"a\" : 1e300 ,\t\"b\":-0 }\n",
			want:    []device.Reading{{"a", nowMS, 1e300}, {"b", nowMS, 0}},
		},
		{
			name:    "longest metric name",
			payload: fmt.Sprintf(`{"%s": 1}`, strings.Repeat("m", device.MaxMetricLength)),
			want:    []device.Reading{{strings.Repeat("m", device.MaxMetricLength), nowMS, 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := device.DecodeTelemetry([]byte(tt.payload), telemetryNow, device.TelemetryLimits{})
			if err != nil {
				t.Fatalf("DecodeTelemetry(%s) error: %v", tt.payload, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("readings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeTelemetryRejected(t *testing.T) {
	t.Parallel()
	small := device.TelemetryLimits{MaxBatch: 2, MaxValues: 2, MaxFuture: time.Minute, Retention: time.Hour}
	tests := []struct {
		name     string
		payload  string
		lim      device.TelemetryLimits
		wantCode string
		wantMsg  string // substring of Message
	}{
		{"not JSON", `co2=612`, device.TelemetryLimits{}, device.CodeBadJSON, "not valid JSON"},
		{"empty payload", ``, device.TelemetryLimits{}, device.CodeBadJSON, "not valid JSON"},
		{"trailing garbage", `{"a":1} x`, device.TelemetryLimits{}, device.CodeBadJSON, "not valid JSON"},
		{"NaN literal", `{"a": NaN}`, device.TelemetryLimits{}, device.CodeBadJSON, "not valid JSON"},
		{"Infinity literal", `{"a": -Inf}`, device.TelemetryLimits{}, device.CodeBadJSON, "not valid JSON"},
		{"leading plus", `{"a": +1}`, device.TelemetryLimits{}, device.CodeBadJSON, "not valid JSON"},
		{"leading zero", `{"a": 01}`, device.TelemetryLimits{}, device.CodeBadJSON, "not valid JSON"},
		{"bad escape in key", `{"a\q": 1}`, device.TelemetryLimits{}, device.CodeBadJSON, "not valid JSON"},
		{"deep nesting", strings.Repeat("[", 100000), device.TelemetryLimits{}, device.CodeBadJSON, "not valid JSON"},
		{"top-level number", `42`, device.TelemetryLimits{}, device.CodeBadJSON, "payload is a number; send a JSON object or an array of objects"},
		{"top-level string", `"a"`, device.TelemetryLimits{}, device.CodeBadJSON, "payload is a string"},
		{"top-level null", `null`, device.TelemetryLimits{}, device.CodeBadJSON, "payload is null"},
		{"empty object", `{}`, device.TelemetryLimits{}, device.CodeEmpty, "object is empty"},
		{"empty array", `[]`, device.TelemetryLimits{}, device.CodeEmpty, "empty array"},
		{"only ts", fmt.Sprintf(`{"ts": %d}`, nowMS), device.TelemetryLimits{}, device.CodeEmpty, "no values besides ts"},
		{"empty values", `{"values": {}}`, device.TelemetryLimits{}, device.CodeEmpty, `"values" is empty`},
		{"empty entry in array", `[{"a":1},{}]`, device.TelemetryLimits{}, device.CodeEmpty, "entry 1: object is empty"},
		{"array of non-objects", `[{"a":1}, 5]`, device.TelemetryLimits{}, device.CodeBadJSON, "entry 1 is a number; entries must be objects"},
		{"nested array", `[[{"a":1}]]`, device.TelemetryLimits{}, device.CodeBadJSON, "entry 0 is an array"},
		{"string value", `[{"a":1},{"b":1},{"c":1},{"co2_ppm": "612"}]`, device.TelemetryLimits{}, device.CodeBadValue, `entry 3: value of "co2_ppm" is a string; values must be numbers or booleans`},
		{"null value", `{"a": null}`, device.TelemetryLimits{}, device.CodeBadValue, `value of "a" is null`},
		{"object value", `{"a": {"b": 1}}`, device.TelemetryLimits{}, device.CodeBadValue, `value of "a" is an object`},
		{"array value", `{"a": [1]}`, device.TelemetryLimits{}, device.CodeBadValue, `value of "a" is an array`},
		{"value overflows", `{"a": 1e999}`, device.TelemetryLimits{}, device.CodeBadValue, `value of "a" (1e999) is out of range`},
		{"value inside values", `{"values": {"a": "x"}}`, device.TelemetryLimits{}, device.CodeBadValue, `value of "a" is a string`},
		{"values not an object", `{"values": [1]}`, device.TelemetryLimits{}, device.CodeBadJSON, `"values" is an array; it must be an object`},
		{"extra key next to values", `{"values": {"a": 1}, "b": 2}`, device.TelemetryLimits{}, device.CodeBadJSON, `unexpected key "b" next to "values"`},
		{"metric starts with digit", `{"2a": 1}`, device.TelemetryLimits{}, device.CodeBadMetric, `metric name "2a" is invalid`},
		{"metric with dash", `{"a-b": 1}`, device.TelemetryLimits{}, device.CodeBadMetric, `metric name "a-b" is invalid`},
		{"metric with colon", `{"a:b": 1}`, device.TelemetryLimits{}, device.CodeBadMetric, `metric name "a:b" is invalid`},
		{"metric with unicode", `{"temp_°c": 1}`, device.TelemetryLimits{}, device.CodeBadMetric, `is invalid`},
		{"empty metric", `{"": 1}`, device.TelemetryLimits{}, device.CodeBadMetric, `metric name "" is invalid`},
		{"metric __name__", `{"__name__": 1}`, device.TelemetryLimits{}, device.CodeBadMetric, `metric name "__name__" is reserved; names starting with "__" belong to the time-series store`},
		{"metric starting with __", `{"values": {"__x": 1}}`, device.TelemetryLimits{}, device.CodeBadMetric, `metric name "__x" is reserved`},
		{"metric customer", `{"co2": 1, "customer": 2}`, device.TelemetryLimits{}, device.CodeBadMetric, `metric name "customer" is reserved; device, customer and site are the labels of every series`},
		{"metric device", `[{"a": 1}, {"device": 1}]`, device.TelemetryLimits{}, device.CodeBadMetric, `entry 1: metric name "device" is reserved`},
		{"metric site", `{"site": 1}`, device.TelemetryLimits{}, device.CodeBadMetric, `metric name "site" is reserved`},
		{"metric too long", fmt.Sprintf(`{"%s": 1}`, strings.Repeat("m", device.MaxMetricLength+1)), device.TelemetryLimits{}, device.CodeBadMetric, "is 129 characters long; at most 128"},
		{"duplicate metric", `{"a": 1, "b": 2, "a": 3}`, device.TelemetryLimits{}, device.CodeBadJSON, `metric "a" appears more than once`},
		{"duplicate metric after unescaping", `{"a_b": 1, "a\u005fb": 3}`, device.TelemetryLimits{}, device.CodeBadJSON, `metric "a_b" appears more than once`},
		{"duplicate ts", fmt.Sprintf(`{"ts": %d, "a": 1, "ts": %d}`, nowMS, nowMS), device.TelemetryLimits{}, device.CodeBadJSON, `key "ts" appears 2 times`},
		{"duplicate values", `{"values": {"a": 1}, "values": {"b": 1}}`, device.TelemetryLimits{}, device.CodeBadJSON, `key "values" appears 2 times`},
		{"duplicate in values", `{"values": {"a": 1, "a": 1}}`, device.TelemetryLimits{}, device.CodeBadJSON, `metric "a" appears more than once`},
		{"ts is a string", `{"ts": "1793611800000", "a": 1}`, device.TelemetryLimits{}, device.CodeBadTimestamp, "ts is a string; ts must be an integer of unix milliseconds"},
		{"ts is fractional", `{"ts": 1793611800000.5, "a": 1}`, device.TelemetryLimits{}, device.CodeBadTimestamp, "ts 1793611800000.5 is not an integer"},
		{"ts has exponent", `{"ts": 1.7936118e12, "a": 1}`, device.TelemetryLimits{}, device.CodeBadTimestamp, "is not an integer"},
		{"ts overflows", `{"ts": 99999999999999999999, "a": 1}`, device.TelemetryLimits{}, device.CodeBadTimestamp, "is not an integer in range"},
		{"ts in seconds", `{"ts": 1793611800, "a": 1}`, device.TelemetryLimits{}, device.CodeBadTimestamp, "looks like seconds"},
		{"ts in microseconds", `{"ts": 1793611800000000, "a": 1}`, device.TelemetryLimits{}, device.CodeBadTimestamp, "looks like microseconds"},
		{"ts in nanoseconds", `{"ts": 1793611800000000000, "a": 1}`, device.TelemetryLimits{}, device.CodeBadTimestamp, "looks like nanoseconds"},
		{"ts too far ahead", fmt.Sprintf(`{"ts": %d, "a": 1}`, nowMS+int64(device.DefaultMaxFuture/time.Millisecond)+1), device.TelemetryLimits{}, device.CodeBadTimestamp, "more than 5m0s ahead of the server clock"},
		{"ts too old", fmt.Sprintf(`{"ts": %d, "a": 1}`, nowMS-int64(device.DefaultRetention/time.Millisecond)-1), device.TelemetryLimits{}, device.CodeBadTimestamp, "older than the retention of 26280h0m0s"},
		{"ts negative", `{"ts": -9223372036854775808, "a": 1}`, device.TelemetryLimits{}, device.CodeBadTimestamp, "older than the retention"},
		{"ts in values entry", fmt.Sprintf(`[{"a":1},{"ts": %d, "values": {"a": 1}}]`, nowMS-2*3600_000), small, device.CodeBadTimestamp, "entry 1: ts"},
		{"same metric and time in two entries", `[{"co2": 1}, {"co2": 2}]`, device.TelemetryLimits{}, device.CodeBadTimestamp, `entry 1: "co2" at ts ` + fmt.Sprint(nowMS) + " repeats entry 0"},
		{"same metric and explicit ts in two entries", fmt.Sprintf(`[{"ts": %d, "values": {"a": 1, "b": 1}}, {"ts": %d, "b": 2}]`, nowMS-1000, nowMS-1000), device.TelemetryLimits{}, device.CodeBadTimestamp, `entry 1: "b" at ts`},
		{"ts past small retention", fmt.Sprintf(`{"ts": %d, "a": 1}`, nowMS-3600_001), small, device.CodeBadTimestamp, "older than the retention of 1h0m0s"},
		{"too many entries", `[{"a":1},{"a":1},{"a":1}]`, small, device.CodeBatchTooLarge, "payload has 3 entries; at most 2"},
		{"too many values", `{"a":1,"b":2,"c":3}`, small, device.CodeBatchTooLarge, "entry has 3 values; at most 2"},
		{"too many values inside values", `[{"values": {"a":1,"b":2,"c":3}}]`, small, device.CodeBatchTooLarge, "entry 0: entry has 3 values"},
		{"first error wins", `[{"a":"x"},{"b":null}]`, device.TelemetryLimits{}, device.CodeBadValue, `entry 0: value of "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := device.DecodeTelemetry([]byte(tt.payload), telemetryNow, tt.lim)
			if err == nil {
				t.Fatalf("DecodeTelemetry(%.80s) = %v, want error %s", tt.payload, got, tt.wantCode)
			}
			if got != nil {
				t.Errorf("DecodeTelemetry returned readings %v with an error", got)
			}
			var te *device.TelemetryError
			if !errors.As(err, &te) {
				t.Fatalf("error %v (%T) is not a *TelemetryError", err, err)
			}
			if te.Code != tt.wantCode || !strings.Contains(te.Message, tt.wantMsg) {
				t.Errorf("error = {%s, %q}, want code %s and message containing %q", te.Code, te.Message, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestDecodeTelemetryLargeObjectDuplicate(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("{")
	for i := range 200 {
		fmt.Fprintf(&b, `"m%d": %d,`, i, i)
	}
	b.WriteString(`"m150": 1}`)
	_, err := device.DecodeTelemetry([]byte(b.String()), telemetryNow, device.TelemetryLimits{})
	var te *device.TelemetryError
	if !errors.As(err, &te) || te.Code != device.CodeBadJSON || !strings.Contains(te.Message, `"m150" appears more than once`) {
		t.Fatalf("err = %v, want duplicate m150", err)
	}
}

// TestDecodeTelemetryReadingsOutliveParser checks that readings stay intact
// after the parser that produced them has decoded other messages.
func TestDecodeTelemetryReadingsOutliveParser(t *testing.T) {
	first, err := device.DecodeTelemetry([]byte(`[{"alpha": 1}, {"beta": 2}]`), telemetryNow, device.TelemetryLimits{})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := device.DecodeTelemetry([]byte(`{"zzzzz": 1, "yyyy": 2}`), telemetryNow, device.TelemetryLimits{}); err != nil {
			t.Fatal(err)
		}
	}
	want := []device.Reading{{"alpha", nowMS, 1}, {"beta", nowMS, 2}}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("readings changed (-want +got):\n%s", diff)
	}
}

var metricRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func FuzzDecodeTelemetry(f *testing.F) {
	for _, s := range []string{
		`{"chw_supply_c": 7.1, "co2_ppm": 612}`,
		`{"ts": 1793611790000, "values": {"a": 1, "b": true}}`,
		`[{"ts": 1793611700000, "values": {"a": 1}}, {"a": 2, "ts": 1793611800000}]`,
		`{"a": "x"}`, `{"ts": 1793611800, "a": 1}`, `{}`, `[]`, `{"a\u005fb": 1, "a_b": 2}`,
		`{"values": {"ts": 1}}`, `{"a": 1e999}`, `[[[]]]`, `{"values": 1, "ts": 2}`,
		`{"__name__": 1}`, `{"_\u005fx": 1}`, `{"customer": 1, "a": 2}`, `{"values": {"site": 1}}`, `[{"device": 1}]`,
	} {
		f.Add([]byte(s))
	}
	lim := device.TelemetryLimits{MaxBatch: 5, MaxValues: 5, MaxFuture: time.Minute, Retention: 24 * time.Hour}
	f.Fuzz(func(t *testing.T, payload []byte) {
		rs, err := device.DecodeTelemetry(payload, telemetryNow, lim)
		if err != nil {
			var te *device.TelemetryError
			if !errors.As(err, &te) || te.Code == "" || te.Message == "" {
				t.Fatalf("error %v is not a complete *TelemetryError", err)
			}
			if rs != nil {
				t.Fatalf("readings %v returned with error", rs)
			}
			return
		}
		if len(rs) == 0 {
			t.Fatal("accepted a payload with no readings")
		}
		if len(rs) > lim.MaxBatch*lim.MaxValues {
			t.Fatalf("accepted %d readings, more than the limits allow", len(rs))
		}
		for _, r := range rs {
			if len(r.Metric) > device.MaxMetricLength || !metricRE.MatchString(r.Metric) {
				t.Fatalf("accepted invalid metric name %q", r.Metric)
			}
			if strings.HasPrefix(r.Metric, "__") || r.Metric == "device" || r.Metric == "customer" || r.Metric == "site" {
				t.Fatalf("accepted reserved metric name %q", r.Metric)
			}
			if r.Timestamp > nowMS+time.Minute.Milliseconds() || r.Timestamp < nowMS-(24*time.Hour).Milliseconds() {
				t.Fatalf("accepted timestamp %d outside limits", r.Timestamp)
			}
			if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
				t.Fatalf("accepted non-finite value %v", r.Value)
			}
		}
	})
}
