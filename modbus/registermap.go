package modbus

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Function is the table a point lives in. Its value is the Modbus function
// code that reads that table.
type Function uint8

// The four Modbus tables.
const (
	Coil     Function = 1 // read/write bits, read with function 1, written with 5
	Discrete Function = 2 // read-only bits (discrete inputs), function 2
	Holding  Function = 3 // read/write registers, read with 3, written with 6 or 16
	Input    Function = 4 // read-only registers, function 4
)

// String is the function's name in a register map.
func (f Function) String() string {
	switch f {
	case Coil:
		return "coil"
	case Discrete:
		return "discrete"
	case Holding:
		return "holding"
	case Input:
		return "input"
	}
	return fmt.Sprintf("function(%d)", uint8(f))
}

// plural names the table in messages: "holding registers".
func (f Function) plural() string {
	switch f {
	case Coil:
		return "coils"
	case Discrete:
		return "discrete inputs"
	case Holding:
		return "holding registers"
	case Input:
		return "input registers"
	}
	return f.String()
}

// singular names one item of the table: "holding register".
func (f Function) singular() string { return strings.TrimSuffix(f.plural(), "s") }

// bits reports whether the table holds bits rather than 16-bit registers.
func (f Function) bits() bool { return f == Coil || f == Discrete }

// maxCount is the most items one read request may ask for.
func (f Function) maxCount() int {
	if f.bits() {
		return 2000
	}
	return 125
}

// Type is how a point's registers encode its raw value.
type Type uint8

// Types of points. Bool is the type of every coil and discrete input; the
// others are register types.
const (
	Bool Type = iota + 1
	Int16
	Uint16
	Int32
	Uint32
	Float32
)

