package rules

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// parsers hold reusable JSON parsers; a message's fields are copied out of
// the parser before it goes back.
var parsers fastjson.ParserPool

// decodeObject decodes a payload that must be one JSON object into Go
// values as encoding/json gives them (float64, string, bool, nil,
// []any, map[string]any), faster.
func decodeObject(b []byte) (map[string]any, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(b)
	if err != nil {
		if strings.Contains(err.Error(), "unexpected tail") {
			return nil, errors.New("the payload has data after its JSON object")
		}
		return nil, errors.New("the payload is not a JSON object")
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New("the payload is not a JSON object")
	}
	return toGo(v).(map[string]any), nil
}

func toGo(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len())
		o.Visit(func(k []byte, v *fastjson.Value) { m[string(k)] = toGo(v) })
		return m
	case fastjson.TypeArray:
		a, _ := v.Array()
		out := make([]any, len(a))
		for i, e := range a {
			out[i] = toGo(e)
		}
		return out
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeNumber:
		return v.GetFloat64()
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	return nil
}

// appendSample appends the telemetry message {"ts":…,"values":{…}} of
// values, keys in order; every value is finite.
func appendSample(b []byte, ts int64, values map[string]float64) []byte {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"values":{`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		b = strconv.AppendFloat(b, values[k], 'g', -1, 64)
	}
	return append(b, "}}"...)
}
