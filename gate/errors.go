package gate

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store"
)

// Kind is what went wrong with an operation, in the terms every channel
// (the REST API, the pages) answers alike.
type Kind int

// Kinds of refusal. Their codes (Kind.Code) are part of the REST API's
// public contract.
const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindMethodNotAllowed
	KindExists
	KindConflict
	KindTooLarge
	KindUnsupportedMediaType
	KindUnavailable
	KindTimeout
)

var kinds = [...]struct {
	status int
	code   string
}{
	KindInternal:             {http.StatusInternalServerError, "internal"},
	KindInvalid:              {http.StatusBadRequest, "invalid"},
	KindUnauthorized:         {http.StatusUnauthorized, "unauthorized"},
	KindForbidden:            {http.StatusForbidden, "forbidden"},
	KindNotFound:             {http.StatusNotFound, "not_found"},
	KindMethodNotAllowed:     {http.StatusMethodNotAllowed, "method_not_allowed"},
	KindExists:               {http.StatusConflict, "exists"},
	KindConflict:             {http.StatusConflict, "conflict"},
	KindTooLarge:             {http.StatusRequestEntityTooLarge, "too_large"},
	KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "unsupported_media_type"},
	KindUnavailable:          {http.StatusServiceUnavailable, "unavailable"},
	KindTimeout:              {http.StatusServiceUnavailable, "timeout"},
}

// Status is the HTTP status a refusal of this kind is answered with.
func (k Kind) Status() int { return kinds[k].status }

// Code is the machine-readable name of the kind in error answers.
func (k Kind) Code() string { return kinds[k].code }

// Error is a refusal the gate (or a channel decoding a request) decided
// itself: its kind and message go to the caller as they are.
type Error struct {
	Kind    Kind
	Message string
	// BearerError is the RFC 6750 error attribute of a 401's challenge;
	// empty when no credentials were sent.
	BearerError string
	// Lines lists what is wrong with an uploaded text, each with its line.
	Lines []LineProblem
}

func (e *Error) Error() string { return e.Message }

// Invalid is a refusal of input that breaks a rule; the message names the
// field and says what is accepted.
func Invalid(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Message: fmt.Sprintf(format, args...)}
}

// Forbidden refuses a principal that may not do what it asked.
func Forbidden(message string) error { return &Error{Kind: KindForbidden, Message: message} }

// NotFound names only the kind of record, never the name asked for, so that
// it reads the same whether the record does not exist or belongs to another
// customer.
func NotFound(kind string) error { return &Error{Kind: KindNotFound, Message: kind + " not found"} }

// Unavailable refuses an operation the server cannot do now or at all
// (a part it runs without).
func Unavailable(message string) error { return &Error{Kind: KindUnavailable, Message: message} }

// Unauthorized refuses missing or wrong credentials.
func Unauthorized(bearerError, message string) error {
	return &Error{Kind: KindUnauthorized, Message: message, BearerError: bearerError}
}

