package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Jobs: work sent to devices, each device's part an execution, as AWS IoT
// Jobs has them. A job's targets are resolved when it is created; each
// waits in the job's queue until the rollout releases it, which gives the
// device an execution. The job keeps the count of its executions by status,
// changed in the same transaction as the executions, so a job's progress
// and its abort criteria read one record.
const (
	bucketJobs        = "jobs"            // id → Job
	bucketJobExecs    = "job_executions"  // thing \x00 job id → JobExecution
	bucketJobExecsIdx = "job_exec_by_job" // job id \x00 thing → nil
	bucketJobQueue    = "job_queue"       // job id \x00 8-byte position → JobTarget
)

// Job statuses.
const (
	JobActive    = "IN_PROGRESS"
	JobCompleted = "COMPLETED"
	JobCanceled  = "CANCELED"
)

// Job is a document sent to a set of devices, and how it is rolled out.
type Job struct {
	ID          string          `json:"id"`
	Description string          `json:"description,omitempty"`
	Document    json.RawMessage `json:"document"`
	Targets     JobTargets      `json:"targets"`
	Rollout     JobRollout      `json:"rollout"`
	Abort       []JobAbort      `json:"abort,omitempty"`
	// TimeoutMinutes ends an execution in progress for longer (TIMED_OUT);
	// 0: no limit.
	TimeoutMinutes int64          `json:"timeout_minutes,omitempty"`
	Window         *JobWindow     `json:"maintenance_window,omitempty"`
	Status         string         `json:"status"`
	Reason         string         `json:"reason,omitempty"` // why it was canceled
	Counts         map[string]int `json:"counts"`           // executions by status
	Total          int            `json:"total"`            // targets
	Released       int            `json:"released"`         // targets given an execution
	RateWindow     time.Time      `json:"rate_window"`      // the rollout's current minute
	RateCount      int            `json:"rate_count"`       // released in it
	Customers      []string       `json:"customers"`        // of the targeted devices
	CreatedAt      time.Time      `json:"created_at"`
	CreatedBy      string         `json:"created_by,omitempty"`
	UpdatedAt      time.Time      `json:"updated_at"`
	CompletedAt    *time.Time     `json:"completed_at,omitempty"`
}

// JobTargets names what a job goes to; a device matching any is a target.
// Sites are "customer/site", or a site name alone when only one customer
// has a site of that name.
type JobTargets struct {
	Devices     []string `json:"devices,omitempty"`
	Sites       []string `json:"sites,omitempty"`
	DeviceTypes []string `json:"device_types,omitempty"`
	Customers   []string `json:"customers,omitempty"`
}

// JobRollout is how fast targets are released: at most MaximumPerMinute a
// minute (0: all at once), or from BaseRatePerMinute growing by
// IncrementFactor after every IncreaseEvery notified (or, with
// IncreaseOnSucceeded, succeeded) devices, up to MaximumPerMinute when set.
type JobRollout struct {
	MaximumPerMinute    int     `json:"maximum_per_minute,omitempty"`
	BaseRatePerMinute   int     `json:"base_rate_per_minute,omitempty"`
	IncrementFactor     float64 `json:"increment_factor,omitempty"`
	IncreaseEvery       int     `json:"increase_every,omitempty"`
	IncreaseOnSucceeded bool    `json:"increase_on_succeeded,omitempty"`
}

// JobAbort cancels the job once at least MinExecuted executions ended and
// ThresholdPercentage of them or more ended in FailureType (FAILED,
// REJECTED, TIMED_OUT, or ALL of those).
type JobAbort struct {
	FailureType         string  `json:"failure_type"`
	ThresholdPercentage float64 `json:"threshold_percentage"`
	MinExecuted         int     `json:"min_executed"`
}

