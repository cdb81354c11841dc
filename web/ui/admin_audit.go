package ui

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/hearthiot/hearth/store"
)

// auditPage is what the audit page shows.
type auditPage struct {
	Actor   string
	Entries []store.AuditEntry
	Next    string // URL of the next page, "" after the last
}

// showAudit: /admin/audit[?actor=&cursor=], newest first.
func (u *UI) showAudit(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	q := r.URL.Query()
	entries, next, err := u.scope(r).Audit(store.AuditQuery{Actor: q.Get("actor"), Cursor: q.Get("cursor"), Limit: 100})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := auditPage{Actor: q.Get("actor"), Entries: entries}
	if next != "" {
		d.Next = "/admin/audit?" + url.Values{"actor": {d.Actor}, "cursor": {next}}.Encode()
	}
	u.render(w, r, http.StatusOK, auditList(v, d))
}

func statusText(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }
