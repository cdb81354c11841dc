package ui

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// jobPages serves the job pages: the jobs a person may see with their
// progress, a job's page with each device's execution, and for operators
// the forms that create, cancel and delete jobs. Every read and change
// goes through the person's gate scope: a customer sees the jobs that
// reached its devices, counted over its devices only.
type jobPages struct {
	*UI
}

// jobRoutes registers the job pages of every signed-in person. A job's
// page is the same for operators and customers; operators have the list
// of every job under /admin.
func (u *UI) jobRoutes(r chi.Router) {
	j := &jobPages{UI: u}
	r.Get("/jobs", j.showJobs)
	r.Get("/jobs/{id}", j.showJob)
}

// jobAdminRoutes registers the operators' job pages under /admin: every
// job, the form of a new one, cancel and delete.
func (u *UI) jobAdminRoutes(r chi.Router) {
	j := &jobPages{UI: u}
	cfg := &config{UI: u}
	r.Get("/jobs", j.showAdminJobs)
	r.Get("/jobs/new", j.showNewJob)
	r.Post("/jobs/new", j.createJob)
	r.Post("/jobs/{id}/cancel", j.cancelJob)
	cfg.deletion(r, "/jobs/{id}/delete", "id", "job.deleted", "/admin/jobs", j.deleteConfirm, gate.Scope.DeleteJob)
}

// jobPath is the page of a job.
func jobPath(id string) string { return "/jobs/" + url.PathEscape(id) }

// jobAdminPath is where the operators' forms of a job post.
func jobAdminPath(id string) string { return "/admin" + jobPath(id) }

// Job and execution statuses, as the store and the device protocol write
// them.
const (
	jobQueued     = "QUEUED"
	jobInProgress = "IN_PROGRESS"
	jobSucceeded  = "SUCCEEDED"
	jobFailed     = "FAILED"
	jobTimedOut   = "TIMED_OUT"
	jobRejected   = "REJECTED"
	jobCanceled   = "CANCELED"
	jobRemoved    = "REMOVED"
	// jobWaiting and jobNotReleased are parts of a progress bar, no
	// status: targets the rollout has yet to release, and those a job
	// that ended never released.
	jobWaiting     = "WAITING"
	jobNotReleased = "NOT_RELEASED"
)

// jobStatusKeys are the message keys of the statuses of jobs and
// executions, and of the progress bar's other parts.
var jobStatusKeys = map[string]string{
	jobQueued:          "job.st.queued",
	jobInProgress:      "job.st.in_progress",
	jobSucceeded:       "job.st.succeeded",
	jobFailed:          "job.st.failed",
	jobTimedOut:        "job.st.timed_out",
	jobRejected:        "job.st.rejected",
	jobCanceled:        "job.st.canceled",
	jobRemoved:         "job.st.removed",
	store.JobCompleted: "job.st.completed",
	jobWaiting:         "job.st.waiting",
	jobNotReleased:     "job.st.not_released",
}

// jobBarOrder is the order of a progress bar's parts: the executions that
// ended, those under way, then the targets not sent the job.
var jobBarOrder = []string{
	jobSucceeded, jobFailed, jobTimedOut, jobRejected, jobCanceled, jobRemoved,
	jobInProgress, jobQueued, jobWaiting, jobNotReleased,
}

// jobStatusLabel is a status in the page's language.
func jobStatusLabel(v view, s string) string {
	if k, ok := jobStatusKeys[s]; ok {
		return v.T(k)
	}
	return s
}

// jobStatusClass is the class suffix of a status: "in_progress".
func jobStatusClass(s string) string { return strings.ToLower(s) }

// jobBarWidth is the width of a progress bar in its own units.
const jobBarWidth = 1000

// jobSegment is one part of a progress bar: a status with its count, its
// share of the targets, and where it is drawn.
type jobSegment struct {
	Status, Label string
	Count         int
	Percent       string
	X, W          string // in the bar's units, 0 to jobBarWidth
}

