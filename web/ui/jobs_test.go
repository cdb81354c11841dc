package ui_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/jobs/artifact"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// seedJob creates a job as an operator would, then lets its rollout
// release what it may at once.
func (e *env) seedJob(j store.Job) {
	e.t.Helper()
	if j.Document == nil {
		j.Document = json.RawMessage(`{"operation":"apply-config","chw_setpoint":7}`)
	}
	if _, err := e.jobs.Create(j, "user:"+opUser); err != nil {
		e.t.Fatal(err)
	}
	e.jobs.RunDue()
}

// deviceJob is a device's job request, as the broker hands it to the job
// service, after which the device's execution of job must be want.
func (e *env) deviceJob(thing, job, op, body, want string) {
	e.t.Helper()
	topicJob := job
	if op == protocol.JobsStartNext {
		topicJob = ""
	}
	e.jobs.HandleJobRequest(thing, protocol.JobRequest{JobID: topicJob, Op: op}, []byte(body))
	if x := e.execution(thing, job); x.Status != want {
		e.t.Fatalf("%s's execution of %s after %s %s: %s, want %s", thing, job, op, body, x.Status, want)
	}
}

func (e *env) execution(thing, job string) store.JobExecution {
	e.t.Helper()
	x, err := e.st.GetJobExecution(thing, job)
	if err != nil {
		e.t.Fatalf("%s's execution of %s: %v", thing, job, err)
	}
	return x
}

