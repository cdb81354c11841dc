package loadgen

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hearthiot/hearth/internal/tlsfile"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/sim"
)

const usage = `usage: hearth simulate load <command> [flags]

commands:
  certs      issue a CA, a broker certificate and device credentials for a plain broker
  provision  create devices through Hearth's API and save their credentials
  run        connect devices and publish telemetry for a bounded time
  shadow     connect devices, update their shadows and PATCH desired values for a bounded time
  jobs       connect devices that take jobs, send one job to all of them, time the rollout
  count      subscribe to a topic filter and count what the broker delivers
  fresh      publish one sample at a time and time until the range API and PromQL show it
  viewers    open live pages over HTTPS as signed-in browsers, by event stream or by polling

"hearth simulate load <command> -h" lists a command's flags.`

// Run runs one loadgen command; args start with the command name.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"certs":     runCerts,
		"provision": runProvision,
		"run":       runLoad,
		"shadow":    runShadow,
		"jobs":      runJobs,
		"count":     runCount,
		"fresh":     runFresh,
		"viewers":   runViewers,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

// parse applies HEARTH_LOADGEN_* environment variables, then the command
// line, so that a flag given explicitly wins.
func parse(fs *flag.FlagSet, args []string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "HEARTH_LOADGEN_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("environment %s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// certValidity is how long the certificates "certs" issues stay valid: long
// enough to keep a directory of them for repeated runs.
const certValidity = 365 * 24 * time.Hour

func runCerts(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory to write ca.pem, ca.key, server.pem, server-key.pem, devices/ and subscriber/ into (required); a CA already there is reused")
	n := fs.Int("devices", 1000, "number of device certificates")
	prefix := fs.String("prefix", "dev", "device name prefix; devices are named PREFIX-00000, …")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "comma-separated host names and IPs of the broker certificate")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" || *n <= 0 {
		return fmt.Errorf("certs: -dir and a positive -devices are required")
	}
	authority, err := sim.LoadOrCreateCA(*dir)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := authority.IssueServer(strings.Split(*hosts, ","), certValidity)
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"server.pem": certPEM, "server-key.pem": keyPEM} {
		if err := os.WriteFile(filepath.Join(*dir, name), data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	devices := make([]sim.Credentials, *n)
	for i := range devices {
		if devices[i], err = authority.IssueCredentials(sim.DeviceName(*prefix, i), certValidity); err != nil {
			return err
		}
	}
	if err := sim.SaveCredentials(filepath.Join(*dir, "devices"), devices); err != nil {
		return err
	}
	sub, err := authority.IssueCredentials("loadgen-subscriber", certValidity)
	if err != nil {
		return err
	}
	if err := sim.SaveCredentials(filepath.Join(*dir, "subscriber"), []sim.Credentials{sub}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote CA, broker certificate and %d device credentials to %s\n", *n, *dir)
	return nil
}

// apiFlags are shared by the commands that talk to Hearth's HTTP API.
type apiFlags struct {
	url, token, ca string
}

func (a *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.url, "api", "", "Hearth's HTTPS base URL, e.g. https://127.0.0.1:8443")
	fs.StringVar(&a.token, "token", "", "API bearer token (better set as HEARTH_LOADGEN_TOKEN)")
	fs.StringVar(&a.ca, "api-ca", "", "PEM file of the CA of Hearth's HTTPS certificate (default: system roots)")
}

func (a *apiFlags) config() (sim.APIClientConfig, error) {
	cfg := sim.APIClientConfig{BaseURL: a.url, Token: a.token}
	if a.ca != "" {
		pool, err := tlsfile.CertPool(a.ca)
		if err != nil {
			return cfg, err
		}
		cfg.CA = pool
	}
	return cfg, nil
}

func runProvision(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var api apiFlags
	api.register(fs)
	creds := fs.String("creds", "", "directory to save the credentials in (required, must not hold any yet)")
	customer := fs.String("customer", "loadgen", "customer the devices belong to; created when missing")
	prefix := fs.String("prefix", "load", "device name prefix; devices are named PREFIX-00000, …")
	n := fs.Int("devices", 1000, "number of devices to create")
	typ := fs.String("type", "", "the devices' device type, which must exist (none when empty)")
	concurrency := fs.Int("concurrency", sim.DefaultAPIConcurrency, "parallel API requests")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *creds == "" || api.url == "" {
		return fmt.Errorf("provision: -creds and -api are required")
	}
	if _, err := sim.LoadCredentials(*creds); !errors.Is(err, sim.ErrNoCredentials) {
		return fmt.Errorf("provision: %q already holds credentials (or cannot be read: %v); choose another directory", *creds, err)
	}
	cfg, err := api.config()
	if err != nil {
		return err
	}
	cfg.Concurrency = *concurrency
	began := time.Now()
	list, err := sim.ProvisionDevices(ctx, cfg, sim.ProvisionSpec{Customer: *customer, Type: *typ, Prefix: *prefix, N: *n})
	if err != nil {
		return err
	}
	if err := sim.SaveCredentials(*creds, list); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %d devices for customer %q in %v; credentials in %s\n",
		len(list), *customer, time.Since(began).Round(time.Millisecond), *creds)
	return nil
}

