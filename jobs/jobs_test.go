package jobs_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/jobs"
	"github.com/hearthiot/hearth/jobs/artifact"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// clock is the test's time, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sent records what the service published, by topic.
type sent struct {
	mu  sync.Mutex
	msg []message
}

type message struct {
	topic   string
	payload []byte
}

func (s *sent) Publish(topic string, payload []byte, _ byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msg = append(s.msg, message{topic, payload})
	return nil
}

// last decodes the last message on topic into v and reports whether there
// was one.
func (s *sent) last(topic string, v any) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.msg) - 1; i >= 0; i-- {
		if s.msg[i].topic == topic {
			if err := json.Unmarshal(s.msg[i].payload, v); err != nil {
				panic(err)
			}
			return true
		}
	}
	return false
}

func (s *sent) count(topic string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msg {
		if m.topic == topic {
			n++
		}
	}
	return n
}

// registry lists the devices of the test's store.
type registry struct{ st *store.Store }

func (r registry) Devices(f store.DeviceFilter) ([]store.Device, error) { return r.st.ListDevices(f) }
func (r registry) Device(name string) (store.Device, error)             { return r.st.GetDevice(name) }

// artifacts is a fixed set of artifacts whose URLs name the time they were
// made.
type artifacts struct{ c *clock }

func (a artifacts) Get(name string) (artifact.Artifact, error) {
	if name != "agent-1.5" {
		return artifact.Artifact{}, fmt.Errorf("artifact %q: %w", name, store.ErrNotFound)
	}
	return artifact.Artifact{Name: name, Size: 5 << 20, SHA256: strings.Repeat("ab", 32), Signature: "c2ln"}, nil
}

func (a artifacts) SignedURL(name string, ttl time.Duration) (string, error) {
	return fmt.Sprintf("https://hearth.example:8443/artifacts/%s?expires=%d", name, a.c.now().Add(ttl).Unix()), nil
}

type fixture struct {
	st  *store.Store
	svc *jobs.Service
	pub *sent
	clk *clock
	dir string
}

