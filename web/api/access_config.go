package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/auth"
)

// This file holds the operators' configuration for Go callers (the
// operator pages): users, API tokens, device types and the fleet's shadow
// history. Users and tokens decide who may do anything, so, as on the REST
// routes, only operator admins manage them; the rest is for every
// operator. Each method goes to the same store and services as the REST
// handlers, so a page and a REST request obey the same rules.

// UserSpec is a user to create. Access is the level within the role; empty
// is the role's default.
type UserSpec struct {
	Email    string
	Role     string
	Access   string
	Customer string
}

// TokenSpec is an API token to create; Name is how history and the audit
// log name it ("token:NAME").
type TokenSpec struct {
	Name     string
	Role     string
	Access   string
	Customer string
}

// adminOnly refuses principals that are not operator admins; what names
// the action for the message.
func (s Scope) adminOnly(what string) error {
	if err := s.check(); err != nil {
		return err
	}
	if !s.p.Admin() {
		return forbidden(what + " is for operator admins")
	}
	return nil
}

// Users returns every user, sorted by e-mail, without password hashes.
func (s Scope) Users() ([]store.User, error) {
	if err := s.adminOnly("managing users"); err != nil {
		return nil, err
	}
	users, err := s.a.store.ListUsers()
	if err != nil {
		return nil, err
	}
	for i := range users {
		users[i].PasswordHash = ""
	}
	return users, nil
}

// CreateUser stores a new user with a generated one-time password, which
// the user must change at first sign-in, and returns the user as stored
// and the password, shown this once.
func (s Scope) CreateUser(spec UserSpec) (store.User, string, error) {
	if err := s.adminOnly("creating users"); err != nil {
		return store.User{}, "", err
	}
	if strings.TrimSpace(spec.Email) == "" {
		return store.User{}, "", invalid(`field "email": required, as local-part@domain`)
	}
	if err := s.a.checkRole(spec.Role, spec.Customer); err != nil {
		return store.User{}, "", err
	}
	password := auth.GeneratePassword()
	hash, err := auth.HashPassword(password)
	if err != nil {
		return store.User{}, "", fmt.Errorf("hash password of %q: %w", spec.Email, err)
	}
	err = s.a.store.CreateUser(store.User{
		Email:              spec.Email,
		Role:               spec.Role,
		Access:             spec.Access,
		Customer:           spec.Customer,
		PasswordHash:       hash,
		MustChangePassword: true,
		CreatedAt:          s.a.now().UTC(),
	})
	if err != nil {
		return store.User{}, "", err
	}
	// The store keys users by a normalised e-mail; answer with what it kept.
	u, err := s.a.store.GetUser(spec.Email)
	if err != nil {
		return store.User{}, "", err
	}
	u.PasswordHash = ""
	return u, password, nil
}

// DeleteUser deletes a user. A person may not delete their own user: an
// operator admin who did would lock themselves out mid-session, and
// perhaps leave nobody to manage users.
func (s Scope) DeleteUser(email string) error {
	if err := s.adminOnly("deleting users"); err != nil {
		return err
	}
	if s.p.User != "" && strings.EqualFold(strings.TrimSpace(email), s.p.User) {
		return invalid("you may not delete your own user %q; another operator admin may", s.p.User)
	}
	return s.a.store.DeleteUser(email)
}

// Tokens returns every API token, without their hashes.
func (s Scope) Tokens() ([]store.Token, error) {
	if err := s.adminOnly("managing API tokens"); err != nil {
		return nil, err
	}
	tokens, err := s.a.store.ListTokens()
	if err != nil {
		return nil, err
	}
	for i := range tokens {
		tokens[i].Hash = nil
	}
	return tokens, nil
}

// CreateToken stores a new API token and returns it, without its hash, and
// its secret, shown this once. Unlike the REST route it needs a name: a
// token without one would show in history and the audit log as a bare
// "token:".
func (s Scope) CreateToken(spec TokenSpec) (store.Token, string, error) {
	if err := s.adminOnly("creating API tokens"); err != nil {
		return store.Token{}, "", err
	}
	if strings.TrimSpace(spec.Name) == "" {
		return store.Token{}, "", invalid(`field "name": required; history and the audit log name the token by it`)
	}
	if err := s.a.checkRole(spec.Role, spec.Customer); err != nil {
		return store.Token{}, "", err
	}
	secret, id, hash := auth.NewToken()
	t := store.Token{
		ID:        id,
		Name:      spec.Name,
		Role:      spec.Role,
		Access:    spec.Access,
		Customer:  spec.Customer,
		Hash:      hash,
		CreatedAt: s.a.now().UTC(),
	}
	if err := s.a.store.CreateToken(t); err != nil {
		return store.Token{}, "", err
	}
	t.Hash = nil
	return t, secret, nil
}

