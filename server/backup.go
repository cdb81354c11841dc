package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/jobs/artifact"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/backup"
	"github.com/hearthiot/hearth/store/tsdb"
)

// BackupConfig schedules backups into a directory. Dir "" turns the
// schedule off; backups through the API and the command line work either
// way.
type BackupConfig struct {
	// Dir receives the archives; best on another disk than the data
	// directory.
	Dir string
	// Every is the time between two backups, counted from the newest
	// archive in Dir, so restarts do not put the next one off.
	Every time.Duration
	// Keep is how many archives Dir keeps; older ones are deleted after
	// each backup.
	Keep int
}

// Directories of the data directory a backup copies besides the store and
// the time-series store: the CA and server keys, the demo's device
// credentials and the artifacts' content. The telemetry write-ahead log's
// files are copied after the time-series snapshot, so that what it holds
// and the snapshot lacks is in the archive too.
var backupDirs = []string{"tls", "demo", artifact.ContentDir}

// backupSources are what a backup of the data directory copies.
func (c Config) backupSources(version string, st backup.Store, series backup.Series, logger *slog.Logger) backup.Sources {
	return backup.Sources{
		DataDir:   c.DataDir,
		Store:     st,
		SeriesDir: filepath.Base(c.tsdbDir()),
		Series:    series,
		Dirs:      backupDirs,
		LogDir:    filepath.Base(c.walDir()),
		Version:   version,
		Logger:    logger,
	}
}

// tsdbSnapshots takes the time-series store's snapshots for a backup.
type tsdbSnapshots struct{ db *tsdb.DB }

func (t tsdbSnapshots) Snapshot() ([]backup.File, func() error, error) {
	snap, err := t.db.Snapshot()
	if err != nil {
		return nil, nil, err
	}
	return backupFiles(snap), snap.Release, nil
}

// storedSeries lists the files of a time-series directory no server has
// open.
type storedSeries struct{ dir string }

func (s storedSeries) Snapshot() ([]backup.File, func() error, error) {
	snap, err := tsdb.StoredFiles(s.dir)
	if err != nil {
		return nil, nil, err
	}
	return backupFiles(snap), snap.Release, nil
}

func backupFiles(snap *tsdb.Snapshot) []backup.File {
	files := make([]backup.File, len(snap.Files))
	for i, f := range snap.Files {
		files[i] = backup.File{Name: f.Name, Path: f.Path, Data: f.Data, Size: f.Size}
	}
	return files
}

// GateBackups adapts a backup maker to the gate.
type GateBackups struct{ Maker *backup.Maker }

// Prepare takes a backup's copies; one asked for while another is being
// written is refused as a conflict.
func (b GateBackups) Prepare(ctx context.Context) (gate.PreparedBackup, error) {
	p, err := b.Maker.Prepare(ctx)
	if errors.Is(err, backup.ErrBusy) {
		return nil, gate.Refuse(gate.KindConflict, "another backup is being written; try again once it ends")
	}
	if err != nil {
		return nil, err
	}
	return preparedBackup{p}, nil
}

type preparedBackup struct{ p *backup.Pending }

func (p preparedBackup) FileName() string { return p.p.FileName() }
func (p preparedBackup) Close() error     { return p.p.Close() }
func (p preparedBackup) Write(ctx context.Context, w io.Writer) error {
	_, err := p.p.Write(ctx, w)
	return err
}

// startBackups builds the backup maker the API and the admin socket
// write backups with and, with a backup directory, runs the schedule.
func (s *Server) startBackups(context.Context) error {
	logger := s.logger.With("component", "backup")
	src := s.cfg.backupSources(s.version, s.store, tsdbSnapshots{s.tsdb}, logger)
	// No artifact content is removed between the store's copy and the
	// opening of the content files.
	src.Hold = s.artifacts.Hold
	m, err := backup.New(src)
	if err != nil {
		return err
	}
	s.backups = m
	bc := s.cfg.Backup
	if bc.Dir == "" {
		return nil
	}
	if err := os.MkdirAll(bc.Dir, 0o700); err != nil {
		return fmt.Errorf("create backup directory %q: %w", bc.Dir, err)
	}
	if err := backup.RemovePartials(bc.Dir); err != nil {
		logger.Warn("partial backups of an earlier run not deleted", "dir", bc.Dir, "error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.runBackups(ctx, m, logger)
	}()
	s.onStop("backups", func(stopCtx context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-stopCtx.Done():
			return stopCtx.Err()
		}
	})
	logger.Info("backups scheduled", "dir", bc.Dir, "every", bc.Every, "keep", bc.Keep)
	return nil
}

