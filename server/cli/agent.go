package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/hearthiot/hearth/agent"
	"github.com/hearthiot/hearth/agent/equipment"
	"github.com/hearthiot/hearth/modbus"
)

// runAgent is the gateway agent: it polls Modbus equipment and connects it
// to Hearth as one device, as the configuration file says.
func runAgent(ctx context.Context, io IO, args []string) error {
	fs := newFlagSet("agent", io)
	path := fs.String("config", "", "agent configuration `file` (YAML; see docs/agent.md)")
	check := fs.Bool("check", false, "check the configuration file and its register map, then exit")
	if err := parse(fs, args, io); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *path == "" {
		return fmt.Errorf("%w: --config FILE is required (or HEARTH_CONFIG)", errUsage)
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
	logger, err := newLogger(io.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
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
