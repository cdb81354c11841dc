package store_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// hash is a distinct token hash per n.
func hash(n int) []byte {
	h := sha256.Sum256([]byte(strconv.Itoa(n)))
	return h[:]
}

func fingerprint(n int) string {
	return fmt.Sprintf("%x", hash(n))
}

func names[T any](records []T, name func(T) string) []string {
	out := make([]string, 0, len(records))
	for _, r := range records {
		out = append(out, name(r))
	}
	return out
}

func siteID(s store.Site) string       { return s.Customer + "/" + s.Name }
func deviceName(d store.Device) string { return d.Name }

func TestCustomers(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)

	acme := store.Customer{Name: "acme", DisplayName: "ACME Hotels", CreatedAt: at(0)}
	mustOK(t, s.CreateCustomer(acme))
	got, err := s.GetCustomer("acme")
	mustOK(t, err)
	if diff := cmp.Diff(acme, got); diff != "" {
		t.Errorf("GetCustomer (-want +got):\n%s", diff)
	}
	site, err := s.GetSite("acme", store.DefaultSite)
	mustOK(t, err)
	if diff := cmp.Diff(store.Site{Customer: "acme", Name: store.DefaultSite, CreatedAt: at(0)}, site); diff != "" {
		t.Errorf("default site (-want +got):\n%s", diff)
	}
	wantErr(t, s.CreateCustomer(store.Customer{Name: "acme"}), store.ErrExists)

	mustOK(t, s.CreateCustomer(store.Customer{Name: "b"}))
	b, err := s.GetCustomer("b")
	mustOK(t, err)
	if b.CreatedAt.IsZero() {
		t.Error("CreatedAt not filled in")
	}
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a-b"}))
	mustOK(t, s.CreateCustomer(store.Customer{Name: "A"}))
	all, err := s.ListCustomers()
	mustOK(t, err)
	if diff := cmp.Diff([]string{"A", "a-b", "acme", "b"}, names(all, func(c store.Customer) string { return c.Name })); diff != "" {
		t.Errorf("ListCustomers order (-want +got):\n%s", diff)
	}

	_, err = s.GetCustomer("ghost")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteCustomer("ghost"), store.ErrNotFound)

	mustOK(t, s.CreateSite(store.Site{Customer: "acme", Name: "tokyo"}))
	mustOK(t, s.DeleteCustomer("acme"))
	_, err = s.GetCustomer("acme")
	wantErr(t, err, store.ErrNotFound)
	sites, err := s.ListSites("")
	mustOK(t, err)
	if diff := cmp.Diff([]string{"A/default", "a-b/default", "b/default"}, names(sites, siteID)); diff != "" {
		t.Errorf("sites after deleting acme (-want +got):\n%s", diff)
	}
	_, err = s.GetSite("acme", "tokyo")
	wantErr(t, err, store.ErrNotFound)

	// The name is free again, and the new customer starts without the old
	// customer's sites.
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))
	sites, err = s.ListSites("acme")
	mustOK(t, err)
	if diff := cmp.Diff([]string{"acme/default"}, names(sites, siteID)); diff != "" {
		t.Errorf("sites of a re-created customer (-want +got):\n%s", diff)
	}
}

