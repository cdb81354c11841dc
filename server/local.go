package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/api"
)

// ErrNoInstallation is what OpenLocal answers for a directory that holds
// no Hearth: admin commands never create one, so a command run in the
// wrong folder cannot start a second installation with a CA of its own.
var ErrNoInstallation = errors.New("no Hearth data directory here")

// OpenLocal opens the data directory of a server that is not running and
// returns the API handler an admin socket would serve, acting as a local
// operator, so admin commands take one path whether or not a server runs.
// Telemetry and shadow routes answer 503 there; devices show the presence
// the last run saved. close releases the store's lock. A directory
// without a store and a CA is refused with ErrNoInstallation.
func OpenLocal(dataDir string, logger *slog.Logger) (h http.Handler, close func() error, err error) {
	cfg := DefaultConfig()
	cfg.DataDir = dataDir
	for _, f := range []string{cfg.storePath(), cfg.caFile()} {
		if _, err := os.Stat(f); err != nil {
			abs, _ := filepath.Abs(dataDir)
			return nil, nil, fmt.Errorf("%w: %s is missing (looked in %s)", ErrNoInstallation, filepath.Base(f), abs)
		}
	}
	st, err := store.Open(cfg.storePath(), store.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return nil, nil, err
	}
	authority, err := ca.LoadOrCreate(cfg.tlsDir(), logger.With("component", "ca"))
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	reg, err := device.NewRegistry(st, authority, logger.With("component", "registry"))
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	recs, err := st.ListPresence()
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	presence := device.NewPresence(nil)
	presence.Restore(recs)
	// The built-in types a newer binary adds are there for the commands
	// run before its first start, as they are once it serves.
	types := device.NewDeviceTypes(st, reg.Type)
	if _, err := types.SeedBuiltin(); err != nil {
		st.Close()
		return nil, nil, err
	}
	g, err := gate.New(gate.Deps{
		Store:    st,
		Registry: reg,
		Types:    types,
		Presence: presence,
		Maps:     MapChecker{},
		Logger:   logger.With("component", "gate"),
	})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return api.New(g, api.Config{Logger: logger.With("component", "api")}).LocalHandler(), st.Close, nil
}
