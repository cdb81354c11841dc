package modbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goburrow/modbus"
)

// ErrClosed is returned by a Client used after Close.
var ErrClosed = errors.New("modbus client closed")

// ErrRefused marks a value a setting does not accept; errors.Is finds it
// in a *RefusedError.
var ErrRefused = errors.New("value refused")

// RefusedError is a value a setting does not take, with the rule it
// breaks. Nothing was sent to the device.
type RefusedError struct {
	Setting string
	Value   any
	Rule    string // "15 is above the maximum 12 °C"
}

func (e *RefusedError) Error() string        { return "setting " + e.Setting + ": " + e.Rule }
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Reading is the value of one point.
type Reading struct {
	Point *Point
	// Value is the engineering value: raw × scale + offset; 0 or 1 for a
	// bit; the raw number for a point with values.
	Value float64
	// Text is the name the point's values give Value; empty when it has
	// none or the device holds a number they do not name.
	Text string
}

// SettingValue is the reading as a shadow reports it: the name from
// values when there is one, true or false for a bit, else the number.
func (r Reading) SettingValue() any {
	switch {
	case r.Text != "":
		return r.Text
	case r.Point.Type == Bool:
		return r.Value == 1
	}
	return r.Value
}

// Round is what one read of a set of points gave: a reading for each
// point that was read and a fault for each request that failed. Every
// point asked for is in exactly one of the two, unless the read's context
// ended during the round.
type Round struct {
	Time     time.Time // when the round began
	Readings []Reading
	Faults   []*Fault
}

// Metrics are the round's readings of points with a metric, as telemetry
// values ({"chw_supply_c": 7.1}).
func (r Round) Metrics() map[string]float64 {
	out := make(map[string]float64, len(r.Readings))
	for _, rd := range r.Readings {
		if rd.Point.Metric != "" {
			out[rd.Point.Metric] = rd.Value
		}
	}
	return out
}

// Settings are the round's readings of points with a setting key, as a
// shadow's reported state holds them.
func (r Round) Settings() map[string]any {
	out := map[string]any{}
	for _, rd := range r.Readings {
		if rd.Point.Setting != "" {
			out[rd.Point.Setting] = rd.SettingValue()
		}
	}
	return out
}

// Stats are a client's counters since it was made, for export as metrics.
type Stats struct {
	Requests   uint64 // requests sent: reads, writes and read-backs
	PointsRead uint64 // readings returned
	Writes     uint64 // settings written and confirmed by the device
	Connects   uint64 // connections (or serial ports) opened
	// Faults counts the faults reported, by kind. Requests a round did not
	// send because the connection was down or the unit silent count under
	// the kind that stopped them.
	Faults map[FaultKind]uint64
}

// Client reads and writes the points of one register map over one
// connection, one request at a time: Modbus allows one outstanding request
// on a serial line, many devices allow no more on TCP, and goburrow's
// handlers are not safe for concurrent use. Its methods are safe for
// concurrent use; they wait for each other.
//
// The connection opens at the first request and stays open. A request
// that times out, breaks the connection or gets an answer that does not
// fit closes it, so that a late answer cannot be taken for the next one;
// the next request opens a new connection. A request that finds a
// connection the device has closed since the last one (a device that
// drops idle connections, or restarted) is sent once more on a new
// connection before it is reported.
type Client struct {
	m       *Map
	logger  *slog.Logger
	timeout time.Duration
	values  map[*Point]map[int64]string // raw value → name

	mu     sync.Mutex
	link   link
	open   bool
	used   bool // the open connection has carried an answer
	closed bool
	alone  map[*Point]bool

	requests, points, writes, connects atomic.Uint64
	faults                             [6]atomic.Uint64 // by FaultKinds index
}

// NewClient checks m and returns a client for its source. It does not
// connect: the first request does. A nil logger logs nothing.
func NewClient(m *Map, logger *slog.Logger) (*Client, error) {
	if m == nil {
		return nil, errors.New("new modbus client: no register map")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("new modbus client: %w", err)
	}
	c := &Client{m: m, logger: logger, timeout: m.Source.Timeout, values: map[*Point]map[int64]string{}, alone: map[*Point]bool{}}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	for _, p := range m.Points {
		if p.Values != nil {
			names := make(map[int64]string, len(p.Values))
			for k, v := range p.Values {
				names[v] = k
			}
			c.values[p] = names
		}
	}
	if m.Source.RTU != nil {
		c.link = newRTULink(m.Source.RTU, c.timeout)
	} else {
		c.link = newTCPLink(m.Source.TCP, c.timeout)
	}
	return c, nil
}

