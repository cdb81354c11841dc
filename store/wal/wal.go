// Package wal is the write-ahead log of telemetry: every message's samples
// are appended to a segment file, each record with a checksum, and made
// durable by a group commit — one fsync covers every record appended while
// the previous one ran — before the device is acknowledged. At start the
// records still in the log are handed back to be stored again (storing is
// idempotent), a torn or corrupt tail is cut at the last good record, and
// segments are removed once the time-series store has certainly written
// what they hold.
package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/internal/binfmt"
)

// Point is one sample of a metric.
type Point struct {
	Metric    string
	Timestamp int64 // unix milliseconds
	Value     float64
}

// Record is one telemetry message's samples of one device.
type Record struct {
	Device, Customer, Site string
	Points                 []Point
}

// Options tune a log; zero values take the defaults.
type Options struct {
	// SegmentBytes is the size of a segment: each is written full of zeros
	// before it is used, so that a commit overwrites data the file system
	// has already placed and its fdatasync has no metadata to write (and
	// does not wait for the journal, which other files' writes fill) [16
	// MiB].
	SegmentBytes int64
	// Keep is how long a closed segment is kept before it is removed: the
	// time-series store writes what it was given to disk within seconds
	// (VictoriaMetrics flushes in-memory data every 5 s), so a closed
	// segment older than this holds nothing only the log has [1 min].
	Keep time.Duration
	// CommitInterval is the least time from the start of one commit to
	// the start of the next. Records appended meanwhile wait for it and
	// share one fdatasync: under a steady load, fewer and larger commits
	// cost less CPU per record (and the readings of a commit are stored
	// in the time-series store together), for at most this much more
	// latency. A record appended after a quiet spell longer than it is
	// committed at once. 0: each commit starts as soon as the one before
	// it ends.
	CommitInterval time.Duration
	// Logger reports cut tails and removed segments.
	Logger *slog.Logger
	// Now is the clock, for tests.
	Now func() time.Time
}

// ReplayStats is what opening a log found.
type ReplayStats struct {
	Segments int // segments read
	Records  int // records handed back
	Points   int // their points
	Cut      int // segments whose tail was torn or corrupt, and cut
	CutBytes int64
	Duration time.Duration
}

// Stats are the log's counters since it was opened.
type Stats struct {
	Records, Bytes, Syncs uint64
	Points                uint64 // samples in the records
	Segments              int    // on disk now
}

// maxRecord bounds one record's payload; a length past it is corruption.
const maxRecord = 64 << 20

const headerSize = 8 // payload length, CRC-32C of the payload

// Each segment begins with its format: magic bytes and a version. A
// segment of a newer version than this binary reads is refused, so an
// older Hearth started on a newer one's data stops instead of cutting
// what it cannot read.
var magic = []byte("HWAL")

// Version is the segment format this binary writes and reads.
const Version = 1

const segmentHeaderSize = 8

// ErrNewerFormat is returned by Open for a segment of a newer format.
var ErrNewerFormat = errors.New("the telemetry log was written by a newer Hearth")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by a log that was closed.
var ErrClosed = errors.New("the telemetry log is closed")

// Log is an open write-ahead log. Its methods are safe for concurrent use.
type Log struct {
	dir  string
	opts Options

	mu     sync.Mutex
	f      *os.File // the segment written to
	seg    uint64   // its number
	size   int64    // its size, written
	cur    *batch   // records appended since the last commit began
	spare  []byte   // a committed batch's memory, for the next
	err    error    // a failed write or sync: every later append fails
	closed bool
	old    []oldSegment      // closed segments, oldest first
	holds  map[string]uint64 // readers' oldest segments still needed
	// changed is closed, and replaced, at every commit and rotation:
	// readers wait on it for more records.
	changed chan struct{}

	// spareMu makes the next segment one maker at a time: the preparer,
	// or a rotation that found none ready.
	spareMu sync.Mutex

	kick chan struct{} // a batch has records
	quit chan struct{} // Close: commit what is left and stop

	records, bytes, syncs, points atomic.Uint64

	stop  chan struct{} // ends sweep and the preparer
	done  chan struct{} // sweep ended
	cdone chan struct{} // the committer ended
	prep  chan struct{} // make the next segment ready
	pdone chan struct{} // the preparer ended
}

// spareName is the next segment while it is made ready.
const spareName = "next.wal.tmp"

