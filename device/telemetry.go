package device

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// Default telemetry limits, used where TelemetryLimits leaves a field zero.
const (
	DefaultMaxBatch  = 1000
	DefaultMaxValues = 1000
	// DefaultMaxMetrics is the number of distinct metric names a device may
	// use. Every name is a series in the time-series store, and series are
	// its most expensive resource.
	DefaultMaxMetrics = 500
	DefaultMaxFuture  = 5 * time.Minute
	DefaultRetention  = 3 * 365 * 24 * time.Hour
	// DefaultMaxDelay is the longest a message's acknowledgement is held
	// back for a device over its rate.
	DefaultMaxDelay = 10 * time.Second
)

// MaxMetricLength is the longest metric name a device may send.
const MaxMetricLength = 128

// TelemetryLimits bound what one telemetry message may carry. A field that is
// zero or negative takes its default.
type TelemetryLimits struct {
	MaxBatch   int           // entries in an array payload; default 1000
	MaxValues  int           // values in one entry; default 1000
	MaxMetrics int           // distinct metric names per device, enforced by Telemetry; default 500
	MaxFuture  time.Duration // how far ahead of the server clock a ts may be; default 5m
	Retention  time.Duration // a ts older than now-Retention is refused; default 3 years
	// Rate is how many samples a second one device may have stored on
	// average and Burst how many at once, a back-fill after an outage
	// included; a device type may set its own (Telemetry.WithRates).
	// Rate 0: no limit. A device past them has its acknowledgements held
	// back, up to MaxDelay (default 10s) for a message, which slows it
	// to the rate; a message that would wait longer is refused
	// (CodeRateLimited), and one larger than Burst is refused.
	Rate     float64
	Burst    int
	MaxDelay time.Duration
}

func (l TelemetryLimits) withDefaults() TelemetryLimits {
	if l.MaxBatch <= 0 {
		l.MaxBatch = DefaultMaxBatch
	}
	if l.MaxMetrics <= 0 {
		l.MaxMetrics = DefaultMaxMetrics
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultMaxValues
	}
	if l.MaxFuture <= 0 {
		l.MaxFuture = DefaultMaxFuture
	}
	if l.Retention <= 0 {
		l.Retention = DefaultRetention
	}
	if l.MaxDelay <= 0 {
		l.MaxDelay = DefaultMaxDelay
	}
	return l
}

// parsers holds reusable JSON parsers. A parser keeps its buffers between
// messages, so steady-state decoding allocates almost nothing; the pool is a
// cache only and carries no state from one message to the next.
var parsers fastjson.ParserPool

