package shadow

import (
	"encoding/json"
	"fmt"
)

// Wire shapes. Fields follow AWS's documents; omitempty drops absent
// sections and an unused clientToken, as AWS omits them.
type stateJSON struct {
	Desired  object `json:"desired,omitempty"`
	Reported object `json:"reported,omitempty"`
	Delta    object `json:"delta,omitempty"`
}

type documentJSON struct {
	State     stateJSON `json:"state"`
	Metadata  stateJSON `json:"metadata"`
	Version   int64     `json:"version"`
	Timestamp int64     `json:"timestamp"`
}

type acceptedJSON struct {
	State       object `json:"state"`
	Metadata    object `json:"metadata"`
	Version     int64  `json:"version"`
	Timestamp   int64  `json:"timestamp"`
	ClientToken string `json:"clientToken,omitempty"`
}

type deltaJSON struct {
	State       object `json:"state"`
	Metadata    object `json:"metadata"`
	Version     int64  `json:"version"`
	Timestamp   int64  `json:"timestamp"`
	ClientToken string `json:"clientToken,omitempty"`
}

type snapshotJSON struct {
	State    stateJSON `json:"state"`
	Metadata stateJSON `json:"metadata"`
	Version  int64     `json:"version"`
}

type documentsJSON struct {
	Previous    snapshotJSON `json:"previous"`
	Current     snapshotJSON `json:"current"`
	Timestamp   int64        `json:"timestamp"`
	ClientToken string       `json:"clientToken,omitempty"`
}

type getJSON struct {
	State       stateJSON `json:"state"`
	Metadata    stateJSON `json:"metadata"`
	Version     int64     `json:"version"`
	Timestamp   int64     `json:"timestamp"`
	ClientToken string    `json:"clientToken,omitempty"`
}

type deleteJSON struct {
	Version     int64  `json:"version"`
	Timestamp   int64  `json:"timestamp"`
	ClientToken string `json:"clientToken,omitempty"`
}

type errorJSON struct {
	Code        int    `json:"code"`
	Message     string `json:"message"`
	Timestamp   int64  `json:"timestamp"`
	ClientToken string `json:"clientToken,omitempty"`
}

func snapshotOf(d Document) snapshotJSON {
	return snapshotJSON{
		State:    stateJSON{Desired: d.State.Desired, Reported: d.State.Reported},
		Metadata: stateJSON{Desired: d.Metadata.Desired, Reported: d.Metadata.Reported},
		Version:  d.Version,
	}
}

// MarshalJSON encodes the stored form, AWS's document without the computed
// delta: {"state", "metadata", "version", "timestamp"}.
func (d Document) MarshalJSON() ([]byte, error) {
	return marshal(documentJSON{
		State:     stateJSON{Desired: d.State.Desired, Reported: d.State.Reported},
		Metadata:  stateJSON{Desired: d.Metadata.Desired, Reported: d.Metadata.Reported},
		Version:   d.Version,
		Timestamp: d.Timestamp,
	}), nil
}

// UnmarshalJSON reads what MarshalJSON wrote, keeping numbers exact
// (json.Number) and metadata timestamps as int64, so a document read back
// from storage compares equal to the one written. A stored delta is ignored.
func (d *Document) UnmarshalJSON(b []byte) error {
	var raw documentJSON
	if err := decodeStrict(b, &raw); err != nil {
		return fmt.Errorf("decode shadow document: %w", err)
	}
	md, err := normalizeMeta(raw.Metadata.Desired)
	if err != nil {
		return fmt.Errorf("decode shadow metadata: %w", err)
	}
	mr, err := normalizeMeta(raw.Metadata.Reported)
	if err != nil {
		return fmt.Errorf("decode shadow metadata: %w", err)
	}
	*d = Document{
		State:     State{Desired: raw.State.Desired, Reported: raw.State.Reported},
		Metadata:  Metadata{Desired: md, Reported: mr},
		Version:   raw.Version,
		Timestamp: raw.Timestamp,
	}
	return nil
}

// GetResponse is the get/accepted message: the whole shadow with its
// computed delta, the metadata of all three sections (the delta's taken from
// desired), the version, the time of the answer and the request's
// clientToken (omitted when empty).
func GetResponse(doc Document, clientToken string, now int64) []byte {
	delta := Delta(doc)
	var deltaMD map[string]any
	if delta != nil {
		deltaMD = deltaMeta(delta, doc.Metadata.Desired)
	}
	return marshal(getJSON{
		State:       stateJSON{Desired: doc.State.Desired, Reported: doc.State.Reported, Delta: delta},
		Metadata:    stateJSON{Desired: doc.Metadata.Desired, Reported: doc.Metadata.Reported, Delta: deltaMD},
		Version:     doc.Version,
		Timestamp:   now,
		ClientToken: clientToken,
	})
}

// DeltaResponse is an update/delta message for the delta pending in doc, or
// nil when none is pending. It is what a device receives when it connects or
// subscribes to its delta topic while a delta waits, so that a device that
// was offline does not miss a setting; it carries the shadow's version.
func DeltaResponse(doc Document, now int64) []byte {
	delta := Delta(doc)
	if delta == nil {
		return nil
	}
	return marshal(deltaJSON{
		State:     delta,
		Metadata:  deltaMeta(delta, doc.Metadata.Desired),
		Version:   doc.Version,
		Timestamp: now,
	})
}

// DeleteResponse is the delete/accepted message: the version of the shadow
// that was deleted, the time and the request's clientToken.
func DeleteResponse(version int64, clientToken string, now int64) []byte {
	return marshal(deleteJSON{Version: version, Timestamp: now, ClientToken: clientToken})
}

// ErrorResponse is a rejected message: {"code", "message", "timestamp",
// "clientToken"}.
func ErrorResponse(e *Error, clientToken string, now int64) []byte {
	return marshal(errorJSON{Code: e.Code, Message: e.Message, Timestamp: now, ClientToken: clientToken})
}

// ClientToken reads the clientToken of a get or delete request, whose body is
// {"clientToken": "…"} or empty. An unreadable body or token gives "", so the
// answer still goes out, only without the token.
func ClientToken(body []byte, lim Limits) string {
	lim = lim.withDefaults()
	var req struct {
		ClientToken any `json:"clientToken"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return ""
	}
	tok, ok := req.ClientToken.(string)
	if !ok || len(tok) > lim.MaxClientTokenBytes {
		return ""
	}
	return tok
}
