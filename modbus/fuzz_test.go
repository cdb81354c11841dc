package modbus_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim/modbussim"
)

var fuzzScales = []struct{ scale, offset float64 }{{1, 0}, {0.1, 0}, {0.01, 0}, {0.001, 0}, {10, 0}, {0.1, -40}, {0.01, -273.15}, {-1, 0}, {0.5, 0.25}}

// FuzzDecode: whatever a device sends decodes without panicking, and what
// decodes encodes back to the same bytes, raw and through a point's scale
// and offset.
func FuzzDecode(f *testing.F) {
	for _, s := range []struct {
		typ  modbus.Type
		wire []byte
	}{
		{modbus.Int16, []byte{0xFE, 0xDC}}, {modbus.Uint16, []byte{0xFF, 0xFF}},
		{modbus.Int32, []byte{0x12, 0x34, 0x56, 0x78}}, {modbus.Uint32, []byte{0xFE, 0xDC, 0xBA, 0x98}},
		{modbus.Float32, []byte{0x42, 0xF6, 0xE9, 0x79}}, {modbus.Float32, []byte{0x7F, 0xC0, 0, 0}},
		{modbus.Float32, []byte{0, 0, 0, 1}}, {modbus.Float32, []byte{0x80, 0, 0, 0}}, {modbus.Int16, nil},
	} {
		for i := range 4 {
			f.Add(uint8(s.typ), i&1 == 1, i&2 == 2, uint8(i), s.wire)
		}
	}
	f.Fuzz(func(t *testing.T, typ uint8, wordLittle, byteLittle bool, scale uint8, wire []byte) {
		tp := modbus.Type(typ % 8)
		word, byteOrder := modbus.Big, modbus.Big
		if wordLittle {
			word = modbus.Little
		}
		if byteLittle {
			byteOrder = modbus.Little
		}
		raw, err := modbus.Decode(tp, word, byteOrder, wire)
		if err != nil {
			return
		}
		if math.IsNaN(raw) || math.IsInf(raw, 0) {
			t.Fatalf("Decode(%s, % x) = %v", tp, wire, raw)
		}
		back, err := modbus.Encode(tp, word, byteOrder, raw)
		if err != nil || !bytes.Equal(back, wire) {
			t.Fatalf("Decode(%s, %s, %s, % x) = %v, which encodes to % x, %v", tp, word, byteOrder, wire, raw, back, err)
		}
		sc := fuzzScales[int(scale)%len(fuzzScales)]
		p := modbus.Point{Metric: "p", Type: tp, WordOrder: word, ByteOrder: byteOrder, Scale: sc.scale, Offset: sc.offset}
		v, err := p.Value(wire)
		if err != nil {
			t.Fatalf("Value(% x) of a decodable value: %v", wire, err)
		}
		if tp == modbus.Float32 {
			return // scaling a float32 rounds; the raw round trip is above
		}
		back, err = p.Registers(v)
		if err != nil || !bytes.Equal(back, wire) {
			t.Fatalf("%s × %v + %v: % x reads %v, which writes % x, %v", tp, sc.scale, sc.offset, wire, v, back, err)
		}
	})
}

// FuzzParse: no register map file makes the parser panic; one it accepts
// passes Check and makes a client, and one it refuses is refused with
// lines inside the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(modbussim.ChillerMap))
	f.Add([]byte(modbussim.IAQMap))
	text, _ := matrix()
	f.Add([]byte(strings.ReplaceAll(text, "ADDR", "127.0.0.1:502")))
	f.Add([]byte("source: {rtu: {device: /dev/ttyS0, baud: 9600, parity: none}, unit_id: 2}\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n"))
	f.Add([]byte(header + "  - {setting: mode, function: holding, address: 0, type: uint16, writable: true, values: {off: 0, on: 1}}\n"))
	f.Add([]byte(header + "  - {metric: a, function: input, address: 0x10, type: int32, word_order: little, scale: 0.01, offset: -40}\n"))
	f.Add([]byte(header + "  - &a {metric: a, function: input, address: 0, type: int16}\n  - *a\n"))
	f.Add([]byte("source: &s {tcp: 1.2.3.4:502}\npoints: [{<<: *s}]\n"))
	f.Add([]byte("points:\n  - [1, 2]\n  - ~\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := modbus.Parse(bytes.NewReader(data), "f.yaml")
		if err != nil {
			var me *modbus.MapError
			if !errors.As(err, &me) || len(me.Problems) == 0 {
				t.Fatalf("error %v is not a *MapError with problems", err)
			}
			lines := yamlLines(data)
			for _, p := range me.Problems {
				if p.Line < 0 || p.Line > lines+1 { // at the end, YAML may name the line after the last
					t.Fatalf("problem on line %d of a %d-line file: %s", p.Line, lines, p.Message)
				}
			}
			return
		}
		if err := m.Check(); err != nil {
			t.Fatalf("Parse accepted a map Check refuses: %v", err)
		}
		c, err := modbus.NewClient(m, nil)
		if err != nil {
			t.Fatalf("Parse accepted a map NewClient refuses: %v", err)
		}
		_ = c.Close()
		for _, p := range m.Points {
			if int(p.Address)+p.Width()-1 > 65535 || p.Scale == 0 || p.Name() == "" {
				t.Fatalf("point %+v accepted", p)
			}
			for _, v := range []*float64{p.Minimum, p.Maximum} {
				if v != nil {
					if _, err := p.Registers(*v); err != nil {
						t.Fatalf("point %s: its bound %v does not fit its register: %v", p.Name(), *v, err)
					}
				}
			}
		}
	})
}

// yamlLines counts lines as YAML does: \n, \r\n and \r end a line, and so
// do NEL, LS and PS.
func yamlLines(b []byte) int {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	n := 1
	for _, r := range s {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}
