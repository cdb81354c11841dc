package store_test

import (
	"errors"
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
