package agent

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hearthiot/hearth/internal/atomicfile"
)

// Spool defaults: a week of one-minute samples.
const (
	DefaultSpoolSamples = 7 * 24 * 60
	DefaultSpoolBytes   = 64 << 20
	// MaxRecordBytes bounds one record's payload. A telemetry entry of the
	// most values Hearth takes in one entry fits easily; the bound keeps a
	// damaged length field from making the reader allocate without limit.
	MaxRecordBytes = 256 << 10
)

// Layout of a spool directory: segment files named after the sequence
// number of their first record, and the head file holding the sequence
// number of the oldest record not yet acknowledged.
const (
	segmentSuffix       = ".seg"
	headFile            = "head"
	segmentMagic        = "HSPOOL1\n"
	segmentHeader int64 = int64(len(segmentMagic)) + 8 // magic, timestamp of the record before the segment's first
	headMagic           = "HHEAD1\n\x00"
	recordHeader        = 24 // length u32, crc u32, seq u64, ts i64
	headSize            = len(headMagic) + 8 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrRecordTooLarge is returned by Append for a payload over MaxRecordBytes.
var ErrRecordTooLarge = errors.New("record too large")

// errSpoolClosed is returned by operations on a closed spool.
var errSpoolClosed = errors.New("spool is closed")

// SpoolOptions bound a spool. Zero fields take their defaults.
type SpoolOptions struct {
	MaxSamples int   // records kept; default DefaultSpoolSamples
	MaxBytes   int64 // bytes of segment files kept; default DefaultSpoolBytes
}

func (o SpoolOptions) withDefaults() SpoolOptions {
	if o.MaxSamples <= 0 {
		o.MaxSamples = DefaultSpoolSamples
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultSpoolBytes
	}
	return o
}

// Record is one spooled sample: its sequence number, its timestamp (unix
// milliseconds) and its payload, one telemetry entry as Hearth takes it.
type Record struct {
	Seq     uint64
	TS      int64
	Payload []byte
}

// segment is one file of the spool. Only its bounds are kept in memory;
// records are read from disk when they are sent.
type segment struct {
	first uint64 // sequence number of its first record
	count uint64 // records in it
	size  int64  // bytes, header included
}

func (s segment) end() uint64 { return s.first + s.count } // one past the last record

// Spool is the store-and-forward buffer of samples: an append-only log on
// disk, split into segment files, with a head pointer that moves when Hearth
// acknowledges. A record is fsynced before Append returns and stays until
// Ack passes it, or until the bounds force the oldest out. Opening a spool
// after a crash keeps every complete record and drops a torn one at the end.
//
// Records carry increasing sequence numbers and timestamps: Append refuses
// a timestamp that is not after the previous one, so no two samples of the
// spool can ever fall on the same millisecond.
//
// A Spool is safe for concurrent use.
type Spool struct {
	dir    string
	opts   SpoolOptions
	logger *slog.Logger
	lock   *os.File

	mu       sync.Mutex
	closed   bool
	segs     []segment // oldest first; the last one is written to
	w        *os.File  // the last segment, open for appending
	head     uint64    // oldest record not yet acknowledged
	next     uint64    // sequence number of the next record
	lastTS   int64     // timestamp of the newest record ever appended
	dropped  uint64    // records dropped to keep the bounds, since Open
	segLimit struct {
		records uint64
		bytes   int64
	}
	// cursor remembers where head is in its segment, so that reading the
	// next batch does not scan the segment from its start.
	cursor struct {
		seq uint64
		off int64
	}
}

// OpenSpool opens (or creates) the spool in dir. It checks every segment,
// truncates a torn or damaged record and whatever follows it, and logs what
// it dropped. Only one process may have a spool open: a second OpenSpool of
// the same directory fails.
func OpenSpool(dir string, opts SpoolOptions, logger *slog.Logger) (*Spool, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool %q: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open spool %q: %w", dir, err)
	}
	s := &Spool{dir: dir, opts: opts, logger: logger, lock: lock}
	// A segment holds a sixteenth of the bounds, so the space held by
	// records that are acknowledged but not yet deleted stays small.
	s.segLimit.records = uint64(max(opts.MaxSamples/16, 16))
	s.segLimit.bytes = max(opts.MaxBytes/16, 4<<10)
	if err := s.load(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("open spool %q: %w", dir, err)
	}
	return s, nil
}

