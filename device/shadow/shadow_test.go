package shadow_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device/shadow"
)

// js decodes JSON text the way the package does (exact numbers), so expected
// messages are written as JSON and compared structurally.
func js(t *testing.T, s string) any {
	t.Helper()
	if s == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func jsb(t *testing.T, b []byte) any {
	t.Helper()
	if b == nil {
		return nil
	}
	return js(t, string(b))
}

// run applies update bodies in order, at times 100, 101, …, and returns the
// last result.
func run(t *testing.T, bodies ...string) (shadow.Document, shadow.Result) {
	t.Helper()
	var doc *shadow.Document
	var res shadow.Result
	for i, b := range bodies {
		upd, err := shadow.ParseUpdate([]byte(b), shadow.Limits{})
		if err != nil {
			t.Fatalf("parse update %d %s: %v", i, b, err)
		}
		res, err = shadow.Apply(doc, upd, int64(100+i), shadow.Limits{})
		if err != nil {
			t.Fatalf("apply update %d %s: %v", i, b, err)
		}
		d := res.Document
		doc = &d
	}
	return *doc, res
}

func stored(t *testing.T, doc shadow.Document) any {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return jsb(t, b)
}

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		updates []string
		doc     string // stored document after the last update
		changes []shadow.Change
	}{
		{
			name:    "create from nothing",
			updates: []string{`{"state":{"desired":{"sp":21}}}`},
			doc:     `{"state":{"desired":{"sp":21}},"metadata":{"desired":{"sp":{"timestamp":100}}},"version":1,"timestamp":100}`,
			changes: []shadow.Change{{Section: "desired", Key: "sp", New: json.Number("21")}},
		},
		{
			name: "nested objects merge key by key",
			updates: []string{
				`{"state":{"desired":{"a":{"b":1,"c":{"d":"x"}}}}}`,
				`{"state":{"desired":{"a":{"c":{"e":true}}}}}`,
			},
			doc: `{"state":{"desired":{"a":{"b":1,"c":{"d":"x","e":true}}}},
			       "metadata":{"desired":{"a":{"b":{"timestamp":100},"c":{"d":{"timestamp":100},"e":{"timestamp":101}}}}},
			       "version":2,"timestamp":101}`,
			changes: []shadow.Change{{Section: "desired", Key: "a.c.e", New: true}},
		},
		{
			name: "arrays are replaced whole",
			updates: []string{
				`{"state":{"desired":{"colors":["RED","GREEN","BLUE"]}}}`,
				`{"state":{"desired":{"colors":["RED"]}}}`,
			},
			doc: `{"state":{"desired":{"colors":["RED"]}},"metadata":{"desired":{"colors":{"timestamp":101}}},"version":2,"timestamp":101}`,
			changes: []shadow.Change{{Section: "desired", Key: "colors",
				Old: []any{"RED", "GREEN", "BLUE"}, New: []any{"RED"}}},
		},
		{
			name: "null deletes a leaf and its metadata",
			updates: []string{
				`{"state":{"reported":{"a":1,"b":2}}}`,
				`{"state":{"reported":{"a":null}}}`,
			},
			doc:     `{"state":{"reported":{"b":2}},"metadata":{"reported":{"b":{"timestamp":100}}},"version":2,"timestamp":101}`,
			changes: []shadow.Change{{Section: "reported", Key: "a", Old: json.Number("1")}},
		},
		{
			name: "null deletes a subtree",
			updates: []string{
				`{"state":{"reported":{"a":{"x":1,"y":{"z":2}},"b":3}}}`,
				`{"state":{"reported":{"a":null}}}`,
			},
			doc: `{"state":{"reported":{"b":3}},"metadata":{"reported":{"b":{"timestamp":100}}},"version":2,"timestamp":101}`,
			changes: []shadow.Change{
				{Section: "reported", Key: "a.x", Old: json.Number("1")},
				{Section: "reported", Key: "a.y.z", Old: json.Number("2")},
			},
		},
		{
			name: "an object emptied by deletions is removed, then the section",
			updates: []string{
				`{"state":{"desired":{"a":{"x":1}}}}`,
				`{"state":{"desired":{"a":{"x":null}}}}`,
			},
			doc:     `{"state":{},"metadata":{},"version":2,"timestamp":101}`,
			changes: []shadow.Change{{Section: "desired", Key: "a.x", Old: json.Number("1")}},
		},
		{
			name: "desired null deletes the whole section",
			updates: []string{
				`{"state":{"desired":{"a":1,"b":{"c":2}},"reported":{"a":1}}}`,
				`{"state":{"desired":null}}`,
			},
			doc: `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":100}}},"version":2,"timestamp":101}`,
			changes: []shadow.Change{
				{Section: "desired", Key: "a", Old: json.Number("1")},
				{Section: "desired", Key: "b.c", Old: json.Number("2")},
			},
		},
		{
			name: "reported null deletes the whole section",
			updates: []string{
				`{"state":{"reported":{"a":1}}}`,
				`{"state":{"reported":null}}`,
			},
			doc:     `{"state":{},"metadata":{},"version":2,"timestamp":101}`,
			changes: []shadow.Change{{Section: "reported", Key: "a", Old: json.Number("1")}},
		},
		{
			name: "same value is no change but moves the timestamp",
			updates: []string{
				`{"state":{"reported":{"a":1}}}`,
				`{"state":{"reported":{"a":1}}}`,
			},
			doc: `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":101}}},"version":2,"timestamp":101}`,
		},
		{
			name: "object replaces a scalar",
			updates: []string{
				`{"state":{"desired":{"a":1}}}`,
				`{"state":{"desired":{"a":{"b":2}}}}`,
			},
			doc: `{"state":{"desired":{"a":{"b":2}}},"metadata":{"desired":{"a":{"b":{"timestamp":101}}}},"version":2,"timestamp":101}`,
			changes: []shadow.Change{
				{Section: "desired", Key: "a", Old: json.Number("1")},
				{Section: "desired", Key: "a.b", New: json.Number("2")},
			},
		},
		{
			name: "scalar replaces an object",
			updates: []string{
				`{"state":{"desired":{"a":{"b":2}}}}`,
				`{"state":{"desired":{"a":"off"}}}`,
			},
			doc: `{"state":{"desired":{"a":"off"}},"metadata":{"desired":{"a":{"timestamp":101}}},"version":2,"timestamp":101}`,
			changes: []shadow.Change{
				{Section: "desired", Key: "a", New: "off"},
				{Section: "desired", Key: "a.b", Old: json.Number("2")},
			},
		},
		{
			name:    "empty object writes nothing",
			updates: []string{`{"state":{"desired":{"a":{}}}}`},
			doc:     `{"state":{},"metadata":{},"version":1,"timestamp":100}`,
		},
		{
			name: "a key named timestamp survives metadata round trip",
			updates: []string{
				`{"state":{"reported":{"timestamp":{"timestamp":5}}}}`,
			},
			doc:     `{"state":{"reported":{"timestamp":{"timestamp":5}}},"metadata":{"reported":{"timestamp":{"timestamp":{"timestamp":100}}}},"version":1,"timestamp":100}`,
			changes: []shadow.Change{{Section: "reported", Key: "timestamp.timestamp", New: json.Number("5")}},
		},
		{
			name:    "integers keep full precision",
			updates: []string{`{"state":{"reported":{"big":12345678901234567890123}}}`},
			doc:     `{"state":{"reported":{"big":12345678901234567890123}},"metadata":{"reported":{"big":{"timestamp":100}}},"version":1,"timestamp":100}`,
			changes: []shadow.Change{{Section: "reported", Key: "big", New: json.Number("12345678901234567890123")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, res := run(t, tt.updates...)
			if diff := cmp.Diff(js(t, tt.doc), stored(t, doc)); diff != "" {
				t.Errorf("document (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.changes, res.Changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			// The document survives a storage round trip unchanged.
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			var back shadow.Document
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(doc, back); diff != "" {
				t.Errorf("round trip (-stored +read):\n%s", diff)
			}
		})
	}
}

func TestApplyDoesNotModifyInput(t *testing.T) {
	doc, _ := run(t, `{"state":{"desired":{"a":{"b":1}}}}`)
	before := stored(t, doc)
	upd, err := shadow.ParseUpdate([]byte(`{"state":{"desired":{"a":{"b":2,"c":[1]}}}}`), shadow.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shadow.Apply(&doc, upd, 200, shadow.Limits{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, stored(t, doc)); diff != "" {
		t.Errorf("input document changed (-before +after):\n%s", diff)
	}
}

func TestVersion(t *testing.T) {
	doc, _ := run(t, `{"state":{"desired":{"a":1}}}`, `{"state":{"desired":{"a":2}}}`)
	if doc.Version != 2 {
		t.Fatalf("version = %d, want 2", doc.Version)
	}
	tests := []struct {
		name    string
		body    string
		code    int
		version int64
	}{
		{"equal version is accepted", `{"state":{"desired":{"a":3}},"version":2}`, 0, 3},
		{"older version conflicts", `{"state":{"desired":{"a":3}},"version":1}`, 409, 0},
		{"newer version conflicts", `{"state":{"desired":{"a":3}},"version":7}`, 409, 0},
		{"no version bypasses the check", `{"state":{"desired":{"a":3}}}`, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upd, err := shadow.ParseUpdate([]byte(tt.body), shadow.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := shadow.Apply(&doc, upd, 300, shadow.Limits{})
			if tt.code != 0 {
				var se *shadow.Error
				if !errors.As(err, &se) || se.Code != tt.code || se.Message != "Version conflict" {
					t.Fatalf("error = %v, want %d Version conflict", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Document.Version != tt.version {
				t.Errorf("version = %d, want %d", res.Document.Version, tt.version)
			}
		})
	}
	t.Run("first update on a missing shadow names version 0", func(t *testing.T) {
		upd, err := shadow.ParseUpdate([]byte(`{"state":{"reported":{"a":1}},"version":0}`), shadow.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := shadow.Apply(nil, upd, 1, shadow.Limits{})
		if err != nil || res.Document.Version != 1 {
			t.Fatalf("Apply = version %d, %v; want 1, nil", res.Document.Version, err)
		}
	})
	t.Run("a deleted shadow keeps counting", func(t *testing.T) {
		upd, err := shadow.ParseUpdate([]byte(`{"state":{"reported":{"a":1}}}`), shadow.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := shadow.Apply(&shadow.Document{Version: 9}, upd, 1, shadow.Limits{})
		if err != nil || res.Document.Version != 10 {
			t.Fatalf("Apply = version %d, %v; want 10, nil", res.Document.Version, err)
		}
	})
}

// TestMessages checks the accepted, delta and documents messages of the last
// update of each sequence.
func TestMessages(t *testing.T) {
	tests := []struct {
		name      string
		updates   []string
		accepted  string
		delta     string // "" when no delta message is due
		documents string
	}{
		{
			name:     "desired differs from reported: delta with desired metadata",
			updates:  []string{`{"state":{"reported":{"sp":20,"mode":"heat"}}}`, `{"state":{"desired":{"sp":22,"mode":"heat"}},"clientToken":"t1"}`},
			accepted: `{"state":{"desired":{"sp":22,"mode":"heat"}},"metadata":{"desired":{"sp":{"timestamp":101},"mode":{"timestamp":101}}},"version":2,"timestamp":101,"clientToken":"t1"}`,
			delta:    `{"state":{"sp":22},"metadata":{"sp":{"timestamp":101}},"version":2,"timestamp":101,"clientToken":"t1"}`,
			documents: `{"previous":{"state":{"reported":{"sp":20,"mode":"heat"}},"metadata":{"reported":{"sp":{"timestamp":100},"mode":{"timestamp":100}}},"version":1},
			             "current":{"state":{"desired":{"sp":22,"mode":"heat"},"reported":{"sp":20,"mode":"heat"}},
			                        "metadata":{"desired":{"sp":{"timestamp":101},"mode":{"timestamp":101}},"reported":{"sp":{"timestamp":100},"mode":{"timestamp":100}}},"version":2},
			             "timestamp":101,"clientToken":"t1"}`,
		},
		{
			name:     "nested delta keeps the path to the root",
			updates:  []string{`{"state":{"reported":{"l":{"c":{"r":255,"g":0}}}}}`, `{"state":{"desired":{"l":{"c":{"r":255,"g":255}}}}}`},
			accepted: `{"state":{"desired":{"l":{"c":{"r":255,"g":255}}}},"metadata":{"desired":{"l":{"c":{"r":{"timestamp":101},"g":{"timestamp":101}}}}},"version":2,"timestamp":101}`,
			delta:    `{"state":{"l":{"c":{"g":255}}},"metadata":{"l":{"c":{"g":{"timestamp":101}}}},"version":2,"timestamp":101}`,
			documents: `{"previous":{"state":{"reported":{"l":{"c":{"r":255,"g":0}}}},"metadata":{"reported":{"l":{"c":{"r":{"timestamp":100},"g":{"timestamp":100}}}}},"version":1},
			             "current":{"state":{"desired":{"l":{"c":{"r":255,"g":255}}},"reported":{"l":{"c":{"r":255,"g":0}}}},
			                        "metadata":{"desired":{"l":{"c":{"r":{"timestamp":101},"g":{"timestamp":101}}}},"reported":{"l":{"c":{"r":{"timestamp":100},"g":{"timestamp":100}}}}},"version":2},
			             "timestamp":101}`,
		},
		{
			name:     "reported catches up: no delta message, desired stays",
			updates:  []string{`{"state":{"desired":{"sp":22}}}`, `{"state":{"reported":{"sp":22}},"clientToken":"dev"}`},
			accepted: `{"state":{"reported":{"sp":22}},"metadata":{"reported":{"sp":{"timestamp":101}}},"version":2,"timestamp":101,"clientToken":"dev"}`,
			documents: `{"previous":{"state":{"desired":{"sp":22}},"metadata":{"desired":{"sp":{"timestamp":100}}},"version":1},
			             "current":{"state":{"desired":{"sp":22},"reported":{"sp":22}},"metadata":{"desired":{"sp":{"timestamp":100}},"reported":{"sp":{"timestamp":101}}},"version":2},
			             "timestamp":101,"clientToken":"dev"}`,
		},
		{
			name:     "unrelated report while a delta is pending sends no delta again",
			updates:  []string{`{"state":{"desired":{"sp":22}}}`, `{"state":{"reported":{"temp":19.5}}}`},
			accepted: `{"state":{"reported":{"temp":19.5}},"metadata":{"reported":{"temp":{"timestamp":101}}},"version":2,"timestamp":101}`,
			documents: `{"previous":{"state":{"desired":{"sp":22}},"metadata":{"desired":{"sp":{"timestamp":100}}},"version":1},
			             "current":{"state":{"desired":{"sp":22},"reported":{"temp":19.5}},"metadata":{"desired":{"sp":{"timestamp":100}},"reported":{"temp":{"timestamp":101}}},"version":2},
			             "timestamp":101}`,
		},
		{
			name:     "a report removing a desired key brings the delta back",
			updates:  []string{`{"state":{"desired":{"sp":22},"reported":{"sp":22}}}`, `{"state":{"reported":{"sp":null}}}`},
			accepted: `{"state":{"reported":{"sp":null}},"metadata":{"reported":{"sp":{"timestamp":101}}},"version":2,"timestamp":101}`,
			delta:    `{"state":{"sp":22},"metadata":{"sp":{"timestamp":100}},"version":2,"timestamp":101}`,
			documents: `{"previous":{"state":{"desired":{"sp":22},"reported":{"sp":22}},"metadata":{"desired":{"sp":{"timestamp":100}},"reported":{"sp":{"timestamp":100}}},"version":1},
			             "current":{"state":{"desired":{"sp":22}},"metadata":{"desired":{"sp":{"timestamp":100}}},"version":2},"timestamp":101}`,
		},
		{
			name:     "writing desired again resends the whole pending delta",
			updates:  []string{`{"state":{"desired":{"a":1,"b":2}}}`, `{"state":{"desired":{"b":2}}}`},
			accepted: `{"state":{"desired":{"b":2}},"metadata":{"desired":{"b":{"timestamp":101}}},"version":2,"timestamp":101}`,
			delta:    `{"state":{"a":1,"b":2},"metadata":{"a":{"timestamp":100},"b":{"timestamp":101}},"version":2,"timestamp":101}`,
			documents: `{"previous":{"state":{"desired":{"a":1,"b":2}},"metadata":{"desired":{"a":{"timestamp":100},"b":{"timestamp":100}}},"version":1},
			             "current":{"state":{"desired":{"a":1,"b":2}},"metadata":{"desired":{"a":{"timestamp":100},"b":{"timestamp":101}}},"version":2},"timestamp":101}`,
		},
		{
			name:     "arrays in the delta compare whole",
			updates:  []string{`{"state":{"reported":{"p":[1,2,3]}}}`, `{"state":{"desired":{"p":[1,2]}}}`},
			accepted: `{"state":{"desired":{"p":[1,2]}},"metadata":{"desired":{"p":{"timestamp":101}}},"version":2,"timestamp":101}`,
			delta:    `{"state":{"p":[1,2]},"metadata":{"p":{"timestamp":101}},"version":2,"timestamp":101}`,
			documents: `{"previous":{"state":{"reported":{"p":[1,2,3]}},"metadata":{"reported":{"p":{"timestamp":100}}},"version":1},
			             "current":{"state":{"desired":{"p":[1,2]},"reported":{"p":[1,2,3]}},"metadata":{"desired":{"p":{"timestamp":101}},"reported":{"p":{"timestamp":100}}},"version":2},"timestamp":101}`,
		},
		{
			name:     "deleting desired echoes null with one timestamp",
			updates:  []string{`{"state":{"desired":{"a":1}}}`, `{"state":{"desired":null,"reported":{"a":1}},"clientToken":"x"}`},
			accepted: `{"state":{"desired":null,"reported":{"a":1}},"metadata":{"desired":{"timestamp":101},"reported":{"a":{"timestamp":101}}},"version":2,"timestamp":101,"clientToken":"x"}`,
			documents: `{"previous":{"state":{"desired":{"a":1}},"metadata":{"desired":{"a":{"timestamp":100}}},"version":1},
			             "current":{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":101}}},"version":2},"timestamp":101,"clientToken":"x"}`,
		},
		{
			name:      "first update: previous is empty at version 0",
			updates:   []string{`{"state":{"reported":{"a":"<b>&"}}}`},
			accepted:  `{"state":{"reported":{"a":"<b>&"}},"metadata":{"reported":{"a":{"timestamp":100}}},"version":1,"timestamp":100}`,
			documents: `{"previous":{"state":{},"metadata":{},"version":0},"current":{"state":{"reported":{"a":"<b>&"}},"metadata":{"reported":{"a":{"timestamp":100}}},"version":1},"timestamp":100}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, res := run(t, tt.updates...)
			if diff := cmp.Diff(js(t, tt.accepted), jsb(t, res.Accepted)); diff != "" {
				t.Errorf("accepted (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(js(t, tt.delta), jsb(t, res.Delta)); diff != "" {
				t.Errorf("delta (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(js(t, tt.documents), jsb(t, res.Documents)); diff != "" {
				t.Errorf("documents (-want +got):\n%s", diff)
			}
			if bytes.Contains(res.Accepted, []byte(`\u003c`)) {
				t.Errorf("accepted escapes HTML: %s", res.Accepted)
			}
		})
	}
}

func TestDelta(t *testing.T) {
	tests := []struct {
		name    string
		updates []string
		want    string
	}{
		{"no desired", []string{`{"state":{"reported":{"a":1}}}`}, ``},
		{"only reported keys are not in it", []string{`{"state":{"desired":{"a":1},"reported":{"a":1,"b":2}}}`}, ``},
		{"missing from reported", []string{`{"state":{"desired":{"a":{"b":1}},"reported":{"c":1}}}`}, `{"a":{"b":1}}`},
		{"numbers compare by value", []string{`{"state":{"desired":{"a":21},"reported":{"a":21.0}}}`}, ``},
		{"type differs", []string{`{"state":{"desired":{"a":"1"},"reported":{"a":1}}}`}, `{"a":"1"}`},
		{"object over scalar", []string{`{"state":{"desired":{"a":{"b":1}},"reported":{"a":1}}}`}, `{"a":{"b":1}}`},
		{"equal arrays", []string{`{"state":{"desired":{"a":[1,{"b":2}]},"reported":{"a":[1,{"b":2}]}}}`}, ``},
		{"arrays differ in one element", []string{`{"state":{"desired":{"a":[1,{"b":2}]},"reported":{"a":[1,{"b":3}]}}}`}, `{"a":[1,{"b":2}]}`},
		{"objects differ in one field", []string{`{"state":{"desired":{"a":{"b":1,"c":2}},"reported":{"a":{"b":1,"c":3}}}}`}, `{"a":{"c":2}}`},
		// A program is one value: a device gets all of it, with its date
		// and time zone, even when only its steps changed.
		{"a program is whole", []string{`{"state":{"desired":{"program":{"date":"2026-12-07","tz":"Asia/Tokyo","steps":[{"at":"00:00","set":{"mode":"off"}}]}},` +
			`"reported":{"program":{"date":"2026-12-07","tz":"Asia/Tokyo","steps":[{"at":"07:00","set":{"mode":"cooling"}}]}}}}`},
			`{"program":{"date":"2026-12-07","tz":"Asia/Tokyo","steps":[{"at":"00:00","set":{"mode":"off"}}]}}`},
		{"an equal program is no delta", []string{`{"state":{"desired":{"program":{"date":"2026-12-07","steps":[]}},"reported":{"program":{"date":"2026-12-07","steps":[]}}}}`}, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := run(t, tt.updates...)
			var got any
			if d := shadow.Delta(doc); d != nil {
				got = d
			}
			if diff := cmp.Diff(js(t, tt.want), got); diff != "" {
				t.Errorf("delta (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetAndDeltaResponse(t *testing.T) {
	doc, _ := run(t, `{"state":{"reported":{"sp":20,"fan":"auto"}}}`, `{"state":{"desired":{"sp":22}}}`)
	want := `{"state":{"desired":{"sp":22},"reported":{"sp":20,"fan":"auto"},"delta":{"sp":22}},
	          "metadata":{"desired":{"sp":{"timestamp":101}},"reported":{"sp":{"timestamp":100},"fan":{"timestamp":100}},"delta":{"sp":{"timestamp":101}}},
	          "version":2,"timestamp":500,"clientToken":"g"}`
	if diff := cmp.Diff(js(t, want), jsb(t, shadow.GetResponse(doc, "g", 500))); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	wantDelta := `{"state":{"sp":22},"metadata":{"sp":{"timestamp":101}},"version":2,"timestamp":500}`
	if diff := cmp.Diff(js(t, wantDelta), jsb(t, shadow.DeltaResponse(doc, 500))); diff != "" {
		t.Errorf("pending delta (-want +got):\n%s", diff)
	}

	caught, _ := run(t, `{"state":{"desired":{"sp":22}}}`, `{"state":{"reported":{"sp":22}}}`)
	wantCaught := `{"state":{"desired":{"sp":22},"reported":{"sp":22}},"metadata":{"desired":{"sp":{"timestamp":100}},"reported":{"sp":{"timestamp":101}}},"version":2,"timestamp":7}`
	if diff := cmp.Diff(js(t, wantCaught), jsb(t, shadow.GetResponse(caught, "", 7))); diff != "" {
		t.Errorf("get after catching up (-want +got):\n%s", diff)
	}
	if b := shadow.DeltaResponse(caught, 7); b != nil {
		t.Errorf("pending delta after catching up = %s, want none", b)
	}
}

func TestDeleteAndErrorResponse(t *testing.T) {
	if diff := cmp.Diff(js(t, `{"version":4,"timestamp":9,"clientToken":"d"}`), jsb(t, shadow.DeleteResponse(4, "d", 9))); diff != "" {
		t.Errorf("delete (-want +got):\n%s", diff)
	}
	e := &shadow.Error{Code: 409, Message: "Version conflict"}
	if diff := cmp.Diff(js(t, `{"code":409,"message":"Version conflict","timestamp":9,"clientToken":"c"}`), jsb(t, shadow.ErrorResponse(e, "c", 9))); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	nf := shadow.NotFound("boiler-1", "")
	if diff := cmp.Diff(js(t, `{"code":404,"message":"No shadow exists with name: 'boiler-1'","timestamp":9}`), jsb(t, shadow.ErrorResponse(nf, "", 9))); diff != "" {
		t.Errorf("not found (-want +got):\n%s", diff)
	}
	for body, want := range map[string]string{`{"clientToken":"abc"}`: "abc", ``: "", `{"clientToken":5}`: "", `{}`: ""} {
		if got := shadow.ClientToken([]byte(body), shadow.Limits{}); got != want {
			t.Errorf("ClientToken(%s) = %q, want %q", body, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"config", true},
		{"a:b_c-D9", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{"a/b", false},
		{"a+b", false},
		{"a#", false},
		{"$aws", false},
		{"a b", false},
		{"é", false},
	}
	for _, tt := range tests {
		if err := shadow.ValidName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
