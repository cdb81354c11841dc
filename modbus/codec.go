package modbus

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// Decode turns a point's registers, as they come over the wire (two bytes
// a register, each register big-endian as Modbus sends it), into its raw
// value. word orders the two registers of a 32-bit type; byteOrder the two
// bytes within each register. A float32 that is NaN or infinite is an
// error: devices use them to say a sensor is missing, and telemetry cannot
// carry them.
func Decode(t Type, word, byteOrder Order, wire []byte) (float64, error) {
	w := t.Width()
	if t == Bool || t < Bool || t > Float32 {
		return 0, fmt.Errorf("decode %s: not a register type", t)
	}
	if len(wire) != 2*w {
		return 0, fmt.Errorf("decode %s: %d bytes, want %d", t, len(wire), 2*w)
	}
	var b [4]byte
	normalise(b[:2*w], wire, w, word, byteOrder)
	switch t {
	case Int16:
		return float64(int16(binary.BigEndian.Uint16(b[:]))), nil
	case Uint16:
		return float64(binary.BigEndian.Uint16(b[:])), nil
	case Int32:
		return float64(int32(binary.BigEndian.Uint32(b[:]))), nil
	case Uint32:
		return float64(binary.BigEndian.Uint32(b[:])), nil
	}
	f := math.Float32frombits(binary.BigEndian.Uint32(b[:]))
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return 0, fmt.Errorf("decode float32: the device sent %v (bytes % x), which is not a reading", f, wire)
	}
	return shortest32(f), nil
}

// Encode turns a raw value into registers as they go over the wire, the
// inverse of Decode. The value must be one the type holds exactly: a whole
// number in range for the integer types, a finite number within float32's
// range for float32 (rounded to the nearest float32).
func Encode(t Type, word, byteOrder Order, raw float64) ([]byte, error) {
	if t == Bool || t < Bool || t > Float32 {
		return nil, fmt.Errorf("encode %s: not a register type", t)
	}
	lo, hi := t.rawRange()
	if t == Float32 {
		// A value a little past float32's largest still rounds to it.
		if f := float32(raw); math.IsNaN(raw) || math.IsInf(float64(f), 0) {
			return nil, fmt.Errorf("encode %s: %v is beyond %v to %v", t, raw, lo, hi)
		}
	} else if math.IsNaN(raw) || raw < lo || raw > hi {
		return nil, fmt.Errorf("encode %s: %v is beyond %v to %v", t, raw, lo, hi)
	}
	if t != Float32 && raw != math.Trunc(raw) {
		return nil, fmt.Errorf("encode %s: %v is not a whole number", t, raw)
	}
	w := t.Width()
	var b [4]byte
	switch t {
	case Int16:
		binary.BigEndian.PutUint16(b[:], uint16(int16(raw)))
	case Uint16:
		binary.BigEndian.PutUint16(b[:], uint16(raw))
	case Int32:
		binary.BigEndian.PutUint32(b[:], uint32(int32(raw)))
	case Uint32:
		binary.BigEndian.PutUint32(b[:], uint32(raw))
	case Float32:
		binary.BigEndian.PutUint32(b[:], math.Float32bits(float32(raw)))
	}
	out := make([]byte, 2*w)
	normalise(out, b[:2*w], w, word, byteOrder) // the swaps are their own inverse
	return out, nil
}

// normalise copies src to dst, reordering words and bytes so that a value
// in the given orders becomes big-endian throughout, or back.
func normalise(dst, src []byte, words int, word, byteOrder Order) {
	for i := range words {
		j := i
		if word == Little {
			j = words - 1 - i
		}
		hi, lo := src[2*j], src[2*j+1]
		if byteOrder == Little {
			hi, lo = lo, hi
		}
		dst[2*i], dst[2*i+1] = hi, lo
	}
}

// shortest32 is the float64 of the shortest decimal that identifies f as a
// float32: a device's 21.7 is reported as 21.7, not 21.700000762939453.
func shortest32(f float32) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil || float32(v) != f {
		return float64(f)
	}
	return v
}

