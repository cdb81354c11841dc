package device_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// message is one publish the broker was asked to make.
type message struct {
	Topic   string
	Payload string
}

// recorder stands in for the broker's server-side publish.
type recorder struct {
	mu   sync.Mutex
	msgs []message
}

func (r *recorder) Publish(topic string, payload []byte, qos byte) error {
	if qos != 1 {
		return fmt.Errorf("qos %d, want 1", qos)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, message{Topic: topic, Payload: string(payload)})
	return nil
}

// take returns the messages recorded since the last take.
func (r *recorder) take() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

func topics(msgs []message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Topic
	}
	return out
}

// field decodes one top-level field of a JSON payload.
func field(t *testing.T, payload, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	return m[name]
}

func newShadows(t *testing.T, f *fixture, lim shadow.Limits, ev device.EventPublisher) (*device.Shadows, *recorder) {
	t.Helper()
	rec := &recorder{}
	return device.NewShadows(device.ShadowDeps{Store: f.st, Publisher: rec, Events: ev, Limits: lim}), rec
}

var (
	t0       = time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	operator = device.Actor{Name: "token:ops", Channel: device.ChannelAPI}
)

func history(t *testing.T, st *store.Store, thing, name string) []store.HistoryEntry {
	t.Helper()
	h, _, err := st.History(store.HistoryQuery{Device: thing, Shadow: &name, Limit: store.MaxHistoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestShadowsLightBulb follows AWS's myLightBulb walk-through: the device
// reports, an operator sets desired, the device gets accepted, delta and
// documents in that order with the same version, then reports the new colour
// and the delta is gone.
func TestShadowsLightBulb(t *testing.T) {
	f := newFixture(t)
	f.create(t, "bulb-1")
	bus := events.New()
	sub := bus.Subscribe(16)
	svc, rec := newShadows(t, f, shadow.Limits{}, bus)
	base := "$aws/things/bulb-1/shadow"

	svc.HandleShadowRequest("bulb-1", "", "update", []byte(`{"state":{"reported":{"color":"red"}}}`))
	msgs := rec.take()
	if diff := cmp.Diff([]string{base + "/update/accepted", base + "/update/documents"}, topics(msgs)); diff != "" {
		t.Fatalf("first report topics (-want +got):\n%s", diff)
	}
	if v := field(t, msgs[0].Payload, "version"); v != 1.0 {
		t.Errorf("first report version %v, want 1", v)
	}

	acc, err := svc.Update("bulb-1", "", []byte(`{"state":{"desired":{"color":"green"}},"clientToken":"op-1"}`), operator, t0)
	if err != nil {
		t.Fatal(err)
	}
	msgs = rec.take()
	if diff := cmp.Diff([]string{base + "/update/accepted", base + "/update/delta", base + "/update/documents"}, topics(msgs)); diff != "" {
		t.Fatalf("desired change topics (-want +got):\n%s", diff)
	}
	if msgs[0].Payload != string(acc) {
		t.Errorf("published accepted %s, returned %s", msgs[0].Payload, acc)
	}
	for i, m := range msgs[:2] {
		if v := field(t, m.Payload, "version"); v != 2.0 {
			t.Errorf("message %d (%s) version %v, want 2", i, m.Topic, v)
		}
	}
	if diff := cmp.Diff(map[string]any{"color": "green"}, field(t, msgs[1].Payload, "state")); diff != "" {
		t.Errorf("delta state (-want +got):\n%s", diff)
	}
	var docs struct{ Previous, Current struct{ Version int64 } }
	if err := json.Unmarshal([]byte(msgs[2].Payload), &docs); err != nil {
		t.Fatal(err)
	}
	if docs.Previous.Version != 1 || docs.Current.Version != 2 {
		t.Errorf("documents versions: previous %d current %d, want 1 and 2", docs.Previous.Version, docs.Current.Version)
	}
	pending, ok := svc.PendingDelta("bulb-1", "")
	if !ok || field(t, string(pending), "version") != 2.0 {
		t.Errorf("PendingDelta = %s, %v; want the version 2 delta", pending, ok)
	}
	// A delta sent again is the same delta on the same topic, with no new
	// version.
	if sent, err := svc.ResendDelta("bulb-1", ""); !sent || err != nil {
		t.Errorf("ResendDelta = %v, %v; want the pending delta sent", sent, err)
	}
	if again := rec.take(); len(again) != 1 || again[0].Topic != base+"/update/delta" || field(t, again[0].Payload, "version") != 2.0 {
		t.Errorf("resent %+v; want the version 2 delta", again)
	}

	svc.HandleShadowRequest("bulb-1", "", "update", []byte(`{"state":{"reported":{"color":"green"}}}`))
	msgs = rec.take()
	if diff := cmp.Diff([]string{base + "/update/accepted", base + "/update/documents"}, topics(msgs)); diff != "" {
		t.Fatalf("catch-up report topics (-want +got):\n%s", diff)
	}
	if p, ok := svc.PendingDelta("bulb-1", ""); ok {
		t.Errorf("PendingDelta after reported caught up = %s, want none", p)
	}
	if sent, err := svc.ResendDelta("bulb-1", ""); sent || err != nil || len(rec.take()) != 0 {
		t.Errorf("ResendDelta with nothing pending = %v, %v; want nothing sent", sent, err)
	}
	doc, err := svc.Get("bulb-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Version != 3 || shadow.Delta(doc) != nil {
		t.Errorf("after catch-up: version %d delta %v; want 3 and none", doc.Version, shadow.Delta(doc))
	}
	// desired stays as it was: AWS never clears it.
	if diff := cmp.Diff(map[string]any{"color": "green"}, doc.State.Desired); diff != "" {
		t.Errorf("desired after catch-up (-want +got):\n%s", diff)
	}

	svc.HandleShadowRequest("bulb-1", "", "get", []byte(`{"clientToken":"g"}`))
	msgs = rec.take()
	if len(msgs) != 1 || msgs[0].Topic != base+"/get/accepted" || field(t, msgs[0].Payload, "clientToken") != "g" {
		t.Errorf("get answered %v", msgs)
	}

	sub.Close()
	var got []events.Event
	for e := range sub.C() {
		got = append(got, e)
	}
	at := func(e events.Event) events.Event {
		switch v := e.(type) {
		case events.ShadowUpdated:
			v.At = time.Time{}
			return v
		case events.DeltaPending:
			v.At = time.Time{}
			return v
		}
		return e
	}
	for i := range got {
		got[i] = at(got[i])
	}
	want := []events.Event{
		events.ShadowUpdated{Device: "bulb-1", Version: 1, Actor: "device:bulb-1", Channel: "mqtt"},
		events.ShadowUpdated{Device: "bulb-1", Version: 2, Actor: "token:ops", Channel: "api"},
		events.DeltaPending{Device: "bulb-1", Version: 2},
		events.ShadowUpdated{Device: "bulb-1", Version: 3, Actor: "device:bulb-1", Channel: "mqtt"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestShadowsNamedIndependent: a named shadow and the classic one keep their
// own documents, versions and topics.
func TestShadowsNamedIndependent(t *testing.T) {
	f := newFixture(t)
	f.create(t, "chiller-1")
	svc, rec := newShadows(t, f, shadow.Limits{}, nil)

	for i := 0; i < 2; i++ {
		if _, err := svc.Update("chiller-1", "", []byte(`{"state":{"desired":{"mode":"cool"}}}`), operator, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Update("chiller-1", "program", []byte(`{"state":{"desired":{"start":"07:00"}}}`), operator, t0); err != nil {
		t.Fatal(err)
	}
	msgs := rec.take()
	if got, want := msgs[len(msgs)-1].Topic, "$aws/things/chiller-1/shadow/name/program/update/documents"; got != want {
		t.Errorf("named shadow topic %q, want %q", got, want)
	}
	classic, err := svc.Get("chiller-1", "")
	if err != nil {
		t.Fatal(err)
	}
	named, err := svc.Get("chiller-1", "program")
	if err != nil {
		t.Fatal(err)
	}
	if classic.Version != 2 || named.Version != 1 {
		t.Errorf("versions classic %d named %d, want 2 and 1", classic.Version, named.Version)
	}
	if diff := cmp.Diff(map[string]any{"start": "07:00"}, named.State.Desired); diff != "" {
		t.Errorf("named desired (-want +got):\n%s", diff)
	}
	if _, err := svc.Get("chiller-1", "other"); !isCode(err, 404) {
		t.Errorf("Get of a missing named shadow: %v, want 404", err)
	}
	if _, err := svc.Update("chiller-1", "bad/name", []byte(`{"state":{}}`), operator, t0); !isCode(err, 400) {
		t.Errorf("Update with a bad name: %v, want 400", err)
	}
}

func isCode(err error, code int) bool {
	se, ok := err.(*shadow.Error)
	return ok && se.Code == code
}

// TestShadowsRejected: each request that AWS rejects is answered on the
// rejected topic with its code and the clientToken, and writes nothing.
func TestShadowsRejected(t *testing.T) {
	f := newFixture(t)
	f.create(t, "chiller-1")
	svc, rec := newShadows(t, f, shadow.Limits{MaxStateBytes: 64}, nil)
	if _, err := svc.Update("chiller-1", "", []byte(`{"state":{"desired":{"sp":7}}}`), operator, t0); err != nil {
		t.Fatal(err)
	}
	rec.take()
	before := history(t, f.st, "chiller-1", "")

	tests := []struct {
		name    string
		thing   string
		op      string
		payload string
		code    float64
		token   any
	}{
		{"version conflict", "chiller-1", "update", `{"state":{"desired":{"sp":8}},"version":5,"clientToken":"c1"}`, 409, "c1"},
		{"too large", "chiller-1", "update", `{"state":{"desired":{"text":"` + strings.Repeat("x", 80) + `"}},"clientToken":"c2"}`, 413, "c2"},
		{"invalid json", "chiller-1", "update", `{"state":`, 400, nil},
		{"unknown device", "ghost-1", "update", `{"state":{"desired":{"sp":8}}}`, 404, nil},
		{"get missing", "chiller-1/x", "get", `{"clientToken":"c3"}`, 404, "c3"},
		{"delete missing", "ghost-1", "delete", ``, 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc.HandleShadowRequest(tc.thing, "", tc.op, []byte(tc.payload))
			msgs := rec.take()
			want := "$aws/things/" + tc.thing + "/shadow/" + tc.op + "/rejected"
			if len(msgs) != 1 || msgs[0].Topic != want {
				t.Fatalf("published %v, want one message on %s", msgs, want)
			}
			if got := field(t, msgs[0].Payload, "code"); got != tc.code {
				t.Errorf("code %v, want %v (%s)", got, tc.code, msgs[0].Payload)
			}
			if got := field(t, msgs[0].Payload, "clientToken"); got != tc.token {
				t.Errorf("clientToken %v, want %v", got, tc.token)
			}
		})
	}
	if diff := cmp.Diff(before, history(t, f.st, "chiller-1", "")); diff != "" {
		t.Errorf("history changed by rejected requests (-before +after):\n%s", diff)
	}
	doc, err := svc.Get("chiller-1", "")
	if err != nil || doc.Version != 1 {
		t.Errorf("after rejections: version %d, %v; want 1", doc.Version, err)
	}
}

// TestShadowsHistory: the desired change of an operator and the report of
// the device are both recorded with actor, channel, request and changes.
func TestShadowsHistory(t *testing.T) {
	f := newFixture(t)
	f.create(t, "chiller-1")
	svc, _ := newShadows(t, f, shadow.Limits{}, nil)

	desire := `{"state":{"desired":{"sp":7,"mode":"cool"}}}`
	if _, err := svc.Update("chiller-1", "", []byte(desire), operator, t0); err != nil {
		t.Fatal(err)
	}
	// The device's clock: HandleShadowRequest uses the real time, after t0.
	report := `{"state":{"reported":{"sp":7}}}`
	svc.HandleShadowRequest("chiller-1", "", "update", []byte(report))
	clear := `{"state":{"desired":{"mode":null,"sp":6.5}}}`
	if _, err := svc.Update("chiller-1", "", []byte(clear), device.Actor{Name: "user:a@example.com", Channel: "page"}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	got := history(t, f.st, "chiller-1", "")
	for i := range got {
		got[i].Time = time.Time{}
	}
	ch := func(section, key, old, nu string) store.HistoryChange {
		return store.HistoryChange{Section: section, Key: key, Old: json.RawMessage(old), New: json.RawMessage(nu)}
	}
	want := []store.HistoryEntry{
		{Device: "chiller-1", Version: 3, Actor: "user:a@example.com", Channel: "page", Update: json.RawMessage(clear),
			Changes: []store.HistoryChange{ch("desired", "mode", `"cool"`, `null`), ch("desired", "sp", `7`, `6.5`)}},
		{Device: "chiller-1", Version: 2, Actor: "device:chiller-1", Channel: "mqtt", Update: json.RawMessage(report),
			Changes: []store.HistoryChange{ch("reported", "sp", `null`, `7`)}},
		{Device: "chiller-1", Version: 1, Actor: "token:ops", Channel: "api", Update: json.RawMessage(desire),
			Changes: []store.HistoryChange{ch("desired", "mode", `null`, `"cool"`), ch("desired", "sp", `null`, `7`)}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	doc, err := svc.Get("chiller-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"sp": json.Number("6.5")}, doc.State.Desired); diff != "" {
		t.Errorf("desired after null deletion (-want +got):\n%s", diff)
	}
}

// TestShadowsDelete: delete answers with the deleted version, records every
// leaf as deleted, and the next update continues the numbering.
func TestShadowsDelete(t *testing.T) {
	f := newFixture(t)
	f.create(t, "chiller-1")
	svc, rec := newShadows(t, f, shadow.Limits{}, nil)
	for _, body := range []string{`{"state":{"desired":{"sp":7}}}`, `{"state":{"reported":{"sp":7}}}`} {
		if _, err := svc.Update("chiller-1", "", []byte(body), operator, t0); err != nil {
			t.Fatal(err)
		}
	}
	rec.take()
	svc.HandleShadowRequest("chiller-1", "", "delete", []byte(`{"clientToken":"d"}`))
	msgs := rec.take()
	if len(msgs) != 1 || msgs[0].Topic != "$aws/things/chiller-1/shadow/delete/accepted" {
		t.Fatalf("delete published %v", msgs)
	}
	if field(t, msgs[0].Payload, "version") != 2.0 || field(t, msgs[0].Payload, "clientToken") != "d" {
		t.Errorf("delete/accepted %s, want version 2 and clientToken d", msgs[0].Payload)
	}
	h := history(t, f.st, "chiller-1", "")
	want := []store.HistoryChange{
		{Section: "desired", Key: "sp", Old: json.RawMessage(`7`), New: json.RawMessage(`null`)},
		{Section: "reported", Key: "sp", Old: json.RawMessage(`7`), New: json.RawMessage(`null`)},
	}
	if diff := cmp.Diff(want, h[0].Changes); diff != "" || h[0].Actor != "device:chiller-1" || h[0].Version != 2 {
		t.Errorf("delete entry %+v; changes (-want +got):\n%s", h[0], diff)
	}
	if _, err := svc.Get("chiller-1", ""); !isCode(err, 404) {
		t.Errorf("Get after delete: %v, want 404", err)
	}
	if _, err := svc.Delete("chiller-1", "", operator, t0); !isCode(err, 404) {
		t.Errorf("second delete: %v, want 404", err)
	}
	if _, err := svc.Update("chiller-1", "", []byte(`{"state":{"desired":{"sp":8}}}`), operator, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	doc, err := svc.Get("chiller-1", "")
	if err != nil || doc.Version != 3 {
		t.Errorf("update after delete: version %d, %v; want 3", doc.Version, err)
	}
}

// TestShadowsPendingDeltaAfterRestart: a device that was offline while
// desired changed gets the delta from a service built on the reopened store.
func TestShadowsPendingDeltaAfterRestart(t *testing.T) {
	f := newFixture(t)
	f.create(t, "chiller-1")
	svc, _ := newShadows(t, f, shadow.Limits{}, nil)
	if _, err := svc.Update("chiller-1", "program", []byte(`{"state":{"desired":{"sp":7}}}`), operator, t0); err != nil {
		t.Fatal(err)
	}
	f.restart(t)
	svc, _ = newShadows(t, f, shadow.Limits{}, nil)
	p, ok := svc.PendingDelta("chiller-1", "program")
	if !ok {
		t.Fatal("no pending delta after restart")
	}
	if diff := cmp.Diff(map[string]any{"sp": 7.0}, field(t, string(p), "state")); diff != "" || field(t, string(p), "version") != 1.0 {
		t.Errorf("pending delta %s (-want +got state):\n%s", p, diff)
	}
	if p, ok := svc.PendingDelta("chiller-1", ""); ok {
		t.Errorf("classic shadow has pending delta %s, want none", p)
	}
}

// TestShadowsConcurrent: updates without a version from many goroutines are
// all applied, numbered 1..N, and all in the history.
func TestShadowsConcurrent(t *testing.T) {
	f := newFixture(t)
	f.create(t, "chiller-1")
	svc, _ := newShadows(t, f, shadow.Limits{}, nil)
	const workers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				body := fmt.Sprintf(`{"state":{"desired":{"w%d":%d}}}`, w, i)
				if _, err := svc.Update("chiller-1", "", []byte(body), operator, t0); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("update: %v", err)
	}
	doc, err := svc.Get("chiller-1", "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{}
	for w := 0; w < workers; w++ {
		want[fmt.Sprintf("w%d", w)] = json.Number(fmt.Sprint(each - 1))
	}
	if diff := cmp.Diff(want, doc.State.Desired); diff != "" {
		t.Errorf("desired (-want +got):\n%s", diff)
	}
	h := history(t, f.st, "chiller-1", "")
	if doc.Version != workers*each || len(h) != workers*each {
		t.Fatalf("version %d, %d history entries; want %d of each", doc.Version, len(h), workers*each)
	}
	seen := map[int64]bool{}
	for _, e := range h {
		seen[e.Version] = true
	}
	for v := int64(1); v <= workers*each; v++ {
		if !seen[v] {
			t.Errorf("version %d missing from history", v)
		}
	}
}

// TestShadowsStoreFailure: a failing store is answered with 500 and a
// generic message.
func TestShadowsStoreFailure(t *testing.T) {
	f := newFixture(t)
	f.create(t, "chiller-1")
	svc, rec := newShadows(t, f, shadow.Limits{}, nil)
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	svc.HandleShadowRequest("chiller-1", "", "get", []byte(`{"clientToken":"x"}`))
	msgs := rec.take()
	if len(msgs) != 1 || msgs[0].Topic != "$aws/things/chiller-1/shadow/get/rejected" {
		t.Fatalf("published %v", msgs)
	}
	if field(t, msgs[0].Payload, "code") != 500.0 || field(t, msgs[0].Payload, "message") != "Internal service failure" {
		t.Errorf("rejected %s, want 500 Internal service failure", msgs[0].Payload)
	}
	if _, ok := svc.PendingDelta("chiller-1", ""); ok {
		t.Error("PendingDelta on a closed store reported a delta")
	}
}

// racingStore lets another writer of the same store update the shadow just
// before the service's first write, as another process could.
type racingStore struct {
	*store.Store
	once  sync.Once
	other *device.Shadows
	err   error
}

func (r *racingStore) PutShadow(sh store.Shadow, expect int64, h *store.HistoryEntry) error {
	r.once.Do(func() {
		_, r.err = r.other.Update(sh.Device, sh.Name, []byte(`{"state":{"desired":{"other":true}}}`), operator, t0)
	})
	return r.Store.PutShadow(sh, expect, h)
}

// TestShadowsRace: an update that loses a race with a writer outside the
// process is applied again on top of the other write when it named no
// version, and rejected with 409 when it did.
func TestShadowsRace(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		wantErr     bool
		wantVersion int64
		wantDesired map[string]any
	}{
		{"no version retries", `{"state":{"desired":{"sp":7}}}`, false, 3, map[string]any{"sp": json.Number("7"), "other": true}},
		{"version conflicts", `{"state":{"desired":{"sp":7}},"version":1}`, true, 2, map[string]any{"sp": json.Number("1"), "other": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.create(t, "chiller-1")
			other, _ := newShadows(t, f, shadow.Limits{}, nil)
			if _, err := other.Update("chiller-1", "", []byte(`{"state":{"desired":{"sp":1}}}`), operator, t0); err != nil {
				t.Fatal(err)
			}
			rs := &racingStore{Store: f.st, other: other}
			rec := &recorder{}
			svc := device.NewShadows(device.ShadowDeps{Store: rs, Publisher: rec})
			_, err := svc.Update("chiller-1", "", []byte(tc.body), operator, t0)
			if rs.err != nil {
				t.Fatal(rs.err)
			}
			if tc.wantErr != (err != nil) || (err != nil && !isCode(err, 409)) {
				t.Fatalf("Update: %v, want error %v (409)", err, tc.wantErr)
			}
			if tc.wantErr && len(rec.take()) != 0 {
				t.Error("a rejected update published messages")
			}
			doc, err := svc.Get("chiller-1", "")
			if err != nil {
				t.Fatal(err)
			}
			if doc.Version != tc.wantVersion || len(history(t, f.st, "chiller-1", "")) != int(tc.wantVersion) {
				t.Errorf("version %d, want %d, with one history entry each", doc.Version, tc.wantVersion)
			}
			if diff := cmp.Diff(tc.wantDesired, doc.State.Desired); diff != "" {
				t.Errorf("desired (-want +got):\n%s", diff)
			}
		})
	}
}

// TestShadowsRefuseEmptyKeysAndHugeNumbers: an empty key at any depth and a
// number no 64-bit float can hold are refused with 400 and a message naming
// where they are, on the MQTT path and through Update alike; nothing is
// written and nothing is logged as a failure of the service.
func TestShadowsRefuseEmptyKeysAndHugeNumbers(t *testing.T) {
	f := newFixture(t)
	f.create(t, "chiller-1")
	var logged bytes.Buffer
	rec := &recorder{}
	svc := device.NewShadows(device.ShadowDeps{
		Store: f.st, Publisher: rec,
		Logger: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if _, err := svc.Update("chiller-1", "", []byte(`{"state":{"desired":{"sp":7}}}`), operator, t0); err != nil {
		t.Fatal(err)
	}
	rec.take()
	before := history(t, f.st, "chiller-1", "")

	tests := []struct {
		name, shadow, payload, msg string
	}{
		{"empty key in reported", "", `{"state":{"reported":{"":1}},"clientToken":"c1"}`, "state.reported: a key is empty; every key needs at least one character"},
		{"empty key nested", "", `{"state":{"reported":{"x":{"":1}}},"clientToken":"c1"}`, "state.reported.x: a key is empty; every key needs at least one character"},
		{"empty key in desired of a named shadow", "ops", `{"state":{"desired":{"a":[{"":true}]}},"clientToken":"c1"}`, "state.desired.a[0]: a key is empty; every key needs at least one character"},
		{"number over float64", "", `{"state":{"reported":{"big":1e400}},"clientToken":"c1"}`, "state.reported.big: the number 1e400 is out of range for a 64-bit float"},
		{"number over float64 nested", "ops", `{"state":{"desired":{"x":{"y":-1e400}}},"clientToken":"c1"}`, "state.desired.x.y: the number -1e400 is out of range for a 64-bit float"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc.HandleShadowRequest("chiller-1", tc.shadow, "update", []byte(tc.payload))
			msgs := rec.take()
			want := protocol.ShadowTopic("chiller-1", tc.shadow) + "/update/rejected"
			if len(msgs) != 1 || msgs[0].Topic != want {
				t.Fatalf("published %v, want one message on %s", msgs, want)
			}
			if code, msg := field(t, msgs[0].Payload, "code"), field(t, msgs[0].Payload, "message"); code != 400.0 || msg != tc.msg {
				t.Errorf("rejected %v %q, want 400 %q", code, msg, tc.msg)
			}
			if got := field(t, msgs[0].Payload, "clientToken"); got != "c1" {
				t.Errorf("clientToken %v, want c1", got)
			}

			_, err := svc.Update("chiller-1", tc.shadow, []byte(tc.payload), operator, t0)
			var se *shadow.Error
			if !errors.As(err, &se) || se.Code != 400 || se.Message != tc.msg {
				t.Errorf("Update = %v, want 400 %q", err, tc.msg)
			}
			if msgs := rec.take(); len(msgs) != 0 {
				t.Errorf("a refused update published %v", msgs)
			}
		})
	}
	if diff := cmp.Diff(before, history(t, f.st, "chiller-1", "")); diff != "" {
		t.Errorf("history changed by refused updates (-before +after):\n%s", diff)
	}
	if _, err := svc.Get("chiller-1", "ops"); !isCode(err, 404) {
		t.Errorf("named shadow after refused updates: %v, want 404", err)
	}
	if doc, err := svc.Get("chiller-1", ""); err != nil || doc.Version != 1 {
		t.Errorf("after refusals: version %d, %v; want 1", doc.Version, err)
	}
	if logged.Len() > 0 {
		t.Errorf("refused updates were logged:\n%s", logged.String())
	}
}

// One device may make 20 shadow updates a second over MQTT (bursts of 40)
// and have 50 named shadows; past them it is refused with AWS's 429, or a
// 400 that says why. Operators' updates are not limited by the rate.
func TestShadowLimitsPerDevice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(t, "gw-1")
	svc, _ := newShadows(t, f, shadow.Limits{}, nil)
	dev := device.Actor{Name: "device:gw-1", Channel: device.ChannelMQTT}
	code := func(err error) int {
		var se *shadow.Error
		if errors.As(err, &se) {
			return se.Code
		}
		return 0
	}
	refused := 0
	at := time.Now()
	for i := range 60 {
		_, err := svc.Update("gw-1", "", []byte(fmt.Sprintf(`{"state":{"reported":{"n":%d}}}`, i)), dev, at)
		switch code(err) {
		case 0:
			if err != nil {
				t.Fatal(err)
			}
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("update %d: %v", i, err)
		}
	}
	if refused != 20 {
		t.Errorf("%d of 60 updates at one instant refused; want the 20 past a burst of 40", refused)
	}
	if _, err := svc.Update("gw-1", "", []byte(`{"state":{"reported":{"n":1}}}`), dev, at.Add(time.Second)); err != nil {
		t.Fatalf("an update a second later: %v", err)
	}
	if _, err := svc.Update("gw-1", "", []byte(`{"state":{"desired":{"n":1}}}`), operator, time.Now()); err != nil {
		t.Fatalf("an operator's update while the device is limited: %v", err)
	}
	for i := range 50 {
		if _, err := svc.Update("gw-1", fmt.Sprintf("zone-%02d", i), []byte(`{"state":{"reported":{"t":1}}}`), operator, time.Now()); err != nil {
			t.Fatalf("named shadow %d: %v", i, err)
		}
	}
	_, err := svc.Update("gw-1", "zone-50", []byte(`{"state":{"reported":{"t":1}}}`), operator, time.Now())
	if code(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "as many named shadows as it may (50)") {
		t.Fatalf("a 51st named shadow: %v", err)
	}
	if _, err := svc.Update("gw-1", "zone-07", []byte(`{"state":{"reported":{"t":2}}}`), operator, time.Now()); err != nil {
		t.Fatalf("an update of an existing named shadow at the limit: %v", err)
	}
}