// brokerFlags are shared by run and count.
type brokerFlags struct {
	addr, ca, serverName string
	plain                bool
}

func (b *brokerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.addr, "broker", "127.0.0.1:8883", "MQTT broker host:port")
	fs.StringVar(&b.ca, "ca", "", "PEM file of the CA of the broker's certificate (default: the CA saved with the credentials)")
	fs.StringVar(&b.serverName, "server-name", "", "name to verify in the broker's certificate (default: the host of -broker)")
	fs.BoolVar(&b.plain, "plain", false, "connect over plain TCP instead of TLS")
}

func (b *brokerFlags) tls(creds []sim.Credentials) (*tls.Config, error) {
	if b.plain {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: b.serverName}
	var err error
	if b.ca != "" {
		cfg.RootCAs, err = tlsfile.CertPool(b.ca)
	} else {
		cfg.RootCAs, err = sim.CAPool(creds)
	}
	return cfg, err
}

// fleetFlags are the flags of the commands that connect simulated
// devices: which devices, how they connect, and how the result is shown.
type fleetFlags struct {
	broker             brokerFlags
	creds              string
	devices            int
	auth               string
	connectConcurrency int
	keepAlive          time.Duration
	connectTimeout     time.Duration
	drain              time.Duration
	progress           time.Duration
	asJSON             bool
	logLevel           string
}

// newFleetCommand returns the flag set of a command that connects devices
// and may use the API, with the flags both kinds of command share;
// awaited names what -drain waits for.
func newFleetCommand(name, awaited string, stderr io.Writer) (*flag.FlagSet, *fleetFlags, *apiFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var fleet fleetFlags
	fleet.register(fs, awaited)
	var api apiFlags
	api.register(fs)
	return fs, &fleet, &api
}

// parse parses the command line and builds the logger it asks for.
func (f *fleetFlags) parse(fs *flag.FlagSet, args []string, stderr io.Writer) (*slog.Logger, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	return newLogger(stderr, f.logLevel)
}

// register adds the flags; awaited names what -drain waits for.
func (f *fleetFlags) register(fs *flag.FlagSet, awaited string) {
	f.broker.register(fs)
	fs.StringVar(&f.creds, "creds", "", "directory with saved device credentials (required)")
	fs.IntVar(&f.devices, "devices", 0, "use only the first N devices (0 = all)")
	fs.StringVar(&f.auth, "auth", "any", "credentials to present: any (whatever is saved), cert or secret")
	fs.IntVar(&f.connectConcurrency, "connect-concurrency", sim.DefaultConnectConcurrency, "devices connecting at the same time")
	fs.DurationVar(&f.keepAlive, "keepalive", sim.DefaultKeepAlive, "MQTT keepalive")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", sim.DefaultConnectTimeout, "limit for one device's connect")
	fs.DurationVar(&f.drain, "drain", sim.DefaultDrainTimeout, "how long to wait for outstanding "+awaited)
	fs.DurationVar(&f.progress, "progress", 5*time.Second, "interval of progress lines (0 = none)")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
}

