package jobs

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// RunDue does what is due at the service's now: releases targets of the
// jobs in progress as their rollouts and windows allow, times out
// executions past their deadlines, and completes jobs with nothing left.
func (s *Service) RunDue() {
	now := s.now().UTC()
	s.mu.Lock()
	ids := make([]string, 0, len(s.active))
	for id := range s.active {
		ids = append(ids, id)
	}
	var late []execKey
	for k, at := range s.deadlines {
		if !now.Before(at) {
			late = append(late, k)
		}
	}
	s.mu.Unlock()
	slices.Sort(ids)
	for _, k := range late {
		s.timeOut(k, now)
	}
	for _, id := range ids {
		if err := s.release(id, now); err != nil {
			s.log.Error("job rollout", "job", id, "error", err)
		}
	}
}

// release gives the job's waiting targets their executions as far as its
// rate and window allow, and completes it when nothing is left.
func (s *Service) release(id string, now time.Time) error {
	j, err := s.d.Store.GetJob(id)
	if errors.Is(err, store.ErrNotFound) {
		s.mu.Lock()
		delete(s.active, id)
		s.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	if j.Status != store.JobActive {
		s.mu.Lock()
		delete(s.active, id)
		s.mu.Unlock()
		return nil
	}
	if j.Released < j.Total {
		window, count := j.RateWindow, j.RateCount
		if now.Sub(window) >= time.Minute {
			window, count = now, 0
		}
		budget := rate(j) - count
		if budget > 0 {
			var released []store.JobExecution
			j, released, err = s.d.Store.ReleaseJobTargets(id, budget, now, func(t store.JobTarget) bool {
				return s.inWindow(j.Window, t.Thing, now)
			}, func(j *store.Job, n int) {
				j.RateWindow, j.RateCount = window, count+n
				if n > 0 {
					j.UpdatedAt = now
				}
			})
			if err != nil {
				return fmt.Errorf("release targets: %w", err)
			}
			for _, e := range released {
				s.notify(e.Thing, e.JobID, nil)
			}
		}
	}
	if j.Released >= j.Total && j.Counts[protocol.JobQueued]+j.Counts[protocol.JobInProgress] == 0 {
		_, _, err := s.d.Store.ChangeJob(id, func(j *store.Job, pending []store.JobExecution, waiting int) (bool, error) {
			if j.Status != store.JobActive || len(pending) > 0 || waiting > 0 {
				return false, store.ErrUnchanged
			}
			j.Status, j.UpdatedAt, j.CompletedAt = store.JobCompleted, now, &now
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("complete: %w", err)
		}
		s.mu.Lock()
		delete(s.active, id)
		s.mu.Unlock()
		s.log.Info("job completed", "job", id, "succeeded", j.Counts[protocol.JobSucceeded], "failed", j.Counts[protocol.JobFailed],
			"rejected", j.Counts[protocol.JobRejected], "timed_out", j.Counts[protocol.JobTimedOut])
	}
	return nil
}

// inWindow reports whether a device may be given a job now: always
// without a window; within the window's hours of the device's local day,
// and while its program has it off when the window asks for that.
func (s *Service) inWindow(w *store.JobWindow, thing string, now time.Time) bool {
	if w == nil {
		return true
	}
	if w.WhenIdle {
		if s.d.Calendars == nil {
			return false
		}
		idle, ok := s.d.Calendars.Idle(thing, now)
		if !ok || !idle {
			return false
		}
	}
	if w.Start == "" {
		return true
	}
	loc := s.zone
	if w.TimeZone != "" {
		if l, err := time.LoadLocation(w.TimeZone); err == nil {
			loc = l
		}
	}
	if s.d.Calendars != nil {
		if l, ok := s.d.Calendars.Zone(thing); ok {
			loc = l
		}
	}
	start, _ := clock(w.Start)
	end, _ := clock(w.End)
	l := now.In(loc)
	m := l.Hour()*60 + l.Minute()
	if start < end {
		return start <= m && m < end
	}
	return m >= start || m < end // past midnight
}

// timeOut ends an execution whose deadline passed.
func (s *Service) timeOut(k execKey, now time.Time) {
	var aborted bool
	var before store.JobExecution
	j, e, err := s.d.Store.UpdateJobExecution(k.thing, k.job, func(j *store.Job, e *store.JobExecution) error {
		aborted, before = false, *e
		at, ok := deadline(*j, *e)
		if !ok || now.Before(at) {
			return store.ErrUnchanged
		}
		e.Status, e.LastUpdatedAt, e.StepTimeoutAt = protocol.JobTimedOut, now, nil
		e.VersionNumber++
		aborted = s.checkAbort(j, e.Status, now)
		return nil
	})
	s.mu.Lock()
	delete(s.deadlines, k)
	if err == nil && e.Status == protocol.JobInProgress {
		if at, ok := deadline(j, e); ok {
			s.deadlines[k] = at
		}
	}
	s.mu.Unlock()
	switch {
	case errors.Is(err, store.ErrUnchanged), errors.Is(err, store.ErrNotFound):
		return
	case err != nil:
		s.log.Error("job execution time-out", "job", k.job, "device", k.thing, "error", err)
		return
	}
	s.notify(k.thing, k.job, &before)
	if aborted {
		s.abort(k.job, now)
	}
}

// checkAbort applies the job's abort criteria once an execution reached a
// terminal status (status, not yet counted in j.Counts): the first
// criterion met cancels the job. It reports whether it did.
func (s *Service) checkAbort(j *store.Job, status string, now time.Time) bool {
	if j.Status != store.JobActive || len(j.Abort) == 0 {
		return false
	}
	count := func(st string) int {
		n := j.Counts[st]
		if st == status {
			n++
		}
		return n
	}
	executed := count(protocol.JobSucceeded) + count(protocol.JobFailed) + count(protocol.JobRejected) + count(protocol.JobTimedOut)
	for _, a := range j.Abort {
		failures := 0
		if a.FailureType == "ALL" {
			failures = executed - count(protocol.JobSucceeded)
		} else {
			failures = count(a.FailureType)
		}
		if executed < a.MinExecuted || float64(failures)*100 < a.ThresholdPercentage*float64(executed) {
			continue
		}
		j.Status = store.JobCanceled
		j.Reason = fmt.Sprintf("aborted: %d of %d executions ended %s (%.1f%%), at or over the threshold of %g%%",
			failures, executed, a.FailureType, float64(failures)*100/float64(executed), a.ThresholdPercentage)
		j.CompletedAt, j.UpdatedAt = &now, now
		return true
	}
	return false
}

// abort finishes what checkAbort began: the queued executions are canceled
// and the waiting targets dropped.
func (s *Service) abort(id string, now time.Time) {
	var before []store.JobExecution
	j, changed, err := s.d.Store.ChangeJob(id, func(j *store.Job, pending []store.JobExecution, _ int) (bool, error) {
		before = slices.Clone(pending)
		cancelExecutions(pending, false, now)
		return true, nil
	})
	if err != nil {
		s.log.Error("job abort", "job", id, "error", err)
		return
	}
	s.mu.Lock()
	delete(s.active, id)
	s.mu.Unlock()
	s.log.Warn("job aborted", "job", id, "reason", j.Reason)
	s.ended(before, changed)
}
