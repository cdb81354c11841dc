package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// adminSocket serves the API on a Unix socket in the data directory, acting as
// a local operator. Its file mode (owner only, inside a 0700 directory) is the
// authentication: whoever may open the data directory may administer Hearth.
// Admin commands use it while the server holds bbolt's exclusive lock.
type adminSocket struct {
	path string
	srv  *http.Server
	ln   net.Listener
}

func (s *Server) startAdmin(context.Context) error {
	path := s.cfg.SocketPath()
	if err := removeStaleSocket(path); err != nil {
		return err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listen on admin socket %q: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("restrict admin socket %q: %w", path, err)
	}
	a := &adminSocket{
		path: path,
		ln:   ln,
		srv: &http.Server{
			Handler:           s.api.LocalHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slogErrorLog(s.logger.With("component", "admin")),
		},
	}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("admin socket failed", "error", err)
		}
	}()
	s.admin = a
	s.onStop("admin socket", func(ctx context.Context) error {
		err := a.srv.Shutdown(ctx)
		os.Remove(path)
		return err
	})
	return nil
}

// removeStaleSocket removes a socket file left by a process that is gone. The
// store's lock has already proved no other server uses this data directory.
func removeStaleSocket(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale admin socket %q: %w", path, err)
	}
	return nil
}

// slogErrorLog routes net/http's internal error log (TLS handshake failures
// from scanners and the like) to slog at debug level, so they cannot flood
// the log.
func slogErrorLog(logger *slog.Logger) *log.Logger {
	return slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
}
