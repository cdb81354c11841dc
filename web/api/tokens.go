package api

import (
	"net/http"
	"time"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// tokenJSON is a token as listings show it: never its secret or hash.
type tokenJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Access    string    `json:"access"`
	Customer  string    `json:"customer"`
	CreatedAt time.Time `json:"created_at"`
}

// createdTokenJSON is the answer to creating a token; Token, the secret,
// is shown this once.
type createdTokenJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Access   string `json:"access"`
	Customer string `json:"customer"`
	Token    string `json:"token"`
}

// createTokenRequest is the body of POST /api/v1/tokens.
type createTokenRequest struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Access   string `json:"access"`
	Customer string `json:"customer"`
}

// createToken: POST /api/v1/tokens.
func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var req createTokenRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	t, plain, err := a.scope(r).CreateToken(gate.TokenSpec(req))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createdTokenJSON{
		ID:       t.ID,
		Name:     t.Name,
		Role:     t.Role,
		Access:   store.EffectiveAccess(t.Role, t.Access),
		Customer: t.Customer,
		Token:    plain,
	})
}

// listTokens: GET /api/v1/tokens.
func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	tokens, err := a.scope(r).Tokens()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]tokenJSON, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, tokenJSON{ID: t.ID, Name: t.Name, Role: t.Role, Access: store.EffectiveAccess(t.Role, t.Access), Customer: t.Customer, CreatedAt: t.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteToken: DELETE /api/v1/tokens/{id}. The token stops working at once,
// also when it is the one making the request.
func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteToken(id); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