func TestCustomerRules(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	tests := []struct {
		name     string
		customer store.Customer
		want     error
	}{
		{"plain", store.Customer{Name: "acme"}, nil},
		{"all allowed characters", store.Customer{Name: "Az09._-"}, nil},
		{"64 bytes", store.Customer{Name: strings.Repeat("x", 64)}, nil},
		{"display name with spaces and unicode", store.Customer{Name: "u", DisplayName: "Hôtel Ünïcode 東京"}, nil},
		{"empty", store.Customer{Name: ""}, store.ErrInvalid},
		{"65 bytes", store.Customer{Name: strings.Repeat("y", 65)}, store.ErrInvalid},
		{"space", store.Customer{Name: "a b"}, store.ErrInvalid},
		{"slash", store.Customer{Name: "a/b"}, store.ErrInvalid},
		{"non-ASCII", store.Customer{Name: "café"}, store.ErrInvalid},
		{"NUL", store.Customer{Name: "a\x00b"}, store.ErrInvalid},
		{"dot", store.Customer{Name: "."}, store.ErrInvalid},
		{"dot dot", store.Customer{Name: ".."}, store.ErrInvalid},
		{"display name control", store.Customer{Name: "c1", DisplayName: "a\nb"}, store.ErrInvalid},
		{"display name too long", store.Customer{Name: "c2", DisplayName: strings.Repeat("z", 129)}, store.ErrInvalid},
		{"display name bad UTF-8", store.Customer{Name: "c3", DisplayName: "\xff"}, store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateCustomer(tt.customer)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CreateCustomer(%q): got %v, want %v", tt.customer.Name, err, tt.want)
			}
			if tt.want != nil && tt.customer.Name != "" {
				if !strings.Contains(err.Error(), "create customer") {
					t.Errorf("error %q does not say what failed", err)
				}
				if _, err := s.GetCustomer(tt.customer.Name); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("refused customer was written: %v", err)
				}
			}
		})
	}
}

func TestDeleteCustomerRefusesWhileInUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		add     func(*store.Store) error
		remove  func(*store.Store) error
		message string
	}{
		{
			name: "device",
			add: func(s *store.Store) error {
				return s.CreateDevice(store.Device{Name: "d1", Customer: "acme", Site: "tokyo"})
			},
			remove:  func(s *store.Store) error { return s.DeleteDevice("d1") },
			message: "1 devices",
		},
		{
			name: "user",
			add: func(s *store.Store) error {
				return s.CreateUser(store.User{Email: "fm@acme.example", Role: store.RoleCustomer, Customer: "acme"})
			},
			remove:  func(s *store.Store) error { return s.DeleteUser("fm@acme.example") },
			message: "1 users",
		},
		{
			name: "token",
			add: func(s *store.Store) error {
				return s.CreateToken(store.Token{ID: "t1", Role: store.RoleCustomer, Customer: "acme", Hash: hash(1)})
			},
			remove:  func(s *store.Store) error { return s.DeleteToken("t1") },
			message: "1 API tokens",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := openStore(t)
			mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))
			mustOK(t, s.CreateSite(store.Site{Customer: "acme", Name: "tokyo"}))
			mustOK(t, tt.add(s))

			err := s.DeleteCustomer("acme")
			wantErr(t, err, store.ErrInvalid)
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
			if _, err := s.GetSite("acme", "tokyo"); err != nil {
				t.Errorf("refused delete removed a site: %v", err)
			}
			mustOK(t, tt.remove(s))
			mustOK(t, s.DeleteCustomer("acme"))
		})
	}
}

func TestSites(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	for _, c := range []string{"a", "a-b"} {
		mustOK(t, s.CreateCustomer(store.Customer{Name: c}))
	}

	err := s.CreateSite(store.Site{Customer: "ghost", Name: "x"})
	wantErr(t, err, store.ErrNotFound)
	if !strings.Contains(err.Error(), `customer "ghost"`) {
		t.Errorf("error %q does not name the missing customer", err)
	}
	wantErr(t, s.CreateSite(store.Site{Customer: "a", Name: "bad name"}), store.ErrInvalid)
	wantErr(t, s.CreateSite(store.Site{Customer: "a", Name: ""}), store.ErrInvalid)
	wantErr(t, s.CreateSite(store.Site{Customer: "a", Name: store.DefaultSite}), store.ErrExists)

	x := store.Site{Customer: "a", Name: "x", DisplayName: "Site X", CreatedAt: at(5)}
	mustOK(t, s.CreateSite(x))
	wantErr(t, s.CreateSite(x), store.ErrExists)
	got, err := s.GetSite("a", "x")
	mustOK(t, err)
	if diff := cmp.Diff(x, got); diff != "" {
		t.Errorf("GetSite (-want +got):\n%s", diff)
	}
	_, err = s.GetSite("a", "y")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetSite("ghost", "x")
	wantErr(t, err, store.ErrNotFound)
	if !strings.Contains(err.Error(), `customer "ghost"`) {
		t.Errorf("error %q does not say the customer is missing", err)
	}

	// Sorted by customer first: "a" before "a-b", though "a-" < "a/" as bytes.
	all, err := s.ListSites("")
	mustOK(t, err)
	if diff := cmp.Diff([]string{"a/default", "a/x", "a-b/default"}, names(all, siteID)); diff != "" {
		t.Errorf("ListSites(\"\") (-want +got):\n%s", diff)
	}
	ofA, err := s.ListSites("a")
	mustOK(t, err)
	if diff := cmp.Diff([]string{"a/default", "a/x"}, names(ofA, siteID)); diff != "" {
		t.Errorf("ListSites(a) (-want +got):\n%s", diff)
	}
	_, err = s.ListSites("ghost")
	wantErr(t, err, store.ErrNotFound)

	wantErr(t, s.DeleteSite("a", store.DefaultSite), store.ErrInvalid)
	wantErr(t, s.DeleteSite("a", "y"), store.ErrNotFound)
	mustOK(t, s.CreateDevice(store.Device{Name: "d1", Customer: "a", Site: "x"}))
	wantErr(t, s.DeleteSite("a", "x"), store.ErrInvalid)
	mustOK(t, s.DeleteDevice("d1"))
	mustOK(t, s.DeleteSite("a", "x"))
	_, err = s.GetSite("a", "x")
	wantErr(t, err, store.ErrNotFound)
}