// load reads the head file and checks every segment.
func (s *Spool) load() error {
	head, headOK, err := readHead(filepath.Join(s.dir, headFile))
	if err != nil {
		return err
	}
	names, err := segmentFiles(s.dir)
	if err != nil {
		return err
	}
	for i, name := range names {
		first, _ := parseSegmentName(name)
		seg, err := s.check(filepath.Join(s.dir, name), first, i == len(names)-1)
		if err != nil {
			return err
		}
		if n := len(s.segs); n > 0 && s.segs[n-1].end() != seg.first {
			// A gap: records between the two segments are gone. What
			// follows keeps its own numbers.
			s.logger.Warn("spool records missing", "after", s.segs[n-1].end(), "before", seg.first)
		}
		if seg.count == 0 && i != len(names)-1 {
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("remove empty segment: %w", err)
			}
			continue
		}
		s.segs = append(s.segs, seg)
	}
	switch {
	case len(s.segs) > 0:
		s.next = s.segs[len(s.segs)-1].end()
		if !headOK || head < s.segs[0].first {
			// Without a head file every record counts as not yet sent:
			// resending an acknowledged one is harmless, Hearth keeps one
			// sample per metric and millisecond.
			head = s.segs[0].first
		}
		s.head = min(head, s.next)
	default:
		s.head, s.next = head, head
	}
	if err := s.removeAcknowledged(); err != nil {
		return err
	}
	if len(s.segs) > 0 {
		last := s.segs[len(s.segs)-1]
		f, err := os.OpenFile(s.segPath(last.first), os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open segment for appending: %w", err)
		}
		s.w = f
	}
	s.logger.Info("spool opened", "dir", s.dir, "samples", s.pending(s.head), "segments", len(s.segs),
		"max_samples", s.opts.MaxSamples, "max_bytes", s.opts.MaxBytes)
	return nil
}