// Refuse is an error of any kind with a formatted message.
func Refuse(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// ErrNoAccess is what a Scope returns for a principal that is not valid
// (no role, or a customer role without a customer).
var ErrNoAccess = &Error{Kind: KindForbidden, Message: "no access"}

// ErrTelemetryUnavailable is what a Telemetry implementation wraps when it
// cannot answer for now (all query slots taken, shutting down): trying
// again later helps.
var ErrTelemetryUnavailable = errors.New("telemetry unavailable")

// Problem is how an error is answered, the same on every channel.
type Problem struct {
	Kind    Kind
	Message string
	// BearerError is set for a 401 whose credentials were wrong.
	BearerError string
	// Violations lists each value that broke a rule of a device type's
	// settings, when that is why a change was refused.
	Violations []settings.Violation
	// Lines lists what is wrong with an uploaded file (a register map),
	// each with its line.
	Lines []LineProblem
	// RetryAfter, in seconds, is set when trying again later helps.
	RetryAfter int
	// Internal is true for a failure the caller did not cause: its message
	// is generic, and the channel logs err with its detail.
	Internal bool
	// Warn is true for a refusal operators should hear of (an overloaded
	// or slow query engine): the channel logs it as a warning.
	Warn bool
}

// LineProblem is one problem of an uploaded text, with its line (0 when it
// concerns the whole text).
type LineProblem struct {
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// Describe is the one place that decides how an error is answered: errors
// the caller caused carry a message for the caller; anything else is an
// internal error with a generic message.
func Describe(err error) Problem {
	var (
		ge       *Error
		tooLarge *http.MaxBytesError
		se       *shadow.Error
		ve       *settings.Error
		ce       *scheduler.Error
		cse      *scheduler.StepError
		csvErr   *scheduler.CSVError
		bulk     *BulkRefusal
	)
	switch {
	case errors.As(err, &ce):
		return Problem{Kind: KindInvalid, Message: ce.Error()}
	case errors.As(err, &csvErr):
		p := Problem{Kind: KindInvalid, Message: csvErr.Error()}
		for _, l := range csvErr.Problems {
			p.Lines = append(p.Lines, LineProblem{Line: l.Line, Message: l.Message})
		}
		return p
	case errors.As(err, &bulk):
		p := Problem{Kind: KindInvalid, Message: bulk.Error()}
		for _, l := range bulk.Problems {
			p.Lines = append(p.Lines, LineProblem{Line: l.Line, Message: l.Reason})
		}
		return p
	case errors.As(err, &cse):
		return Problem{Kind: KindInvalid, Message: cse.Error(), Violations: cse.Err.Violations}
	case errors.As(err, &ge):
		return Problem{Kind: ge.Kind, Message: ge.Message, BearerError: ge.BearerError, Lines: ge.Lines}
	case errors.As(err, &tooLarge):
		return Problem{Kind: KindTooLarge, Message: fmt.Sprintf("request body is larger than the %d bytes accepted", tooLarge.Limit)}
	case errors.As(err, &se):
		p := Problem{Kind: shadowKind(se.Code), Message: se.Message}
		if p.Kind == KindInternal {
			p.Internal = true
		}
		if p.Kind == KindInvalid && errors.As(err, &ve) {
			p.Violations = ve.Violations
		}
		return p
	case errors.Is(err, store.ErrNotFound):
		return Problem{Kind: KindNotFound, Message: err.Error()}
	case errors.Is(err, store.ErrExists):
		return Problem{Kind: KindExists, Message: err.Error()}
	case errors.Is(err, store.ErrInvalid), errors.Is(err, device.ErrInvalid):
		p := Problem{Kind: KindInvalid, Message: err.Error()}
		if errors.As(err, &ve) {
			p.Violations = ve.Violations
		}
		return p
	case errors.Is(err, ErrTelemetryUnavailable):
		return Problem{Kind: KindUnavailable, Message: "telemetry is busy; try again shortly", RetryAfter: 10, Warn: true}
	case errors.Is(err, context.DeadlineExceeded):
		return Problem{Kind: KindTimeout, Message: "the query took too long; narrow the range or raise the step", Warn: true}
	case errors.Is(err, context.Canceled):
		// The caller went away; nobody reads the answer.
		return Problem{Kind: KindUnavailable, Message: "request cancelled"}
	}
	return Problem{Kind: KindInternal, Message: "internal error", Internal: true}
}

// shadowKind is the kind of a shadow error code. The codes are AWS's and
// read like HTTP statuses; those without a kind of their own are internal.
func shadowKind(code int) Kind {
	switch code {
	case http.StatusBadRequest:
		return KindInvalid
	case http.StatusForbidden:
		return KindForbidden
	case http.StatusNotFound:
		return KindNotFound
	case http.StatusConflict:
		return KindConflict
	case http.StatusRequestEntityTooLarge:
		return KindTooLarge
	}
	return KindInternal
}

// missingReference turns a not-found of a record named in a request into a
// refusal of the request naming the field: the operation exists, the
// reference is wrong.
func missingReference(field, name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return Invalid("field %q: no %s named %q", field, field, name)
	}
	return err
}