// DecodeTelemetry turns one telemetry payload into readings, in payload
// order. Three shapes are accepted:
//
//	{"chw_supply_c": 7.1, "co2_ppm": 612, "pump_on": true}
//	{"ts": 1767225600000, "values": {"chw_supply_c": 7.1}}
//	[{"ts": 1767225600000, "values": {…}}, {"ts": …, "co2_ppm": 600}, …]
//
// Values are JSON numbers or booleans (true is 1, false is 0). In the flat
// shape a key "ts" is the timestamp, not a metric, and a key "values" selects
// the second shape. A timestamp is an integer of unix milliseconds; without
// one the reading is taken at now. The array shape back-fills readings after
// an outage.
//
// Anything else rejects the whole message, so a device never has half a
// message stored: the error is a *TelemetryError whose Message says what was
// wrong and where ("entry 3: …" counts array entries from 0).
func DecodeTelemetry(payload []byte, now time.Time, lim TelemetryLimits) ([]Reading, error) {
	lim = lim.withDefaults()
	p := parsers.Get()
	defer parsers.Put(p)

	// Parse first: it bounds nesting depth. Validate then applies the JSON
	// grammar strictly (the parser accepts NaN, leading '+', bad escapes).
	v, err := p.ParseBytes(payload)
	if err == nil {
		err = fastjson.ValidateBytes(payload)
	}
	if err != nil {
		return nil, &TelemetryError{Code: CodeBadJSON, Message: fmt.Sprintf("payload is not valid JSON: %s", err)}
	}

	nowMS := now.UnixMilli()
	d := decoder{
		lim:   lim,
		nowMS: nowMS,
		minTS: nowMS - lim.Retention.Milliseconds(),
		maxTS: nowMS + lim.MaxFuture.Milliseconds(),
		entry: -1,
	}
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		d.names.Grow(len(payload))
		rs := make([]Reading, 0, capacity(o))
		return d.decodeEntry(rs, o)
	case fastjson.TypeArray:
		entries, _ := v.Array()
		if len(entries) == 0 {
			return nil, &TelemetryError{Code: CodeEmpty, Message: "payload is an empty array; send at least one entry"}
		}
		if len(entries) > lim.MaxBatch {
			return nil, &TelemetryError{Code: CodeBatchTooLarge, Message: fmt.Sprintf("payload has %d entries; at most %d are allowed in one message", len(entries), lim.MaxBatch)}
		}
		n := 0
		for i, e := range entries {
			o, err := e.Object()
			if err != nil {
				return nil, &TelemetryError{Code: CodeBadJSON, Message: fmt.Sprintf("entry %d is %s; entries must be objects", i, typeName(e.Type()))}
			}
			n += capacity(o)
		}
		d.names.Grow(len(payload))
		rs := make([]Reading, 0, n)
		var seen map[sampleKey]int // only for back-fill of more than one entry
		if len(entries) > 1 {
			seen = make(map[sampleKey]int, n)
		}
		for i, e := range entries {
			d.entry = i
			o, _ := e.Object()
			start := len(rs)
			var err error
			if rs, err = d.decodeEntry(rs, o); err != nil {
				return nil, err
			}
			// Storage keeps one value per metric and millisecond, so two
			// entries naming the same metric at the same time would keep
			// one of them silently: refuse the message instead.
			if seen == nil {
				continue
			}
			for _, r := range rs[start:] {
				k := sampleKey{r.Metric, r.Timestamp}
				if first, dup := seen[k]; dup {
					return nil, d.fail(CodeBadTimestamp, "%s at ts %d repeats entry %d; a metric may have one value per millisecond (give each entry its own ts)",
						quoteName([]byte(r.Metric)), r.Timestamp, first)
				}
				seen[k] = i
			}
		}
		return rs, nil
	default:
		return nil, &TelemetryError{Code: CodeBadJSON, Message: fmt.Sprintf("payload is %s; send a JSON object or an array of objects", typeName(v.Type()))}
	}
}

// sampleKey identifies one stored sample of a device.
type sampleKey struct {
	metric string
	ts     int64
}

// capacity is an upper bound of the readings in entry o, so that the
// readings slice is allocated once.
func capacity(o *fastjson.Object) int {
	n := o.Len()
	if vals := o.Get("values"); vals != nil && vals.Type() == fastjson.TypeObject {
		n += vals.GetObject().Len()
	}
	return n
}

// decoder carries the limits and the names buffer through one message.
// Every metric name is copied once into names, and each Reading's Metric is
// a slice of it, so a message costs two allocations however many values it
// has.
type decoder struct {
	lim          TelemetryLimits
	nowMS        int64
	minTS, maxTS int64
	entry        int // index in an array payload; -1 for a single object
	names        strings.Builder
}

func (d *decoder) fail(code, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if d.entry >= 0 {
		msg = fmt.Sprintf("entry %d: %s", d.entry, msg)
	}
	return &TelemetryError{Code: code, Message: msg}
}

