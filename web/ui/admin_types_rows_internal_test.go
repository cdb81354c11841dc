package ui

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hearthiot/hearth/device"
)

// TestTypeRowsRoundTrip: every built-in type's settings and metrics come
// back from the form's rows as they went in, what the rows have no field
// for included.
func TestTypeRowsRoundTrip(t *testing.T) {
	types, err := device.BuiltinTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range types {
		// The store keeps a schema without its spacing, as the rows do.
		for i, st := range dt.Settings {
			if len(st.Schema) > 0 {
				var b bytes.Buffer
				if err := json.Compact(&b, st.Schema); err != nil {
					t.Fatal(err)
				}
				dt.Settings[i].Schema = b.Bytes()
			}
		}
		sts, err := settingsOf(settingRowsOf(dt.Settings))
		if err != nil {
			t.Fatalf("%s: settings: %v", dt.Name, err)
		}
		if diff := cmp.Diff(dt.Settings, sts, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: settings through the rows (-in +out):\n%s", dt.Name, diff)
		}
		ms, err := metricsOf(metricRowsOf(dt.Metrics))
		if err != nil {
			t.Fatalf("%s: metrics: %v", dt.Name, err)
		}
		if diff := cmp.Diff(dt.Metrics, ms, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: metrics through the rows (-in +out):\n%s", dt.Name, diff)
		}
	}
}

func TestParseStates(t *testing.T) {
	got, err := parseStates(" 0 = Stopped / 停止 ; 1=Running;; -2.5 = / 逆転")
	if err != nil {
		t.Fatal(err)
	}
	if s := formatStates(got); s != "0 = Stopped / 停止; 1 = Running; -2.5 =  / 逆転" {
		t.Errorf("formatStates = %q", s)
	}
	for _, bad := range []string{"Running", "x = Running", "1 = ", "1 = /", "NaN = a", "Inf = b"} {
		if _, err := parseStates(bad); err == nil || !strings.HasPrefix(err.Error(), "states: ") {
			t.Errorf("parseStates(%q) = %v, want a refusal", bad, err)
		}
	}
}

// FuzzParseStates: whatever an operator types, parsing either refuses it
// or gives states that write and parse back to themselves.
func FuzzParseStates(f *testing.F) {
	for _, s := range []string{"0 = Stopped / 停止; 1 = Running / 運転", "1=a", "; ;", "1e3 = k / ", "-0 = z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		states, err := parseStates(s)
		if err != nil {
			return
		}
		again, err := parseStates(formatStates(states))
		if err != nil {
			t.Fatalf("%q parsed, and its writing %q does not: %v", s, formatStates(states), err)
		}
		if !cmp.Equal(states, again, cmpopts.EquateEmpty()) {
			t.Fatalf("%q: %v, written and parsed again %v", s, states, again)
		}
	})
}
