package modbus_test

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/modbus"
)

// layout is a word order and a byte order with the position each byte of
// a big-endian value ABCD takes on the wire.
type layout struct {
	word, byte modbus.Order
	name       string
	perm32     [4]int // wire[i] = abcd[perm32[i]]
}

var layouts = []layout{
	{modbus.Big, modbus.Big, "ABCD", [4]int{0, 1, 2, 3}},
	{modbus.Little, modbus.Big, "CDAB", [4]int{2, 3, 0, 1}},
	{modbus.Big, modbus.Little, "BADC", [4]int{1, 0, 3, 2}},
	{modbus.Little, modbus.Little, "DCBA", [4]int{3, 2, 1, 0}},
}

// wire lays out big-endian bytes in a layout, by the table above rather
// than by the code under test.
func (l layout) wire(abcd []byte) []byte {
	if len(abcd) == 2 {
		if l.byte == modbus.Little {
			return []byte{abcd[1], abcd[0]}
		}
		return []byte{abcd[0], abcd[1]}
	}
	out := make([]byte, 4)
	for i, j := range l.perm32 {
		out[i] = abcd[j]
	}
	return out
}

func TestDecodeEncodeEveryTypeAndOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ  modbus.Type
		abcd []byte // big-endian
		raw  float64
	}{
		{modbus.Int16, []byte{0x12, 0x34}, 0x1234},
		{modbus.Int16, []byte{0xFE, 0xDC}, -292},
		{modbus.Int16, []byte{0x80, 0x00}, math.MinInt16},
		{modbus.Int16, []byte{0x7F, 0xFF}, math.MaxInt16},
		{modbus.Int16, []byte{0xFF, 0xFF}, -1},
		{modbus.Uint16, []byte{0xFE, 0xDC}, 0xFEDC},
		{modbus.Uint16, []byte{0x00, 0x00}, 0},
		{modbus.Uint16, []byte{0xFF, 0xFF}, math.MaxUint16},
		{modbus.Int32, []byte{0x12, 0x34, 0x56, 0x78}, 0x12345678},
		{modbus.Int32, []byte{0xFE, 0xDC, 0xBA, 0x98}, -19088744},
		{modbus.Int32, []byte{0x80, 0x00, 0x00, 0x00}, math.MinInt32},
		{modbus.Int32, []byte{0x7F, 0xFF, 0xFF, 0xFF}, math.MaxInt32},
		{modbus.Int32, []byte{0x00, 0x01, 0x00, 0x00}, 65536},
		{modbus.Uint32, []byte{0xFE, 0xDC, 0xBA, 0x98}, 0xFEDCBA98},
		{modbus.Uint32, []byte{0xFF, 0xFF, 0xFF, 0xFF}, math.MaxUint32},
		{modbus.Uint32, []byte{0x00, 0x00, 0xFF, 0xFF}, 65535},
		{modbus.Float32, []byte{0x42, 0xF6, 0xE9, 0x79}, 123.456},
		{modbus.Float32, []byte{0xBF, 0xC0, 0x00, 0x00}, -1.5},
		{modbus.Float32, []byte{0x41, 0xAD, 0x99, 0x9A}, 21.7},
		{modbus.Float32, []byte{0x00, 0x00, 0x00, 0x00}, 0},
		{modbus.Float32, []byte{0x80, 0x00, 0x00, 0x00}, math.Copysign(0, -1)},
		{modbus.Float32, []byte{0x7F, 0x7F, 0xFF, 0xFF}, 3.4028235e38},
		{modbus.Float32, []byte{0x00, 0x00, 0x00, 0x01}, 1e-45},
	}
	for _, c := range cases {
		for _, l := range layouts {
			if c.typ.Width() == 1 && l.word == modbus.Little {
				continue // one register has no word order
			}
			wire := l.wire(c.abcd)
			t.Run(fmt.Sprintf("%s/%s/% x", c.typ, l.name, wire), func(t *testing.T) {
				got, err := modbus.Decode(c.typ, l.word, l.byte, wire)
				if err != nil || got != c.raw || math.Signbit(got) != math.Signbit(c.raw) {
					t.Errorf("Decode = %v, %v; want %v", got, err, c.raw)
				}
				enc, err := modbus.Encode(c.typ, l.word, l.byte, c.raw)
				if err != nil || !bytes.Equal(enc, wire) {
					t.Errorf("Encode(%v) = % x, %v; want % x", c.raw, enc, err, wire)
				}
			})
		}
	}
}

