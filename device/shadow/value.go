package shadow

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
)

// marshal encodes v compactly without escaping <, > and &, as AWS does; the
// escaped form would also count against MaxStateBytes for no reason. The
// wire shapes and trees write themselves (encode.go) with the output
// encoding/json would give.
func marshal(v any) []byte {
	if a, ok := v.(appender); ok {
		return a.appendTo(make([]byte, 0, 512))
	}
	return appendValue(make([]byte, 0, 256), v)
}

// stateSize is the size MaxStateBytes limits: the compact encoding of the
// desired and reported sections.
func stateSize(s State) int {
	return len(marshal(stateJSON{Desired: s.Desired, Reported: s.Reported}))
}

// leaf is the metadata of one leaf.
func leaf(now int64) map[string]any { return map[string]any{"timestamp": now} }

// equal compares two state values. Numbers compare by value, so a desired
// 21 and a reported 21.0 produce no delta; AWS does not document this, and
// firmware that prints floats would otherwise never clear its delta.
func equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numbersEqual(x, y)
	default:
		return a == b
	}
}

func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	ai, aerr := strconv.ParseInt(string(a), 10, 64)
	bi, berr := strconv.ParseInt(string(b), 10, 64)
	if aerr == nil && berr == nil {
		return ai == bi
	}
	af, _, aerr := big.ParseFloat(string(a), 10, 256, big.ToNearestEven)
	bf, _, berr := big.ParseFloat(string(b), 10, 256, big.ToNearestEven)
	if aerr != nil || berr != nil {
		return false
	}
	return af.Cmp(bf) == 0
}

// clone copies a value deeply, so a Document handed out never shares maps or
// slices with the one it came from or with the Update that changed it.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = clone(e)
		}
		return out
	default:
		return v
	}
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = clone(v)
	}
	return out
}

// checkSection enforces the nesting limit and AWS's rule that arrays hold no
// null. Nulls in objects are deletions and are allowed in requests.
func checkSection(m map[string]any, maxDepth int) *Error {
	for _, v := range m {
		if err := checkValue(v, 1, maxDepth, false); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(v any, level, maxDepth int, inArray bool) *Error {
	if level > maxDepth {
		return errBadRequest(fmt.Sprintf("JSON contains too many levels of nesting; maximum is %d", maxDepth))
	}
	switch x := v.(type) {
	case nil:
		if inArray {
			// AWS: "Arrays can't have null values ... will be rejected".
			return errBadRequest(msgInvalidNode)
		}
	case map[string]any:
		for _, e := range x {
			if err := checkValue(e, level+1, maxDepth, inArray); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := checkValue(e, level+1, maxDepth, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// normalizeMeta turns decoded metadata leaves {"timestamp": json.Number} back
// into {"timestamp": int64}. A leaf is told from a state key that happens to
// be called "timestamp" by its value: a leaf's is a number, an object's is a
// map.
func normalizeMeta(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		sub, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("metadata of %q is %T, not an object", k, v)
		}
		if n, ok := sub["timestamp"].(json.Number); ok && len(sub) == 1 {
			ts, err := n.Int64()
			if err != nil {
				return nil, fmt.Errorf("metadata timestamp of %q: %w", k, err)
			}
			out[k] = leaf(ts)
			continue
		}
		nm, err := normalizeMeta(sub)
		if err != nil {
			return nil, err
		}
		out[k] = nm
	}
	return out, nil
}
