package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

func (a *API) jobRoutes(r chi.Router) {
	r.Route("/jobs", func(r chi.Router) {
		r.Get("/", a.listJobs)
		r.Post("/", a.createJob)
		r.Get("/{id}", a.showJob)
		r.Delete("/{id}", a.deleteJob)
		r.Get("/{id}/executions", a.listJobExecutions)
		r.Post("/{id}/cancel", a.cancelJob)
	})
}

// jobRequest is the body of POST /api/v1/jobs.
type jobRequest struct {
	ID                string           `json:"id"`
	Description       string           `json:"description"`
	Document          json.RawMessage  `json:"document"`
	Targets           store.JobTargets `json:"targets"`
	Rollout           store.JobRollout `json:"rollout"`
	Abort             []store.JobAbort `json:"abort"`
	TimeoutMinutes    int64            `json:"timeout_minutes"`
	MaintenanceWindow *store.JobWindow `json:"maintenance_window"`
}

// jobResponse is a job as the API shows it.
type jobResponse struct {
	ID                string            `json:"id"`
	Description       string            `json:"description,omitempty"`
	Status            string            `json:"status"`
	Reason            string            `json:"reason,omitempty"`
	Counts            map[string]int    `json:"counts"`
	Total             int               `json:"total"`
	Waiting           int               `json:"waiting"`
	Document          json.RawMessage   `json:"document,omitempty"`
	Targets           *store.JobTargets `json:"targets,omitempty"`
	Rollout           *store.JobRollout `json:"rollout,omitempty"`
	Abort             []store.JobAbort  `json:"abort,omitempty"`
	TimeoutMinutes    int64             `json:"timeout_minutes,omitempty"`
	MaintenanceWindow *store.JobWindow  `json:"maintenance_window,omitempty"`
	CreatedAt         time.Time         `json:"created_at"`
	CreatedBy         string            `json:"created_by,omitempty"`
	UpdatedAt         time.Time         `json:"updated_at"`
	CompletedAt       *time.Time        `json:"completed_at,omitempty"`
}

func jobJSON(v gate.JobView) jobResponse {
	out := jobResponse{
		ID: v.ID, Description: v.Description, Status: v.Status, Reason: v.Reason, Counts: v.Counts,
		Total: v.Total, Waiting: v.Waiting, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, CompletedAt: v.CompletedAt,
	}
	if v.Full {
		out.Document, out.Targets, out.Rollout, out.Abort = v.Document, &v.Targets, &v.Rollout, v.Abort
		out.TimeoutMinutes, out.MaintenanceWindow, out.CreatedBy = v.TimeoutMinutes, v.Window, v.CreatedBy
	}
	return out
}

// executionResponse is a job execution as the API shows it.
type executionResponse struct {
	JobID           string            `json:"job_id"`
	Device          string            `json:"device"`
	Customer        string            `json:"customer"`
	Site            string            `json:"site"`
	Status          string            `json:"status"`
	StatusDetails   map[string]string `json:"status_details,omitempty"`
	QueuedAt        time.Time         `json:"queued_at"`
	StartedAt       *time.Time        `json:"started_at,omitempty"`
	LastUpdatedAt   time.Time         `json:"last_updated_at"`
	VersionNumber   int64             `json:"version_number"`
	ExecutionNumber int64             `json:"execution_number"`
}

func executionsJSON(es []store.JobExecution) []executionResponse {
	out := make([]executionResponse, len(es))
	for i, e := range es {
		out[i] = executionResponse{
			JobID: e.JobID, Device: e.Thing, Customer: e.Customer, Site: e.Site, Status: e.Status,
			StatusDetails: e.StatusDetails, QueuedAt: e.QueuedAt, StartedAt: e.StartedAt,
			LastUpdatedAt: e.LastUpdatedAt, VersionNumber: e.VersionNumber, ExecutionNumber: e.ExecutionNumber,
		}
	}
	return out
}

// listJobs: GET /api/v1/jobs.
func (a *API) listJobs(w http.ResponseWriter, r *http.Request) {
	vs, err := a.scope(r).Jobs()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]jobResponse, len(vs))
	for i, v := range vs {
		out[i] = jobJSON(v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out})
}

// createJob: POST /api/v1/jobs.
func (a *API) createJob(w http.ResponseWriter, r *http.Request) {
	var req jobRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	v, err := a.scope(r).CreateJob(store.Job{
		ID: req.ID, Description: req.Description, Document: req.Document, Targets: req.Targets,
		Rollout: req.Rollout, Abort: req.Abort, TimeoutMinutes: req.TimeoutMinutes, Window: req.MaintenanceWindow,
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, jobJSON(v))
}

// showJob: GET /api/v1/jobs/{id}.
func (a *API) showJob(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	v, err := a.scope(r).Job(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobJSON(v))
}

// deleteJob: DELETE /api/v1/jobs/{id}, a job that is over.
func (a *API) deleteJob(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteJob(id); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listJobExecutions: GET /api/v1/jobs/{id}/executions.
func (a *API) listJobExecutions(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	es, err := a.scope(r).JobExecutions(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"executions": executionsJSON(es)})
}

// cancelJob: POST /api/v1/jobs/{id}/cancel {"force": bool, "reason": string}.
func (a *API) cancelJob(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req struct {
		Force  bool   `json:"force"`
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &req, true); err != nil {
		a.writeError(w, r, err)
		return
	}
	v, err := a.scope(r).CancelJob(id, req.Force, req.Reason)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobJSON(v))
}

// listDeviceJobs: GET /api/v1/devices/{name}/jobs, the device's job
// executions, oldest first.
func (a *API) listDeviceJobs(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	es, err := a.scope(r).DeviceJobs(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"executions": executionsJSON(es)})
}
