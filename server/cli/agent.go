package cli

import (
	"context"
	"errors"

	"github.com/hearthiot/hearth/agent/cmdline"
)

// runAgent is the gateway agent: it polls Modbus equipment and connects it
// to Hearth as one device, as the configuration file says. It is the same
// code path as the hearth-agent binary (package agent/cmdline).
func runAgent(ctx context.Context, io IO, args []string) error {
	err := cmdline.Run(ctx, cmdline.IO{Stdout: io.Stdout, Stderr: io.Stderr, Getenv: io.Getenv}, "hearth agent", args)
	if errors.Is(err, cmdline.ErrUsage) {
		return agentUsage{err}
	}
	return err
}

// agentUsage is a usage error of the agent's command line; Main answers it
// with exit code 2, as its own usage errors.
type agentUsage struct{ error }

func (e agentUsage) Is(target error) bool { return target == errUsage }
func (e agentUsage) Unwrap() error        { return e.error }
