package gate

import (
	"errors"
	"strings"

	"github.com/hearthiot/hearth/store"
)

// A customer's admin (a customer user or API token with access admin)
// manages its own customer's users and API tokens, as an operator admin
// manages everyone's: it lists, creates and invites, changes the access
// level of, disables and deletes them. It never sees or touches operators'
// users and tokens or another customer's, which read as absent; it gives
// no access level above its own; and it may not leave its customer
// without an enabled admin user, so that the customer can always help
// itself. Operator admins are not held to that last rule: they may need
// to lock a customer out, and can always make a new admin.

// accountsOf decides who may manage users and API tokens, and whose:
// an operator admin manages all (own ""), a customer's admin only its own
// customer's (own is the customer). Everyone else is refused; what names
// the action for the message.
func (s Scope) accountsOf(what string) (own string, err error) {
	if err := s.check(); err != nil {
		return "", err
	}
	switch {
	case s.p.Admin():
		return "", nil
	case !s.p.Operator() && s.p.Level() == store.AccessAdmin:
		return s.p.Customer, nil
	}
	return "", Forbidden(what + " is for operator admins and customers' admins")
}

// manages reports whether a manager of own (see accountsOf) manages a user
// or token of that role and customer.
func manages(own, role, customer string) bool {
	return own == "" || (role == store.RoleCustomer && customer == own)
}

// ownSpec fits the role and customer of a new user or token to what a
// customer's admin (own set) may create: role customer (the default), its
// own customer (the default), an access level not above its own. For an
// operator admin it changes nothing.
func (s Scope) ownSpec(own string, role, customer *string, access, what string) error {
	if own == "" {
		return nil
	}
	switch *role {
	case "":
		*role = store.RoleCustomer
	case store.RoleCustomer:
	case store.RoleOperator:
		return Forbidden("a customer's admin creates only its own customer's " + what + "s, not operators'")
	}
	switch *customer {
	case "":
		*customer = own
	case own:
	default:
		return NotFound("customer")
	}
	return s.notAbove(access)
}

// accessRank orders customers' access levels; an unknown level is left to
// the store to refuse.
var accessRank = map[string]int{store.AccessViewer: 1, store.AccessEditor: 2, store.AccessAdmin: 3}

// notAbove refuses, for a customer's admin, a customer access level above
// its own ("" is the customer default, editor).
func (s Scope) notAbove(access string) error {
	if s.p.Operator() {
		return nil
	}
	want, mine := accessRank[store.EffectiveAccess(store.RoleCustomer, access)], accessRank[s.p.Level()]
	if want > mine {
		return Forbidden("you may not give access " + access + ", above your own " + s.p.Level())
	}
	return nil
}

// managedUser reads a user a manager of own manages; any other reads as
// absent.
func (s Scope) managedUser(own, email string) (store.User, error) {
	u, err := s.g.store.GetUser(strings.TrimSpace(email))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !manages(own, u.Role, u.Customer)) {
		return store.User{}, NotFound("user")
	}
	return u, err
}

// isSeat reports whether u holds an admin seat of its customer: an enabled
// customer admin user who can sign in. One invited who has not set a
// password yet holds none: the link may expire unused.
func isSeat(u store.User) bool {
	invitedOnly := u.InviteHash != "" && u.PasswordHash == ""
	return u.Role == store.RoleCustomer && !u.Disabled && !invitedOnly && store.EffectiveAccess(u.Role, u.Access) == store.AccessAdmin
}

// keepAnAdmin refuses, for a customer's admin (own set), a change of old
// (change applied to a copy) that would leave its customer without an
// enabled admin user. The caller holds accountsMu, so two admins cannot
// each take away the other's seat at once.
func (s Scope) keepAnAdmin(own string, old store.User, change func(*store.User)) error {
	if own == "" || !isSeat(old) {
		return nil
	}
	next := old
	change(&next)
	if isSeat(next) {
		return nil
	}
	users, err := s.g.store.ListUsers()
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Customer == own && isSeat(u) && !strings.EqualFold(u.Email, old.Email) {
			return nil
		}
	}
	return Refuse(KindConflict, "%s is the last enabled admin of customer %s; make another user admin first", old.Email, own)
}
