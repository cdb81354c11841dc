package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Jobs through the API as the contract says: an operator creates one
// (201) for devices of two customers, bad jobs are refused naming the
// field, each customer sees the job over its own devices once it reached
// them and cannot change it, the executions and a device's history list
// what the rollout released, cancel ends what is queued, and a job over
// is deleted.
func TestJobsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	call := func(as, method, path, body string, status int, out any) {
		t.Helper()
		rec := e.do(t, e.api.Handler(), scenario{method: method, path: path, as: as, body: body})
		if rec.Code != status {
			t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, as, rec.Code, status, rec.Body)
		}
		if out != nil {
			if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
	}
	type jobView struct {
		ID       string          `json:"id"`
		Status   string          `json:"status"`
		Counts   map[string]int  `json:"counts"`
		Total    int             `json:"total"`
		Waiting  int             `json:"waiting"`
		Document json.RawMessage `json:"document"`
		Targets  json.RawMessage `json:"targets"`
	}
	for _, bad := range []struct{ body, says string }{
		{`{"id": "a b", "targets": {"devices": ["` + acmeDevice + `"]}, "document": {}}`, `id \"a b\"`},
		{`{"id": "j1", "targets": {}, "document": {"operation": "x"}}`, "targets: name devices"},
		{`{"id": "j1", "targets": {"devices": ["nope"]}, "document": {"operation": "x"}}`, `no device \"nope\"`},
		{`{"id": "j1", "targets": {"devices": ["` + acmeDevice + `"]}, "document": [1]}`, "a JSON object is expected"},
		{`{"id": "j1", "targets": {"devices": ["` + acmeDevice + `"]}, "document": {"url": "${hearth:artifact-url:fw.bin}"}}`, "keeps no artifacts"},
		{`{"id": "j1", "targets": {"devices": ["` + acmeDevice + `"]}, "document": {"a": 1}, "rollout": {"maximum_per_minute": -1}}`, "maximum_per_minute"},
		{`{"id": "j1", "targets": {"devices": ["` + acmeDevice + `"]}, "document": {"a": 1}, "abort": [{"failure_type": "OOPS", "threshold_percentage": 5, "min_executed": 10}]}`, "abort[0].failure_type"},
		{`{"id": "j1", "targets": {"devices": ["` + acmeDevice + `"]}, "document": {"a": 1}, "maintenance_window": {"start": "25:00", "end": "05:00"}}`, "maintenance_window"},
		{`{"id": "j1", "targets": {"devices": ["` + acmeDevice + `"]}, "document": {"a": 1}, "timeout_minutes": 99999}`, "timeout_minutes"},
		{`{"id": "j1", "targets": {"devices": ["` + acmeDevice + `"]}, "document": {"a": 1}, "surprise": 1}`, "surprise"},
	} {
		rec := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/jobs", as: asOperator, body: bad.body})
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), bad.says) {
			t.Errorf("%s: %d %s; want 400 saying %q", bad.body, rec.Code, rec.Body, bad.says)
		}
	}
	body := `{"id": "cfg-7", "description": "new set-points", "targets": {"devices": ["` + acmeDevice + `", "` + globexDevice + `"]},
		"document": {"operation": "apply-config", "chw_setpoint": 7}, "rollout": {"maximum_per_minute": 1}}`
	call(asAcme, "POST", "/api/v1/jobs", body, http.StatusForbidden, nil)
	var job jobView
	call(asOperator, "POST", "/api/v1/jobs", body, http.StatusCreated, &job)
	if job.Total != 2 || job.Waiting != 2 || job.Status != "IN_PROGRESS" || len(job.Counts) != 8 || len(job.Document) == 0 {
		t.Fatalf("created: %+v", job)
	}
	call(asOperator, "POST", "/api/v1/jobs", body, http.StatusConflict, nil)

	// One a minute: the first release reaches acme's device only.
	e.jobs.RunDue()
	call(asOperator, "GET", "/api/v1/jobs/cfg-7", "", http.StatusOK, &job)
	if job.Counts["QUEUED"] != 1 || job.Waiting != 1 {
		t.Fatalf("after the first release: %+v", job)
	}
	job = jobView{}
	call(asAcme, "GET", "/api/v1/jobs/cfg-7", "", http.StatusOK, &job)
	if job.Total != 1 || job.Counts["QUEUED"] != 1 || job.Document != nil || job.Targets != nil {
		t.Fatalf("acme's view: %+v", job)
	}
	call(asGlobex, "GET", "/api/v1/jobs/cfg-7", "", http.StatusNotFound, nil)
	var list struct{ Jobs []jobView }
	call(asGlobex, "GET", "/api/v1/jobs", "", http.StatusOK, &list)
	if len(list.Jobs) != 0 {
		t.Fatalf("globex lists %+v before the job reached it", list.Jobs)
	}
	call(asOperator, "GET", "/api/v1/jobs", "", http.StatusOK, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != "cfg-7" {
		t.Fatalf("operator's list: %+v", list.Jobs)
	}
	var execs struct {
		Executions []struct {
			JobID  string `json:"job_id"`
			Device string `json:"device"`
			Status string `json:"status"`
		}
	}
	call(asOperator, "GET", "/api/v1/jobs/cfg-7/executions", "", http.StatusOK, &execs)
	if len(execs.Executions) != 1 || execs.Executions[0].Device != acmeDevice || execs.Executions[0].Status != "QUEUED" {
		t.Fatalf("executions: %+v", execs)
	}
	call(asAcme, "GET", "/api/v1/devices/"+acmeDevice+"/jobs", "", http.StatusOK, &execs)
	if len(execs.Executions) != 1 || execs.Executions[0].JobID != "cfg-7" {
		t.Fatalf("acme's device history: %+v", execs)
	}
	call(asGlobex, "GET", "/api/v1/devices/"+acmeDevice+"/jobs", "", http.StatusNotFound, nil)
	call(asGlobex, "GET", "/api/v1/jobs/cfg-7/executions", "", http.StatusNotFound, nil)
	call(asAcme, "POST", "/api/v1/jobs/cfg-7/cancel", "", http.StatusForbidden, nil)
	call(asAcme, "DELETE", "/api/v1/jobs/cfg-7", "", http.StatusForbidden, nil)
	call(asOperator, "DELETE", "/api/v1/jobs/cfg-7", "", http.StatusConflict, nil)

	// Canceled: the queued execution ends, the waiting target never gets
	// it, and the devices are told.
	call(asOperator, "POST", "/api/v1/jobs/cfg-7/cancel", `{"reason": "wrong set-point"}`, http.StatusOK, &job)
	if job.Status != "CANCELED" || job.Counts["CANCELED"] != 1 || job.Counts["QUEUED"] != 0 || job.Waiting != 0 {
		t.Fatalf("canceled: %+v", job)
	}
	e.jobs.RunDue()
	call(asOperator, "GET", "/api/v1/jobs/cfg-7/executions", "", http.StatusOK, &execs)
	if len(execs.Executions) != 1 {
		t.Fatalf("a canceled job released more: %+v", execs)
	}
	call(asOperator, "POST", "/api/v1/jobs/cfg-7/cancel", "", http.StatusConflict, nil)
	call(asOperator, "DELETE", "/api/v1/jobs/cfg-7", "", http.StatusNoContent, nil)
	call(asOperator, "GET", "/api/v1/jobs/cfg-7", "", http.StatusNotFound, nil)
	call(asOperator, "DELETE", "/api/v1/jobs/cfg-7", "", http.StatusNotFound, nil)
}