// jobProgress is a job's executions by status, over its targets.
type jobProgress struct {
	Total    int
	Segments []jobSegment
}

// progressOf counts a job's executions by status and the targets not sent
// it yet, each as a share of the targets.
func progressOf(v view, j gate.JobView) jobProgress {
	counts := maps.Clone(j.Counts)
	if counts == nil {
		counts = map[string]int{}
	}
	counts[jobWaiting] = j.Waiting
	// The executions and the targets waiting are counted; a job that
	// ended never sent the rest of its targets.
	counted := j.Waiting
	for _, n := range j.Counts {
		counted += n
	}
	if j.Status != store.JobActive && j.Total > counted {
		counts[jobNotReleased] = j.Total - counted
	}
	total := max(j.Total, counted)
	p := jobProgress{Total: total}
	x := 0.0
	for _, st := range jobBarOrder {
		n := counts[st]
		if n == 0 && (st == jobRemoved || st == jobNotReleased || st == jobWaiting && !(j.Full && j.Status == store.JobActive)) {
			// Rare parts, shown only when there are some; waiting only
			// while an operator's job may have targets waiting.
			continue
		}
		s := jobSegment{Status: st, Label: jobStatusLabel(v, st), Count: n, Percent: "0"}
		if total > 0 {
			share := float64(n) / float64(total)
			s.Percent = formatValue(float64(int(share*1000+0.5)) / 10)
			w := share * jobBarWidth
			s.X, s.W = strconv.FormatFloat(x, 'f', 2, 64), strconv.FormatFloat(w, 'f', 2, 64)
			x += w
		}
		p.Segments = append(p.Segments, s)
	}
	return p
}

// jobRow is a job as a list and its page show it.
type jobRow struct {
	ID, Description      string
	Status, StatusLabel  string
	Reason               string
	Created, CreatedBy   string
	Updated, Completed   string
	Progress             jobProgress
	InProgressExecutions int
	Full                 bool
}

func jobRowOf(v view, j gate.JobView) jobRow {
	row := jobRow{
		ID: j.ID, Description: j.Description, Status: j.Status, StatusLabel: jobStatusLabel(v, j.Status),
		Reason: j.Reason, Created: v.Time(j.CreatedAt), Updated: v.Time(j.UpdatedAt),
		Progress: progressOf(v, j), InProgressExecutions: j.Counts[jobInProgress],
		Full: j.Full,
	}
	if j.Full && j.CreatedBy != "" {
		row.CreatedBy = actorLabel(j.CreatedBy)
	}
	if j.CompletedAt != nil {
		row.Completed = v.Time(*j.CompletedAt)
	}
	return row
}

// jobListData is what a list of jobs shows.
type jobListData struct {
	Admin    bool
	Rows     []jobRow
	Flash    string
	FlashErr bool
}

// showJobs: /jobs, the jobs that reached the customer's devices, newest
// first; operators have every job at /admin/jobs.
func (j *jobPages) showJobs(w http.ResponseWriter, r *http.Request) {
	if j.scope(r).Principal().Operator() {
		http.Redirect(w, r, "/admin/jobs", http.StatusSeeOther)
		return
	}
	j.jobList(w, r, false)
}

// showAdminJobs: /admin/jobs, every job, newest first.
func (j *jobPages) showAdminJobs(w http.ResponseWriter, r *http.Request) {
	j.jobList(w, r, true)
}

func (j *jobPages) jobList(w http.ResponseWriter, r *http.Request, admin bool) {
	v := j.view(r)
	jobs, err := j.scope(r).Jobs()
	if err != nil {
		j.fail(w, r, err)
		return
	}
	d := jobListData{Admin: admin}
	for _, job := range jobs {
		d.Rows = append(d.Rows, jobRowOf(v, job))
	}
	d.Flash, d.FlashErr = j.flashed(r)
	j.render(w, r, http.StatusOK, jobsPage(v, d))
}

