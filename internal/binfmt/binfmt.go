// Package binfmt writes and reads the compact binary records Hearth keeps
// in its own files (the latest-value cache, the telemetry log): varints,
// length-prefixed strings and little-endian floats.
package binfmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// AppendString appends s with its length.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendFloat appends v's eight bytes.
func AppendFloat(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// Reader reads fields from B in order. The first failure is kept in Err;
// after it every read returns a zero value, so a caller checks Err once at
// the end.
type Reader struct {
	B   []byte
	Err error
}

// Uvarint reads an unsigned varint.
func (d *Reader) Uvarint() uint64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.Err = errors.New("bad unsigned varint")
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Count reads a count of items that each take at least one byte, so a
// count larger than the bytes left is damage, not a reason to allocate.
func (d *Reader) Count() int {
	v := d.Uvarint()
	if d.Err == nil && v > uint64(len(d.B)) {
		d.Err = fmt.Errorf("count %d exceeds the %d bytes left", v, len(d.B))
		return 0
	}
	return int(v)
}

// String reads a string written by AppendString.
func (d *Reader) String() string {
	n := d.Count()
	if d.Err != nil {
		return ""
	}
	s := string(d.B[:n])
	d.B = d.B[n:]
	return s
}

// Varint reads a signed varint.
func (d *Reader) Varint() int64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Varint(d.B)
	if n <= 0 {
		d.Err = errors.New("bad signed varint")
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Float reads a float written by AppendFloat.
func (d *Reader) Float() float64 {
	if d.Err != nil {
		return 0
	}
	if len(d.B) < 8 {
		d.Err = errors.New("truncated value")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.B))
	d.B = d.B[8:]
	return v
}
