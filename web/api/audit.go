package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

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
			a.writeError(w, r, gate.Invalid(`parameter "limit" %q: a whole number from 1 to %d is accepted`, s, store.MaxHistoryLimit))
			return
		}
		q.Limit = n
	}
	entries, next, err := a.scope(r).Audit(q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]auditJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, auditJSON{Time: gate.FormatTime(e.Time), Actor: e.Actor, Channel: e.Channel, Action: e.Action, Status: e.Status, Remote: e.Remote})
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out, "next_cursor": next})
}
