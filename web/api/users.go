package api

import (
	"net/http"
	"time"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// userJSON is a user as listings show it: never the password hash.
type userJSON struct {
	Email              string    `json:"email"`
	Role               string    `json:"role"`
	Access             string    `json:"access"`
	Customer           string    `json:"customer"`
	MustChangePassword bool      `json:"must_change_password"`
	CreatedAt          time.Time `json:"created_at"`
}

func newUserJSON(u store.User) userJSON {
	return userJSON{
		Email:              u.Email,
		Role:               u.Role,
		Access:             store.EffectiveAccess(u.Role, u.Access),
		Customer:           u.Customer,
		MustChangePassword: u.MustChangePassword,
		CreatedAt:          u.CreatedAt,
	}
}

// createdUserJSON is the answer to creating a user. Password is present only
// when the server generated it, and is shown this once.
type createdUserJSON struct {
	userJSON
	Password string `json:"password,omitempty"`
}

// createUserRequest is the body of POST /api/v1/users.
type createUserRequest struct {
	Email    string `json:"email"`
	Role     string `json:"role"`
	Access   string `json:"access"`
	Customer string `json:"customer"`
	Password string `json:"password"`
}

// createUser: POST /api/v1/users. Without a password the server generates a
// one-time one that must be changed at first sign-in.
func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	u, password, err := a.scope(r).CreateUser(gate.UserSpec(req))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createdUserJSON{userJSON: newUserJSON(u), Password: password})
}

// listUsers: GET /api/v1/users.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := a.scope(r).Users()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, newUserJSON(u))
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteUser: DELETE /api/v1/users/{email}.
func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) {
	email, err := pathParam(r, "email")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteUser(email); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
