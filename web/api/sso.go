package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hearthiot/hearth/store"
)

// ssoProviderStore keeps the single sign-on providers operators configure;
// *store.Store implements it. Deps does not require it: a store without it
// makes these routes and Scope methods answer 503.
type ssoProviderStore interface {
	PutSSOProvider(p store.SSOProvider) (store.SSOProvider, bool, error)
	GetSSOProvider(name string) (store.SSOProvider, error)
	ListSSOProviders() ([]store.SSOProvider, error)
	DeleteSSOProvider(name string) error
}

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

// ssoProviders is the store of providers, for operator admins only: a
// provider decides who may sign in.
func (s Scope) ssoProviders(what string) (ssoProviderStore, error) {
	if err := s.adminOnly(what); err != nil {
		return nil, err
	}
	st, ok := s.a.store.(ssoProviderStore)
	if !ok {
		return nil, unavailable("single sign-on providers are not kept by this server")
	}
	return st, nil
}

// SSOProviders lists the configured providers, sorted by name.
func (s Scope) SSOProviders() ([]SSOProvider, error) {
	st, err := s.ssoProviders("managing single sign-on")
	if err != nil {
		return nil, err
	}
	ps, err := st.ListSSOProviders()
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
	st, err := s.ssoProviders("managing single sign-on")
	if err != nil {
		return SSOProvider{}, err
	}
	p, err := st.GetSSOProvider(name)
	if errors.Is(err, store.ErrNotFound) {
		return SSOProvider{}, notFound("single sign-on provider")
	}
	if err != nil {
		return SSOProvider{}, err
	}
	return newSSOProvider(p), nil
}

// PutSSOProvider creates a provider or changes the one of that name. It
// takes effect at the next sign-in; the provider is reached only then.
func (s Scope) PutSSOProvider(spec SSOProviderSpec) (SSOProvider, bool, error) {
	st, err := s.ssoProviders("managing single sign-on")
	if err != nil {
		return SSOProvider{}, false, err
	}
	if slices.Contains(s.a.fixedSSO, spec.Name) {
		return SSOProvider{}, false, &apiError{status: http.StatusConflict, code: codeExists,
			message: fmt.Sprintf("provider %q is set on the command line; choose another name", spec.Name)}
	}
	p, created, err := st.PutSSOProvider(store.SSOProvider{
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
	st, err := s.ssoProviders("managing single sign-on")
	if err != nil {
		return err
	}
	err = st.DeleteSSOProvider(name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("single sign-on provider")
	}
	return err
}

// listSSOProviders: GET /api/v1/sso-providers.
func (a *API) listSSOProviders(w http.ResponseWriter, r *http.Request) {
	ps, err := a.Scope(principal(r)).SSOProviders()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sso_providers": ps})
}

// showSSOProvider: GET /api/v1/sso-providers/{name}.
func (a *API) showSSOProvider(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.Scope(principal(r)).SSOProvider(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// putSSOProvider: PUT /api/v1/sso-providers/{name} creates a provider
// (201) or changes it (200); an absent client_secret keeps the stored one.
func (a *API) putSSOProvider(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var spec SSOProviderSpec
	if err := decodeJSON(r, &spec, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	spec.Name = name
	p, created, err := a.Scope(principal(r)).PutSSOProvider(spec)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, p)
}

// deleteSSOProvider: DELETE /api/v1/sso-providers/{name}.
func (a *API) deleteSSOProvider(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.Scope(principal(r)).DeleteSSOProvider(name); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
