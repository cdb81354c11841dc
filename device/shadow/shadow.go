package shadow

import (
	"fmt"
	"net/http"
)

// Document is a stored shadow. Delta is not part of it: it is computed from
// Desired and Reported whenever it is needed (see Delta), as AWS does.
//
// State values are what encoding/json produces with UseNumber: string,
// json.Number, bool, []any and map[string]any; a stored document never holds
// a null. Metadata mirrors the state tree and holds {"timestamp": unix
// seconds} (an int64) for every leaf; an array is a leaf, because AWS treats
// arrays as single values that are only ever replaced whole.
type Document struct {
	State     State
	Metadata  Metadata
	Version   int64
	Timestamp int64
}

// State is the desired and reported sections of a shadow; nil means the
// section is absent.
type State struct {
	Desired  map[string]any
	Reported map[string]any
}

// Metadata holds the per-leaf timestamps of the desired and reported
// sections; nil means the section is absent.
type Metadata struct {
	Desired  map[string]any
	Reported map[string]any
}

// Section names, as they appear in documents and in Change.Section.
const (
	SectionDesired  = "desired"
	SectionReported = "reported"
)

// Limits bound what one shadow may hold. The zero value of a field means its
// default, so Limits{} is AWS's behaviour.
type Limits struct {
	// MaxStateBytes bounds the state part of the stored document: the
	// compact JSON encoding of {"desired":…,"reported":…}, without
	// whitespace, delta or metadata (AWS counts neither metadata nor
	// whitespace). It also bounds the state part of one update request.
	// Default 8192, AWS's limit.
	MaxStateBytes int
	// MaxDepth bounds the nesting inside desired and reported: a value
	// directly under desired is at level 1, a value inside it at level 2, and
	// array elements count as a level. Default 6, the maximum AWS's error
	// message names ("JSON contains too many levels of nesting; maximum is 6").
	MaxDepth int
	// MaxClientTokenBytes bounds clientToken. Default 64, AWS's limit.
	MaxClientTokenBytes int
}

// Defaults of Limits, AWS's values.
const (
	DefaultMaxStateBytes       = 8192
	DefaultMaxDepth            = 6
	DefaultMaxClientTokenBytes = 64
)

func (l Limits) withDefaults() Limits {
	if l.MaxStateBytes <= 0 {
		l.MaxStateBytes = DefaultMaxStateBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxClientTokenBytes <= 0 {
		l.MaxClientTokenBytes = DefaultMaxClientTokenBytes
	}
	return l
}

// Error is a rejection with the HTTP status code and the message AWS uses,
// so the MQTT rejected topics and the REST API answer exactly as AWS would.
// Check for it with errors.As.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("shadow: %d %s", e.Code, e.Message)
}

// Messages of AWS's "Device Shadow error messages" page, reused verbatim so
// clients that match on them keep working.
const (
	msgInvalidJSON      = "Invalid JSON"
	msgMissingState     = "Missing required node: state"
	msgStateNotObject   = "State node must be an object"
	msgDesiredNotObject = "Desired node must be an object"
	msgReportedNotObj   = "Reported node must be an object"
	msgInvalidVersion   = "Invalid version"
	msgInvalidToken     = "Invalid clientToken"
	msgInvalidNode      = "State contains an invalid node"
	msgVersionConflict  = "Version conflict"
	msgTooLarge         = "The payload exceeds the maximum size allowed"
	msgNotUTF8          = "Unsupported documented encoding; supported encoding is UTF-8"
)

func errBadRequest(msg string) *Error { return &Error{Code: http.StatusBadRequest, Message: msg} }

// NotFound is the 404 answer to a get or delete of a shadow that does not
// exist. shadowName is empty for the classic shadow; AWS then names the thing.
func NotFound(thing, shadowName string) *Error {
	name := shadowName
	if name == "" {
		name = thing
	}
	return &Error{Code: http.StatusNotFound, Message: "No shadow exists with name: '" + name + "'"}
}

// MaxNameLength is the longest shadow name AWS accepts.
const MaxNameLength = 64

// ValidName reports whether name may name a named shadow: 1 to 64 characters
// of ASCII letters, digits, ':', '_' and '-', as AWS allows. The rule keeps
// the name a single MQTT topic level. The classic shadow has no name and is
// not checked here.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("shadow name is empty")
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("shadow name is %d characters long; at most %d are allowed", len(name), MaxNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("shadow name %q has %q at byte %d; only letters, digits, ':', '_' and '-' are allowed", name, c, i)
		}
	}
	return nil
}