// batch is the records of one group commit and the writers waiting for it.
type batch struct {
	buf    []byte
	n      uint64
	points uint64
	done   chan struct{} // closed once committed, err set
	err    error
}

func newBatch(buf []byte) *batch { return &batch{buf: buf, done: make(chan struct{})} }

// oldSegment is a closed segment and when it was closed.
type oldSegment struct {
	num    uint64
	closed time.Time
}

// Open opens the log in dir, creating it, and hands every record it still
// holds to replay, oldest first, before it returns; a segment's torn or
// corrupt tail is cut at its last good record. New records go to a new
// segment. A replay error stops the opening.
func Open(dir string, opts Options, replay func(Record) error) (*Log, ReplayStats, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 16 << 20
	}
	if opts.Keep <= 0 {
		opts.Keep = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, ReplayStats{}, fmt.Errorf("create the telemetry log's directory: %w", err)
	}
	l := &Log{dir: dir, opts: opts, stop: make(chan struct{}), done: make(chan struct{}),
		kick: make(chan struct{}, 1), quit: make(chan struct{}), cdone: make(chan struct{}), cur: newBatch(nil),
		prep: make(chan struct{}, 1), pdone: make(chan struct{}), holds: map[string]uint64{}, changed: make(chan struct{})}
	// A spare left by a crash may be half made.
	if err := os.Remove(filepath.Join(dir, spareName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, ReplayStats{}, fmt.Errorf("remove the telemetry log's spare segment: %w", err)
	}
	segs, err := l.segments()
	if err != nil {
		return nil, ReplayStats{}, err
	}
	start := opts.Now()
	var st ReplayStats
	for _, n := range segs {
		if err := l.replaySegment(n, replay, &st); err != nil {
			return nil, st, err
		}
		l.old = append(l.old, oldSegment{num: n, closed: start})
	}
	st.Duration = opts.Now().Sub(start)
	next := uint64(1)
	if len(segs) > 0 {
		next = segs[len(segs)-1] + 1
	}
	if err := l.openSegment(next); err != nil {
		return nil, st, err
	}
	go l.sweep()
	go l.committer()
	go l.preparer()
	return l, st, nil
}

func segmentName(n uint64) string { return fmt.Sprintf("%016d.wal", n) }

func (l *Log) path(n uint64) string { return filepath.Join(l.dir, segmentName(n)) }

// segments lists the segment numbers in dir, oldest first.
func (l *Log) segments() ([]uint64, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("read the telemetry log's directory: %w", err)
	}
	var out []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".wal")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// replaySegment hands a segment's good records to replay and cuts what
// follows the last of them.
func (l *Log) replaySegment(n uint64, replay func(Record) error, st *ReplayStats) error {
	f, err := os.OpenFile(l.path(n), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open telemetry log segment %s: %w", segmentName(n), err)
	}
	defer f.Close()
	st.Segments++
	r := bufio.NewReaderSize(f, 1<<20)
	var sh [segmentHeaderSize]byte
	if n, err := io.ReadFull(r, sh[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil // created, never written
		}
		return l.cut(f, n, 0, "a torn segment header", st)
	}
	if string(sh[:4]) != string(magic) {
		return l.cut(f, segmentHeaderSize, 0, "not a telemetry log segment", st)
	}
	if v := binary.LittleEndian.Uint32(sh[4:]); v > Version {
		return fmt.Errorf("segment %s is of format %d, this Hearth reads up to %d: %w; run the newer Hearth, or move %s away to start without what it holds",
			segmentName(n), v, Version, ErrNewerFormat, l.dir)
	}
	good := int64(segmentHeaderSize)
	var header [headerSize]byte
	var payload []byte
	var why string
	for {
		if _, err := io.ReadFull(r, header[:]); err != nil {
			if err != io.EOF {
				why = "a torn record header"
			}
			break
		}
		size := binary.LittleEndian.Uint32(header[:4])
		if size == 0 && binary.LittleEndian.Uint32(header[4:]) == 0 {
			// The zeros a segment is made of: the end, if only zeros follow.
			if zerosToEnd(r) {
				return nil
			}
			why = "data after the end of the records"
			break
		}
		if size == 0 || size > maxRecord {
			why = fmt.Sprintf("a record length of %d bytes", size)
			break
		}
		payload = slices.Grow(payload[:0], int(size))[:size]
		if _, err := io.ReadFull(r, payload); err != nil {
			why = "a torn record"
			break
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(header[4:]) {
			why = "a record whose checksum does not match"
			break
		}
		rec, err := decode(payload)
		if err != nil {
			why = "a record that cannot be read: " + err.Error()
			break
		}
		if err := replay(rec); err != nil {
			return fmt.Errorf("replay telemetry log segment %s: %w", segmentName(n), err)
		}
		st.Records++
		st.Points += len(rec.Points)
		good += headerSize + int64(size)
	}
	if why == "" {
		return nil
	}
	return l.cut(f, int(good), good, why, st)
}

// cut truncates a segment after its last good byte, good, and counts it.
func (l *Log) cut(f *os.File, _ int, good int64, why string, st *ReplayStats) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("telemetry log segment %s: %w", filepath.Base(f.Name()), err)
	}
	if good == 0 {
		// Nothing of it can be read: remove it rather than keep an empty
		// file without a header.
		if err := os.Remove(f.Name()); err != nil {
			return fmt.Errorf("remove telemetry log segment %s: %w", filepath.Base(f.Name()), err)
		}
	} else {
		if err := f.Truncate(good); err != nil {
			return fmt.Errorf("cut telemetry log segment %s: %w", filepath.Base(f.Name()), err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("cut telemetry log segment %s: %w", filepath.Base(f.Name()), err)
		}
	}
	st.Cut++
	st.CutBytes += fi.Size() - good
	l.opts.Logger.Warn("telemetry log segment cut at its last good record", "segment", filepath.Base(f.Name()),
		"reason", why, "kept_bytes", good, "cut_bytes", fi.Size()-good)
	return nil
}

