package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hearthiot/hearth/internal/atomicfile"
	"github.com/hearthiot/hearth/internal/binfmt"
)

// latestFile holds the latest values between runs. A crash loses the updates
// since the last write, at most latestPersistInterval; the samples
// themselves are in the storage.
const latestFile = "latest.bin"

// latestMagic starts the file and names its format version.
const latestMagic = "HLATEST1"

// latestShards spreads the cache over several locks so that appends of many
// devices from many goroutines rarely wait for each other.
const latestShards = 64

// latestCache keeps the newest sample of every metric of every device in
// memory, so dashboards get "now" without a query.
type latestCache struct {
	shards [latestShards]latestShard
	// dirty is set by every change and cleared when the file is written.
	dirty atomic.Bool
}

type latestShard struct {
	mu      sync.Mutex
	devices map[string]*latestDevice
}

// latestDevice is what the cache keeps of one device (and customer).
type latestDevice struct {
	metrics map[string]sample
	// site is the site of the device's last append, known once the
	// device has appended since Open: the file does not keep it.
	site      string
	siteKnown bool
}

type sample struct {
	ts int64
	v  float64
}

func newLatestCache() *latestCache {
	c := &latestCache{}
	for i := range c.shards {
		c.shards[i].devices = make(map[string]*latestDevice)
	}
	return c
}

func (c *latestCache) shard(device string) *latestShard {
	// FNV-1a, inline so that hashing does not allocate.
	h := uint32(2166136261)
	for i := 0; i < len(device); i++ {
		h ^= uint32(device[i])
		h *= 16777619
	}
	return &c.shards[h%latestShards]
}

// newer reports whether s replaces old. Equal timestamps keep the larger
// value, as the storage's de-duplication does, so both agree.
func (s sample) newer(old sample) bool {
	return s.ts > old.ts || (s.ts == old.ts && s.v > old.v)
}

// update keeps the newer of each point and what the cache holds. It
// reports whether the points may have made the storage add index entries
// (see DB.readGen): a metric or site the device had not appended since
// Open, or a sample on another day (UTC, as the storage's per-day index
// counts days) than the metric's newest.
func (c *latestCache) update(device, site string, pts []Point) (indexed bool) {
	sh := c.shard(device)
	changed := false
	sh.mu.Lock()
	d, ok := sh.devices[device]
	if !ok {
		// Clone keys: the caller's strings may point into a larger message.
		d = &latestDevice{metrics: make(map[string]sample, len(pts))}
		sh.devices[strings.Clone(device)] = d
	}
	if !d.siteKnown || d.site != site {
		d.site, d.siteKnown = strings.Clone(site), true
		indexed = true
	}
	for i := range pts {
		p := &pts[i]
		s := sample{ts: p.Timestamp, v: p.Value}
		old, ok := d.metrics[p.Metric]
		switch {
		case !ok:
			d.metrics[strings.Clone(p.Metric)] = s
			indexed = true
		case utcDay(s.ts) != utcDay(old.ts):
			indexed = true
			if !s.newer(old) {
				continue
			}
			d.metrics[p.Metric] = s
		case s.newer(old):
			d.metrics[p.Metric] = s
		default:
			continue
		}
		changed = true
	}
	sh.mu.Unlock()
	if changed {
		c.dirty.Store(true)
	}
	return indexed
}

// utcDay is the day of a timestamp in milliseconds, counted from 1970-01-01
// UTC.
func utcDay(ms int64) int64 {
	const day = 24 * 60 * 60 * 1000
	d := ms / day
	if ms%day < 0 {
		d--
	}
	return d
}

func (c *latestCache) get(device string) []Point {
	sh := c.shard(device)
	sh.mu.Lock()
	d := sh.devices[device]
	if d == nil || len(d.metrics) == 0 {
		sh.mu.Unlock()
		return nil
	}
	pts := make([]Point, 0, len(d.metrics))
	for m, s := range d.metrics {
		pts = append(pts, Point{Metric: m, Timestamp: s.ts, Value: s.v})
	}
	sh.mu.Unlock()
	slices.SortFunc(pts, func(a, b Point) int { return strings.Compare(a.Metric, b.Metric) })
	return pts
}

func (c *latestCache) devices() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.devices)
		sh.mu.Unlock()
	}
	return n
}

// encode writes the cache in the file format:
//
//	"HLATEST1"
//	uvarint device count
//	per device: uvarint length, name, uvarint metric count,
//	  per metric: uvarint length, name, varint timestamp (ms),
//	  8 bytes little-endian IEEE 754 value
//	4 bytes little-endian CRC-32C of everything before
//
// Each shard is locked only while it is copied out.
func (c *latestCache) encode() []byte {
	var body []byte
	count := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for device, d := range sh.devices {
			count++
			body = binfmt.AppendString(body, device)
			body = binary.AppendUvarint(body, uint64(len(d.metrics)))
			for m, s := range d.metrics {
				body = binfmt.AppendString(body, m)
				body = binary.AppendVarint(body, s.ts)
				body = binfmt.AppendFloat(body, s.v)
			}
		}
		sh.mu.Unlock()
	}
	out := make([]byte, 0, len(latestMagic)+binary.MaxVarintLen64+len(body)+4)
	out = append(out, latestMagic...)
	out = binary.AppendUvarint(out, uint64(count))
	out = append(out, body...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errLatestCorrupt is wrapped by every decoding failure.
var errLatestCorrupt = errors.New("latest values file is damaged")

// decodeLatest parses what encode wrote. It never trusts a length or count
// beyond the bytes present, since the file may have been damaged on disk.
func decodeLatest(data []byte) (*latestCache, error) {
	if len(data) < len(latestMagic)+4 || string(data[:len(latestMagic)]) != latestMagic {
		return nil, fmt.Errorf("%w: missing %q header", errLatestCorrupt, latestMagic)
	}
	payload, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(payload, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errLatestCorrupt)
	}
	d := binfmt.Reader{B: payload[len(latestMagic):]}
	c := newLatestCache()
	devices := d.Count()
	for range devices {
		device := d.String()
		metrics := d.Count()
		if d.Err != nil {
			break
		}
		sh := c.shard(device)
		dev := sh.devices[device]
		if dev == nil {
			dev = &latestDevice{metrics: make(map[string]sample, metrics)}
			sh.devices[device] = dev
		}
		for range metrics {
			name := d.String()
			ts := d.Varint()
			v := d.Float()
			if d.Err != nil {
				break
			}
			dev.metrics[name] = sample{ts: ts, v: v}
		}
	}
	if d.Err == nil && len(d.B) != 0 {
		d.Err = fmt.Errorf("%d bytes after the last device", len(d.B))
	}
	if d.Err != nil {
		return nil, fmt.Errorf("%w: %w", errLatestCorrupt, d.Err)
	}
	return c, nil
}

// loadLatest reads the latest values written by a previous run; a missing
// file is an empty cache.
func loadLatest(dir string) (*latestCache, error) {
	path := filepath.Join(dir, latestFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newLatestCache(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", path, err)
	}
	c, err := decodeLatest(data)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", path, err)
	}
	return c, nil
}

// persist writes the cache to dir atomically: a reader (the next Open) sees
// either the previous file or the new one, never a partial write.
func (c *latestCache) persist(dir string) error {
	c.dirty.Store(false)
	if err := atomicfile.Write(filepath.Join(dir, latestFile), c.encode(), 0o640); err != nil {
		c.dirty.Store(true)
		return err
	}
	return nil
}
