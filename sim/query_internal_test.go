package sim

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseQueryResponse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []Sample
		wantErr bool
	}{
		{
			name: "vector",
			body: `{"status":"success","data":{"resultType":"vector","result":[` +
				`{"metric":{"__name__":"co2_ppm","device":"d1"},"value":[1700000000.5,"612"]},` +
				`{"metric":{},"value":[1700000000,"NaN"]}]}}`,
			want: []Sample{
				{Labels: map[string]string{"__name__": "co2_ppm", "device": "d1"}, Time: time.UnixMilli(1700000000500), Value: 612},
				{Labels: map[string]string{}, Time: time.UnixMilli(1700000000000), Value: math.NaN()},
			},
		},
		{
			name: "scalar",
			body: `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42.5"]}}`,
			want: []Sample{{Time: time.UnixMilli(1700000000000), Value: 42.5}},
		},
		{name: "empty vector", body: `{"status":"success","data":{"resultType":"vector","result":[]}}`, want: []Sample{}},
		{name: "error", body: `{"status":"error","errorType":"bad_data","error":"unknown function"}`, wantErr: true},
		{name: "matrix", body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`, wantErr: true},
		{name: "not json", body: `<html>`, wantErr: true},
		{name: "no status", body: `{}`, wantErr: true},
		{name: "value not string", body: `{"status":"success","data":{"resultType":"scalar","result":[1,2]}}`, wantErr: true},
		{name: "value bad number", body: `{"status":"success","data":{"resultType":"scalar","result":[1,"x"]}}`, wantErr: true},
		{name: "time string", body: `{"status":"success","data":{"resultType":"scalar","result":["1","2"]}}`, wantErr: true},
		{name: "time huge", body: `{"status":"success","data":{"resultType":"scalar","result":[1e300,"2"]}}`, wantErr: true},
		{name: "short point", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseQueryResponse([]byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseQueryResponse error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseQueryResponse feeds the Prometheus answer parser arbitrary
// bodies: it must not panic and must not return samples with an error.
func FuzzParseQueryResponse(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1.5,"2"]}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"+Inf"]}}`))
	f.Add([]byte(`{"status":"error","errorType":"timeout","error":"x"}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":null}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseQueryResponse(body)
		if err != nil && got != nil {
			t.Fatalf("returned %d samples with error %v", len(got), err)
		}
	})
}