func (l *Log) openSegment(n uint64) error {
	spare := filepath.Join(l.dir, spareName)
	// The preparer may be making the spare right now, under the same
	// temporary name: one at a time.
	l.spareMu.Lock()
	defer l.spareMu.Unlock()
	if _, err := os.Stat(spare); err != nil {
		// Not made ready in time (or the first): made now.
		if err := l.makeSpare(); err != nil {
			return err
		}
	}
	if err := os.Rename(spare, l.path(n)); err != nil {
		return fmt.Errorf("begin telemetry log segment: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path(n), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open telemetry log segment: %w", err)
	}
	if _, err := f.Seek(segmentHeaderSize, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("open telemetry log segment: %w", err)
	}
	l.f, l.seg, l.size = f, n, segmentHeaderSize
	select {
	case l.prep <- struct{}{}:
	default:
	}
	return nil
}

// makeSpare writes the next segment, its header and then zeros to its
// size, and syncs it, under a temporary name.
func (l *Log) makeSpare() error {
	tmp := filepath.Join(l.dir, spareName+".part")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("make a telemetry log segment: %w", err)
	}
	defer os.Remove(tmp) // gone once renamed
	chunk := make([]byte, 1<<20)
	copy(chunk, magic)
	binary.LittleEndian.PutUint32(chunk[4:], Version)
	for written := int64(0); written < l.opts.SegmentBytes; {
		n := min(int64(len(chunk)), l.opts.SegmentBytes-written)
		if _, err := f.Write(chunk[:n]); err != nil {
			f.Close()
			return fmt.Errorf("make a telemetry log segment: %w", err)
		}
		if written == 0 {
			clear(chunk[:segmentHeaderSize])
		}
		written += n
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("make a telemetry log segment: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("make a telemetry log segment: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(l.dir, spareName)); err != nil {
		return fmt.Errorf("make a telemetry log segment: %w", err)
	}
	return nil
}

// preparer makes the next segment ready while the current one fills, so
// that a rotation only renames it.
func (l *Log) preparer() {
	defer close(l.pdone)
	for {
		select {
		case <-l.stop:
			return
		case <-l.prep:
			l.spareMu.Lock()
			if _, err := os.Stat(filepath.Join(l.dir, spareName)); err != nil {
				if err := l.makeSpare(); err != nil {
					l.opts.Logger.Warn("the next telemetry log segment was not made ready", "error", err)
				}
			}
			l.spareMu.Unlock()
		}
	}
}

// zerosToEnd reports whether only zero bytes are left in r.
func zerosToEnd(r io.Reader) bool {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			if c != 0 {
				return false
			}
		}
		if err != nil {
			return err == io.EOF
		}
	}
}

