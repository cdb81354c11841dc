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
	Disabled           bool      `json:"disabled"`
	CreatedAt          time.Time `json:"created_at"`
}

func newUserJSON(u store.User) userJSON {
	return userJSON{
		Email:              u.Email,
		Role:               u.Role,
		Access:             store.EffectiveAccess(u.Role, u.Access),
		Customer:           u.Customer,
		MustChangePassword: u.MustChangePassword,
		Disabled:           u.Disabled,
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

// userChangeRequest is the body of PATCH /api/v1/users/{email}.
type userChangeRequest struct {
	Disabled *bool `json:"disabled"`
}

// updateUser: PATCH /api/v1/users/{email} {"disabled": true|false}
// disables a user (they cannot sign in; their sessions end at their next
// request) or enables them again.
func (a *API) updateUser(w http.ResponseWriter, r *http.Request) {
	email, err := pathParam(r, "email")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req userChangeRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Disabled == nil {
		a.writeError(w, r, gate.Invalid(`field "disabled": required, true or false`))
		return
	}
	u, err := a.scope(r).SetUserDisabled(email, *req.Disabled)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newUserJSON(u))
}

// resetPassword: POST /api/v1/users/{email}/reset-password gives the user
// a new one-time password, answered this once as {"email","password"}.
func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	email, err := pathParam(r, "email")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	password, err := a.scope(r).ResetPassword(email)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"email": email, "password": password})
}