// Map is the client's register map.
func (c *Client) Map() *Map { return c.m }

// Close closes the connection; later calls fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.open = false
	if err := c.link.close(); err != nil {
		return fmt.Errorf("close modbus connection to %s: %w", c.m.Source.describe(), err)
	}
	return nil
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	s := Stats{
		Requests: c.requests.Load(), PointsRead: c.points.Load(), Writes: c.writes.Load(), Connects: c.connects.Load(),
		Faults: make(map[FaultKind]uint64, len(FaultKinds)),
	}
	for i, k := range FaultKinds {
		s.Faults[k] = c.faults[i].Load()
	}
	return s
}

func (c *Client) count(f *Fault) *Fault {
	if i := slices.Index(FaultKinds, f.Kind); i >= 0 {
		c.faults[i].Add(1)
	}
	return f
}

// Read reads the given points now, or all of the map's when none are
// given, grouped into as few requests as the limits allow. It stops
// between requests when ctx ends; each request is bounded by the source's
// timeout.
func (c *Client) Read(ctx context.Context, points ...*Point) Round {
	if len(points) == 0 {
		points = c.m.Points
	}
	round := Round{Time: time.Now()}
	c.mu.Lock()
	defer c.mu.Unlock()
	queue := plan(points, c.m.Source.MaxGap, c.alone)
	var down error             // no connection: the rest of the round is not sent
	silent := map[uint8]bool{} // units that timed out in this round
	for i := 0; i < len(queue); i++ {
		r := queue[i]
		if ctx.Err() != nil {
			break
		}
		switch {
		case c.closed:
			round.Faults = append(round.Faults, c.count(r.fault(FaultConnect, ErrClosed)))
			continue
		case down != nil:
			round.Faults = append(round.Faults, c.count(r.fault(FaultConnect, fmt.Errorf("not sent: %w", down))))
			continue
		case silent[r.unit]:
			round.Faults = append(round.Faults, c.count(r.fault(FaultTimeout,
				fmt.Errorf("not sent: unit %d did not answer an earlier request of this round", r.unit))))
			continue
		}
		data, f := c.exchange(r, readOp(r))
		switch {
		case f == nil:
			round.Readings, round.Faults = c.decode(r, data, round.Readings, round.Faults)
		case f.Kind == FaultException && len(r.points) > 1 && narrows(f.Exception):
			// One of the points may not exist, or its sensor may have
			// failed: read them one by one next, and keep reading alone
			// those that fail alone.
			singles := make([]request, len(r.points))
			for j, p := range r.points {
				singles[j] = request{unit: r.unit, fn: r.fn, addr: p.Address, count: p.Width(), points: []*Point{p}, split: true}
			}
			queue = slices.Insert(queue, i+1, singles...)
		default:
			round.Faults = append(round.Faults, c.count(f))
			switch p := r.points[0]; {
			case f.Kind == FaultConnect:
				down = f.Err
			case f.Kind == FaultTimeout:
				silent[r.unit] = true
			case f.Kind == FaultException && r.split && !c.alone[p]:
				c.alone[p] = true
				c.logger.Info("modbus point read alone from now on", "point", p.Name(), "registers", p.span(),
					"unit_id", p.UnitID, "exception", f.Exception.String())
			}
		}
	}
	return round
}

// narrows reports whether an exception to a request of several points may
// come from one of them, so that reading them one by one tells which:
// an address the device does not have (2), a quantity or value it does
// not take (3), or a failure reading one register (4). Busy (6) and
// gateway exceptions (10, 11) are about the whole unit.
func narrows(e Exception) bool {
	return e == IllegalDataAddress || e == IllegalDataValue || e == ServerDeviceFailure
}

