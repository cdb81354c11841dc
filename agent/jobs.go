package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/protocol"
)

// Jobs request limits.
const (
	// jobReplyTimeout is how long a job request waits for its reply.
	jobReplyTimeout = 30 * time.Second
	// jobRequestTries is how many times a request that got no reply is
	// sent again before the agent gives up on it for now.
	jobRequestTries = 3
	// jobUpdateTries bounds the updates of one status that Hearth refuses
	// for a version that moved on, or while it is busy.
	jobUpdateTries = 5
	// jobRetryAfter is the wait before asking for the next job again after
	// handling one failed without an answer to Hearth (no connection, no
	// reply).
	jobRetryAfter = 30 * time.Second
	// jobProgressEvery bounds how often a download's progress is reported.
	jobProgressEvery = 10 * time.Second
	// finishedKept is how many executions handled are remembered, so that
	// a notification sent before Hearth had the result does not start one
	// again.
	finishedKept = 32
)

// errJobOver marks a job that ended without the agent: canceled, removed,
// or timed out in Hearth while the agent worked on it.
var errJobOver = errors.New("the job ended in Hearth")

// errRefused marks a request Hearth refused for what it is: sending it
// again changes nothing.
var errRefused = errors.New("hearth refused")

// errNoReply marks a request Hearth did not answer.
var errNoReply = errors.New("hearth did not answer the job request")

func jobOver(status string) error { return fmt.Errorf("%w: the execution is %s", errJobOver, status) }

// jobReply is a reply to a job request: the accepted document, or the
// rejection.
type jobReply struct {
	payload  []byte
	rejected bool
}

// jobsClient takes jobs from Hearth over AWS IoT Jobs' device topics: it
// asks for the next pending execution at every connection and is told of
// new ones on notify-next, handles them one at a time by the operation
// their document names, and reports their status with the version it
// expects, so that it never overwrites a change it has not seen (a job
// canceled meanwhile).
type jobsClient struct {
	name    string
	enabled bool
	logger  *slog.Logger
	pub     jobsPublisher
	update  *updater
	maps    *mapJobs
	// stop ends the agent's run with a restart.
	stop func(*Restart)
	// trial is set in the child process that tries a new binary: it takes
	// no jobs, and tells its parent once it is connected.
	trial *Trial

	tokens atomic.Uint64
	wake   chan struct{}
	// recheck asks the job under way to check it still stands (a
	// notification named another job while it ran).
	recheck chan struct{}

	mu       sync.Mutex
	waiting  map[string]chan jobReply // clientToken → the request waiting for its reply
	online   chan struct{}            // closed while a session with the jobs topics is up
	session  uint64                   // counts sessions that came up
	handled  uint64                   // the last session whose start the worker has handled
	next     *protocol.JobExecution   // the latest next execution Hearth named
	hasNext  bool
	busy     string   // the job being handled
	finished []string // jobId/executionNumber of executions handled, newest last

	// st is an update left by an earlier run (resume); hasState false
	// when there is none.
	st       updateState
	hasState bool
}

// jobsPublisher sends a job request on the current connection.
type jobsPublisher interface {
	publishJobs(ctx context.Context, topic string, payload []byte) error
}

func newJobsClient(name string, enabled bool, logger *slog.Logger) *jobsClient {
	return &jobsClient{
		name: name, enabled: enabled, logger: logger,
		wake: make(chan struct{}, 1), recheck: make(chan struct{}, 1),
		waiting: map[string]chan jobReply{}, online: make(chan struct{}),
	}
}

func (j *jobsClient) topic() string { return protocol.JobsTopic(j.name) }

// filters are the subscriptions the link takes for jobs: notify-next and
// the replies to the agent's requests ($next/get, {jobId}/get and
// {jobId}/update). None when the agent takes no jobs and has no result
// to report.
func (j *jobsClient) filters() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.trial != nil || !j.enabled && !j.hasState {
		return nil
	}
	t := j.topic()
	return []string{t + "/notify-next", t + "/+/get/+", t + "/+/update/+"}
}

func (j *jobsClient) signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// up is told by the link that a session is up; jobs is false when the jobs
// topics could not be subscribed.
func (j *jobsClient) up(jobs bool) {
	if j.trial != nil {
		j.trial.Connected()
		return
	}
	j.mu.Lock()
	j.session++
	if jobs {
		select {
		case <-j.online:
		default:
			close(j.online)
		}
	}
	j.mu.Unlock()
	j.signal(j.wake)
}

// down is told by the link that the session ended.
func (j *jobsClient) down() {
	j.mu.Lock()
	defer j.mu.Unlock()
	select {
	case <-j.online:
		j.online = make(chan struct{})
	default:
	}
}

func (j *jobsClient) waitOnline(ctx context.Context) error {
	j.mu.Lock()
	ch := j.online
	j.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deliver takes a message on the jobs topics from the link's reader; it
// never blocks.
func (j *jobsClient) deliver(topic string, payload []byte) {
	rest, ok := strings.CutPrefix(topic, j.topic()+"/")
	if !ok || j.trial != nil {
		return
	}
	if len(payload) > maxJobMessage {
		j.logger.Warn("job message too large; ignored", "topic", topic, "bytes", len(payload))
		return
	}
	if rest == "notify-next" {
		var n protocol.JobsNotifyNext
		if err := json.Unmarshal(payload, &n); err != nil {
			j.logger.Warn("job notification not read", "error", err)
			return
		}
		j.offer(n.Execution)
		return
	}
	rejected := strings.HasSuffix(rest, "/rejected")
	if !rejected && !strings.HasSuffix(rest, "/accepted") {
		return
	}
	var tok struct {
		ClientToken string `json:"clientToken"`
	}
	_ = json.Unmarshal(payload, &tok)
	j.mu.Lock()
	ch, waiting := j.waiting[tok.ClientToken]
	delete(j.waiting, tok.ClientToken)
	j.mu.Unlock()
	if waiting {
		ch <- jobReply{payload: append([]byte(nil), payload...), rejected: rejected}
		return
	}
	if rest == protocol.JobsNext+"/get/accepted" {
		var r protocol.ExecutionResponse
		if err := json.Unmarshal(payload, &r); err == nil {
			j.offer(r.Execution)
		}
	}
}

// offer records the next execution Hearth named.
func (j *jobsClient) offer(ex *protocol.JobExecution) {
	j.mu.Lock()
	j.next, j.hasNext = ex, true
	busy := j.busy
	j.mu.Unlock()
	if busy != "" && (ex == nil || ex.JobID != busy) {
		j.signal(j.recheck)
	}
	j.signal(j.wake)
}

func (j *jobsClient) token() string {
	return "agent-job-" + strconv.FormatUint(j.tokens.Add(1), 10)
}

// request sends a job request and waits for its reply: the accepted
// document, or the rejection. It waits for a connection first, and sends
// the request again (with a new token) when no reply comes, a few times.
func (j *jobsClient) request(ctx context.Context, topic string, body func(token string) any) ([]byte, *protocol.JobsError, error) {
	for try := 1; ; try++ {
		if err := j.waitOnline(ctx); err != nil {
			return nil, nil, err
		}
		token := j.token()
		payload, err := json.Marshal(body(token))
		if err != nil {
			return nil, nil, fmt.Errorf("encode job request: %w", err)
		}
		ch := make(chan jobReply, 1)
		j.mu.Lock()
		j.waiting[token] = ch
		j.mu.Unlock()
		forget := func() {
			j.mu.Lock()
			delete(j.waiting, token)
			j.mu.Unlock()
		}
		if err := j.pub.publishJobs(ctx, topic, payload); err != nil {
			forget()
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			if try >= jobRequestTries {
				return nil, nil, err
			}
			j.logger.Debug("job request not sent; trying again", "topic", topic, "error", err)
			if err := sleepCtx(ctx, time.Second); err != nil {
				return nil, nil, err
			}
			continue
		}
		t := time.NewTimer(jobReplyTimeout)
		select {
		case rep := <-ch:
			t.Stop()
			if !rep.rejected {
				return rep.payload, nil, nil
			}
			e, err := parseJobsError(rep.payload)
			if err != nil {
				return nil, nil, err
			}
			return nil, &e, nil
		case <-t.C:
			forget()
			if try >= jobRequestTries {
				return nil, nil, fmt.Errorf("%w on %s within %s, %d times", errNoReply, topic, jobReplyTimeout, try)
			}
		case <-ctx.Done():
			t.Stop()
			forget()
			return nil, nil, ctx.Err()
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// getNext asks Hearth for the next pending execution ($next/get); nil
// when there is none.
func (j *jobsClient) getNext(ctx context.Context) (*protocol.JobExecution, error) {
	acc, rej, err := j.request(ctx, protocol.JobRequestTopic(j.name, protocol.JobsNext, protocol.JobsGet), func(token string) any {
		return protocol.DescribeJobRequest{ClientToken: token}
	})
	if err != nil {
		return nil, err
	}
	if rej != nil {
		return nil, fmt.Errorf("hearth rejected the request for the next job: %s: %s", rej.Code, rej.Message)
	}
	var r protocol.ExecutionResponse
	if err := json.Unmarshal(acc, &r); err != nil {
		return nil, fmt.Errorf("next job: %w", err)
	}
	return r.Execution, nil
}

// run handles jobs until ctx ends or the agent restarts: at each session,
// first the result an update left to report, then the next pending
// execution, one at a time.
func (j *jobsClient) run(ctx context.Context) {
	if j.trial != nil {
		return
	}
	var confirm <-chan time.Time
	if j.hasState && j.st.Phase == phaseInstalled {
		t := time.NewTimer(j.update.confirm)
		defer t.Stop()
		confirm = t.C
	}
	askNext := false
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-confirm:
			confirm = nil
			if j.hasState && j.st.Phase == phaseInstalled {
				st, ok, rs, err := j.update.rollback(j.st, fmt.Sprintf("version %s did not connect to Hearth within %s (jobs.update_confirm_timeout)", j.st.Version, j.update.confirm))
				j.setState(st, ok)
				if err != nil {
					j.logger.Error("previous binary not put back", "error", err)
				}
				if rs != nil {
					j.stop(rs)
					return
				}
			}
		case <-retry:
			retry = nil
			askNext = true
		case <-j.wake:
		}
		j.mu.Lock()
		session, handled, connected := j.session, j.handled, j.session > 0
		j.mu.Unlock()
		if !connected {
			continue
		}
		if session != handled {
			// A new session: what the last one may have missed is asked
			// again.
			j.mu.Lock()
			j.handled = session
			j.mu.Unlock()
			askNext = j.enabled
			if j.hasState && j.st.Phase == phaseInstalled {
				confirm = nil
				st, err := j.update.confirmed(j.st)
				if err != nil {
					j.logger.Error("update result not saved; reporting it now", "error", err)
				}
				j.setState(st, true)
			}
		}
		if j.hasState && j.st.Phase == phaseReport {
			if err := j.sendReport(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				j.logger.Warn("update result not reported; trying again at the next connection", "job", j.st.JobID, "error", err)
				continue
			}
		}
		if !j.enabled {
			continue
		}
		if askNext {
			ex, err := j.getNext(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				j.logger.Warn("next job not read", "error", err)
				continue
			}
			askNext = false
			j.mu.Lock()
			j.next, j.hasNext = ex, true
			j.mu.Unlock()
		}
		j.mu.Lock()
		ex, has := j.next, j.hasNext
		j.next, j.hasNext = nil, false
		j.mu.Unlock()
		if !has || ex == nil || !j.pending(*ex) {
			continue
		}
		rs, err := j.handle(ctx, *ex)
		if rs != nil {
			j.stop(rs)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, errJobOver) && !errors.Is(err, errRefused) {
			// Hearth has no result: the execution comes again.
			j.logger.Warn("job not finished; asking for it again later", "job", ex.JobID, "error", err, "retry_in", jobRetryAfter.String())
			retry = time.After(jobRetryAfter)
			continue
		}
		askNext = true
		j.signal(j.wake)
	}
}

// pending reports whether ex is an execution to handle: queued or in
// progress, and not handled already.
func (j *jobsClient) pending(ex protocol.JobExecution) bool {
	if ex.Status != "" && ex.Status != protocol.JobQueued && ex.Status != protocol.JobInProgress {
		return false
	}
	if !protocol.IsValidJobID(ex.JobID) {
		j.logger.Warn("job with an invalid id ignored", "job", clipString(ex.JobID, 70))
		return false
	}
	key := ex.JobID + "/" + strconv.FormatInt(ex.ExecutionNumber, 10)
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, f := range j.finished {
		if f == key {
			return false
		}
	}
	return true
}

func (j *jobsClient) setState(st updateState, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.st, j.hasState = st, ok
}

// sendReport sends the result an update left, then forgets it.
func (j *jobsClient) sendReport(ctx context.Context) error {
	st := j.st
	r := &jobRun{j: j, ex: protocol.JobExecution{JobID: st.JobID, ExecutionNumber: st.ExecutionNumber}, version: st.VersionNumber}
	err := r.update(ctx, st.Status, st.Details)
	switch {
	case errors.Is(err, errJobOver):
		j.logger.Warn("update result not taken: the job ended in Hearth meanwhile", "job", st.JobID, "status", st.Status, "error", err)
	case errors.Is(err, errRefused):
		j.logger.Error("update result refused by hearth; dropped", "job", st.JobID, "status", st.Status, "error", err)
	case err != nil:
		return err
	default:
		j.logger.Info("update result reported", "job", st.JobID, "status", st.Status, "version", st.Version)
	}
	j.remember(st.JobID, st.ExecutionNumber)
	if err := removeUpdateState(j.update.dir); err != nil {
		j.logger.Error("update state not removed", "error", err)
	}
	j.setState(updateState{}, false)
	return nil
}

func (j *jobsClient) remember(jobID string, execution int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.finished = append(j.finished, jobID+"/"+strconv.FormatInt(execution, 10))
	if len(j.finished) > finishedKept {
		j.finished = j.finished[len(j.finished)-finishedKept:]
	}
}

// handle runs one execution by its document's operation. A job canceled
// or removed while it runs is noticed from a notification that names
// another job, and stops it.
func (j *jobsClient) handle(ctx context.Context, ex protocol.JobExecution) (*Restart, error) {
	r := &jobRun{j: j, ex: ex, version: ex.VersionNumber}
	if len(ex.JobDocument) == 0 {
		fresh, err := r.describe(ctx)
		if err != nil {
			return nil, err
		}
		r.ex, r.version = fresh, fresh.VersionNumber
	}
	j.mu.Lock()
	j.busy = ex.JobID
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		j.busy = ""
		j.mu.Unlock()
	}()
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go j.watch(jctx, cancel, r)

	op, err := jobOperation(r.ex.JobDocument)
	j.logger.Info("job received", "job", ex.JobID, "execution", ex.ExecutionNumber, "operation", op)
	var rs *Restart
	switch {
	case err != nil:
		err = r.finish(jctx, protocol.JobRejected, map[string]string{"reason": detail(err.Error())})
	case op == OpUpdateAgent:
		rs, err = j.update.run(jctx, r)
	case op == OpModbusMap:
		err = j.maps.run(jctx, r)
	default:
		err = r.finish(jctx, protocol.JobRejected, map[string]string{
			"reason": detail(fmt.Sprintf("operation %q is not one this agent takes; it takes %s and %s", clipString(op, 60), OpUpdateAgent, OpModbusMap)),
		})
	}
	if cause := context.Cause(jctx); err != nil && errors.Is(cause, errJobOver) {
		err = cause
	}
	switch {
	case rs != nil:
	case errors.Is(err, errJobOver):
		j.logger.Info("job ended in Hearth while the agent worked on it", "job", ex.JobID, "error", err)
		j.remember(ex.JobID, ex.ExecutionNumber)
	case errors.Is(err, errRefused):
		// Sending it again would be refused again.
		j.logger.Error("job status refused by hearth; the job is left", "job", ex.JobID, "error", err)
		j.remember(ex.JobID, ex.ExecutionNumber)
	case err == nil:
		j.remember(ex.JobID, ex.ExecutionNumber)
	}
	return rs, err
}

// watch checks the job under way whenever a notification names another
// job (or none), and stops it when Hearth says it is over.
func (j *jobsClient) watch(ctx context.Context, cancel context.CancelCauseFunc, r *jobRun) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-j.recheck:
		}
		_, err := r.describe(ctx)
		if errors.Is(err, errJobOver) {
			cancel(err)
			return
		}
	}
}

