package cmdline

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hearthiot/hearth/agent"
	"github.com/hearthiot/hearth/agent/equipment"
	"github.com/hearthiot/hearth/modbus"
)

// IO is what the command reads and writes besides its files, and what it
// knows of its own binary.
type IO struct {
	Stdout, Stderr io.Writer
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Version is the binary's version, which --version prints and an
	// update-agent job names; "dev" when empty.
	Version string
	// Executable is the binary an update-agent job replaces (absolute,
	// symbolic links resolved); empty refuses such jobs, as Hearth's own
	// binary does (hearth agent).
	Executable string
}

// ErrUsage marks an error in how the command was called (a flag, a missing
// --config); a caller exits with code 2 for it.
var ErrUsage = errors.New("usage")

// Main is the hearth-agent binary: it runs the agent with args until SIGINT
// or SIGTERM and returns the process exit code, 0 when it stopped cleanly
// or only printed help, 2 for a usage error, 1 for any other.
func Main(args []string, io IO) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := Run(ctx, io, "hearth-agent", args)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(io.Stderr, "hearth-agent: %v\n", err)
		return 2
	default:
		fmt.Fprintf(io.Stderr, "hearth-agent: %v\n", err)
		return 1
	}
}

// Run is the gateway agent: it polls Modbus equipment and connects it to
// Hearth as one device, as the configuration file named by --config says,
// until ctx ends. With --check it only checks the file and its register
// map. name is the command's name in usage messages.
func Run(ctx context.Context, io IO, name string, args []string) error {
	if io.Getenv == nil {
		io.Getenv = os.Getenv
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	path := fs.String("config", "", "agent configuration `file` (YAML; see docs/agent.md)")
	check := fs.Bool("check", false, "check the configuration file and its register map, then exit")
	version := fs.Bool("version", false, "print the agent's version, then exit")
	if err := parse(fs, args, io.Getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}
	if io.Version == "" {
		io.Version = "dev"
	}
	if *version {
		fmt.Fprintln(io.Stdout, io.Version)
		return nil
	}
	if *path == "" {
		return fmt.Errorf("%w: --config FILE is required (or HEARTH_CONFIG)", ErrUsage)
	}
	// Every problem of the file and of its register map in one go.
	cfg, cfgErr := agent.LoadConfig(*path)
	if cfgErr != nil && !errors.As(cfgErr, new(*agent.ConfigErrors)) {
		return cfgErr
	}
	var m *modbus.Map
	var mapErr error
	if cfg.Modbus != nil {
		if m, mapErr = modbus.ParseNode(cfg.Modbus, *path); mapErr != nil {
			mapErr = fmt.Errorf("register map:\n%w", mapErr)
		}
	}
	if err := errors.Join(cfgErr, mapErr); err != nil {
		return err
	}
	// A register map a modbus-map job left replaces the file's.
	saved, savedErr := savedMap(cfg.Spool.Dir)
	if *check {
		fmt.Fprintf(io.Stdout, "%s: device %s, %d points, %d writable settings: OK\n", *path, cfg.Device, len(m.Points), len(m.Writable()))
		switch {
		case saved != nil:
			fmt.Fprintf(io.Stdout, "%s: the register map a job left, used instead of the file's: %d points, %d writable settings: OK\n",
				saved.Name, len(saved.Points), len(saved.Writable()))
		case savedErr != nil:
			fmt.Fprintf(io.Stdout, "%v\nthe file's register map is used\n", savedErr)
		}
		return nil
	}
	logger := newLogger(io.Stderr, cfg.Log)
	if saved != nil {
		m = saved
		logger.Info("register map from a job used instead of the file's", "file", saved.Name, "points", len(saved.Points))
	} else if savedErr != nil {
		logger.Warn("register map from a job not used; the file's is", "error", savedErr)
	}
	client, err := modbus.NewClient(m, logger.With("component", "modbus"))
	if err != nil {
		return err
	}
	defer client.Close()
	opts := agent.Options{
		Version: io.Version, Executable: io.Executable,
		LoadMap: func(data []byte, name string) (agent.LoadedMap, error) {
			m, err := modbus.Parse(bytes.NewReader(data), name)
			if err != nil {
				return agent.LoadedMap{}, err
			}
			c, err := modbus.NewClient(m, logger.With("component", "modbus"))
			if err != nil {
				return agent.LoadedMap{}, err
			}
			return agent.LoadedMap{Equipment: equipment.New(c, cfg.Telemetry.Interval), Points: len(m.Points)}, nil
		},
	}
	if io.Executable != "" {
		if trial, ok := agent.TrialFromEnv(io.Getenv); ok {
			// The child that tries a new binary stops when its parent says.
			opts.Trial = trial
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			go func() {
				select {
				case <-trial.Stop:
					cancel()
				case <-ctx.Done():
				}
			}()
		}
	}
	a, err := agent.New(cfg, equipment.New(client, cfg.Telemetry.Interval), logger, opts)
	if err != nil {
		return err
	}
	err = a.Run(ctx)
	var rs *agent.Restart
	if !errors.As(err, &rs) {
		return err
	}
	// The equipment is let go before another binary takes it.
	client.Close()
	if io.Executable == "" {
		// Hearth's own binary cannot run itself as the agent again.
		return fmt.Errorf("%w; start the agent again to finish an update hearth-agent began", rs)
	}
	return rs.Do(ctx, append([]string{io.Executable}, args...), os.Environ(), io.Stderr)
}

// savedMap reads the register map a modbus-map job left in the spool
// directory: nil and no error when there is none.
func savedMap(dir string) (*modbus.Map, error) {
	b, err := agent.ReadSavedMap(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return modbus.Parse(bytes.NewReader(b), filepath.Join(dir, agent.SavedMapFile))
}

// parse applies HEARTH_* environment variables to flags (--config is
// HEARTH_CONFIG), then the command line over them, so a flag given on the
// command line wins.
func parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		key := "HEARTH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(key); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("environment variable %s=%q: %w", key, v, err))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrUsage, errors.Join(errs...))
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return nil
}

// newLogger is the agent's log as its configuration says; LoadConfig has
// checked the level and the format.
func newLogger(w io.Writer, cfg agent.LogConfig) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
