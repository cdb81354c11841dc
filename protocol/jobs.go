package protocol

import (
	"encoding/json"
	"strings"
)

// Jobs: AWS IoT Jobs' device MQTT API, topic for topic and field for
// field. A device asks on a request topic and is answered on the same
// topic plus "/accepted" or "/rejected"; the server tells it of new work
// on …/jobs/notify and …/jobs/notify-next. Times are Unix seconds, as AWS
// sends them.

// Job operations: the last level of a request topic.
const (
	JobsGet       = "get"        // $aws/things/{thing}/jobs/get, and …/jobs/{jobId}/get
	JobsStartNext = "start-next" // $aws/things/{thing}/jobs/start-next
	JobsUpdate    = "update"     // $aws/things/{thing}/jobs/{jobId}/update
	// JobsNext stands for the device's next pending job in …/jobs/$next/get.
	JobsNext = "$next"
)

// Job execution statuses.
const (
	JobQueued     = "QUEUED"
	JobInProgress = "IN_PROGRESS"
	JobSucceeded  = "SUCCEEDED"
	JobFailed     = "FAILED"
	JobTimedOut   = "TIMED_OUT"
	JobRejected   = "REJECTED"
	JobRemoved    = "REMOVED"
	JobCanceled   = "CANCELED"
)

// JobStatusTerminal reports whether an execution in status s is over.
func JobStatusTerminal(s string) bool {
	switch s {
	case JobSucceeded, JobFailed, JobTimedOut, JobRejected, JobRemoved, JobCanceled:
		return true
	}
	return false
}

// The codes of a rejected job request, as AWS names them.
const (
	JobsInvalidTopic           = "InvalidTopic"
	JobsInvalidJSON            = "InvalidJson"
	JobsInvalidRequest         = "InvalidRequest"
	JobsInvalidStateTransition = "InvalidStateTransition"
	JobsResourceNotFound       = "ResourceNotFound"
	JobsVersionMismatch        = "VersionMismatch"
	JobsInternalError          = "InternalError"
	JobsRequestThrottled       = "RequestThrottled"
	JobsTerminalStateReached   = "TerminalStateReached"
)

// JobsTopic is the prefix of a device's job topics: "$aws/things/{thing}/jobs".
func JobsTopic(thing string) string { return PrefixAWS + "/" + thing + "/jobs" }

// JobsNotifyTopic is where a device is told that its list of pending
// executions changed (JobsNotify).
func JobsNotifyTopic(thing string) string { return JobsTopic(thing) + "/notify" }

// JobsNotifyNextTopic is where a device is told that its next pending
// execution changed (JobsNotifyNext).
func JobsNotifyNextTopic(thing string) string { return JobsTopic(thing) + "/notify-next" }

// JobRequestTopic is the topic of a request: op alone for the requests
// about all of a device's jobs (jobs/get, jobs/start-next), or about one
// job when jobID is set (jobs/{jobId}/get, jobs/{jobId}/update).
func JobRequestTopic(thing, jobID, op string) string {
	if jobID == "" {
		return JobsTopic(thing) + "/" + op
	}
	return JobsTopic(thing) + "/" + jobID + "/" + op
}

// JobRequest is a device's job request topic, parsed.
type JobRequest struct {
	JobID string // "" for jobs/get and jobs/start-next; may be JobsNext
	Op    string // JobsGet, JobsStartNext or JobsUpdate
}

// ParseJobRequest parses a job request topic of thing: jobs/get,
// jobs/start-next, jobs/{jobId}/get or jobs/{jobId}/update. ok is false for
// any other topic, including the replies and notifications.
func ParseJobRequest(thing, topic string) (r JobRequest, ok bool) {
	rest, found := strings.CutPrefix(topic, JobsTopic(thing)+"/")
	if !found || !IsValidName(thing) {
		return r, false
	}
	first, op, two := strings.Cut(rest, "/")
	if !two {
		switch first {
		case JobsGet, JobsStartNext:
			return JobRequest{Op: first}, true
		}
		return r, false
	}
	if op != JobsGet && op != JobsUpdate {
		return r, false
	}
	if first == JobsNext {
		return JobRequest{JobID: first, Op: op}, op == JobsGet
	}
	return JobRequest{JobID: first, Op: op}, IsValidJobID(first)
}

// JobExecution is one job's execution on one device, as requests answer
// and notify-next sends it.
type JobExecution struct {
	JobID                            string            `json:"jobId"`
	ThingName                        string            `json:"thingName"`
	JobDocument                      json.RawMessage   `json:"jobDocument,omitempty"`
	Status                           string            `json:"status"`
	StatusDetails                    map[string]string `json:"statusDetails,omitempty"`
	QueuedAt                         int64             `json:"queuedAt"`
	StartedAt                        int64             `json:"startedAt,omitempty"`
	LastUpdatedAt                    int64             `json:"lastUpdatedAt"`
	ApproximateSecondsBeforeTimedOut int64             `json:"approximateSecondsBeforeTimedOut,omitempty"`
	VersionNumber                    int64             `json:"versionNumber"`
	ExecutionNumber                  int64             `json:"executionNumber"`
}