// syncDir makes a file's creation or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open the telemetry log's directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync the telemetry log's directory: %w", err)
	}
	return nil
}

// Write appends a record and returns once it is durable, with every record
// appended meanwhile: one commit — a write and an fdatasync — covers all
// the records appended while the previous one ran, from every writer.
func (l *Log) Write(r Record) error {
	c, err := l.Append(r)
	if err != nil {
		return err
	}
	return c.Wait()
}

// Commit is the group commit that makes an appended record durable.
type Commit struct{ b *batch }

// Wait returns once the commit is done: nil when the record is durable.
func (c Commit) Wait() error {
	<-c.b.done
	return c.b.err
}

// Done is closed once the commit is done; Wait then returns at once.
func (c Commit) Done() <-chan struct{} { return c.b.done }

// Append appends a record to the next group commit and returns without
// waiting for it, so that a writer can go on while the commit runs.
// Commits complete in the order of their records. An error means the
// record was not appended.
func (l *Log) Append(r Record) (Commit, error) {
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return Commit{}, ErrClosed
	case l.err != nil:
		err := l.err
		l.mu.Unlock()
		return Commit{}, err
	}
	b := l.cur
	start := len(b.buf)
	b.buf = append(b.buf, make([]byte, headerSize)...)
	b.buf = encode(b.buf, r)
	payload := b.buf[start+headerSize:]
	if len(payload) > maxRecord {
		b.buf = b.buf[:start]
		l.mu.Unlock()
		return Commit{}, fmt.Errorf("a telemetry record of %d bytes is larger than the log takes (%d)", len(payload), maxRecord)
	}
	binary.LittleEndian.PutUint32(b.buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b.buf[start+4:], crc32.Checksum(payload, castagnoli))
	b.n++
	b.points += uint64(len(r.Points))
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default: // a kick is pending already
	}
	return Commit{b}, nil
}

// committer commits batches, one at a time, until Close: each takes every
// record appended while the one before it was written. At Close, what was
// appended before is committed last.
func (l *Log) committer() {
	defer close(l.cdone)
	var last time.Time // the start of the last commit
	var pause *time.Timer
	for {
		select {
		case <-l.kick:
			if wait := l.opts.CommitInterval - time.Since(last); wait > 0 {
				if pause == nil {
					pause = time.NewTimer(wait)
				} else {
					pause.Reset(wait)
				}
				select {
				case <-pause.C:
				case <-l.quit:
					l.commit()
					return
				}
			}
			last = time.Now()
			l.commit()
		case <-l.quit:
			l.commit()
			return
		}
	}
}

// commit writes and syncs the records appended so far, if any, and wakes
// their writers.
func (l *Log) commit() {
	// Let the writers that are ready append first: a bigger batch for the
	// same sync.
	runtime.Gosched()
	l.mu.Lock()
	b := l.cur
	if len(b.buf) == 0 {
		l.mu.Unlock()
		return
	}
	l.cur = newBatch(l.spare)
	l.spare = nil
	f := l.f
	l.mu.Unlock()

	_, err := f.Write(b.buf)
	if err == nil {
		err = datasync(f)
	}

	l.mu.Lock()
	if err != nil {
		err = fmt.Errorf("write the telemetry log: %w", err)
		l.err = err
	} else {
		l.size += int64(len(b.buf))
		if l.size >= l.opts.SegmentBytes {
			l.rotate()
		}
		l.records.Add(b.n)
		l.points.Add(b.points)
		l.bytes.Add(uint64(len(b.buf)))
		l.syncs.Add(1)
		close(l.changed)
		l.changed = make(chan struct{})
	}
	if cap(b.buf) <= 4<<20 { // keep a batch's memory, within reason
		l.spare = b.buf[:0]
	}
	l.mu.Unlock()
	b.err = err
	close(b.done)
	// The writers just woken wait on this goroutine's processor; yield it
	// so they run before the next commit's syscalls hold it again.
	runtime.Gosched()
}

// rotate closes the segment written to and begins the next, with l.mu
// held.
func (l *Log) rotate() {
	old := l.seg
	if err := l.f.Close(); err != nil {
		l.err = fmt.Errorf("close telemetry log segment: %w", err)
		return
	}
	if err := l.openSegment(old + 1); err != nil {
		l.err = err
		return
	}
	l.old = append(l.old, oldSegment{num: old, closed: l.opts.Now()})
}