// decodeEntry appends the readings of one object, in either the flat or
// the {"ts", "values"} shape.
func (d *decoder) decodeEntry(rs []Reading, o *fastjson.Object) ([]Reading, error) {
	if o.Len() == 0 {
		return nil, d.fail(CodeEmpty, "object is empty; send at least one value")
	}
	var tsVal, values *fastjson.Value
	var err error
	nts, nvalues := 0, 0
	o.Visit(func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "ts":
			nts++
			tsVal = v
		case "values":
			nvalues++
			values = v
		}
	})
	switch {
	case nts > 1:
		return nil, d.fail(CodeBadJSON, `key "ts" appears %d times; each key may appear once`, nts)
	case nvalues > 1:
		return nil, d.fail(CodeBadJSON, `key "values" appears %d times; each key may appear once`, nvalues)
	}

	flat := values == nil
	metrics := o
	if !flat {
		if o.Len() > nts+nvalues {
			var extra []byte
			o.Visit(func(k []byte, _ *fastjson.Value) {
				if extra == nil && string(k) != "ts" && string(k) != "values" {
					extra = k
				}
			})
			return nil, d.fail(CodeBadJSON, `unexpected key %s next to "values"; an entry with "values" may have only "ts" besides it`, quoteName(extra))
		}
		if metrics, err = values.Object(); err != nil {
			return nil, d.fail(CodeBadJSON, `"values" is %s; it must be an object of metric names and values`, typeName(values.Type()))
		}
	}

	ts := d.nowMS
	if tsVal != nil {
		if ts, err = d.timestamp(tsVal); err != nil {
			return nil, err
		}
	}

	count := metrics.Len()
	if flat {
		count -= nts
	}
	if count == 0 {
		if flat {
			return nil, d.fail(CodeEmpty, "object has no values besides ts; send at least one value")
		}
		return nil, d.fail(CodeEmpty, `"values" is empty; send at least one value`)
	}
	if count > d.lim.MaxValues {
		return nil, d.fail(CodeBatchTooLarge, "entry has %d values; at most %d are allowed", count, d.lim.MaxValues)
	}

	start := len(rs)
	nameStart := d.names.Len()
	metrics.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil || flat && string(k) == "ts" {
			return
		}
		if err = d.checkMetric(k); err != nil {
			return
		}
		var val float64
		if val, err = d.value(k, v); err != nil {
			return
		}
		d.names.Write(k)
		rs = append(rs, Reading{Timestamp: ts, Value: val})
	})
	if err != nil {
		return nil, err
	}

	// The names of this entry are now in the buffer; point the readings at
	// them. The builder never rewrites bytes it has handed out, so these
	// strings stay valid as later entries are appended.
	all := d.names.String()
	off, i := nameStart, start
	metrics.Visit(func(k []byte, _ *fastjson.Value) {
		if flat && string(k) == "ts" {
			return
		}
		rs[i].Metric = all[off : off+len(k)]
		off += len(k)
		i++
	})
	if name, dup := duplicateMetric(rs[start:]); dup {
		return nil, d.fail(CodeBadJSON, "metric %s appears more than once; each key may appear once", quoteName([]byte(name)))
	}
	return rs, nil
}

// timestamp reads a ts value: an integer of unix milliseconds within
// [now-Retention, now+MaxFuture]. The messages name the likely mistake
// (seconds or microseconds instead of milliseconds), the commonest one in
// device firmware.
func (d *decoder) timestamp(v *fastjson.Value) (int64, error) {
	if v.Type() != fastjson.TypeNumber {
		return 0, d.fail(CodeBadTimestamp, "ts is %s; ts must be an integer of unix milliseconds", typeName(v.Type()))
	}
	ts, err := v.Int64()
	if err != nil {
		return 0, d.fail(CodeBadTimestamp, "ts %s is not an integer in range; ts must be an integer of unix milliseconds", truncate(v.String(), 32))
	}
	inRange := func(t int64) bool { return t >= d.minTS && t <= d.maxTS }
	switch {
	case ts > d.maxTS:
		hint := ""
		switch {
		case inRange(ts / 1000):
			hint = "; ts is unix milliseconds and this looks like microseconds"
		case inRange(ts / 1000000):
			hint = "; ts is unix milliseconds and this looks like nanoseconds"
		}
		return 0, d.fail(CodeBadTimestamp, "ts %d (%s) is more than %s ahead of the server clock (%s)%s",
			ts, formatMS(ts), d.lim.MaxFuture, formatMS(d.nowMS), hint)
	case ts < d.minTS:
		hint := ""
		if ts > math.MinInt64/1000 && ts < math.MaxInt64/1000 && inRange(ts*1000) {
			hint = "; ts is unix milliseconds and this looks like seconds"
		}
		return 0, d.fail(CodeBadTimestamp, "ts %d (%s) is older than the retention of %s%s",
			ts, formatMS(ts), d.lim.Retention, hint)
	}
	return ts, nil
}

