package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// nothingOn checks that no message arrives on topic for a moment; what
// arrives meanwhile on other topics is dropped.
func nothingOn(t *testing.T, c *v5client, topic string) {
	t.Helper()
	deadline := time.After(300 * time.Millisecond)
	for {
		select {
		case p := <-c.received:
			if p.Topic == topic {
				t.Fatalf("unexpected message on %s: %s", topic, p.Payload)
			}
		case <-deadline:
			return
		}
	}
}

type jobCounts struct {
	ID      string         `json:"id"`
	Status  string         `json:"status"`
	Reason  string         `json:"reason"`
	Counts  map[string]int `json:"counts"`
	Total   int            `json:"total"`
	Waiting int            `json:"waiting"`
}

// The device side of jobs is AWS IoT Jobs', topic for topic: a device is
// told of a job on notify-next with its document, starts it, reports
// progress with a version check, ends it, and is refused transitions AWS
// refuses; replies reach only the device that asked; the API counts the
// executions; a canceled job's queued execution ends and its device hears
// so.
func TestJobsDeviceAPI(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	h.addCustomer(op, "globex")
	d1 := h.addDevice(op, "gw-1", "acme")
	d2 := h.addDevice(op, "gw-2", "acme")
	d3 := h.addDevice(op, "gw-9", "globex")

	c1, _, err := h.v5("gw-1", d1, true, "")
	if err != nil {
		t.Fatal(err)
	}
	c2, _, err := h.v5("gw-2", d2, true, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		c    *v5client
		name string
	}{{c1, "gw-1"}, {c2, "gw-2"}} {
		if code := c.c.subscribe(t, protocol.JobsTopic(c.name)+"/#"); code > 1 {
			t.Fatalf("subscribe to the jobs topics: %#x", code)
		}
	}

	doc := json.RawMessage(`{"operation": "update-agent", "version": "1.4.2"}`)
	var job jobCounts
	if st := h.apiCall(op, "POST", "/api/v1/jobs", map[string]any{
		"id": "fw-142", "targets": map[string]any{"devices": []string{"gw-1", "gw-2"}}, "document": doc,
	}, &job); st != http.StatusCreated {
		t.Fatalf("create job: %d", st)
	}
	if job.Total != 2 || job.Status != "IN_PROGRESS" || len(job.Counts) != 8 {
		t.Fatalf("created job: %+v", job)
	}

	// notify-next brings the job with its document.
	var next protocol.JobsNotifyNext
	receive(t, c1, protocol.JobsNotifyNextTopic("gw-1"), &next)
	if next.Execution == nil || next.Execution.JobID != "fw-142" || next.Execution.Status != "QUEUED" ||
		next.Execution.ThingName != "gw-1" || string(next.Execution.JobDocument) != `{"operation":"update-agent","version":"1.4.2"}` ||
		next.Execution.VersionNumber != 1 || next.Execution.ExecutionNumber != 1 || next.Execution.QueuedAt == 0 {
		t.Fatalf("notify-next: %+v", next.Execution)
	}

	var next2 protocol.JobsNotifyNext
	receive(t, c2, protocol.JobsNotifyNextTopic("gw-2"), &next2)
	if next2.Execution == nil || next2.Execution.JobID != "fw-142" {
		t.Fatalf("gw-2's notify-next: %+v", next2.Execution)
	}

	// jobs/get lists it as queued.
	if _, err := c1.publish(protocol.JobRequestTopic("gw-1", "", "get"), []byte(`{"clientToken":"t-get"}`)); err != nil {
		t.Fatal(err)
	}
	var pending protocol.GetPendingJobsResponse
	receive(t, c1, protocol.JobRequestTopic("gw-1", "", "get")+"/accepted", &pending)
	if len(pending.QueuedJobs) != 1 || pending.QueuedJobs[0].JobID != "fw-142" || len(pending.InProgressJobs) != 0 || pending.ClientToken != "t-get" {
		t.Fatalf("jobs/get: %+v", pending)
	}

	// start-next starts it, with status details and a step timer.
	if _, err := c1.publish(protocol.JobRequestTopic("gw-1", "", "start-next"),
		[]byte(`{"statusDetails":{"step":"downloading"},"stepTimeoutInMinutes":30,"clientToken":"t-start"}`)); err != nil {
		t.Fatal(err)
	}
	var started protocol.ExecutionResponse
	receive(t, c1, protocol.JobRequestTopic("gw-1", "", "start-next")+"/accepted", &started)
	if e := started.Execution; e == nil || e.Status != "IN_PROGRESS" || e.VersionNumber != 2 || e.StartedAt == 0 ||
		e.StatusDetails["step"] != "downloading" || e.ApproximateSecondsBeforeTimedOut < 1700 || started.ClientToken != "t-start" {
		t.Fatalf("start-next: %+v", started.Execution)
	}

	// An update naming an old version is refused with the state it is in.
	update := protocol.JobRequestTopic("gw-1", "fw-142", "update")
	if _, err := c1.publish(update, []byte(`{"status":"SUCCEEDED","expectedVersion":1,"clientToken":"t-old"}`)); err != nil {
		t.Fatal(err)
	}
	var rej protocol.JobsError
	receive(t, c1, update+"/rejected", &rej)
	if rej.Code != "VersionMismatch" || rej.ExecutionState == nil || rej.ExecutionState.VersionNumber != 2 ||
		rej.ExecutionState.Status != "IN_PROGRESS" || rej.ClientToken != "t-old" {
		t.Fatalf("stale update: %+v", rej)
	}
	// Statuses a device may not set, and bad bodies.
	for body, code := range map[string]string{
		`{"status":"CANCELED"}`:                          "InvalidRequest",
		`{"status":"SUCCEEDED","statusDetails":{"a":1}}`: "InvalidRequest",
		`{"status":`: "InvalidJson",
		`{"status":"IN_PROGRESS","stepTimeoutInMinutes":0}`: "InvalidRequest",
	} {
		if _, err := c1.publish(update, []byte(body)); err != nil {
			t.Fatal(err)
		}
		receive(t, c1, update+"/rejected", &rej)
		if rej.Code != code {
			t.Errorf("update %s: %s (%s); want %s", body, rej.Code, rej.Message, code)
		}
	}

	// SUCCEEDED, with the state and the document in the answer.
	if _, err := c1.publish(update, []byte(`{"status":"SUCCEEDED","expectedVersion":2,"statusDetails":{"version":"1.4.2"},"includeJobExecutionState":true,"includeJobDocument":true}`)); err != nil {
		t.Fatal(err)
	}
	var upd protocol.UpdateJobResponse
	receive(t, c1, update+"/accepted", &upd)
	if upd.ExecutionState == nil || upd.ExecutionState.Status != "SUCCEEDED" || upd.ExecutionState.VersionNumber != 3 || len(upd.JobDocument) == 0 {
		t.Fatalf("update accepted: %+v", upd)
	}
	// With nothing left, notify-next says so.
	next = protocol.JobsNotifyNext{}
	receive(t, c1, protocol.JobsNotifyNextTopic("gw-1"), &next)
	if next.Execution != nil {
		t.Fatalf("notify-next after the last job: %+v", next.Execution)
	}
	// A terminal execution cannot move again.
	if _, err := c1.publish(update, []byte(`{"status":"IN_PROGRESS"}`)); err != nil {
		t.Fatal(err)
	}
	receive(t, c1, update+"/rejected", &rej)
	if rej.Code != "InvalidStateTransition" || rej.ExecutionState == nil || rej.ExecutionState.Status != "SUCCEEDED" {
		t.Fatalf("update after the end: %+v", rej)
	}
	// Describe it, and $next now has nothing.
	if _, err := c1.publish(protocol.JobRequestTopic("gw-1", "fw-142", "get"), []byte(`{"includeJobDocument":false}`)); err != nil {
		t.Fatal(err)
	}
	var desc protocol.ExecutionResponse
	receive(t, c1, protocol.JobRequestTopic("gw-1", "fw-142", "get")+"/accepted", &desc)
	if desc.Execution == nil || desc.Execution.Status != "SUCCEEDED" || desc.Execution.JobDocument != nil || desc.Execution.StatusDetails["version"] != "1.4.2" {
		t.Fatalf("describe: %+v", desc.Execution)
	}
	if _, err := c1.publish(protocol.JobRequestTopic("gw-1", "$next", "get"), nil); err != nil {
		t.Fatal(err)
	}
	desc = protocol.ExecutionResponse{}
	receive(t, c1, protocol.JobRequestTopic("gw-1", "$next", "get")+"/accepted", &desc)
	if desc.Execution != nil || desc.Timestamp == 0 {
		t.Fatalf("$next with nothing pending: %+v", desc)
	}
	// Unknown jobs are not found.
	if _, err := c1.publish(protocol.JobRequestTopic("gw-1", "nope", "get"), nil); err != nil {
		t.Fatal(err)
	}
	receive(t, c1, protocol.JobRequestTopic("gw-1", "nope", "get")+"/rejected", &rej)
	if rej.Code != "ResourceNotFound" {
		t.Fatalf("unknown job: %+v", rej)
	}

	// Another device's job topics are not this device's to use: refused,
	// and the other device hears nothing of it.
	if code, err := c1.publish(protocol.JobRequestTopic("gw-2", "", "get"), nil); code != 0x87 {
		t.Fatalf("publish on another device's jobs topic: %#x, %v; want 0x87", code, err)
	}
	if code := c1.subscribe(t, protocol.JobsTopic("gw-2")+"/#"); code < 0x80 {
		t.Fatalf("subscribe to another device's jobs topics: %#x", code)
	}
	nothingOn(t, c2, protocol.JobRequestTopic("gw-2", "", "get")+"/accepted")
	// Nor may a device publish on its own notification topics.
	if code, _ := c1.publish(protocol.JobsNotifyNextTopic("gw-1"), []byte(`{}`)); code != 0x87 {
		t.Fatalf("publish on notify-next: %#x; want 0x87", code)
	}

	// The API counts them; a customer sees the job over its own devices,
	// another customer not at all.
	if st := h.apiCall(op, "GET", "/api/v1/jobs/fw-142", nil, &job); st != http.StatusOK ||
		job.Counts["SUCCEEDED"] != 1 || job.Counts["QUEUED"] != 1 {
		t.Fatalf("job: %d %+v", st, job)
	}
	acme, globex := h.token(store.RoleCustomer, "acme"), h.token(store.RoleCustomer, "globex")
	if st := h.apiCall(acme, "GET", "/api/v1/jobs/fw-142", nil, &job); st != http.StatusOK || job.Total != 2 {
		t.Fatalf("acme's view of the job: %d %+v", st, job)
	}
	if st := h.apiCall(globex, "GET", "/api/v1/jobs/fw-142", nil, &job); st != http.StatusNotFound {
		t.Fatalf("globex's view of acme's job: %d", st)
	}
	if st := h.apiCall(globex, "POST", "/api/v1/jobs/fw-142/cancel", nil, nil); st != http.StatusNotFound && st != http.StatusForbidden {
		t.Fatalf("globex cancels acme's job: %d", st)
	}
	var history struct {
		Executions []struct {
			JobID  string `json:"job_id"`
			Status string `json:"status"`
		} `json:"executions"`
	}
	if st := h.apiCall(acme, "GET", "/api/v1/devices/gw-1/jobs", nil, &history); st != http.StatusOK ||
		len(history.Executions) != 1 || history.Executions[0].Status != "SUCCEEDED" {
		t.Fatalf("gw-1's job history: %d %+v", st, history)
	}
	_ = d3

	// Canceled: gw-2's queued execution ends, and gw-2 hears so.
	if st := h.apiCall(op, "POST", "/api/v1/jobs/fw-142/cancel", map[string]any{"reason": "wrong build"}, &job); st != http.StatusOK ||
		job.Status != "CANCELED" || job.Counts["CANCELED"] != 1 || job.Counts["QUEUED"] != 0 || job.Reason != "wrong build" {
		t.Fatalf("cancel: %d %+v", st, job)
	}
	next = protocol.JobsNotifyNext{}
	receive(t, c2, protocol.JobsNotifyNextTopic("gw-2"), &next)
	if next.Execution != nil {
		t.Fatalf("notify-next after the cancel: %+v", next.Execution)
	}
	if st := h.apiCall(op, "POST", "/api/v1/jobs/fw-142/cancel", nil, nil); st != http.StatusConflict {
		t.Fatalf("cancel twice: %d; want 409", st)
	}
	if st := h.apiCall(op, "DELETE", "/api/v1/jobs/fw-142", nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
}

// A restart in the middle of a rollout resumes it where it was: the
// minute's releases are not given again, a device's execution in progress
// keeps its version and its step timer, and it ends after the restart.
func TestJobsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	h := startHearth(t, dir)
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	devs := map[string]issuedDevice{}
	for _, name := range []string{"gw-a", "gw-b", "gw-c", "gw-d"} {
		devs[name] = h.addDevice(op, name, "acme")
	}
	if st := h.apiCall(op, "POST", "/api/v1/jobs", map[string]any{
		"id": "cfg-1", "targets": map[string]any{"customers": []string{"acme"}},
		"document": map[string]any{"operation": "apply-config"}, "rollout": map[string]any{"maximum_per_minute": 2},
	}, nil); st != http.StatusCreated {
		t.Fatalf("create job: %d", st)
	}
	var job jobCounts
	eventually(t, "two released", func() bool {
		return h.apiCall(op, "GET", "/api/v1/jobs/cfg-1", nil, &job) == http.StatusOK && job.Counts["QUEUED"] == 2
	})
	c, _, err := h.v5("gw-a", devs["gw-a"], true, "")
	if err != nil {
		t.Fatal(err)
	}
	c.subscribe(t, protocol.JobsTopic("gw-a")+"/#")
	if _, err := c.publish(protocol.JobRequestTopic("gw-a", "", "start-next"), []byte(`{"stepTimeoutInMinutes": 60}`)); err != nil {
		t.Fatal(err)
	}
	var started protocol.ExecutionResponse
	receive(t, c, protocol.JobRequestTopic("gw-a", "", "start-next")+"/accepted", &started)
	if started.Execution == nil || started.Execution.JobID != "cfg-1" {
		t.Fatalf("start-next: %+v", started)
	}
	h.stop()

	h = startHearth(t, dir)
	time.Sleep(1500 * time.Millisecond) // a rollout tick or more
	if st := h.apiCall(op, "GET", "/api/v1/jobs/cfg-1", nil, &job); st != http.StatusOK ||
		job.Status != "IN_PROGRESS" || job.Counts["QUEUED"] != 1 || job.Counts["IN_PROGRESS"] != 1 || job.Waiting != 2 {
		t.Fatalf("after the restart: %d %+v", st, job)
	}
	c, _, err = h.v5("gw-a", devs["gw-a"], true, "")
	if err != nil {
		t.Fatal(err)
	}
	c.subscribe(t, protocol.JobsTopic("gw-a")+"/#")
	if _, err := c.publish(protocol.JobRequestTopic("gw-a", "$next", "get"), nil); err != nil {
		t.Fatal(err)
	}
	var desc protocol.ExecutionResponse
	receive(t, c, protocol.JobRequestTopic("gw-a", "$next", "get")+"/accepted", &desc)
	if e := desc.Execution; e == nil || e.Status != "IN_PROGRESS" || e.VersionNumber != 2 || e.ApproximateSecondsBeforeTimedOut < 3500 {
		t.Fatalf("gw-a's execution after the restart: %+v", desc.Execution)
	}
	if _, err := c.publish(protocol.JobRequestTopic("gw-a", "cfg-1", "update"), []byte(`{"status":"SUCCEEDED","expectedVersion":2}`)); err != nil {
		t.Fatal(err)
	}
	var upd protocol.UpdateJobResponse
	receive(t, c, protocol.JobRequestTopic("gw-a", "cfg-1", "update")+"/accepted", &upd)
	if st := h.apiCall(op, "GET", "/api/v1/jobs/cfg-1", nil, &job); st != http.StatusOK || job.Counts["SUCCEEDED"] != 1 {
		t.Fatalf("after the update: %d %+v", st, job)
	}
}