// jobFact is one line of what a job is: a label and its text.
type jobFact struct{ Label, Text string }

// jobExecRow is one device's execution of a job.
type jobExecRow struct {
	Job, Device, Customer, Site string
	Status, StatusLabel         string
	Details                     []string // "key: value", by key
	Queued, Started, Updated    string
}

func jobExecRows(v view, es []store.JobExecution) []jobExecRow {
	out := make([]jobExecRow, 0, len(es))
	for _, e := range es {
		row := jobExecRow{
			Job: e.JobID, Device: e.Thing, Customer: e.Customer, Site: e.Site,
			Status: e.Status, StatusLabel: jobStatusLabel(v, e.Status),
			Queued: v.Time(e.QueuedAt), Started: "—", Updated: v.Time(e.LastUpdatedAt),
		}
		if e.StartedAt != nil {
			row.Started = v.Time(*e.StartedAt)
		}
		for _, k := range slices.Sorted(maps.Keys(e.StatusDetails)) {
			row.Details = append(row.Details, k+": "+e.StatusDetails[k])
		}
		out = append(out, row)
	}
	return out
}

// jobExecLimit bounds the executions a job's page lists; the API lists
// them all.
const jobExecLimit = 500

// jobCancelForm is the cancel form as sent, and why it was refused.
type jobCancelForm struct {
	Force  bool
	Reason string
	Error  string
}

// jobData is what a job's page shows.
type jobData struct {
	Job jobRow
	// The operators' fields, when Job.Full: the document pretty-printed,
	// the targets, rollout, abort, time-out and window in words.
	Document string
	Facts    []jobFact
	// Executions are the devices' executions of Status (all when empty),
	// at most jobExecLimit of Matching.
	Executions []jobExecRow
	Matching   int
	Status     string
	Statuses   []choice
	// CanCancel offers the cancel form; ForceOnly when the job is
	// canceled and only its executions in progress are left to end.
	CanCancel, ForceOnly bool
	CanDelete            bool
	Cancel               jobCancelForm
	Flash                string
	FlashErr             bool
}

// showJob: /jobs/{id}[?status=], a job, its progress and each device's
// execution; for operators what the job is and the forms that cancel or
// delete it.
func (j *jobPages) showJob(w http.ResponseWriter, r *http.Request) {
	d := jobData{}
	d.Flash, d.FlashErr = j.flashed(r)
	j.answerJob(w, r, http.StatusOK, d)
}

// answerJob reads the job of the request into d and answers its page
// with status.
func (j *jobPages) answerJob(w http.ResponseWriter, r *http.Request, status int, d jobData) {
	v := j.view(r)
	sc := j.scope(r)
	job, err := sc.Job(configParam(r, "id"))
	if err != nil {
		j.fail(w, r, err)
		return
	}
	d.Job = jobRowOf(v, job)
	d.Status = r.URL.Query().Get("status")
	d.Statuses = []choice{{"", v.T("job.filter.any")}}
	for _, st := range gate.JobStatuses {
		d.Statuses = append(d.Statuses, choice{st, jobStatusLabel(v, st)})
	}
	if !hasChoice(d.Statuses, d.Status) {
		j.fail(w, r, badRequest(v.T("job.bad_status", d.Status)))
		return
	}
	es, err := sc.JobExecutions(job.ID)
	if err != nil {
		j.fail(w, r, err)
		return
	}
	if d.Status != "" {
		es = slices.DeleteFunc(es, func(e store.JobExecution) bool { return e.Status != d.Status })
	}
	d.Matching = len(es)
	d.Executions = jobExecRows(v, es[:min(len(es), jobExecLimit)])
	if job.Full {
		d.Document = prettyJSON(job.Document)
		d.Facts = jobFacts(v, job)
		d.CanCancel = job.Status == store.JobActive || job.Status == store.JobCanceled && job.Counts[jobInProgress] > 0
		d.ForceOnly = job.Status == store.JobCanceled
		d.CanDelete = job.Status != store.JobActive
	}
	if d.Cancel.Error != "" && !d.CanCancel {
		// A refused cancel of a job with nothing left to cancel: why, above.
		d.Flash, d.FlashErr = d.Cancel.Error, true
	}
	j.render(w, r, status, jobPage(v, d))
}

