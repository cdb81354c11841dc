package cli

import (
	"context"
	"errors"
)

// runSimulateModbus serves a simulated Modbus device (being built).
func runSimulateModbus(ctx context.Context, io IO, args []string) error {
	return errors.New("simulate modbus: not built yet")
}
