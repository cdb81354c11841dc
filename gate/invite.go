package gate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/store"
)

// Mailer sends e-mail now, for messages a person waits for;
// *notify.Service implements it.
type Mailer interface {
	// CanMail reports whether e-mail can be sent (an SMTP host is set).
	CanMail() bool
	// PublicURL is Hearth's address in links (https://hearth.example).
	PublicURL() string
	SendMail(ctx context.Context, to, subject, body string) error
}

// InviteTTL is how long a set-password link works.
const InviteTTL = 7 * 24 * time.Hour

// InvitePath is where a set-password link points, followed by its secret.
const InvitePath = "/set-password/"

// inviteSecretLen is the length of a set-password link's secret: 32
// random bytes, base64url without padding.
const inviteSecretLen = 43

// Invitation is a user just invited: the set-password link works once,
// until Expires. Emailed says it went to the user by e-mail; otherwise
// Link is shown this once to the admin, to pass on.
type Invitation struct {
	User    store.User
	Link    string
	Emailed bool
	// MailError says why the e-mail could not be sent, when it was tried.
	MailError string
	Expires   time.Time
}

// InviteUser creates a user without a password and a one-time
// set-password link for them: e-mailed when the server sends e-mail,
// otherwise answered for the admin to pass on. Until they follow it, the
// user cannot sign in with a password (single sign-on works as for any
// user). The rules of CreateUser apply; spec.Password must be empty.
func (s Scope) InviteUser(ctx context.Context, spec UserSpec) (Invitation, error) {
	own, err := s.accountsOf("inviting users")
	if err != nil {
		return Invitation{}, err
	}
	if spec.Password != "" {
		return Invitation{}, Invalid(`field "password": leave it out when inviting; the user sets their own`)
	}
	if strings.TrimSpace(spec.Email) == "" {
		return Invitation{}, Invalid(`field "email": required, as local-part@domain`)
	}
	if err := s.ownSpec(own, &spec.Role, &spec.Customer, spec.Access, "user"); err != nil {
		return Invitation{}, err
	}
	if err := s.checkRole(spec.Role, spec.Customer); err != nil {
		return Invitation{}, err
	}
	plain, hash := newInviteSecret()
	now := s.g.now().UTC()
	inv := Invitation{Expires: now.Add(InviteTTL)}
	err = s.g.store.CreateUser(store.User{
		Email:         strings.TrimSpace(spec.Email),
		Role:          spec.Role,
		Access:        spec.Access,
		Customer:      spec.Customer,
		CreatedAt:     now,
		InviteHash:    hash,
		InviteExpires: inv.Expires,
	})
	if err != nil {
		return Invitation{}, err
	}
	u, err := s.g.store.GetUser(spec.Email)
	if err != nil {
		return Invitation{}, err
	}
	inv.User = scrubUser(u)
	base := ""
	if s.g.mailer != nil {
		base = strings.TrimSuffix(s.g.mailer.PublicURL(), "/")
	}
	inv.Link = base + InvitePath + plain
	if s.g.mailer != nil && s.g.mailer.CanMail() {
		err := s.g.mailer.SendMail(ctx, u.Email, "[Hearth] Set your password / パスワードの設定", inviteBody(s.p.ActorName(), inv.Link, inv.Expires))
		if err == nil {
			inv.Emailed, inv.Link = true, ""
		} else {
			s.g.logger.Warn("set-password link not e-mailed; it is shown to the admin instead", "user", u.Email, "error", err)
			inv.MailError = "the e-mail could not be sent; pass the link on yourself"
		}
	}
	return inv, nil
}

// inviteBody is the e-mail of a set-password link, in English and
// Japanese: the server does not know the invited person's language yet.
func inviteBody(by, link string, expires time.Time) string {
	by = strings.TrimPrefix(strings.TrimPrefix(by, "user:"), "token:")
	day := expires.Format("2006-01-02 15:04 MST")
	return fmt.Sprintf("%s has invited you to Hearth.\n"+
		"Choose your password here; the link works once, until %s:\n\n%s\n\n"+
		"%s さんから Hearth に招待されました。\n"+
		"次のリンクでパスワードを設定してください(%s まで、一度だけ有効です):\n\n%s\n", by, day, link, by, day, link)
}

// newInviteSecret is a set-password link's secret and the hex SHA-256
// the user record keeps.
func newInviteSecret() (plain, hash string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	plain = base64.RawURLEncoding.EncodeToString(b)
	return plain, hashInvite(plain)
}

func hashInvite(plain string) string {
	h := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(h[:])
}

// ErrInviteUnknown is the one answer to a set-password link that does not
// work: unknown, used, expired, or of a disabled user.
var ErrInviteUnknown = &Error{Kind: KindNotFound, Message: "this set-password link is unknown, used or expired; ask your admin for a new one"}

// invited finds the user a set-password link's secret belongs to.
func (g *Gate) invited(plain string) (store.User, error) {
	if len(plain) != inviteSecretLen {
		return store.User{}, ErrInviteUnknown
	}
	want := hashInvite(plain)
	users, err := g.store.ListUsers()
	if err != nil {
		return store.User{}, err
	}
	now := g.now()
	for _, u := range users {
		if u.InviteHash != "" && subtle.ConstantTimeCompare([]byte(u.InviteHash), []byte(want)) == 1 {
			if u.Disabled || !now.Before(u.InviteExpires) {
				return store.User{}, ErrInviteUnknown
			}
			return u, nil
		}
	}
	return store.User{}, ErrInviteUnknown
}

// Invited answers the e-mail address a working set-password link is for,
// for its page to show.
func (g *Gate) Invited(plain string) (string, error) {
	u, err := g.invited(plain)
	return u.Email, err
}

// AcceptInvite sets the password of the user a set-password link belongs
// to and spends the link; the user then signs in with it. It answers the
// user's e-mail address.
func (g *Gate) AcceptInvite(plain, password string) (string, error) {
	u, err := g.invited(plain)
	if err != nil {
		return "", err
	}
	if checkPassword(password, "password") != nil {
		return "", ErrShortPassword
	}
	hash, err := secret.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("hash password of %q: %w", u.Email, err)
	}
	want := u.InviteHash
	_, err = g.store.UpdateUser(u.Email, func(x *store.User) error {
		if x.InviteHash != want {
			// Spent or replaced since it was read.
			return ErrInviteUnknown
		}
		x.PasswordHash, x.MustChangePassword = hash, false
		x.InviteHash, x.InviteExpires = "", time.Time{}
		return nil
	})
	if errors.Is(err, ErrInviteUnknown) {
		return "", ErrInviteUnknown
	}
	if err != nil {
		return "", err
	}
	g.accounts.succeeded(strings.ToLower(u.Email))
	return u.Email, nil
}
