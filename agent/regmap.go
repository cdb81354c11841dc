package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hearthiot/hearth/internal/atomicfile"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/protocol/program"
)

// SavedMapFile is where a register map taken from a modbus-map job is
// kept, in the spool directory: it replaces the configuration file's
// modbus section at every start until another job replaces it.
const SavedMapFile = "register-map.yaml"

// MapLoader checks a register map (YAML or JSON holding what the
// configuration's modbus section holds) with the same rules as the map in
// the configuration file, and returns the equipment behind it; name is
// the map's name in messages. The agent closes the equipment it replaces
// when it implements io.Closer.
type MapLoader func(data []byte, name string) (LoadedMap, error)

// LoadedMap is a register map a MapLoader read.
type LoadedMap struct {
	Equipment Equipment
	Points    int
}

// ReadSavedMap returns the register map a modbus-map job left in the
// spool directory dir; an error wrapping os.ErrNotExist when there is
// none.
func ReadSavedMap(dir string) ([]byte, error) {
	path := filepath.Join(dir, SavedMapFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMapBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxMapBytes {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, maxMapBytes)
	}
	return b, nil
}

// mapJobs handles modbus-map jobs.
type mapJobs struct {
	dir    string
	load   MapLoader // nil: no register map to replace
	ctl    *controller
	dl     *downloader
	logger *slog.Logger
}

// run replaces the register map with the job's: read (inline or
// downloaded and checked against its SHA-256), checked as the map at
// start is, kept on disk, then taken into use. A map that does not pass
// leaves the one in use, and fails the job with what is wrong.
func (m *mapJobs) run(ctx context.Context, r *jobRun) error {
	if m.load == nil {
		return r.finish(ctx, protocol.JobRejected, map[string]string{"reason": "this agent has no register map to replace"})
	}
	doc, err := ParseMapDocument(r.ex.JobDocument)
	if err != nil {
		return r.finish(ctx, protocol.JobRejected, map[string]string{"reason": detail(err.Error())})
	}
	fail := func(step string, err error) error {
		m.logger.Warn("register map not replaced", "job", r.ex.JobID, "step", step, "error", err)
		return r.finish(ctx, protocol.JobFailed, map[string]string{"step": step, "reason": detail(err.Error())})
	}
	// An inline map comes as one line of JSON: indented, a problem's line
	// points into it as jq . prints it.
	var indented bytes.Buffer
	data := []byte(doc.Map)
	if json.Indent(&indented, doc.Map, "", "  ") == nil {
		data = append(indented.Bytes(), '\n')
	}
	if doc.URL != "" {
		if err := r.update(ctx, protocol.JobInProgress, map[string]string{"step": "downloading"}); err != nil {
			return err
		}
		part := filepath.Join(m.dir, SavedMapFile+".download")
		err := m.dl.get(ctx, fetch{url: doc.URL, sha256: doc.SHA256, dst: part, max: maxMapBytes, refresh: r.freshURL})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fail("downloading", err)
		}
		data, err = os.ReadFile(part)
		os.Remove(part)
		if err != nil {
			return fail("downloading", err)
		}
	}
	if err := r.update(ctx, protocol.JobInProgress, map[string]string{"step": "checking"}); err != nil {
		return err
	}
	lm, err := m.load(data, "the job's register map")
	if err != nil {
		return fail("checking", err)
	}
	settings := 0
	for _, s := range lm.Equipment.Settings() {
		if s.Key == program.Key {
			closeEquipment(lm.Equipment, m.logger)
			return fail("checking", fmt.Errorf("setting %q: the name is taken by the operating program; rename the point", s.Key))
		}
		settings++
	}
	if err := atomicfile.Write(filepath.Join(m.dir, SavedMapFile), data, 0o600); err != nil {
		closeEquipment(lm.Equipment, m.logger)
		return fail("saving", err)
	}
	// Kept on disk first: an agent stopped now starts with the new map,
	// and takes the job again to report it.
	old, err := m.ctl.swap(ctx, lm.Equipment)
	if err != nil {
		closeEquipment(lm.Equipment, m.logger)
		return err
	}
	closeEquipment(old, m.logger)
	m.logger.Info("register map replaced", "job", r.ex.JobID, "points", lm.Points, "settings", settings)
	return r.finish(ctx, protocol.JobSucceeded, map[string]string{"points": strconv.Itoa(lm.Points), "settings": strconv.Itoa(settings)})
}

// closeEquipment closes equipment that holds a connection.
func closeEquipment(eq Equipment, logger *slog.Logger) {
	if c, ok := eq.(io.Closer); ok {
		if err := c.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			logger.Warn("equipment not closed", "error", err)
		}
	}
}
