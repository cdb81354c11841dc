package api

import (
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/auth"
)

// Password length bounds for passwords an operator sets. The upper bound
// only keeps hashing cheap; argon2 takes any length.
const (
	minPasswordLen = 12
	maxPasswordLen = 1024
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
	if req.Email == "" {
		a.writeError(w, r, invalid(`field "email": required, as local-part@domain`))
		return
	}
	if err := a.checkRole(req.Role, req.Customer); err != nil {
		a.writeError(w, r, err)
		return
	}
	password, generated := req.Password, false
	if password == "" {
		password, generated = auth.GeneratePassword(), true
	} else if n := utf8.RuneCountInString(password); n < minPasswordLen || len(password) > maxPasswordLen {
		a.writeError(w, r, invalid(`field "password": at least %d characters and at most %d bytes are accepted; leave it out to have one generated`,
			minPasswordLen, maxPasswordLen))
		return
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		a.writeError(w, r, fmt.Errorf("hash password of %q: %w", req.Email, err))
		return
	}
	err = a.store.CreateUser(store.User{
		Email:              req.Email,
		Role:               req.Role,
		Access:             req.Access,
		Customer:           req.Customer,
		PasswordHash:       hash,
		MustChangePassword: generated,
		CreatedAt:          a.now().UTC(),
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// The store keys users by a normalised e-mail; answer with what it kept.
	u, err := a.store.GetUser(req.Email)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := createdUserJSON{userJSON: newUserJSON(u)}
	if generated {
		out.Password = password
	}
	writeJSON(w, http.StatusCreated, out)
}

// listUsers: GET /api/v1/users.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := a.store.ListUsers()
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
	if err := a.store.DeleteUser(email); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkRole checks the role and customer of a new user or token, so that a
// wrong one is refused naming the field before anything is written.
func (a *API) checkRole(role, customer string) error {
	switch role {
	case store.RoleOperator:
		if customer != "" {
			return invalid(`field "customer": must be left out for role %q`, role)
		}
		return nil
	case store.RoleCustomer:
		if customer == "" {
			return invalid(`field "customer": required for role %q`, role)
		}
		if _, err := a.store.GetCustomer(customer); err != nil {
			return missingReference("customer", customer, err)
		}
		return nil
	}
	return invalid(`field "role" %q: %q and %q are accepted`, role, store.RoleOperator, store.RoleCustomer)
}
