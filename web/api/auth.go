package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/auth"
)

// bearerAuth authenticates "Authorization: Bearer hth_…" against the
// stored token hashes and puts the token's principal on the request.
func (a *API) bearerAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.authenticate(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// asLocalOperator makes every request act as the local operator.
func (a *API) asLocalOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := Principal{Role: store.RoleOperator, Name: "local"}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

func withPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// authenticate finds the token of the request. The token is looked up by
// its SHA-256, so the secret never reaches the store and a lookup reveals
// nothing through timing about other tokens.
func (a *API) authenticate(r *http.Request) (Principal, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return Principal{}, unauthorized("", "missing credentials: send the header Authorization: Bearer "+auth.TokenPrefix+"…")
	}
	scheme, secret, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, unauthorized("invalid_request", "Authorization header: only the Bearer scheme is accepted")
	}
	secret = strings.TrimSpace(secret)
	if !strings.HasPrefix(secret, auth.TokenPrefix) {
		return Principal{}, unauthorized("invalid_token", "bearer token: not a Hearth API token (they start with "+auth.TokenPrefix+")")
	}
	t, err := a.store.TokenByHash(auth.HashToken(secret))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, unauthorized("invalid_token", "bearer token: unknown or deleted")
	}
	if err != nil {
		return Principal{}, err
	}
	p := Principal{Role: t.Role, Customer: t.Customer, Name: t.Name, TokenID: t.ID, Access: t.Access}
	if !p.valid() {
		a.logger.Warn("token refused: role and customer do not fit",
			"token_id", t.ID, "role", t.Role, "customer", t.Customer)
		return Principal{}, unauthorized("invalid_token", "bearer token: its role cannot be used")
	}
	return p, nil
}

// requireAdmin lets only operator admins through: users and API tokens
// decide who may do anything, so plain operators may not change them.
func (a *API) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !principal(r).Admin() {
			a.writeError(w, r, forbidden("this needs an operator token with admin access"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireOperator lets only operators through.
func (a *API) requireOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !principal(r).operator() {
			a.writeError(w, r, forbidden("this needs an operator token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