// JobWindow limits releases to hours of the device's local day, Start to
// End (HH:MM; past midnight when End is before Start), in the time zone of
// the device's operating calendar, or TimeZone when it has none; with
// WhenIdle, also only while its operating program has it off.
type JobWindow struct {
	Start    string `json:"start,omitempty"`
	End      string `json:"end,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	WhenIdle bool   `json:"when_idle,omitempty"`
}

// JobTarget is a device a job goes to, with what tenancy needs.
type JobTarget struct {
	Thing    string `json:"thing"`
	Customer string `json:"customer"`
	Site     string `json:"site"`
}

// JobExecution is a job's execution on one device.
type JobExecution struct {
	JobID           string            `json:"job_id"`
	Thing           string            `json:"thing"`
	Customer        string            `json:"customer"`
	Site            string            `json:"site"`
	Status          string            `json:"status"`
	StatusDetails   map[string]string `json:"status_details,omitempty"`
	QueuedAt        time.Time         `json:"queued_at"`
	StartedAt       *time.Time        `json:"started_at,omitempty"`
	LastUpdatedAt   time.Time         `json:"last_updated_at"`
	StepTimeoutAt   *time.Time        `json:"step_timeout_at,omitempty"`
	VersionNumber   int64             `json:"version_number"`
	ExecutionNumber int64             `json:"execution_number"`
}

func jobExecKey(thing, job string) []byte { return []byte(thing + "\x00" + job) }
func jobIdxKey(job, thing string) []byte  { return []byte(job + "\x00" + thing) }

// CreateJob stores a new job and queues its targets in order; ErrExists
// when the id is taken.
func (s *Store) CreateJob(j Job, targets []JobTarget) error {
	return s.update(func(tx *bolt.Tx) error {
		jobs := tx.Bucket([]byte(bucketJobs))
		if jobs.Get([]byte(j.ID)) != nil {
			return fmt.Errorf("job %q: %w", j.ID, ErrExists)
		}
		j.Total = len(targets)
		if j.Counts == nil {
			j.Counts = map[string]int{}
		}
		q := tx.Bucket([]byte(bucketJobQueue))
		for i, t := range targets {
			if err := putJSON(q, jobQueueKey(j.ID, i), t); err != nil {
				return err
			}
		}
		return putJSON(jobs, []byte(j.ID), j)
	})
}

func jobQueueKey(job string, i int) []byte {
	k := make([]byte, 0, len(job)+9)
	k = append(k, job...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(i))
}

// GetJob reads a job.
func (s *Store) GetJob(id string) (Job, error) { return getRecord[Job](s, bucketJobs, id) }

// ListJobs reads every job, newest first.
func (s *Store) ListJobs() ([]Job, error) {
	out, err := listRecords[Job](s, bucketJobs)
	sort.SliceStable(out, func(i, k int) bool { return out[i].CreatedAt.After(out[k].CreatedAt) })
	return out, err
}

// ChangeJob changes a job in one transaction: fn gets the job, its
// executions that are not over (to change in place) and whether targets
// still wait; what fn leaves is written, the counts following the
// executions' statuses. fn returning ErrUnchanged writes nothing. It
// returns the job and the executions whose status fn changed.
func (s *Store) ChangeJob(id string, fn func(j *Job, pending []JobExecution, waiting int) (dropWaiting bool, err error)) (Job, []JobExecution, error) {
	var job Job
	var changed []JobExecution
	err := s.update(func(tx *bolt.Tx) error {
		changed = nil
		jobs, err := readJob(tx, id, &job)
		if err != nil {
			return err
		}
		execs, idx := tx.Bucket([]byte(bucketJobExecs)), tx.Bucket([]byte(bucketJobExecsIdx))
		var pending []JobExecution
		c := idx.Cursor()
		prefix := []byte(id + "\x00")
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			var e JobExecution
			if _, err := getJSON(execs, jobExecKey(string(k[len(prefix):]), id), &e); err != nil {
				return err
			}
			if e.Status == "QUEUED" || e.Status == "IN_PROGRESS" {
				pending = append(pending, e)
			}
		}
		before := make([]string, len(pending))
		for i, e := range pending {
			before[i] = e.Status
		}
		q := tx.Bucket([]byte(bucketJobQueue))
		drop, err := fn(&job, pending, countPrefix(q, prefix))
		if err != nil {
			return err
		}
		for i, e := range pending {
			if e.Status == before[i] {
				continue
			}
			job.Counts[before[i]]--
			job.Counts[e.Status]++
			if err := putJSON(execs, jobExecKey(e.Thing, id), e); err != nil {
				return err
			}
			changed = append(changed, e)
		}
		if drop {
			if err := deletePrefix(q, prefix); err != nil {
				return err
			}
		}
		return putJSON(jobs, []byte(id), job)
	})
	if errors.Is(err, ErrUnchanged) {
		return job, nil, nil
	}
	return job, changed, err
}

// ErrUnchanged tells a change function's caller that nothing is to be
// written.
var ErrUnchanged = errors.New("unchanged")

// ReleaseJobTargets gives up to n of a job's waiting targets an execution,
// in the order they were queued, skipping those allow refuses (they stay
// queued); change may then adjust the job (its rate window), told how
// many were released. It returns the job and the new executions.
func (s *Store) ReleaseJobTargets(id string, n int, at time.Time, allow func(JobTarget) bool, change func(j *Job, released int)) (Job, []JobExecution, error) {
	var job Job
	var out []JobExecution
	err := s.update(func(tx *bolt.Tx) error {
		out = nil
		jobs, err := readJob(tx, id, &job)
		if err != nil {
			return err
		}
		if job.Status != JobActive {
			return ErrUnchanged
		}
		q := tx.Bucket([]byte(bucketJobQueue))
		execs, idx := tx.Bucket([]byte(bucketJobExecs)), tx.Bucket([]byte(bucketJobExecsIdx))
		prefix := []byte(id + "\x00")
		var released [][]byte
		c := q.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < n; k, v = c.Next() {
			var t JobTarget
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("cannot decode a target of job %q: %w", id, err)
			}
			if !allow(t) {
				continue
			}
			released = append(released, bytes.Clone(k))
			e := JobExecution{
				JobID: id, Thing: t.Thing, Customer: t.Customer, Site: t.Site, Status: "QUEUED",
				QueuedAt: at, LastUpdatedAt: at, VersionNumber: 1, ExecutionNumber: 1,
			}
			if err := putJSON(execs, jobExecKey(t.Thing, id), e); err != nil {
				return err
			}
			if err := idx.Put(jobIdxKey(id, t.Thing), nil); err != nil {
				return err
			}
			out = append(out, e)
		}
		if len(out) == 0 {
			return ErrUnchanged
		}
		for _, k := range released {
			if err := q.Delete(k); err != nil {
				return err
			}
		}
		job.Released += len(out)
		job.Counts["QUEUED"] += len(out)
		if change != nil {
			change(&job, len(out))
		}
		return putJSON(jobs, []byte(id), job)
	})
	if errors.Is(err, ErrUnchanged) {
		return job, nil, nil
	}
	return job, out, err
}

// GetJobExecution reads a device's execution of a job.
func (s *Store) GetJobExecution(thing, job string) (JobExecution, error) {
	return getRecord[JobExecution](s, bucketJobExecs, string(jobExecKey(thing, job)))
}

// ThingJobExecutions reads every execution of a device, oldest queued
// first.
func (s *Store) ThingJobExecutions(thing string) ([]JobExecution, error) {
	var out []JobExecution
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[JobExecution](tx.Bucket([]byte(bucketJobExecs)), []byte(thing+"\x00"))
		return err
	})
	sort.SliceStable(out, func(i, k int) bool { return out[i].QueuedAt.Before(out[k].QueuedAt) })
	return out, err
}

// JobExecutions reads a job's executions, in device name order.
func (s *Store) JobExecutions(job string) ([]JobExecution, error) {
	var out []JobExecution
	err := s.db.View(func(tx *bolt.Tx) error {
		out = []JobExecution{}
		execs, idx := tx.Bucket([]byte(bucketJobExecs)), tx.Bucket([]byte(bucketJobExecsIdx))
		prefix := []byte(job + "\x00")
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			var e JobExecution
			if _, err := getJSON(execs, jobExecKey(string(k[len(prefix):]), job), &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// JobWaitingTargets reads the targets of a job not released yet, in order.
func (s *Store) JobWaitingTargets(job string) ([]JobTarget, error) {
	var out []JobTarget
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[JobTarget](tx.Bucket([]byte(bucketJobQueue)), []byte(job+"\x00"))
		return err
	})
	return out, err
}

// UpdateJobExecution changes a device's execution of a job and its job in
// one transaction, joined with concurrent updates into one commit: fn gets
// both and changes them in place; the job's counts follow the execution's
// status. fn returning an error writes nothing and the error is returned,
// with the execution as it was when fn returns ErrUnchanged or a refusal.
func (s *Store) UpdateJobExecution(thing, jobID string, fn func(j *Job, e *JobExecution) error) (Job, JobExecution, error) {
	var job Job
	var e JobExecution
	err := s.batch(func(tx *bolt.Tx) error {
		job, e = Job{}, JobExecution{}
		execs := tx.Bucket([]byte(bucketJobExecs))
		ok, err := getJSON(execs, jobExecKey(thing, jobID), &e)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("execution of job %q on %q: %w", jobID, thing, ErrNotFound)
		}
		jobs, err := readJob(tx, jobID, &job)
		if err != nil {
			return err
		}
		before := e.Status
		if err := fn(&job, &e); err != nil {
			return err
		}
		if e.Status != before {
			job.Counts[before]--
			job.Counts[e.Status]++
		}
		if err := putJSON(execs, jobExecKey(thing, jobID), e); err != nil {
			return err
		}
		return putJSON(jobs, []byte(jobID), job)
	})
	return job, e, err
}

// DeleteJob removes a job that is over, with its executions.
func (s *Store) DeleteJob(id string) error {
	return s.update(func(tx *bolt.Tx) error {
		var j Job
		jobs, err := readJob(tx, id, &j)
		if err != nil {
			return err
		}
		if j.Status == JobActive {
			return fmt.Errorf("job %q is in progress; cancel it first: %w", id, ErrInvalid)
		}
		execs, idx, q := tx.Bucket([]byte(bucketJobExecs)), tx.Bucket([]byte(bucketJobExecsIdx)), tx.Bucket([]byte(bucketJobQueue))
		prefix := []byte(id + "\x00")
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if err := execs.Delete(jobExecKey(string(k[len(prefix):]), id)); err != nil {
				return err
			}
		}
		if err := deletePrefix(idx, prefix); err != nil {
			return err
		}
		if err := deletePrefix(q, prefix); err != nil {
			return err
		}
		return jobs.Delete([]byte(id))
	})
}

// readJob reads job id into j in tx and returns the bucket of jobs.
func readJob(tx *bolt.Tx, id string, j *Job) (*bolt.Bucket, error) {
	jobs := tx.Bucket([]byte(bucketJobs))
	ok, err := getJSON(jobs, []byte(id), j)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	return jobs, nil
}

// createJobBuckets adds the buckets of jobs.
func createJobBuckets(tx *bolt.Tx) error {
	for _, name := range []string{bucketJobs, bucketJobExecs, bucketJobExecsIdx, bucketJobQueue} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}
