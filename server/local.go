package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/api"
)

// OpenLocal opens the data directory of a server that is not running and
// returns the API handler an admin socket would serve, acting as a local
// operator, so admin commands take one path whether or not a server runs.
// Telemetry and shadow routes answer 503 there. close releases the store's lock.
func OpenLocal(dataDir string, logger *slog.Logger) (h http.Handler, close func() error, err error) {
	cfg := DefaultConfig()
	cfg.DataDir = dataDir
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create data directory %q: %w", dataDir, err)
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
	g, err := gate.New(gate.Deps{
		Store:    st,
		Registry: reg,
		Types:    device.NewDeviceTypes(st, reg.Type),
		Logger:   logger.With("component", "gate"),
	})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return api.New(g, logger.With("component", "api")).LocalHandler(), st.Close, nil
}
