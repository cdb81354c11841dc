package cli

import (
	"context"
	"errors"
)

// runAgent is the gateway agent (being built).
func runAgent(ctx context.Context, io IO, args []string) error {
	return errors.New("agent: not built yet")
}