// jobRun is one execution being handled, and how to tell Hearth about it.
type jobRun struct {
	j  *jobsClient
	ex protocol.JobExecution
	// mu makes updates (the handler's, a download's progress) one at a
	// time, each with the version the one before left.
	mu      sync.Mutex
	version int64 // the execution's versionNumber last known
}

// update sets the execution's status and details, expecting the version
// last known. A VersionMismatch takes the version Hearth holds and tries
// again, unless the execution is over meanwhile (errJobOver) or already
// holds this final status (an earlier try that went through, whose reply
// was lost).
func (r *jobRun) update(ctx context.Context, status string, details map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	topic := protocol.JobRequestTopic(r.j.name, r.ex.JobID, protocol.JobsUpdate)
	for try := 1; ; try++ {
		version, execution := r.version, r.ex.ExecutionNumber
		acc, rej, err := r.j.request(ctx, topic, func(token string) any {
			req := protocol.UpdateJobRequest{Status: status, StatusDetails: details, ExpectedVersion: &version,
				IncludeJobExecutionState: true, ClientToken: token}
			if execution > 0 {
				req.ExecutionNumber = &execution
			}
			return req
		})
		if err != nil {
			return err
		}
		if rej == nil {
			var resp protocol.UpdateJobResponse
			if err := json.Unmarshal(acc, &resp); err == nil && resp.ExecutionState != nil && resp.ExecutionState.VersionNumber > 0 {
				r.version = resp.ExecutionState.VersionNumber
			} else {
				r.version++
			}
			r.j.logger.Debug("job status updated", "job", r.ex.JobID, "status", status, "details", details, "version", r.version)
			return nil
		}
		es := rej.ExecutionState
		switch rej.Code {
		case protocol.JobsVersionMismatch, protocol.JobsInvalidStateTransition:
			if es == nil {
				ex, err := r.describe(ctx)
				if err != nil && !errors.Is(err, errJobOver) || ex.Status == "" {
					return err
				}
				es = &protocol.JobExecutionState{Status: ex.Status, VersionNumber: ex.VersionNumber}
			}
			switch {
			case es.Status == status && protocol.JobStatusTerminal(status):
				r.version = es.VersionNumber
				return nil
			case protocol.JobStatusTerminal(es.Status):
				return jobOver(es.Status)
			case rej.Code == protocol.JobsInvalidStateTransition:
				return fmt.Errorf("%w status %s: %s: %s", errRefused, status, rej.Code, rej.Message)
			}
			r.j.logger.Info("job status refused for a version that moved on; sending it again", "job", r.ex.JobID, "status", status,
				"code", rej.Code, "expected_version", version, "version", es.VersionNumber, "hearth_status", es.Status)
			r.version = es.VersionNumber
		case protocol.JobsTerminalStateReached, protocol.JobsResourceNotFound:
			if es != nil && es.Status != "" {
				return jobOver(es.Status)
			}
			return fmt.Errorf("%w (%s: %s)", errJobOver, rej.Code, rej.Message)
		case protocol.JobsRequestThrottled, protocol.JobsInternalError:
			if err := sleepCtx(ctx, time.Duration(try)*time.Second); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w status %s: %s: %s", errRefused, status, rej.Code, rej.Message)
		}
		if try >= jobUpdateTries {
			return fmt.Errorf("%w status %s %d times; last: %s: %s", errRefused, status, try, rej.Code, rej.Message)
		}
	}
}

