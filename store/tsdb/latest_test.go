package tsdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// contents flattens a cache for comparison.
func contents(c *latestCache) map[string][]Point {
	out := map[string][]Point{}
	for i := range c.shards {
		for device := range c.shards[i].devices {
			out[device] = c.get(device)
		}
	}
	return out
}

func TestLatestFileRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		devices map[string][]Point
	}{
		{"empty", map[string][]Point{}},
		{"one", map[string][]Point{"d": {{Metric: "m", Timestamp: 1, Value: 2.5}}}},
		{"many", map[string][]Point{
			"chiller-01": {{Metric: "chw_supply_c", Timestamp: 1795305600000, Value: 7.1}, {Metric: "power_kw", Timestamp: 1795305600000, Value: math.Copysign(0, -1)}},
			"ahu/2":      {{Metric: "co2_ppm", Timestamp: -5, Value: 612}, {Metric: "z", Timestamp: math.MinInt64, Value: math.SmallestNonzeroFloat64}, {Metric: "ünïcode", Timestamp: math.MaxInt64, Value: math.MaxFloat64}},
			"":           {{Metric: "", Timestamp: 0, Value: 0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newLatestCache()
			for d, pts := range tt.devices {
				c.update(d, "", pts)
			}
			decoded, err := decodeLatest(c.encode())
			if err != nil {
				t.Fatal(err)
			}
			// Bit for bit, so that a lost sign of zero shows.
			sameBits := cmp.Comparer(func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) })
			if diff := cmp.Diff(tt.devices, contents(decoded), sameBits); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLatestFileRefusesDamage(t *testing.T) {
	c := newLatestCache()
	c.update("d", "", []Point{{Metric: "m", Timestamp: 1, Value: 2}, {Metric: "n", Timestamp: 3, Value: 4}})
	good := c.encode()
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"other format", []byte("HLATEST9" + string(good[8:]))},
		{"truncated", good[:len(good)-5]},
		{"flipped bit", func() []byte { b := bytes.Clone(good); b[12] ^= 1; return b }()},
		{"checksum only", good[len(good)-4:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeLatest(tt.data); !errors.Is(err, errLatestCorrupt) {
				t.Errorf("decodeLatest error = %v, want errLatestCorrupt", err)
			}
		})
	}
}

// FuzzDecodeLatest feeds the decoder damaged files: it must refuse or
// decode them, never panic or allocate beyond the input's size, and what it
// decodes must encode to an equivalent file.
func FuzzDecodeLatest(f *testing.F) {
	c := newLatestCache()
	f.Add(c.encode())
	c.update("d", "", []Point{{Metric: "m", Timestamp: 1, Value: 2}})
	f.Add(c.encode())
	c.update("chiller", "", []Point{{Metric: "a", Timestamp: -1, Value: math.Inf(1)}, {Metric: "b", Timestamp: 1 << 40, Value: -3.5}})
	f.Add(c.encode())
	f.Add([]byte(latestMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Most random inputs fail the checksum; fuzzing the body needs a
		// valid one, so check both the input and the input re-sealed.
		for _, in := range [][]byte{data, seal(data)} {
			decoded, err := decodeLatest(in)
			if err != nil {
				if !errors.Is(err, errLatestCorrupt) {
					t.Fatalf("error %v does not wrap errLatestCorrupt", err)
				}
				continue
			}
			again, err := decodeLatest(decoded.encode())
			if err != nil {
				t.Fatalf("re-encoded file refused: %v", err)
			}
			if diff := cmp.Diff(contents(decoded), contents(again), cmp.Comparer(sameFloat)); diff != "" {
				t.Fatalf("re-encoding changed the contents (-first +second):\n%s", diff)
			}
		}
	})
}

// seal gives data (after a valid header) a valid checksum.
func seal(data []byte) []byte {
	out := append([]byte(latestMagic), data...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

func sameFloat(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b)
}

func TestPersistIsAtomicAndLoads(t *testing.T) {
	dir := t.TempDir()
	c := newLatestCache()
	c.update("d", "", []Point{{Metric: "m", Timestamp: 10, Value: 1}})
	if err := c.persist(dir); err != nil {
		t.Fatal(err)
	}
	if c.dirty.Load() {
		t.Error("persist left the cache dirty")
	}
	c.update("d", "", []Point{{Metric: "m", Timestamp: 20, Value: 2}})
	if !c.dirty.Load() {
		t.Error("update did not mark the cache dirty")
	}
	if err := c.persist(dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != latestFile {
		t.Errorf("directory holds %v, want only %s", entries, latestFile)
	}
	loaded, err := loadLatest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]Point{"d": {{Metric: "m", Timestamp: 20, Value: 2}}}, contents(loaded)); diff != "" {
		t.Errorf("loaded (-want +got):\n%s", diff)
	}
	// A missing file is an empty cache, not an error.
	empty, err := loadLatest(t.TempDir())
	if err != nil || len(contents(empty)) != 0 {
		t.Errorf("loadLatest(empty dir) = %v, %v; want empty cache", contents(empty), err)
	}
}

func TestOpenSurvivesDamagedLatestFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, latestFile), []byte("not a latest file"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	db, err := Open(Config{Dir: dir}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Latest("d", "c"); got != nil {
		t.Errorf("Latest = %+v, want nil", got)
	}
	if !strings.Contains(logs.String(), "latest values not loaded") {
		t.Errorf("no warning about the damaged file in %q", logs.String())
	}
}

// update says when an append may have added index entries: the storage
// indexes a series when it is new, and each day (UTC) it has samples.
func TestLatestUpdateSaysWhatMayBeIndexed(t *testing.T) {
	const day = 24 * 60 * 60 * 1000
	noon := int64(20_000)*day + day/2
	c := newLatestCache()
	steps := []struct {
		name    string
		device  string
		site    string
		pts     []Point
		indexed bool
	}{
		{"a new device", "d", "s1", []Point{{Metric: "m", Timestamp: noon, Value: 1}}, true},
		{"a newer sample the same day", "d", "s1", []Point{{Metric: "m", Timestamp: noon + 1000, Value: 2}}, false},
		{"an older sample the same day", "d", "s1", []Point{{Metric: "m", Timestamp: noon - 1000, Value: 3}}, false},
		{"the same sample again", "d", "s1", []Point{{Metric: "m", Timestamp: noon + 1000, Value: 2}}, false},
		{"a new metric", "d", "s1", []Point{{Metric: "m", Timestamp: noon + 2000, Value: 4}, {Metric: "n", Timestamp: noon + 2000, Value: 5}}, true},
		{"another site", "d", "s2", []Point{{Metric: "m", Timestamp: noon + 3000, Value: 6}}, true},
		{"the next day", "d", "s2", []Point{{Metric: "m", Timestamp: noon + day/2, Value: 7}}, true},
		{"back-fill of an earlier day", "d", "s2", []Point{{Metric: "m", Timestamp: noon - day, Value: 8}}, true},
		{"the newest day again", "d", "s2", []Point{{Metric: "m", Timestamp: noon + day/2 + 1, Value: 9}}, false},
		{"a second device", "e", "s2", []Point{{Metric: "m", Timestamp: noon, Value: 1}}, true},
	}
	for _, s := range steps {
		if got := c.update(s.device, s.site, s.pts); got != s.indexed {
			t.Errorf("%s: update = %v, want %v", s.name, got, s.indexed)
		}
	}
	// Back-fill does not replace the newest value.
	if got := c.get("d"); got[0].Value != 9 || got[1].Value != 5 {
		t.Errorf("values after back-fill: %v", got)
	}

	// A cache read from its file does not know sites: the first append
	// of each device after Open may be indexed.
	loaded, err := decodeLatest(c.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.update("d", "s2", []Point{{Metric: "m", Timestamp: noon + day/2 + 2, Value: 10}}) {
		t.Error("first append after loading: update = false, want true")
	}
	if loaded.update("d", "s2", []Point{{Metric: "m", Timestamp: noon + day/2 + 3, Value: 11}}) {
		t.Error("second append after loading: update = true, want false")
	}
}

func TestUTCDay(t *testing.T) {
	const day = 24 * 60 * 60 * 1000
	for _, c := range []struct{ ms, want int64 }{{0, 0}, {day - 1, 0}, {day, 1}, {-1, -1}, {-day, -1}, {-day - 1, -2}} {
		if got := utcDay(c.ms); got != c.want {
			t.Errorf("utcDay(%d) = %d, want %d", c.ms, got, c.want)
		}
	}
}