// check reads one segment through, and truncates it at the first record
// that is torn (the end of the file cuts it short) or damaged (its checksum
// or sequence number is wrong). Records are fsynced one by one, so only the
// last one of the last segment can be torn by a crash; damage elsewhere is
// the disk's, and is logged as such. An error reading the file is returned
// and nothing is truncated: a disk that fails to read now may read the same
// records later.
//
// It also raises s.lastTS to the segment's timestamps, so that timestamps
// keep increasing whatever segment is repaired or deleted later.
func (s *Spool) check(path string, first uint64, last bool) (segment, error) {
	seg := segment{first: first}
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return seg, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var hdr [segmentHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil && !isShort(err) {
		return seg, fmt.Errorf("read segment %q: %w", path, err)
	} else if err != nil || string(hdr[:len(segmentMagic)]) != segmentMagic {
		// The header is written and fsynced before any record, so only a
		// segment created just before a crash can lack it, and it holds
		// nothing yet. The timestamp floor of the segments before it goes
		// into the new header, so that it outlives them.
		if err := writeSegmentHeader(f, s.lastTS); err != nil {
			return seg, fmt.Errorf("repair segment %q: %w", path, err)
		}
		s.logger.Warn("spool segment header repaired", "segment", path)
		seg.size = segmentHeader
		return seg, nil
	}
	s.lastTS = max(s.lastTS, int64(binary.LittleEndian.Uint64(hdr[len(segmentMagic):])))
	count, size, lastTS, damage, err := scanRecords(r, first)
	if err != nil {
		return seg, fmt.Errorf("read segment %q at offset %d: %w", path, segmentHeader+size, err)
	}
	seg.count, seg.size = count, segmentHeader+size
	s.lastTS = max(s.lastTS, lastTS)
	if damage != nil {
		end, _ := f.Seek(0, io.SeekEnd)
		if err := f.Truncate(seg.size); err != nil {
			return seg, fmt.Errorf("truncate segment %q: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return seg, fmt.Errorf("sync segment %q: %w", path, err)
		}
		msg := "spool torn record dropped"
		if !last || !errors.Is(damage, errTorn) {
			msg = "spool damaged records dropped"
		}
		s.logger.Warn(msg, "segment", path, "offset", seg.size, "bytes_dropped", end-seg.size, "error", damage)
	}
	return seg, nil
}

// scanRecords reads the records of a segment after its header, up to the
// end of r or the first record that is torn or damaged: it returns how
// many records are good, the bytes they take, the newest timestamp among
// them, and what is wrong with the record after them (nil at a clean end).
// err is an error reading r, which says nothing about the records.
func scanRecords(r io.Reader, first uint64) (count uint64, size int64, lastTS int64, damage, err error) {
	var buf []byte
	for {
		var rec Record
		var n int
		rec, n, buf, err = readRecord(r, buf)
		switch {
		case err == io.EOF:
			return count, size, lastTS, nil, nil
		case errors.Is(err, errTorn), errors.Is(err, errDamaged):
			return count, size, lastTS, err, nil
		case err != nil:
			return count, size, lastTS, nil, err
		case rec.Seq != first+count:
			return count, size, lastTS, fmt.Errorf("%w: record has sequence number %d, want %d", errDamaged, rec.Seq, first+count), nil
		}
		count++
		size += int64(n)
		lastTS = max(lastTS, rec.TS)
	}
}

// writeSegmentHeader empties a segment and writes its header: the magic
// and the timestamp of the newest record before it, so that timestamps keep
// increasing after older segments are deleted.
func writeSegmentHeader(f *os.File, prevTS int64) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := f.Write(binary.LittleEndian.AppendUint64([]byte(segmentMagic), uint64(prevTS))); err != nil {
		return err
	}
	return f.Sync()
}

// Append stores one sample and returns its sequence number. It returns
// once the record is on disk. A timestamp not after the previous record's
// is refused; use NextTimestamp to stamp samples. When the spool is full,
// the oldest records are dropped first, counted in Dropped and logged.
func (s *Spool) Append(ts int64, payload []byte) (uint64, error) {
	if len(payload) > MaxRecordBytes {
		return 0, fmt.Errorf("append to spool: %w: %d bytes; at most %d", ErrRecordTooLarge, len(payload), MaxRecordBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errSpoolClosed
	}
	if ts <= s.lastTS {
		return 0, fmt.Errorf("append to spool: timestamp %d is not after the last one, %d", ts, s.lastTS)
	}
	size := int64(recordHeader + len(payload))
	if err := s.makeRoom(size); err != nil {
		return 0, err
	}
	if err := s.rotateIfFull(size); err != nil {
		return 0, err
	}
	seq := s.next
	rec := appendRecord(make([]byte, 0, size), Record{Seq: seq, TS: ts, Payload: payload})
	last := &s.segs[len(s.segs)-1]
	if _, err := s.w.Write(rec); err != nil {
		// Leave no partial record behind for the next append to follow.
		_ = s.w.Truncate(last.size)
		return 0, fmt.Errorf("append to spool: %w", err)
	}
	if err := s.w.Sync(); err != nil {
		_ = s.w.Truncate(last.size)
		return 0, fmt.Errorf("append to spool: sync: %w", err)
	}
	last.count++
	last.size += size
	s.next++
	s.lastTS = ts
	return seq, nil
}

// NextTimestamp is the timestamp to give a sample taken at nowMS: nowMS,
// or one millisecond after the newest record if the clock has not moved on
// (or went back).
func (s *Spool) NextTimestamp(nowMS int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(nowMS, s.lastTS+1)
}

// makeRoom drops the oldest records until one more record of size bytes
// fits the bounds. The records dropped are counted and logged; a head that
// cannot be written then is logged with them, since the records are gone
// from the spool all the same.
func (s *Spool) makeRoom(size int64) error {
	newHead := s.head
	if n := s.pending(s.head); n+1 > uint64(s.opts.MaxSamples) {
		newHead = s.skip(s.head, n+1-uint64(s.opts.MaxSamples))
	}
	// The byte bound counts whole segment files: the oldest segment goes
	// when the files would grow past it.
	total := size
	for _, seg := range s.segs {
		total += seg.size
	}
	for i := 0; i < len(s.segs)-1 && total > s.opts.MaxBytes; i++ {
		total -= s.segs[i].size
		newHead = max(newHead, s.segs[i].end())
	}
	if newHead <= s.head {
		return nil
	}
	n := s.pending(s.head) - s.pending(newHead)
	err := s.setHead(newHead)
	s.dropped += n
	attrs := []any{"dropped", n, "dropped_total", s.dropped, "max_samples", s.opts.MaxSamples, "max_bytes", s.opts.MaxBytes}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	s.logger.Warn("spool full: oldest samples dropped", attrs...)
	return nil
}

// pending counts the records from seq on that the segments hold. Records
// lost in a gap between two segments are not counted: they are not there
// to send.
func (s *Spool) pending(seq uint64) uint64 {
	var n uint64
	for _, seg := range s.segs {
		if seg.end() > seq {
			n += seg.end() - max(seg.first, seq)
		}
	}
	return n
}

// skip is the sequence number n records after seq, counting only the
// records the segments hold.
func (s *Spool) skip(seq, n uint64) uint64 {
	for _, seg := range s.segs {
		if seg.end() <= seq {
			continue
		}
		seq = max(seq, seg.first)
		left := seg.end() - seq
		if n < left {
			return seq + n
		}
		n -= left
		seq = seg.end()
	}
	return seq
}

// rotateIfFull starts a new segment when there is none or the last one is
// at its bound.
func (s *Spool) rotateIfFull(size int64) error {
	if n := len(s.segs); n > 0 {
		last := s.segs[n-1]
		if last.count < s.segLimit.records && (last.size+size <= s.segLimit.bytes || last.count == 0) {
			return nil
		}
	}
	path := s.segPath(s.next)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if err := writeSegmentHeader(f, s.lastTS); err != nil {
		f.Close()
		return fmt.Errorf("create segment: %w", err)
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	if s.w != nil {
		s.w.Close()
	}
	s.w = f
	s.segs = append(s.segs, segment{first: s.next, size: segmentHeader})
	return nil
}

// Peek returns the oldest records not yet acknowledged, in order: at most
// n of them, and no more than maxBytes of payload (but always at least one
// if there is one). It does not remove them; Ack does.
func (s *Spool) Peek(n int, maxBytes int) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errSpoolClosed
	}
	var out []Record
	total := 0
	seq := s.head
	for i := 0; i < len(s.segs) && len(out) < n; i++ {
		seg := s.segs[i]
		if seq >= seg.end() {
			continue
		}
		var more bool
		var err error
		out, total, more, err = s.readFrom(seg, seq, n, maxBytes, out, total)
		if err != nil {
			return out, err
		}
		if !more {
			break
		}
		seq = seg.end()
	}
	return out, nil
}

// readFrom appends records of seg from seq on to out, until n records or
// maxBytes are reached. more reports whether the segment was read to its
// end and the caller may go on with the next one.
func (s *Spool) readFrom(seg segment, seq uint64, n, maxBytes int, out []Record, total int) ([]Record, int, bool, error) {
	f, err := os.Open(s.segPath(seg.first))
	if err != nil {
		return out, total, false, fmt.Errorf("read spool: %w", err)
	}
	defer f.Close()
	off, at := int64(segmentHeader), seg.first
	if s.cursor.seq == seq && seq > seg.first && seq < seg.end() {
		off, at = s.cursor.off, seq
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return out, total, false, fmt.Errorf("read spool: %w", err)
	}
	r := bufio.NewReaderSize(f, 32<<10)
	for at < seg.end() {
		start := off
		rec, size, _, err := readRecord(r, nil)
		if err != nil {
			return out, total, false, fmt.Errorf("read spool segment %d at record %d: %w", seg.first, at, err)
		}
		if at >= seq {
			if len(out) >= n || len(out) > 0 && total+len(rec.Payload) > maxBytes {
				// The next batch most likely starts here, once this one
				// is acknowledged.
				s.cursor.seq, s.cursor.off = at, start
				return out, total, false, nil
			}
			out = append(out, rec)
			total += len(rec.Payload)
		}
		off += int64(size)
		at++
	}
	return out, total, true, nil
}

// Ack removes every record up to and including seq: Hearth has stored
// them. The new head is on disk before Ack returns, unless Ack returns an
// error: the records are gone from the spool all the same (the next Peek
// starts after them), but the head on disk may still point at them, which
// costs only samples sent again after a restart.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errSpoolClosed
	}
	if seq < s.head || seq >= s.next {
		return nil
	}
	return s.setHead(seq + 1)
}

