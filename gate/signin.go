package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/store"
)

// Authenticate finds the principal of an API token. The token is looked up
// by its SHA-256, so the secret never reaches the store and a lookup
// reveals nothing through timing about other tokens.
func (g *Gate) Authenticate(token string) (Principal, error) {
	token = strings.TrimSpace(token)
	if !strings.HasPrefix(token, secret.TokenPrefix) {
		return Principal{}, Unauthorized("invalid_token", "not a Hearth API token (they start with "+secret.TokenPrefix+")")
	}
	t, err := g.store.TokenByHash(secret.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, Unauthorized("invalid_token", "API token unknown or deleted")
	}
	if err != nil {
		return Principal{}, err
	}
	p := Principal{Role: t.Role, Customer: t.Customer, Name: t.Name, TokenID: t.ID, Access: t.Access}
	if !p.Valid() {
		g.logger.Warn("token refused: role and customer do not fit", "token_id", t.ID, "role", t.Role, "customer", t.Customer)
		return Principal{}, Unauthorized("invalid_token", "API token: its role cannot be used")
	}
	return p, nil
}

// How a page session's role was decided.
const (
	// SourceUser: a user stored in Hearth, looked up at every request, so
	// an operator's change to the user applies at once.
	SourceUser = "user"
	// SourceGroups: the identity provider's groups claim, fixed for the
	// session.
	SourceGroups = "groups"
)

// Session is what a page session remembers of who signed in.
type Session struct {
	Email  string
	Source string // SourceUser or SourceGroups
	// Role and Customer are what the groups claim gave (SourceGroups).
	Role, Customer string
	// Provider is the single sign-on provider signed in through; "" for a
	// password.
	Provider string
}

// Account is a person signed in to the pages: who they act as, and their
// page preferences.
type Account struct {
	Principal
	// MustChangePassword: signed in with a one-time password, which must
	// be replaced before anything else.
	MustChangePassword bool
	// Stored: a user record exists, so preferences can be saved.
	Stored             bool
	Language, TimeZone string
}

// ErrSignedOut is what Account answers for a session whose user was
// deleted (or whose role cannot be scoped): the session must end.
var ErrSignedOut = errors.New("signed out: the user no longer exists or has no usable role")

// Account resolves a page session to the person it belongs to. A stored
// user's current role and customer apply; people admitted by a groups
// claim keep what the claim gave them for the session.
func (g *Gate) Account(sess Session) (Account, error) {
	if sess.Email == "" {
		return Account{}, ErrSignedOut
	}
	a := Account{Principal: Principal{Name: sess.Email, User: sess.Email}}
	if sess.Source == SourceGroups {
		a.Role, a.Customer = sess.Role, sess.Customer
	} else {
		usr, err := g.store.GetUser(sess.Email)
		if errors.Is(err, store.ErrNotFound) {
			return Account{}, ErrSignedOut
		}
		if err != nil {
			return Account{}, fmt.Errorf("read user of the session: %w", err)
		}
		if usr.Disabled {
			return Account{}, ErrSignedOut
		}
		a.Role, a.Customer, a.Access = usr.Role, usr.Customer, usr.Access
		a.MustChangePassword = usr.MustChangePassword && sess.Provider == ""
		a.Stored, a.Language, a.TimeZone = true, usr.Language, usr.TimeZone
	}
	if !a.Valid() {
		return Account{}, ErrSignedOut
	}
	return a, nil
}

// ErrSignInFailed is the one answer to a refused password sign-in, so that
// nobody learns which e-mail addresses have accounts.
var ErrSignInFailed = &Error{Kind: KindUnauthorized, Message: "wrong e-mail or password"}

