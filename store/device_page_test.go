package store_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/hearthiot/hearth/store"
)

// pagedFleet stores 60 devices: customers a and b, sites x and y each,
// types ahu and co2, every third device with a display name.
func pagedFleet(t *testing.T) *store.Store {
	t.Helper()
	s, _ := openStore(t)
	for _, c := range []string{"a", "b"} {
		mustOK(t, s.CreateCustomer(store.Customer{Name: c}))
		for _, site := range []string{"x", "y"} {
			mustOK(t, s.CreateSite(store.Site{Customer: c, Name: site}))
		}
	}
	var ds []store.Device
	for i := range 60 {
		d := store.Device{
			Name:     fmt.Sprintf("dev-%02d", i),
			Customer: []string{"a", "b"}[i%2],
			Site:     []string{"x", "y"}[i/2%2],
			Type:     []string{"ahu", "co2"}[i%3%2],
		}
		if i%3 == 0 {
			d.DisplayName = fmt.Sprintf("Roof Unit %d", i)
		}
		ds = append(ds, d)
	}
	mustOK(t, s.CreateDevicesInOneTransaction(ds))
	return s
}

// allPages follows the cursors of q to the end, at most 100 pages.
func allPages(t *testing.T, s *store.Store, q store.DeviceQuery) ([]string, int) {
	t.Helper()
	var got []string
	pages := 0
	for range 100 {
		p, err := s.PageDevices(q)
		mustOK(t, err)
		pages++
		if q.Limit > 0 && len(p.Devices) > q.Limit {
			t.Fatalf("page of %d devices, limit %d", len(p.Devices), q.Limit)
		}
		got = append(got, names(p.Devices, deviceName)...)
		if p.Next == "" {
			return got, pages
		}
		q.Cursor = p.Next
	}
	t.Fatal("more than 100 pages")
	return nil, 0
}

func TestPageDevices(t *testing.T) {
	t.Parallel()
	s := pagedFleet(t)
	all, err := s.ListDevices(store.DeviceFilter{})
	mustOK(t, err)
	want := func(keep func(store.Device) bool) []string {
		var out []string
		for _, d := range all {
			if keep(d) {
				out = append(out, d.Name)
			}
		}
		return out
	}
	for _, tt := range []struct {
		name string
		q    store.DeviceQuery
		want []string
	}{
		{"everything", store.DeviceQuery{Limit: 7}, want(func(store.Device) bool { return true })},
		{"customer", store.DeviceQuery{Customer: "b", Limit: 4}, want(func(d store.Device) bool { return d.Customer == "b" })},
		{"customer and site", store.DeviceQuery{Customer: "a", Site: "y", Limit: 3}, want(func(d store.Device) bool { return d.Customer == "a" && d.Site == "y" })},
		{"site of any customer", store.DeviceQuery{Site: "x", Limit: 5}, want(func(d store.Device) bool { return d.Site == "x" })},
		{"type", store.DeviceQuery{Type: "co2", Limit: 6}, want(func(d store.Device) bool { return d.Type == "co2" })},
		{"search by display name ignores case", store.DeviceQuery{Search: "rOOF unit 1", Limit: 2}, want(func(d store.Device) bool { return strings.HasPrefix(d.DisplayName, "Roof Unit 1") })},
		{"search by name", store.DeviceQuery{Search: "DEV-5"}, want(func(d store.Device) bool { return strings.HasPrefix(d.Name, "dev-5") })},
		{"everything combined", store.DeviceQuery{Customer: "a", Type: "ahu", Search: "roof", Limit: 1},
			want(func(d store.Device) bool { return d.Customer == "a" && d.Type == "ahu" && d.DisplayName != "" })},
		{"keep", store.DeviceQuery{Keep: func(n string) bool { return strings.HasSuffix(n, "7") }, Limit: 2}, want(func(d store.Device) bool { return strings.HasSuffix(d.Name, "7") })},
		{"nothing matches", store.DeviceQuery{Search: "nothing"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := allPages(t, s, tt.q)
			if tt.q.Customer != "" {
				// A customer's pages follow its index: sites, then names.
				slices.Sort(got)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pages (-want +got):\n%s", diff)
			}
		})
	}
	if _, pages := allPages(t, s, store.DeviceQuery{Limit: 20}); pages != 3 {
		t.Errorf("60 devices by 20 took %d pages, want 3 (no empty last page)", pages)
	}
}

