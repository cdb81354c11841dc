package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
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
		return invalid("request body is empty: a JSON object with the fields %s is expected", fieldList(dst))
	}
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return describeJSONError(err, dst)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("request body: unexpected data after the JSON object")
	}
	return nil
}

// checkJSONContentType refuses a request body that is not declared as
// JSON (415).
func checkJSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return &apiError{
			status:  http.StatusUnsupportedMediaType,
			code:    codeUnsupportedMediaType,
			message: fmt.Sprintf("content type %q: only application/json is accepted", ct),
		}
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

// describeJSONError turns a decoding error into a message that says where
// the body went wrong and what is accepted.
func describeJSONError(err error, dst any) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return invalid("request body is not valid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("request body: the JSON ends early")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return invalid("request body: a JSON object is expected, got %s", typ.Value)
		}
		return invalid("field %q: expected %s, got %s", typ.Field, jsonKind(typ.Type), typ.Value)
	}
	// encoding/json reports unknown fields only in its message.
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalid("field %s is not accepted; the accepted fields are %s", field, fieldList(dst))
	}
	return invalid("request body: %v", err)
}

// jsonKind names a Go type the way a JSON user would.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map:
		return "an object of " + strings.TrimPrefix(jsonKind(t.Elem()), "a ") + " values"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// fieldList lists the JSON field names of the struct dst points to, for
// messages that say what is accepted.
func fieldList(dst any) string {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "(none)"
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, `"`+name+`"`)
	}
	return strings.Join(names, ", ")
}
