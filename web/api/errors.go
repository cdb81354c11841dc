package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/poll"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/store"
)

// Error codes of the JSON error body. They are part of the public contract.
const (
	codeInvalid              = "invalid"
	codeUnauthorized         = "unauthorized"
	codeForbidden            = "forbidden"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codeExists               = "exists"
	codeConflict             = "conflict"
	codeTooLarge             = "too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeInternal             = "internal"
	codeUnavailable          = "unavailable"
	codeTimeout              = "timeout"
)

// apiError is an error a handler decided the answer to itself: its status,
// code and message go to the client as they are.
type apiError struct {
	status  int
	code    string
	message string
	// bearerError is the RFC 6750 error attribute of a 401's
	// WWW-Authenticate challenge; empty when no credentials were sent.
	bearerError string
}

func (e *apiError) Error() string { return e.message }

// invalid is a 400 for input that breaks a rule; the message names the
// field and says what is accepted.
func invalid(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: codeInvalid, message: fmt.Sprintf(format, args...)}
}

func unauthorized(bearerError, message string) error {
	return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, message: message, bearerError: bearerError}
}

func forbidden(message string) error {
	return &apiError{status: http.StatusForbidden, code: codeForbidden, message: message}
}

// notFound is a 404 that names only the kind of record, never the name
// asked for, so that it reads the same whether the record does not exist or
// belongs to another customer.
func notFound(kind string) error {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, message: kind + " not found"}
}

func unavailable(message string) error {
	return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: message}
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Violations lists each value that broke a rule of a device type's
	// settings, when that is why a shadow update was refused.
	Violations []settings.Violation `json:"violations,omitempty"`
	// Problems lists what is wrong with a register map, each with its
	// line, when that is why it was refused.
	Problems []mapProblem `json:"problems,omitempty"`
}

// mapProblem is one problem of a register map.
type mapProblem struct {
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// writeError is the one place that turns an error into a response. Errors
// the client caused carry a message for the client; anything else is logged
// with its detail and answered with a generic 500.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, message := http.StatusInternalServerError, codeInternal, "internal error"
	var ae *apiError
	var tooLarge *http.MaxBytesError
	var se *shadow.Error
	switch {
	case errors.As(err, &ae):
		status, code, message = ae.status, ae.code, ae.message
		if status == http.StatusUnauthorized {
			challenge := `Bearer realm="hearth"`
			if ae.bearerError != "" {
				challenge += `, error="` + ae.bearerError + `"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
		}
	case errors.As(err, &tooLarge):
		status, code = http.StatusRequestEntityTooLarge, codeTooLarge
		message = fmt.Sprintf("request body is larger than the %d bytes accepted", tooLarge.Limit)
	case errors.As(err, &se):
		status, code, message = shadowErrorStatus(se.Code), codeInternal, se.Message
		switch status {
		case http.StatusBadRequest:
			code = codeInvalid
		case http.StatusNotFound:
			code = codeNotFound
		case http.StatusConflict:
			code = codeConflict
		case http.StatusRequestEntityTooLarge:
			code = codeTooLarge
		case http.StatusForbidden:
			code = codeForbidden
		default:
			a.logger.Error("shadow request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		}
	case errors.As(err, new(*modbus.MapError)), errors.Is(err, poll.ErrRTU):
		status, code, message = http.StatusBadRequest, codeInvalid, err.Error()
	case errors.Is(err, store.ErrNotFound):
		status, code, message = http.StatusNotFound, codeNotFound, err.Error()
	case errors.Is(err, store.ErrExists):
		status, code, message = http.StatusConflict, codeExists, err.Error()
	case errors.Is(err, store.ErrInvalid), errors.Is(err, device.ErrInvalid):
		status, code, message = http.StatusBadRequest, codeInvalid, err.Error()
	case errors.Is(err, ErrTelemetryUnavailable):
		status, code, message = http.StatusServiceUnavailable, codeUnavailable, "telemetry is busy; try again shortly"
		w.Header().Set("Retry-After", "10")
		a.logger.Warn("telemetry unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
	case errors.Is(err, context.DeadlineExceeded):
		status, code, message = http.StatusServiceUnavailable, codeTimeout, "the query took too long; narrow the range or raise the step"
		a.logger.Warn("request timed out", "method", r.Method, "path", r.URL.Path, "error", err)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		status, code, message = http.StatusServiceUnavailable, codeUnavailable, "request cancelled"
	default:
		a.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	detail := errorDetail{Code: code, Message: message}
	var ve *settings.Error
	if status == http.StatusBadRequest && errors.As(err, &ve) {
		detail.Violations = ve.Violations
	}
	var me *modbus.MapError
	if status == http.StatusBadRequest && errors.As(err, &me) {
		for _, p := range me.Problems {
			detail.Problems = append(detail.Problems, mapProblem{Line: p.Line, Message: p.Message})
		}
	}
	writeJSON(w, status, errorBody{Error: detail})
}

func (a *API) routeNotFound(w http.ResponseWriter, r *http.Request) {
	a.writeError(w, r, &apiError{
		status:  http.StatusNotFound,
		code:    codeNotFound,
		message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path),
	})
}

func (a *API) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	a.writeError(w, r, &apiError{
		status:  http.StatusMethodNotAllowed,
		code:    codeMethodNotAllowed,
		message: fmt.Sprintf("method %s is not accepted on %s", r.Method, r.URL.Path),
	})
}

// missingReference turns a not-found of a record named in a request body
// into a 400 naming the field: the route exists, the reference is wrong.
func missingReference(field, name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return invalid("field %q: no %s named %q", field, field, name)
	}
	return err
}

// shadowErrorStatus is the HTTP status of a shadow error code. The codes
// are AWS's and read like HTTP statuses; the ones the API does not answer
// with as they are become 500.
func shadowErrorStatus(code int) int {
	switch code {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge:
		return code
	}
	return http.StatusInternalServerError
}
