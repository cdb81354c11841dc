package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hearthiot/hearth/internal/tlsfile"
	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/sim/loadgen"
	"github.com/hearthiot/hearth/sim/model"
)

// runSimulate runs a simulated fleet; "simulate modbus" serves a simulated
// Modbus device instead, and "simulate load" is the load generator.
func runSimulate(ctx context.Context, io IO, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "modbus":
			return runSimulateModbus(ctx, io, args[1:])
		case "load":
			return loadgen.Run(ctx, args[1:], io.Stdout, io.Stderr)
		case "season":
			return runSimulateSeason(ctx, io, args[1:])
		}
	}
	return runSimulateFleet(ctx, io, args)
}

const simulateUsage = `Usage: hearth simulate [flags]         simulated chillers and air-quality sensors
       hearth simulate modbus [flags]  a simulated Modbus TCP device
       hearth simulate load COMMAND    the load generator (run, shadow, jobs, certs, provision, count)
       hearth simulate season [flags]  a cooling season of the simulator's buildings with and without
                                       the energy-saving strategies: gas and comfort compared

A simulated fleet speaks Hearth's device protocol over MQTT/TLS: telemetry every
--interval, settings through its shadow, its daily program, and jobs (each
ends SUCCEEDED, or FAILED for --job-failure-rate of them). Devices are
provisioned once and their credentials kept in --creds; later runs reuse them.
Without --token they are provisioned through the admin socket of the Hearth
serving --data on this machine; with --token, through --api.

Flags:
`

func runSimulateFleet(ctx context.Context, io IO, args []string) error {
	fs := newFlagSet("simulate", io)
	fs.Usage = func() { fmt.Fprint(fs.Output(), simulateUsage); fs.PrintDefaults() }
	server := fs.String("server", "localhost:8883", "Hearth's MQTT over TLS `address`")
	caFile := fs.String("ca", "", "CA certificate `file` that verifies Hearth (default: DATA/tls/ca.pem, or the CA saved with the credentials)")
	n := fs.Int("devices", 10, "how many devices")
	kind := fs.String("kind", "mixed", "device `kind`: chiller, iaq, or mixed (one chiller to three sensors)")
	building := fs.String("building", "mixed", "`building` the devices serve: office, hotel, hospital, school, or mixed")
	interval := fs.Duration("interval", sim.DefaultFleetInterval, "time between two telemetry messages of one device")
	backfill := fs.Duration("backfill", 0, "history each new device sends on its first connection, e.g. 24h")
	creds := fs.String("creds", "simulated-devices", "`directory` that keeps the devices' credentials")
	customer := fs.String("customer", "demo", "customer new devices belong to")
	site := fs.String("site", "", "site new devices belong to (default: the customer's default site)")
	prefix := fs.String("prefix", "sim", "name prefix of new devices: PREFIX-chiller-00000, PREFIX-iaq-00001, …")
	apiURL := fs.String("api", "https://localhost:8443", "Hearth's HTTPS `URL`, to provision devices with --token")
	token := fs.String("token", "", "operator API `token` to provision devices with (prefer HEARTH_TOKEN)")
	data := fs.String("data", "data", "data `directory` of a Hearth on this machine, for its admin socket and CA")
	duration := fs.Duration("duration", 0, "stop after this long (default: run until interrupted)")
	progress := fs.Duration("progress", 30*time.Second, "how often to log what the fleet did (0: never)")
	jobFailureRate := fs.Float64("job-failure-rate", 0, "share of job executions, 0 to 1, the devices end FAILED")
	jobDuration := fs.Duration("job-duration", 5*time.Second, "how long a device works on a job")
	jobDownloadMax := fs.Int64("job-download-max", 0, "download the file a job names, at most this many `bytes` (0: never)")
	provisionOnly := fs.Bool("provision", false, "provision the devices (unless --creds holds them), then exit")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	if err := parse(fs, args, io); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *n <= 0 {
		return fmt.Errorf("%w: --devices %d: give a positive number", errUsage, *n)
	}
	if *interval <= 0 || *backfill < 0 || *duration < 0 {
		return fmt.Errorf("%w: --interval must be positive, --backfill and --duration not negative", errUsage)
	}
	if *jobFailureRate < 0 || *jobFailureRate > 1 || *jobDuration < 0 || *jobDownloadMax < 0 {
		return fmt.Errorf("%w: --job-failure-rate must be 0 to 1, --job-duration and --job-download-max not negative", errUsage)
	}
	kinds, err := fleetKinds(*kind, *n)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	buildings, err := fleetBuildings(*building)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	logger, err := newLogger(io.Stderr, *logLevel, "text")
	if err != nil {
		return err
	}

	saved, err := sim.LoadCredentials(*creds)
	switch {
	case errors.Is(err, sim.ErrNoCredentials) || errors.Is(err, os.ErrNotExist):
		api := sim.APIClientConfig{BaseURL: *apiURL, Token: *token}
		if *token == "" {
			admin, err := openAdmin(*data, logger)
			if err != nil {
				return fmt.Errorf("provision devices without --token: %w", err)
			}
			defer admin.close()
			api = sim.APIClientConfig{BaseURL: "http://hearth", HTTPClient: admin.http}
		} else if pool, err := readCA(*caFile, *data); err == nil {
			api.CA = pool
		}
		saved, err = provisionFleet(ctx, api, kinds, *customer, *site, *prefix)
		if err != nil {
			return err
		}
		if err := sim.SaveCredentials(*creds, saved); err != nil {
			return err
		}
		fmt.Fprintf(io.Stdout, "provisioned %d devices for customer %s; their credentials are in %s\n", len(saved), *customer, *creds)
	case err != nil:
		return err
	case len(saved) != *n:
		return fmt.Errorf("%w: %s holds %d devices, not --devices %d; ask for %d, or use another --creds directory", errUsage, *creds, len(saved), *n, len(saved))
	default:
		*backfill = 0 // the devices sent their history on their first run
	}

	if *provisionOnly {
		return nil
	}
	pool, err := readCA(*caFile, *data)
	if err != nil {
		if pool, err = sim.CAPool(saved); err != nil {
			return fmt.Errorf("no CA to verify Hearth with: give --ca: %w", err)
		}
	}
	host, _, err := net.SplitHostPort(*server)
	if err != nil {
		return fmt.Errorf("%w: --server %q: %w", errUsage, *server, err)
	}
	devices := make([]sim.FleetDevice, len(saved))
	for i, c := range saved {
		k := kindOfName(c.Name)
		if k == "" {
			k = kinds[i]
		}
		devices[i] = sim.FleetDevice{Credentials: c, Kind: k, Building: buildings[i%len(buildings)], Seed: uint64(i + 1)}
	}
	fleet, err := sim.StartFleet(ctx, sim.FleetConfig{
		Broker: *server, TLS: &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12},
		Devices: devices, Interval: *interval, Backfill: *backfill,
		JobFailureRate: *jobFailureRate, JobDuration: *jobDuration, JobDownloadMax: *jobDownloadMax,
	}, logger.With("component", "simulate"))
	if err != nil {
		return err
	}
	logger.Info("simulating devices", "devices", len(devices), "server", *server, "interval", *interval)
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	var tick <-chan time.Time
	if *progress > 0 {
		t := time.NewTicker(*progress)
		defer t.Stop()
		tick = t.C
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick:
			logger.Info("fleet", "stats", fleet.Stats().String())
		}
	}
	connected := fleet.Stats().Connected
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = fleet.Stop(stopCtx)
	// The summary counts what was sent until the end, and the devices
	// connected when the run ended.
	st := fleet.Stats()
	st.Connected = connected
	fmt.Fprintf(io.Stdout, "%s\n", st)
	return err
}