// fleet creates customers a and b, site a/x, and devices spread over them.
func fleet(t *testing.T, s *store.Store) {
	t.Helper()
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	mustOK(t, s.CreateCustomer(store.Customer{Name: "b"}))
	mustOK(t, s.CreateSite(store.Site{Customer: "a", Name: "x"}))
	for _, d := range []store.Device{
		{Name: "d5", Customer: "a", Site: "x"},
		{Name: "d1", Customer: "b"},
		{Name: "d3", Customer: "a"},
		{Name: "d2", Customer: "a", Site: "x"},
		{Name: "d4", Customer: "a", Site: store.DefaultSite},
	} {
		mustOK(t, s.CreateDevice(d))
	}
}

func TestDevices(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	fleet(t, s)

	want := store.Device{
		Name: "chiller-1", Customer: "a", Site: "x", Type: "chiller",
		Attributes: map[string]string{"model": "X1", "floor": "B2"},
		CreatedAt:  at(7),
		Credentials: []store.Credential{
			{ID: "s1", Kind: store.CredentialSecret, SecretHash: []byte{9, 9}, CreatedAt: at(7)},
			{ID: "c1", Kind: store.CredentialCertificate, CertSerial: "01ab", Fingerprint: fingerprint(1), NotAfter: at(8), CreatedAt: at(7), RevokedAt: new(at(9))},
		},
	}
	mustOK(t, s.CreateDevice(want))
	got, err := s.GetDevice("chiller-1")
	mustOK(t, err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetDevice (-want +got):\n%s", diff)
	}
	if got.Credentials[0].Active() == false || got.Credentials[1].Active() {
		t.Errorf("Active() wrong after round trip: %+v", got.Credentials)
	}
	wantErr(t, s.CreateDevice(store.Device{Name: "chiller-1", Customer: "b"}), store.ErrExists)

	d3, err := s.GetDevice("d3")
	mustOK(t, err)
	if d3.Site != store.DefaultSite || d3.CreatedAt.IsZero() {
		t.Errorf("defaults not applied: %+v", d3)
	}

	err = s.CreateDevice(store.Device{Name: "n1", Customer: "ghost"})
	wantErr(t, err, store.ErrNotFound)
	if !strings.Contains(err.Error(), `create device "n1": customer "ghost"`) {
		t.Errorf("error %q does not say which customer is missing", err)
	}
	err = s.CreateDevice(store.Device{Name: "n1", Customer: "b", Site: "x"})
	wantErr(t, err, store.ErrNotFound)
	if !strings.Contains(err.Error(), `site "x" of customer "b"`) {
		t.Errorf("error %q does not say which site is missing", err)
	}
	_, err = s.GetDevice("n1")
	wantErr(t, err, store.ErrNotFound)

	_, err = s.GetDevice("ghost")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteDevice("ghost"), store.ErrNotFound)

	mustOK(t, s.DeleteDevice("chiller-1"))
	_, err = s.GetDevice("chiller-1")
	wantErr(t, err, store.ErrNotFound)
	list, err := s.ListDevices(store.DeviceFilter{Customer: "a", Site: "x"})
	mustOK(t, err)
	if diff := cmp.Diff([]string{"d2", "d5"}, names(list, deviceName)); diff != "" {
		t.Errorf("devices of a/x after delete (-want +got):\n%s", diff)
	}
}

