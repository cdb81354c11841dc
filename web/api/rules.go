package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

func (a *API) ruleRoutes(r chi.Router) {
	r.Route("/rules", func(r chi.Router) {
		r.Get("/", a.listMessageRules)
		r.Post("/", a.createMessageRule)
		r.Post("/dry-run", a.dryRunMessageRule)
		r.Get("/{id}", a.showMessageRule)
		r.Put("/{id}", a.putMessageRule)
		r.Delete("/{id}", a.deleteMessageRule)
		r.Post("/{id}/dry-run", a.dryRunStoredMessageRule)
	})
}

// messageRuleRequest is the body of POST and PUT /api/v1/rules.
type messageRuleRequest struct {
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Customer    string             `json:"customer"`
	SQL         string             `json:"sql"`
	Topic       string             `json:"topic"`
	Condition   string             `json:"condition"`
	Select      []store.RuleField  `json:"select"`
	Actions     []store.RuleAction `json:"actions"`
	ErrorAction *store.RuleAction  `json:"error_action"`
	Disabled    bool               `json:"disabled"`
}

func (q messageRuleRequest) rule() store.MessageRule {
	return store.MessageRule{
		ID: q.ID, Name: q.Name, Description: q.Description, Customer: q.Customer, SQL: q.SQL, Topic: q.Topic,
		Condition: q.Condition, Select: q.Select, Actions: q.Actions, ErrorAction: q.ErrorAction, Disabled: q.Disabled,
	}
}

// messageRuleJSON is a rule as the API shows it: with SQL, the topic,
// condition and select it translates to.
type messageRuleJSON struct {
	store.MessageRule
	Stats gate.RuleStats `json:"stats"`
}

func ruleJSON(v gate.MessageRuleView) messageRuleJSON {
	return messageRuleJSON{MessageRule: v.MessageRule, Stats: v.Stats}
}

// listMessageRules: GET /api/v1/rules.
func (a *API) listMessageRules(w http.ResponseWriter, r *http.Request) {
	vs, err := a.scope(r).MessageRules()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]messageRuleJSON, len(vs))
	for i, v := range vs {
		out[i] = ruleJSON(v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": out})
}

// createMessageRule: POST /api/v1/rules; Hearth gives the id unless the
// body names one that is free.
func (a *API) createMessageRule(w http.ResponseWriter, r *http.Request) {
	var req messageRuleRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.ID != "" {
		if _, err := a.scope(r).MessageRule(req.ID); err == nil {
			a.writeError(w, r, gate.Invalid(`field "id": rule %q exists; change it with PUT /api/v1/rules/%s`, req.ID, req.ID))
			return
		}
	}
	a.writeRule(w, r, req.rule())
}

func (a *API) writeRule(w http.ResponseWriter, r *http.Request, rule store.MessageRule) {
	out, created, err := a.scope(r).PutMessageRule(rule)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	v, err := a.scope(r).MessageRule(out.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, ruleJSON(v))
}

// showMessageRule: GET /api/v1/rules/{id}, with its counters.
func (a *API) showMessageRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	v, err := a.scope(r).MessageRule(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ruleJSON(v))
}

// putMessageRule: PUT /api/v1/rules/{id}, created or replaced.
func (a *API) putMessageRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req messageRuleRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.ID != "" && req.ID != id {
		a.writeError(w, r, gate.Invalid(`field "id": %q differs from the path's %q`, req.ID, id))
		return
	}
	req.ID = id
	a.writeRule(w, r, req.rule())
}

// deleteMessageRule: DELETE /api/v1/rules/{id}.
func (a *API) deleteMessageRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteMessageRule(id); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// dryRunRequest is a message to try a rule on: the device that would
// publish it, the topic, and the payload (a JSON value, or a string taken
// as the payload's bytes).
type dryRunRequest struct {
	Rule    *messageRuleRequest `json:"rule"`
	Device  string              `json:"device"`
	Topic   string              `json:"topic"`
	Payload json.RawMessage     `json:"payload"`
}

func (q dryRunRequest) payload() []byte {
	var s string
	if json.Unmarshal(q.Payload, &s) == nil {
		return []byte(s)
	}
	return q.Payload
}

// dryRunResponse is what a rule would do.
type dryRunResponse struct {
	Matched bool                  `json:"matched"`
	Values  map[string]any        `json:"values,omitempty"`
	Device  string                `json:"device,omitempty"`
	TS      *time.Time            `json:"ts,omitempty"`
	Actions []gate.RuleActionPlan `json:"actions,omitempty"`
	Error   string                `json:"error,omitempty"`
}

func dryRunJSON(res gate.RuleResult) dryRunResponse {
	out := dryRunResponse{Matched: res.Matched, Values: res.Values, Device: res.Device, Actions: res.Actions, Error: res.Error}
	if !res.Time.IsZero() {
		out.TS = &res.Time
	}
	return out
}

// dryRunMessageRule: POST /api/v1/rules/dry-run, a rule being written
// tried on a message.
func (a *API) dryRunMessageRule(w http.ResponseWriter, r *http.Request) {
	var req dryRunRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Rule == nil {
		a.writeError(w, r, gate.Invalid(`field "rule": required; or POST /api/v1/rules/{id}/dry-run for a stored one`))
		return
	}
	res, err := a.scope(r).DryRunMessageRule(req.Rule.rule(), req.Device, req.Topic, req.payload())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dryRunJSON(res))
}

// dryRunStoredMessageRule: POST /api/v1/rules/{id}/dry-run.
func (a *API) dryRunStoredMessageRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req dryRunRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Rule != nil {
		a.writeError(w, r, gate.Invalid(`field "rule": the stored rule is tried; leave it out`))
		return
	}
	res, err := a.scope(r).DryRunStoredMessageRule(id, req.Device, req.Topic, req.payload())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dryRunJSON(res))
}