// finish sets a final status and logs it.
func (r *jobRun) finish(ctx context.Context, status string, details map[string]string) error {
	if err := r.update(ctx, status, details); err != nil {
		return err
	}
	r.j.logger.Info("job finished", "job", r.ex.JobID, "status", status, "details", details)
	return nil
}

// describe asks Hearth for the execution as it stands, with its document
// (whose download link is a fresh one); errJobOver when it is gone or
// over.
func (r *jobRun) describe(ctx context.Context) (protocol.JobExecution, error) {
	execution := r.ex.ExecutionNumber
	acc, rej, err := r.j.request(ctx, protocol.JobRequestTopic(r.j.name, r.ex.JobID, protocol.JobsGet), func(token string) any {
		req := protocol.DescribeJobRequest{ClientToken: token}
		if execution > 0 {
			req.ExecutionNumber = &execution
		}
		return req
	})
	if err != nil {
		return protocol.JobExecution{}, err
	}
	if rej != nil {
		if rej.Code == protocol.JobsResourceNotFound {
			return protocol.JobExecution{}, fmt.Errorf("%w: %s", errJobOver, rej.Message)
		}
		return protocol.JobExecution{}, fmt.Errorf("describe job %s: %s: %s", r.ex.JobID, rej.Code, rej.Message)
	}
	var resp protocol.ExecutionResponse
	if err := json.Unmarshal(acc, &resp); err != nil || resp.Execution == nil {
		return protocol.JobExecution{}, fmt.Errorf("describe job %s: no execution in the answer", r.ex.JobID)
	}
	if protocol.JobStatusTerminal(resp.Execution.Status) {
		return *resp.Execution, jobOver(resp.Execution.Status)
	}
	return *resp.Execution, nil
}

