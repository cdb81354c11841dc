package api

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/gate/secret"
)

// tokenAuth authenticates the request's API token and puts its principal
// on the request.
func (a *API) tokenAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := requestToken(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		p, err := a.gate.Authenticate(token)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// asLocalOperator makes every request act as the local operator.
func asLocalOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), gate.Local())))
	})
}

// requestToken reads the API token of a request: "Authorization: Bearer
// TOKEN", or Basic authentication with the token as the password and any
// user name, for clients that speak only Basic (promtool, some Grafana
// setups, URLs of the form https://token:TOKEN@host/prometheus).
func requestToken(r *http.Request) (string, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return "", gate.Unauthorized("", "missing credentials: send the header Authorization: Bearer "+secret.TokenPrefix+"…, or the token as the password of Basic authentication")
	}
	scheme, value, _ := strings.Cut(header, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(value), nil
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
		if err != nil {
			return "", gate.Unauthorized("invalid_request", "Authorization header: Basic credentials are not base64 of user:password")
		}
		_, password, ok := strings.Cut(string(raw), ":")
		if !ok {
			return "", gate.Unauthorized("invalid_request", "Authorization header: Basic credentials are not user:password")
		}
		return password, nil
	}
	return "", gate.Unauthorized("invalid_request", "Authorization header: the Bearer and Basic schemes are accepted")
}