// fleetKinds is the kind of each of n devices.
func fleetKinds(kind string, n int) ([]sim.Kind, error) {
	out := make([]sim.Kind, n)
	if kind == "mixed" {
		for i := range out {
			out[i] = sim.KindIAQ
			if i%4 == 0 {
				out[i] = sim.KindChiller
			}
		}
		return out, nil
	}
	k, err := sim.ParseKind(kind)
	if err != nil {
		return nil, fmt.Errorf("--kind: %w, or mixed", err)
	}
	for i := range out {
		out[i] = k
	}
	return out, nil
}

func fleetBuildings(b string) ([]model.Building, error) {
	if b == "mixed" {
		return model.Buildings, nil
	}
	for _, known := range model.Buildings {
		if string(known) == b {
			return []model.Building{known}, nil
		}
	}
	return nil, fmt.Errorf("--building %q: use office, hotel, hospital, school or mixed", b)
}

// kindOfName tells a provisioned device's kind from its name
// (PREFIX-chiller-00000); "" when the name does not say.
func kindOfName(name string) sim.Kind {
	for _, k := range []sim.Kind{sim.KindChiller, sim.KindIAQ} {
		if strings.Contains(name, "-"+string(k)+"-") {
			return k
		}
	}
	return ""
}

// provisionFleet creates the device types it needs (unless they exist) and
// the devices, named by kind.
func provisionFleet(ctx context.Context, api sim.APIClientConfig, kinds []sim.Kind, customer, site, prefix string) ([]sim.Credentials, error) {
	count := map[sim.Kind]int{}
	for _, k := range kinds {
		count[k]++
	}
	var out []sim.Credentials
	for _, k := range []sim.Kind{sim.KindChiller, sim.KindIAQ} {
		if count[k] == 0 {
			continue
		}
		if err := sim.EnsureDeviceType(ctx, api, k); err != nil {
			return nil, err
		}
		name, _ := sim.DeviceType(k)
		// Reuse: a run cut short left devices whose secrets were not
		// saved; they get new ones.
		creds, err := sim.ProvisionDevices(ctx, api, sim.ProvisionSpec{
			Customer: customer, Site: site, Type: name, Prefix: prefix + "-" + string(k), N: count[k], Reuse: true,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, creds...)
	}
	return out, nil
}

// readCA reads the CA certificate that verifies Hearth: file, or the data
// directory's.
func readCA(file, data string) (*x509.CertPool, error) {
	if file == "" {
		file = filepath.Join(data, "tls", "ca.pem")
	}
	return tlsfile.CertPool(file)
}