// readOp reads a request's registers or bits and checks the answer's
// length, which goburrow does not.
func readOp(r request) func(modbus.Client) ([]byte, error) {
	return func(cl modbus.Client) ([]byte, error) {
		var b []byte
		var err error
		n := uint16(r.count)
		switch r.fn {
		case Coil:
			b, err = cl.ReadCoils(r.addr, n)
		case Discrete:
			b, err = cl.ReadDiscreteInputs(r.addr, n)
		case Holding:
			b, err = cl.ReadHoldingRegisters(r.addr, n)
		case Input:
			b, err = cl.ReadInputRegisters(r.addr, n)
		}
		if err != nil {
			return nil, err
		}
		want := 2 * r.count
		if r.fn.bits() {
			want = (r.count + 7) / 8
		}
		if len(b) != want {
			return nil, fmt.Errorf("%d bytes of data for %d %s, want %d", len(b), r.count, r.fn.plural(), want)
		}
		return b, nil
	}
}

// exchange sends one request, connecting first when needed, and turns an
// error into a fault. c.mu is held.
func (c *Client) exchange(r request, op func(modbus.Client) ([]byte, error)) ([]byte, *Fault) {
	for attempt := 0; ; attempt++ {
		if !c.open {
			if err := c.link.connect(); err != nil {
				return nil, r.fault(FaultConnect, fmt.Errorf("cannot connect to %s: %w", c.m.Source.describe(), err))
			}
			c.open, c.used = true, false
			c.connects.Add(1)
			c.logger.Debug("modbus connection open", "source", c.m.Source.describe())
		}
		reused := c.used
		c.requests.Add(1)
		b, err := op(c.link.client(r.unit))
		if err == nil {
			c.used = true
			return b, nil
		}
		kind, code, werr := classify(err)
		if kind == FaultException {
			c.used = true
			f := r.fault(kind, werr)
			f.Exception = code
			return nil, f
		}
		// The connection's state is unknown: close it, so that a late
		// answer is not read as the next one.
		_ = c.link.close()
		c.open = false
		if kind == FaultLost && reused && attempt == 0 {
			c.logger.Debug("modbus connection found closed; sending again on a new one", "source", c.m.Source.describe(), "error", err)
			continue
		}
		if kind == FaultTimeout {
			werr = &timeoutError{after: c.timeout.String(), err: err}
		}
		return nil, r.fault(kind, werr)
	}
}

// decode turns a request's answer into readings, and a point whose value
// is not a reading into a fault of its own.
func (c *Client) decode(r request, data []byte, rs []Reading, fs []*Fault) ([]Reading, []*Fault) {
	for _, p := range r.points {
		off := int(p.Address) - int(r.addr)
		var wire []byte
		if r.fn.bits() {
			wire = []byte{data[off/8] >> (off % 8) & 1}
		} else {
			wire = data[2*off : 2*(off+p.Width())]
		}
		v, err := p.Value(wire)
		if err != nil {
			f := request{unit: r.unit, fn: r.fn, addr: p.Address, count: p.Width(), points: []*Point{p}}.fault(FaultInvalid, err)
			fs = append(fs, c.count(f))
			continue
		}
		rd := Reading{Point: p, Value: v}
		if names := c.values[p]; names != nil {
			rd.Text = names[int64(v)]
		}
		rs = append(rs, rd)
		c.points.Add(1)
	}
	return rs, fs
}

