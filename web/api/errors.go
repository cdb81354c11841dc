package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/gate"
)

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
	Problems []gate.LineProblem `json:"problems,omitempty"`
}

// writeError turns an error into a response, as the gate describes it.
// Errors the client caused carry a message for the client; anything else is
// logged with its detail and answered with a generic 500.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := gate.Describe(err)
	switch {
	case p.Internal:
		a.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	case p.Warn:
		a.logger.Warn("request refused", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	if p.Kind == gate.KindUnauthorized {
		challenge := `Bearer realm="hearth"`
		if p.BearerError != "" {
			challenge += `, error="` + p.BearerError + `"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
		w.Header().Add("WWW-Authenticate", `Basic realm="hearth"`)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	writeJSON(w, p.Kind.Status(), errorBody{Error: errorDetail{
		Code:       p.Kind.Code(),
		Message:    p.Message,
		Violations: p.Violations,
		Problems:   p.Lines,
	}})
}

func (a *API) routeNotFound(w http.ResponseWriter, r *http.Request) {
	a.writeError(w, r, gate.Refuse(gate.KindNotFound, "no route %s %s", r.Method, r.URL.Path))
}

func (a *API) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	a.writeError(w, r, gate.Refuse(gate.KindMethodNotAllowed, "method %s is not accepted on %s", r.Method, r.URL.Path))
}

// unsupportedMediaType refuses a body in a format the route does not read.
func unsupportedMediaType(format string, args ...any) error {
	return gate.Refuse(gate.KindUnsupportedMediaType, "%s", fmt.Sprintf(format, args...))
}
