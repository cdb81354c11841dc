package api

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hearthiot/hearth/store"
)

// Channels of audit entries.
const (
	AuditChannelAPI  = "api"
	AuditChannelPage = "page"
)

// actorName is how a principal appears in the history and the audit log:
// user:EMAIL, token:NAME, or local for the admin socket.
func actorName(p Principal) string {
	switch {
	case p.User != "":
		return "user:" + p.User
	case p.TokenID != "":
		return "token:" + p.Name
	}
	return "local"
}

// RecordAudit writes what an operator did to the audit log: the request's
// method and path (never its body or query, which may hold secrets) and the
// status of the answer. A failure is logged; the action itself stands.
func (a *API) RecordAudit(p Principal, channel string, r *http.Request, status int) {
	e := store.AuditEntry{
		Time:    a.now(),
		Actor:   actorName(p),
		Channel: channel,
		Action:  r.Method + " " + r.URL.Path,
		Status:  status,
		Remote:  remoteHost(r),
	}
	if err := a.store.AppendAudit(e); err != nil {
		a.logger.Error("cannot write audit entry", "actor", e.Actor, "action", e.Action, "error", err)
	}
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Changes reports whether a request method changes something.
func Changes(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// StatusRecorder remembers the status a handler answered with.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

func (s *StatusRecorder) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// auditOperators records every request of an operator that changes
// something, refused or not: an attempt is worth knowing too.
func (a *API) auditOperators(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		if !Changes(r.Method) || !p.operator() {
			next.ServeHTTP(w, r)
			return
		}
		rec := &StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.Status == 0 {
			rec.Status = http.StatusOK
		}
		a.RecordAudit(p, AuditChannelAPI, r, rec.Status)
	})
}

// auditJSON is one audit entry as the API shows it.
type auditJSON struct {
	Time    string `json:"time"`
	Actor   string `json:"actor"`
	Channel string `json:"channel"`
	Action  string `json:"action"`
	Status  int    `json:"status"`
	Remote  string `json:"remote,omitempty"`
}

// listAudit: GET /api/v1/audit[?from=&to=&actor=&limit=&cursor=], newest
// first, operators only.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := store.AuditQuery{Actor: v.Get("actor"), Cursor: v.Get("cursor")}
	for _, b := range []struct {
		param string
		dst   *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(b.param); s != "" {
			ms, err := parseTimeParam(b.param, s)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			*b.dst = time.UnixMilli(ms).UTC()
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxHistoryLimit || strings.TrimLeft(s, "0123456789") != "" {
			a.writeError(w, r, invalid(`parameter "limit" %q: a whole number from 1 to %d is accepted`, s, store.MaxHistoryLimit))
			return
		}
		q.Limit = n
	}
	entries, next, err := a.store.Audit(q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]auditJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, auditJSON{Time: formatMs(e.Time.UnixMilli()), Actor: e.Actor, Channel: e.Channel, Action: e.Action, Status: e.Status, Remote: e.Remote})
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out, "next_cursor": next})
}
