package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// The device side: AWS IoT Jobs' MQTT API. Every request is answered on
// its topic plus /accepted or /rejected, to the asking device only (its
// own topics are the only ones it may subscribe to).

// HandleJobRequest answers one request a device published on
// $aws/things/{thing}/jobs/…; req is its parsed topic.
func (s *Service) HandleJobRequest(thing string, req protocol.JobRequest, payload []byte) {
	topic := protocol.JobRequestTopic(thing, req.JobID, req.Op)
	now := s.now()
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	var token struct {
		ClientToken any `json:"clientToken"`
	}
	if err := json.Unmarshal(payload, &token); err != nil {
		s.reject(topic, "", now, protocol.JobsInvalidJSON, "the request is not a JSON object: "+err.Error(), nil)
		return
	}
	clientToken, ok := token.ClientToken.(string)
	if token.ClientToken != nil && (!ok || len(clientToken) > 64) {
		s.reject(topic, "", now, protocol.JobsInvalidRequest, "clientToken: a string of at most 64 characters", nil)
		return
	}
	var err error
	switch {
	case req.Op == protocol.JobsGet && req.JobID == "":
		err = s.getPending(thing, topic, clientToken, now)
	case req.Op == protocol.JobsStartNext:
		err = s.startNext(thing, topic, payload, clientToken, now)
	case req.Op == protocol.JobsGet:
		err = s.describe(thing, req.JobID, topic, payload, clientToken, now)
	case req.Op == protocol.JobsUpdate:
		err = s.update(thing, req.JobID, topic, payload, clientToken, now)
	default:
		err = &requestError{code: protocol.JobsInvalidTopic, msg: "not a jobs request topic"}
	}
	if err == nil {
		return
	}
	var re *requestError
	if !errors.As(err, &re) {
		s.log.Error("job request", "device", thing, "topic", topic, "error", err)
		re = &requestError{code: protocol.JobsInternalError, msg: "the request could not be handled; try again"}
	}
	s.reject(topic, clientToken, now, re.code, re.msg, re.state)
}

// requestError is a refusal with AWS's code.
type requestError struct {
	code, msg string
	state     *protocol.JobExecutionState
}

func (e *requestError) Error() string { return e.code + ": " + e.msg }

func refused(code, format string, args ...any) error {
	return &requestError{code: code, msg: fmt.Sprintf(format, args...)}
}

func (s *Service) reject(topic, clientToken string, now time.Time, code, msg string, state *protocol.JobExecutionState) {
	s.send(topic+"/rejected", protocol.JobsError{Code: code, Message: msg, ClientToken: clientToken, Timestamp: now.Unix(), ExecutionState: state})
}

func (s *Service) send(topic string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = s.d.Publisher.Publish(topic, b, 1)
	}
	if err != nil {
		s.log.Warn("job message not sent", "topic", topic, "error", err)
	}
}

// decode decodes a request body strictly enough to say what is wrong.
func decode(payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return refused(protocol.JobsInvalidRequest, "%s: a %s is expected", te.Field, te.Type)
		}
		return refused(protocol.JobsInvalidJSON, "the request is not valid JSON: %v", err)
	}
	return nil
}

// pending is a device's executions not yet over, the next first: those in
// progress, then the queued, each oldest first.
func (s *Service) pending(thing string) ([]store.JobExecution, error) {
	all, err := s.d.Store.ThingJobExecutions(thing)
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(all, func(e store.JobExecution) bool {
		return e.Status != protocol.JobInProgress && e.Status != protocol.JobQueued
	})
	slices.SortStableFunc(out, nextFirst)
	return out, nil
}

func summary(e store.JobExecution) protocol.JobExecutionSummary {
	out := protocol.JobExecutionSummary{
		JobID: e.JobID, QueuedAt: e.QueuedAt.Unix(), LastUpdatedAt: e.LastUpdatedAt.Unix(),
		VersionNumber: e.VersionNumber, ExecutionNumber: e.ExecutionNumber,
	}
	if e.StartedAt != nil {
		out.StartedAt = e.StartedAt.Unix()
	}
	return out
}