func TestPageDevicesDefaultsAndRefusals(t *testing.T) {
	t.Parallel()
	s := pagedFleet(t)
	p, err := s.PageDevices(store.DeviceQuery{})
	mustOK(t, err)
	if len(p.Devices) != store.DefaultDeviceLimit || p.Next == "" {
		t.Errorf("default page: %d devices, next %q; want %d and a cursor", len(p.Devices), p.Next, store.DefaultDeviceLimit)
	}
	for _, q := range []store.DeviceQuery{
		{Limit: -1}, {Limit: store.MaxDeviceLimit + 1},
		{Cursor: "%%%"},
		{Customer: "a", Cursor: p.Next}, // a name cursor is no key of a's index
	} {
		_, err := s.PageDevices(q)
		wantErr(t, err, store.ErrInvalid)
	}
	_, err = s.PageDevices(store.DeviceQuery{Customer: "nobody"})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.PageDevices(store.DeviceQuery{Customer: "a", Site: "nowhere"})
	wantErr(t, err, store.ErrNotFound)
}

// TestPageDevicesFollowsChanges: the summaries follow updates and deletes,
// and a cursor stays good when its device is deleted.
func TestPageDevicesFollowsChanges(t *testing.T) {
	t.Parallel()
	s := pagedFleet(t)
	p, err := s.PageDevices(store.DeviceQuery{Limit: 10})
	mustOK(t, err)
	mustOK(t, s.DeleteDevice("dev-09"))
	next, err := s.PageDevices(store.DeviceQuery{Limit: 1, Cursor: p.Next})
	mustOK(t, err)
	if got := names(next.Devices, deviceName); !slices.Equal(got, []string{"dev-10"}) {
		t.Errorf("after the cursor's device was deleted: %v, want [dev-10]", got)
	}
	_, err = s.UpdateDevice("dev-01", func(d *store.Device) error {
		d.DisplayName = "Boiler Room"
		d.Type = "boiler"
		d.Site = "x"
		return nil
	})
	mustOK(t, err)
	for _, q := range []store.DeviceQuery{{Search: "boiler room"}, {Type: "boiler"}, {Customer: "b", Site: "x", Search: "BOILER"}} {
		got, _ := allPages(t, s, q)
		if !slices.Equal(got, []string{"dev-01"}) {
			t.Errorf("%+v: %v, want [dev-01]", q, got)
		}
	}
	mustOK(t, s.PutShadow(store.Shadow{Device: "dev-02", Version: 1, Doc: []byte(`{"state":{"reported":{"firmware":"2.0"}}}`)}, 0, nil))
	withShadow := func(name string, classic []byte) bool {
		if (classic != nil) != (name == "dev-02") {
			t.Errorf("device %s: classic shadow %q", name, classic)
		}
		return strings.Contains(string(classic), `"2.0"`)
	}
	got, _ := allPages(t, s, store.DeviceQuery{KeepShadow: withShadow})
	if !slices.Equal(got, []string{"dev-02"}) {
		t.Errorf("KeepShadow: %v, want [dev-02]", got)
	}
	got, _ = allPages(t, s, store.DeviceQuery{Search: "dev-09"})
	if len(got) != 0 {
		t.Errorf("deleted device still listed: %v", got)
	}
	wantErr(t, s.CreateDevice(store.Device{Name: "x", Customer: "a", DisplayName: strings.Repeat("n", 200)}), store.ErrInvalid)
}

// TestMigrateDeviceSummaries: devices stored before summaries existed are
// found by a search after the upgrade.
func TestMigrateDeviceSummaries(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	old, err := store.OpenAtSchemaVersion(path, store.SchemaVersionBefore("summarise each device for listings"))
	mustOK(t, err)
	mustOK(t, old.CreateCustomer(store.Customer{Name: "a"}))
	mustOK(t, old.Close())
	if got := boltBuckets(t, path); got["device_summaries"] {
		t.Fatal("the previous schema already has device summaries")
	}
	// A device as the previous release wrote it: the record and its index
	// entry, no summary.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	mustOK(t, err)
	mustOK(t, db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("devices")).Put([]byte("old"), []byte(`{"name":"old","display_name":"Old One","customer":"a","site":"default","type":"ahu"}`)); err != nil {
			return err
		}
		return tx.Bucket([]byte("devices_by_site")).Put([]byte("a\x00default\x00old"), []byte{})
	}))
	mustOK(t, db.Close())

	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	mustOK(t, s.CreateDevice(store.Device{Name: "new", Customer: "a", DisplayName: "New One"}))
	for _, q := range []store.DeviceQuery{{Search: "one"}, {Customer: "a", Search: "ONE"}} {
		got, _ := allPages(t, s, q)
		if !slices.Equal(got, []string{"new", "old"}) {
			t.Errorf("%+v after the upgrade: %v, want [new old]", q, got)
		}
	}
	got, _ := allPages(t, s, store.DeviceQuery{Type: "ahu"})
	if !slices.Equal(got, []string{"old"}) {
		t.Errorf("type ahu after the upgrade: %v, want [old]", got)
	}
}