// setHead moves the head, deletes the segments wholly before it, and then
// writes it to disk. Deleting comes first so that a full disk, which may
// have no room for a new head file, gets room from the segments: with the
// head written first the spool could never shrink again. A crash between
// the two leaves the old head on disk, before the oldest segment left,
// which load reads as "from the oldest segment": records acknowledged
// there are sent again, and Hearth keeps a sample sent twice once. The
// head moves in memory whatever fails, so that sending goes on.
func (s *Spool) setHead(head uint64) error {
	s.head = head
	if err := s.removeAcknowledged(); err != nil {
		return err
	}
	return writeHead(s.dir, head)
}

// removeAcknowledged deletes segments whose records are all before head,
// except the last one, which is still written to.
func (s *Spool) removeAcknowledged() error {
	for len(s.segs) > 1 && s.segs[0].end() <= s.head {
		if err := os.Remove(s.segPath(s.segs[0].first)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove acknowledged segment: %w", err)
		}
		s.segs = s.segs[1:]
	}
	return nil
}

// SpoolStats describe a spool at one moment.
type SpoolStats struct {
	Samples  uint64 // records not yet acknowledged
	Bytes    int64  // bytes of its segment files
	Segments int
	Dropped  uint64 // records dropped to keep the bounds since Open
}