// A single register's word order does not matter: Decode ignores it.
func TestWordOrderOfOneRegisterIgnored(t *testing.T) {
	t.Parallel()
	for _, typ := range []modbus.Type{modbus.Int16, modbus.Uint16} {
		a, _ := modbus.Decode(typ, modbus.Big, modbus.Big, []byte{0x01, 0x02})
		b, _ := modbus.Decode(typ, modbus.Little, modbus.Big, []byte{0x01, 0x02})
		if a != b || a != 0x0102 {
			t.Errorf("%s: %v and %v, want 258 both", typ, a, b)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ  modbus.Type
		wire []byte
		want string
	}{
		{modbus.Float32, []byte{0x7F, 0xC0, 0x00, 0x00}, "NaN"},
		{modbus.Float32, []byte{0xFF, 0x80, 0x00, 0x00}, "-Inf"},
		{modbus.Float32, []byte{0x7F, 0x80, 0x00, 0x00}, "+Inf"},
		{modbus.Int16, []byte{0x01}, "1 bytes, want 2"},
		{modbus.Int32, []byte{0x01, 0x02}, "2 bytes, want 4"},
		{modbus.Uint16, nil, "0 bytes, want 2"},
		{modbus.Bool, []byte{1}, "not a register type"},
		{modbus.Type(0), []byte{1, 2}, "not a register type"},
		{modbus.Type(99), []byte{1, 2}, "not a register type"},
	}
	for _, c := range cases {
		if _, err := modbus.Decode(c.typ, modbus.Big, modbus.Big, c.wire); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%s, % x) error %v, want one with %q", c.typ, c.wire, err, c.want)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ  modbus.Type
		raw  float64
		want string
	}{
		{modbus.Int16, 32768, "beyond -32768 to 32767"},
		{modbus.Int16, -32769, "beyond"},
		{modbus.Uint16, -1, "beyond 0 to 65535"},
		{modbus.Uint16, 65536, "beyond"},
		{modbus.Int32, 2147483648, "beyond"},
		{modbus.Uint32, 4294967296, "beyond"},
		{modbus.Uint32, 1.5, "not a whole number"},
		{modbus.Int16, math.NaN(), "beyond"},
		{modbus.Float32, math.Inf(1), "beyond"},
		{modbus.Float32, 1e39, "beyond"},
		{modbus.Bool, 1, "not a register type"},
	}
	for _, c := range cases {
		if b, err := modbus.Encode(c.typ, modbus.Big, modbus.Big, c.raw); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Encode(%s, %v) = % x, %v; want an error with %q", c.typ, c.raw, b, err, c.want)
		}
	}
}