func newFixture(t testing.TB, devices int) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, c := range []string{"acme", "globex"} {
		if err := st.CreateCustomer(store.Customer{Name: c}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range devices {
		c := "acme"
		if i%2 == 1 {
			c = "globex"
		}
		if err := st.CreateDevice(store.Device{Name: fmt.Sprintf("dev-%03d", i), Customer: c, Type: "gateway"}); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{st: st, pub: &sent{}, clk: &clock{t: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)}, dir: dir}
	f.svc = f.service(t)
	return f
}

// service builds a service over the fixture's store, as a restart does.
func (f *fixture) service(t testing.TB) *jobs.Service {
	t.Helper()
	svc, err := jobs.New(jobs.Deps{Store: f.st, Devices: registry{f.st}, Publisher: f.pub, Artifacts: artifacts{f.clk}},
		jobs.Config{Now: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Load(); err != nil {
		t.Fatal(err)
	}
	return svc
}

func (f *fixture) job(t *testing.T) store.Job {
	t.Helper()
	j, err := f.st.GetJob("j")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// request sends a device's job request and returns the reply's topic
// suffix ("accepted" or "rejected") and body.
func (f *fixture) request(thing, jobID, op, body string) (string, map[string]any) {
	f.svc.HandleJobRequest(thing, protocol.JobRequest{JobID: jobID, Op: op}, []byte(body))
	base := protocol.JobRequestTopic(thing, jobID, op)
	f.pub.mu.Lock()
	defer f.pub.mu.Unlock()
	for i := len(f.pub.msg) - 1; i >= 0; i-- {
		m := f.pub.msg[i]
		if !strings.HasPrefix(m.topic, base+"/") {
			continue // a notification that followed the reply
		}
		var doc map[string]any
		if err := json.Unmarshal(m.payload, &doc); err != nil {
			panic(err)
		}
		return strings.TrimPrefix(m.topic, base+"/"), doc
	}
	return "", nil
}

// A rollout at a maximum rate releases that many targets a minute, and a
// restart in the middle resumes it where it was.
func TestRolloutRateAndRestart(t *testing.T) {
	f := newFixture(t, 10)
	if _, err := f.svc.Create(store.Job{ID: "j", Document: json.RawMessage(`{"operation":"x"}`),
		Targets: store.JobTargets{Customers: []string{"acme", "globex"}}, Rollout: store.JobRollout{MaximumPerMinute: 4}}, "test"); err != nil {
		t.Fatal(err)
	}
	released := func() int { return f.job(t).Released }
	f.svc.RunDue()
	if n := released(); n != 4 {
		t.Fatalf("released %d in the first minute; want 4", n)
	}
	f.clk.add(30 * time.Second)
	f.svc.RunDue()
	if n := released(); n != 4 {
		t.Fatalf("released %d after 30 s; want still 4", n)
	}
	f.clk.add(31 * time.Second)
	f.svc = f.service(t) // a restart
	f.svc.RunDue()
	if n := released(); n != 8 {
		t.Fatalf("released %d in the second minute, after a restart; want 8", n)
	}
	f.clk.add(time.Minute)
	f.svc.RunDue()
	if n := released(); n != 10 {
		t.Fatalf("released %d; want all 10", n)
	}
	// Each released device was told, with the document.
	var next protocol.JobsNotifyNext
	if !f.pub.last(protocol.JobsNotifyNextTopic("dev-009"), &next) || next.Execution == nil || string(next.Execution.JobDocument) != `{"operation":"x"}` {
		t.Fatalf("dev-009's notify-next: %+v", next.Execution)
	}
}

// An exponential rollout grows by its factor after every N notified
// devices, capped by the maximum.
func TestRolloutExponential(t *testing.T) {
	f := newFixture(t, 40)
	if _, err := f.svc.Create(store.Job{ID: "j", Document: json.RawMessage(`{"operation":"x"}`),
		Targets: store.JobTargets{Customers: []string{"acme", "globex"}},
		Rollout: store.JobRollout{BaseRatePerMinute: 2, IncrementFactor: 2, IncreaseEvery: 2, MaximumPerMinute: 16}}, "test"); err != nil {
		t.Fatal(err)
	}
	var got []int
	for range 5 {
		f.svc.RunDue()
		got = append(got, f.job(t).Released)
		f.clk.add(time.Minute)
	}
	// 2 a minute at first; after 2 notified 4, after 6 notified 2·2³ = 16,
	// the cap.
	want := []int{2, 6, 22, 38, 40}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("released by minute %v; want %v", got, want)
	}
}

// Abort criteria: with a 10 % failure rate and a 5 % threshold after 20
// executions, the job is canceled by the execution that crosses the line,
// exactly, and its queued executions end.
func TestAbortAtThreshold(t *testing.T) {
	f := newFixture(t, 100)
	if _, err := f.svc.Create(store.Job{ID: "j", Document: json.RawMessage(`{"operation":"x"}`),
		Targets: store.JobTargets{Customers: []string{"acme", "globex"}},
		Abort:   []store.JobAbort{{FailureType: protocol.JobFailed, ThresholdPercentage: 5, MinExecuted: 20}}}, "test"); err != nil {
		t.Fatal(err)
	}
	f.svc.RunDue()
	// Every tenth device fails: dev-000 (1 of 1), … After 20 executions
	// 2 of 20 failed (10 %), so the 20th ends the rollout.
	for i := range 100 {
		thing := fmt.Sprintf("dev-%03d", i)
		status := protocol.JobSucceeded
		if i%10 == 0 {
			status = protocol.JobFailed
		}
		kind, doc := f.request(thing, "j", protocol.JobsUpdate, `{"status":"`+status+`"}`)
		if i < 20 && kind != "accepted" {
			t.Fatalf("%s: %s %v", thing, kind, doc)
		}
		if i >= 20 {
			if kind != "rejected" || doc["code"] != protocol.JobsInvalidStateTransition {
				t.Fatalf("%s after the abort: %s %v; want InvalidStateTransition", thing, kind, doc)
			}
			break
		}
	}
	j := f.job(t)
	if j.Status != store.JobCanceled || !strings.Contains(j.Reason, "aborted: 2 of 20 executions ended FAILED") {
		t.Fatalf("job %s: %q", j.Status, j.Reason)
	}
	want := map[string]int{"SUCCEEDED": 18, "FAILED": 2, "CANCELED": 80, "QUEUED": 0}
	for st, n := range want {
		if j.Counts[st] != n {
			t.Errorf("%s: %d; want %d (counts %v)", st, j.Counts[st], n, j.Counts)
		}
	}
	var next protocol.JobsNotifyNext
	if !f.pub.last(protocol.JobsNotifyNextTopic("dev-050"), &next) || next.Execution != nil {
		t.Errorf("dev-050 was not told its execution ended: %+v", next.Execution)
	}
}

// An execution in progress times out at the job's in-progress timeout or
// at its step timer, whichever comes first, also across a restart.
func TestTimeouts(t *testing.T) {
	f := newFixture(t, 2)
	if _, err := f.svc.Create(store.Job{ID: "j", Document: json.RawMessage(`{"operation":"x"}`),
		Targets: store.JobTargets{Devices: []string{"dev-000", "dev-001"}}, TimeoutMinutes: 30}, "test"); err != nil {
		t.Fatal(err)
	}
	f.svc.RunDue()
	if kind, doc := f.request("dev-000", "", protocol.JobsStartNext, `{"stepTimeoutInMinutes": 5}`); kind != "accepted" {
		t.Fatalf("start-next: %s %v", kind, doc)
	}
	if kind, doc := f.request("dev-001", "", protocol.JobsStartNext, `{}`); kind != "accepted" {
		t.Fatalf("start-next: %s %v", kind, doc)
	}
	f.clk.add(4 * time.Minute)
	// Progress with a new step timer moves its deadline.
	if kind, doc := f.request("dev-000", "j", protocol.JobsUpdate, `{"status":"IN_PROGRESS","stepTimeoutInMinutes":3}`); kind != "accepted" {
		t.Fatalf("update: %s %v", kind, doc)
	}
	f.clk.add(2 * time.Minute)
	f.svc.RunDue()
	if e, _ := f.st.GetJobExecution("dev-000", "j"); e.Status != protocol.JobInProgress {
		t.Fatalf("dev-000 at 6 min with its step timer at 7: %s", e.Status)
	}
	f.clk.add(90 * time.Second)
	f.svc = f.service(t) // a restart: deadlines read back
	f.svc.RunDue()
	if e, _ := f.st.GetJobExecution("dev-000", "j"); e.Status != protocol.JobTimedOut {
		t.Fatalf("dev-000 past its step timer: %s", e.Status)
	}
	if e, _ := f.st.GetJobExecution("dev-001", "j"); e.Status != protocol.JobInProgress {
		t.Fatalf("dev-001 at 7.5 min of 30: %s", e.Status)
	}
	f.clk.add(23 * time.Minute)
	f.svc.RunDue()
	if e, _ := f.st.GetJobExecution("dev-001", "j"); e.Status != protocol.JobTimedOut {
		t.Fatalf("dev-001 past the job's 30 min: %s", e.Status)
	}
	if kind, doc := f.request("dev-001", "j", protocol.JobsUpdate, `{"status":"SUCCEEDED"}`); kind != "rejected" || doc["code"] != protocol.JobsInvalidStateTransition {
		t.Fatalf("update after the time-out: %s %v", kind, doc)
	}
	f.svc.RunDue()
	if j := f.job(t); j.Status != store.JobCompleted || j.Counts[protocol.JobTimedOut] != 2 {
		t.Fatalf("job: %s %v", j.Status, j.Counts)
	}
}

// A maintenance window releases only in its hours of the device's local
// day, past midnight too.
func TestMaintenanceWindow(t *testing.T) {
	f := newFixture(t, 2)
	// 03:00 UTC is 12:00 in Tokyo.
	if _, err := f.svc.Create(store.Job{ID: "j", Document: json.RawMessage(`{"operation":"x"}`),
		Targets: store.JobTargets{Devices: []string{"dev-000"}},
		Window:  &store.JobWindow{Start: "22:00", End: "05:00"}}, "test"); err != nil {
		t.Fatal(err)
	}
	f.svc.RunDue()
	if n := f.job(t).Released; n != 0 {
		t.Fatalf("released %d at noon with a 22:00–05:00 window", n)
	}
	f.clk.add(11 * time.Hour) // 23:00 in Tokyo
	f.svc.RunDue()
	if n := f.job(t).Released; n != 1 {
		t.Fatalf("released %d at 23:00", n)
	}
}

// Placeholders name artifacts: each execution's document gets a fresh
// signed URL and the artifact's checksum; an unknown artifact is refused
// when the job is created.
func TestArtifactPlaceholders(t *testing.T) {
	f := newFixture(t, 1)
	if _, err := f.svc.Create(store.Job{ID: "bad", Document: json.RawMessage(`{"url":"${hearth:artifact-url:nope}"}`),
		Targets: store.JobTargets{Devices: []string{"dev-000"}}}, "test"); err == nil || !strings.Contains(err.Error(), `no artifact "nope"`) {
		t.Fatalf("unknown artifact: %v", err)
	}
	if _, err := f.svc.Create(store.Job{ID: "bad", Document: json.RawMessage(`{"url":"${hearth:artifact-link:agent-1.5}"}`),
		Targets: store.JobTargets{Devices: []string{"dev-000"}}}, "test"); err == nil || !strings.Contains(err.Error(), "placeholder") {
		t.Fatalf("unknown placeholder: %v", err)
	}
	if _, err := f.svc.Create(store.Job{ID: "j", Document: json.RawMessage(`{"operation":"update-agent","url":"${hearth:artifact-url:agent-1.5}","sha256":"${hearth:artifact-sha256:agent-1.5}","size":"${hearth:artifact-size:agent-1.5}"}`),
		Targets: store.JobTargets{Devices: []string{"dev-000"}}}, "test"); err != nil {
		t.Fatal(err)
	}
	f.svc.RunDue()
	_, first := f.request("dev-000", "$next", protocol.JobsGet, `{}`)
	f.clk.add(time.Minute)
	_, second := f.request("dev-000", "$next", protocol.JobsGet, `{}`)
	doc := func(m map[string]any) map[string]any {
		return m["execution"].(map[string]any)["jobDocument"].(map[string]any)
	}
	d1, d2 := doc(first), doc(second)
	if !strings.HasPrefix(d1["url"].(string), "https://hearth.example:8443/artifacts/agent-1.5?expires=") || d1["url"] == d2["url"] ||
		d1["sha256"] != strings.Repeat("ab", 32) || d1["size"] != "5242880" {
		t.Fatalf("documents: %v then %v", d1, d2)
	}
}

// A device's requests: each answered once, on accepted or rejected, with
// AWS's codes for what is wrong.
func TestDeviceRequests(t *testing.T) {
	f := newFixture(t, 1)
	if _, err := f.svc.Create(store.Job{ID: "j", Document: json.RawMessage(`{"operation":"x"}`),
		Targets: store.JobTargets{Devices: []string{"dev-000"}}}, "test"); err != nil {
		t.Fatal(err)
	}
	f.svc.RunDue()
	for _, c := range []struct{ id, op, body, kind, code string }{
		{"", "get", `{"clientToken": 5}`, "rejected", protocol.JobsInvalidRequest},
		{"", "get", `[]`, "rejected", protocol.JobsInvalidJSON},
		{"", "start-next", `{"statusDetails": {"k": "` + strings.Repeat("v", 1025) + `"}}`, "rejected", protocol.JobsInvalidRequest},
		{"", "start-next", `{"stepTimeoutInMinutes": 10081}`, "rejected", protocol.JobsInvalidRequest},
		{"j", "get", `{"executionNumber": 2}`, "rejected", protocol.JobsResourceNotFound},
		{"j", "update", `{"status":"IN_PROGRESS","executionNumber":2}`, "rejected", protocol.JobsResourceNotFound},
		{"j", "update", `{"status":"QUEUED"}`, "rejected", protocol.JobsInvalidRequest},
		{"other", "update", `{"status":"IN_PROGRESS"}`, "rejected", protocol.JobsResourceNotFound},
		{"j", "update", `{"status":"REJECTED","statusDetails":{"reason":"not this model"}}`, "accepted", ""},
		{"j", "update", `{"status":"IN_PROGRESS"}`, "rejected", protocol.JobsInvalidStateTransition},
	} {
		n := f.pub.count(protocol.JobRequestTopic("dev-000", c.id, c.op) + "/" + c.kind)
		kind, doc := f.request("dev-000", c.id, c.op, c.body)
		if kind != c.kind || c.code != "" && doc["code"] != c.code {
			t.Errorf("%s %s %s: %s %v; want %s %s", c.id, c.op, c.body, kind, doc, c.kind, c.code)
		}
		if f.pub.count(protocol.JobRequestTopic("dev-000", c.id, c.op)+"/"+c.kind) != n+1 {
			t.Errorf("%s %s %s: not one answer", c.id, c.op, c.body)
		}
	}
	if j := f.job(t); j.Counts[protocol.JobRejected] != 1 {
		t.Fatalf("counts: %v", j.Counts)
	}
}

// FuzzDeviceRequest: whatever a device sends, it gets exactly one answer,
// on the accepted or the rejected topic of its request, and the service
// does not fail.
func FuzzDeviceRequest(f *testing.F) {
	for _, s := range []string{`{}`, `{"status":"SUCCEEDED","expectedVersion":1}`, `{"statusDetails":{"a":"b"},"stepTimeoutInMinutes":3}`,
		`{"clientToken":"x","includeJobDocument":false,"executionNumber":1}`, `nul`, `{"status":"IN_PROGRESS","statusDetails":{"a":1}}`, ``} {
		for op := range 4 {
			f.Add(s, uint8(op))
		}
	}
	fx := newFixture(f, 1)
	if _, err := fx.svc.Create(store.Job{ID: "j", Document: json.RawMessage(`{"operation":"x"}`),
		Targets: store.JobTargets{Devices: []string{"dev-000"}}}, "test"); err != nil {
		f.Fatal(err)
	}
	fx.svc.RunDue()
	f.Fuzz(func(t *testing.T, body string, op uint8) {
		reqs := []protocol.JobRequest{{Op: protocol.JobsGet}, {Op: protocol.JobsStartNext}, {JobID: "j", Op: protocol.JobsGet}, {JobID: "j", Op: protocol.JobsUpdate}}
		req := reqs[int(op)%len(reqs)]
		n := len(fx.pub.msg)
		fx.svc.HandleJobRequest("dev-000", req, []byte(body))
		base := protocol.JobRequestTopic("dev-000", req.JobID, req.Op)
		replies := 0
		for _, m := range fx.pub.msg[n:] {
			if m.topic == base+"/accepted" || m.topic == base+"/rejected" {
				replies++
				if !json.Valid(m.payload) {
					t.Fatalf("reply is not JSON: %s", m.payload)
				}
			}
		}
		if replies != 1 {
			t.Fatalf("%d replies to %q", replies, body)
		}
	})
}

// idleCalendar says a device's program has it off when off is set, in
// Tokyo's zone; devices without a calendar say so.
type idleCalendar struct{ off *bool }

func (c idleCalendar) Zone(device string) (*time.Location, bool) {
	loc, _ := time.LoadLocation("Asia/Tokyo")
	return loc, device == "dev-000"
}

func (c idleCalendar) Idle(device string, _ time.Time) (bool, bool) {
	return *c.off, device == "dev-000"
}

// A window with when_idle releases a device only while its operating
// program has it off, and never one without a calendar.
func TestMaintenanceWindowWhenIdle(t *testing.T) {
	f := newFixture(t, 2)
	off := false
	svc, err := jobs.New(jobs.Deps{Store: f.st, Devices: registry{f.st}, Publisher: f.pub, Calendars: idleCalendar{&off}},
		jobs.Config{Now: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(store.Job{ID: "j", Document: json.RawMessage(`{"operation":"x"}`),
		Targets: store.JobTargets{Devices: []string{"dev-000", "dev-001"}}, Window: &store.JobWindow{WhenIdle: true}}, "test"); err != nil {
		t.Fatal(err)
	}
	svc.RunDue()
	if n := f.job(t).Released; n != 0 {
		t.Fatalf("released %d while the program runs the equipment", n)
	}
	off = true
	f.clk.add(time.Minute)
	svc.RunDue()
	j := f.job(t)
	if j.Released != 1 {
		t.Fatalf("released %d once dev-000 is idle; want dev-000 only (dev-001 has no calendar)", j.Released)
	}
	if _, err := f.st.GetJobExecution("dev-000", "j"); err != nil {
		t.Fatalf("dev-000's execution: %v", err)
	}
}