// prettyJSON indents a JSON document for reading; one that is not JSON
// shows as it is.
func prettyJSON(doc []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "", "  "); err != nil {
		return string(doc)
	}
	return buf.String()
}

// jobFacts words what an operator set for a job: its targets, rollout,
// abort criteria, time-out and maintenance window.
func jobFacts(v view, j gate.JobView) []jobFact {
	var out []jobFact
	add := func(key string, names []string) {
		if len(names) > 0 {
			out = append(out, jobFact{v.T(key), strings.Join(names, ", ")})
		}
	}
	add("job.fact.devices", j.Targets.Devices)
	add("job.fact.sites", j.Targets.Sites)
	add("job.fact.device_types", j.Targets.DeviceTypes)
	add("job.fact.customers", j.Targets.Customers)
	out = append(out, jobFact{v.T("job.fact.rollout"), rolloutText(v, j.Rollout)})
	abort := v.T("job.abort.none")
	if len(j.Abort) > 0 {
		var rules []string
		for _, a := range j.Abort {
			failure := jobStatusLabel(v, a.FailureType)
			if a.FailureType == "ALL" {
				failure = v.T("job.abort.all")
			}
			rules = append(rules, v.T("job.abort.rule", failure, formatValue(a.ThresholdPercentage), a.MinExecuted))
		}
		abort = strings.Join(rules, "; ")
	}
	out = append(out, jobFact{v.T("job.fact.abort"), abort})
	timeout := v.T("job.timeout.none")
	if j.TimeoutMinutes > 0 {
		timeout = v.T("job.timeout.minutes", j.TimeoutMinutes)
	}
	out = append(out, jobFact{v.T("job.fact.timeout"), timeout})
	return append(out, jobFact{v.T("job.fact.window"), windowText(v, j.Window)})
}

// rolloutText words how fast a job's targets are released.
func rolloutText(v view, r store.JobRollout) string {
	var s string
	switch {
	case r.BaseRatePerMinute > 0 && r.IncreaseOnSucceeded:
		s = v.T("job.rollout.grow_succeeded", r.BaseRatePerMinute, formatValue(r.IncrementFactor), r.IncreaseEvery)
	case r.BaseRatePerMinute > 0:
		s = v.T("job.rollout.grow", r.BaseRatePerMinute, formatValue(r.IncrementFactor), r.IncreaseEvery)
	case r.MaximumPerMinute > 0:
		return v.T("job.rollout.max", r.MaximumPerMinute)
	default:
		return v.T("job.rollout.all")
	}
	if r.MaximumPerMinute > 0 {
		s += " " + v.T("job.rollout.cap", r.MaximumPerMinute)
	}
	return s
}

// windowText words a job's maintenance window.
func windowText(v view, w *store.JobWindow) string {
	if w == nil {
		return v.T("job.window.none")
	}
	var parts []string
	if w.Start != "" {
		parts = append(parts, v.T("job.window.hours", w.Start, w.End))
		if w.TimeZone != "" {
			parts = append(parts, v.T("job.window.zone", w.TimeZone))
		}
	}
	if w.WhenIdle {
		parts = append(parts, v.T("job.window.idle"))
	}
	return strings.Join(parts, " ")
}