// load reads the devices' credentials and the broker's TLS settings; cmd
// names the command in errors.
func (f *fleetFlags) load(cmd string) ([]sim.Credentials, *tls.Config, error) {
	if f.creds == "" {
		return nil, nil, fmt.Errorf("%s: -creds is required", cmd)
	}
	creds, err := sim.LoadCredentials(f.creds)
	if err != nil {
		return nil, nil, err
	}
	if f.devices < 0 || f.devices > len(creds) {
		return nil, nil, fmt.Errorf("%s: -devices %d, but %s holds %d", cmd, f.devices, f.creds, len(creds))
	}
	if f.devices > 0 {
		creds = creds[:f.devices]
	}
	if creds, err = selectAuth(cmd, creds, f.auth); err != nil {
		return nil, nil, err
	}
	tlsConf, err := f.broker.tls(creds)
	if err != nil {
		return nil, nil, err
	}
	return creds, tlsConf, nil
}

// cost is the load generator's own CPU time and peak memory over a run,
// so that a report shows whether the generator, not the server, was the
// limit.
type cost struct {
	CPU        time.Duration `json:",omitempty"`
	CPUPercent float64       `json:",omitempty"`
	MaxRSS     int64         `json:",omitempty"` // bytes
}

// measure runs run and returns what it cost this process.
func measure(run func()) cost {
	cpuBefore, _, ok := processUsage()
	began := time.Now()
	run()
	wall := time.Since(began)
	cpuAfter, maxRSS, _ := processUsage()
	if !ok {
		return cost{}
	}
	cpu := cpuAfter - cpuBefore
	return cost{CPU: cpu, CPUPercent: 100 * cpu.Seconds() / wall.Seconds(), MaxRSS: maxRSS}
}

func (u cost) print(w io.Writer) {
	if u.CPU > 0 {
		fmt.Fprintf(w, "loadgen cpu  %v (%.0f%% of one core over connect and run), peak memory %d MiB\n",
			u.CPU.Round(time.Millisecond), u.CPUPercent, u.MaxRSS>>20)
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, fleet, api := newFleetCommand("run", "acknowledgements", stderr)
	metrics := fs.Int("metrics", sim.DefaultMetrics, "values per message")
	rate := fs.Float64("rate", 1000, "messages per second across all devices (0 = as fast as inflight allows)")
	duration := fs.Duration("duration", 30*time.Second, "how long to publish")
	qos := fs.Int("qos", 1, "QoS of each publish (only 1 is offered)")
	inflight := fs.Int("inflight", sim.DefaultInflight, "most unacknowledged publishes per device")
	topic := fs.String("topic", protocol.TelemetryTopic("{name}"), "telemetry topic; {name} is the device name")
	customer := fs.String("customer", "", "with -api: the devices' customer, to count the samples Hearth stored during the run")
	logger, err := fleet.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	if *qos != 1 {
		return fmt.Errorf("run: -qos %d: only 1 is offered", *qos)
	}
	if !strings.Contains(*topic, "{name}") {
		return fmt.Errorf("run: -topic %q must contain {name}, or all devices would share one topic", *topic)
	}
	creds, tlsConf, err := fleet.load("run")
	if err != nil {
		return err
	}
	cfg := sim.LoadConfig{
		Broker:             fleet.broker.addr,
		TLS:                tlsConf,
		Devices:            creds,
		Metrics:            *metrics,
		Rate:               *rate,
		Duration:           *duration,
		QoS:                byte(*qos),
		Inflight:           *inflight,
		ConnectConcurrency: fleet.connectConcurrency,
		Topic:              func(d string) string { return strings.ReplaceAll(*topic, "{name}", d) },
		KeepAlive:          fleet.keepAlive,
		ConnectTimeout:     fleet.connectTimeout,
		DrainTimeout:       fleet.drain,
		Progress:           fleet.progress,
	}
	began := time.Now()
	var res sim.LoadResult
	var runErr error
	used := measure(func() { res, runErr = sim.RunLoad(ctx, cfg, logger) })
	if runErr != nil && res.Connected == 0 {
		return runErr
	}
	out := report{LoadResult: res, Devices: len(creds), Metrics: *metrics, Rate: *rate, cost: used}
	if api.url != "" && *customer != "" && runErr == nil {
		stored, err := storedSamples(ctx, *api, *customer, began, logger)
		if err != nil {
			return err
		}
		out.Stored = &stored
	}
	if err := out.print(stdout, fleet.asJSON); err != nil {
		return err
	}
	return runErr
}

// selectAuth keeps only the kind of credentials the run should present.
func selectAuth(cmd string, creds []sim.Credentials, auth string) ([]sim.Credentials, error) {
	out := make([]sim.Credentials, len(creds))
	for i, c := range creds {
		switch auth {
		case "any":
		case "cert":
			if c.Certificate == nil {
				return nil, fmt.Errorf("%s: -auth cert, but device %q has no certificate", cmd, c.Name)
			}
			c.Secret = ""
		case "secret":
			if c.Secret == "" {
				return nil, fmt.Errorf("%s: -auth secret, but device %q has no secret", cmd, c.Name)
			}
			c.Certificate = nil
		default:
			return nil, fmt.Errorf("%s: -auth %q: want any, cert or secret", cmd, auth)
		}
		out[i] = c
	}
	return out, nil
}

// storedSamples asks Hearth how many samples of customer arrived since
// began. Hearth makes new samples searchable within a few seconds, so it
// asks until the count stops growing, for at most 15 seconds.
func storedSamples(ctx context.Context, api apiFlags, customer string, began time.Time, logger *slog.Logger) (float64, error) {
	cfg, err := api.config()
	if err != nil {
		return 0, err
	}
	var last float64
	for attempt := 0; attempt < 6; attempt++ {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(2500 * time.Millisecond):
		}
		window := time.Since(began).Round(time.Second) + time.Second
		q := fmt.Sprintf(`sum(count_over_time({customer=%q}[%ds]))`, customer, int(window.Seconds()))
		samples, err := sim.Query(ctx, cfg, q, time.Time{})
		if err != nil {
			return 0, err
		}
		var n float64
		for _, s := range samples {
			n += s.Value
		}
		logger.Debug("stored samples", "query", q, "samples", n)
		if attempt > 0 && n == last {
			break
		}
		last = n
	}
	return last, nil
}