// Stats reads the spool's figures.
func (s *Spool) Stats() SpoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SpoolStats{Samples: s.pending(s.head), Segments: len(s.segs), Dropped: s.dropped}
	for _, seg := range s.segs {
		st.Bytes += seg.size
	}
	return st
}

// Close closes the files and releases the directory. Everything appended
// is already on disk.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.w != nil {
		err = s.w.Close()
	}
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("close spool %q: %w", s.dir, err)
	}
	return nil
}

func (s *Spool) segPath(first uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", first, segmentSuffix))
}

// segmentFiles lists the segment files of dir in order.
func segmentFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var names []string
	for _, e := range entries {
		if _, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		x, _ := parseSegmentName(a)
		y, _ := parseSegmentName(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return names, nil
}

func parseSegmentName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(base) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(base, 10, 64)
	return n, err == nil
}

// appendRecord encodes a record: payload length, CRC-32C of everything
// after the CRC, sequence number, timestamp, payload (integers little
// endian).
func appendRecord(b []byte, r Record) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Payload)))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, r.Seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.TS))
	b = append(b, r.Payload...)
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(b[start+8:], castagnoli))
	return b
}

// errTorn marks a record cut short by the end of the file; errDamaged one
// whose bytes are wrong. Both are about the data: an error reading the
// file is neither.
var (
	errTorn    = errors.New("record is cut short")
	errDamaged = errors.New("record is damaged")
)