// String is the type's name in a register map.
func (t Type) String() string {
	switch t {
	case Bool:
		return "bool"
	case Int16:
		return "int16"
	case Uint16:
		return "uint16"
	case Int32:
		return "int32"
	case Uint32:
		return "uint32"
	case Float32:
		return "float32"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Width is how many registers (or bits, for Bool) the type takes.
func (t Type) Width() int {
	switch t {
	case Int32, Uint32, Float32:
		return 2
	}
	return 1
}

// rawRange is the smallest and largest raw value the type holds.
func (t Type) rawRange() (lo, hi float64) {
	switch t {
	case Bool:
		return 0, 1
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Uint16:
		return 0, math.MaxUint16
	case Int32:
		return math.MinInt32, math.MaxInt32
	case Uint32:
		return 0, math.MaxUint32
	}
	return -math.MaxFloat32, math.MaxFloat32
}

// Order is the order of the words of a 32-bit value, or of the bytes in
// each register. The zero value is Big, Modbus's own order.
type Order uint8

// Orders.
const (
	Big    Order = iota // most significant first
	Little              // least significant first
)

// String is the order's name in a register map.
func (o Order) String() string {
	if o == Little {
		return "little"
	}
	return "big"
}

// Parity of a serial line.
type Parity string

// Parities. Modbus's default is even.
const (
	ParityNone Parity = "none"
	ParityEven Parity = "even"
	ParityOdd  Parity = "odd"
)

// Defaults of a register map.
const (
	DefaultTimeout  = time.Second
	DefaultInterval = 10 * time.Second
	DefaultUnitID   = 1
	DefaultDataBits = 8
	DefaultStopBits = 1
	DefaultParity   = ParityEven
)

// Limits of a register map.
const (
	MaxPoints    = 10000
	MaxGap       = 32 // registers or bits a request may read past to join two points
	MinInterval  = 100 * time.Millisecond
	MaxInterval  = 24 * time.Hour
	MinTimeout   = 10 * time.Millisecond
	MaxTimeout   = time.Minute
	maxNameLen   = 128
	maxTextLen   = 256
	maxValueKeys = 256
)

// Map is a register map: where a device is and what its registers mean.
// Maps come from Parse or ParseNode, which check them; a Map built or
// changed in code is checked again by NewClient.
type Map struct {
	// Name is where the map came from (a file name), for messages.
	Name   string
	Source Source
	Points []*Point
}

// Source is how to reach the device: Modbus TCP or RTU on a serial line.
// Exactly one of TCP and RTU is set.
type Source struct {
	TCP string // host:port
	RTU *Serial

	// UnitID is the unit (slave) id of points that do not name their own.
	UnitID   uint8
	Timeout  time.Duration // for one request and its answer
	Interval time.Duration // poll interval of points that do not set theirs
	// MaxGap is how many unused registers (or bits) one request may read
	// to join two points; 0 joins only adjacent points. Devices often
	// answer exception 2 for addresses they do not have, so the default
	// is 0.
	MaxGap int

	line int
}

// Serial is an RS-485 or RS-232 line.
type Serial struct {
	Device   string // /dev/ttyUSB0
	Baud     int
	DataBits int // 5 to 8
	Parity   Parity
	StopBits int // 1 or 2
}

// Point is one value of the device: a telemetry metric, a shadow setting
// or both.
type Point struct {
	// Metric is the telemetry name the value is published under; empty
	// when the point is only a setting.
	Metric string
	// Setting is the shadow key the value is reported under and, when
	// Writable, desired from.
	Setting     string
	Description string

	UnitID    uint8 // the unit (slave) id; the source's when the map does not say
	Function  Function
	Address   uint16 // 0-based: the first holding register is 0, not 40001
	Type      Type
	WordOrder Order // of a 32-bit value's two registers
	ByteOrder Order // within each register

	// Value = raw × Scale + Offset.
	Scale, Offset float64
	Unit          string        // engineering unit, for people: °C, %, ppm
	Interval      time.Duration // 0: the source's

	Writable bool
	// Minimum and Maximum bound what may be written, in engineering units.
	Minimum, Maximum *float64
	// Values names raw values: {"off": 0, "cooling": 1}. A setting with
	// values is written and reported by name.
	Values map[string]int64

	// Line is where the point starts in the map's file; 0 for a point built
	// in code.
	Line int
}

// Name is the point's metric, or its setting when it has no metric.
func (p *Point) Name() string {
	if p.Metric != "" {
		return p.Metric
	}
	return p.Setting
}

// Width is how many registers or bits the point takes.
func (p *Point) Width() int { return p.Type.Width() }

// last is the address of the point's last register or bit.
func (p *Point) last() int { return int(p.Address) + p.Width() - 1 }

// span describes the point's registers in messages: "holding register 5"
// or "input registers 10-11".
func (p *Point) span() string {
	if p.Width() == 1 {
		return fmt.Sprintf("%s %d", p.Function.singular(), p.Address)
	}
	return fmt.Sprintf("%s %d-%d", p.Function.plural(), p.Address, p.last())
}

// Metric is the point published under name.
func (m *Map) Metric(name string) (*Point, bool) {
	for _, p := range m.Points {
		if p.Metric == name {
			return p, true
		}
	}
	return nil, false
}

// Setting is the point of the shadow key.
func (m *Map) Setting(key string) (*Point, bool) {
	for _, p := range m.Points {
		if p.Setting == key {
			return p, true
		}
	}
	return nil, false
}

// Writable lists the settings that may be written, in map order.
func (m *Map) Writable() []*Point {
	var out []*Point
	for _, p := range m.Points {
		if p.Writable {
			out = append(out, p)
		}
	}
	return out
}

// interval is the point's poll interval.
func (m *Map) interval(p *Point) time.Duration {
	if p.Interval > 0 {
		return p.Interval
	}
	if m.Source.Interval > 0 {
		return m.Source.Interval
	}
	return DefaultInterval
}

// describe names the source in messages: "127.0.0.1:502" or "/dev/ttyUSB0".
func (s Source) describe() string {
	if s.RTU != nil {
		return s.RTU.Device
	}
	return s.TCP
}
