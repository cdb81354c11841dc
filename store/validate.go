package store

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the values the store accepts.
const (
	// maxNameLen bounds names and short texts; a device name is also an MQTT
	// client id and a topic level, where AWS IoT allows 128 bytes.
	maxNameLen = 128
	// maxSlugLen bounds customer and site names, which appear in URLs and
	// in telemetry labels.
	maxSlugLen = 64
	// maxAttributeLen bounds a device attribute's value.
	maxAttributeLen = 1024
	// maxEmailLen is the longest address RFC 5321 lets through.
	maxEmailLen = 254
	// tokenHashLen is the size of a SHA-256.
	tokenHashLen = 32
	// fingerprintLen is a SHA-256 in hex.
	fingerprintLen = 64
)

// checkText accepts valid UTF-8 without control characters, at most max
// bytes; an empty value passes only when it is optional.
func checkText(field, s string, max int, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s is empty: %w", field, ErrInvalid)
		}
		return nil
	}
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes long, at most %d are accepted: %w", field, len(s), max, ErrInvalid)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8: %w", field, s, ErrInvalid)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s %q contains the control character %U: %w", field, s, r, ErrInvalid)
		}
	}
	return nil
}

// checkName is the rule for record keys that are not customer or site
// names: device names, credential and token IDs.
func checkName(field, s string) error {
	return checkText(field, s, maxNameLen, true)
}

// checkDeviceName adds to checkName the characters that would break the
// device's MQTT topics: a device name is one topic level.
func checkDeviceName(s string) error {
	if err := checkName("device name", s); err != nil {
		return err
	}
	if i := strings.IndexAny(s, "/+#"); i >= 0 {
		return fmt.Errorf("device name %q contains %q; '/', '+' and '#' are not accepted because the name is an MQTT topic level: %w", s, s[i], ErrInvalid)
	}
	return nil
}

// checkSlug is the rule for customer and site names: 1 to 64 of
// [A-Za-z0-9._-], and not "." or "..", which mean something else in a path.
func checkSlug(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty: %w", field, ErrInvalid)
	}
	if len(s) > maxSlugLen {
		return fmt.Errorf("%s is %d bytes long, at most %d are accepted: %w", field, len(s), maxSlugLen, ErrInvalid)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("%s %q: only letters A-Z and a-z, digits, '.', '_' and '-' are accepted: %w", field, s, ErrInvalid)
		}
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%s %q is not accepted: %w", field, s, ErrInvalid)
	}
	return nil
}

// normalizeEmail checks an address and returns it lower-cased, the form
// users are keyed by, so that sign-in does not depend on how it was typed.
func normalizeEmail(s string) (string, error) {
	if err := checkText("e-mail", s, maxEmailLen, true); err != nil {
		return "", err
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", fmt.Errorf("e-mail %q: expected local-part@domain: %w", s, ErrInvalid)
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "", fmt.Errorf("e-mail %q contains white space: %w", s, ErrInvalid)
	}
	return strings.ToLower(s), nil
}

// checkRoleFields checks the rule shared by users and tokens without looking
// at the file: a known role, a customer exactly when the role needs one.
// checkPreferences checks a user's language and time zone: whether the
// zone exists is the pages' question, the store keeps short text only.
func checkPreferences(u User) error {
	switch u.Language {
	case "", "en", "ja":
	default:
		return fmt.Errorf("language %q: en or ja is accepted: %w", u.Language, ErrInvalid)
	}
	if err := checkNotificationPrefs(u.Notifications); err != nil {
		return err
	}
	if err := checkChartMetrics(u.ChartMetrics); err != nil {
		return err
	}
	return checkText("time zone", u.TimeZone, maxSlugLen, false)
}

// checkAccess checks an access level against its role.
func checkAccess(role, access string) error {
	switch {
	case access == "":
	case role == RoleOperator && (access == AccessAdmin || access == AccessOperator):
	case role == RoleCustomer && (access == AccessAdmin || access == AccessEditor || access == AccessViewer):
	default:
		return fmt.Errorf("access %q for role %q: operators are admin or operator, customers admin, editor or viewer: %w", access, role, ErrInvalid)
	}
	return nil
}

func checkRoleFields(role, customer string) error {
	switch role {
	case RoleOperator:
		if customer != "" {
			return fmt.Errorf("role %q must not name a customer, got %q: %w", role, customer, ErrInvalid)
		}
	case RoleCustomer:
		if err := checkSlug("customer", customer); err != nil {
			return fmt.Errorf("role %q needs a customer: %w", role, err)
		}
	default:
		return fmt.Errorf("role %q: only %q and %q are accepted: %w", role, RoleOperator, RoleCustomer, ErrInvalid)
	}
	return nil
}

// checkCredential checks one credential of a device.
func checkCredential(c Credential) error {
	if err := checkName("credential id", c.ID); err != nil {
		return err
	}
	switch c.Kind {
	case CredentialSecret:
		if len(c.SecretHash) == 0 {
			return fmt.Errorf("credential %q: kind %q needs a secret hash: %w", c.ID, c.Kind, ErrInvalid)
		}
	case CredentialCertificate:
		if !isLowerHex(c.Fingerprint) || len(c.Fingerprint) != fingerprintLen {
			return fmt.Errorf("credential %q: fingerprint %q: expected %d lower-case hex digits of the certificate's SHA-256: %w", c.ID, c.Fingerprint, fingerprintLen, ErrInvalid)
		}
		if err := checkText("credential "+c.ID+" certificate serial", c.CertSerial, maxNameLen, false); err != nil {
			return err
		}
	default:
		return fmt.Errorf("credential %q: kind %q: only %q and %q are accepted: %w", c.ID, c.Kind, CredentialSecret, CredentialCertificate, ErrInvalid)
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