// cancelJob cancels a job from its page's form: with force, its
// executions in progress too. A refusal shows the page again with the
// form as sent and why.
func (j *jobPages) cancelJob(w http.ResponseWriter, r *http.Request) {
	v := j.view(r)
	f := jobCancelForm{Force: r.PostFormValue("force") != "", Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	id := configParam(r, "id")
	if _, err := j.scope(r).CancelJob(id, f.Force, f.Reason); err != nil {
		status, msg, ok := j.refusal(w, r, err)
		if !ok {
			return
		}
		f.Error = v.T("job.cancel.refused", msg)
		j.answerJob(w, r, status, jobData{Cancel: f})
		return
	}
	j.sessions.Put(r.Context(), keyFlash, v.T("job.canceled"))
	http.Redirect(w, r, jobPath(id), http.StatusSeeOther)
}

// deleteConfirm is the confirmation of deleting the job of the request;
// a job in progress cannot be, and the page says so.
func (j *jobPages) deleteConfirm(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := j.view(r)
	job, err := j.scope(r).Job(configParam(r, "id"))
	if err != nil {
		j.fail(w, r, err)
		return configConfirmData{}, false
	}
	d := configConfirmData{Title: v.T("job.title", job.ID), Question: v.T("job.delete.question", job.ID),
		Action: jobAdminPath(job.ID) + "/delete", Back: jobPath(job.ID)}
	if job.Status == store.JobActive {
		d.Error, d.Blocked = v.T("job.delete.in_progress"), true
	}
	return d, true
}

// jobForm is the form of a new job as typed: names and numbers stay text
// so that a refused form comes back as it was sent.
type jobForm struct {
	ID, Description        string
	Devices, Sites         string // separated by commas, spaces or lines
	DeviceTypes, Customers []string
	Document               string
	MaxPerMinute           string
	AbortType              string
	AbortPercent           string
	AbortMin               string
	Timeout                string
	WindowStart, WindowEnd string
	// Artifact is an uploaded file the document is to name: its link,
	// digest and size are added to the document as placeholders.
	Artifact string
}

// jobNewData is what the form of a new job shows.
type jobNewData struct {
	Form jobForm
	// The choices and examples of the targets.
	DeviceTypes, Customers []string
	Devices, Sites         []string
	AbortTypes             []choice
	// Artifacts are the uploaded files' names, when the server keeps any.
	Artifacts []string
	// Error is why the form just sent was refused, ErrorField the field
	// it names.
	Error, ErrorField string
}

// Invalid is the aria-invalid of a field: "true" for the one the refusal
// names.
func (d jobNewData) Invalid(field string) string { return strconv.FormatBool(d.ErrorField == field) }

// Checked reports whether a checkbox of the form was ticked.
func (f jobForm) Checked(list []string, value string) bool { return slices.Contains(list, value) }

// showNewJob: /admin/jobs/new, the form of a new job.
func (j *jobPages) showNewJob(w http.ResponseWriter, r *http.Request) {
	j.answerNew(w, r, http.StatusOK, jobNewData{})
}

// answerNew answers the form of a new job with its choices.
func (j *jobPages) answerNew(w http.ResponseWriter, r *http.Request, status int, d jobNewData) {
	v := j.view(r)
	sc := j.scope(r)
	customers, err := sc.Customers()
	if err != nil {
		j.fail(w, r, err)
		return
	}
	for _, c := range customers {
		d.Customers = append(d.Customers, c.Name)
	}
	types, err := sc.DeviceTypes()
	if err != nil {
		j.fail(w, r, err)
		return
	}
	for _, t := range types {
		d.DeviceTypes = append(d.DeviceTypes, t.Name)
	}
	devices, err := sc.Devices("", "")
	if err != nil {
		j.fail(w, r, err)
		return
	}
	for _, dv := range devices {
		d.Devices = append(d.Devices, dv.Name)
	}
	if arts, err := sc.Artifacts(); err == nil {
		for _, a := range arts {
			d.Artifacts = append(d.Artifacts, a.Name)
		}
	}
	sites, err := sc.Sites("")
	if err != nil {
		j.fail(w, r, err)
		return
	}
	for _, s := range sites {
		d.Sites = append(d.Sites, s.Customer+"/"+s.Name)
	}
	d.AbortTypes = []choice{{"", v.T("job.new.abort_none")}, {jobFailed, jobStatusLabel(v, jobFailed)},
		{jobRejected, jobStatusLabel(v, jobRejected)}, {jobTimedOut, jobStatusLabel(v, jobTimedOut)}, {"ALL", v.T("job.abort.all")}}
	j.render(w, r, status, jobNewPage(v, d))
}

// readJobForm reads the form of a new job as typed.
func readJobForm(r *http.Request) jobForm {
	return jobForm{
		ID: strings.TrimSpace(r.PostFormValue("id")), Description: strings.TrimSpace(r.PostFormValue("description")),
		Devices: r.PostFormValue("devices"), Sites: r.PostFormValue("sites"),
		DeviceTypes: r.PostForm["device_types"], Customers: r.PostForm["customers"],
		Document:     r.PostFormValue("document"),
		MaxPerMinute: strings.TrimSpace(r.PostFormValue("maximum_per_minute")),
		AbortType:    strings.TrimSpace(r.PostFormValue("abort_failure_type")),
		AbortPercent: strings.TrimSpace(r.PostFormValue("abort_threshold_percentage")),
		AbortMin:     strings.TrimSpace(r.PostFormValue("abort_min_executed")),
		Timeout:      strings.TrimSpace(r.PostFormValue("timeout_minutes")),
		WindowStart:  strings.TrimSpace(r.PostFormValue("window_start")),
		WindowEnd:    strings.TrimSpace(r.PostFormValue("window_end")),
		Artifact:     strings.TrimSpace(r.PostFormValue("artifact")),
	}
}

// withArtifact adds to a document that is a JSON object the placeholders
// of an artifact, under keys it does not have yet: url, sha256, size and,
// when the artifact was uploaded with one, signature. A document that is
// not an object is left for the gate to refuse.
func withArtifact(doc, name string, signed bool) string {
	var m map[string]any
	if strings.TrimSpace(doc) == "" {
		m = map[string]any{}
	} else if err := json.Unmarshal([]byte(doc), &m); err != nil || m == nil {
		return doc
	}
	parts := []string{"url", "sha256", "size"}
	if signed {
		parts = append(parts, "signature")
	}
	for _, k := range parts {
		if _, ok := m[k]; !ok {
			m[k] = "${hearth:artifact-" + k + ":" + name + "}"
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return doc
	}
	return string(b)
}

// jobFieldError is a number of the form that is not one, naming its field.
type jobFieldError struct{ field, msg string }

func (e *jobFieldError) Error() string { return e.msg }

// job makes the job the form describes; the gate checks the rest.
func (f jobForm) job(v view) (store.Job, *jobFieldError) {
	whole := func(field, label, s string) (int, *jobFieldError) {
		if s == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, &jobFieldError{field, v.T("job.new.bad_number", label, s)}
		}
		return n, nil
	}
	j := store.Job{
		ID: f.ID, Description: f.Description, Document: json.RawMessage(strings.TrimSpace(f.Document)),
		Targets: store.JobTargets{Devices: splitNames(f.Devices), Sites: splitNames(f.Sites), DeviceTypes: f.DeviceTypes, Customers: f.Customers},
	}
	var ferr *jobFieldError
	if j.Rollout.MaximumPerMinute, ferr = whole("maximum_per_minute", v.T("job.new.max_per_minute"), f.MaxPerMinute); ferr != nil {
		return j, ferr
	}
	timeout, ferr := whole("timeout_minutes", v.T("job.new.timeout"), f.Timeout)
	if ferr != nil {
		return j, ferr
	}
	j.TimeoutMinutes = int64(timeout)
	if f.AbortType != "" {
		a := store.JobAbort{FailureType: f.AbortType}
		if f.AbortPercent != "" {
			p, err := strconv.ParseFloat(f.AbortPercent, 64)
			if err != nil {
				return j, &jobFieldError{"abort", v.T("job.new.bad_percent", v.T("job.new.abort_percent"), f.AbortPercent)}
			}
			a.ThresholdPercentage = p
		}
		if a.MinExecuted, ferr = whole("abort", v.T("job.new.abort_min"), f.AbortMin); ferr != nil {
			return j, ferr
		}
		j.Abort = []store.JobAbort{a}
	}
	if f.WindowStart != "" || f.WindowEnd != "" {
		j.Window = &store.JobWindow{Start: f.WindowStart, End: f.WindowEnd}
	}
	return j, nil
}

// jobFieldOf is the form's field a refusal of the gate names by its
// prefix: "document: …", "targets.sites: …", "abort[0].min_executed: …".
func jobFieldOf(msg string) string {
	for _, f := range []struct{ prefix, field string }{
		{"id ", "id"}, {"description", "description"}, {"document", "document"}, {"targets", "targets"},
		{"rollout", "maximum_per_minute"}, {"abort", "abort"}, {"timeout_minutes", "timeout_minutes"},
		{"maintenance_window", "window"},
	} {
		if strings.HasPrefix(msg, f.prefix) {
			return f.field
		}
	}
	return ""
}

// createJob creates the job of the form and goes to its page; a refused
// form comes back as sent, with why next to it.
func (j *jobPages) createJob(w http.ResponseWriter, r *http.Request) {
	v := j.view(r)
	if err := r.ParseForm(); err != nil {
		j.fail(w, r, badRequest(v.T("job.new.bad_form")))
		return
	}
	d := jobNewData{Form: readJobForm(r)}
	if name := d.Form.Artifact; name != "" {
		// The placeholders go into the document as shown again on a
		// refusal; an artifact that is gone is refused by the gate.
		a, err := j.scope(r).Artifact(name)
		d.Form.Document = withArtifact(d.Form.Document, name, err == nil && a.Signature != "")
		d.Form.Artifact = ""
	}
	job, ferr := d.Form.job(v)
	if ferr != nil {
		d.Error, d.ErrorField = v.T("job.new.not_created", ferr.msg), ferr.field
		j.answerNew(w, r, http.StatusBadRequest, d)
		return
	}
	created, err := j.scope(r).CreateJob(job)
	if err != nil {
		status, msg, ok := j.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error, d.ErrorField = v.T("job.new.not_created", msg), jobFieldOf(msg)
		if gate.Describe(err).Kind == gate.KindExists {
			d.ErrorField = "id"
		}
		j.answerNew(w, r, status, d)
		return
	}
	j.sessions.Put(r.Context(), keyFlash, v.T("job.created", created.ID))
	http.Redirect(w, r, jobPath(created.ID), http.StatusSeeOther)
}

// deviceJobLimit bounds the executions a device's page lists: the newest.
const deviceJobLimit = 50

// deviceJobsData is a device's job history on its page.
type deviceJobsData struct {
	Rows  []jobExecRow // newest first
	Total int
}

// deviceJobs reads a device's job executions for its page, newest first;
// nil when the server runs no jobs.
func (u *UI) deviceJobs(v view, sc gate.Scope, name string) (*deviceJobsData, error) {
	es, err := sc.DeviceJobs(name)
	if err != nil {
		if gate.Describe(err).Kind == gate.KindUnavailable {
			return nil, nil
		}
		return nil, err
	}
	slices.Reverse(es)
	return &deviceJobsData{Rows: jobExecRows(v, es[:min(len(es), deviceJobLimit)]), Total: len(es)}, nil
}

// segmentText is a part of a progress bar in words: its status, count and
// share.
func segmentText(v view, s jobSegment) string {
	return v.T("job.progress.count", s.Label, s.Count, s.Percent)
}
