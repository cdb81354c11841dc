package store

import (
	"errors"
	"time"
)

// Sentinel errors for expected outcomes. They are wrapped with context, so
// callers check them with errors.Is.
var (
	// ErrNotFound: the named record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a record with that key already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid: the record breaks a rule of the store (an empty key, a
	// reference to a record that does not exist, a site that still has
	// devices, ...).
	ErrInvalid = errors.New("invalid")
	// ErrSchemaTooNew: the file was written by a newer Hearth.
	ErrSchemaTooNew = errors.New("schema version is newer than this binary")
	// ErrSchemaTooOld: a read-only open found a file that still needs
	// migrations, which only a writable open may run.
	ErrSchemaTooOld = errors.New("schema version is older than this binary")
	// ErrLocked: another process holds the file open for writing.
	ErrLocked = errors.New("store is locked by another process")
	// ErrReadOnly: a write was attempted on a store opened read-only.
	ErrReadOnly = errors.New("store is open read-only")
	// ErrVersionConflict: a shadow write expected another stored version
	// than the one in the file, because someone else wrote it in between.
	ErrVersionConflict = errors.New("version conflict")
)

// Customer is a company that owns sites. Name is the key: short, URL-safe.
type Customer struct {
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Site is a building of a customer. Its key is (Customer, Name).
type Site struct {
	Customer    string `json:"customer"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	// Address is the building's postal address as people write it, one
	// line or several; pages show it under the site's name.
	Address string `json:"address,omitempty"`
	// TimeZone is the IANA name of the site's zone ("Asia/Tokyo"); empty
	// is the server's default. Pages show the site's times in it.
	//
	// Address and TimeZone came after schema version 14 without a new
	// version: older binaries read the sites and ignore them.
	TimeZone  string    `json:"time_zone,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Credential kinds.
const (
	CredentialSecret      = "secret"
	CredentialCertificate = "certificate"
)

// Credential is one way a device can prove its identity: a secret (stored
// only as its hash) or a client certificate (stored as serial and SHA-256
// fingerprint). A credential with RevokedAt set is refused.
type Credential struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	SecretHash  []byte     `json:"secret_hash,omitempty"`
	CertSerial  string     `json:"cert_serial,omitempty"`
	Fingerprint string     `json:"fingerprint,omitempty"` // hex SHA-256 of the certificate's DER
	NotAfter    time.Time  `json:"not_after,omitzero"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

// Active reports whether the credential may still be used.
func (c Credential) Active() bool { return c.RevokedAt == nil }

// Device is a gateway or sensor. Name is its MQTT client id and thing name.
type Device struct {
	Name string `json:"name"`
	// DisplayName is what people call the device ("Chiller 2, roof");
	// optional, the name stays its identity.
	DisplayName string            `json:"display_name,omitempty"`
	Customer    string            `json:"customer"`
	Site        string            `json:"site"`
	Type        string            `json:"type"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	Credentials []Credential      `json:"credentials,omitempty"`
}

// Roles of users and API tokens.
const (
	RoleOperator = "operator"
	RoleCustomer = "customer"
)

// Access levels within a role. An operator is an admin (everything,
// including users and API tokens) or an operator (everything else); a
// customer's user is an admin, an editor (changes the settings customers
// may change) or a viewer (reads only). Empty is the role's default:
// admin for operators, editor for customers.
const (
	AccessAdmin    = "admin"
	AccessOperator = "operator"
	AccessEditor   = "editor"
	AccessViewer   = "viewer"
)

// EffectiveAccess is the access level a role and a stored level give,
// with the role's default for an empty one.
func EffectiveAccess(role, access string) string {
	if access != "" {
		return access
	}
	if role == RoleOperator {
		return AccessAdmin
	}
	return AccessEditor
}

// User is a person who signs in to the pages. Customer is set for customer
// roles and empty for operators.
type User struct {
	Email              string    `json:"email"`
	Role               string    `json:"role"`
	Access             string    `json:"access,omitempty"` // see AccessAdmin; empty is the role's default
	Customer           string    `json:"customer,omitempty"`
	PasswordHash       string    `json:"password_hash,omitempty"` // PHC string, argon2id
	MustChangePassword bool      `json:"must_change_password,omitempty"`
	CreatedAt          time.Time `json:"created_at"`
	// Language ("en", "ja") and TimeZone (IANA, "Asia/Tokyo") are the
	// person's choices for the pages; empty follows the browser and the
	// server's default.
	Language string `json:"language,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	// Disabled users cannot sign in, and their sessions end at their next
	// request; the record, and what history says they did, stay.
	Disabled bool `json:"disabled,omitempty"`
	// Notifications are what the person wants by e-mail; nil is
	// everything, at any hour.
	Notifications *NotificationPrefs `json:"notifications,omitempty"`
	// ChartMetrics are the metrics the person charts on a device's page,
	// by device type; a type not listed charts its default metrics.
	ChartMetrics map[string][]string `json:"chart_metrics,omitempty"`
	// InviteHash is the hex SHA-256 of the secret of an unused
	// set-password link, which works until InviteExpires; an invited
	// user has no password until they follow it.
	InviteHash    string    `json:"invite_hash,omitempty"`
	InviteExpires time.Time `json:"invite_expires,omitzero"`
}

// Token is an API bearer token. Only the SHA-256 of the secret is stored.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Access    string    `json:"access,omitempty"` // see AccessAdmin; empty is the role's default
	Customer  string    `json:"customer,omitempty"`
	Hash      []byte    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
}