// report is what run prints.
type report struct {
	sim.LoadResult
	Devices int
	Metrics int
	Rate    float64
	cost
	Stored *float64 `json:",omitempty"`
}

func (r report) print(w io.Writer, asJSON bool) error {
	if asJSON {
		return printJSON(w, r)
	}
	fmt.Fprintf(w, "devices      %d connected, %d failed to connect, %d dropped (connect took %v)\n",
		r.Connected, r.ConnectFailed, r.Dropped, r.ConnectTime.Round(time.Millisecond))
	fmt.Fprintf(w, "messages     %d sent, %d acknowledged, %d failed in %v\n",
		r.Sent, r.Acked, r.Failed, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "throughput   %.0f msgs/s (target %.0f), %.0f samples/s at %d values per message\n",
		r.MsgsPerSec, r.Rate, r.SamplesPerSec, r.Metrics)
	fmt.Fprintf(w, "latency      p50 %v  p99 %v  max %v\n",
		r.LatencyP50.Round(time.Microsecond), r.LatencyP99.Round(time.Microsecond), r.LatencyMax.Round(time.Microsecond))
	r.cost.print(w)
	if r.Stored != nil {
		fmt.Fprintf(w, "stored       %.0f samples (acknowledged %d)\n", *r.Stored, r.Acked*uint64(r.Metrics))
	}
	return nil
}

