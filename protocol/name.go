package protocol

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxNameLength is the longest thing name AWS IoT Core accepts, kept so that
// firmware and tooling written for it work unchanged.
const MaxNameLength = 128

// ErrInvalid marks a value that breaks a rule of the protocol, such as a bad
// name. Failures wrap it, so callers check errors.Is and can answer "400 Bad
// Request" without parsing messages.
var ErrInvalid = errors.New("invalid")

// ValidName reports whether name may be a thing name: 1 to 128 characters of
// ASCII letters, digits, ':', '_' and '-', as AWS IoT Core allows. The rule
// keeps names safe as a single MQTT topic level (no '/', '+', '#') and in URLs
// and file names. The error wraps ErrInvalid and says what is wrong.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("name is empty: %w", ErrInvalid)
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("name is %d characters long; at most %d are allowed: %w", len(name), MaxNameLength, ErrInvalid)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			r, _ := utf8.DecodeRuneInString(name[i:])
			return fmt.Errorf("name %q has %q at byte %d; only letters, digits, ':', '_' and '-' are allowed: %w", name, r, i, ErrInvalid)
		}
	}
	return nil
}

// IsValidName is ValidName without building an error, for the paths that
// run for every message.
func IsValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return false
		}
	}
	return true
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '-'
}
