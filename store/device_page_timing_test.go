package store_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// pageFleetSize is the fleet the device pages must serve quickly.
const pageFleetSize = 50_000

// BenchmarkPageDevices reads one page of 50 from 50,000 devices of ten
// customers, each with a credential and attributes as real devices have.
func BenchmarkPageDevices(b *testing.B) {
	s, err := store.Open(filepath.Join(b.TempDir(), "hearth.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for c := range 10 {
		if err := s.CreateCustomer(store.Customer{Name: fmt.Sprintf("customer-%d", c)}); err != nil {
			b.Fatal(err)
		}
		for site := range 10 {
			if err := s.CreateSite(store.Site{Customer: fmt.Sprintf("customer-%d", c), Name: fmt.Sprintf("site-%d", site)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	ds := make([]store.Device, 0, pageFleetSize)
	for i := range pageFleetSize {
		ds = append(ds, store.Device{
			Name:        fmt.Sprintf("device-%05d", i),
			DisplayName: fmt.Sprintf("Air handler %d", i),
			Customer:    fmt.Sprintf("customer-%d", i%10),
			Site:        fmt.Sprintf("site-%d", i/10%10),
			Type:        []string{"ahu", "co2"}[i%2],
			Attributes:  map[string]string{"model": "AHU-200", "fw": "1.4.2"},
			Credentials: []store.Credential{{ID: "s1", Kind: store.CredentialSecret, SecretHash: hash(i)}},
		})
	}
	if err := s.CreateDevicesInOneTransaction(ds); err != nil {
		b.Fatal(err)
	}
	// The cursor of page 500 is the last name of page 499.
	page500 := store.DeviceQuery{}
	for range 499 {
		p, err := s.PageDevices(page500)
		if err != nil {
			b.Fatal(err)
		}
		page500.Cursor = p.Next
	}
	for _, bb := range []struct {
		name string
		q    store.DeviceQuery
		want int
	}{
		{"page 1", store.DeviceQuery{}, 50},
		{"page 500", page500, 50},
		{"customer and site", store.DeviceQuery{Customer: "customer-3", Site: "site-4"}, 50},
		{"type", store.DeviceQuery{Type: "co2"}, 50},
		{"search, 11 matches in the whole fleet", store.DeviceQuery{Search: "HANDLER 4999"}, 11},
		{"search by name, no match", store.DeviceQuery{Search: "nothing"}, 0},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				p, err := s.PageDevices(bb.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Devices) != bb.want {
					b.Fatalf("page of %d devices, want %d", len(p.Devices), bb.want)
				}
			}
		})
	}
}
