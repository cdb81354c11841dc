package store_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// benchFleetSize is the fleet of one box that ListDevices must serve.
const benchFleetSize = 10_000

// benchStore opens a store with benchFleetSize devices spread over ten
// customers of ten sites each.
func benchStore(b *testing.B) *store.Store {
	b.Helper()
	s, err := store.Open(filepath.Join(b.TempDir(), "hearth.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ds := make([]store.Device, 0, benchFleetSize)
	for c := range 10 {
		customer := fmt.Sprintf("customer-%d", c)
		if err := s.CreateCustomer(store.Customer{Name: customer}); err != nil {
			b.Fatal(err)
		}
		for site := range 10 {
			if err := s.CreateSite(store.Site{Customer: customer, Name: fmt.Sprintf("site-%d", site)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range benchFleetSize {
		ds = append(ds, store.Device{
			Name:       fmt.Sprintf("device-%05d", i),
			Customer:   fmt.Sprintf("customer-%d", i%10),
			Site:       fmt.Sprintf("site-%d", i/10%10),
			Type:       "ahu",
			Attributes: map[string]string{"model": "AHU-200", "fw": "1.4.2"},
			Credentials: []store.Credential{
				{ID: "s1", Kind: store.CredentialSecret, SecretHash: hash(i)},
			},
		})
	}
	if err := s.CreateDevicesInOneTransaction(ds); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkGetDevice(b *testing.B) {
	s := benchStore(b)
	i := 0
	for b.Loop() {
		if _, err := s.GetDevice(fmt.Sprintf("device-%05d", i%benchFleetSize)); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

func BenchmarkTokenByHash(b *testing.B) {
	s, err := store.Open(filepath.Join(b.TempDir(), "hearth.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const tokens = 100
	for i := range tokens {
		if err := s.CreateToken(store.Token{ID: fmt.Sprintf("tok-%d", i), Role: store.RoleOperator, Hash: hash(i)}); err != nil {
			b.Fatal(err)
		}
	}
	hashes := make([][]byte, tokens)
	for i := range hashes {
		hashes[i] = hash(i)
	}
	i := 0
	for b.Loop() {
		if _, err := s.TokenByHash(hashes[i%tokens]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkListDevices(b *testing.B) {
	s := benchStore(b)
	for _, bb := range []struct {
		name   string
		filter store.DeviceFilter
		want   int
	}{
		{"all", store.DeviceFilter{}, benchFleetSize},
		{"customer", store.DeviceFilter{Customer: "customer-3"}, benchFleetSize / 10},
		{"site", store.DeviceFilter{Customer: "customer-3", Site: "site-4"}, benchFleetSize / 100},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				ds, err := s.ListDevices(bb.filter)
				if err != nil {
					b.Fatal(err)
				}
				if len(ds) != bb.want {
					b.Fatalf("listed %d devices, want %d", len(ds), bb.want)
				}
			}
		})
	}
}
