package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
)

// Position is a place in the log: a segment and a byte offset in it, at a
// record's start or at the end of what was committed.
type Position struct {
	Segment uint64
	Offset  int64
}

// Before reports whether p comes before q.
func (p Position) Before(q Position) bool {
	return p.Segment < q.Segment || p.Segment == q.Segment && p.Offset < q.Offset
}

// Head is the end of what was committed: readers read up to it.
func (l *Log) Head() Position {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Position{l.seg, l.size}
}

// HeadPoints is the head and the samples committed up to it since the
// log was opened, taken together.
func (l *Log) HeadPoints() (Position, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Position{l.seg, l.size}, l.points.Load()
}

// Oldest is the start of the oldest segment on disk.
func (l *Log) Oldest() Position {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.old) > 0 {
		return Position{l.old[0].num, segmentHeaderSize}
	}
	return Position{l.seg, segmentHeaderSize}
}

// Changed is closed at the next commit: a reader that caught up waits on
// it.
func (l *Log) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// SegmentBytes is the size of one segment on disk.
func (l *Log) SegmentBytes() int64 { return l.opts.SegmentBytes }

// Backlog is the bytes of the log on disk from p to the head: what a
// reader at p holds.
func (l *Log) Backlog(p Position) int64 {
	h := l.Head()
	if !p.Before(h) {
		return 0
	}
	return int64(h.Segment-p.Segment)*l.opts.SegmentBytes + h.Offset - p.Offset
}

// Hold keeps the segments from seg on until the hold named name moves past
// them or is released: a reader that has not yet sent what they hold
// needs them, past the time the log would keep them for its own sake.
func (l *Log) Hold(name string, seg uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.holds[name] = seg
}

// Release drops the hold named name.
func (l *Log) Release(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.holds, name)
}

// holdLocked is the oldest segment a reader holds, with l.mu held.
func (l *Log) holdLocked() uint64 {
	hold := uint64(math.MaxUint64)
	for _, s := range l.holds {
		hold = min(hold, s)
	}
	return hold
}

// ErrGap is returned by Reader.Next when the segment to read is gone — a
// hold came too late, or the log was started without it — and the reader
// moved on to the next segment on disk; Skipped says from where.
var ErrGap = errors.New("telemetry log segments are missing")

// Reader reads the committed records of a log in order from a position.
// It is not safe for concurrent use; each reader has its own files.
type Reader struct {
	l       *Log
	pos     Position
	f       *os.File
	br      *bufio.Reader
	end     int64 // where br's source ends: the head when it was made
	payload []byte
	// Skipped is where the last gap began.
	Skipped Position
}

// NewReader reads l from pos. A position past the head — left by an
// earlier log whose numbering began again — reads from the oldest
// segment.
func (l *Log) NewReader(pos Position) *Reader {
	if h := l.Head(); h.Before(pos) || pos.Segment == 0 {
		pos = l.Oldest()
	}
	if pos.Offset < segmentHeaderSize {
		pos.Offset = segmentHeaderSize
	}
	return &Reader{l: l, pos: pos}
}

// Position is where the next record is read.
func (r *Reader) Position() Position { return r.pos }

// Close closes the reader's file.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f, r.end = nil, 0
	return err
}

