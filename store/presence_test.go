package store_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// presenceFleet opens a store with customer acme and the named devices.
func presenceFleet(t *testing.T, devices ...string) (*store.Store, string) {
	t.Helper()
	s, path := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme", CreatedAt: at(0)}))
	for _, d := range devices {
		mustOK(t, s.CreateDevice(store.Device{Name: d, Customer: "acme", Type: "chiller", CreatedAt: at(0)}))
	}
	return s, path
}

func listPresence(t *testing.T, s *store.Store) []store.PresenceRecord {
	t.Helper()
	recs, err := s.ListPresence()
	mustOK(t, err)
	return recs
}

func TestPresenceRoundTrip(t *testing.T) {
	t.Parallel()
	s, path := presenceFleet(t, "ahu-1", "boiler-1", "co2-1")
	if got := listPresence(t, s); got == nil || len(got) != 0 {
		t.Fatalf("ListPresence on an empty bucket = %#v; want an empty, non-nil list", got)
	}
	first := []store.PresenceRecord{
		{Device: "boiler-1", ConnectedAt: at(1), DisconnectedAt: at(5), LastSeen: at(4), Reason: "keepalive_timeout", Remote: "192.0.2.10:50123", Protocol: 4},
		{Device: "ahu-1", Online: true, ConnectedAt: at(2), LastSeen: at(3), Remote: "[2001:db8::1]:40000", Protocol: 5},
	}
	mustOK(t, s.PutPresence(first))
	want := []store.PresenceRecord{first[1], first[0]} // sorted by name
	if diff := cmp.Diff(want, listPresence(t, s)); diff != "" {
		t.Errorf("after the first put (-want +got):\n%s", diff)
	}

	// A later put replaces a device's record and leaves the others alone.
	second := []store.PresenceRecord{
		{Device: "ahu-1", ConnectedAt: at(2), DisconnectedAt: at(9), LastSeen: at(8), Reason: "clean", Remote: "[2001:db8::1]:40000", Protocol: 5},
		{Device: "co2-1"}, // never connected: every time unknown
	}
	mustOK(t, s.PutPresence(second))
	want = []store.PresenceRecord{second[0], first[0], second[1]}
	if diff := cmp.Diff(want, listPresence(t, s)); diff != "" {
		t.Errorf("after the second put (-want +got):\n%s", diff)
	}

	mustOK(t, s.PutPresence(nil))
	mustOK(t, s.Close())
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	if diff := cmp.Diff(want, listPresence(t, s)); diff != "" {
		t.Errorf("after reopening (-want +got):\n%s", diff)
	}
}

// TestPutPresenceSkipsUnknownDevices: a device deleted between the snapshot
// and the write is skipped without failing the others.
func TestPutPresenceSkipsUnknownDevices(t *testing.T) {
	t.Parallel()
	s, _ := presenceFleet(t, "ahu-1")
	recs := []store.PresenceRecord{
		{Device: "ghost", Online: true, ConnectedAt: at(1), LastSeen: at(1)},
		{Device: "ahu-1", Online: true, ConnectedAt: at(2), LastSeen: at(2)},
	}
	mustOK(t, s.PutPresence(recs))
	if diff := cmp.Diff(recs[1:], listPresence(t, s)); diff != "" {
		t.Errorf("saved (-want +got):\n%s", diff)
	}
}

func TestPutPresenceInvalid(t *testing.T) {
	t.Parallel()
	valid := store.PresenceRecord{Device: "ahu-1", ConnectedAt: at(1), DisconnectedAt: at(2), LastSeen: at(2), Reason: "clean", Protocol: 4}
	tests := []struct {
		name string
		rec  store.PresenceRecord
		want string // a fragment of the error
	}{
		{"no device", store.PresenceRecord{}, "device name is empty"},
		{"device name with a slash", store.PresenceRecord{Device: "a/b"}, "'/', '+' and '#' are not accepted"},
		{"online with a reason", store.PresenceRecord{Device: "ahu-1", Online: true, Reason: "clean"}, "an online device has no disconnect reason"},
		{"control character in the reason", store.PresenceRecord{Device: "ahu-1", Reason: "cl\x00ean"}, "control character"},
		{"remote too long", store.PresenceRecord{Device: "ahu-1", Remote: strings.Repeat("1", 257)}, "remote address is 257 bytes long"},
		{"unknown protocol", store.PresenceRecord{Device: "ahu-1", Protocol: 6}, "protocol 6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := presenceFleet(t, "ahu-1", "ahu-2")
			// The valid record of another device comes first: nothing of the
			// call may be written.
			other := valid
			other.Device = "ahu-2"
			err := s.PutPresence([]store.PresenceRecord{other, tt.rec})
			wantErr(t, err, store.ErrInvalid)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if got := listPresence(t, s); len(got) != 0 {
				t.Errorf("a refused put wrote %+v", got)
			}
		})
	}

	t.Run("a device twice", func(t *testing.T) {
		t.Parallel()
		s, _ := presenceFleet(t, "ahu-1")
		err := s.PutPresence([]store.PresenceRecord{valid, valid})
		wantErr(t, err, store.ErrInvalid)
		if got := listPresence(t, s); len(got) != 0 {
			t.Errorf("a refused put wrote %+v", got)
		}
	})
}

func TestDeleteDeviceDeletesPresence(t *testing.T) {
	t.Parallel()
	s, _ := presenceFleet(t, "ahu-1", "ahu-2")
	mustOK(t, s.PutPresence([]store.PresenceRecord{
		{Device: "ahu-1", Online: true, ConnectedAt: at(1), LastSeen: at(1)},
		{Device: "ahu-2", Online: true, ConnectedAt: at(2), LastSeen: at(2)},
	}))
	mustOK(t, s.DeleteDevice("ahu-1"))
	want := []store.PresenceRecord{{Device: "ahu-2", Online: true, ConnectedAt: at(2), LastSeen: at(2)}}
	if diff := cmp.Diff(want, listPresence(t, s)); diff != "" {
		t.Errorf("after deleting ahu-1 (-want +got):\n%s", diff)
	}
	// A new device of the same name starts without the old one's state.
	mustOK(t, s.CreateDevice(store.Device{Name: "ahu-1", Customer: "acme", Type: "chiller"}))
	if diff := cmp.Diff(want, listPresence(t, s)); diff != "" {
		t.Errorf("after re-creating ahu-1 (-want +got):\n%s", diff)
	}
}

func TestPutPresenceReadOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "ahu-1", Customer: "acme"}))
	mustOK(t, s.Close())
	ro, err := store.Open(path, store.Options{ReadOnly: true})
	mustOK(t, err)
	defer ro.Close()
	wantErr(t, ro.PutPresence([]store.PresenceRecord{{Device: "ahu-1"}}), store.ErrReadOnly)
	if got := listPresence(t, ro); len(got) != 0 {
		t.Errorf("read-only store lists %+v", got)
	}
}
