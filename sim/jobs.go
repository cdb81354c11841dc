package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/hearthiot/hearth/protocol"
)

// Simulated devices take AWS IoT jobs as firmware would: told of one on
// notify-next (or in the answer to $next/get, asked at every
// connection), they mark it IN_PROGRESS, work for FleetConfig.JobDuration,
// optionally download the file its document names, and end it SUCCEEDED
// or FAILED. Which executions fail is drawn from the device's seed and
// the job's id (JobFails), so a test or a benchmark knows the counts
// before it runs.

// DefaultJobDownloadConcurrency bounds the fleet's downloads at a time.
const DefaultJobDownloadConcurrency = 16

// jobQueue holds the execution a device is to work on next: only the
// latest one Hearth named counts.
type jobQueue struct {
	ch chan protocol.JobExecution
}

func newJobQueue() *jobQueue { return &jobQueue{ch: make(chan protocol.JobExecution, 1)} }

// offer replaces what waits with ex; it never blocks the reader.
func (q *jobQueue) offer(ex protocol.JobExecution) {
	for {
		select {
		case q.ch <- ex:
			return
		default:
		}
		select {
		case <-q.ch:
		default:
		}
	}
}

// drain drops what waits: an offer from a session that ended.
func (q *jobQueue) drain() {
	select {
	case <-q.ch:
	default:
	}
}

// JobFails reports whether a device of seed fails job jobID at the failure
// rate: the same answer every time, so that a run's counts are known
// before it.
func JobFails(seed uint64, jobID string, rate float64) bool {
	if rate <= 0 {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(jobID))
	return rand.New(rand.NewPCG(seed, h.Sum64())).Float64() < rate
}

// fleetJobs is what the devices of a fleet share for jobs: the client
// that downloads, and the bound on downloads at a time.
type fleetJobs struct {
	client *http.Client
	slots  chan struct{}
}

func newFleetJobs(cfg FleetConfig) *fleetJobs {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		tc.RootCAs = cfg.TLS.RootCAs
	}
	tr := &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: cfg.JobDownloadConcurrency,
		TLSHandshakeTimeout: 15 * time.Second, ResponseHeaderTimeout: 30 * time.Second, IdleConnTimeout: 30 * time.Second}
	return &fleetJobs{client: &http.Client{Transport: tr, Timeout: 10 * time.Minute}, slots: make(chan struct{}, cfg.JobDownloadConcurrency)}
}

// offerJob takes an execution from notify-next or $next/get/accepted.
func (d *simDevice) offerJob(payload []byte, next bool) {
	var ex *protocol.JobExecution
	if next {
		var n protocol.JobsNotifyNext
		if json.Unmarshal(payload, &n) != nil {
			return
		}
		ex = n.Execution
	} else {
		var r protocol.ExecutionResponse
		if json.Unmarshal(payload, &r) != nil {
			return
		}
		ex = r.Execution
	}
	if ex == nil || ex.Status != protocol.JobQueued && ex.Status != protocol.JobInProgress || !protocol.IsValidJobID(ex.JobID) {
		return
	}
	d.jobs.offer(*ex)
}

// workJobs works on the executions offered during one session, one at a
// time, until the session ends. A job it ended in this session is not
// taken again when a notification sent before Hearth had the result names
// it; in the next session it is, since the result may have been lost.
func (d *simDevice) workJobs(s *session, stop <-chan struct{}) {
	done := map[string]bool{}
	for {
		var ex protocol.JobExecution
		select {
		case <-stop:
			return
		case ex = <-d.jobs.ch:
		}
		key := ex.JobID + "/" + strconv.FormatInt(ex.ExecutionNumber, 10)
		if done[key] {
			continue
		}
		if err := d.workJob(s, ex, stop); err != nil {
			d.f.logger.Debug("simulated job not finished", "device", d.spec.Name, "job", ex.JobID, "error", err)
			return
		}
		done[key] = true
	}
}

// workJob runs one execution: IN_PROGRESS, the work (and download), then
// the result.
func (d *simDevice) workJob(s *session, ex protocol.JobExecution, stop <-chan struct{}) error {
	topic := protocol.JobRequestTopic(d.spec.Name, ex.JobID, protocol.JobsUpdate)
	if err := d.updateJob(s, topic, protocol.JobInProgress, map[string]string{"step": "working"}); err != nil {
		return err
	}
	d.f.jobsStarted.Add(1)
	t := time.NewTimer(d.f.cfg.JobDuration)
	select {
	case <-stop:
		t.Stop()
		return errors.New("the session ended")
	case <-t.C:
	}
	status, details := protocol.JobSucceeded, map[string]string{"result": "simulated"}
	if err := d.download(ex.JobDocument, stop); err != nil {
		status, details = protocol.JobFailed, map[string]string{"reason": clip(err.Error())}
	} else if JobFails(d.spec.Seed, ex.JobID, d.f.cfg.JobFailureRate) {
		status, details = protocol.JobFailed, map[string]string{"reason": "simulated failure"}
	}
	if err := d.updateJob(s, topic, status, details); err != nil {
		return err
	}
	if status == protocol.JobSucceeded {
		d.f.jobsSucceeded.Add(1)
	} else {
		d.f.jobsFailed.Add(1)
	}
	return nil
}

func (d *simDevice) updateJob(s *session, topic, status string, details map[string]string) error {
	b, err := json.Marshal(protocol.UpdateJobRequest{Status: status, StatusDetails: details})
	if err != nil {
		return fmt.Errorf("encode job update: %w", err)
	}
	return d.publish(s, topic, b)
}

// download fetches the file a job document names ("url"), when the fleet
// downloads, at most JobDownloadMax bytes, and checks its "sha256" when
// the whole file came.
func (d *simDevice) download(doc []byte, stop <-chan struct{}) error {
	max := d.f.cfg.JobDownloadMax
	if max <= 0 || len(doc) == 0 {
		return nil
	}
	var ref struct {
		URL    string `json:"url"`
		SHA256 string `json:"sha256"`
	}
	if json.Unmarshal(doc, &ref) != nil || ref.URL == "" {
		return nil
	}
	select {
	case d.f.jobs.slots <- struct{}{}:
	case <-stop:
		return errors.New("the session ended")
	}
	defer func() { <-d.f.jobs.slots }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref.URL, nil)
	if err != nil {
		d.f.downloadFailures.Add(1)
		return fmt.Errorf("download: %w", err)
	}
	resp, err := d.f.jobs.client.Do(req)
	if err != nil {
		d.f.downloadFailures.Add(1)
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.f.downloadFailures.Add(1)
		return fmt.Errorf("download: %s", resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(resp.Body, max))
	d.f.downloadBytes.Add(uint64(n))
	if err != nil {
		d.f.downloadFailures.Add(1)
		return fmt.Errorf("download: %w", err)
	}
	d.f.downloads.Add(1)
	whole := n < max || resp.ContentLength == n
	if want, err := hex.DecodeString(ref.SHA256); whole && err == nil && len(want) == sha256.Size && !bytes.Equal(h.Sum(nil), want) {
		return errors.New("download: the file's SHA-256 is not the job's")
	}
	return nil
}

// clip bounds a statusDetails value.
func clip(s string) string {
	if len(s) > 1000 {
		return s[:1000]
	}
	return s
}
