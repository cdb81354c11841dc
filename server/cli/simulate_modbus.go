package cli

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/hearthiot/hearth/sim/modbussim"
	"github.com/hearthiot/hearth/sim/model"
)

// runSimulateModbus serves a simulated Modbus TCP device, a chiller-heater
// controller or an air-quality sensor whose registers follow the physics
// models, until ctx ends; with --print-map it prints the device's register
// map instead.
func runSimulateModbus(ctx context.Context, io IO, args []string) error {
	fs := newFlagSet("simulate modbus", io)
	listen := fs.String("listen", modbussim.DefaultAddr, "TCP `address` to serve Modbus TCP at; port 0 picks a free one")
	profile := fs.String("profile", string(modbussim.Chiller), "device to play: chiller or iaq")
	seed := fs.Uint64("seed", 1, "seed of the model: the equipment's size and quirks")
	building := fs.String("building", string(model.Office), "building the equipment serves: office, hotel, hospital or school")
	unitID := fs.Uint("unit-id", 1, "unit (slave) `id` to answer as, 1 to 247")
	printMap := fs.Bool("print-map", false, "print the profile's register map, its source set to --listen, and exit")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log `format`: text or json")
	if err := parse(fs, args, io); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	p := modbussim.Profile(*profile)
	if p != modbussim.Chiller && p != modbussim.IAQ {
		return fmt.Errorf("%w: --profile %q: use chiller or iaq", errUsage, *profile)
	}
	b := model.Building(*building)
	if !slices.Contains(model.Buildings, b) {
		return fmt.Errorf("%w: --building %q: use office, hotel, hospital or school", errUsage, *building)
	}
	if *unitID < 1 || *unitID > 247 {
		return fmt.Errorf("%w: --unit-id %d: use 1 to 247", errUsage, *unitID)
	}
	if _, port, err := net.SplitHostPort(*listen); err != nil {
		return fmt.Errorf("%w: --listen %q is not HOST:PORT", errUsage, *listen)
	} else if *printMap && port == "0" {
		return fmt.Errorf("%w: --print-map puts --listen in the map; give a port other than 0", errUsage)
	}
	if *printMap {
		text, err := modbussim.MapFile(p, *listen)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(io.Stdout, text)
		return err
	}
	logger, err := newLogger(io.Stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	sim, err := modbussim.New(modbussim.Config{Addr: *listen, Profile: p, Seed: *seed, Building: b, UnitID: uint8(*unitID)},
		logger.With("component", "modbus-sim"))
	if err != nil {
		return err
	}
	if err := sim.Start(ctx); err != nil {
		return err
	}
	logger.Info("modbus simulator listening", "addr", sim.Addr(), "profile", string(p), "unit_id", *unitID,
		"seed", *seed, "building", string(b))
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sim.Stop(stopCtx); err != nil {
		return err
	}
	logger.Info("modbus simulator stopped", "addr", sim.Addr())
	return nil
}
