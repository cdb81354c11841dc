package gate

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/store"
)

// Password length bounds for passwords people set. The upper bound only
// keeps hashing cheap; argon2 takes any length.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// UserSpec is a user to create. Access is the level within the role; empty
// is the role's default. An empty Password has one generated, which the
// user must change at first sign-in.
type UserSpec struct {
	Email    string
	Role     string
	Access   string
	Customer string
	Password string
}

// TokenSpec is an API token to create; Name is how history and the audit
// log name it ("token:NAME"), unique among the tokens of its customer (or
// of the operators).
type TokenSpec struct {
	Name     string
	Role     string
	Access   string
	Customer string
}

// checkRole checks the role and customer of a new user or token, so that a
// wrong one is refused naming the field before anything is written.
func (s Scope) checkRole(role, customer string) error {
	switch role {
	case store.RoleOperator:
		if customer != "" {
			return Invalid(`field "customer": must be left out for role %q`, role)
		}
		return nil
	case store.RoleCustomer:
		if customer == "" {
			return Invalid(`field "customer": required for role %q`, role)
		}
		if _, err := s.g.store.GetCustomer(customer); err != nil {
			return missingReference("customer", customer, err)
		}
		return nil
	}
	return Invalid(`field "role" %q: %q and %q are accepted`, role, store.RoleOperator, store.RoleCustomer)
}

// Users returns every user, sorted by e-mail, without password hashes.
func (s Scope) Users() ([]store.User, error) {
	if err := s.adminOnly("managing users"); err != nil {
		return nil, err
	}
	users, err := s.g.store.ListUsers()
	if err != nil {
		return nil, err
	}
	for i := range users {
		users[i].PasswordHash = ""
	}
	return users, nil
}

// CreateUser stores a new user and returns the user as stored (without
// the password hash) and, when it was generated, the one-time password,
// shown this once.
func (s Scope) CreateUser(spec UserSpec) (store.User, string, error) {
	if err := s.adminOnly("creating users"); err != nil {
		return store.User{}, "", err
	}
	if strings.TrimSpace(spec.Email) == "" {
		return store.User{}, "", Invalid(`field "email": required, as local-part@domain`)
	}
	if err := s.checkRole(spec.Role, spec.Customer); err != nil {
		return store.User{}, "", err
	}
	password, generated := spec.Password, false
	if password == "" {
		password, generated = secret.GeneratePassword(), true
	} else if err := checkPassword(password, `field "password"`); err != nil {
		return store.User{}, "", Invalid("%v; leave it out to have one generated", err)
	}
	hash, err := secret.HashPassword(password)
	if err != nil {
		return store.User{}, "", fmt.Errorf("hash password of %q: %w", spec.Email, err)
	}
	err = s.g.store.CreateUser(store.User{
		Email:              spec.Email,
		Role:               spec.Role,
		Access:             spec.Access,
		Customer:           spec.Customer,
		PasswordHash:       hash,
		MustChangePassword: generated,
		CreatedAt:          s.g.now().UTC(),
	})
	if err != nil {
		return store.User{}, "", err
	}
	// The store keys users by a normalised e-mail; answer with what it kept.
	u, err := s.g.store.GetUser(spec.Email)
	if err != nil {
		return store.User{}, "", err
	}
	u.PasswordHash = ""
	if !generated {
		password = ""
	}
	return u, password, nil
}

