package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hearthiot/hearth/sim"
)

// runJobs is "loadgen jobs": devices that take jobs, one job sent to all
// of them through -api, and how long until every execution ended.
func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, fleet, api := newFleetCommand("jobs", "job results", stderr)
	jobID := fs.String("job-id", "", "the job's id (default: load-UNIXTIME)")
	document := fs.String("document", `{"operation":"benchmark"}`, "the job's document (JSON)")
	artifact := fs.String("url", "", "a file for every device to download: its https link, added to the document as url")
	sum := fs.String("sha256", "", "with -url: the file's SHA-256, added to the document")
	downloadMax := fs.Int64("download-max", 64<<20, "most bytes a device downloads of -url")
	perMinute := fs.Int("rate", 0, "the job's rollout: devices released a minute (0 = all at once)")
	customer := fs.String("customer", "", "target this customer's devices, which -creds must hold all of, instead of naming each (needed past a few thousand)")
	failureRate := fs.Float64("failure-rate", 0, "share of executions, 0 to 1, the devices end FAILED")
	jobDuration := fs.Duration("job-duration", time.Second, "how long a device works on the job")
	timeout := fs.Duration("timeout", 10*time.Minute, "most time to wait for the devices to connect, and again for every execution to end")
	logger, err := fleet.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	if api.url == "" {
		return fmt.Errorf("jobs: -api is required to create the job")
	}
	if *failureRate < 0 || *failureRate > 1 || *jobDuration < 0 || *perMinute < 0 || *timeout <= 0 {
		return fmt.Errorf("jobs: -failure-rate must be 0 to 1, -job-duration and -rate not negative, -timeout positive")
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(*document), &doc); err != nil || doc == nil {
		return fmt.Errorf("jobs: -document is not a JSON object: %v", err)
	}
	if *artifact != "" {
		doc["url"] = *artifact
		if *sum != "" {
			doc["sha256"] = *sum
		}
	}
	docJSON, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if *jobID == "" {
		*jobID = fmt.Sprintf("load-%d", time.Now().Unix())
	}
	creds, tlsConf, err := fleet.load("jobs")
	if err != nil {
		return err
	}
	apiCfg, err := api.config()
	if err != nil {
		return err
	}
	cfg := sim.JobsLoadConfig{
		Broker: fleet.broker.addr, TLS: tlsConf, Devices: creds,
		ConnectConcurrency: fleet.connectConcurrency, KeepAlive: fleet.keepAlive, ConnectTimeout: fleet.connectTimeout,
		API: apiCfg, JobID: *jobID, Document: docJSON, Customer: *customer, MaximumPerMinute: *perMinute,
		FailureRate: *failureRate, Duration: *jobDuration, Timeout: *timeout, Progress: fleet.progress,
	}
	if *artifact != "" {
		cfg.DownloadMax = *downloadMax
	}
	var res sim.JobsLoadResult
	var runErr error
	used := measure(func() { res, runErr = sim.RunJobsLoad(ctx, cfg, logger) })
	if runErr != nil && res.Connected == 0 {
		return runErr
	}
	out := jobsReport{JobsLoadResult: res, JobID: *jobID, FailureRate: *failureRate, JobDuration: *jobDuration, cost: used}
	if runErr != nil {
		out.Error = runErr.Error()
	}
	if err := out.print(stdout, fleet.asJSON); err != nil {
		return err
	}
	return runErr
}

// jobsReport is what jobs prints.
type jobsReport struct {
	sim.JobsLoadResult
	JobID       string
	FailureRate float64
	JobDuration time.Duration
	Error       string `json:",omitempty"`
	cost
}

func (r jobsReport) print(w io.Writer, asJSON bool) error {
	if asJSON {
		return printJSON(w, r)
	}
	fmt.Fprintf(w, "devices      %d of %d connected in %v\n", r.Connected, r.Devices, r.ConnectTime.Round(time.Millisecond))
	var counts []string
	for _, s := range slices.Sorted(maps.Keys(r.Counts)) {
		if r.Counts[s] > 0 {
			counts = append(counts, fmt.Sprintf("%s %d", s, r.Counts[s]))
		}
	}
	fmt.Fprintf(w, "job          %s: %s (%d failures expected at %v)\n", r.JobID, strings.Join(counts, ", "), r.ExpectedFailed, r.FailureRate)
	fmt.Fprintf(w, "rollout      every execution ended %v after the job was created = %.0f executions/s (each device works %v)\n",
		r.Elapsed.Round(time.Millisecond), r.PerSec, r.JobDuration)
	if r.Fleet.Downloads > 0 || r.Fleet.DownloadFailures > 0 {
		fmt.Fprintf(w, "downloads    %d (%d MiB), %d failed\n", r.Fleet.Downloads, r.Fleet.DownloadBytes>>20, r.Fleet.DownloadFailures)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "error        %s\n", r.Error)
	}
	r.cost.print(w)
	return nil
}
