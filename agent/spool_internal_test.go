package agent

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"
	"testing/iotest"
)

// TestReadRecordErrors: only the end of the data makes a record torn; an
// error reading it is returned as it is, so that opening the spool does
// not take a disk that failed once for a torn record and truncate the
// good records after it.
func TestReadRecordErrors(t *testing.T) {
	rec := appendRecord(nil, Record{Seq: 3, TS: 1_000_000, Payload: []byte(`{"ts":1000000,"values":{"v":1}}`)})
	for cut := 1; cut < len(rec); cut++ {
		if _, _, _, err := readRecord(bytes.NewReader(rec[:cut]), nil); !errors.Is(err, errTorn) {
			t.Errorf("record cut at %d: %v; want errTorn", cut, err)
		}
	}
	for name, r := range map[string]io.Reader{
		"in the header":  iotest.ErrReader(syscall.EIO),
		"in the payload": io.MultiReader(bytes.NewReader(rec[:recordHeader+4]), iotest.ErrReader(syscall.EIO)),
	} {
		_, _, _, err := readRecord(r, nil)
		if !errors.Is(err, syscall.EIO) || errors.Is(err, errTorn) || errors.Is(err, errDamaged) {
			t.Errorf("EIO %s: %v; want the EIO, neither torn nor damaged", name, err)
		}
	}
	bad := bytes.Clone(rec)
	bad[len(bad)-1] ^= 1
	if _, _, _, err := readRecord(bytes.NewReader(bad), nil); !errors.Is(err, errDamaged) {
		t.Errorf("flipped bit: %v; want errDamaged", err)
	}
}

// TestScanRecordsReadError: a read error in a segment is an error, not
// damage, and leaves the records before it counted.
func TestScanRecordsReadError(t *testing.T) {
	var seg []byte
	for i := range 3 {
		seg = appendRecord(seg, Record{Seq: 10 + uint64(i), TS: int64(100 + i), Payload: []byte("x")})
	}
	count, size, lastTS, damage, err := scanRecords(io.MultiReader(bytes.NewReader(seg), iotest.ErrReader(syscall.EIO)), 10)
	if !errors.Is(err, syscall.EIO) || damage != nil {
		t.Errorf("scan: damage %v, error %v; want the EIO and no damage", damage, err)
	}
	if count != 3 || size != int64(len(seg)) || lastTS != 102 {
		t.Errorf("scan: %d records, %d bytes, last ts %d; want 3, %d, 102", count, size, lastTS, len(seg))
	}
	count, _, _, damage, err = scanRecords(bytes.NewReader(append(bytes.Clone(seg), seg[:5]...)), 10)
	if err != nil || !errors.Is(damage, errTorn) || count != 3 {
		t.Errorf("torn end: %d records, damage %v, error %v; want 3 and errTorn", count, damage, err)
	}
	count, _, _, damage, err = scanRecords(bytes.NewReader(seg), 11)
	if err != nil || !errors.Is(damage, errDamaged) || count != 0 {
		t.Errorf("wrong sequence: %d records, damage %v, error %v; want 0 and errDamaged", count, damage, err)
	}
}
