package gate

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
)

// JSONError turns an error of decoding JSON into dst into a refusal that
// says where the input went wrong and what is accepted; what names the
// input ("request body", "settings").
func JSONError(err error, dst any, what string) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return Invalid("%s is not valid JSON at byte %d: %v", what, syntax.Offset, syntax)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("%s: the JSON ends early", what)
	case errors.As(err, &typ):
		if typ.Field == "" {
			top := "a JSON object"
			if t := reflect.TypeOf(dst); t != nil && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Slice {
				top = "a JSON array"
			}
			return Invalid("%s: %s is expected, got %s", what, top, typ.Value)
		}
		return Invalid("field %q: expected %s, got %s", typ.Field, jsonKind(typ.Type), typ.Value)
	}
	// encoding/json reports unknown fields only in its message.
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return Invalid("field %s is not accepted; the accepted fields are %s", field, fieldList(dst))
	}
	return Invalid("%s: %v", what, err)
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
// messages that say what is accepted; for an array, those of its elements.
func fieldList(dst any) string {
	t := reflect.TypeOf(dst)
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
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

// EmptyJSON refuses an empty input where a JSON object of dst's fields is
// required; what names the input.
func EmptyJSON(dst any, what string) error {
	return Invalid("%s is empty: a JSON object with the fields %s is expected", what, fieldList(dst))
}