func TestListDevices(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	fleet(t, s)
	tests := []struct {
		filter store.DeviceFilter
		want   []string
		err    error
	}{
		{store.DeviceFilter{}, []string{"d1", "d2", "d3", "d4", "d5"}, nil},
		{store.DeviceFilter{Customer: "a"}, []string{"d2", "d3", "d4", "d5"}, nil},
		{store.DeviceFilter{Customer: "a", Site: "x"}, []string{"d2", "d5"}, nil},
		{store.DeviceFilter{Customer: "a", Site: store.DefaultSite}, []string{"d3", "d4"}, nil},
		{store.DeviceFilter{Site: store.DefaultSite}, []string{"d1", "d3", "d4"}, nil},
		{store.DeviceFilter{Site: "nowhere"}, []string{}, nil},
		{store.DeviceFilter{Customer: "ghost"}, nil, store.ErrNotFound},
		{store.DeviceFilter{Customer: "a", Site: "nowhere"}, nil, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.filter.Customer, tt.filter.Site), func(t *testing.T) {
			got, err := s.ListDevices(tt.filter)
			if tt.err != nil {
				wantErr(t, err, tt.err)
				return
			}
			mustOK(t, err)
			if got == nil {
				t.Error("ListDevices returned nil, want an empty list")
			}
			if diff := cmp.Diff(tt.want, names(got, deviceName)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeviceRules(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	ok := store.Device{Name: "dev", Customer: "a"}
	with := func(f func(d *store.Device)) store.Device {
		d := ok
		f(&d)
		return d
	}
	secret := func(id string) store.Credential {
		return store.Credential{ID: id, Kind: store.CredentialSecret, SecretHash: []byte{1}}
	}
	tests := []struct {
		name   string
		device store.Device
	}{
		{"empty name", with(func(d *store.Device) { d.Name = "" })},
		{"name with slash", with(func(d *store.Device) { d.Name = "a/b" })},
		{"name with plus", with(func(d *store.Device) { d.Name = "a+" })},
		{"name with hash", with(func(d *store.Device) { d.Name = "#" })},
		{"name with newline", with(func(d *store.Device) { d.Name = "a\nb" })},
		{"name of 129 bytes", with(func(d *store.Device) { d.Name = strings.Repeat("n", 129) })},
		{"no customer", with(func(d *store.Device) { d.Customer = "" })},
		{"bad site name", with(func(d *store.Device) { d.Site = "x y" })},
		{"type with control", with(func(d *store.Device) { d.Type = "\x07" })},
		{"empty attribute name", with(func(d *store.Device) { d.Attributes = map[string]string{"": "v"} })},
		{"attribute too long", with(func(d *store.Device) { d.Attributes = map[string]string{"k": strings.Repeat("v", 1025)} })},
		{"unknown credential kind", with(func(d *store.Device) { d.Credentials = []store.Credential{{ID: "c", Kind: "password"}} })},
		{"credential without id", with(func(d *store.Device) { d.Credentials = []store.Credential{secret("")} })},
		{"secret without hash", with(func(d *store.Device) {
			d.Credentials = []store.Credential{{ID: "c", Kind: store.CredentialSecret}}
		})},
		{"certificate with upper-case fingerprint", with(func(d *store.Device) {
			d.Credentials = []store.Credential{{ID: "c", Kind: store.CredentialCertificate, Fingerprint: strings.ToUpper(fingerprint(1))}}
		})},
		{"certificate with short fingerprint", with(func(d *store.Device) {
			d.Credentials = []store.Credential{{ID: "c", Kind: store.CredentialCertificate, Fingerprint: "abcd"}}
		})},
		{"duplicate credential id", with(func(d *store.Device) { d.Credentials = []store.Credential{secret("c"), secret("c")} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, s.CreateDevice(tt.device), store.ErrInvalid)
			all, err := s.ListDevices(store.DeviceFilter{})
			mustOK(t, err)
			if len(all) != 0 {
				t.Errorf("refused device was written: %v", names(all, deviceName))
			}
		})
	}
	// The longest accepted name, with characters a topic level allows.
	mustOK(t, s.CreateDevice(with(func(d *store.Device) { d.Name = strings.Repeat("é", 64) })))
	mustOK(t, s.CreateDevice(with(func(d *store.Device) { d.Name = "thing:1_A-b.c$" })))
}

func TestUpdateDevice(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	fleet(t, s)
	orig := store.Device{
		Name: "dev", Customer: "a", Site: "x", Type: "boiler",
		Attributes:  map[string]string{"fw": "1.0"},
		CreatedAt:   at(10),
		Credentials: []store.Credential{{ID: "s1", Kind: store.CredentialSecret, SecretHash: []byte{1}, CreatedAt: at(10)}},
	}
	mustOK(t, s.CreateDevice(orig))

	errAbort := errors.New("abort")
	refused := []struct {
		name string
		fn   func(*store.Device) error
		want error
	}{
		{"fn fails after changing", func(d *store.Device) error {
			d.Type = "changed"
			d.Attributes["fw"] = "9.9"
			d.Credentials[0].SecretHash[0] = 7
			return errAbort
		}, errAbort},
		{"rename", func(d *store.Device) error { d.Name = "other"; return nil }, store.ErrInvalid},
		{"other customer", func(d *store.Device) error { d.Customer = "b"; return nil }, store.ErrInvalid},
		{"missing site", func(d *store.Device) error { d.Site = "nowhere"; return nil }, store.ErrNotFound},
		{"invalid credential", func(d *store.Device) error {
			d.Credentials = append(d.Credentials, store.Credential{ID: "s1", Kind: store.CredentialSecret, SecretHash: []byte{2}})
			return nil
		}, store.ErrInvalid},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateDevice("dev", tt.fn)
			wantErr(t, err, tt.want)
			got, err := s.GetDevice("dev")
			mustOK(t, err)
			if diff := cmp.Diff(orig, got); diff != "" {
				t.Errorf("refused update changed the device (-want +got):\n%s", diff)
			}
			inX, err := s.ListDevices(store.DeviceFilter{Customer: "a", Site: "x"})
			mustOK(t, err)
			if diff := cmp.Diff([]string{"d2", "d5", "dev"}, names(inX, deviceName)); diff != "" {
				t.Errorf("refused update changed the site index (-want +got):\n%s", diff)
			}
		})
	}

	_, err := s.UpdateDevice("ghost", func(*store.Device) error { return nil })
	wantErr(t, err, store.ErrNotFound)

	updated, err := s.UpdateDevice("dev", func(d *store.Device) error {
		d.Site = "" // back to the default site
		d.Type = "chiller"
		d.Attributes["fw"] = "2.0"
		d.Credentials = append(d.Credentials, store.Credential{ID: "c1", Kind: store.CredentialCertificate, Fingerprint: fingerprint(2)})
		return nil
	})
	mustOK(t, err)
	want := orig
	want.Site = store.DefaultSite
	want.Type = "chiller"
	want.Attributes = map[string]string{"fw": "2.0"}
	want.Credentials = []store.Credential{orig.Credentials[0], {ID: "c1", Kind: store.CredentialCertificate, Fingerprint: fingerprint(2)}}
	if diff := cmp.Diff(want, updated); diff != "" {
		t.Errorf("UpdateDevice result (-want +got):\n%s", diff)
	}
	got, err := s.GetDevice("dev")
	mustOK(t, err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetDevice after update (-want +got):\n%s", diff)
	}
	inDefault, err := s.ListDevices(store.DeviceFilter{Customer: "a", Site: store.DefaultSite})
	mustOK(t, err)
	if diff := cmp.Diff([]string{"d3", "d4", "dev"}, names(inDefault, deviceName)); diff != "" {
		t.Errorf("index after moving site (-want +got):\n%s", diff)
	}
	// The old site no longer holds the device, so it can go.
	mustOK(t, s.DeleteDevice("d2"))
	mustOK(t, s.DeleteDevice("d5"))
	mustOK(t, s.DeleteSite("a", "x"))
}

func TestUpdateDeviceConcurrent(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	mustOK(t, s.CreateDevice(store.Device{Name: "counter", Customer: "a", Attributes: map[string]string{"n": "0"}}))
	const workers, each = 4, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := s.UpdateDevice("counter", func(d *store.Device) error {
					n, err := strconv.Atoi(d.Attributes["n"])
					d.Attributes["n"] = strconv.Itoa(n + 1)
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	d, err := s.GetDevice("counter")
	mustOK(t, err)
	if got := d.Attributes["n"]; got != strconv.Itoa(workers*each) {
		t.Errorf("counter = %s after %d updates: updates were lost", got, workers*each)
	}
}

func TestReturnedRecordsAreCopies(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	in := store.Device{
		Name: "dev", Customer: "a", Attributes: map[string]string{"k": "v"}, CreatedAt: at(0),
		Credentials: []store.Credential{{ID: "s1", Kind: store.CredentialSecret, SecretHash: []byte{1, 2}}},
	}
	mustOK(t, s.CreateDevice(in))
	want, err := s.GetDevice("dev")
	mustOK(t, err)

	mutate := func(d *store.Device) {
		d.Attributes["k"] = "changed"
		d.Attributes["new"] = "x"
		d.Credentials[0].SecretHash[0] = 99
		d.Credentials[0].ID = "changed"
	}
	mutate(&in)
	got, err := s.GetDevice("dev")
	mustOK(t, err)
	mutate(&got)
	list, err := s.ListDevices(store.DeviceFilter{Customer: "a"})
	mustOK(t, err)
	mutate(&list[0])
	updated, err := s.UpdateDevice("dev", func(*store.Device) error { return nil })
	mustOK(t, err)
	mutate(&updated)

	again, err := s.GetDevice("dev")
	mustOK(t, err)
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("mutating returned records changed the store (-want +got):\n%s", diff)
	}

	tok := store.Token{ID: "t", Role: store.RoleOperator, Hash: hash(1), CreatedAt: at(0)}
	mustOK(t, s.CreateToken(tok))
	gotTok, err := s.TokenByHash(hash(1))
	mustOK(t, err)
	gotTok.Hash[0] ^= 0xff
	if _, err := s.TokenByHash(hash(1)); err != nil {
		t.Errorf("mutating a returned token's hash changed the store: %v", err)
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))

	fm := store.User{Email: "Facility.Manager@ACME.example", Role: store.RoleCustomer, Customer: "acme", PasswordHash: "$argon2id$x", CreatedAt: at(0)}
	mustOK(t, s.CreateUser(fm))
	got, err := s.GetUser("FACILITY.manager@acme.EXAMPLE")
	mustOK(t, err)
	want := fm
	want.Email = "facility.manager@acme.example"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetUser (-want +got):\n%s", diff)
	}
	wantErr(t, s.CreateUser(store.User{Email: "facility.manager@acme.example", Role: store.RoleOperator}), store.ErrExists)
	mustOK(t, s.CreateUser(store.User{Email: "ops@hearth.example", Role: store.RoleOperator, MustChangePassword: true}))
	mustOK(t, s.CreateUser(store.User{Email: "a@hearth.example", Role: store.RoleOperator}))
	all, err := s.ListUsers()
	mustOK(t, err)
	if diff := cmp.Diff([]string{"a@hearth.example", "facility.manager@acme.example", "ops@hearth.example"}, names(all, func(u store.User) string { return u.Email })); diff != "" {
		t.Errorf("ListUsers (-want +got):\n%s", diff)
	}

	_, err = s.GetUser("ghost@acme.example")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteUser("ghost@acme.example"), store.ErrNotFound)
	_, err = s.UpdateUser("ghost@acme.example", func(*store.User) error { return nil })
	wantErr(t, err, store.ErrNotFound)

	errAbort := errors.New("abort")
	refused := []struct {
		name string
		fn   func(*store.User) error
		want error
	}{
		{"fn fails", func(u *store.User) error { u.PasswordHash = "x"; return errAbort }, errAbort},
		{"new e-mail", func(u *store.User) error { u.Email = "other@acme.example"; return nil }, store.ErrInvalid},
		{"unknown role", func(u *store.User) error { u.Role = "admin"; return nil }, store.ErrInvalid},
		{"operator with customer", func(u *store.User) error { u.Role = store.RoleOperator; return nil }, store.ErrInvalid},
		{"customer missing", func(u *store.User) error { u.Customer = "ghost"; return nil }, store.ErrNotFound},
		{"customer role without customer", func(u *store.User) error { u.Customer = ""; return nil }, store.ErrInvalid},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateUser(want.Email, tt.fn)
			wantErr(t, err, tt.want)
			got, err := s.GetUser(want.Email)
			mustOK(t, err)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("refused update changed the user (-want +got):\n%s", diff)
			}
		})
	}

	updated, err := s.UpdateUser(want.Email, func(u *store.User) error {
		u.Email = "FACILITY.MANAGER@acme.example" // letter case only
		u.Role = store.RoleOperator
		u.Customer = ""
		u.MustChangePassword = true
		return nil
	})
	mustOK(t, err)
	want.Role, want.Customer, want.MustChangePassword = store.RoleOperator, "", true
	if diff := cmp.Diff(want, updated); diff != "" {
		t.Errorf("UpdateUser (-want +got):\n%s", diff)
	}
	got, err = s.GetUser(want.Email)
	mustOK(t, err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetUser after update (-want +got):\n%s", diff)
	}

	mustOK(t, s.DeleteUser("Ops@Hearth.example"))
	_, err = s.GetUser("ops@hearth.example")
	wantErr(t, err, store.ErrNotFound)
}

