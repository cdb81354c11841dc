package cmdline

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hearthiot/hearth/agent"
	"github.com/hearthiot/hearth/agent/equipment"
	"github.com/hearthiot/hearth/modbus"
)

// IO is what the command reads and writes besides its files.
type IO struct {
	Stdout, Stderr io.Writer
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
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
	if err := parse(fs, args, io.Getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
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
	if *check {
		fmt.Fprintf(io.Stdout, "%s: device %s, %d points, %d writable settings: OK\n", *path, cfg.Device, len(m.Points), len(m.Writable()))
		return nil
	}
	logger := newLogger(io.Stderr, cfg.Log)
	client, err := modbus.NewClient(m, logger.With("component", "modbus"))
	if err != nil {
		return err
	}
	defer client.Close()
	a, err := agent.New(cfg, equipment.New(client, cfg.Telemetry.Interval), logger, agent.Options{})
	if err != nil {
		return err
	}
	return a.Run(ctx)
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