func state(e store.JobExecution) *protocol.JobExecutionState {
	return &protocol.JobExecutionState{Status: e.Status, StatusDetails: e.StatusDetails, VersionNumber: e.VersionNumber}
}

// execution is the wire form of an execution, with its job's document
// (placeholders replaced) when withDoc.
func (s *Service) execution(e store.JobExecution, withDoc bool, now time.Time) (*protocol.JobExecution, error) {
	out := &protocol.JobExecution{
		JobID: e.JobID, ThingName: e.Thing, Status: e.Status, StatusDetails: e.StatusDetails,
		QueuedAt: e.QueuedAt.Unix(), LastUpdatedAt: e.LastUpdatedAt.Unix(),
		VersionNumber: e.VersionNumber, ExecutionNumber: e.ExecutionNumber,
	}
	if e.StartedAt != nil {
		out.StartedAt = e.StartedAt.Unix()
	}
	j, err := s.d.Store.GetJob(e.JobID)
	if err != nil {
		return nil, fmt.Errorf("read job %q: %w", e.JobID, err)
	}
	if at, ok := deadline(j, e); ok {
		out.ApproximateSecondsBeforeTimedOut = max(0, int64(at.Sub(now)/time.Second))
	}
	if withDoc {
		if out.JobDocument, err = s.substitute(j.Document); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// getPending answers jobs/get: the device's executions in progress and
// queued.
func (s *Service) getPending(thing, topic, clientToken string, now time.Time) error {
	p, err := s.pending(thing)
	if err != nil {
		return err
	}
	resp := protocol.GetPendingJobsResponse{
		InProgressJobs: []protocol.JobExecutionSummary{}, QueuedJobs: []protocol.JobExecutionSummary{},
		Timestamp: now.Unix(), ClientToken: clientToken,
	}
	for _, e := range p {
		if e.Status == protocol.JobInProgress {
			resp.InProgressJobs = append(resp.InProgressJobs, summary(e))
		} else {
			resp.QueuedJobs = append(resp.QueuedJobs, summary(e))
		}
	}
	s.send(topic+"/accepted", resp)
	return nil
}

// describe answers jobs/{jobId}/get and jobs/$next/get.
func (s *Service) describe(thing, jobID, topic string, payload []byte, clientToken string, now time.Time) error {
	var req protocol.DescribeJobRequest
	if err := decode(payload, &req); err != nil {
		return err
	}
	var e store.JobExecution
	if jobID == protocol.JobsNext {
		p, err := s.pending(thing)
		if err != nil {
			return err
		}
		if len(p) == 0 {
			s.send(topic+"/accepted", protocol.ExecutionResponse{Timestamp: now.Unix(), ClientToken: clientToken})
			return nil
		}
		e = p[0]
	} else {
		var err error
		if e, err = s.d.Store.GetJobExecution(thing, jobID); errors.Is(err, store.ErrNotFound) {
			return refused(protocol.JobsResourceNotFound, "no execution of job %q on %s", jobID, thing)
		} else if err != nil {
			return err
		}
	}
	if req.ExecutionNumber != nil && *req.ExecutionNumber != e.ExecutionNumber {
		return refused(protocol.JobsResourceNotFound, "no execution number %d of job %q on %s", *req.ExecutionNumber, e.JobID, thing)
	}
	ex, err := s.execution(e, req.IncludeJobDocument == nil || *req.IncludeJobDocument, now)
	if err != nil {
		return err
	}
	s.send(topic+"/accepted", protocol.ExecutionResponse{Execution: ex, Timestamp: now.Unix(), ClientToken: clientToken})
	return nil
}

// checkStatusDetails refuses status details AWS would: at most 10, keys
// up to 128 and values up to 1024 characters.
func checkStatusDetails(d map[string]string) error {
	if len(d) > 10 {
		return refused(protocol.JobsInvalidRequest, "statusDetails: %d entries; at most 10", len(d))
	}
	for k, v := range d {
		if k == "" || len(k) > 128 || len(v) > 1024 {
			return refused(protocol.JobsInvalidRequest, "statusDetails: keys of 1 to 128 characters, values of at most 1024")
		}
	}
	return nil
}

// stepTimeout checks a request's stepTimeoutInMinutes: 1 to 10080, as AWS
// takes it.
func stepTimeout(m *int64, now time.Time) (*time.Time, error) {
	if m == nil {
		return nil, nil
	}
	if *m < 1 || *m > 10080 {
		return nil, refused(protocol.JobsInvalidRequest, "stepTimeoutInMinutes: 1 to 10080")
	}
	at := now.Add(time.Duration(*m) * time.Minute).UTC()
	return &at, nil
}

// startNext answers jobs/start-next: the device's next execution, started
// when it was queued.
func (s *Service) startNext(thing, topic string, payload []byte, clientToken string, now time.Time) error {
	var req protocol.StartNextRequest
	if err := decode(payload, &req); err != nil {
		return err
	}
	if err := checkStatusDetails(req.StatusDetails); err != nil {
		return err
	}
	timeout, err := stepTimeout(req.StepTimeoutInMinutes, now)
	if err != nil {
		return err
	}
	p, err := s.pending(thing)
	if err != nil {
		return err
	}
	if len(p) == 0 {
		s.send(topic+"/accepted", protocol.ExecutionResponse{Timestamp: now.Unix(), ClientToken: clientToken})
		return nil
	}
	e := p[0]
	started := false
	if e.Status == protocol.JobQueued {
		before := e
		_, e, err = s.d.Store.UpdateJobExecution(thing, e.JobID, func(j *store.Job, e *store.JobExecution) error {
			started = e.Status == protocol.JobQueued
			if started { // not started meanwhile: that one is answered as it is
				start(e, protocol.JobInProgress, req.StatusDetails, timeout, now)
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.track(e)
		if started {
			defer s.notify(thing, e.JobID, &before)
		}
	}
	ex, err := s.execution(e, true, now)
	if err != nil {
		return err
	}
	s.send(topic+"/accepted", protocol.ExecutionResponse{Execution: ex, Timestamp: now.Unix(), ClientToken: clientToken})
	return nil
}

// start moves an execution to status with its details and step timer.
func start(e *store.JobExecution, status string, details map[string]string, timeout *time.Time, now time.Time) {
	if e.StartedAt == nil && status != protocol.JobQueued {
		t := now.UTC()
		e.StartedAt = &t
	}
	e.Status = status
	if details != nil {
		e.StatusDetails = details
	}
	if timeout != nil {
		e.StepTimeoutAt = timeout
	}
	if protocol.JobStatusTerminal(status) {
		e.StepTimeoutAt = nil
	}
	e.LastUpdatedAt = now.UTC()
	e.VersionNumber++
}

// track keeps the deadline of an execution in progress, or forgets it.
func (s *Service) track(e store.JobExecution) {
	j, err := s.d.Store.GetJob(e.JobID)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := execKey{e.Thing, e.JobID}
	delete(s.deadlines, k)
	if err != nil {
		return
	}
	if at, ok := deadline(j, e); ok {
		s.deadlines[k] = at
	}
}

// update answers jobs/{jobId}/update: a device reports progress or the end
// of its execution.
func (s *Service) update(thing, jobID, topic string, payload []byte, clientToken string, now time.Time) error {
	var req protocol.UpdateJobRequest
	if err := decode(payload, &req); err != nil {
		return err
	}
	if !slices.Contains([]string{protocol.JobInProgress, protocol.JobSucceeded, protocol.JobFailed, protocol.JobRejected}, req.Status) {
		return refused(protocol.JobsInvalidRequest, "status %q: IN_PROGRESS, SUCCEEDED, FAILED or REJECTED", req.Status)
	}
	if err := checkStatusDetails(req.StatusDetails); err != nil {
		return err
	}
	timeout, err := stepTimeout(req.StepTimeoutInMinutes, now)
	if err != nil {
		return err
	}
	var before store.JobExecution
	var aborted bool
	var refusal *requestError
	j, e, err := s.d.Store.UpdateJobExecution(thing, jobID, func(j *store.Job, e *store.JobExecution) error {
		before, aborted, refusal = *e, false, nil
		switch {
		case req.ExecutionNumber != nil && *req.ExecutionNumber != e.ExecutionNumber:
			refusal = &requestError{code: protocol.JobsResourceNotFound, msg: fmt.Sprintf("no execution number %d of job %q on %s", *req.ExecutionNumber, jobID, thing)}
		case req.ExpectedVersion != nil && *req.ExpectedVersion != e.VersionNumber:
			refusal = &requestError{code: protocol.JobsVersionMismatch, msg: fmt.Sprintf("the execution is at version %d, not %d", e.VersionNumber, *req.ExpectedVersion), state: state(*e)}
		case protocol.JobStatusTerminal(e.Status):
			refusal = &requestError{code: protocol.JobsInvalidStateTransition, msg: fmt.Sprintf("the execution is %s already", e.Status), state: state(*e)}
		}
		if refusal != nil {
			return refusal
		}
		start(e, req.Status, req.StatusDetails, timeout, now)
		if protocol.JobStatusTerminal(e.Status) {
			aborted = s.checkAbort(j, e.Status, now)
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refused(protocol.JobsResourceNotFound, "no execution of job %q on %s", jobID, thing)
	case refusal != nil && errors.Is(err, refusal):
		return refusal
	case err != nil:
		return err
	}
	s.track(e)
	resp := protocol.UpdateJobResponse{Timestamp: now.Unix(), ClientToken: clientToken}
	if req.IncludeJobExecutionState {
		resp.ExecutionState = state(e)
	}
	if req.IncludeJobDocument {
		if resp.JobDocument, err = s.substitute(j.Document); err != nil {
			return err
		}
	}
	s.send(topic+"/accepted", resp)
	if before.Status != e.Status {
		s.notify(thing, jobID, &before)
	}
	if aborted {
		s.abort(jobID, now)
	}
	return nil
}

// notify tells a device that its pending executions changed with the
// execution of job, whose status and queue time were before (nil when it
// is new): on jobs/notify its pending lists, and on jobs/notify-next its
// next execution (or none left) when that is not the one it was.
func (s *Service) notify(thing, job string, before *store.JobExecution) {
	now := s.now()
	p, err := s.pending(thing)
	if err != nil {
		s.log.Error("job notification", "device", thing, "error", err)
		return
	}
	msg := protocol.JobsNotify{Timestamp: now.Unix(), Jobs: map[string][]protocol.JobExecutionSummary{}}
	for _, e := range p {
		msg.Jobs[e.Status] = append(msg.Jobs[e.Status], summary(e))
	}
	s.send(protocol.JobsNotifyTopic(thing), msg)

	// The pending list as it was: job's execution as before, or absent.
	was := slices.DeleteFunc(slices.Clone(p), func(e store.JobExecution) bool { return e.JobID == job })
	if before != nil && (before.Status == protocol.JobQueued || before.Status == protocol.JobInProgress) {
		was = append(was, *before)
	}
	slices.SortStableFunc(was, nextFirst)
	nextWas, nextIs := "", ""
	if len(was) > 0 {
		nextWas = was[0].JobID
	}
	if len(p) > 0 {
		nextIs = p[0].JobID
	}
	if nextWas == nextIs {
		return
	}
	next := protocol.JobsNotifyNext{Timestamp: now.Unix()}
	if len(p) > 0 {
		if next.Execution, err = s.execution(p[0], true, now); err != nil {
			s.log.Error("job notification", "device", thing, "error", err)
			return
		}
	}
	s.send(protocol.JobsNotifyNextTopic(thing), next)
}

// nextFirst orders pending executions as a device is offered them: in
// progress before queued, then oldest first, then by job.
func nextFirst(a, b store.JobExecution) int {
	rank := func(e store.JobExecution) int {
		if e.Status == protocol.JobInProgress {
			return 0
		}
		return 1
	}
	if r := rank(a) - rank(b); r != 0 {
		return r
	}
	if c := a.QueuedAt.Compare(b.QueuedAt); c != 0 {
		return c
	}
	return strings.Compare(a.JobID, b.JobID)
}
