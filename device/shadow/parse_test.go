package shadow_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/device/shadow"
)

func nest(levels int) string {
	return strings.Repeat(`{"k":`, levels-1) + "1" + strings.Repeat("}", levels-1)
}

func TestParseUpdateRejects(t *testing.T) {
	big := `{"state":{"reported":{"s":"` + strings.Repeat("x", 8200) + `"}}}`
	tests := []struct {
		name  string
		body  string
		lim   shadow.Limits
		code  int
		msg   string
		token string
	}{
		{"invalid JSON", `{"state":`, shadow.Limits{}, 400, "Invalid JSON", ""},
		{"trailing data", `{"state":{}} {}`, shadow.Limits{}, 400, "Invalid JSON", ""},
		{"not an object", `[1]`, shadow.Limits{}, 400, "Invalid JSON", ""},
		{"null document", `null`, shadow.Limits{}, 400, "Invalid JSON", ""},
		{"not UTF-8", "{\"state\":{\"reported\":{\"a\":\"\xff\"}}}", shadow.Limits{}, 415, "Unsupported documented encoding; supported encoding is UTF-8", ""},
		{"missing state", `{"clientToken":"t"}`, shadow.Limits{}, 400, "Missing required node: state", "t"},
		{"state as array", `{"state":[1],"clientToken":"t"}`, shadow.Limits{}, 400, "State node must be an object", "t"},
		{"state null", `{"state":null}`, shadow.Limits{}, 400, "State node must be an object", ""},
		{"desired as number", `{"state":{"desired":5}}`, shadow.Limits{}, 400, "Desired node must be an object", ""},
		{"reported as string", `{"state":{"reported":"x"}}`, shadow.Limits{}, 400, "Reported node must be an object", ""},
		{"unknown node in state", `{"state":{"delta":{"a":1}}}`, shadow.Limits{}, 400, "State contains an invalid node", ""},
		{"null in array", `{"state":{"desired":{"colors":[null,"RED","GREEN"]}}}`, shadow.Limits{}, 400, "State contains an invalid node", ""},
		{"null in object in array", `{"state":{"desired":{"c":[{"a":null}]}}}`, shadow.Limits{}, 400, "State contains an invalid node", ""},
		{"version as string", `{"state":{},"version":"1"}`, shadow.Limits{}, 400, "Invalid version", ""},
		{"version fraction", `{"state":{},"version":1.5}`, shadow.Limits{}, 400, "Invalid version", ""},
		{"version negative", `{"state":{},"version":-1}`, shadow.Limits{}, 400, "Invalid version", ""},
		{"clientToken 65 bytes", `{"state":{},"clientToken":"` + strings.Repeat("t", 65) + `"}`, shadow.Limits{}, 400, "Invalid clientToken", ""},
		{"clientToken number", `{"state":{},"clientToken":5}`, shadow.Limits{}, 400, "Invalid clientToken", ""},
		{"depth 7", `{"state":{"desired":{"k":` + nest(7) + `}}}`, shadow.Limits{}, 400, "JSON contains too many levels of nesting; maximum is 6", ""},
		{"depth 7 through arrays", `{"state":{"desired":{"k":[[[[[[1]]]]]]}}}`, shadow.Limits{}, 400, "JSON contains too many levels of nesting; maximum is 6", ""},
		{"depth over a configured limit", `{"state":{"desired":{"k":` + nest(3) + `}}}`, shadow.Limits{MaxDepth: 2}, 400, "JSON contains too many levels of nesting; maximum is 2", ""},
		{"empty key in reported", `{"state":{"reported":{"":1}}}`, shadow.Limits{}, 400, "state.reported: a key is empty; every key needs at least one character", ""},
		{"empty key deleting in desired", `{"state":{"desired":{"":null}},"clientToken":"t"}`, shadow.Limits{}, 400, "state.desired: a key is empty; every key needs at least one character", "t"},
		{"empty key nested", `{"state":{"reported":{"x":{"":1}}}}`, shadow.Limits{}, 400, "state.reported.x: a key is empty; every key needs at least one character", ""},
		{"empty key in an object in an array", `{"state":{"desired":{"a":{"b":[1,{"":2}]}}}}`, shadow.Limits{}, 400, "state.desired.a.b[1]: a key is empty; every key needs at least one character", ""},
		{"number over float64", `{"state":{"reported":{"big":1e400}}}`, shadow.Limits{}, 400, "state.reported.big: the number 1e400 is out of range for a 64-bit float", ""},
		{"number over float64 deep in an array", `{"state":{"desired":{"a":{"b":[1,[-1e400]]}}}}`, shadow.Limits{}, 400, "state.desired.a.b[1][0]: the number -1e400 is out of range for a 64-bit float", ""},
		{"long number shortened", `{"state":{"desired":{"n":1` + strings.Repeat("0", 400) + `}}}`, shadow.Limits{}, 400, "state.desired.n: the number 1" + strings.Repeat("0", 31) + "… is out of range for a 64-bit float", ""},
		{"long key shortened", `{"state":{"desired":{"` + strings.Repeat("k", 100) + `":1e999}}}`, shadow.Limits{}, 400, "state.desired." + strings.Repeat("k", 64) + "…: the number 1e999 is out of range for a 64-bit float", ""},
		{"state over 8 KiB", big, shadow.Limits{}, 413, "The payload exceeds the maximum size allowed", ""},
		{"state over a configured size", `{"state":{"reported":{"s":"0123456789"}},"clientToken":"t"}`, shadow.Limits{MaxStateBytes: 20}, 413, "The payload exceeds the maximum size allowed", "t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upd, err := shadow.ParseUpdate([]byte(tt.body), tt.lim)
			var se *shadow.Error
			if !errors.As(err, &se) {
				t.Fatalf("ParseUpdate = %v, want *Error", err)
			}
			if se.Code != tt.code || se.Message != tt.msg {
				t.Errorf("ParseUpdate = %d %q, want %d %q", se.Code, se.Message, tt.code, tt.msg)
			}
			if upd.ClientToken != tt.token {
				t.Errorf("clientToken = %q, want %q", upd.ClientToken, tt.token)
			}
		})
	}
}

func TestParseUpdateAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"depth 6", `{"state":{"desired":{"k":` + nest(6) + `}}}`},
		{"AWS quota example of five levels", `{"state":{"desired":{"one":{"two":{"three":{"four":{"five":{}}}}}}}}`},
		{"unknown top-level keys are ignored", `{"state":{"reported":{"a":1}},"extra":{"x":1}}`},
		{"clientToken 64 bytes", `{"state":{},"clientToken":"` + strings.Repeat("t", 64) + `"}`},
		{"largest float64", `{"state":{"reported":{"max":1.7976931348623157e308,"min":-1.7976931348623157e308}}}`},
		{"number below float64 precision reads as 0", `{"state":{"reported":{"tiny":1e-400}}}`},
		{"integer beyond int64 within float64", `{"state":{"reported":{"n":123456789012345678901234567890}}}`},
		{"whitespace does not count", `{"state":{"reported":{"s":"` + strings.Repeat("x", 8100) + `"}}` + strings.Repeat(" ", 500) + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := shadow.ParseUpdate([]byte(tt.body), shadow.Limits{}); err != nil {
				t.Fatalf("ParseUpdate: %v", err)
			}
		})
	}
}

// TestResultOverLimit checks that a merge whose result outgrows the limit is
// rejected with 413 and changes nothing, though the request alone is small.
func TestResultOverLimit(t *testing.T) {
	lim := shadow.Limits{MaxStateBytes: 60}
	upd, err := shadow.ParseUpdate([]byte(`{"state":{"reported":{"a":"0123456789012345678901"}}}`), lim)
	if err != nil {
		t.Fatal(err)
	}
	res, err := shadow.Apply(nil, upd, 1, lim)
	if err != nil {
		t.Fatal(err)
	}
	doc := res.Document
	upd2, err := shadow.ParseUpdate([]byte(`{"state":{"reported":{"b":"0123456789012345678901"}}}`), lim)
	if err != nil {
		t.Fatal(err)
	}
	_, err = shadow.Apply(&doc, upd2, 2, lim)
	var se *shadow.Error
	if !errors.As(err, &se) || se.Code != 413 {
		t.Fatalf("Apply = %v, want 413", err)
	}
	if doc.Version != 1 || len(doc.State.Reported) != 1 {
		t.Errorf("document changed by a rejected update: %+v", doc)
	}
}

// TestApplyChecksKeysAndNumbers checks that an Update built in code, not
// parsed, meets the same rules on keys and numbers, and changes nothing
// when it does not.
func TestApplyChecksKeysAndNumbers(t *testing.T) {
	tests := []struct {
		name string
		upd  shadow.Update
		msg  string
	}{
		{"empty key", shadow.Update{Desired: map[string]any{"x": map[string]any{"": json.Number("1")}}}, "state.desired.x: a key is empty; every key needs at least one character"},
		{"number out of range", shadow.Update{Reported: map[string]any{"big": json.Number("2e308")}}, "state.reported.big: the number 2e308 is out of range for a 64-bit float"},
		{"not a number", shadow.Update{Reported: map[string]any{"n": json.Number("0x10")}}, `state.reported.n: "0x10" is not a JSON number`},
		{"infinite float", shadow.Update{Desired: map[string]any{"a": []any{math.Inf(1)}}}, "state.desired.a[0]: the number +Inf is out of range for a 64-bit float"},
		{"NaN", shadow.Update{Desired: map[string]any{"a": math.NaN()}}, "state.desired.a: the number NaN is out of range for a 64-bit float"},
	}
	doc := &shadow.Document{Version: 3}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := shadow.Apply(doc, tt.upd, 1, shadow.Limits{})
			var se *shadow.Error
			if !errors.As(err, &se) || se.Code != 400 || se.Message != tt.msg {
				t.Fatalf("Apply = %v, want 400 %q", err, tt.msg)
			}
			if doc.Version != 3 || doc.State.Desired != nil || doc.State.Reported != nil {
				t.Errorf("document changed by a rejected update: %+v", doc)
			}
		})
	}
}
