package ui

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzEtagMatches: any If-None-Match header is read without panicking; a
// header that lists the tag (weak or not), or "*", matches, and one whose
// every entry differs from it does not.
func FuzzEtagMatches(f *testing.F) {
	const tag = `"0123456789abcdef01234567"`
	for _, s := range []string{"", "*", tag, "W/" + tag, `"a", ` + tag, `"a","b"`, `W/"x"`, ",,,", `"` + tag, "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := etagMatches(header, tag)
		listed := strings.TrimSpace(header) == "*"
		for _, e := range strings.Split(header, ",") {
			if strings.TrimPrefix(strings.TrimSpace(e), "W/") == tag {
				listed = true
			}
		}
		if got != listed {
			t.Errorf("etagMatches(%q) = %v; want %v", header, got, listed)
		}
		if !etagMatches(header+", "+tag, tag) || !etagMatches("W/"+tag+","+header, tag) {
			t.Errorf("a header listing the tag beside %q does not match", header)
		}
	})
}

// FuzzWantsStream: any Accept header is read without panicking, and one
// that lists text/event-stream, with parameters or in any case, asks for
// a stream.
func FuzzWantsStream(f *testing.F) {
	for _, s := range []string{"", "text/event-stream", "text/html, */*;q=0.8", "TEXT/Event-Stream;q=0.5", ";;,", "text/event-streamx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		r := &http.Request{Header: http.Header{"Accept": {accept}}}
		got := wantsStream(r)
		listed := false
		for _, a := range strings.Split(accept, ",") {
			mt, _, _ := strings.Cut(a, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				listed = true
			}
		}
		if got != listed {
			t.Errorf("wantsStream(%q) = %v; want %v", accept, got, listed)
		}
		r.Header.Set("Accept", accept+", text/event-stream;q=0.1")
		if !wantsStream(r) {
			t.Errorf("an Accept header listing text/event-stream after %q asks for no stream", accept)
		}
	})
}
