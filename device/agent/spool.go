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
		if last.count > 0 {
			rec, err := s.readLast(last)
			if err != nil {
				return err
			}
			s.lastTS = max(s.lastTS, rec.TS)
		}
	}
	s.logger.Info("spool opened", "dir", s.dir, "samples", s.next-s.head, "segments", len(s.segs),
		"max_samples", s.opts.MaxSamples, "max_bytes", s.opts.MaxBytes)
	return nil
}

// check reads one segment through, and truncates it at the first record
// that is torn (the end of the file cuts it short) or damaged (its checksum
// or sequence number is wrong). Records are fsynced one by one, so only the
// last one of the last segment can be torn by a crash; damage elsewhere is
// the disk's, and is logged as such.
func (s *Spool) check(path string, first uint64, last bool) (segment, error) {
	seg := segment{first: first}
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return seg, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var hdr [segmentHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:len(segmentMagic)]) != segmentMagic {
		// The header is written and fsynced before any record, so only a
		// segment created just before a crash can lack it, and it holds
		// nothing yet.
		if err := writeSegmentHeader(f, 0); err != nil {
			return seg, fmt.Errorf("repair segment %q: %w", path, err)
		}
		s.logger.Warn("spool segment header repaired", "segment", path)
		seg.size = segmentHeader
		return seg, nil
	}
	s.lastTS = max(s.lastTS, int64(binary.LittleEndian.Uint64(hdr[len(segmentMagic):])))
	off := int64(segmentHeader)
	var buf []byte
	for {
		var rec Record
		var n int
		rec, n, buf, err = readRecord(r, buf)
		if err == io.EOF {
			break
		}
		if err == nil && rec.Seq != first+seg.count {
			err = fmt.Errorf("record has sequence number %d, want %d", rec.Seq, first+seg.count)
		}
		if err != nil {
			size, _ := f.Seek(0, io.SeekEnd)
			if terr := f.Truncate(off); terr != nil {
				return seg, fmt.Errorf("truncate segment %q: %w", path, terr)
			}
			if serr := f.Sync(); serr != nil {
				return seg, fmt.Errorf("sync segment %q: %w", path, serr)
			}
			msg := "spool torn record dropped"
			if !last {
				msg = "spool damaged records dropped"
			}
			s.logger.Warn(msg, "segment", path, "offset", off, "bytes_dropped", size-off, "error", err)
			break
		}
		seg.count++
		off += int64(n)
	}
	seg.size = off
	return seg, nil
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
// fits the bounds.
func (s *Spool) makeRoom(size int64) error {
	var drop uint64
	if n := s.next - s.head; n+1 > uint64(s.opts.MaxSamples) {
		drop = n + 1 - uint64(s.opts.MaxSamples)
	}
	newHead := s.head + drop
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
	n := newHead - s.head
	if err := s.setHead(newHead); err != nil {
		return err
	}
	s.dropped += n
	s.logger.Warn("spool full: oldest samples dropped", "dropped", n, "dropped_total", s.dropped,
		"max_samples", s.opts.MaxSamples, "max_bytes", s.opts.MaxBytes)
	return nil
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
	if err := syncDir(s.dir); err != nil {
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
// them. The new head is on disk before Ack returns.
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

// setHead moves the head, writes it to disk and deletes the segments wholly
// before it.
func (s *Spool) setHead(head uint64) error {
	if err := writeHead(s.dir, head); err != nil {
		return err
	}
	s.head = head
	return s.removeAcknowledged()
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
	st := SpoolStats{Samples: s.next - s.head, Segments: len(s.segs), Dropped: s.dropped}
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

// readLast returns the last record of seg.
func (s *Spool) readLast(seg segment) (Record, error) {
	f, err := os.Open(s.segPath(seg.first))
	if err != nil {
		return Record{}, fmt.Errorf("read last record: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	if _, err := r.Discard(int(segmentHeader)); err != nil {
		return Record{}, fmt.Errorf("read last record: %w", err)
	}
	var rec Record
	var buf []byte
	for range seg.count {
		if rec, _, buf, err = readRecord(r, buf); err != nil {
			return Record{}, fmt.Errorf("read last record: %w", err)
		}
	}
	rec.Payload = slices.Clone(rec.Payload)
	return rec, nil
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

// errTorn marks a record cut short by the end of the file.
var errTorn = errors.New("record is cut short")

// readRecord reads one record from r, reusing buf for it. It returns
// io.EOF at a clean end, errTorn when the end cuts a record, and an error
// naming the damage otherwise. The payload points into the returned buffer.
func readRecord(r io.Reader, buf []byte) (Record, int, []byte, error) {
	var hdr [recordHeader]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if n == 0 && err == io.EOF {
			return Record{}, 0, buf, io.EOF
		}
		return Record{}, 0, buf, errTorn
	}
	length := binary.LittleEndian.Uint32(hdr[0:])
	if length > MaxRecordBytes {
		return Record{}, 0, buf, fmt.Errorf("record length %d is over the maximum %d", length, MaxRecordBytes)
	}
	if cap(buf) < int(length) {
		buf = make([]byte, length)
	}
	buf = buf[:length]
	if _, err := io.ReadFull(r, buf); err != nil {
		return Record{}, 0, buf, errTorn
	}
	crc := crc32.Update(crc32.Checksum(hdr[8:], castagnoli), castagnoli, buf)
	if crc != binary.LittleEndian.Uint32(hdr[4:]) {
		return Record{}, 0, buf, errors.New("record checksum does not match")
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

// writeHead replaces the head file atomically: a new file, fsynced, renamed
// over the old one, and the directory fsynced.
func writeHead(dir string, head uint64) error {
	tmp := filepath.Join(dir, headFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write head: %w", err)
	}
	_, err = f.Write(encodeHead(head))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, headFile))
	}
	if err != nil {
		return fmt.Errorf("write head: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a directory's entries (files created, renamed, removed)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}
