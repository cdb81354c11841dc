package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// shadowName is the ?name= of a shadow route: "" is the classic shadow.
func shadowName(r *http.Request) string { return r.URL.Query().Get("name") }

// showShadow: GET /api/v1/devices/{name}/shadow[?name=S]. The answer is
// AWS's get/accepted document, delta included, so clients written for AWS
// read it as they are; when reported values break rules of the device
// type's settings, a "violations" list is added beside it.
func (a *API) showShadow(w http.ResponseWriter, r *http.Request) {
	thing, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	doc, vs, err := a.scope(r).Shadow(thing, shadowName(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	body := shadow.GetResponse(doc, "", a.gate.Now().Unix())
	if len(vs) > 0 {
		if body, err = withField(body, "violations", vs); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	writeRawJSON(w, http.StatusOK, body)
}

// withField adds a field at the end of a JSON object, keeping the order of
// the others.
func withField(obj []byte, name string, v any) ([]byte, error) {
	val, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", name, err)
	}
	obj = bytes.TrimSpace(obj)
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return nil, fmt.Errorf("add %s: not a JSON object", name)
	}
	out := append([]byte(nil), obj[:len(obj)-1]...)
	if len(bytes.TrimSpace(out)) > 1 {
		out = append(out, ',')
	}
	out = strconv.AppendQuote(out, name)
	out = append(out, ':')
	out = append(out, val...)
	return append(out, '}'), nil
}

// updateShadow: PATCH /api/v1/devices/{name}/shadow[?name=S] with an AWS
// update document. The answer is the update/accepted document. Operators
// may change anything; a customer's token only the desired values the
// device type's settings mark customer-editable, within their rules (403
// otherwise, see device.Actor).
func (a *API) updateShadow(w http.ResponseWriter, r *http.Request) {
	thing, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	body, err := readJSONBody(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	accepted, err := a.scope(r).UpdateShadow(thing, shadowName(r), body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeRawJSON(w, http.StatusOK, accepted)
}

// deleteShadow: DELETE /api/v1/devices/{name}/shadow[?name=S]. The answer
// is the delete/accepted document.
func (a *API) deleteShadow(w http.ResponseWriter, r *http.Request) {
	thing, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	accepted, err := a.scope(r).DeleteShadow(thing, shadowName(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeRawJSON(w, http.StatusOK, accepted)
}

// readJSONBody reads a request body that must be JSON and not empty, and
// leaves its meaning to the caller.
func readJSONBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, gate.Invalid(`request body is empty: an update document such as {"state": {"desired": {"key": "value"}}} is expected`)
	}
	if err := checkJSONContentType(r); err != nil {
		return nil, err
	}
	return body, nil
}

// shadowHistoryJSON is the answer of the shadow history route.
type shadowHistoryJSON struct {
	Entries    []historyEntryJSON `json:"entries"`
	NextCursor string             `json:"next_cursor"`
}

type historyEntryJSON struct {
	Version int64               `json:"version"`
	Time    string              `json:"time"`
	Actor   string              `json:"actor"`
	Channel string              `json:"channel"`
	Shadow  string              `json:"shadow"`
	Update  json.RawMessage     `json:"update"`
	Changes []historyChangeJSON `json:"changes"`
	// Flags are values of the update that break a rule of the device
	// type's settings, stored as sent.
	Flags []historyFlagJSON `json:"flags,omitempty"`
}

type historyFlagJSON struct {
	Section string `json:"section"`
	Key     string `json:"key"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

type historyChangeJSON struct {
	Section string          `json:"section"`
	Key     string          `json:"key"`
	Old     json.RawMessage `json:"old"`
	New     json.RawMessage `json:"new"`
}

// rawOrNull is v, or JSON null when it is empty: an empty RawMessage is not
// JSON and would fail the whole answer.
func rawOrNull(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage("null")
	}
	return v
}

func newHistoryEntryJSON(e store.HistoryEntry) historyEntryJSON {
	out := historyEntryJSON{
		Version: e.Version,
		Time:    gate.FormatTime(e.Time),
		Actor:   e.Actor,
		Channel: e.Channel,
		Shadow:  e.Shadow,
		Update:  rawOrNull(e.Update),
		Changes: make([]historyChangeJSON, 0, len(e.Changes)),
	}
	for _, c := range e.Changes {
		out.Changes = append(out.Changes, historyChangeJSON{
			Section: c.Section,
			Key:     c.Key,
			Old:     rawOrNull(c.Old),
			New:     rawOrNull(c.New),
		})
	}
	for _, f := range e.Flags {
		out.Flags = append(out.Flags, historyFlagJSON(f))
	}
	return out
}

// parseHistoryQuery reads the parameters of the shadow history route.
// Without name the history of every shadow of the device is listed; with
// name (empty for the classic shadow) only that shadow's. from and to are
// RFC 3339 or unix milliseconds, as for telemetry; from is inclusive, to
// exclusive.
func parseHistoryQuery(deviceName string, v url.Values) (store.HistoryQuery, error) {
	q := store.HistoryQuery{Device: deviceName, Actor: v.Get("actor"), Cursor: v.Get("cursor")}
	if names, ok := v["name"]; ok {
		name := names[0]
		q.Shadow = &name
	}
	for _, b := range []struct {
		param string
		dst   *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := v.Get(b.param)
		if s == "" {
			continue
		}
		ms, err := parseTimeParam(b.param, s)
		if err != nil {
			return q, err
		}
		*b.dst = time.UnixMilli(ms).UTC()
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxHistoryLimit || strings.TrimLeft(s, "0123456789") != "" {
			return q, gate.Invalid(`parameter "limit" %q: a whole number from 1 to %d is accepted`, s, store.MaxHistoryLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// listShadowHistory: GET /api/v1/devices/{name}/shadow/history. Newest
// first; next_cursor continues after the page and is "" after the last.
func (a *API) listShadowHistory(w http.ResponseWriter, r *http.Request) {
	thing, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	q, err := parseHistoryQuery(thing, r.URL.Query())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	entries, next, err := a.scope(r).History(thing, q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := shadowHistoryJSON{Entries: make([]historyEntryJSON, 0, len(entries)), NextCursor: next}
	for _, e := range entries {
		out.Entries = append(out.Entries, newHistoryEntryJSON(e))
	}
	writeJSON(w, http.StatusOK, out)
}