func runCount(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("count", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var broker brokerFlags
	broker.register(fs)
	credsDir := fs.String("creds", "", "directory with saved credentials for the subscriber (first entry is used; optional)")
	filter := fs.String("filter", protocol.TelemetryTopic("+"), "topic filter to subscribe to")
	qos := fs.Int("qos", 0, "subscription QoS, 0 or 1")
	maxDuration := fs.Duration("duration", 10*time.Minute, "stop after this long at the latest")
	idle := fs.Duration("idle", 0, "stop when nothing arrived for this long after the first message (0 = never)")
	ready := fs.String("ready-file", "", "create this file once subscribed, so a script knows when to start the load")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *qos < 0 || *qos > 1 {
		return fmt.Errorf("count: -qos %d: want 0 or 1", *qos)
	}
	var opts sim.CountOptions
	opts.QoS = byte(*qos)
	var creds []sim.Credentials
	if *credsDir != "" {
		var err error
		if creds, err = sim.LoadCredentials(*credsDir); err != nil {
			return err
		}
		opts.Credentials = creds[0]
	}
	tlsConf, err := broker.tls(creds)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *maxDuration)
	defer cancel()
	counter, err := sim.Count(ctx, broker.addr, tlsConf, *filter, opts)
	if err != nil {
		return err
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, nil, 0o600); err != nil {
			counter.Close()
			return fmt.Errorf("write ready file: %w", err)
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-counter.Done():
			break wait
		case <-tick.C:
			st := counter.Stats()
			if *idle > 0 && st.Received > 0 && time.Since(st.Last) >= *idle {
				break wait
			}
		}
	}
	st, err := counter.Close()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			sim.CountStats
			PerSecond float64
		}{st, st.PerSecond()}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "delivered    %d messages, %d payload bytes on %q over %v = %.0f msgs/s\n",
			st.Received, st.Bytes, *filter, st.Last.Sub(st.First).Round(time.Millisecond), st.PerSecond())
	}
	return err
}

func runFresh(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fresh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var broker brokerFlags
	broker.register(fs)
	var api apiFlags
	api.register(fs)
	credsDir := fs.String("creds", "", "directory with saved device credentials (required)")
	device := fs.String("device", "", "the device that publishes the probes (default: the last one saved; not one a load runs as)")
	probes := fs.Int("probes", sim.DefaultFreshProbes, "samples timed of each kind (existing series, new series)")
	interval := fs.Duration("interval", sim.DefaultFreshInterval, "time between two probes")
	poll := fs.Duration("poll", sim.DefaultFreshPoll, "time between two reads of one path")
	timeout := fs.Duration("timeout", sim.DefaultFreshTimeout, "longest wait for one sample")
	metric := fs.String("metric", sim.DefaultFreshMetric, "metric of the existing series; new series are METRIC_new_<run>_<n>")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *credsDir == "" || api.url == "" {
		return fmt.Errorf("fresh: -creds and -api are required")
	}
	if *probes < 1 || *probes > 10_000 {
		return fmt.Errorf("fresh: -probes %d: from 1 to 10000", *probes)
	}
	creds, err := sim.LoadCredentials(*credsDir)
	if err != nil {
		return err
	}
	cred := creds[len(creds)-1]
	if *device != "" {
		i := slices.IndexFunc(creds, func(c sim.Credentials) bool { return c.Name == *device })
		if i < 0 {
			return fmt.Errorf("fresh: -device %q is not in %s", *device, *credsDir)
		}
		cred = creds[i]
	}
	tlsConf, err := broker.tls([]sim.Credentials{cred})
	if err != nil {
		return err
	}
	apiCfg, err := api.config()
	if err != nil {
		return err
	}
	res, err := sim.Fresh(ctx, sim.FreshConfig{
		Broker: broker.addr, TLS: tlsConf, Device: cred, API: apiCfg,
		Probes: *probes, Interval: *interval, Poll: *poll, Timeout: *timeout, Metric: *metric,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	for _, k := range []struct {
		kind  string
		stats map[string]sim.FreshStats
	}{{"existing series", res.Existing}, {"new series", res.New}} {
		for _, path := range sim.FreshPaths {
			st := k.stats[path]
			fmt.Fprintf(stdout, "%-15s %-11s p50 %6.0f ms  p99 %6.0f ms  max %6.0f ms  (%d samples, %d missed)\n", k.kind, path,
				ms(st.P50), ms(st.P99), ms(st.Max), st.Samples, st.Missed)
		}
	}
	for _, m := range res.Misses {
		fmt.Fprintf(stdout, "missed: %s\n", m)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