// Next reads the next committed record; ok is false when the reader is at
// the head. A segment removed under the reader is skipped with ErrGap
// (the reader then stands at the next segment); a corrupt record is an
// error, the reader staying before it.
func (r *Reader) Next() (rec Record, ok bool, err error) {
	for {
		head := r.l.Head()
		if !r.pos.Before(head) {
			return Record{}, false, nil
		}
		if r.f == nil {
			if err := r.open(head); err != nil {
				return Record{}, false, err
			}
			continue
		}
		closed := r.pos.Segment < head.Segment
		if !closed && r.pos.Offset >= head.Offset {
			return Record{}, false, nil
		}
		if r.pos.Offset >= r.end {
			// What was committed when the source was bounded is read: read
			// on to the head now, or to the end of a closed segment. The
			// source never reaches past the head, so the buffer holds no
			// zeros or half-written batch of the segment being written.
			r.bound(closed, head)
		}
		var header [headerSize]byte
		if _, err := io.ReadFull(r.br, header[:]); err != nil {
			if closed && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				r.nextSegment()
				continue
			}
			return Record{}, false, fmt.Errorf("read telemetry log segment %s at %d: %w", segmentName(r.pos.Segment), r.pos.Offset, err)
		}
		size := binary.LittleEndian.Uint32(header[:4])
		if size == 0 && binary.LittleEndian.Uint32(header[4:]) == 0 {
			if closed {
				r.nextSegment()
				continue
			}
			// Committed bytes are never zeros: the head moved meanwhile?
			r.Close()
			return Record{}, false, fmt.Errorf("telemetry log segment %s has no record at %d, before the head at %d", segmentName(r.pos.Segment), r.pos.Offset, head.Offset)
		}
		if size > maxRecord {
			r.Close()
			return Record{}, false, fmt.Errorf("telemetry log segment %s at %d: a record length of %d bytes", segmentName(r.pos.Segment), r.pos.Offset, size)
		}
		r.payload = slices.Grow(r.payload[:0], int(size))[:size]
		if _, err := io.ReadFull(r.br, r.payload); err != nil {
			r.Close()
			return Record{}, false, fmt.Errorf("read telemetry log segment %s at %d: %w", segmentName(r.pos.Segment), r.pos.Offset, err)
		}
		if crc32.Checksum(r.payload, castagnoli) != binary.LittleEndian.Uint32(header[4:]) {
			r.Close()
			return Record{}, false, fmt.Errorf("telemetry log segment %s at %d: a record whose checksum does not match", segmentName(r.pos.Segment), r.pos.Offset)
		}
		rec, err := decode(r.payload)
		if err != nil {
			r.Close()
			return Record{}, false, fmt.Errorf("telemetry log segment %s at %d: %w", segmentName(r.pos.Segment), r.pos.Offset, err)
		}
		r.pos.Offset += headerSize + int64(size)
		return rec, true, nil
	}
}

// SkipSegment leaves the rest of the segment being read unread, counting
// its samples, and stands at the next one: the oldest data goes first
// when a reader holds more than it may.
func (r *Reader) SkipSegment() (samples int, err error) {
	seg := r.pos.Segment
	if seg >= r.l.Head().Segment {
		return 0, nil // the segment written to is never skipped
	}
	for r.pos.Segment == seg {
		rec, ok, err := r.Next()
		if errors.Is(err, ErrGap) {
			return samples, nil
		}
		if err != nil {
			// What cannot be read is dropped too.
			r.nextSegment()
			return samples, nil
		}
		if !ok {
			return samples, nil
		}
		if r.pos.Segment == seg {
			samples += len(rec.Points)
		} else {
			// The record came from the next segment: keep it for the caller.
			r.pos = Position{r.pos.Segment, segmentHeaderSize}
			r.Close()
		}
	}
	return samples, nil
}

func (r *Reader) nextSegment() {
	r.Close()
	r.pos = Position{r.pos.Segment + 1, segmentHeaderSize}
}

// open opens the reader's segment at its offset, or, when it is gone,
// moves to the next segment on disk and says so with ErrGap.
func (r *Reader) open(head Position) error {
	f, err := os.Open(r.l.path(r.pos.Segment))
	if errors.Is(err, fs.ErrNotExist) {
		r.Skipped = r.pos
		segs, err := r.l.segments()
		if err != nil {
			return err
		}
		next := head
		for _, n := range segs {
			if n > r.pos.Segment {
				next = Position{n, segmentHeaderSize}
				break
			}
		}
		r.pos = next
		return ErrGap
	}
	if err != nil {
		return fmt.Errorf("open telemetry log segment: %w", err)
	}
	r.f = f
	r.end = r.pos.Offset
	return nil
}

// bound makes the buffered source read from the position to the head, or
// to the end of a closed segment.
func (r *Reader) bound(closed bool, head Position) {
	r.end = head.Offset
	if closed {
		r.end = math.MaxInt64
	}
	src := io.NewSectionReader(r.f, r.pos.Offset, r.end-r.pos.Offset)
	if r.br == nil {
		r.br = bufio.NewReaderSize(src, 256<<10)
	} else {
		r.br.Reset(src)
	}
}
