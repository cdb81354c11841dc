package cli

import (
	"context"
	"fmt"

	"github.com/hearthiot/hearth/device/agent"
	"github.com/hearthiot/hearth/device/agent/equipment"
	"github.com/hearthiot/hearth/device/modbus"
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
	cfg, err := agent.LoadConfig(*path)
	if err != nil {
		return err
	}
	m, err := modbus.ParseNode(cfg.Modbus, *path)
	if err != nil {
		return fmt.Errorf("register map:\n%w", err)
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