// checkPassword refuses a password outside the length bounds; what names
// it for the message.
func checkPassword(pw, what string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen || len(pw) > MaxPasswordLen {
		return Invalid("%s: at least %d characters and at most %d bytes are accepted", what, MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// DeleteUser deletes a user. A person may not delete their own user: an
// operator admin who did would lock themselves out mid-session, and
// perhaps leave nobody to manage users.
func (s Scope) DeleteUser(email string) error {
	if err := s.adminOnly("deleting users"); err != nil {
		return err
	}
	if s.p.User != "" && strings.EqualFold(strings.TrimSpace(email), s.p.User) {
		return Invalid("you may not delete your own user %q; another operator admin may", s.p.User)
	}
	return s.g.store.DeleteUser(email)
}

// ResetPassword gives a user a new one-time password, which they must
// change at their next sign-in, and returns it, shown this once. It is the
// way back for someone who lost theirs; their other sessions end only when
// they next sign in, so disable the user first when the account may be in
// the wrong hands.
func (s Scope) ResetPassword(email string) (string, error) {
	if err := s.adminOnly("resetting passwords"); err != nil {
		return "", err
	}
	password := secret.GeneratePassword()
	hash, err := secret.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("hash password of %q: %w", email, err)
	}
	if _, err := s.g.store.UpdateUser(email, func(u *store.User) error {
		u.PasswordHash, u.MustChangePassword = hash, true
		return nil
	}); err != nil {
		return "", err
	}
	return password, nil
}

// SetUserDisabled disables a user (they cannot sign in, and their sessions
// end at their next request) or enables them again. A person may not
// disable their own user, for the reason DeleteUser gives.
func (s Scope) SetUserDisabled(email string, disabled bool) (store.User, error) {
	if err := s.adminOnly("disabling users"); err != nil {
		return store.User{}, err
	}
	if disabled && s.p.User != "" && strings.EqualFold(strings.TrimSpace(email), s.p.User) {
		return store.User{}, Invalid("you may not disable your own user %q; another operator admin may", s.p.User)
	}
	u, err := s.g.store.UpdateUser(email, func(u *store.User) error {
		u.Disabled = disabled
		return nil
	})
	u.PasswordHash = ""
	return u, err
}

// Tokens returns every API token, without their hashes.
func (s Scope) Tokens() ([]store.Token, error) {
	if err := s.adminOnly("managing API tokens"); err != nil {
		return nil, err
	}
	tokens, err := s.g.store.ListTokens()
	if err != nil {
		return nil, err
	}
	for i := range tokens {
		tokens[i].Hash = nil
	}
	return tokens, nil
}

// CreateToken stores a new API token and returns it, without its hash, and
// its secret, shown this once. It needs a name, unique among the tokens of
// the same customer (or of the operators): history and the audit log name
// a token by it, and two of one name could not be told apart there.
func (s Scope) CreateToken(spec TokenSpec) (store.Token, string, error) {
	if err := s.adminOnly("creating API tokens"); err != nil {
		return store.Token{}, "", err
	}
	spec.Name = strings.TrimSpace(spec.Name)
	if spec.Name == "" {
		return store.Token{}, "", Invalid(`field "name": required; history and the audit log name the token by it`)
	}
	if err := s.checkRole(spec.Role, spec.Customer); err != nil {
		return store.Token{}, "", err
	}
	tokens, err := s.g.store.ListTokens()
	if err != nil {
		return store.Token{}, "", err
	}
	for _, t := range tokens {
		if t.Name == spec.Name && t.Customer == spec.Customer {
			owner := "the operators"
			if t.Customer != "" {
				owner = "customer " + t.Customer
			}
			return store.Token{}, "", Refuse(KindExists, "a token named %q of %s exists; choose another name or delete that token", spec.Name, owner)
		}
	}
	plain, id, hash := secret.NewToken()
	t := store.Token{
		ID:        id,
		Name:      spec.Name,
		Role:      spec.Role,
		Access:    spec.Access,
		Customer:  spec.Customer,
		Hash:      hash,
		CreatedAt: s.g.now().UTC(),
	}
	if err := s.g.store.CreateToken(t); err != nil {
		return store.Token{}, "", err
	}
	t.Hash = nil
	return t, plain, nil
}

// DeleteToken deletes an API token; it stops working at once, also when it
// is the one making the request.
func (s Scope) DeleteToken(id string) error {
	if err := s.adminOnly("deleting API tokens"); err != nil {
		return err
	}
	return s.g.store.DeleteToken(id)
}
