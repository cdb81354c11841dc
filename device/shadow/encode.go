package shadow

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// object is a JSON object of a shadow document as encoding/json decodes
// it: string keys; values nil, bool, string, json.Number, int64 (metadata
// timestamps), []any and map[string]any. Every message carries such trees,
// and encoding/json spends most of an update's time reflecting over them
// and sorting their keys, so object encodes itself directly with the same
// output: keys sorted, no HTML escaping.
type object map[string]any

// MarshalJSON encodes o as encoding/json would with SetEscapeHTML(false).
func (o object) MarshalJSON() ([]byte, error) {
	if o == nil {
		return []byte("null"), nil
	}
	return appendObject(make([]byte, 0, 256), o), nil
}

func appendObject(dst []byte, m map[string]any) []byte {
	if len(m) == 0 {
		return append(dst, "{}"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendValue(dst, m[k])
	}
	return append(dst, '}')
}

func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, x)
	case string:
		return appendString(dst, x)
	case json.Number:
		if x == "" {
			return append(dst, '0')
		}
		return append(dst, x...)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case map[string]any:
		if x == nil {
			return append(dst, "null"...)
		}
		return appendObject(dst, x)
	case object:
		if x == nil {
			return append(dst, "null"...)
		}
		return appendObject(dst, x)
	case []any:
		if x == nil {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e)
		}
		return append(dst, ']')
	default:
		// Not a decoded JSON value; encoding/json says how it looks.
		b, err := json.Marshal(x)
		if err != nil {
			return append(dst, "null"...)
		}
		return append(dst, b...)
	}
}

const hex = "0123456789abcdef"

// appendString quotes s as encoding/json does without HTML escaping:
// quotes, backslashes and control characters escaped, U+2028 and U+2029
// escaped for JavaScript, invalid UTF-8 replaced by U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appender is a wire shape that writes itself; marshal uses it instead of
// encoding/json, whose check of a Marshaler's output would scan every
// message a second time.
type appender interface {
	appendTo(dst []byte) []byte
}

// writer writes one JSON object field by field, in the order of the wire
// shape's declaration, as encoding/json does.
type writer struct {
	b     []byte
	after bool // a field was written
}

func (w *writer) key(k string) {
	if w.after {
		w.b = append(w.b, ',')
	}
	w.after = true
	w.b = appendString(w.b, k)
	w.b = append(w.b, ':')
}

// obj writes a tree; with omitEmpty an empty one is left out, otherwise a
// nil one is null.
func (w *writer) obj(k string, m object, omitEmpty bool) {
	if omitEmpty && len(m) == 0 {
		return
	}
	w.key(k)
	w.b = appendValue(w.b, m)
}

func (w *writer) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *writer) str(k, s string, omitEmpty bool) {
	if omitEmpty && s == "" {
		return
	}
	w.key(k)
	w.b = appendString(w.b, s)
}

func (w *writer) sub(k string, a appender) {
	w.key(k)
	w.b = a.appendTo(w.b)
}

func object1(dst []byte, fill func(w *writer)) []byte {
	w := writer{b: append(dst, '{')}
	fill(&w)
	return append(w.b, '}')
}

func (s stateJSON) appendTo(dst []byte) []byte {
	return object1(dst, func(w *writer) {
		w.obj("desired", s.Desired, true)
		w.obj("reported", s.Reported, true)
		w.obj("delta", s.Delta, true)
	})
}

func (d documentJSON) appendTo(dst []byte) []byte {
	return object1(dst, func(w *writer) {
		w.sub("state", d.State)
		w.sub("metadata", d.Metadata)
		w.int("version", d.Version)
		w.int("timestamp", d.Timestamp)
	})
}

func (a acceptedJSON) appendTo(dst []byte) []byte {
	return object1(dst, func(w *writer) {
		w.obj("state", a.State, false)
		w.obj("metadata", a.Metadata, false)
		w.int("version", a.Version)
		w.int("timestamp", a.Timestamp)
		w.str("clientToken", a.ClientToken, true)
	})
}

// A delta message has the shape of an accepted one.
func (d deltaJSON) appendTo(dst []byte) []byte { return acceptedJSON(d).appendTo(dst) }

func (s snapshotJSON) appendTo(dst []byte) []byte {
	return object1(dst, func(w *writer) {
		w.sub("state", s.State)
		w.sub("metadata", s.Metadata)
		w.int("version", s.Version)
	})
}

func (d documentsJSON) appendTo(dst []byte) []byte {
	return object1(dst, func(w *writer) {
		w.sub("previous", d.Previous)
		w.sub("current", d.Current)
		w.int("timestamp", d.Timestamp)
		w.str("clientToken", d.ClientToken, true)
	})
}

func (g getJSON) appendTo(dst []byte) []byte {
	return object1(dst, func(w *writer) {
		w.sub("state", g.State)
		w.sub("metadata", g.Metadata)
		w.int("version", g.Version)
		w.int("timestamp", g.Timestamp)
		w.str("clientToken", g.ClientToken, true)
	})
}

func (d deleteJSON) appendTo(dst []byte) []byte {
	return object1(dst, func(w *writer) {
		w.int("version", d.Version)
		w.int("timestamp", d.Timestamp)
		w.str("clientToken", d.ClientToken, true)
	})
}

func (e errorJSON) appendTo(dst []byte) []byte {
	return object1(dst, func(w *writer) {
		w.int("code", int64(e.Code))
		w.str("message", e.Message, false)
		w.int("timestamp", e.Timestamp)
		w.str("clientToken", e.ClientToken, true)
	})
}
