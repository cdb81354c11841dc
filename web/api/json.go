package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/hearthiot/hearth/gate"
)

// writeJSON answers with v as JSON. Answers may carry secrets (new tokens,
// device keys, one-time passwords), so none may be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	setJSONHeaders(w)
	w.WriteHeader(status)
	// The status is sent; a failed write means the client is gone.
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads one JSON object from the request body into dst, a pointer
// to a struct. It refuses a non-JSON content type (415), fields dst does not
// have, and anything after the object (400). An empty body is accepted only
// when optional is true, leaving dst as it was.
func decodeJSON(r *http.Request, dst any, optional bool) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("read request body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return gate.EmptyJSON(dst, "request body")
	}
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return gate.JSONError(err, dst, "request body")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return gate.Invalid("request body: unexpected data after the JSON object")
	}
	return nil
}

// checkJSONContentType refuses a request body that is not declared as
// JSON (415).
func checkJSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return unsupportedMediaType("content type %q: only application/json is accepted", ct)
	}
	return nil
}

// writeRawJSON answers with body, JSON encoded elsewhere, and the headers
// writeJSON sets.
func writeRawJSON(w http.ResponseWriter, status int, body []byte) {
	setJSONHeaders(w)
	w.WriteHeader(status)
	// The status is sent; a failed write means the client is gone.
	_, _ = w.Write(body)
}

func setJSONHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}
