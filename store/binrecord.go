package store

import (
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The binary records the store keeps beside or instead of JSON ones, for
// what is read for every device at start (access records, presence), are
// decoded from one copy of their bucket: the strings of every record are
// parts of it, so a fleet of tens of thousands of devices is a few
// allocations rather than several for each device, which in a process that
// has just started cost more than reading the file.

// copyBucket copies every key and value of b into one string, in key
// order, and returns it with where each key and each value ends in it:
// key i is text[ends[i-1][1]:ends[i][0]] and its value
// text[ends[i][0]:ends[i][1]]. Records decoded from it share its memory,
// which at start, with a record for each of tens of thousands of devices,
// is much quicker than allocating each of their strings.
func copyBucket(b *bolt.Bucket) (text string, ends [][2]int) {
	// A first pass sizes what the second one copies: iterating is cheap
	// next to growing a copy of every record.
	n, size := 0, 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		n, size = n+1, size+len(k)+len(v)
	}
	var all strings.Builder
	all.Grow(size)
	ends = make([][2]int, 0, n)
	for k, v := c.First(); k != nil; k, v = c.Next() {
		all.Write(k)
		keyEnd := all.Len()
		all.Write(v)
		ends = append(ends, [2]int{keyEnd, all.Len()})
	}
	return all.String(), ends
}

// fieldReader reads the fields of a binary record held in a string: the
// strings it returns are parts of rec. After the first failure every read
// returns a zero value and failed is set, so a caller checks once, at the
// end, with done.
type fieldReader struct {
	rec    string
	pos    int
	failed bool
}

func (r *fieldReader) fail() {
	r.failed = true
	r.pos = len(r.rec)
}

func (r *fieldReader) oneByte() byte {
	if r.pos >= len(r.rec) {
		r.fail()
		return 0
	}
	r.pos++
	return r.rec[r.pos-1]
}

func (r *fieldReader) uvarint() uint64 {
	var x uint64
	for shift := 0; shift < 64; shift += 7 {
		b := r.oneByte()
		if r.failed {
			return 0
		}
		x |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return x
		}
	}
	r.fail()
	return 0
}

// varint reads a signed varint (zig-zag, as encoding/binary writes it).
func (r *fieldReader) varint() int64 {
	u := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// count reads a number of items that each take at least one byte: one
// larger than the bytes left is damage.
func (r *fieldReader) count() uint64 {
	n := r.uvarint()
	if n > uint64(len(r.rec)-r.pos) {
		r.fail()
		return 0
	}
	return n
}

// str reads a string written as its uvarint length and its bytes.
func (r *fieldReader) str() string {
	n := r.count()
	if r.failed {
		return ""
	}
	s := r.rec[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

// done reports whether the whole record was read without a failure.
func (r *fieldReader) done() bool { return !r.failed && r.pos == len(r.rec) }
