package sim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/hearthiot/hearth/protocol"
)

// JobsLoadConfig is a run of RunJobsLoad: devices that take jobs, and the
// job sent to all of them through the API.
type JobsLoadConfig struct {
	Broker             string
	TLS                *tls.Config
	Devices            []Credentials
	ConnectConcurrency int
	KeepAlive          time.Duration
	ConnectTimeout     time.Duration
	// API creates the job and reads its counts.
	API APIClientConfig
	// JobID names the job; Document is its document.
	JobID    string
	Document json.RawMessage
	// Customer, when set, makes the job's targets the customer's devices
	// instead of a list of the devices' names, which the API takes only
	// up to a few thousand devices; Devices must then be all of them.
	Customer string
	// MaximumPerMinute is the job's rollout rate; 0 releases every
	// target at once.
	MaximumPerMinute int
	// FailureRate, Duration and DownloadMax are the devices' job
	// behaviour (FleetConfig's JobFailureRate, JobDuration,
	// JobDownloadMax).
	FailureRate float64
	Duration    time.Duration
	DownloadMax int64
	// Timeout bounds the wait for every execution to end.
	Timeout time.Duration
	// Progress, when positive, logs the job's counts that often.
	Progress time.Duration
}

// JobsLoadResult is what a jobs run measured.
type JobsLoadResult struct {
	Devices, Connected int
	ConnectTime        time.Duration
	// Counts are the job's executions by status when the run ended, as
	// Hearth counts them; ExpectedFailed is how many JobFails said would
	// fail.
	Counts         map[string]int
	ExpectedFailed int
	// Elapsed runs from the job's creation to the end of its last
	// execution (or to the timeout); PerSec is executions ended per
	// second over it.
	Elapsed time.Duration
	PerSec  float64
	// Fleet is what the devices counted: jobs started and ended,
	// downloads.
	Fleet FleetStats
}

// jobCounts is what GET /api/v1/jobs/{id} says of a job.
type jobCounts struct {
	Status string         `json:"status"`
	Counts map[string]int `json:"counts"`
	Total  int            `json:"total"`
}

// RunJobsLoad connects the devices as a fleet that takes jobs, creates one
// job for all of them through the API once they are connected, and waits
// until every execution ended, measuring how long the rollout took: a
// benchmark of a job sent to thousands of devices. The devices send
// telemetry once an hour only, so the job is what loads Hearth.
func RunJobsLoad(ctx context.Context, cfg JobsLoadConfig, logger *slog.Logger) (JobsLoadResult, error) {
	res := JobsLoadResult{Devices: len(cfg.Devices)}
	if cfg.JobID == "" || !protocol.IsValidJobID(cfg.JobID) {
		return res, fmt.Errorf("jobs load: job id %q is not one (letters, digits, - and _, at most 64)", cfg.JobID)
	}
	if len(cfg.Document) == 0 || !json.Valid(cfg.Document) {
		return res, errors.New("jobs load: the job document is not JSON")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	devices := make([]FleetDevice, len(cfg.Devices))
	names := make([]string, len(cfg.Devices))
	for i, c := range cfg.Devices {
		devices[i] = FleetDevice{Credentials: c, Kind: KindIAQ, Seed: uint64(i + 1)}
		names[i] = c.Name
		if JobFails(devices[i].Seed, cfg.JobID, cfg.FailureRate) {
			res.ExpectedFailed++
		}
	}
	began := time.Now()
	fleet, err := StartFleet(ctx, FleetConfig{
		Broker: cfg.Broker, TLS: cfg.TLS, Devices: devices, Interval: time.Hour,
		KeepAlive: cfg.KeepAlive, ConnectTimeout: cfg.ConnectTimeout, ConnectConcurrency: cfg.ConnectConcurrency,
		JobFailureRate: cfg.FailureRate, JobDuration: cfg.Duration, JobDownloadMax: cfg.DownloadMax,
	}, logger)
	if err != nil {
		return res, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		fleet.Stop(stopCtx)
	}()
	// Every device connected, or as many as will within the timeout.
	connectBy := time.Now().Add(cfg.Timeout)
	for fleet.Stats().Connected < len(devices) && time.Now().Before(connectBy) {
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return res, err
		}
	}
	res.Connected, res.ConnectTime = fleet.Stats().Connected, time.Since(began)
	logger.Info("devices connected", "connected", res.Connected, "devices", len(devices), "took", res.ConnectTime.Round(time.Millisecond))

	hc := cfg.API.client()
	targets := map[string]any{"devices": names}
	if cfg.Customer != "" {
		targets = map[string]any{"customers": []string{cfg.Customer}}
	}
	body := map[string]any{"id": cfg.JobID, "targets": targets, "document": cfg.Document}
	if cfg.MaximumPerMinute > 0 {
		body["rollout"] = map[string]any{"maximum_per_minute": cfg.MaximumPerMinute}
	}
	if _, err := cfg.API.do(ctx, hc, http.MethodPost, "/api/v1/jobs", body, nil, http.StatusCreated); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge {
			return res, fmt.Errorf("create the job: %w; name the devices' customer instead of %d devices", err, len(names))
		}
		return res, fmt.Errorf("create the job: %w", err)
	}
	created := time.Now()
	var tick <-chan time.Time
	if cfg.Progress > 0 {
		t := time.NewTicker(cfg.Progress)
		defer t.Stop()
		tick = t.C
	}
	deadline := time.NewTimer(cfg.Timeout)
	defer deadline.Stop()
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	path := "/api/v1/jobs/" + url.PathEscape(cfg.JobID)
	var job jobCounts
	for {
		if _, err := cfg.API.do(ctx, hc, http.MethodGet, path, nil, &job, http.StatusOK); err != nil {
			return res, fmt.Errorf("read the job: %w", err)
		}
		ended := 0
		for status, n := range job.Counts {
			if protocol.JobStatusTerminal(status) {
				ended += n
			}
		}
		res.Counts, res.Elapsed, res.Fleet = job.Counts, time.Since(created), fleet.Stats()
		if job.Total > 0 && ended == job.Total {
			break
		}
		if job.Total > len(devices) {
			return res, fmt.Errorf("jobs load: the job targets %d devices, more than the %d simulated", job.Total, len(devices))
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-deadline.C:
			return res, fmt.Errorf("jobs load: %d of %d executions ended within %s", ended, job.Total, cfg.Timeout)
		case <-tick:
			logger.Info("job", "ended", ended, "total", job.Total, "counts", job.Counts, "fleet", res.Fleet.String())
		case <-poll.C:
		}
	}
	if s := res.Elapsed.Seconds(); s > 0 {
		res.PerSec = float64(job.Total) / s
	}
	return res, nil
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
