package shadow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/hearthiot/hearth/device/shadow"
)

// FuzzUpdate applies two arbitrary update requests in turn and checks the
// invariants: no panic, rejections are *Error, an accepted shadow is within
// the limits, the version grows by one, the metadata has exactly the leaves
// of the state, and every message is valid JSON.
func FuzzUpdate(f *testing.F) {
	seeds := [][2]string{
		{`{"state":{"desired":{"a":1}}}`, `{"state":{"reported":{"a":1}}}`},
		{`{"state":{"desired":{"a":{"b":[1,2]}},"reported":{"a":{"b":[1]}}},"clientToken":"x"}`, `{"state":{"desired":{"a":{"b":null}}},"version":1}`},
		{`{"state":{"desired":null,"reported":{"x":{"y":{"z":true}}}}}`, `{"state":{"reported":{"x":"flat"}}}`},
		{`{"state":{"desired":{"timestamp":{"timestamp":1}}}}`, `{"state":{"desired":{"timestamp":null}}}`},
		{`{"state":{"reported":{"a":[null]}}}`, `{"state":[]}`},
		{`{"state":{"desired":{"a":{}}}}`, `{"version":"x"}`},
		{`{"state":{"reported":{"":1}}}`, `{"state":{"desired":{"x":{"":1}}}}`},
		{`{"state":{"desired":{"a":[{"":null}]}}}`, `{"state":{"reported":{"":null}}}`},
		{`{"state":{"reported":{"big":1e400}}}`, `{"state":{"desired":{"a":{"b":[-1e309]}}}}`},
		{`{"state":{"reported":{"tiny":1e-400,"max":1.7976931348623157e308}}}`, `{"state":{"reported":{"n":1.7976931348623159e308}}}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	lim := shadow.Limits{MaxStateBytes: 512, MaxDepth: 4}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var doc *shadow.Document
		for i, body := range [][]byte{a, b} {
			upd, err := shadow.ParseUpdate(body, lim)
			if err != nil {
				var se *shadow.Error
				if !errors.As(err, &se) {
					t.Fatalf("ParseUpdate error %v is not *Error", err)
				}
				continue
			}
			res, err := shadow.Apply(doc, upd, int64(i+1), lim)
			if err != nil {
				var se *shadow.Error
				if !errors.As(err, &se) {
					t.Fatalf("Apply error %v is not *Error", err)
				}
				continue
			}
			var prev int64
			if doc != nil {
				prev = doc.Version
			}
			if res.Document.Version != prev+1 {
				t.Fatalf("version %d after %d", res.Document.Version, prev)
			}
			st, err := json.Marshal(struct {
				D map[string]any `json:"desired,omitempty"`
				R map[string]any `json:"reported,omitempty"`
			}{res.Document.State.Desired, res.Document.State.Reported})
			if err != nil {
				t.Fatal(err)
			}
			// encoding/json escapes <, > and &, so this size is an upper bound.
			if len(st) > lim.MaxStateBytes+5*countHTML(st) {
				t.Fatalf("state of %d bytes accepted: %s", len(st), st)
			}
			sameLeaves(t, "desired", res.Document.State.Desired, res.Document.Metadata.Desired)
			sameLeaves(t, "reported", res.Document.State.Reported, res.Document.Metadata.Reported)
			for _, m := range [][]byte{res.Accepted, res.Delta, res.Documents, shadow.GetResponse(res.Document, upd.ClientToken, 9)} {
				if m != nil && !json.Valid(m) {
					t.Fatalf("invalid message %s", m)
				}
			}
			d := res.Document
			doc = &d
		}
	})
}

func countHTML(b []byte) int {
	n := 0
	for i := 0; i+5 < len(b); i++ {
		if string(b[i:i+4]) == `\u00` {
			n++
		}
	}
	return n
}

// sameLeaves fails unless meta mirrors state: an object of the same keys for
// every object, {"timestamp": int64} for every other value, no empty object.
func sameLeaves(t *testing.T, path string, state, meta map[string]any) {
	t.Helper()
	if len(state) != len(meta) {
		t.Fatalf("%s: %d state keys, %d metadata keys", path, len(state), len(meta))
	}
	for k, v := range state {
		if k == "" {
			t.Fatalf("%s: empty key stored", path)
		}
		m, ok := meta[k].(map[string]any)
		if !ok {
			t.Fatalf("%s.%s: no metadata", path, k)
		}
		switch x := v.(type) {
		case nil:
			t.Fatalf("%s.%s: null stored", path, k)
		case map[string]any:
			if len(x) == 0 {
				t.Fatalf("%s.%s: empty object stored", path, k)
			}
			sameLeaves(t, path+"."+k, x, m)
		default:
			badValue(t, path+"."+k, v)
			if _, ok := m["timestamp"].(int64); !ok || len(m) != 1 {
				t.Fatalf("%s.%s: metadata %v is not a leaf", path, k, m)
			}
		}
	}
}

// badValue fails if an accepted leaf holds a number outside float64 or an
// object with an empty key, anywhere inside arrays.
func badValue(t *testing.T, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err != nil || math.IsInf(f, 0) {
			t.Fatalf("%s: number %s stored", path, x)
		}
	case []any:
		for i, e := range x {
			badValue(t, fmt.Sprintf("%s[%d]", path, i), e)
		}
	case map[string]any:
		for k, e := range x {
			if k == "" {
				t.Fatalf("%s: empty key stored", path)
			}
			badValue(t, path+"."+k, e)
		}
	}
}
