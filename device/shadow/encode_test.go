package shadow

import (
	"bytes"
	"encoding/json"
	"testing"
)

// stdlib encodes v as encoding/json does with SetEscapeHTML(false), the
// output the encoder of this package must reproduce.
func stdlib(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func decodeTree(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// TestWireShapesMatchEncodingJSON checks every wire shape, with empty,
// nil and full sections, against encoding/json's output for the same
// value: field order, omitted fields, null for nil trees.
func TestWireShapesMatchEncodingJSON(t *testing.T) {
	tree := decodeTree(t, `{"b":{"z":[1,2.50,"x",{"q":null}],"a":true},"a":"<&>\u2028","c":-1e3}`).(map[string]any)
	meta := map[string]any{"a": map[string]any{"timestamp": int64(1700000000)}}
	full := stateJSON{Desired: tree, Reported: tree, Delta: tree}
	for _, v := range []appender{
		stateJSON{}, full, stateJSON{Desired: map[string]any{}},
		documentJSON{}, documentJSON{State: full, Metadata: stateJSON{Desired: meta}, Version: 3, Timestamp: 9},
		acceptedJSON{}, acceptedJSON{State: tree, Metadata: meta, Version: 1, Timestamp: 2, ClientToken: "tok\"en"},
		deltaJSON{}, deltaJSON{State: tree, Metadata: meta, Version: 1, Timestamp: 2, ClientToken: "c"},
		snapshotJSON{}, snapshotJSON{State: full, Metadata: full, Version: 7},
		documentsJSON{}, documentsJSON{Previous: snapshotJSON{Version: 1}, Current: snapshotJSON{State: full, Version: 2}, Timestamp: 5, ClientToken: "t"},
		getJSON{}, getJSON{State: full, Metadata: full, Version: 4, Timestamp: 5, ClientToken: "g"},
		deleteJSON{}, deleteJSON{Version: 2, Timestamp: 3, ClientToken: "d"},
		errorJSON{}, errorJSON{Code: 409, Message: "Version conflict", Timestamp: 1, ClientToken: "\x01"},
	} {
		if got, want := string(marshal(v)), stdlib(t, v); got != want {
			t.Errorf("%T:\n got %s\nwant %s", v, got, want)
		}
	}
}

// FuzzEncodeTree compares the tree encoder with encoding/json on decoded
// JSON documents and on arbitrary strings, invalid UTF-8 included.
func FuzzEncodeTree(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `[1,"2",[3],{"4":null}]`, `"\u0000\u001f\"\\/\b\f\n\r\t<>&\u2028\u2029\ufffd"`,
		`{"":{"":[]}}`, `-0.0e-7`, `true`, `null`, "\"\xff\xfe\"", `{"b":1,"a":2,"B":3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := string(appendString(nil, string(data))), stdlib(t, string(data)); got != want {
			t.Errorf("string %q:\n got %s\nwant %s", data, got, want)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		if got, want := string(appendValue(nil, v)), stdlib(t, v); got != want {
			t.Errorf("value %s:\n got %s\nwant %s", data, got, want)
		}
	})
}

// BenchmarkEncodeDocuments compares, in one run, encoding/json with this
// package's encoder on an update/documents message of a 20-key shadow, the
// largest message an update sends.
func BenchmarkEncodeDocuments(b *testing.B) {
	doc := `{"state":{"desired":{`
	for i := range 20 {
		if i > 0 {
			doc += ","
		}
		doc += `"key` + string(rune('a'+i)) + `":{"on":true,"sp":21.5,"days":[1,2,3],"mode":"cooling"}`
	}
	doc += `}}}`
	state := decodeTree(b, doc)
	msg := map[string]any{"previous": state, "current": state, "timestamp": int64(1700000000), "clientToken": "c-1"}
	if got, want := string(appendValue(nil, msg)), stdlib(b, msg); got != want {
		b.Fatalf("outputs differ:\n%s\n%s", got, want)
	}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hearth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = appendValue(make([]byte, 0, 512), msg)
		}
	})
}
