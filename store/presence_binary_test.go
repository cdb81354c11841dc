package store_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/hearthiot/hearth/store"
)

// presenceTimes are times in each kind of zone a record can hold: UTC,
// the local zone, a fixed offset and a named zone, with and without
// nanoseconds.
func presenceTimes(t *testing.T) []time.Time {
	t.Helper()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	base := time.Date(2026, 12, 7, 23, 40, 5, 123456789, time.UTC)
	return []time.Time{
		base,
		base.Truncate(time.Second),
		base.Local(),
		base.In(time.FixedZone("", -5*3600-1800)),
		base.In(tokyo),
		time.Date(1999, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600)),
	}
}

// sameTime compares two times as JSON would show them: the instant, the
// zone's name and offset, and the location's name.
func sameTime(a, b time.Time) bool {
	an, ao := a.Zone()
	bn, bo := b.Zone()
	return a.Equal(b) && an == bn && ao == bo && a.Location().String() == b.Location().String()
}

// TestPresenceRecordReadsAsItsJSON: a record read back is what its JSON,
// the form of older schemas, read back, in every kind of time zone.
func TestPresenceRecordReadsAsItsJSON(t *testing.T) {
	t.Parallel()
	for i, tm := range presenceTimes(t) {
		r := store.PresenceRecord{Device: "ahu-1", ConnectedAt: tm, DisconnectedAt: tm.Add(time.Minute), LastSeen: tm.Add(-time.Hour),
			Reason: "keepalive_timeout", Remote: "192.0.2.10:50123", Protocol: 5}
		raw, err := json.Marshal(r)
		mustOK(t, err)
		var want store.PresenceRecord
		mustOK(t, json.Unmarshal(raw, &want))
		got, err := store.DecodePresence("ahu-1", store.EncodePresence(r))
		mustOK(t, err)
		for j, pair := range [][2]time.Time{{want.ConnectedAt, got.ConnectedAt}, {want.DisconnectedAt, got.DisconnectedAt}, {want.LastSeen, got.LastSeen}} {
			if !sameTime(pair[0], pair[1]) {
				t.Errorf("time %d, field %d: %v (%s), JSON gives %v (%s)", i, j, pair[1], pair[1].Location(), pair[0], pair[0].Location())
			}
		}
		got.ConnectedAt, got.DisconnectedAt, got.LastSeen = want.ConnectedAt, want.DisconnectedAt, want.LastSeen
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("time %d (-json +binary):\n%s", i, diff)
		}
	}
}

// TestPresenceRecordRefusesDamage: a record cut short, with bytes after
// its end or of another format is an error.
func TestPresenceRecordRefusesDamage(t *testing.T) {
	t.Parallel()
	r := store.PresenceRecord{Device: "ahu-1", Online: true, ConnectedAt: at(1), LastSeen: at(2), Remote: "192.0.2.10:50123", Protocol: 4}
	v := store.EncodePresence(r)
	got, err := store.DecodePresence("ahu-1", v)
	mustOK(t, err)
	if diff := cmp.Diff(r, got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	for n := range len(v) {
		if p, err := store.DecodePresence("ahu-1", v[:n]); err == nil {
			t.Errorf("the first %d of %d bytes decoded as %+v", n, len(v), p)
		}
	}
	for name, bad := range map[string][]byte{
		"trailing byte": append(append([]byte(nil), v...), 0),
		"json":          []byte(`{"device":"ahu-1","online":true}`),
		"online flag 2": append([]byte{v[0], 2}, v[2:]...),
	} {
		if p, err := store.DecodePresence("ahu-1", bad); err == nil {
			t.Errorf("%s: decoded as %+v", name, p)
		}
	}
}

// TestMigratePresenceRecords: presence saved as JSON by an older schema
// reads the same after the upgrade, and new saves are read alongside.
func TestMigratePresenceRecords(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	old, err := store.OpenAtSchemaVersion(path, store.SchemaVersionBefore("keep presence in binary records"))
	mustOK(t, err)
	mustOK(t, old.CreateCustomer(store.Customer{Name: "acme", CreatedAt: at(0)}))
	var want []store.PresenceRecord
	for i, tm := range presenceTimes(t) {
		name := fmt.Sprintf("dev-%d", i)
		mustOK(t, old.CreateDevice(store.Device{Name: name, Customer: "acme", CreatedAt: at(0)}))
		want = append(want, store.PresenceRecord{Device: name, ConnectedAt: tm, DisconnectedAt: tm.Add(time.Second), Reason: "clean", Protocol: 4})
	}
	mustOK(t, old.Close())
	// The records as the previous release wrote them: JSON.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	mustOK(t, err)
	mustOK(t, db.Update(func(tx *bolt.Tx) error {
		for i, r := range want {
			raw, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := tx.Bucket([]byte("presence")).Put([]byte(r.Device), raw); err != nil {
				return err
			}
			mustOK(t, json.Unmarshal(raw, &want[i])) // what reading the JSON gave
		}
		return nil
	}))
	mustOK(t, db.Close())

	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	got := listPresence(t, s)
	if len(got) != len(want) {
		t.Fatalf("%d records after the upgrade, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameTime(want[i].ConnectedAt, got[i].ConnectedAt) || !sameTime(want[i].DisconnectedAt, got[i].DisconnectedAt) {
			t.Errorf("%s: times %v, %v after the upgrade; JSON gave %v, %v", want[i].Device, got[i].ConnectedAt, got[i].DisconnectedAt, want[i].ConnectedAt, want[i].DisconnectedAt)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the upgrade (-want +got):\n%s", diff)
	}
	next := store.PresenceRecord{Device: "dev-0", Online: true, ConnectedAt: at(9), LastSeen: at(9), Protocol: 5}
	mustOK(t, s.PutPresence([]store.PresenceRecord{next}))
	if got := listPresence(t, s); !cmp.Equal(got[0], next) {
		t.Errorf("after a save: %+v, want %+v", got[0], next)
	}
}
