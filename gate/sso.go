package gate

import (
	"errors"
	"slices"
	"time"

	"github.com/hearthiot/hearth/store"
)

// SSOProvider is a configured single sign-on provider as the API and the
// pages show it: never with its client secret, only whether one is set.
type SSOProvider struct {
	Name            string `json:"name"`
	DisplayName     string `json:"display_name,omitempty"`
	Issuer          string `json:"issuer"`
	ClientID        string `json:"client_id"`
	ClientSecretSet bool   `json:"client_secret_set"`
	GroupsClaim     string `json:"groups_claim,omitempty"`
	// Customer is the one customer whose people the provider signs in;
	// empty for an identity provider of the operators' own.
	Customer  string    `json:"customer,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newSSOProvider(p store.SSOProvider) SSOProvider {
	return SSOProvider{
		Name: p.Name, DisplayName: p.DisplayName, Issuer: p.Issuer, ClientID: p.ClientID,
		ClientSecretSet: p.ClientSecret != "", GroupsClaim: p.GroupsClaim, Customer: p.Customer,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

// SSOProviderSpec is a provider to create or change. An empty
// ClientSecret keeps the stored one when the provider exists.
type SSOProviderSpec struct {
	Name         string `json:"-"`
	DisplayName  string `json:"display_name"`
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	GroupsClaim  string `json:"groups_claim"`
	// Customer limits the provider to one customer's people; empty trusts
	// it like the command line's provider (any user, operators too).
	Customer string `json:"customer"`
}

const ssoWhat = "managing single sign-on"

// SSOProviders lists the configured providers, sorted by name; operator
// admins only, since a provider decides who may sign in.
func (s Scope) SSOProviders() ([]SSOProvider, error) {
	if err := s.adminOnly(ssoWhat); err != nil {
		return nil, err
	}
	ps, err := s.g.store.ListSSOProviders()
	if err != nil {
		return nil, err
	}
	out := make([]SSOProvider, 0, len(ps))
	for _, p := range ps {
		out = append(out, newSSOProvider(p))
	}
	return out, nil
}

// SSOProvider returns one configured provider.
func (s Scope) SSOProvider(name string) (SSOProvider, error) {
	if err := s.adminOnly(ssoWhat); err != nil {
		return SSOProvider{}, err
	}
	p, err := s.g.store.GetSSOProvider(name)
	if errors.Is(err, store.ErrNotFound) {
		return SSOProvider{}, NotFound("single sign-on provider")
	}
	if err != nil {
		return SSOProvider{}, err
	}
	return newSSOProvider(p), nil
}

// PutSSOProvider creates a provider or changes the one of that name, and
// says which it did. It takes effect at the next sign-in; the provider is
// reached only then.
func (s Scope) PutSSOProvider(spec SSOProviderSpec) (SSOProvider, bool, error) {
	if err := s.adminOnly(ssoWhat); err != nil {
		return SSOProvider{}, false, err
	}
	if slices.Contains(s.g.fixedSSO, spec.Name) {
		return SSOProvider{}, false, Refuse(KindExists, "provider %q is set on the command line; choose another name", spec.Name)
	}
	p, created, err := s.g.store.PutSSOProvider(store.SSOProvider{
		Name: spec.Name, DisplayName: spec.DisplayName, Issuer: spec.Issuer,
		ClientID: spec.ClientID, ClientSecret: spec.ClientSecret, GroupsClaim: spec.GroupsClaim,
		Customer: spec.Customer,
	})
	if err != nil {
		return SSOProvider{}, false, missingReference("customer", spec.Customer, err)
	}
	return newSSOProvider(p), created, nil
}

// DeleteSSOProvider removes a provider: nobody can sign in through it any
// more; sessions it began stay until they end.
func (s Scope) DeleteSSOProvider(name string) error {
	if err := s.adminOnly(ssoWhat); err != nil {
		return err
	}
	err := s.g.store.DeleteSSOProvider(name)
	if errors.Is(err, store.ErrNotFound) {
		return NotFound("single sign-on provider")
	}
	return err
}
