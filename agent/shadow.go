package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// maxShadowMessage bounds the shadow messages the agent reads: Hearth's
// state limit is 8 KiB, and a document with metadata stays well inside
// this.
const maxShadowMessage = 256 << 10

// ShadowState is the part of a shadow document the agent acts on: the
// desired state, the reported state and the version. Numbers are float64,
// as in any JSON document decoded in Go.
type ShadowState struct {
	Desired  map[string]any
	Reported map[string]any
	Version  int64
}

// Delta is an update/delta message: the desired keys that differ from the
// reported ones.
type Delta struct {
	State   map[string]any
	Version int64
}

// ShadowError is an …/rejected message.
type ShadowError struct {
	Code        int    `json:"code"`
	Message     string `json:"message"`
	ClientToken string `json:"clientToken"`
}

// ParseShadowGet reads a get/accepted message.
func ParseShadowGet(b []byte) (ShadowState, error) {
	var doc struct {
		State *struct {
			Desired  map[string]any `json:"desired"`
			Reported map[string]any `json:"reported"`
		} `json:"state"`
		Version *int64 `json:"version"`
	}
	if err := decodeShadow(b, &doc); err != nil {
		return ShadowState{}, fmt.Errorf("shadow document: %w", err)
	}
	if doc.Version == nil {
		return ShadowState{}, fmt.Errorf("shadow document has no version")
	}
	st := ShadowState{Version: *doc.Version}
	if doc.State != nil {
		st.Desired, st.Reported = doc.State.Desired, doc.State.Reported
	}
	if err := floats(st.Desired); err != nil {
		return ShadowState{}, fmt.Errorf("shadow document: desired.%w", err)
	}
	if err := floats(st.Reported); err != nil {
		return ShadowState{}, fmt.Errorf("shadow document: reported.%w", err)
	}
	return st, nil
}

// ParseDelta reads an update/delta message.
func ParseDelta(b []byte) (Delta, error) {
	var doc struct {
		State   map[string]any `json:"state"`
		Version *int64         `json:"version"`
	}
	if err := decodeShadow(b, &doc); err != nil {
		return Delta{}, fmt.Errorf("shadow delta: %w", err)
	}
	if doc.State == nil {
		return Delta{}, fmt.Errorf("shadow delta has no state object")
	}
	if doc.Version == nil {
		return Delta{}, fmt.Errorf("shadow delta has no version")
	}
	if err := floats(doc.State); err != nil {
		return Delta{}, fmt.Errorf("shadow delta: state.%w", err)
	}
	return Delta{State: doc.State, Version: *doc.Version}, nil
}

// ParseShadowError reads a …/rejected message.
func ParseShadowError(b []byte) (ShadowError, error) {
	var e ShadowError
	if err := decodeShadow(b, &e); err != nil {
		return ShadowError{}, fmt.Errorf("shadow error: %w", err)
	}
	return e, nil
}

// decodeShadow decodes one JSON object into v, numbers as float64, and
// refuses what is too large, not an object, or has text after it.
func decodeShadow(b []byte, v any) error {
	if len(b) > maxShadowMessage {
		return fmt.Errorf("%d bytes; at most %d are read", len(b), maxShadowMessage)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("cannot parse JSON: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("text after the JSON object")
	}
	return nil
}

// floats turns the json.Number values inside a decoded object into
// float64, in place.
func floats(m map[string]any) error {
	for k, v := range m {
		w, err := toFloats(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		m[k] = w
	}
	return nil
}

func toFloats(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("number %s is out of range", clipString(x.String(), 40))
		}
		return f, nil
	case map[string]any:
		return x, floats(x)
	case []any:
		for i, e := range x {
			w, err := toFloats(e)
			if err != nil {
				return nil, err
			}
			x[i] = w
		}
	}
	return v, nil
}
