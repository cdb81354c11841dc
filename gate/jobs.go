package gate

import (
	"errors"
	"slices"
	"strings"

	"github.com/hearthiot/hearth/jobs"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// JobStore reads jobs and their executions; *store.Store implements it.
type JobStore interface {
	GetJob(id string) (store.Job, error)
	ListJobs() ([]store.Job, error)
	JobExecutions(job string) ([]store.JobExecution, error)
	ThingJobExecutions(thing string) ([]store.JobExecution, error)
}

// JobService runs jobs; *jobs.Service implements it.
type JobService interface {
	Create(j store.Job, by string) (store.Job, error)
	Cancel(id string, force bool, reason string) (store.Job, error)
	Delete(id string) error
}

// JobStatuses are the execution statuses a job's counts always carry.
var JobStatuses = []string{
	protocol.JobQueued, protocol.JobInProgress, protocol.JobSucceeded, protocol.JobFailed,
	protocol.JobTimedOut, protocol.JobRejected, protocol.JobCanceled, protocol.JobRemoved,
}

// JobView is a job as p may see it. A customer sees the jobs that reached
// its devices, counted over its devices only, without the document,
// targets and rollout an operator set.
type JobView struct {
	store.Job
	// Counts by execution status, every status present.
	Counts map[string]int
	// Waiting is how many targets the rollout has not released yet.
	Waiting int
	// Full is whether the operator's fields (document, targets, rollout)
	// are shown.
	Full bool
}

func (s Scope) jobs() (JobStore, JobService, error) {
	if err := s.check(); err != nil {
		return nil, nil, err
	}
	if s.g.jobStore == nil || s.g.jobs == nil {
		return nil, nil, Unavailable("jobs are not available on this server")
	}
	return s.g.jobStore, s.g.jobs, nil
}

// jobError maps the job service's refusals.
func jobError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jobs.ErrInvalid):
		return Invalid("%s", strings.TrimPrefix(err.Error(), jobs.ErrInvalid.Error()+": "))
	case errors.Is(err, jobs.ErrExists):
		return &Error{Kind: KindExists, Message: strings.TrimPrefix(err.Error(), store.ErrExists.Error()+": ")}
	case errors.Is(err, jobs.ErrState):
		return &Error{Kind: KindConflict, Message: strings.TrimPrefix(err.Error(), jobs.ErrState.Error()+": ")}
	case errors.Is(err, store.ErrNotFound):
		return NotFound("job")
	}
	return err
}

// jobView makes what p sees of a job, or NotFound for a customer it never
// reached.
func (s Scope) jobView(js JobStore, j store.Job) (JobView, error) {
	v := JobView{Job: j, Counts: map[string]int{}, Full: s.p.Operator(), Waiting: j.Total - j.Released}
	for _, st := range JobStatuses {
		v.Counts[st] = j.Counts[st]
	}
	if s.p.Operator() {
		if j.Status != store.JobActive {
			v.Waiting = 0 // dropped when the job ended
		}
		return v, nil
	}
	if !slices.Contains(j.Customers, s.p.Customer) {
		return JobView{}, NotFound("job")
	}
	execs, err := js.JobExecutions(j.ID)
	if err != nil {
		return JobView{}, err
	}
	for _, st := range JobStatuses {
		v.Counts[st] = 0
	}
	n := 0
	for _, e := range execs {
		if e.Customer == s.p.Customer {
			v.Counts[e.Status]++
			n++
		}
	}
	if n == 0 {
		return JobView{}, NotFound("job") // none of its devices has been reached
	}
	v.Job = store.Job{
		ID: j.ID, Description: j.Description, Status: j.Status, CreatedAt: j.CreatedAt,
		UpdatedAt: j.UpdatedAt, CompletedAt: j.CompletedAt, Total: n, Released: n,
	}
	v.Waiting = 0
	return v, nil
}

// Jobs lists the jobs p may see, newest first.
func (s Scope) Jobs() ([]JobView, error) {
	js, _, err := s.jobs()
	if err != nil {
		return nil, err
	}
	all, err := js.ListJobs()
	if err != nil {
		return nil, err
	}
	out := make([]JobView, 0, len(all))
	for _, j := range all {
		v, err := s.jobView(js, j)
		if isNotFound(err) {
			continue // a job that never reached p's devices
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// isNotFound reports whether err is the gate's NotFound.
func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindNotFound
}

// Job returns one job p may see.
func (s Scope) Job(id string) (JobView, error) {
	js, _, err := s.jobs()
	if err != nil {
		return JobView{}, err
	}
	j, err := js.GetJob(id)
	if err != nil {
		return JobView{}, jobError(err)
	}
	return s.jobView(js, j)
}

// JobExecutions lists a job's executions p may see: a customer's own
// devices' only.
func (s Scope) JobExecutions(id string) ([]store.JobExecution, error) {
	js, _, err := s.jobs()
	if err != nil {
		return nil, err
	}
	if _, err := s.Job(id); err != nil {
		return nil, err
	}
	execs, err := js.JobExecutions(id)
	if err != nil {
		return nil, err
	}
	if !s.p.Operator() {
		execs = slices.DeleteFunc(execs, func(e store.JobExecution) bool { return e.Customer != s.p.Customer })
	}
	return execs, nil
}

// DeviceJobs lists the executions of a device p may see, oldest first.
func (s Scope) DeviceJobs(name string) ([]store.JobExecution, error) {
	js, _, err := s.jobs()
	if err != nil {
		return nil, err
	}
	if _, err := s.deviceFor(name); err != nil {
		return nil, err
	}
	return js.ThingJobExecutions(name)
}

// CreateJob creates a job (operators only); its rollout begins at once.
func (s Scope) CreateJob(j store.Job) (JobView, error) {
	js, svc, err := s.jobs()
	if err != nil {
		return JobView{}, err
	}
	if err := s.operatorOnly("create jobs"); err != nil {
		return JobView{}, err
	}
	j, err = svc.Create(j, s.p.ActorName())
	if err != nil {
		return JobView{}, jobError(err)
	}
	return s.jobView(js, j)
}

// CancelJob cancels a job in progress (operators only); with force, the
// executions in progress too.
func (s Scope) CancelJob(id string, force bool, reason string) (JobView, error) {
	js, svc, err := s.jobs()
	if err != nil {
		return JobView{}, err
	}
	if err := s.operatorOnly("cancel jobs"); err != nil {
		return JobView{}, err
	}
	if len(reason) > 256 {
		return JobView{}, Invalid(`field "reason": at most 256 characters`)
	}
	if reason == "" {
		reason = "canceled by " + s.p.ActorName()
	}
	j, err := svc.Cancel(id, force, reason)
	if err != nil {
		return JobView{}, jobError(err)
	}
	return s.jobView(js, j)
}

// DeleteJob removes a job that is over, with its executions (operators
// only).
func (s Scope) DeleteJob(id string) error {
	_, svc, err := s.jobs()
	if err != nil {
		return err
	}
	if err := s.operatorOnly("delete jobs"); err != nil {
		return err
	}
	return jobError(svc.Delete(id))
}
