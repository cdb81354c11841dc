package agent_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/agent"
)

func openSpool(t *testing.T, dir string, opts agent.SpoolOptions) *agent.Spool {
	t.Helper()
	s, err := agent.OpenSpool(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func payload(i int) []byte {
	return fmt.Appendf(nil, `{"ts":%d,"values":{"v":%d}}`, 1_000_000+i, i)
}

// appendN appends samples from..to-1 with timestamps 1_000_000+i.
func appendN(t *testing.T, s *agent.Spool, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := s.Append(int64(1_000_000+i), payload(i)); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// drain peeks and acknowledges in batches of n until the spool is empty,
// returning the values in the order they came.
func drain(t *testing.T, s *agent.Spool, n int) []int {
	t.Helper()
	var got []int
	for {
		recs, err := s.Peek(n, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return got
		}
		for _, r := range recs {
			var e struct {
				TS     int64          `json:"ts"`
				Values map[string]int `json:"values"`
			}
			if err := json.Unmarshal(r.Payload, &e); err != nil {
				t.Fatalf("record %d payload %q: %v", r.Seq, r.Payload, err)
			}
			if r.TS != e.TS || e.TS != int64(1_000_000+e.Values["v"]) {
				t.Fatalf("record %d: ts %d, payload %s", r.Seq, r.TS, r.Payload)
			}
			got = append(got, e.Values["v"])
		}
		if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
			t.Fatal(err)
		}
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestSpoolOrder(t *testing.T) {
	s := openSpool(t, t.TempDir(), agent.SpoolOptions{MaxSamples: 1000})
	appendN(t, s, 0, 300) // several segments of 62 records
	if st := s.Stats(); st.Samples != 300 || st.Segments < 4 {
		t.Errorf("stats %+v; want 300 samples in several segments", st)
	}
	// Peek without Ack returns the same records again.
	a, _ := s.Peek(10, 1<<20)
	b, _ := s.Peek(10, 1<<20)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("second peek differs:\n%s", diff)
	}
	if diff := cmp.Diff(seq(0, 300), drain(t, s, 7)); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if st := s.Stats(); st.Samples != 0 || st.Segments != 1 {
		t.Errorf("after draining: %+v; want no samples and one segment left", st)
	}
}

func TestSpoolPeekBytes(t *testing.T) {
	s := openSpool(t, t.TempDir(), agent.SpoolOptions{})
	appendN(t, s, 0, 10)
	size := len(payload(0))
	recs, err := s.Peek(100, 3*size)
	if err != nil || len(recs) != 3 {
		t.Fatalf("peek with room for 3: %d records, %v", len(recs), err)
	}
	// One record is returned even when it alone exceeds the byte limit.
	if recs, _ := s.Peek(100, 1); len(recs) != 1 {
		t.Errorf("peek with 1 byte: %d records; want 1", len(recs))
	}
}

// TestSpoolBound: when full, the oldest records go, the count says how
// many, and what is left is the newest in order.
func TestSpoolBound(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, agent.SpoolOptions{MaxSamples: 100})
	appendN(t, s, 0, 250)
	st := s.Stats()
	if st.Samples != 100 || st.Dropped != 150 {
		t.Errorf("stats %+v; want 100 samples, 150 dropped", st)
	}
	if diff := cmp.Diff(seq(150, 250), drain(t, s, 30)); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	// Dropped segments are deleted from disk.
	if names := segmentNames(t, dir); len(names) > 2 {
		t.Errorf("segment files left: %v", names)
	}
}

func TestSpoolByteBound(t *testing.T) {
	dir := t.TempDir()
	const maxBytes = 64 << 10
	s := openSpool(t, dir, agent.SpoolOptions{MaxSamples: 1 << 20, MaxBytes: maxBytes})
	appendN(t, s, 0, 2000)
	st := s.Stats()
	if st.Bytes > maxBytes || st.Dropped == 0 || st.Samples+st.Dropped != 2000 {
		t.Errorf("stats %+v; want at most %d bytes, samples + dropped = 2000", st, maxBytes)
	}
	var onDisk int64
	for _, n := range segmentNames(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		onDisk += fi.Size()
	}
	if onDisk > maxBytes {
		t.Errorf("segments take %d bytes on disk; bound %d", onDisk, maxBytes)
	}
	got := drain(t, s, 100)
	if diff := cmp.Diff(seq(2000-len(got), 2000), got); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
}

// TestSpoolRestart: records and the head survive closing and opening
// again, and the sequence and timestamps go on from where they were.
func TestSpoolRestart(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, agent.SpoolOptions{MaxSamples: 500})
	appendN(t, s, 0, 200)
	recs, _ := s.Peek(120, 1<<20)
	if err := s.Ack(recs[len(recs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openSpool(t, dir, agent.SpoolOptions{MaxSamples: 500})
	if st := s.Stats(); st.Samples != 80 {
		t.Errorf("after reopening: %+v; want 80 samples", st)
	}
	if _, err := s.Append(1_000_000+199, payload(199)); err == nil {
		t.Error("append with the last timestamp again: no error")
	}
	if got := s.NextTimestamp(5); got != 1_000_000+200 {
		t.Errorf("NextTimestamp with the clock behind = %d; want %d", got, 1_000_000+200)
	}
	appendN(t, s, 200, 230)
	if diff := cmp.Diff(seq(120, 230), drain(t, s, 50)); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
}

// TestSpoolTimestampsAfterDeletedSegments: the last timestamp survives a
// restart even when every segment that held a record was deleted.
func TestSpoolTimestampsAfterDeletedSegments(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, agent.SpoolOptions{MaxSamples: 16})
	appendN(t, s, 0, 17) // the 17th record starts a second segment
	drain(t, s, 100)
	appendN(t, s, 17, 33)
	drain(t, s, 100)
	s.Close()
	s = openSpool(t, dir, agent.SpoolOptions{MaxSamples: 16})
	if got := s.NextTimestamp(0); got != 1_000_000+33 {
		t.Errorf("NextTimestamp = %d; want %d", got, 1_000_000+33)
	}
}

// TestSpoolTornRecord: a crash in the middle of a write leaves part of a
// record at the end of the last segment; opening drops it and keeps every
// complete record, and appending goes on after them.
func TestSpoolTornRecord(t *testing.T) {
	for _, cut := range []int{1, 10, 23, 24, 30} {
		t.Run(fmt.Sprintf("cut%d", cut), func(t *testing.T) {
			dir := t.TempDir()
			s := openSpool(t, dir, agent.SpoolOptions{})
			appendN(t, s, 0, 10)
			s.Close()
			last := lastSegment(t, dir)
			full, err := os.ReadFile(last)
			if err != nil {
				t.Fatal(err)
			}
			// A torn write of record 10: its first cut bytes.
			torn := append(slices.Clone(full), recordBytes(t, 10)[:cut]...)
			if err := os.WriteFile(last, torn, 0o600); err != nil {
				t.Fatal(err)
			}
			s = openSpool(t, dir, agent.SpoolOptions{})
			if st := s.Stats(); st.Samples != 10 {
				t.Errorf("after the torn write: %+v; want the 10 complete samples", st)
			}
			if got, _ := os.ReadFile(last); len(got) != len(full) {
				t.Errorf("segment is %d bytes; want the torn record cut off (%d)", len(got), len(full))
			}
			appendN(t, s, 10, 12)
			if diff := cmp.Diff(seq(0, 12), drain(t, s, 5)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSpoolDamagedRecord: a record whose bytes changed on disk fails its
// checksum; it and what follows it in its segment are dropped, the other
// segments are kept.
func TestSpoolDamagedRecord(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, agent.SpoolOptions{MaxSamples: 160}) // segments of 16
	appendN(t, s, 0, 40)
	s.Close()
	names := segmentNames(t, dir)
	if len(names) != 3 {
		t.Fatalf("segments %v; want 3", names)
	}
	second := filepath.Join(dir, names[1])
	b, _ := os.ReadFile(second)
	// Flip a byte in the payload of the segment's fifth record.
	off := 16 + 4*(24+len(payload(16))) + 30
	b[off] ^= 0x20
	os.WriteFile(second, b, 0o600)

	s = openSpool(t, dir, agent.SpoolOptions{MaxSamples: 160})
	want := append(seq(0, 20), seq(32, 40)...)
	if diff := cmp.Diff(want, drain(t, s, 9)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestSpoolHeadFile: a head file that is missing or damaged makes the spool
// send everything it holds again (Hearth keeps one sample per millisecond,
// so nothing doubles); it never skips a record.
func TestSpoolHeadFile(t *testing.T) {
	for _, damage := range []string{"missing", "garbage", "truncated"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			s := openSpool(t, dir, agent.SpoolOptions{MaxSamples: 1000})
			appendN(t, s, 0, 50)
			recs, _ := s.Peek(20, 1<<20)
			s.Ack(recs[len(recs)-1].Seq)
			s.Close()
			head := filepath.Join(dir, "head")
			switch damage {
			case "missing":
				os.Remove(head)
			case "garbage":
				os.WriteFile(head, []byte("not a head file at all!"), 0o600)
			case "truncated":
				b, _ := os.ReadFile(head)
				os.WriteFile(head, b[:len(b)-1], 0o600)
			}
			s = openSpool(t, dir, agent.SpoolOptions{MaxSamples: 1000})
			if diff := cmp.Diff(seq(0, 50), drain(t, s, 100)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSpoolLocked(t *testing.T) {
	dir := t.TempDir()
	openSpool(t, dir, agent.SpoolOptions{})
	if s, err := agent.OpenSpool(dir, agent.SpoolOptions{}, nil); err == nil {
		s.Close()
		t.Fatal("a second OpenSpool of the same directory succeeded")
	} else if !strings.Contains(err.Error(), "another agent") {
		t.Errorf("error %q; want it to say another agent uses the directory", err)
	}
}

func TestSpoolRefusesHugeRecord(t *testing.T) {
	s := openSpool(t, t.TempDir(), agent.SpoolOptions{})
	if _, err := s.Append(1, make([]byte, agent.MaxRecordBytes+1)); err == nil {
		t.Error("append of an oversized record: no error")
	}
	if st := s.Stats(); st.Samples != 0 {
		t.Errorf("stats %+v after a refused append", st)
	}
}

func segmentNames(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m {
		names = append(names, filepath.Base(p))
	}
	slices.Sort(names)
	return names
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	names := segmentNames(t, dir)
	if len(names) == 0 {
		t.Fatal("no segment")
	}
	return filepath.Join(dir, names[len(names)-1])
}

// recordBytes is record i as the spool writes it, read back from a spool
// of its own.
func recordBytes(t *testing.T, i int) []byte {
	t.Helper()
	dir := t.TempDir()
	s := openSpool(t, dir, agent.SpoolOptions{})
	for j := 0; j <= i; j++ {
		if _, err := s.Append(int64(1_000_000+j), payload(j)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b, _ := os.ReadFile(lastSegment(t, dir))
	size := 24 + len(payload(i))
	return b[len(b)-size:]
}

// TestSpoolAckWhenHeadCannotBeWritten: when the head file cannot be
// replaced (a full disk; here a directory is in the way of the rename, and
// the old head is put back afterwards), Ack still deletes the segments it passed, so
// the spool shrinks and the disk gets room back, and sending goes on after
// the acknowledged records. The old head left on disk only makes a restart
// send the oldest segment left again; nothing is skipped.
func TestSpoolAckWhenHeadCannotBeWritten(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, agent.SpoolOptions{MaxSamples: 160}) // segments of 16
	appendN(t, s, 0, 40)
	if names := segmentNames(t, dir); len(names) != 3 {
		t.Fatalf("segments %v; want 3", names)
	}
	head := filepath.Join(dir, "head")
	oldHead, err := os.ReadFile(head) // none yet: nothing was acknowledged
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.RemoveAll(head); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(head, "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(33); err == nil || !strings.Contains(err.Error(), "write head") {
		t.Errorf("Ack with no room for the head: %v; want the head's error", err)
	}
	if names := segmentNames(t, dir); !cmp.Equal(names, []string{"00000000000000000032.seg"}) {
		t.Errorf("segments after Ack %v; want the two acknowledged ones deleted", names)
	}
	if st := s.Stats(); st.Samples != 6 || st.Segments != 1 {
		t.Errorf("stats %+v; want 6 samples in one segment", st)
	}
	if recs, err := s.Peek(100, 1<<20); err != nil || len(recs) != 6 || recs[0].Seq != 34 {
		first := -1
		if len(recs) > 0 {
			first = int(recs[0].Seq)
		}
		t.Errorf("peek after Ack: %d records from %d, %v; want 6 from 34", len(recs), first, err)
	}

	// The agent stops (or crashes) before the head could be written.
	s.Close()
	if err := os.RemoveAll(head); err != nil {
		t.Fatal(err)
	}
	if oldHead != nil {
		if err := os.WriteFile(head, oldHead, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "tmp") {
			t.Errorf("temporary file %s left in the spool", e.Name())
		}
	}
	s = openSpool(t, dir, agent.SpoolOptions{MaxSamples: 160})
	if diff := cmp.Diff(seq(32, 40), drain(t, s, 100)); diff != "" {
		t.Errorf("after reopening (-want +got):\n%s", diff)
	}
}

// TestSpoolGap: records lost between two segments (a segment file the disk
// lost) are not counted as waiting, and the bound drops only records that
// are there.
func TestSpoolGap(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, agent.SpoolOptions{MaxSamples: 40}) // segments of 16
	appendN(t, s, 0, 40)
	s.Close()
	names := segmentNames(t, dir)
	if len(names) != 3 {
		t.Fatalf("segments %v; want 3", names)
	}
	if err := os.Remove(filepath.Join(dir, names[1])); err != nil {
		t.Fatal(err)
	}
	s = openSpool(t, dir, agent.SpoolOptions{MaxSamples: 40})
	if st := s.Stats(); st.Samples != 24 || st.Dropped != 0 {
		t.Errorf("stats %+v; want the 24 samples left, none dropped", st)
	}
	// 16 more fill the bound of 40 samples held; the one after drops one.
	appendN(t, s, 40, 56)
	if st := s.Stats(); st.Samples != 40 || st.Dropped != 0 {
		t.Errorf("stats at the bound %+v; want 40 samples, none dropped", st)
	}
	appendN(t, s, 56, 57)
	if st := s.Stats(); st.Samples != 40 || st.Dropped != 1 {
		t.Errorf("stats past the bound %+v; want 40 samples, 1 dropped", st)
	}
	want := append(seq(1, 16), seq(32, 57)...)
	if diff := cmp.Diff(want, drain(t, s, 7)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestSpoolRepairedHeaderKeepsTimestamps: a segment whose header a crash
// cut short is repaired with the timestamp of the newest record before it,
// so timestamps go on increasing, also once the older segments are gone.
func TestSpoolRepairedHeaderKeepsTimestamps(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, agent.SpoolOptions{})
	appendN(t, s, 0, 10)
	s.Close()
	// The next segment was being created when the power went.
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000010.seg"), []byte("HSP"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openSpool(t, dir, agent.SpoolOptions{})
	if got := s.NextTimestamp(0); got != 1_000_000+10 {
		t.Errorf("NextTimestamp after the repair = %d; want %d", got, 1_000_000+10)
	}
	if diff := cmp.Diff(seq(0, 10), drain(t, s, 100)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	s.Close()
	// The first segment is acknowledged and deleted; the repaired header
	// is all that remembers its timestamps.
	if names := segmentNames(t, dir); !cmp.Equal(names, []string{"00000000000000000010.seg"}) {
		t.Fatalf("segments %v; want the repaired one only", names)
	}
	s = openSpool(t, dir, agent.SpoolOptions{})
	if got := s.NextTimestamp(0); got != 1_000_000+10 {
		t.Errorf("NextTimestamp with only the repaired segment = %d; want %d", got, 1_000_000+10)
	}
	if _, err := s.Append(1_000_000+9, payload(9)); err == nil {
		t.Error("append of a timestamp before the last one: no error")
	}
}