// DeleteToken deletes an API token; it stops working at once.
func (s Scope) DeleteToken(id string) error {
	if err := s.adminOnly("deleting API tokens"); err != nil {
		return err
	}
	return s.a.store.DeleteToken(id)
}

// deviceTypes is the device type catalogue for an operator, or why there
// is none.
func (s Scope) deviceTypes(what string) (DeviceTypes, error) {
	if err := s.operatorOnly(what); err != nil {
		return nil, err
	}
	if s.a.types == nil {
		return nil, unavailable("device types are not available on this server")
	}
	return s.a.types, nil
}

// DeviceTypes returns every device type, sorted by name.
func (s Scope) DeviceTypes() ([]store.DeviceType, error) {
	types, err := s.deviceTypes("reading device types")
	if err != nil {
		return nil, err
	}
	return types.List()
}

// DeviceType returns one device type.
func (s Scope) DeviceType(name string) (store.DeviceType, error) {
	types, err := s.deviceTypes("reading device types")
	if err != nil {
		return store.DeviceType{}, err
	}
	return types.Get(name)
}

// CreateDeviceType stores a device type that does not exist yet (409 when
// it does), so that creating cannot silently replace another's settings.
func (s Scope) CreateDeviceType(t store.DeviceType) (store.DeviceType, error) {
	types, err := s.deviceTypes("creating device types")
	if err != nil {
		return store.DeviceType{}, err
	}
	if t.Name != "" {
		_, err := types.Get(t.Name)
		if err == nil {
			return store.DeviceType{}, fmt.Errorf("device type %q: %w", t.Name, store.ErrExists)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.DeviceType{}, err
		}
	}
	return types.Put(t)
}

// UpdateDeviceType replaces the description and settings of an existing
// device type (404 when it does not exist). Settings that do not compile
// are refused naming the setting and the problem; nothing is stored then.
// They take effect for the next update of every device of the type.
func (s Scope) UpdateDeviceType(t store.DeviceType) (store.DeviceType, error) {
	types, err := s.deviceTypes("changing device types")
	if err != nil {
		return store.DeviceType{}, err
	}
	if _, err := types.Get(t.Name); err != nil {
		return store.DeviceType{}, err
	}
	return types.Put(t)
}

// DeleteDeviceType deletes a device type; it is refused (400) while
// devices are of the type.
func (s Scope) DeleteDeviceType(name string) error {
	types, err := s.deviceTypes("deleting device types")
	if err != nil {
		return err
	}
	return types.Delete(name)
}

// ParseSettings reads a device type's settings as JSON: the "settings"
// array of the REST API's device type. Unknown fields, a wrong JSON type
// and trailing data are refused (400) with a message that says where and
// what is accepted; what the settings mean is the device types' to check.
func ParseSettings(b []byte) ([]store.Setting, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, invalid(`settings: a JSON array of settings is expected, [] for a type whose devices take none`)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var out []store.Setting
	err := dec.Decode(&out)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &syntax):
		return nil, invalid("settings are not valid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, invalid("settings: the JSON ends early")
	case errors.As(err, &typ) && typ.Field == "":
		return nil, invalid("settings: a JSON array of settings is expected, got %s", typ.Value)
	default:
		return nil, invalid("settings: %v", describeJSONError(err, &store.Setting{}))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid("settings: unexpected data after the JSON array")
	}
	if out == nil {
		return nil, invalid(`settings: a JSON array of settings is expected, [] for a type whose devices take none`)
	}
	return out, nil
}

// FleetHistory returns the shadow history of the whole fleet, newest first,
// or of one device when q.Device is set. History is kept by device name and
// outlives a deleted device, so an operator can still read what happened
// to it.
func (s Scope) FleetHistory(q store.HistoryQuery) ([]store.HistoryEntry, string, error) {
	if err := s.operatorOnly("the fleet's history"); err != nil {
		return nil, "", err
	}
	if !q.To.IsZero() && !q.To.After(q.From) {
		return nil, "", invalid("the time range must start before it ends")
	}
	return s.a.store.History(q)
}