// SignIn checks a local account's password and returns the session to
// start. Damaged records and store failures are logged and answered like a
// wrong password. An address without a usable password (unknown,
// disabled, single sign-on only) costs the same password check as one
// with, against a hash made for the purpose, so that the time of the
// answer does not tell which addresses have accounts. After repeated
// failures an address's attempts wait (*SignInDelay), stored or not.
func (g *Gate) SignIn(email, password string) (Session, error) {
	email = strings.TrimSpace(email)
	if email == "" || len(email) > maxSignInNameLen || len(password) > MaxPasswordLen {
		// No account has such an address or password: refused alike
		// for all, without a check or a count.
		return Session{}, ErrSignInFailed
	}
	var usr store.User
	ok, err := g.checkAccountPassword(strings.ToLower(email), "password sign-ins of an account delayed after failures", func() (bool, error) {
		var err error
		usr, err = g.store.GetUser(email)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			g.logger.Error("cannot read user", "error", err)
		}
		usable := err == nil && usr.PasswordHash != "" && !usr.Disabled
		hash := usr.PasswordHash
		if !usable {
			hash = g.dummyHash()
		}
		ok, err := g.verify(hash, password)
		if err != nil && usable {
			g.logger.Error("cannot verify password", "user", usr.Email, "error", err)
		}
		return ok && usable, nil
	})
	switch {
	case err != nil:
		return Session{}, err
	case !ok:
		return Session{}, ErrSignInFailed
	}
	return Session{Email: usr.Email, Source: SourceUser}, nil
}

// checkAccountPassword runs check, one check of a password of the
// account key (its lower-case e-mail address), under the per-account
// limit: while the account's attempts wait it answers *SignInDelay and
// checks nothing; a failure is counted, and one that starts a wait is
// logged as msg (rate-limited); a success forgets the failures. Sign-ins
// and password changes count together, so that guesses at one account
// cannot be split between them to go faster. An error of check is
// returned as is, counted as a failure.
func (g *Gate) checkAccountPassword(key, msg string, check func() (bool, error)) (bool, error) {
	wait, started, failures := g.accounts.attempt(key, g.now())
	if wait > 0 {
		return false, &SignInDelay{Wait: wait}
	}
	ok, err := check()
	if err != nil {
		return false, err
	}
	if !ok {
		if started > 0 {
			g.logLimit.Log(context.Background(), slog.LevelWarn, msg, "user", key, "failures", failures, "delay", started)
		}
		return false, nil
	}
	g.accounts.succeeded(key)
	return true, nil
}

// dummyPasswordHash is a hash of a password nobody knows, made once, for
// SignIn to check against when the address has no password of its own.
func dummyPasswordHash() string {
	h, err := secret.HashPassword(secret.GeneratePassword())
	if err != nil {
		// The check still runs parsePHC; with no key it costs less,
		// which only a broken random source could cause.
		return ""
	}
	return h
}

// Identity is who an identity provider says signed in.
type Identity struct {
	Provider      string
	Email         string
	EmailVerified bool
	Groups        []string
}

// ErrIdentityRefused is what SignInWithIdentity answers for an identity Hearth
// does not admit.
var ErrIdentityRefused = &Error{Kind: KindForbidden, Message: "this identity has no access to Hearth"}

// SignInWithIdentity decides who a person signed in through a provider is:
// a user stored with their (verified) e-mail, else what their groups claim
// gives. A provider limited to one customer (providerCustomer) admits only
// that customer's users and its group: a company's identity provider
// vouches for its own people, not for another customer's or for
// operators.
//
// A stored customer user does not outrank a claim that admits the person
// otherwise (as an operator, or another customer's): a customer's admin
// may store users under any e-mail address, and must not be able to turn
// an operator, or another company's person, into a user of its own by
// storing their address first. The claim decides, and the mismatch is
// logged for operators.
func (g *Gate) SignInWithIdentity(id Identity, providerCustomer string) (Session, error) {
	email := strings.ToLower(id.Email)
	if email == "" {
		return Session{}, ErrIdentityRefused
	}
	sess := Session{Email: email, Provider: id.Provider}
	claim, claimed := g.claimed(id, providerCustomer)
	if id.EmailVerified {
		if usr, err := g.store.GetUser(email); err == nil {
			if claimed && usr.Role == store.RoleCustomer && (claim.Role != store.RoleCustomer || claim.Customer != usr.Customer) {
				g.logger.Warn("single sign-on: the groups claim admits this person otherwise than their stored user; the claim decides",
					"user", email, "user_customer", usr.Customer, "claim_role", claim.Role, "claim_customer", claim.Customer)
				sess.Source, sess.Role, sess.Customer = SourceGroups, claim.Role, claim.Customer
				return sess, nil
			}
			if usr.Disabled {
				g.logger.Warn("single sign-on refused: the user is disabled", "user", email)
				return Session{}, ErrIdentityRefused
			}
			if providerCustomer != "" && (usr.Role != store.RoleCustomer || usr.Customer != providerCustomer) {
				g.logger.Warn("single sign-on refused: the provider may not sign in this user",
					"user", email, "role", usr.Role, "user_customer", usr.Customer, "provider_customer", providerCustomer)
				return Session{}, ErrIdentityRefused
			}
			sess.Source = SourceUser
			return sess, nil
		}
	}
	if claimed {
		sess.Source, sess.Role, sess.Customer = SourceGroups, claim.Role, claim.Customer
		return sess, nil
	}
	return Session{}, ErrIdentityRefused
}

