package shadow

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
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

// checkSection enforces, for the desired or reported section of a request,
// the nesting limit, AWS's rule that arrays hold no null, and two rules
// whose messages are Hearth's own: no key is empty (AWS refuses one too),
// and every number fits a 64-bit float, so every client can read back what
// it stored (JavaScript would read 1e400 as Infinity, Go would fail to
// decode it).
// Nulls in objects are deletions and are allowed in requests. The messages
// of these two name where the fault is, as "state.reported.x.y".
func checkSection(section string, m map[string]any, maxDepth int) *Error {
	for k, v := range m {
		if f := checkKey(k); f != nil {
			return f.error("state." + section)
		}
		if f := checkValue(v, 1, maxDepth, false); f != nil {
			return f.in(k).error("state." + section)
		}
	}
	return nil
}

// fault is a rejection found deep in a section. err is one of AWS's own,
// returned as it is; otherwise what says what is wrong at path, which
// holds the keys and indexes that lead to it, the innermost first, as
// they are collected on the way back up.
type fault struct {
	err  *Error
	what string
	path []string
}

// maxPathKey bounds each key of a path in a message, so that a long key
// cannot make a long reply.
const maxPathKey = 64

// in records that the fault lies under key k.
func (f *fault) in(k string) *fault {
	if f.err == nil {
		if len(k) > maxPathKey {
			k = strings.ToValidUTF8(k[:maxPathKey], "") + "…"
		}
		f.path = append(f.path, "."+k)
	}
	return f
}

// at records that the fault lies in array element i.
func (f *fault) at(i int) *fault {
	if f.err == nil {
		f.path = append(f.path, "["+strconv.Itoa(i)+"]")
	}
	return f
}

func (f *fault) error(root string) *Error {
	if f.err != nil {
		return f.err
	}
	var b strings.Builder
	b.WriteString(root)
	for i := len(f.path) - 1; i >= 0; i-- {
		b.WriteString(f.path[i])
	}
	return errBadRequest(b.String() + ": " + f.what)
}

// checkKey refuses an empty key: AWS does, a key without a name cannot be
// shown or addressed, and the history records changes by their path.
func checkKey(k string) *fault {
	if k == "" {
		return &fault{what: "a key is empty; every key needs at least one character"}
	}
	return nil
}

func checkValue(v any, level, maxDepth int, inArray bool) *fault {
	if level > maxDepth {
		return &fault{err: errBadRequest(fmt.Sprintf("JSON contains too many levels of nesting; maximum is %d", maxDepth))}
	}
	switch x := v.(type) {
	case nil:
		if inArray {
			// AWS: "Arrays can't have null values ... will be rejected".
			return &fault{err: errBadRequest(msgInvalidNode)}
		}
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && math.IsInf(f, 0):
			return &fault{what: fmt.Sprintf("the number %s is out of range for a 64-bit float", clip(string(x), 32))}
		case err != nil:
			// Only an Update built in code can hold one.
			return &fault{what: fmt.Sprintf("%q is not a JSON number", clip(string(x), 32))}
		}
	case float64:
		// An Update built in code, not parsed.
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return &fault{what: fmt.Sprintf("the number %v is out of range for a 64-bit float", x)}
		}
	case map[string]any:
		for k, e := range x {
			if f := checkKey(k); f != nil {
				return f
			}
			if f := checkValue(e, level+1, maxDepth, inArray); f != nil {
				return f.in(k)
			}
		}
	case []any:
		for i, e := range x {
			if f := checkValue(e, level+1, maxDepth, true); f != nil {
				return f.at(i)
			}
		}
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
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
