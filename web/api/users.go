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
	Invited            bool      `json:"invited,omitempty"`
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
		Invited:            !u.InviteExpires.IsZero(),
		CreatedAt:          u.CreatedAt,
	}
}

// createdUserJSON is the answer to creating a user. Password is present only
// when the server generated it, and is shown this once.
type createdUserJSON struct {
	userJSON
	Password        string     `json:"password,omitempty"`
	SetPasswordLink string     `json:"set_password_link,omitempty"`
	Emailed         bool       `json:"emailed,omitempty"`
	InviteExpires   *time.Time `json:"invite_expires,omitempty"`
}

// createUserRequest is the body of POST /api/v1/users.
type createUserRequest struct {
	Email    string `json:"email"`
	Role     string `json:"role"`
	Access   string `json:"access"`
	Customer string `json:"customer"`
	Password string `json:"password"`
	Invite   bool   `json:"invite"`
}

// createUser: POST /api/v1/users. Without a password the server generates a
// one-time one that must be changed at first sign-in; with invite the user
// gets a one-time set-password link instead.
func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	spec := gate.UserSpec{Email: req.Email, Role: req.Role, Access: req.Access, Customer: req.Customer, Password: req.Password}
	if req.Invite {
		inv, err := a.scope(r).InviteUser(r.Context(), spec)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, createdUserJSON{
			userJSON: newUserJSON(inv.User), SetPasswordLink: inv.Link, Emailed: inv.Emailed, InviteExpires: &inv.Expires,
		})
		return
	}
	u, password, err := a.scope(r).CreateUser(spec)
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
	Access   *string `json:"access"`
	Disabled *bool   `json:"disabled"`
}

// updateUser: PATCH /api/v1/users/{email} {"access": LEVEL, "disabled":
// true|false} changes a user's access level, disables them (they cannot
// sign in; their sessions end at their next request) or enables them
// again.
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
	u, err := a.scope(r).ChangeUser(email, gate.UserChange(req))
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
