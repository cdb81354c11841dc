package store_test

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

func TestSSOProviders(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	p := store.SSOProvider{Name: "acme-sso", DisplayName: "Acme Okta", Issuer: "https://acme.okta.example", ClientID: "hearth", ClientSecret: "s3cret"}
	first, created, err := s.PutSSOProvider(p)
	mustOK(t, err)
	if !created || first.CreatedAt.IsZero() || first.ClientSecret != "s3cret" {
		t.Fatalf("created %+v", first)
	}
	// An edit that leaves the secret empty keeps it.
	p.DisplayName, p.ClientSecret = "Acme", ""
	second, created, err := s.PutSSOProvider(p)
	mustOK(t, err)
	if created || second.ClientSecret != "s3cret" || !second.CreatedAt.Equal(first.CreatedAt) || second.DisplayName != "Acme" {
		t.Errorf("edit: %+v", second)
	}
	got, err := s.GetSSOProvider("acme-sso")
	mustOK(t, err)
	if diff := cmp.Diff(second, got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	_, _, err = s.PutSSOProvider(store.SSOProvider{Name: "globex", Issuer: "http://127.0.0.1:5556/dex", ClientID: "h", ClientSecret: "x"})
	mustOK(t, err)
	list, err := s.ListSSOProviders()
	mustOK(t, err)
	if len(list) != 2 || list[0].Name != "acme-sso" || list[1].Name != "globex" {
		t.Errorf("list %+v", list)
	}
	mustOK(t, s.DeleteSSOProvider("globex"))
	if _, err := s.GetSSOProvider("globex"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if err := s.DeleteSSOProvider("globex"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
}

func TestSSOProviderRefused(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	ok := store.SSOProvider{Name: "okta", Issuer: "https://idp.example", ClientID: "hearth", ClientSecret: "x"}
	for _, tt := range []struct {
		name string
		edit func(*store.SSOProvider)
		want string
	}{
		{"name with a slash", func(p *store.SSOProvider) { p.Name = "a/b" }, "provider name"},
		{"upper-case name", func(p *store.SSOProvider) { p.Name = "Okta" }, "only lower-case"},
		{"no issuer", func(p *store.SSOProvider) { p.Issuer = "" }, "issuer is empty"},
		{"issuer not a URL", func(p *store.SSOProvider) { p.Issuer = "idp.example" }, "an http or https URL"},
		{"issuer with a query", func(p *store.SSOProvider) { p.Issuer = "https://idp.example/?a=1" }, "without query"},
		{"ftp issuer", func(p *store.SSOProvider) { p.Issuer = "ftp://idp.example" }, "an http or https URL"},
		{"no client id", func(p *store.SSOProvider) { p.ClientID = "" }, "client id is empty"},
		{"no secret on create", func(p *store.SSOProvider) { p.ClientSecret = "" }, "client secret is empty"},
		{"control character", func(p *store.SSOProvider) { p.DisplayName = "a\nb" }, "control character"},
		{"a secret with a line break is not quoted", func(p *store.SSOProvider) { p.ClientSecret = "TOPSECRET-value\n" }, "client secret contains white space"},
	} {
		p := ok
		tt.edit(&p)
		_, _, err := s.PutSSOProvider(p)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "TOPSECRET") {
			t.Errorf("%s: %v; want ErrInvalid saying %q", tt.name, err, tt.want)
		}
	}
	if list, _ := s.ListSSOProviders(); len(list) != 0 {
		t.Errorf("refused providers were stored: %+v", list)
	}
}

// An issuer may not send the server to the cloud's instance metadata,
// another link-local host or itself; one for a single customer is https
// but on a loopback host.
func TestSSOProviderIssuerHost(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))
	const (
		metadata  = "instance metadata service"
		linkLocal = "link-local address"
		zero      = "unspecified address"
		numeric   = "dotted decimal"
		https     = "needs an https issuer"
	)
	for _, tt := range []struct {
		issuer   string
		customer string
		want     string // "" = accepted
	}{
		{"http://169.254.169.254/latest/meta-data/", "acme", metadata},
		{"https://169.254.169.254/", "", metadata},
		{"https://169.254.10.1/", "", linkLocal},
		{"https://[fe80::1]/", "acme", linkLocal},
		{"https://[::ffff:169.254.169.254]/", "", metadata},
		{"https://[fd00:ec2::254]/", "", metadata},
		{"https://100.100.100.200/", "", metadata},
		{"http://metadata.google.internal/computeMetadata/v1/", "", metadata},
		{"https://METADATA.google.internal./", "acme", metadata},
		{"http://metadata/", "", metadata},
		{"https://0.0.0.0/", "", zero},
		{"https://[::]:8443/", "acme", zero},
		{"https://2852039166/", "", numeric},
		{"https://0xa9.0xfe.0xa9.0xfe/", "", numeric},
		{"http://idp.acme.example/", "acme", https},
		{"http://10.0.0.5:8080/realms/acme", "acme", https},
		{"https://idp.acme.example/", "acme", ""},
		{"http://127.0.0.1:5556/dex", "acme", ""},
		{"http://[::1]:5556/", "acme", ""},
		{"http://localhost:8080/realms/acme", "acme", ""},
		{"http://keycloak.lan:8080/realms/ops", "", ""},
		{"https://10.0.0.5/realms/ops", "", ""},
	} {
		p := store.SSOProvider{Name: "idp", Issuer: tt.issuer, ClientID: "hearth", ClientSecret: "x", Customer: tt.customer}
		_, _, err := s.PutSSOProvider(p)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("issuer %s (customer %q): %v; want accepted", tt.issuer, tt.customer, err)
		case tt.want != "" && (!errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("issuer %s (customer %q): %v; want ErrInvalid saying %q", tt.issuer, tt.customer, err, tt.want)
		}
	}
}