func TestUserRules(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))
	tests := []struct {
		name string
		user store.User
		want error
	}{
		{"operator", store.User{Email: "op@x.example", Role: store.RoleOperator}, nil},
		{"customer", store.User{Email: "fm@x.example", Role: store.RoleCustomer, Customer: "acme"}, nil},
		{"empty e-mail", store.User{Role: store.RoleOperator}, store.ErrInvalid},
		{"no at", store.User{Email: "op.x.example", Role: store.RoleOperator}, store.ErrInvalid},
		{"nothing after at", store.User{Email: "op@", Role: store.RoleOperator}, store.ErrInvalid},
		{"nothing before at", store.User{Email: "@x.example", Role: store.RoleOperator}, store.ErrInvalid},
		{"space", store.User{Email: "o p@x.example", Role: store.RoleOperator}, store.ErrInvalid},
		{"control", store.User{Email: "op\r@x.example", Role: store.RoleOperator}, store.ErrInvalid},
		{"too long", store.User{Email: strings.Repeat("o", 250) + "@x.ex", Role: store.RoleOperator}, store.ErrInvalid},
		{"no role", store.User{Email: "r1@x.example"}, store.ErrInvalid},
		{"unknown role", store.User{Email: "r2@x.example", Role: "admin"}, store.ErrInvalid},
		{"operator with customer", store.User{Email: "r3@x.example", Role: store.RoleOperator, Customer: "acme"}, store.ErrInvalid},
		{"customer without customer", store.User{Email: "r4@x.example", Role: store.RoleCustomer}, store.ErrInvalid},
		{"customer of missing customer", store.User{Email: "r5@x.example", Role: store.RoleCustomer, Customer: "ghost"}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateUser(tt.user)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CreateUser(%+v): got %v, want %v", tt.user, err, tt.want)
			}
			if tt.want != nil && tt.user.Email != "" {
				if _, err := s.GetUser(tt.user.Email); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("refused user was written: %v", err)
				}
			}
		})
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))

	grafana := store.Token{ID: "tok-2", Name: "grafana", Role: store.RoleCustomer, Customer: "acme", Hash: hash(2), CreatedAt: at(0)}
	mustOK(t, s.CreateToken(grafana))
	mustOK(t, s.CreateToken(store.Token{ID: "tok-1", Role: store.RoleOperator, Hash: hash(1)}))

	got, err := s.GetToken("tok-2")
	mustOK(t, err)
	if diff := cmp.Diff(grafana, got); diff != "" {
		t.Errorf("GetToken (-want +got):\n%s", diff)
	}
	got, err = s.TokenByHash(hash(2))
	mustOK(t, err)
	if diff := cmp.Diff(grafana, got); diff != "" {
		t.Errorf("TokenByHash (-want +got):\n%s", diff)
	}
	all, err := s.ListTokens()
	mustOK(t, err)
	if diff := cmp.Diff([]string{"tok-1", "tok-2"}, names(all, func(t store.Token) string { return t.ID })); diff != "" {
		t.Errorf("ListTokens (-want +got):\n%s", diff)
	}

	refused := []struct {
		name  string
		token store.Token
		want  error
	}{
		{"same id", store.Token{ID: "tok-1", Role: store.RoleOperator, Hash: hash(3)}, store.ErrExists},
		{"same hash", store.Token{ID: "tok-3", Role: store.RoleOperator, Hash: hash(1)}, store.ErrExists},
		{"short hash", store.Token{ID: "tok-4", Role: store.RoleOperator, Hash: hash(4)[:31]}, store.ErrInvalid},
		{"no hash", store.Token{ID: "tok-5", Role: store.RoleOperator}, store.ErrInvalid},
		{"empty id", store.Token{Role: store.RoleOperator, Hash: hash(6)}, store.ErrInvalid},
		{"unknown role", store.Token{ID: "tok-7", Role: "root", Hash: hash(7)}, store.ErrInvalid},
		{"operator with customer", store.Token{ID: "tok-8", Role: store.RoleOperator, Customer: "acme", Hash: hash(8)}, store.ErrInvalid},
		{"missing customer", store.Token{ID: "tok-9", Role: store.RoleCustomer, Customer: "ghost", Hash: hash(9)}, store.ErrNotFound},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, s.CreateToken(tt.token), tt.want)
			all, err := s.ListTokens()
			mustOK(t, err)
			if len(all) != 2 {
				t.Errorf("refused token was written: %v", all)
			}
		})
	}

	_, err = s.GetToken("ghost")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.TokenByHash(hash(99))
	wantErr(t, err, store.ErrNotFound)
	_, err = s.TokenByHash(nil)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteToken("ghost"), store.ErrNotFound)

	mustOK(t, s.DeleteToken("tok-1"))
	_, err = s.GetToken("tok-1")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.TokenByHash(hash(1))
	wantErr(t, err, store.ErrNotFound)
	// The hash is free again once its index entry is gone.
	mustOK(t, s.CreateToken(store.Token{ID: "tok-10", Role: store.RoleOperator, Hash: hash(1)}))
	got, err = s.TokenByHash(hash(1))
	mustOK(t, err)
	if got.ID != "tok-10" {
		t.Errorf("TokenByHash = %q, want tok-10", got.ID)
	}
}

// A long list is decoded on several processors; it must come out whole,
// in key order, each record its own.
func TestListDevicesLong(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "a"}))
	const n = 3001
	ds := make([]store.Device, 0, n)
	for i := range n {
		// Created out of name order.
		name := fmt.Sprintf("dev-%05d", (i*7919)%n)
		ds = append(ds, store.Device{Name: name, Customer: "a", Site: store.DefaultSite, Attributes: map[string]string{"me": name}})
	}
	mustOK(t, s.CreateDevices(ds))
	got, err := s.ListDevices(store.DeviceFilter{})
	mustOK(t, err)
	if len(got) != n {
		t.Fatalf("%d devices listed; want %d", len(got), n)
	}
	for i, d := range got {
		if want := fmt.Sprintf("dev-%05d", i); d.Name != want || d.Attributes["me"] != want {
			t.Fatalf("device %d is %q with attribute %q; want %q", i, d.Name, d.Attributes["me"], want)
		}
	}
}