// isShort reports whether a read error of io.ReadFull is the end of the
// data rather than a failure to read it.
func isShort(err error) bool {
	return err == io.EOF || err == io.ErrUnexpectedEOF
}

// readRecord reads one record from r, reusing buf for it. It returns
// io.EOF at a clean end, errTorn when the end cuts a record, an error
// wrapping errDamaged when the record's bytes are wrong, and any other
// error of r as it is. The payload points into the returned buffer.
func readRecord(r io.Reader, buf []byte) (Record, int, []byte, error) {
	var hdr [recordHeader]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		switch {
		case n == 0 && err == io.EOF:
			return Record{}, 0, buf, io.EOF
		case isShort(err):
			return Record{}, 0, buf, errTorn
		}
		return Record{}, 0, buf, fmt.Errorf("read record: %w", err)
	}
	length := binary.LittleEndian.Uint32(hdr[0:])
	if length > MaxRecordBytes {
		return Record{}, 0, buf, fmt.Errorf("%w: length %d is over the maximum %d", errDamaged, length, MaxRecordBytes)
	}
	if cap(buf) < int(length) {
		buf = make([]byte, length)
	}
	buf = buf[:length]
	if _, err := io.ReadFull(r, buf); err != nil {
		if isShort(err) {
			return Record{}, 0, buf, errTorn
		}
		return Record{}, 0, buf, fmt.Errorf("read record: %w", err)
	}
	crc := crc32.Update(crc32.Checksum(hdr[8:], castagnoli), castagnoli, buf)
	if crc != binary.LittleEndian.Uint32(hdr[4:]) {
		return Record{}, 0, buf, fmt.Errorf("%w: checksum does not match", errDamaged)
	}
	rec := Record{
		Seq:     binary.LittleEndian.Uint64(hdr[8:]),
		TS:      int64(binary.LittleEndian.Uint64(hdr[16:])),
		Payload: buf,
	}
	return rec, recordHeader + int(length), buf, nil
}

// DecodeRecord decodes one record from the start of b and returns it with
// the bytes it took. The payload is a copy.
func DecodeRecord(b []byte) (Record, int, error) {
	rec, n, _, err := readRecord(&sliceReader{b: b}, nil)
	if err != nil {
		return Record{}, 0, err
	}
	rec.Payload = slices.Clone(rec.Payload)
	return rec, n, nil
}

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// readHead reads the head file. A missing or damaged one reports false:
// the caller then starts from the oldest record.
func readHead(path string) (uint64, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read head: %w", err)
	}
	head, ok := decodeHead(b)
	return head, ok, nil
}

func encodeHead(head uint64) []byte {
	b := append([]byte(headMagic), make([]byte, 12)...)
	binary.LittleEndian.PutUint64(b[len(headMagic):], head)
	binary.LittleEndian.PutUint32(b[len(headMagic)+8:], crc32.Checksum(b[:len(headMagic)+8], castagnoli))
	return b
}

func decodeHead(b []byte) (uint64, bool) {
	if len(b) != headSize || string(b[:len(headMagic)]) != headMagic {
		return 0, false
	}
	if crc32.Checksum(b[:len(headMagic)+8], castagnoli) != binary.LittleEndian.Uint32(b[len(headMagic)+8:]) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[len(headMagic):]), true
}

// writeHead replaces the head file atomically.
func writeHead(dir string, head uint64) error {
	if err := atomicfile.Write(filepath.Join(dir, headFile), encodeHead(head), 0o600); err != nil {
		return fmt.Errorf("write head: %w", err)
	}
	return nil
}