// sweep removes closed segments past Keep, every few seconds.
func (l *Log) sweep() {
	defer close(l.done)
	t := time.NewTicker(max(time.Second, l.opts.Keep/6))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.removeOld(l.opts.Now().Add(-l.opts.Keep))
		}
	}
}

// removeOld removes the closed segments closed before before that no
// reader holds.
func (l *Log) removeOld(before time.Time) {
	l.mu.Lock()
	var gone []uint64
	hold := l.holdLocked()
	for len(l.old) > 0 && l.old[0].closed.Before(before) && l.old[0].num < hold {
		gone = append(gone, l.old[0].num)
		l.old = l.old[1:]
	}
	l.mu.Unlock()
	for _, n := range gone {
		if err := os.Remove(l.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.opts.Logger.Warn("telemetry log segment not removed", "segment", segmentName(n), "error", err)
		}
	}
	if len(gone) > 0 {
		if err := syncDir(l.dir); err != nil {
			l.opts.Logger.Warn("telemetry log directory not synced", "error", err)
		}
	}
}

// Stats returns the counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	segs := len(l.old) + 1
	l.mu.Unlock()
	return Stats{Records: l.records.Load(), Bytes: l.bytes.Load(), Syncs: l.syncs.Load(), Points: l.points.Load(), Segments: segs}
}

// Close commits what is buffered and closes the log. With stored set —
// the time-series store has been closed cleanly and holds everything —
// every segment is removed, so the next start replays nothing.
func (l *Log) Close(stored bool) error {
	if err := l.close(); err != nil || !stored {
		return err
	}
	return RemoveSegments(l.dir)
}

func (l *Log) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true // no more appends; those appended are committed
	quit := l.quit
	l.mu.Unlock()
	close(quit)
	<-l.cdone
	close(l.stop)
	<-l.done
	<-l.pdone
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.err
	if ferr := l.f.Close(); err == nil {
		err = ferr
	}
	return err
}

// RemoveSegments removes every segment of the closed log in dir, once the
// time-series store was closed cleanly and holds all they held.
func RemoveSegments(dir string) error { return RemoveSegmentsBefore(dir, math.MaxUint64) }

// RemoveSegmentsBefore removes the segments of the closed log in dir
// numbered below keep, but for the newest, which is emptied: those from
// keep on are still to be read by a reader (remote write) that has not
// sent them yet. They are replayed
// into the time-series store at the next start, which stores nothing
// twice.
func RemoveSegmentsBefore(dir string, keep uint64) error {
	l := &Log{dir: dir}
	segs, err := l.segments()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for i, n := range segs {
		if n >= keep {
			continue
		}
		if i == len(segs)-1 {
			// The newest is emptied rather than removed: the next log
			// numbers its segments after it, so that a reader's saved
			// position never names a segment of a later log, which
			// would start over at 1.
			if err := os.Truncate(l.path(n), segmentHeaderSize); err != nil {
				return fmt.Errorf("empty telemetry log segment: %w", err)
			}
			continue
		}
		if err := os.Remove(l.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove telemetry log segment: %w", err)
		}
	}
	if err := os.Remove(filepath.Join(dir, spareName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the telemetry log's spare segment: %w", err)
	}
	return syncDir(dir)
}

// encode appends a record's payload to b.
func encode(b []byte, r Record) []byte {
	b = binfmt.AppendString(b, r.Device)
	b = binfmt.AppendString(b, r.Customer)
	b = binfmt.AppendString(b, r.Site)
	b = binary.AppendUvarint(b, uint64(len(r.Points)))
	for _, p := range r.Points {
		b = binfmt.AppendString(b, p.Metric)
		b = binary.AppendVarint(b, p.Timestamp)
		b = binfmt.AppendFloat(b, p.Value)
	}
	return b
}

// decode reads a record's payload.
func decode(b []byte) (Record, error) {
	d := binfmt.Reader{B: b}
	r := Record{Device: d.String(), Customer: d.String(), Site: d.String()}
	n := d.Count()
	r.Points = make([]Point, 0, n)
	for range n {
		r.Points = append(r.Points, Point{Metric: d.String(), Timestamp: d.Varint(), Value: d.Float()})
	}
	if d.Err == nil && len(d.B) != 0 {
		d.Err = errors.New("bytes after the last point")
	}
	return r, d.Err
}
