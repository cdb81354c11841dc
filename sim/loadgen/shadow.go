package loadgen

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hearthiot/hearth/sim"
)

// runShadow is "loadgen shadow": devices update their classic shadows while
// an API client PATCHes their desired values, and the two round trips are
// reported.
func runShadow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, fleet, api := newFleetCommand("shadow", "replies (accepted, rejected, delta)", stderr)
	duration := fs.Duration("duration", time.Minute, "how long to send updates and PATCHes")
	updateInterval := fs.Duration("update-interval", sim.DefaultShadowUpdateInterval, "how often each device publishes a reported update")
	desiredInterval := fs.Duration("desired-interval", sim.DefaultShadowDesiredInterval, "how often each device's desired value is PATCHed through -api (0 = never)")
	apiConcurrency := fs.Int("api-concurrency", sim.DefaultAPIConcurrency, "most PATCH requests in flight")
	logger, err := fleet.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	if *updateInterval <= 0 || *desiredInterval < 0 {
		return fmt.Errorf("shadow: -update-interval must be positive and -desired-interval not negative")
	}
	if *desiredInterval > 0 && api.url == "" {
		return fmt.Errorf("shadow: -api is required to PATCH desired values (or -desired-interval 0)")
	}
	creds, tlsConf, err := fleet.load("shadow")
	if err != nil {
		return err
	}
	apiCfg, err := api.config()
	if err != nil {
		return err
	}
	apiCfg.Concurrency = *apiConcurrency
	cfg := sim.ShadowLoadConfig{
		Broker:             fleet.broker.addr,
		TLS:                tlsConf,
		Devices:            creds,
		Duration:           *duration,
		ConnectConcurrency: fleet.connectConcurrency,
		KeepAlive:          fleet.keepAlive,
		ConnectTimeout:     fleet.connectTimeout,
		DrainTimeout:       fleet.drain,
		Progress:           fleet.progress,
		UpdateInterval:     *updateInterval,
		API:                apiCfg,
		DesiredInterval:    *desiredInterval,
	}
	if *desiredInterval == 0 {
		cfg.DesiredInterval = -1
	}
	var res sim.ShadowLoadResult
	var runErr error
	used := measure(func() { res, runErr = sim.RunShadowLoad(ctx, cfg, logger) })
	if runErr != nil && res.Connected == 0 {
		return runErr
	}
	out := shadowReport{ShadowLoadResult: res, Devices: len(creds), UpdateInterval: *updateInterval, DesiredInterval: *desiredInterval, cost: used}
	if err := out.print(stdout, fleet.asJSON); err != nil {
		return err
	}
	return runErr
}

// shadowReport is what shadow prints.
type shadowReport struct {
	sim.ShadowLoadResult
	Devices         int
	UpdateInterval  time.Duration
	DesiredInterval time.Duration
	cost
}

func (r shadowReport) print(w io.Writer, asJSON bool) error {
	if asJSON {
		return printJSON(w, r)
	}
	fmt.Fprintf(w, "devices      %d connected, %d failed to connect, %d dropped (connect took %v)\n",
		r.Connected, r.ConnectFailed, r.Dropped, r.ConnectTime.Round(time.Millisecond))
	fmt.Fprintf(w, "updates      every %v per device: %d sent, %d accepted, %d rejected, %d missing in %v = %.0f/s\n",
		r.UpdateInterval, r.Updates.Sent, r.Updates.Answered, r.Updates.Failed, r.Updates.Missing,
		r.Elapsed.Round(time.Millisecond), r.Updates.PerSec)
	printRoundTrips(w, "update → accepted", r.Updates)
	if r.DesiredInterval > 0 {
		fmt.Fprintf(w, "desired      every %v per device: %d PATCHes, %d deltas received, %d failed, %d missing = %.0f/s\n",
			r.DesiredInterval, r.Desired.Sent, r.Desired.Answered, r.Desired.Failed, r.Desired.Missing, r.Desired.PerSec)
		printRoundTrips(w, "PATCH → delta", r.Desired)
	}
	if r.OtherDeltas > 0 {
		fmt.Fprintf(w, "other deltas %d (pending from before the run, or from other writers)\n", r.OtherDeltas)
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error  %s\n", r.FirstError)
	}
	r.cost.print(w)
	return nil
}

func printRoundTrips(w io.Writer, what string, rt sim.RoundTrips) {
	us := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	fmt.Fprintf(w, "  %-18s p50 %v  p90 %v  p99 %v  max %v\n", what, us(rt.P50), us(rt.P90), us(rt.P99), us(rt.Max))
}
