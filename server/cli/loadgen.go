package cli

import (
	"context"

	"github.com/hearthiot/hearth/device/sim/loadgen"
)

// runLoadgen hands over to the load generator, which has its own
// subcommands (certs, provision, run, shadow, count) and HEARTH_LOADGEN_* variables.
func runLoadgen(ctx context.Context, io IO, args []string) error {
	return loadgen.Run(ctx, args, io.Stdout, io.Stderr)
}