// A provider for one customer names a customer that exists.
func TestSSOProviderCustomer(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	p := store.SSOProvider{Name: "acme-okta", Issuer: "https://acme.example", ClientID: "c", ClientSecret: "s", Customer: "acme"}
	if _, _, err := s.PutSSOProvider(p); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a provider for a customer that does not exist: %v", err)
	}
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))
	got, _, err := s.PutSSOProvider(p)
	mustOK(t, err)
	if got.Customer != "acme" {
		t.Errorf("stored %+v", got)
	}
	if err := s.DeleteCustomer("acme"); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "single sign-on providers") {
		t.Errorf("deleting the provider's customer: %v", err)
	}
}

// Whatever issuer is accepted, its host is none the server must not
// fetch from.
func FuzzSSOProviderIssuer(f *testing.F) {
	s, _ := openStore(f)
	mustOK(f, s.CreateCustomer(store.Customer{Name: "acme"}))
	for _, seed := range []string{"https://idp.example", "http://169.254.169.254/", "https://[fe80::1%25eth0]/", "http://2852039166/",
		"https://0x7f.1/", "http://[::ffff:a9fe:a9fe]/", "http://localhost./", "https://METADATA./"} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, issuer string, customer bool) {
		p := store.SSOProvider{Name: "idp", Issuer: issuer, ClientID: "hearth", ClientSecret: "x"}
		if customer {
			p.Customer = "acme"
		}
		if _, _, err := s.PutSSOProvider(p); err != nil {
			return
		}
		u, err := url.Parse(issuer)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", issuer, err)
		}
		host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
		if a, err := netip.ParseAddr(host); err == nil {
			a = a.Unmap()
			if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified() {
				t.Fatalf("accepted %q: host %s", issuer, a)
			}
			if customer && u.Scheme != "https" && !a.IsLoopback() {
				t.Fatalf("accepted %q for a customer over http", issuer)
			}
		}
		switch host {
		case "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal":
			t.Fatalf("accepted %q: a metadata host", issuer)
		}
	})
}