// backupRetry is how long the schedule waits after a failed backup, and
// backupBusyRetry after one that waited for another being written (one
// asked for through the API).
const (
	backupRetry     = 5 * time.Minute
	backupBusyRetry = time.Minute
)

// runBackups writes a backup every Every, counted from the newest archive
// in the directory, and deletes all but the Keep newest, until ctx ends.
func (s *Server) runBackups(ctx context.Context, m *backup.Maker, logger *slog.Logger) {
	bc := s.cfg.Backup
	next := time.Now()
	if newest, ok, err := backup.Newest(bc.Dir); err != nil {
		logger.Warn("backup directory not read", "dir", bc.Dir, "error", err)
	} else if ok {
		next = newest.Add(bc.Every)
	}
	for {
		wait := time.NewTimer(max(0, time.Until(next)))
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
		start := time.Now()
		path, size, man, err := m.WriteFile(ctx, bc.Dir)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, backup.ErrBusy):
			logger.Info("scheduled backup waits for the backup under way", "retry_in", backupBusyRetry)
			next = time.Now().Add(backupBusyRetry)
			continue
		case err != nil:
			logger.Error("scheduled backup failed; trying again later", "dir", bc.Dir, "retry_in", backupRetry, "error", err)
			next = time.Now().Add(min(backupRetry, bc.Every))
			continue
		}
		elapsed := time.Since(start)
		logger.Info("backup written", "path", path, "bytes", size, "data_bytes", man.Bytes(), "files", len(man.Files),
			"duration", elapsed.Round(time.Millisecond))
		removed, err := backup.Prune(bc.Dir, bc.Keep)
		if err != nil {
			logger.Warn("old backups not all deleted", "dir", bc.Dir, "error", err)
		}
		if len(removed) > 0 {
			logger.Info("old backups deleted", "paths", removed)
		}
		next = start.Add(bc.Every)
	}
}

// LocalBackup is a prepared backup of a data directory no server runs on.
// The store stays open (shared lock) until Close, so no server starts on
// the directory meanwhile.
type LocalBackup struct {
	*backup.Pending
	store *store.Store
}

// Close releases the backup's copies and the store.
func (b *LocalBackup) Close() error {
	return errors.Join(b.Pending.Close(), b.store.Close())
}

// PrepareLocalBackup prepares a backup of the data directory of a server
// that is not running, for `hearth backup` without a server: the same
// archive a running server writes, from the files as they are. A
// directory without a store is refused with ErrNoInstallation; one a
// server holds, with store.ErrLocked.
func PrepareLocalBackup(ctx context.Context, dataDir, version string, logger *slog.Logger) (*LocalBackup, error) {
	cfg := DefaultConfig()
	cfg.DataDir = dataDir
	if _, err := os.Stat(cfg.storePath()); err != nil {
		abs, _ := filepath.Abs(dataDir)
		return nil, fmt.Errorf("%w: %s is missing (looked in %s)", ErrNoInstallation, filepath.Base(cfg.storePath()), abs)
	}
	// Read-only: the backup changes nothing in the directory, and the
	// shared lock keeps a server from starting meanwhile.
	st, err := store.Open(cfg.storePath(), store.Options{ReadOnly: true, LockTimeout: 2 * time.Second})
	if errors.Is(err, store.ErrSchemaTooOld) {
		return nil, fmt.Errorf("%w: back it up with the Hearth version that wrote it, or start this one on it once first", err)
	}
	if err != nil {
		return nil, err
	}
	m, err := backup.New(cfg.backupSources(version, st, storedSeries{cfg.tsdbDir()}, logger.With("component", "backup")))
	if err != nil {
		st.Close()
		return nil, err
	}
	p, err := m.Prepare(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &LocalBackup{Pending: p, store: st}, nil
}