// freshURL asks Hearth for the job's document again and returns its url:
// a signed link that expired is signed anew each time a document is sent.
func (r *jobRun) freshURL(ctx context.Context) (string, error) {
	ex, err := r.describe(ctx)
	if err != nil {
		return "", err
	}
	var d struct {
		URL string `json:"url"`
	}
	if err := decodeJobDoc(ex.JobDocument, &d); err != nil {
		return "", err
	}
	return downloadURL(d.URL)
}

// progress returns a download progress callback that reports to Hearth at
// most every jobProgressEvery, without holding up the download; a report
// that finds the job over stops the download through stop.
func (r *jobRun) progress(ctx context.Context, stop context.CancelCauseFunc, details func(got, total int64) map[string]string) func(got, total int64) {
	every := &progressEvery{every: jobProgressEvery, last: time.Now()}
	var sending atomic.Bool
	return func(got, total int64) {
		if !every.due() || !sending.CompareAndSwap(false, true) {
			return
		}
		d := details(got, total)
		go func() {
			defer sending.Store(false)
			if err := r.update(ctx, protocol.JobInProgress, d); errors.Is(err, errJobOver) {
				stop(err)
			}
		}()
	}
}

// progressEvery limits how often a download's progress is reported to
// Hearth.
type progressEvery struct {
	mu    sync.Mutex
	every time.Duration
	last  time.Time
}

func (p *progressEvery) due() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < p.every {
		return false
	}
	p.last = time.Now()
	return true
}