// checkMetric applies the metric naming rule, ^[A-Za-z_][A-Za-z0-9_]*$ and
// at most MaxMetricLength bytes: names that are valid Prometheus metric names
// without ':' (reserved there for recording rules) can be queried from
// Grafana without quoting. Names of the labels every series carries
// (__name__, device, customer, site; see store/tsdb) and any other name
// starting with "__", which Prometheus reserves, are refused: a metric
// named like a label reads as that label in a query.
func (d *decoder) checkMetric(k []byte) error {
	if len(k) > MaxMetricLength {
		return d.fail(CodeBadMetric, "metric name %s is %d characters long; at most %d are allowed", quoteName(k), len(k), MaxMetricLength)
	}
	ok := len(k) > 0 && (k[0] == '_' || k[0] >= 'a' && k[0] <= 'z' || k[0] >= 'A' && k[0] <= 'Z')
	for i := 1; ok && i < len(k); i++ {
		c := k[i]
		ok = c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if !ok {
		return d.fail(CodeBadMetric, "metric name %s is invalid; names start with a letter or '_' and contain only letters, digits and '_'", quoteName(k))
	}
	if len(k) >= 2 && k[0] == '_' && k[1] == '_' {
		return d.fail(CodeBadMetric, "metric name %s is reserved; names starting with \"__\" belong to the time-series store", quoteName(k))
	}
	switch string(k) {
	case "device", "customer", "site":
		return d.fail(CodeBadMetric, "metric name %s is reserved; device, customer and site are the labels of every series", quoteName(k))
	}
	return nil
}

func (d *decoder) value(k []byte, v *fastjson.Value) (float64, error) {
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, d.fail(CodeBadValue, "value of %s (%s) is out of range for a 64-bit float", quoteName(k), truncate(v.String(), 32))
		}
		return f, nil
	case fastjson.TypeTrue:
		return 1, nil
	case fastjson.TypeFalse:
		return 0, nil
	default:
		return 0, d.fail(CodeBadValue, "value of %s is %s; values must be numbers or booleans", quoteName(k), typeName(v.Type()))
	}
}

// duplicateMetric reports a metric name that occurs twice among rs, which
// hold the readings of one object. Objects of up to 64 values, the usual
// case, use a small open-addressing set on the stack, so the check costs one
// hash per name and no allocation; larger ones use a map.
func duplicateMetric(rs []Reading) (string, bool) {
	const small, slotCount = 64, 128 // slotCount: a power of two, at most half full
	if len(rs) > small {
		seen := make(map[string]struct{}, len(rs))
		for _, r := range rs {
			if _, ok := seen[r.Metric]; ok {
				return r.Metric, true
			}
			seen[r.Metric] = struct{}{}
		}
		return "", false
	}
	var slots [slotCount]uint8 // index+1 into rs; 0 is empty
	for i := range rs {
		name := rs[i].Metric
		h := uint32(2166136261) // FNV-1a
		for j := 0; j < len(name); j++ {
			h = (h ^ uint32(name[j])) * 16777619
		}
		for s := h % slotCount; ; s = (s + 1) % slotCount {
			if slots[s] == 0 {
				slots[s] = uint8(i + 1)
				break
			}
			if rs[slots[s]-1].Metric == name {
				return name, true
			}
		}
	}
	return "", false
}

// typeName names a JSON type with its article, for messages.
func typeName(t fastjson.Type) string {
	switch t {
	case fastjson.TypeObject:
		return "an object"
	case fastjson.TypeArray:
		return "an array"
	case fastjson.TypeString:
		return "a string"
	case fastjson.TypeNumber:
		return "a number"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "a boolean"
	default:
		return "null"
	}
}

// quoteName quotes a key for a message, shortened so that a huge key
// cannot make a huge reply.
func quoteName(k []byte) string {
	const max = 64
	if len(k) > max {
		return fmt.Sprintf("%q…", k[:max])
	}
	return fmt.Sprintf("%q", k)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func formatMS(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
}