// claimed is whom an identity's groups claim admits: an operator (never
// through a customer's provider), else a customer's person.
func (g *Gate) claimed(id Identity, providerCustomer string) (Session, bool) {
	for _, grp := range id.Groups {
		if g.groupsOp != "" && grp == g.groupsOp && providerCustomer == "" {
			return Session{Role: store.RoleOperator}, true
		}
	}
	for _, grp := range id.Groups {
		if c, ok := strings.CutPrefix(grp, g.groupsCu); ok && g.groupsCu != "" && c != "" && (providerCustomer == "" || c == providerCustomer) {
			return Session{Role: store.RoleCustomer, Customer: c}, true
		}
	}
	return Session{}, false
}

// Refusals of a password change, for the pages to word.
var (
	ErrWrongPassword = &Error{Kind: KindInvalid, Message: "the current password is wrong"}
	ErrSamePassword  = &Error{Kind: KindInvalid, Message: "the new password is the current one"}
	ErrShortPassword = &Error{Kind: KindInvalid, Message: fmt.Sprintf("a password has at least %d characters and at most %d bytes", MinPasswordLen, MaxPasswordLen)}
)

// ChangePassword sets a new password for the signed-in person's local
// account after checking the current one, and clears a one-time
// password's must-change mark. Wrong current passwords count with the
// account's failed sign-ins: after repeated ones the account's password
// checks wait (*SignInDelay), so a session in the wrong hands cannot
// guess the current password fast.
func (s Scope) ChangePassword(current, next string) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.p.User == "" {
		return Forbidden("only a person signed in to the pages has a password")
	}
	usr, err := s.g.store.GetUser(s.p.User)
	if err != nil {
		return err
	}
	ok, err := s.g.checkAccountPassword(strings.ToLower(usr.Email), "password changes of an account delayed after failures", func() (bool, error) {
		if usr.PasswordHash == "" || len(current) > MaxPasswordLen {
			return false, nil
		}
		ok, err := s.g.verify(usr.PasswordHash, current)
		if err != nil {
			return false, fmt.Errorf("verify password of %q: %w", s.p.User, err)
		}
		return ok, nil
	})
	switch {
	case err != nil:
		return err
	case !ok:
		return ErrWrongPassword
	case checkPassword(next, "password") != nil:
		return ErrShortPassword
	case next == current:
		return ErrSamePassword
	}
	hash, err := secret.HashPassword(next)
	if err != nil {
		return fmt.Errorf("hash password of %q: %w", s.p.User, err)
	}
	_, err = s.g.store.UpdateUser(s.p.User, func(x *store.User) error {
		x.PasswordHash = hash
		x.MustChangePassword = false
		return nil
	})
	return err
}

// Languages the pages are written in, by their base tag.
var Languages = []string{"en", "ja"}

// Refusals of preferences, for the pages to word.
var (
	ErrNoUserRecord = &Error{Kind: KindInvalid, Message: "preferences are kept only for users stored in Hearth"}
	ErrBadLanguage  = &Error{Kind: KindInvalid, Message: "unknown language"}
	ErrBadTimeZone  = &Error{Kind: KindInvalid, Message: "unknown time zone"}
)

// SetPreferences keeps the signed-in person's page language and time zone
// ("" for each: follow the browser, the server's zone).
func (s Scope) SetPreferences(language, zone string) error {
	if err := s.check(); err != nil {
		return err
	}
	if language != "" && !slices.Contains(Languages, language) {
		return ErrBadLanguage
	}
	if zone != "" {
		if _, err := time.LoadLocation(zone); err != nil || len(zone) > 64 {
			return ErrBadTimeZone
		}
	}
	if s.p.User == "" {
		return ErrNoUserRecord
	}
	_, err := s.g.store.UpdateUser(s.p.User, func(x *store.User) error {
		x.Language, x.TimeZone = language, zone
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoUserRecord
	}
	return err
}
