package gate

import (
	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
)

// Principal is who an operation acts for. Role is store.RoleOperator or
// store.RoleCustomer; Customer is set exactly for customers. Name and
// TokenID say which token (or "local" for the admin socket) made the
// request, for logs and audit records.
//
// User is set for a person signed in to the pages (their e-mail); changes
// they make are recorded as "user:EMAIL".
type Principal struct {
	Role     string
	Customer string
	Name     string
	TokenID  string
	User     string
	// Access is the level within the role (store.AccessAdmin, …); empty
	// is the role's default.
	Access string
}

// Local is the principal of the admin socket and of the command line run
// in-process, where file permissions decide who may connect.
func Local() Principal { return Principal{Role: store.RoleOperator, Name: "local"} }

// Level is the principal's effective access level.
func (p Principal) Level() string { return store.EffectiveAccess(p.Role, p.Access) }

// MayChangeSettings reports whether p may change shadows' desired state:
// every operator, and customers' admins and editors (not viewers).
func (p Principal) MayChangeSettings() bool { return p.Level() != store.AccessViewer }

// Admin reports whether p is an operator admin, who alone manages single
// sign-on and everyone's users and API tokens (a customer's admin manages
// its own customer's: see accountsOf).
func (p Principal) Admin() bool { return p.Operator() && p.Level() == store.AccessAdmin }

// Operator reports whether p sees everything.
func (p Principal) Operator() bool { return p.Role == store.RoleOperator }

// Valid reports whether p is a role the gate knows how to scope. A
// customer principal without a customer would otherwise be scoped to
// nothing, which a device list filter reads as everything.
func (p Principal) Valid() bool {
	switch p.Role {
	case store.RoleOperator:
		return p.Customer == ""
	case store.RoleCustomer:
		return p.Customer != ""
	}
	return false
}

// ActorName is how p appears in the history and the audit log:
// user:EMAIL, token:NAME, or local for the admin socket.
func (p Principal) ActorName() string {
	switch {
	case p.User != "":
		return "user:" + p.User
	case p.TokenID != "":
		return "token:" + p.Name
	}
	return "local"
}

// actor is who a shadow change by p is recorded as: on the page channel
// for a person signed in to the pages, on the api channel otherwise. A
// customer is restricted to the settings customers may change.
func (p Principal) actor() device.Actor {
	channel := device.ChannelAPI
	if p.User != "" {
		channel = device.ChannelPage
	}
	return device.Actor{Name: p.ActorName(), Channel: channel, Restricted: !p.Operator()}
}
