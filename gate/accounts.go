package gate

import (
	"fmt"
	"slices"
	"strings"
	"time"
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

// Users returns the users p manages, sorted by e-mail, without password
// hashes: every user for an operator admin, the customer's own for a
// customer's admin.
func (s Scope) Users() ([]store.User, error) {
	own, err := s.accountsOf("managing users")
	if err != nil {
		return nil, err
	}
	users, err := s.g.store.ListUsers()
	if err != nil {
		return nil, err
	}
	out := users[:0]
	for _, u := range users {
		if manages(own, u.Role, u.Customer) {
			out = append(out, scrubUser(u))
		}
	}
	return out, nil
}

// scrubUser is u without its password hash and set-password link.
func scrubUser(u store.User) store.User {
	u.PasswordHash, u.InviteHash = "", ""
	return u
}

// CreateUser stores a new user and returns the user as stored (without
// the password hash) and, when it was generated, the one-time password,
// shown this once.
func (s Scope) CreateUser(spec UserSpec) (store.User, string, error) {
	own, err := s.accountsOf("creating users")
	if err != nil {
		return store.User{}, "", err
	}
	if strings.TrimSpace(spec.Email) == "" {
		return store.User{}, "", Invalid(`field "email": required, as local-part@domain`)
	}
	if err := s.ownSpec(own, &spec.Role, &spec.Customer, spec.Access, "user"); err != nil {
		return store.User{}, "", err
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
		Email:              strings.TrimSpace(spec.Email),
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
	if !generated {
		password = ""
	}
	return scrubUser(u), password, nil
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
	own, err := s.accountsOf("deleting users")
	if err != nil {
		return err
	}
	if s.p.User != "" && strings.EqualFold(strings.TrimSpace(email), s.p.User) {
		return Invalid("you may not delete your own user %q; another admin may", s.p.User)
	}
	s.g.accountsMu.Lock()
	defer s.g.accountsMu.Unlock()
	u, err := s.managedUser(own, email)
	if err != nil {
		return err
	}
	if err := s.keepAnAdmin(own, u, func(x *store.User) { x.Disabled = true }); err != nil {
		return err
	}
	return s.g.store.DeleteUser(email)
}

// ResetPassword gives a user a new one-time password, which they must
// change at their next sign-in, and returns it, shown this once. It is the
// way back for someone who lost theirs; their other sessions end only when
// they next sign in, so disable the user first when the account may be in
// the wrong hands.
func (s Scope) ResetPassword(email string) (string, error) {
	own, err := s.accountsOf("resetting passwords")
	if err != nil {
		return "", err
	}
	if _, err := s.managedUser(own, email); err != nil {
		return "", err
	}
	password := secret.GeneratePassword()
	hash, err := secret.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("hash password of %q: %w", email, err)
	}
	if _, err := s.g.store.UpdateUser(email, func(u *store.User) error {
		u.PasswordHash, u.MustChangePassword = hash, true
		u.InviteHash, u.InviteExpires = "", time.Time{}
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
	return s.ChangeUser(email, UserChange{Disabled: &disabled})
}

// UserChange is a change to a user; nil fields stay as they are.
type UserChange struct {
	// Access is the new level within the user's role ("" is the role's
	// default).
	Access *string
	// Disabled disables the user or enables them again.
	Disabled *bool
}

// ChangeUser changes a user's access level or disables or enables them,
// all or nothing. A customer's admin changes only its own customer's
// users, gives no level above its own, and may not leave its customer
// without an enabled admin user. Nobody may disable their own user.
func (s Scope) ChangeUser(email string, c UserChange) (store.User, error) {
	own, err := s.accountsOf("changing users")
	if err != nil {
		return store.User{}, err
	}
	if c.Access == nil && c.Disabled == nil {
		return store.User{}, Invalid(`nothing to change: give "access", "disabled" or both`)
	}
	self := s.p.User != "" && strings.EqualFold(strings.TrimSpace(email), s.p.User)
	if c.Disabled != nil && *c.Disabled && self {
		return store.User{}, Invalid("you may not disable your own user %q; another admin may", s.p.User)
	}
	if c.Access != nil {
		if err := s.notAbove(*c.Access); err != nil {
			return store.User{}, err
		}
	}
	s.g.accountsMu.Lock()
	defer s.g.accountsMu.Unlock()
	old, err := s.managedUser(own, email)
	if err != nil {
		return store.User{}, err
	}
	apply := func(u *store.User) {
		if c.Access != nil {
			u.Access = *c.Access
		}
		if c.Disabled != nil {
			u.Disabled = *c.Disabled
		}
	}
	if err := s.keepAnAdmin(own, old, apply); err != nil {
		return store.User{}, err
	}
	u, err := s.g.store.UpdateUser(email, func(u *store.User) error {
		apply(u)
		return nil
	})
	if err != nil {
		return store.User{}, err
	}
	return scrubUser(u), nil
}

// Tokens returns the API tokens p manages, without their hashes: every
// token for an operator admin, the customer's own for a customer's admin.
func (s Scope) Tokens() ([]store.Token, error) {
	own, err := s.accountsOf("managing API tokens")
	if err != nil {
		return nil, err
	}
	tokens, err := s.g.store.ListTokens()
	if err != nil {
		return nil, err
	}
	out := tokens[:0]
	for _, t := range tokens {
		if manages(own, t.Role, t.Customer) {
			t.Hash = nil
			out = append(out, t)
		}
	}
	return out, nil
}

// CreateToken stores a new API token and returns it, without its hash, and
// its secret, shown this once. It needs a name, unique among the tokens of
// the same customer (or of the operators): history and the audit log name
// a token by it, and two of one name could not be told apart there.
func (s Scope) CreateToken(spec TokenSpec) (store.Token, string, error) {
	own, err := s.accountsOf("creating API tokens")
	if err != nil {
		return store.Token{}, "", err
	}
	spec.Name = strings.TrimSpace(spec.Name)
	if spec.Name == "" {
		return store.Token{}, "", Invalid(`field "name": required; history and the audit log name the token by it`)
	}
	if err := s.ownSpec(own, &spec.Role, &spec.Customer, spec.Access, "API token"); err != nil {
		return store.Token{}, "", err
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
	own, err := s.accountsOf("deleting API tokens")
	if err != nil {
		return err
	}
	if own != "" {
		tokens, err := s.g.store.ListTokens()
		if err != nil {
			return err
		}
		i := slices.IndexFunc(tokens, func(t store.Token) bool { return t.ID == id })
		if i < 0 || !manages(own, tokens[i].Role, tokens[i].Customer) {
			return NotFound("API token")
		}
	}
	return s.g.store.DeleteToken(id)
}