// decimals is how many decimal places a point's values have: those of its
// scale and offset, when both are short decimals (0.1, 0.01, 273.15); -1
// when they are not.
func decimals(scale, offset float64) int {
	d := -1
	for _, v := range []float64{scale, offset} {
		n := places(v)
		if n < 0 {
			return -1
		}
		d = max(d, n)
	}
	return d
}

// places is how many decimal places v has, up to 9; -1 beyond.
func places(v float64) int {
	s := strconv.FormatFloat(math.Abs(v), 'f', -1, 64)
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			if n := len(s) - i - 1; n <= 9 {
				return n
			}
			return -1
		}
	}
	return 0
}

// roundTo rounds v to d decimal places through its decimal text, so that
// 3 × 0.1 is 0.3 rather than 0.30000000000000004.
func roundTo(v float64, d int) float64 {
	if d < 0 {
		return v
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'f', d, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// Value is the engineering value of a point's registers: raw × scale +
// offset, with as many decimals as scale and offset have.
func (p *Point) Value(wire []byte) (float64, error) {
	if p.Type == Bool {
		if len(wire) != 1 {
			return 0, fmt.Errorf("point %s: %d bytes for a bit, want 1", p.Name(), len(wire))
		}
		return float64(wire[0] & 1), nil
	}
	raw, err := Decode(p.Type, p.WordOrder, p.ByteOrder, wire)
	if err != nil {
		return 0, fmt.Errorf("point %s: %w", p.Name(), err)
	}
	return p.scaled(raw), nil
}

func (p *Point) scaled(raw float64) float64 {
	if p.Scale == 1 && p.Offset == 0 {
		return raw
	}
	v := raw*p.Scale + p.Offset
	if p.Type == Float32 {
		return v
	}
	return roundTo(v, decimals(p.Scale, p.Offset))
}

// Registers is the wire form of an engineering value: (value − offset) ÷
// scale, rounded to the nearest raw value for integer types (see rawStep).
// For a bit it is one byte, 0 or 1. It checks only what the type can hold;
// the rules of a setting are checked by Client.Write.
func (p *Point) Registers(value float64) ([]byte, error) {
	if p.Type == Bool {
		switch value {
		case 0:
			return []byte{0}, nil
		case 1:
			return []byte{1}, nil
		}
		return nil, fmt.Errorf("point %s: %v is not 0 or 1", p.Name(), value)
	}
	raw := (value - p.Offset) / p.Scale
	if p.Type != Float32 {
		raw = rawStep(value, p.Offset, p.Scale)
	}
	b, err := Encode(p.Type, p.WordOrder, p.ByteOrder, raw)
	if err != nil {
		return nil, fmt.Errorf("point %s: %v: %w", p.Name(), value, err)
	}
	return b, nil
}

// rawStep is (value − offset) ÷ scale rounded to the nearest whole number,
// halves away from zero, computed on the decimal texts of the three numbers
// (as roundTo rounds through decimal text) rather than in binary floating
// point: a set-point of 4.05 in tenths is 40.5 steps and becomes 41, where
// floating point makes it 40.49999999999999 and 40.
func rawStep(value, offset, scale float64) float64 {
	v, okV := decimal(value)
	o, okO := decimal(offset)
	sc, okS := decimal(scale)
	if !okV || !okO || !okS || sc.Sign() == 0 {
		return math.Round((value - offset) / scale)
	}
	q := new(big.Rat).Sub(v, o)
	q.Quo(q, sc)
	// ⌊|q| + ½⌋ = ⌊(2·|num| + den) ÷ 2·den⌋, with the sign put back.
	num, den := q.Num(), q.Denom()
	n := new(big.Int).Abs(num)
	n.Lsh(n, 1).Add(n, den)
	n.Quo(n, new(big.Int).Lsh(den, 1))
	if num.Sign() < 0 {
		n.Neg(n)
	}
	f, _ := new(big.Float).SetInt(n).Float64()
	return f
}

// decimal is the exact value of the shortest decimal text of x.
func decimal(x float64) (*big.Rat, bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, false
	}
	return new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64))
}
