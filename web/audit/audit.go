// Package audit is the HTTP middleware that writes every change an
// operator asks for, refused or not, to the gate's audit log, for the REST
// API and the pages alike. What an entry holds and who is recorded is the
// gate's to decide (gate.Scope.RecordAudit); this package only sees the
// request and the status of its answer.
package audit

import (
	"net"
	"net/http"

	"github.com/hearthiot/hearth/gate"
)

// Recorder is where entries go; gate.Scope implements it.
type Recorder interface {
	RecordAudit(a gate.AuditAction)
}

// Changes records every request that changes something (any method but
// GET, HEAD and OPTIONS) on channel, with the status it was answered with:
// an attempt is worth knowing too. scope is the recorder of the request's
// principal, asked after the handler ran.
func Changes(channel string, scope func(r *http.Request) Recorder) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				next.ServeHTTP(w, r)
				return
			}
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			scope(r).RecordAudit(gate.AuditAction{Channel: channel, Action: r.Method + " " + r.URL.Path, Status: rec.status, Remote: RemoteHost(r)})
		})
	}
}

// RemoteHost is the address a request came from; Hearth is reached
// directly, so the connection's address is the client's.
func RemoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
