package store

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/hearthiot/hearth/internal/netguard"
)

// SSOProvider is an OpenID Connect provider that operators configured
// through the API or the pages, beside the one the command line may name.
// People sign in at /login/sso/{Name}, and the provider sends them back to
// /login/sso/{Name}/callback.
type SSOProvider struct {
	Name string `json:"name"`
	// DisplayName labels the sign-in button; empty shows Name.
	DisplayName string `json:"display_name,omitempty"`
	// Issuer is the provider's issuer URL, from which its endpoints are
	// discovered.
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	// ClientSecret is never shown once stored.
	ClientSecret string `json:"client_secret"`
	// GroupsClaim is the ID token claim listing a person's groups; empty is
	// the server's default.
	GroupsClaim string `json:"groups_claim,omitempty"`
	// Customer is the one customer whose people the provider may sign in:
	// users of that customer, and the groups claim for that customer only.
	// Empty makes it an identity provider of the operators' own, trusted
	// like the command line's: any user, operators and every customer's
	// group.
	Customer  string    `json:"customer,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

const maxURLLen = 2048

// checkSSOProvider checks what can be checked without the network. The
// name is a path segment of the callback URL: 1 to 64 of [a-z0-9-].
func checkSSOProvider(p SSOProvider) error {
	if err := checkSlug("provider name", p.Name); err != nil {
		return err
	}
	if strings.Trim(p.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return fmt.Errorf("provider name %q: only lower-case letters a-z, digits and '-' are accepted: %w", p.Name, ErrInvalid)
	}
	if err := checkText("display name", p.DisplayName, maxNameLen, false); err != nil {
		return err
	}
	if err := checkText("issuer", p.Issuer, maxURLLen, true); err != nil {
		return err
	}
	u, err := url.Parse(p.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer %q: an http or https URL without query or fragment is accepted: %w", p.Issuer, ErrInvalid)
	}
	if err := checkIssuerHost(u, p.Customer != ""); err != nil {
		return fmt.Errorf("issuer %q: %w: %w", p.Issuer, err, ErrInvalid)
	}
	if err := checkText("client id", p.ClientID, maxURLLen, true); err != nil {
		return err
	}
	if err := checkSecret("client secret", p.ClientSecret, maxURLLen); err != nil {
		return err
	}
	return checkText("groups claim", p.GroupsClaim, maxNameLen, false)
}

// checkIssuerHost keeps the server from being sent, by an issuer URL, to
// what it must not fetch (netguard's rule: a cloud's instance metadata
// service, other link-local hosts, the unspecified address). The issuer
// of a provider limited to one customer must also be https, except on a
// loopback host: its discovery document and keys decide whose sign-in is
// believed, and must not travel in the clear. Names are not looked up
// here; the client that fetches from the issuer refuses what they
// resolve to.
func checkIssuerHost(u *url.URL, customer bool) error {
	if err := netguard.CheckHost(u.Hostname()); err != nil {
		return err
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	addr, err := netip.ParseAddr(host)
	loopback := host == "localhost" || strings.HasSuffix(host, ".localhost") || (err == nil && addr.Unmap().IsLoopback())
	if customer && u.Scheme != "https" && !loopback {
		return errors.New("a provider for one customer needs an https issuer (http only on a loopback host)")
	}
	return nil
}

// checkSecret is checkText for a secret: its messages never quote it.
func checkSecret(field, s string, max int) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty: %w", field, ErrInvalid)
	case len(s) > max:
		return fmt.Errorf("%s is %d bytes long, at most %d are accepted: %w", field, len(s), max, ErrInvalid)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8: %w", field, ErrInvalid)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%s contains white space or a control character (copied with a line break?): %w", field, ErrInvalid)
		}
	}
	return nil
}

// PutSSOProvider creates a provider or replaces the one of the same name,
// keeping its CreatedAt; an empty ClientSecret keeps the stored one, so a
// form need not ask for it again. It returns the stored record and
// whether it was created.
func (s *Store) PutSSOProvider(p SSOProvider) (_ SSOProvider, created bool, _ error) {
	at := now()
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSSOProviders))
		var old SSOProvider
		ok, err := getJSON(b, []byte(p.Name), &old)
		if err != nil {
			return err
		}
		p.CreatedAt, p.UpdatedAt = at, at
		if ok {
			p.CreatedAt = old.CreatedAt
			if p.ClientSecret == "" {
				p.ClientSecret = old.ClientSecret
			}
		}
		if err := checkSSOProvider(p); err != nil {
			return err
		}
		if p.Customer != "" && !customerExists(tx, p.Customer) {
			return fmt.Errorf("customer %q: %w", p.Customer, ErrNotFound)
		}
		created = !ok
		return putJSON(b, []byte(p.Name), p)
	})
	if err != nil {
		return SSOProvider{}, false, fmt.Errorf("put single sign-on provider %q: %w", p.Name, err)
	}
	return p, created, nil
}

// GetSSOProvider returns the provider name.
func (s *Store) GetSSOProvider(name string) (SSOProvider, error) {
	p, err := getRecord[SSOProvider](s, bucketSSOProviders, name)
	if err != nil {
		return SSOProvider{}, fmt.Errorf("get single sign-on provider %q: %w", name, err)
	}
	return p, nil
}

// ListSSOProviders returns every provider, sorted by name.
func (s *Store) ListSSOProviders() ([]SSOProvider, error) {
	out, err := listRecords[SSOProvider](s, bucketSSOProviders)
	if err != nil {
		return nil, fmt.Errorf("list single sign-on providers: %w", err)
	}
	return out, nil
}

// DeleteSSOProvider removes a provider. Sessions it signed in stay until
// they end; people it admitted as users keep their accounts.
func (s *Store) DeleteSSOProvider(name string) error {
	if err := s.deleteRecord(bucketSSOProviders, name); err != nil {
		return fmt.Errorf("delete single sign-on provider %q: %w", name, err)
	}
	return nil
}