func TestPointValueScaleAndOffset(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		point modbus.Point
		wire  []byte
		want  float64
	}{
		{"tenths", modbus.Point{Type: modbus.Int16, Scale: 0.1}, []byte{0x00, 0x03}, 0.3}, // not 0.30000000000000004
		{"hundredths negative", modbus.Point{Type: modbus.Int16, Scale: 0.01}, []byte{0xFF, 0x9C}, -1},
		{"offset kelvin", modbus.Point{Type: modbus.Uint16, Scale: 0.01, Offset: -273.15}, []byte{0x71, 0xE3}, 18.4},
		{"thousandths int32", modbus.Point{Type: modbus.Int32, Scale: 0.001}, []byte{0xFF, 0xFF, 0xE4, 0xA8}, -7},
		{"scale 10", modbus.Point{Type: modbus.Uint16, Scale: 10}, []byte{0x00, 0x07}, 70},
		{"negative scale", modbus.Point{Type: modbus.Int16, Scale: -0.5}, []byte{0x00, 0x03}, -1.5},
		{"third", modbus.Point{Type: modbus.Uint16, Scale: 1.0 / 3}, []byte{0x00, 0x03}, 1},
		{"float32 shortest", modbus.Point{Type: modbus.Float32, Scale: 1}, []byte{0x41, 0xAD, 0x99, 0x9A}, 21.7},
		{"float32 scaled", modbus.Point{Type: modbus.Float32, Scale: 2, Offset: 1}, []byte{0x3F, 0xC0, 0x00, 0x00}, 4},
		{"bit", modbus.Point{Type: modbus.Bool, Scale: 1}, []byte{1}, 1},
	}
	for _, c := range cases {
		got, err := c.point.Value(c.wire)
		if err != nil || got != c.want {
			t.Errorf("%s: Value(% x) = %v, %v; want %v", c.name, c.wire, got, err, c.want)
		}
		back, err := c.point.Registers(c.want)
		if err != nil || !bytes.Equal(back, c.wire) {
			t.Errorf("%s: Registers(%v) = % x, %v; want % x", c.name, c.want, back, err, c.wire)
		}
	}
}

func TestPointRegistersRoundsToTheNearestRawValue(t *testing.T) {
	t.Parallel()
	p := modbus.Point{Metric: "x", Type: modbus.Int16, Scale: 0.1}
	// 4.05 and 0.15 are halfway between two steps in decimal, but not in
	// binary floating point, where 4.05 ÷ 0.1 is 40.49999999999999: they
	// round away from zero like 7.25 does.
	for in, want := range map[float64][]byte{7.25: {0, 73}, 7.24: {0, 72}, -7.25: {0xFF, 0xB7},
		4.05: {0, 41}, -4.05: {0xFF, 0xD7}, 0.15: {0, 2}, 4.04: {0, 40}, 4.06: {0, 41}} {
		if got, err := p.Registers(in); err != nil || !bytes.Equal(got, want) {
			t.Errorf("Registers(%v) = % x, %v; want % x", in, got, err, want)
		}
	}
	// The same with hundredths and an offset, and with a scale above one.
	for _, c := range []struct {
		point modbus.Point
		in    float64
		want  []byte
	}{
		{modbus.Point{Metric: "k", Type: modbus.Uint16, Scale: 0.01, Offset: -273.15}, 1.005, []byte{0x6B, 0x18}}, // 27415.5 → 27416
		{modbus.Point{Metric: "h", Type: modbus.Int16, Scale: 0.01}, 1.005, []byte{0, 101}},                       // 100.5, not 100.49999999999999
		{modbus.Point{Metric: "t", Type: modbus.Uint16, Scale: 10}, 45, []byte{0, 5}},                             // 4.5 → 5
		{modbus.Point{Metric: "w", Type: modbus.Int32, Scale: 0.001}, -2.0005, []byte{0xFF, 0xFF, 0xF8, 0x2F}},    // -2000.5 → -2001
	} {
		if got, err := c.point.Registers(c.in); err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("point %s: Registers(%v) = % x, %v; want % x", c.point.Name(), c.in, got, err, c.want)
		}
	}
	if _, err := p.Registers(4000); err == nil || !strings.Contains(err.Error(), "point x: 4000") {
		t.Errorf("Registers(4000) on int16 × 0.1: %v, want a refusal naming the point", err)
	}
	b := modbus.Point{Metric: "b", Type: modbus.Bool, Scale: 1}
	if _, err := b.Registers(2); err == nil {
		t.Error("a bit took 2")
	}
}