// addDevices registers more of acme's chillers on its site.
func (e *env) addDevices(names ...string) {
	e.t.Helper()
	for _, n := range names {
		if _, err := e.reg.CreateDevice(device.DeviceSpec{Name: n, Customer: "acme", Site: "tokyo-tower", Type: "chiller"}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// legend is the words of a progress bar's parts, in order.
func legend(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?s)<li data-status="([A-Z_]+)" data-count="(\d+)" data-percent="([0-9.]+)">`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1]+"="+m[2]+"/"+m[3])
	}
	return out
}

// TestJobPages: an operator's list of jobs, newest first, with each one's
// progress over its targets; a job's page with what it is, its document,
// its progress and each device's execution in the reader's time zone,
// filtered by status; a customer's read-only view of the same job over
// its own devices; and a device's job history, for both.
func TestJobPages(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addDevices("acme-chiller-2", "acme-chiller-3")
	e.seedJob(store.Job{ID: "old-1", Targets: store.JobTargets{Devices: []string{"acme-chiller-3"}}})
	e.seedJob(store.Job{ID: "fw-1", Description: "Firmware 1.5.0", Targets: store.JobTargets{Customers: []string{"acme", "globex"}},
		Rollout: store.JobRollout{MaximumPerMinute: 3}, TimeoutMinutes: 30,
		Abort: []store.JobAbort{{FailureType: "ALL", ThresholdPercentage: 50, MinExecuted: 2}}})
	e.deviceJob("acme-chiller-1", "fw-1", protocol.JobsStartNext, `{}`, "IN_PROGRESS")
	e.deviceJob("acme-chiller-1", "fw-1", protocol.JobsUpdate, `{"status":"SUCCEEDED","statusDetails":{"version":"1.5.0"}}`, "SUCCEEDED")
	e.deviceJob("acme-chiller-2", "fw-1", protocol.JobsStartNext, `{"statusDetails":{"step":"download"}}`, "IN_PROGRESS")
	e.execution("acme-chiller-3", "fw-1") // queued; globex's chiller waits for the next minute
	for _, u := range []string{opUser, acmeUser} {
		if _, err := e.st.UpdateUser(u, func(u *store.User) error { u.TimeZone = "Asia/Tokyo"; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	jst := time.FixedZone("JST", 9*3600)
	op := e.signIn(opUser)

	r := e.get(op, "/admin/jobs")
	contains(t, "the operators' jobs", r, http.StatusOK, `href="/admin/jobs"`, `<a class="button" href="/admin/jobs/new">`,
		`href="/jobs/fw-1"`, "Firmware 1.5.0", `data-status="IN_PROGRESS">In progress</span>`, "by "+opUser, "Devices: 4",
		`<rect class="jst-succeeded" x="0.00" y="0" width="250.00"`, `<rect class="jst-in_progress" x="250.00" y="0" width="250.00"`,
		"Succeeded 1 (25 %)", "Queued 1 (25 %)", "Waiting 1 (25 %)")
	if i, k := strings.Index(r.body, `data-job="fw-1"`), strings.Index(r.body, `data-job="old-1"`); i < 0 || k < 0 || i > k {
		t.Errorf("the list is not newest first: fw-1 at %d, old-1 at %d", i, k)
	}
	// The list's compact legend leaves out what is none.
	if strings.Contains(r.body, `data-status="FAILED" data-count="0"`) {
		t.Error("the list's legend names a status that is none")
	}

	r = e.get(op, "/jobs/fw-1")
	x := e.execution("acme-chiller-1", "fw-1")
	contains(t, "the job's page", r, http.StatusOK, "Job fw-1", "Firmware 1.5.0", "At most 3 a minute", "30 minutes",
		"Cancel the job when 50 % or more of the executions ended failed, rejected or timed out, once at least 2 have ended",
		"None: at any time", "acme, globex", `"operation": "apply-config"`, "\n  \"chw_setpoint\": 7,\n",
		`legend`, "Succeeded 1 (25 %)", "Failed 0 (0 %)", "Timed out 0 (0 %)", "Rejected 0 (0 %)", "Canceled 0 (0 %)",
		"In progress 1 (25 %)", "Queued 1 (25 %)", "Waiting 1 (25 %)",
		`<a href="/devices/acme-chiller-1">acme-chiller-1</a>`, "version: 1.5.0", "step: download", "Times in Asia/Tokyo.",
		x.QueuedAt.In(jst).Format("2006-01-02 15:04:05"), x.StartedAt.In(jst).Format("2006-01-02 15:04:05"),
		`action="/admin/jobs/fw-1/cancel"`, `name="force"`, `name="reason"`)
	if got := legend(r.body); strings.Join(got, " ") != "SUCCEEDED=1/25 FAILED=0/0 TIMED_OUT=0/0 REJECTED=0/0 CANCELED=0/0 IN_PROGRESS=1/25 QUEUED=1/25 WAITING=1/25" {
		t.Errorf("the job's legend: %v", got)
	}
	if strings.Contains(r.body, "/admin/jobs/fw-1/delete") || strings.Contains(r.body, `data-device="globex-chiller-9"`) {
		t.Error("a job in progress offers Delete, or lists a device the rollout has not reached")
	}
	r = e.get(op, "/jobs/fw-1?status=IN_PROGRESS")
	if !strings.Contains(r.body, `data-device="acme-chiller-2"`) || strings.Contains(r.body, `data-device="acme-chiller-1"`) {
		t.Errorf("the devices in progress list others:\n%s", excerpt(r.body))
	}
	if r := e.get(op, "/jobs/fw-1?status=LOST"); r.status != http.StatusBadRequest {
		t.Errorf("an unknown status: %d, want 400", r.status)
	}
	if r := e.get(op, "/jobs/nope"); r.status != http.StatusNotFound {
		t.Errorf("a job that does not exist: %d, want 404", r.status)
	}

	// acme sees the job over its three devices, read-only, without what
	// the operator set; globex, whose device the rollout has not reached,
	// does not see it at all.
	c := e.signIn(acmeUser)
	r = e.get(c, "/jobs")
	contains(t, "acme's jobs", r, http.StatusOK, `<a href="/jobs" aria-current="page">Jobs</a>`, `href="/jobs/fw-1"`, "Devices: 3",
		"Succeeded 1 (33.3 %)", "In progress 1 (33.3 %)", "Queued 1 (33.3 %)", `href="/jobs/old-1"`)
	r = e.get(c, "/jobs/fw-1")
	contains(t, "acme's view of the job", r, http.StatusOK, "Firmware 1.5.0", "Devices: 3", "version: 1.5.0",
		x.QueuedAt.In(jst).Format("2006-01-02 15:04:05"))
	for _, hidden := range []string{"apply-config", "/admin/jobs/fw-1", "Waiting", "globex", "At most 3", "30 minutes", opUser, "Job customer"} {
		if strings.Contains(r.body, hidden) {
			t.Errorf("acme's view of the job shows %q", hidden)
		}
	}
	if r := e.get(c, "/admin/jobs"); r.status != http.StatusNotFound {
		t.Errorf("a customer at /admin/jobs: %d, want 404", r.status)
	}
	if r := e.get(op, "/jobs"); r.status != http.StatusSeeOther || r.location != "/admin/jobs" {
		t.Errorf("an operator at /jobs: %d to %q, want /admin/jobs", r.status, r.location)
	}
	g := e.signIn(globexUser)
	contains(t, "globex's jobs", e.get(g, "/jobs"), http.StatusOK, "No job has been sent to your devices.")
	if r := e.get(g, "/jobs/fw-1"); r.status != http.StatusNotFound {
		t.Errorf("globex on a job that has not reached its devices: %d, want 404", r.status)
	}

	// A device's page lists its jobs, newest first, for its customer and
	// operators.
	r = e.get(c, "/devices/acme-chiller-3")
	contains(t, "a device's jobs", r, http.StatusOK, `<h2 id="jobs-h">Jobs</h2>`, `<a href="/jobs/fw-1">fw-1</a>`, `<a href="/jobs/old-1">old-1</a>`)
	if i, k := strings.Index(r.body, `data-job="fw-1"`), strings.Index(r.body, `data-job="old-1"`); i < 0 || k < 0 || i > k {
		t.Errorf("a device's jobs are not newest first: fw-1 at %d, old-1 at %d", i, k)
	}
	contains(t, "a device's finished job", e.get(op, "/devices/acme-chiller-1"), http.StatusOK,
		`data-job="fw-1" data-status="SUCCEEDED"`, "version: 1.5.0")
	contains(t, "a device without jobs", e.get(g, "/devices/globex-chiller-9"), http.StatusOK, "No job has been sent to this device.")

	// A rollout that grows and a window as the API may set them.
	e.seedJob(store.Job{ID: "grow", Targets: store.JobTargets{Devices: []string{"acme-chiller-2"}},
		Rollout: store.JobRollout{BaseRatePerMinute: 2, IncrementFactor: 1.5, IncreaseEvery: 10, IncreaseOnSucceeded: true, MaximumPerMinute: 50},
		Window:  &store.JobWindow{Start: "22:00", End: "05:00", TimeZone: "Europe/Berlin", WhenIdle: true}})
	contains(t, "a growing rollout in a window", e.get(op, "/jobs/grow"), http.StatusOK,
		"2 a minute at first, times 1.5 after every 10 devices succeeded (at most 50 a minute)",
		"22:00 to 05:00 in each device's local time (Europe/Berlin for a device without a calendar) while the device's operating program has it off",
		"Waiting 1 (100 %)")

	// Both languages.
	if _, err := e.st.UpdateUser(opUser, func(u *store.User) error { u.Language = "ja"; return nil }); err != nil {
		t.Fatal(err)
	}
	contains(t, "the job in Japanese", e.get(op, "/jobs/fw-1"), http.StatusOK, "ジョブ fw-1", "成功 1 台（25%）", "送信待ち 1 台（25%）", "1 分あたり最大 3 台")
}

// TestJobCreateForm: the form of a new job refuses bad input next to
// itself, naming and marking the field and keeping what was typed, and
// creates nothing; good input creates the job, whose rollout begins, and
// shows its page; an id in use is refused.
func TestJobCreateForm(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	r := e.get(op, "/admin/jobs/new")
	contains(t, "the form", r, http.StatusOK, `action="/admin/jobs/new"`, `name="id"`, `name="devices"`, `name="sites"`,
		`name="device_types" value="chiller"`, `name="customers" value="globex"`, `name="document"`, "${hearth:artifact-url:NAME}",
		`name="maximum_per_minute"`, `name="abort_failure_type"`, `name="abort_threshold_percentage"`, `name="abort_min_executed"`,
		`name="timeout_minutes"`, `name="window_start"`, `name="window_end"`, "acme-chiller-1, globex-chiller-9", "acme/tokyo-tower")

	good := url.Values{"id": {"cfg-7"}, "description": {"New set-points"}, "devices": {"acme-chiller-1,\nglobex-chiller-9"},
		"document": {`{"operation": "apply-config", "chw_setpoint": 7}`}, "maximum_per_minute": {"1"},
		"abort_failure_type": {"FAILED"}, "abort_threshold_percentage": {"20"}, "abort_min_executed": {"5"}, "timeout_minutes": {"45"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vs := range good {
			f[key] = vs
		}
		f.Set(k, v)
		return f
	}
	for _, tc := range []struct {
		form        url.Values
		field, says string
		status      int
	}{
		{with("id", "a b"), "job-id", `id "a b": 1 to 64 letters`, 400},
		{with("document", "[1]"), "job-document", "document: a JSON object is expected", 400},
		{with("document", `{"url": "${hearth:artifact-url:fw.bin}"}`), "job-document", `no artifact "fw.bin"; upload it first`, 400},
		{with("devices", ""), "job-devices", "targets: name devices, sites, device_types or customers", 400},
		{with("devices", "nope"), "job-devices", `targets.devices: no device "nope"`, 400},
		{with("sites", "osaka"), "job-sites", `targets.sites: no devices on a site "osaka"`, 400},
		{with("maximum_per_minute", "fast"), "job-rate", `Devices a minute at most: "fast" is not a whole number.`, 400},
		{with("maximum_per_minute", "-1"), "job-rate", "rollout.maximum_per_minute: 0 (no limit) to 100000", 400},
		{with("abort_threshold_percentage", "0"), "job-abort-percent", "abort[0].threshold_percentage", 400},
		{with("abort_min_executed", "x"), "job-abort-min", `Minimum ended executions: "x" is not a whole number.`, 400},
		{with("timeout_minutes", "99999"), "job-timeout", "timeout_minutes: 0 (none) to 10080", 400},
		{with("window_start", "22:00"), "job-window-start", "maintenance_window: start and end go together", 400},
	} {
		r := e.post(op, "/admin/jobs/new", tc.form)
		body := html.UnescapeString(r.body)
		if r.status != tc.status || !strings.Contains(body, `id="form-error">Not created: `) || !strings.Contains(body, tc.says) {
			t.Errorf("%v: %d, want %d saying %q next to the form\n%s", tc.form, r.status, tc.status, tc.says, excerpt(body))
			continue
		}
		if !regexp.MustCompile(`id="` + tc.field + `"[^>]*aria-invalid="true"`).MatchString(body) {
			t.Errorf("%v: the field %s is not marked", tc.form, tc.field)
		}
		// What was typed is kept.
		for _, kept := range []string{`value="` + html.EscapeString(tc.form.Get("id")) + `"`, "New set-points", html.EscapeString(tc.form.Get("document")),
			`<option value="FAILED" selected>`, `value="` + tc.form.Get("timeout_minutes") + `"`} {
			if !strings.Contains(r.body, kept) {
				t.Errorf("%v: the form lost %q", tc.form, kept)
			}
		}
	}
	if js, err := e.st.ListJobs(); err != nil || len(js) != 0 {
		t.Fatalf("refused forms created jobs: %+v %v", js, err)
	}

	r = e.post(op, "/admin/jobs/new", good)
	if r.status != http.StatusSeeOther || r.location != "/jobs/cfg-7" {
		t.Fatalf("create: %d to %q\n%s", r.status, r.location, excerpt(r.body))
	}
	j, err := e.st.GetJob("cfg-7")
	if err != nil || j.Status != store.JobActive || j.Total != 2 || j.Rollout.MaximumPerMinute != 1 || j.TimeoutMinutes != 45 ||
		len(j.Abort) != 1 || j.Abort[0] != (store.JobAbort{FailureType: "FAILED", ThresholdPercentage: 20, MinExecuted: 5}) ||
		j.CreatedBy != "user:"+opUser || j.Description != "New set-points" || string(j.Document) != `{"chw_setpoint":7,"operation":"apply-config"}` {
		t.Fatalf("the job created: %+v %v", j, err)
	}
	e.jobs.RunDue()
	contains(t, "the new job's page", e.get(op, "/jobs/cfg-7"), http.StatusOK, "Job cfg-7 created; its rollout has begun.",
		"New set-points", "Queued 1 (50 %)", "Waiting 1 (50 %)", "At most 1 a minute", "45 minutes",
		"Cancel the job when 20 % or more of the executions ended Failed, once at least 5 have ended")

	// An id in use, and a window, sites and device types.
	r = e.post(op, "/admin/jobs/new", good)
	contains(t, "an id in use", r, http.StatusConflict, `Not created: a job "cfg-7" exists already`)
	if !regexp.MustCompile(`id="job-id"[^>]*aria-invalid="true"`).MatchString(r.body) {
		t.Error("an id in use does not mark the id")
	}
	win := url.Values{"id": {"night"}, "sites": {"acme/tokyo-tower"}, "device_types": {"chiller"}, "customers": {"globex"},
		"document": {`{"operation":"reboot"}`}, "window_start": {"22:00"}, "window_end": {"05:00"}}
	if r := e.post(op, "/admin/jobs/new", win); r.status != http.StatusSeeOther {
		t.Fatalf("create with a window: %d\n%s", r.status, excerpt(r.body))
	}
	j, err = e.st.GetJob("night")
	if err != nil || j.Window == nil || *j.Window != (store.JobWindow{Start: "22:00", End: "05:00"}) || j.Total != 2 ||
		strings.Join(j.Targets.Sites, ",") != "acme/tokyo-tower" || strings.Join(j.Targets.DeviceTypes, ",") != "chiller" {
		t.Fatalf("the job with a window: %+v %v", j, err)
	}
	contains(t, "the window", e.get(op, "/jobs/night"), http.StatusOK, "22:00 to 05:00 in each device's local time", "All at once",
		"acme/tokyo-tower", "chiller", "globex")
	// An uploaded artifact picked on the form: its placeholders join the
	// document, under the keys it does not have already.
	if _, err := e.arts.Put("agent-2.0", strings.NewReader("new agent"), artifact.PutOptions{Signature: "c2ln"}); err != nil {
		t.Fatal(err)
	}
	contains(t, "the artifact picker", e.get(op, "/admin/jobs/new"), http.StatusOK, `<option value="agent-2.0">agent-2.0</option>`)
	fw := url.Values{"id": {"agent-2"}, "devices": {"acme-chiller-1"}, "artifact": {"agent-2.0"},
		"document": {`{"operation":"update-agent","version":"2.0","size":"given"}`}}
	if r := e.post(op, "/admin/jobs/new", fw); r.status != http.StatusSeeOther {
		t.Fatalf("create with an artifact: %d\n%s", r.status, excerpt(r.body))
	}
	if j, err := e.st.GetJob("agent-2"); err != nil || string(j.Document) != `{"operation":"update-agent","sha256":"${hearth:artifact-sha256:agent-2.0}",`+
		`"signature":"${hearth:artifact-signature:agent-2.0}","size":"given","url":"${hearth:artifact-url:agent-2.0}","version":"2.0"}` {
		t.Fatalf("the job with an artifact: %s %v", j.Document, err)
	}
	// Every change an operator made on the pages is in the audit log.
	entries, _, err := e.st.Audit(store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range entries {
		if a.Action == "POST /admin/jobs/new" && a.Actor == "user:"+opUser {
			n++
		}
	}
	if n != 16 {
		t.Errorf("the audit log has %d job creations, want 16 (refused and accepted)", n)
	}
}

// TestJobCancelAndDelete: cancel refuses a reason too long, keeping the
// form; cancels a job, whose queued executions end and whose waiting
// targets are never sent it, while the one in progress goes on; a second,
// forced cancel ends that one; a job over is deleted behind a
// confirmation, one in progress is not.
func TestJobCancelAndDelete(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addDevices("acme-chiller-2", "acme-chiller-3")
	e.seedJob(store.Job{ID: "fw-1", Targets: store.JobTargets{Customers: []string{"acme", "globex"}}, Rollout: store.JobRollout{MaximumPerMinute: 3}})
	e.seedJob(store.Job{ID: "busy", Targets: store.JobTargets{Devices: []string{"globex-chiller-9"}}})
	e.deviceJob("acme-chiller-2", "fw-1", protocol.JobsStartNext, `{}`, "IN_PROGRESS")
	op := e.signIn(opUser)

	long := strings.Repeat("x", 257)
	r := e.post(op, "/admin/jobs/fw-1/cancel", url.Values{"force": {"on"}, "reason": {long}})
	contains(t, "a reason too long", r, http.StatusBadRequest, `Not canceled: field "reason": at most 256 characters`, `value="`+long+`"`)
	if !strings.Contains(r.body, `name="force" checked`) {
		t.Error("the refused form lost its force")
	}
	if j, _ := e.st.GetJob("fw-1"); j.Status != store.JobActive {
		t.Fatalf("a refused cancel changed the job: %s", j.Status)
	}

	r = e.post(op, "/admin/jobs/fw-1/cancel", url.Values{"reason": {"bad batch"}})
	if r.status != http.StatusSeeOther || r.location != "/jobs/fw-1" {
		t.Fatalf("cancel: %d to %q\n%s", r.status, r.location, excerpt(r.body))
	}
	if s := e.execution("acme-chiller-3", "fw-1").Status; s != "CANCELED" {
		t.Errorf("a queued execution after cancel: %s", s)
	}
	if s := e.execution("acme-chiller-2", "fw-1").Status; s != "IN_PROGRESS" {
		t.Errorf("an execution in progress after a cancel without force: %s", s)
	}
	r = e.get(op, "/jobs/fw-1")
	contains(t, "the canceled job", r, http.StatusOK, "Job canceled.", `data-status="CANCELED">Canceled</span>`, `id="job-reason">bad batch<`,
		"Canceled 2 (50 %)", "In progress 1 (25 %)", "Not sent 1 (25 %)", "devices still running it: 1", "End the executions in progress",
		`<a class="button secondary" href="/admin/jobs/fw-1/delete">`)
	if strings.Contains(r.body, "Waiting") {
		t.Error("a canceled job has targets waiting")
	}
	if r := e.post(op, "/admin/jobs/fw-1/cancel", url.Values{"force": {"on"}}); r.status != http.StatusSeeOther {
		t.Fatalf("forced cancel: %d\n%s", r.status, excerpt(r.body))
	}
	if s := e.execution("acme-chiller-2", "fw-1").Status; s != "CANCELED" {
		t.Errorf("an execution in progress after a forced cancel: %s", s)
	}
	if r := e.get(op, "/jobs/fw-1"); strings.Contains(r.body, "/admin/jobs/fw-1/cancel") {
		t.Error("a job with nothing left to end offers cancel")
	}
	contains(t, "cancel a job over", e.post(op, "/admin/jobs/fw-1/cancel", url.Values{}), http.StatusConflict, `Not canceled: job "fw-1" is CANCELED`)
	if r := e.post(op, "/admin/jobs/nope/cancel", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("cancel a job that does not exist: %d, want 404", r.status)
	}

	// Delete: not while in progress; a job over with its executions.
	r = e.get(op, "/admin/jobs/busy/delete")
	contains(t, "delete a job in progress", r, http.StatusOK, "The job is in progress; cancel it first.")
	if strings.Contains(r.body, `<button type="submit">Delete</button>`) {
		t.Error("a job in progress offers Delete")
	}
	contains(t, "delete a job in progress", e.post(op, "/admin/jobs/busy/delete", url.Values{}), http.StatusConflict, "cancel it first")
	contains(t, "the question", e.get(op, "/admin/jobs/fw-1/delete"), http.StatusOK, "Delete job fw-1, with the record of every device's execution?")
	r = e.post(op, "/admin/jobs/fw-1/delete", url.Values{})
	if r.status != http.StatusSeeOther || r.location != "/admin/jobs" {
		t.Fatalf("delete: %d to %q", r.status, r.location)
	}
	r = e.get(op, "/admin/jobs")
	contains(t, "the list after delete", r, http.StatusOK, "Job fw-1 deleted.", `data-job="busy"`)
	if strings.Contains(r.body, `data-job="fw-1"`) {
		t.Error("a deleted job is listed")
	}
	if _, err := e.st.GetJob("fw-1"); err == nil {
		t.Error("the job is still stored")
	}
	contains(t, "the device after delete", e.get(op, "/devices/acme-chiller-2"), http.StatusOK, "No job has been sent to this device.")
}