// Write writes a setting and reads it back: it checks value against the
// setting's values or range, encodes it, writes it (function 5 for a coil,
// 6 for one register, 16 for two), and returns what the device holds
// afterwards, which may differ from what was written when the device
// rounds or limits it. A value the setting does not take is a
// *RefusedError (errors.Is ErrRefused) and nothing is sent; a failed
// request is a *Fault.
//
// value is what a shadow's desired state holds: a name from the
// setting's values, true or false for a coil, else a number (float64,
// an integer type or json.Number).
func (c *Client) Write(ctx context.Context, setting string, value any) (Reading, error) {
	p, ok := c.m.Setting(setting)
	if !ok {
		var keys []string
		for _, q := range c.m.Writable() {
			keys = append(keys, q.Setting)
		}
		return Reading{}, &RefusedError{Setting: setting, Value: value,
			Rule: fmt.Sprintf("not in register map %s; its writable settings are %s", c.m.Name, orNone(keys))}
	}
	if !p.Writable {
		return Reading{}, &RefusedError{Setting: setting, Value: value, Rule: fmt.Sprintf("read-only (%s)", p.span())}
	}
	wire, err := encodeSetting(p, value)
	if err != nil {
		return Reading{}, err
	}
	if err := ctx.Err(); err != nil {
		return Reading{}, fmt.Errorf("write setting %s: %w", setting, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return Reading{}, fmt.Errorf("write setting %s: %w", setting, ErrClosed)
	}
	r := request{unit: p.UnitID, fn: p.Function, addr: p.Address, count: p.Width(), points: []*Point{p}}
	_, f := c.exchange(r, func(cl modbus.Client) ([]byte, error) {
		switch {
		case p.Type == Bool:
			v := uint16(0)
			if wire[0] == 1 {
				v = 0xFF00
			}
			return cl.WriteSingleCoil(p.Address, v)
		case p.Width() == 1:
			return cl.WriteSingleRegister(p.Address, uint16(wire[0])<<8|uint16(wire[1]))
		}
		return cl.WriteMultipleRegisters(p.Address, uint16(p.Width()), wire)
	})
	if f != nil {
		f.Write = true
		return Reading{}, c.count(f)
	}
	c.writes.Add(1)
	data, f := c.exchange(r, readOp(r))
	if f != nil {
		return Reading{}, fmt.Errorf("setting %s written, but reading it back failed: %w", setting, c.count(f))
	}
	rs, fs := c.decode(r, data, nil, nil)
	if len(fs) > 0 {
		return Reading{}, fmt.Errorf("setting %s written, but the value read back is not a reading: %w", setting, fs[0])
	}
	return rs[0], nil
}

func orNone(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

// encodeSetting checks a value against a setting's rules and returns its
// wire form.
func encodeSetting(p *Point, value any) ([]byte, error) {
	refuse := func(format string, args ...any) error {
		return &RefusedError{Setting: p.Setting, Value: value, Rule: fmt.Sprintf(format, args...)}
	}
	want := wanted(p)
	var v float64
	switch x := value.(type) {
	case string:
		if p.Values == nil {
			return nil, refuse("%q is text; want %s", clip(x), want)
		}
		raw, ok := p.Values[x]
		if !ok {
			return nil, refuse("%q is not one of %s", clip(x), strings.Join(valueNames(p), ", "))
		}
		v = float64(raw)
	case bool:
		if p.Type != Bool || p.Values != nil {
			return nil, refuse("%v is a boolean; want %s", x, want)
		}
		if x {
			v = 1
		}
	case nil:
		return nil, refuse("no value; want %s", want)
	default:
		n, ok := number(value)
		if !ok {
			return nil, refuse("a %T; want %s", value, want)
		}
		if p.Values != nil {
			return nil, refuse("%v is a number; want one of %s", n, strings.Join(valueNames(p), ", "))
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, refuse("%v is not a number a device can hold; want %s", n, want)
		}
		if p.Type == Bool && n != 0 && n != 1 {
			return nil, refuse("%v; want %s", n, want)
		}
		if p.Minimum != nil && n < *p.Minimum {
			return nil, refuse("%v is below the minimum %v%s", n, *p.Minimum, withUnit(p.Unit))
		}
		if p.Maximum != nil && n > *p.Maximum {
			return nil, refuse("%v is above the maximum %v%s", n, *p.Maximum, withUnit(p.Unit))
		}
		v = n
	}
	wire, err := p.Registers(v)
	if err != nil {
		return nil, refuse("%v does not fit the register: %v", v, errors.Unwrap(err))
	}
	return wire, nil
}

func withUnit(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

// wanted words what a setting takes, for refusals.
func wanted(p *Point) string {
	switch {
	case p.Values != nil:
		return "one of " + strings.Join(valueNames(p), ", ")
	case p.Type == Bool:
		return "true or false"
	case p.Minimum != nil && p.Maximum != nil:
		return fmt.Sprintf("a number from %v to %v%s", *p.Minimum, *p.Maximum, withUnit(p.Unit))
	}
	return "a number"
}

// valueNames are a point's value names in the order of their raw values.
func valueNames(p *Point) []string {
	names := make([]string, 0, len(p.Values))
	for k := range p.Values {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		if d := p.Values[a] - p.Values[b]; d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return names
}

// number is a numeric value of any of the types JSON decoding or Go code
// gives.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}