// JobExecutionSummary is an execution in a list: jobs/get's answer and
// notify's message.
type JobExecutionSummary struct {
	JobID           string `json:"jobId"`
	QueuedAt        int64  `json:"queuedAt"`
	StartedAt       int64  `json:"startedAt,omitempty"`
	LastUpdatedAt   int64  `json:"lastUpdatedAt"`
	VersionNumber   int64  `json:"versionNumber"`
	ExecutionNumber int64  `json:"executionNumber"`
}

// JobExecutionState is an execution's state in an update's answer and in
// a rejection.
type JobExecutionState struct {
	Status        string            `json:"status"`
	StatusDetails map[string]string `json:"statusDetails,omitempty"`
	VersionNumber int64             `json:"versionNumber"`
}

// GetPendingJobsRequest is the body of jobs/get.
type GetPendingJobsRequest struct {
	ClientToken string `json:"clientToken,omitempty"`
}

// GetPendingJobsResponse answers jobs/get on jobs/get/accepted.
type GetPendingJobsResponse struct {
	InProgressJobs []JobExecutionSummary `json:"inProgressJobs"`
	QueuedJobs     []JobExecutionSummary `json:"queuedJobs"`
	Timestamp      int64                 `json:"timestamp"`
	ClientToken    string                `json:"clientToken,omitempty"`
}

// StartNextRequest is the body of jobs/start-next.
type StartNextRequest struct {
	StatusDetails        map[string]string `json:"statusDetails,omitempty"`
	StepTimeoutInMinutes *int64            `json:"stepTimeoutInMinutes,omitempty"`
	ClientToken          string            `json:"clientToken,omitempty"`
}

// DescribeJobRequest is the body of jobs/{jobId}/get. IncludeJobDocument
// defaults to true.
type DescribeJobRequest struct {
	ExecutionNumber    *int64 `json:"executionNumber,omitempty"`
	IncludeJobDocument *bool  `json:"includeJobDocument,omitempty"`
	ClientToken        string `json:"clientToken,omitempty"`
}

// ExecutionResponse answers jobs/start-next and jobs/{jobId}/get; without
// an execution when the device has nothing pending.
type ExecutionResponse struct {
	Execution   *JobExecution `json:"execution,omitempty"`
	Timestamp   int64         `json:"timestamp"`
	ClientToken string        `json:"clientToken,omitempty"`
}

// UpdateJobRequest is the body of jobs/{jobId}/update.
type UpdateJobRequest struct {
	Status                   string            `json:"status"`
	StatusDetails            map[string]string `json:"statusDetails,omitempty"`
	ExpectedVersion          *int64            `json:"expectedVersion,omitempty"`
	ExecutionNumber          *int64            `json:"executionNumber,omitempty"`
	IncludeJobExecutionState bool              `json:"includeJobExecutionState,omitempty"`
	IncludeJobDocument       bool              `json:"includeJobDocument,omitempty"`
	StepTimeoutInMinutes     *int64            `json:"stepTimeoutInMinutes,omitempty"`
	ClientToken              string            `json:"clientToken,omitempty"`
}

// UpdateJobResponse answers jobs/{jobId}/update on …/update/accepted.
type UpdateJobResponse struct {
	ExecutionState *JobExecutionState `json:"executionState,omitempty"`
	JobDocument    json.RawMessage    `json:"jobDocument,omitempty"`
	Timestamp      int64              `json:"timestamp"`
	ClientToken    string             `json:"clientToken,omitempty"`
}

// JobsError is the body of every …/rejected reply. ExecutionState is set
// for VersionMismatch and InvalidStateTransition, so the device need not
// ask again.
type JobsError struct {
	Code           string             `json:"code"`
	Message        string             `json:"message"`
	ClientToken    string             `json:"clientToken,omitempty"`
	Timestamp      int64              `json:"timestamp"`
	ExecutionState *JobExecutionState `json:"executionState,omitempty"`
}

// JobsNotify is the message on jobs/notify: the device's pending
// executions, by status (QUEUED, IN_PROGRESS), each list empty or absent
// when there are none.
type JobsNotify struct {
	Timestamp int64                            `json:"timestamp"`
	Jobs      map[string][]JobExecutionSummary `json:"jobs"`
}

// JobsNotifyNext is the message on jobs/notify-next: the device's next
// pending execution with its document, or no execution when it has none
// left.
type JobsNotifyNext struct {
	Timestamp int64         `json:"timestamp"`
	Execution *JobExecution `json:"execution,omitempty"`
}

// IsValidJobID reports whether id may name a job: 1 to 64 ASCII letters,
// digits, "-" and "_", as AWS IoT allows, and not JobsNext.
func IsValidJobID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
