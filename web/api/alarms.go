package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

func (a *API) alarmRoutes(r chi.Router) {
	r.Route("/alarm-rules", func(r chi.Router) {
		r.Get("/", a.listAlarmRules)
		r.Post("/", a.createAlarmRule)
		r.Post("/preview", a.previewAlarmRule)
		r.Get("/{id}", a.showAlarmRule)
		r.Put("/{id}", a.putAlarmRule)
		r.Delete("/{id}", a.deleteAlarmRule)
	})
	r.Route("/alarms", func(r chi.Router) {
		r.Get("/", a.listAlarms)
		r.Get("/{id}", a.showAlarm)
		r.Post("/{id}/ack", a.acknowledgeAlarm)
		r.Post("/{id}/clear", a.clearAlarm)
	})
}

// listAlarmRules: GET /api/v1/alarm-rules[?customer=].
func (a *API) listAlarmRules(w http.ResponseWriter, r *http.Request) {
	rs, err := a.scope(r).AlarmRules(r.URL.Query().Get("customer"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": rs})
}

// decodeRule reads a rule from the body, refusing the fields Hearth sets.
func decodeRule(r *http.Request) (store.AlarmRule, error) {
	var rule store.AlarmRule
	if err := decodeJSON(r, &rule, false); err != nil {
		return store.AlarmRule{}, err
	}
	if !rule.CreatedAt.IsZero() || !rule.UpdatedAt.IsZero() {
		return store.AlarmRule{}, gate.Invalid(`fields "created_at" and "updated_at" are Hearth's to set; leave them out`)
	}
	return rule, nil
}

// createAlarmRule: POST /api/v1/alarm-rules, a new rule whose ID Hearth
// gives unless the body names one that is free.
func (a *API) createAlarmRule(w http.ResponseWriter, r *http.Request) {
	rule, err := decodeRule(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if rule.ID != "" {
		if _, err := a.scope(r).AlarmRule(rule.ID); err == nil {
			a.writeError(w, r, gate.Invalid(`field "id": rule %q exists; change it with PUT /api/v1/alarm-rules/%s`, rule.ID, rule.ID))
			return
		}
	}
	out, _, err := a.scope(r).PutAlarmRule(r.Context(), rule)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// showAlarmRule: GET /api/v1/alarm-rules/{id}.
func (a *API) showAlarmRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	rule, err := a.scope(r).AlarmRule(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rule)
}

// putAlarmRule: PUT /api/v1/alarm-rules/{id} creates (201) or replaces
// (200) a rule, checked whole first.
func (a *API) putAlarmRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	rule, err := decodeRule(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if rule.ID != "" && rule.ID != id {
		a.writeError(w, r, gate.Invalid(`field "id" %q differs from the path's %q; leave it out`, rule.ID, id))
		return
	}
	rule.ID = id
	out, created, err := a.scope(r).PutAlarmRule(r.Context(), rule)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}

// deleteAlarmRule: DELETE /api/v1/alarm-rules/{id}; its alarms stay.
func (a *API) deleteAlarmRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteAlarmRule(id); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// alarmFilter reads the query of GET /api/v1/alarms.
func alarmFilter(r *http.Request) (store.AlarmFilter, error) {
	q := r.URL.Query()
	f := store.AlarmFilter{
		Customer: q.Get("customer"), Site: q.Get("site"), Device: q.Get("device"),
		Rule: q.Get("rule"), Severity: q.Get("severity"), State: q.Get("state"), Limit: 200,
	}
	if f.Severity != "" && !slices.Contains(store.Severities, f.Severity) {
		return f, gate.Invalid(`parameter "severity" %q: one of %s is accepted`, f.Severity, strings.Join(store.Severities, ", "))
	}
	switch f.State {
	case "", store.AlarmActive, store.AlarmCleared:
	case "open":
		f.State, f.OpenOnly = "", true
	default:
		return f, gate.Invalid(`parameter "state" %q: active, cleared or open is accepted`, f.State)
	}
	if s := q.Get("acknowledged"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return f, gate.Invalid(`parameter "acknowledged" %q: true or false is accepted`, s)
		}
		f.Acknowledged = &b
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return f, gate.Invalid(`parameter "limit" %q: a whole number from 1 to 1000 is accepted`, s)
		}
		f.Limit = n
	}
	return f, nil
}

// listAlarms: GET /api/v1/alarms[?customer=&site=&device=&rule=&severity=
// &state=active|cleared|open&acknowledged=&limit=], active first, then
// newest first.
func (a *API) listAlarms(w http.ResponseWriter, r *http.Request) {
	f, err := alarmFilter(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	as, err := a.scope(r).Alarms(f)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if as == nil {
		as = []store.Alarm{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarms": as})
}

// showAlarm: GET /api/v1/alarms/{id}, with its history.
func (a *API) showAlarm(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	al, err := a.scope(r).Alarm(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, al)
}

// commentRequest is the optional body of an acknowledgement or a clear.
type commentRequest struct {
	Comment string `json:"comment"`
}

// acknowledgeAlarm: POST /api/v1/alarms/{id}/ack [{"comment"}].
func (a *API) acknowledgeAlarm(w http.ResponseWriter, r *http.Request) {
	a.alarmAction(w, r, gate.Scope.AcknowledgeAlarm)
}

// clearAlarm: POST /api/v1/alarms/{id}/clear [{"comment"}].
func (a *API) clearAlarm(w http.ResponseWriter, r *http.Request) {
	a.alarmAction(w, r, gate.Scope.ClearAlarm)
}

func (a *API) alarmAction(w http.ResponseWriter, r *http.Request, act func(gate.Scope, string, string) (store.Alarm, error)) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req commentRequest
	if err := decodeJSON(r, &req, true); err != nil {
		a.writeError(w, r, err)
		return
	}
	al, err := act(a.scope(r), id, req.Comment)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, al)
}

// previewAlarmRule: POST /api/v1/alarm-rules/preview {a rule}, what the
// rule would have raised over the last seven days of stored telemetry.
func (a *API) previewAlarmRule(w http.ResponseWriter, r *http.Request) {
	rule, err := decodeRule(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out, err := a.scope(r).PreviewAlarmRule(r.Context(), rule)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
