package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// FuzzCreateDevice feeds names from provisioning requests to the store: a
// name is either refused with ErrInvalid or stored and read back unchanged,
// and its device is listed under its customer.
func FuzzCreateDevice(f *testing.F) {
	for _, seed := range []struct{ name, customer, site string }{
		{"boiler-1", "acme", ""},
		{"thing:01_A.b$", "acme", "default"},
		{"", "acme", ""},
		{"a/b", "acme", ""},
		{"a+#", "acme", ""},
		{"tab\tname", "acme", ""},
		{"東京-ahu-3", "acme", ""},
		{"\xff\xfe", "acme", ""},
		{strings.Repeat("x", 129), "acme", ""},
		{"dev", "ghost", ""},
		{"dev", "acme", "nowhere"},
		{"dev", "a b", ""},
		{"dev", "..", ""},
	} {
		f.Add(seed.name, seed.customer, seed.site)
	}
	s, _ := openStore(f)
	if err := s.CreateCustomer(store.Customer{Name: "acme"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, customer, site string) {
		err := s.CreateDevice(store.Device{Name: name, Customer: customer, Site: site})
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExists) {
				t.Fatalf("CreateDevice(%q, %q, %q): unexpected error %v", name, customer, site, err)
			}
			return
		}
		d, err := s.GetDevice(name)
		if err != nil {
			t.Fatalf("GetDevice(%q) after create: %v", name, err)
		}
		if d.Name != name || d.Customer != customer {
			t.Fatalf("stored %q of %q, read back %q of %q", name, customer, d.Name, d.Customer)
		}
		list, err := s.ListDevices(store.DeviceFilter{Customer: customer, Site: d.Site})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, l := range list {
			found = found || l.Name == name
		}
		if !found {
			t.Fatalf("device %q missing from its site's list", name)
		}
		if err := s.DeleteDevice(name); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzCreateUser feeds e-mail addresses from sign-up and SSO claims: an
// address is either refused with ErrInvalid or found again under any
// letter case of the same address.
func FuzzCreateUser(f *testing.F) {
	for _, seed := range []string{
		"ops@hearth.example", "Mixed.Case@Example.COM", "", "@", "a@", "@b",
		"a b@c", "a@b@c", "ünï@cödé.example", "a\x00@b", strings.Repeat("a", 250) + "@b.cd",
	} {
		f.Add(seed)
	}
	s, _ := openStore(f)
	f.Fuzz(func(t *testing.T, email string) {
		err := s.CreateUser(store.User{Email: email, Role: store.RoleOperator})
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrExists) {
				t.Fatalf("CreateUser(%q): unexpected error %v", email, err)
			}
			return
		}
		u, err := s.GetUser(email)
		if err != nil {
			t.Fatalf("GetUser(%q) after create: %v", email, err)
		}
		if u.Email != strings.ToLower(email) {
			t.Fatalf("stored %q as %q", email, u.Email)
		}
		if err := s.DeleteUser(email); err != nil {
			t.Fatal(err)
		}
	})
}
