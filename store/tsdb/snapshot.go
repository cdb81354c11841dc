package tsdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmstorage"
)

// SnapshotFile is one file of a snapshot. Name is where it goes in a
// storage directory restored from the snapshot (slash-separated, relative
// to it); its content is the file at Path, or Data when Path is empty.
type SnapshotFile struct {
	Name string
	Path string
	Data []byte
	Size int64
}

// Snapshot is the stored telemetry at one instant: VictoriaMetrics' own
// snapshot (hard links to its immutable parts, so it costs no copy and
// stays readable while the storage merges and deletes parts) and the
// latest values as they were. Laid out in an empty directory as its Names
// say, it is a storage directory Open opens with every sample appended
// before the snapshot was taken.
//
// While a snapshot is held, parts the storage merges away keep their disk
// space; Release gives it back.
type Snapshot struct {
	Files   []SnapshotFile
	release func() error
}

// Size is the bytes of all files of the snapshot.
func (s *Snapshot) Size() int64 {
	var n int64
	for _, f := range s.Files {
		n += f.Size
	}
	return n
}

// Release deletes VictoriaMetrics' snapshot. Calling it again does
// nothing. A snapshot not released (the process ended) is deleted by the
// next Open.
func (s *Snapshot) Release() error {
	if s.release == nil {
		return nil
	}
	err := s.release()
	s.release = nil
	return err
}

// Snapshot takes a snapshot of the storage. Every sample whose Append
// returned before the call is in it: VictoriaMetrics writes the rows it
// holds in memory first. Appends and queries go on meanwhile.
func (db *DB) Snapshot() (*Snapshot, error) {
	if !db.enter() {
		return nil, ErrClosed
	}
	defer db.leave()
	latest := db.latest.encode()
	name, err := vmSnapshot("create", "")
	if err != nil {
		return nil, fmt.Errorf("snapshot tsdb %q: %w", db.dir, err)
	}
	snap := &Snapshot{release: func() error {
		if !db.enter() {
			return nil // Close stopped the storage; the next Open deletes it.
		}
		defer db.leave()
		if _, err := vmSnapshot("delete", name); err != nil {
			return fmt.Errorf("delete tsdb snapshot %q: %w", name, err)
		}
		return nil
	}}
	root := filepath.Join(db.dir, snapshotsDir, name)
	files, err := listFiles(root, nil)
	if err != nil {
		_ = snap.Release()
		return nil, fmt.Errorf("snapshot tsdb %q: %w", db.dir, err)
	}
	snap.Files = append(files, SnapshotFile{Name: latestFile, Data: latest, Size: int64(len(latest))})
	db.logger.Info("tsdb snapshot taken", "snapshot", name, "files", len(snap.Files), "bytes", snap.Size())
	return snap, nil
}

// StoredFiles is the snapshot of a storage directory that no process has
// open: its files as they are, in the layout Snapshot gives, without the
// snapshots, caches and temporary files VictoriaMetrics keeps beside
// them. The caller must keep the directory from being opened meanwhile;
// Release does nothing.
func StoredFiles(dir string) (*Snapshot, error) {
	skip := func(rel string) bool {
		switch rel {
		case snapshotsDir, "cache", "tmp", "flock.lock", latestFile:
			return true
		}
		// Each part directory has snapshots of its own (data/small/snapshots).
		return strings.HasSuffix(rel, "/"+snapshotsDir)
	}
	files, err := listFiles(dir, skip)
	if errors.Is(err, fs.ErrNotExist) {
		return &Snapshot{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list tsdb files in %q: %w", dir, err)
	}
	latest := filepath.Join(dir, latestFile)
	if fi, err := os.Stat(latest); err == nil {
		files = append(files, SnapshotFile{Name: latestFile, Path: latest, Size: fi.Size()})
	}
	return &Snapshot{Files: files}, nil
}

// snapshotsDir is where VictoriaMetrics keeps its snapshots, in the
// storage directory and in each of its part directories.
const snapshotsDir = "snapshots"

// listFiles lists the regular files under root, sorted by name, following
// symbolic links to directories (VictoriaMetrics' snapshot links to its
// part directories' snapshots). skip leaves out a slash-separated path
// relative to root, and what is under it.
func listFiles(root string, skip func(rel string) bool) ([]SnapshotFile, error) {
	var files []SnapshotFile
	var walk func(dir, prefix string) error
	walk = func(dir, prefix string) error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			rel := prefix + e.Name()
			if skip != nil && skip(rel) {
				continue
			}
			path := filepath.Join(dir, e.Name())
			fi, err := os.Stat(path) // follows links
			if err != nil {
				return err
			}
			switch {
			case fi.IsDir():
				if err := walk(path, rel+"/"); err != nil {
					return err
				}
			case fi.Mode().IsRegular():
				files = append(files, SnapshotFile{Name: rel, Path: path, Size: fi.Size()})
			}
		}
		return nil
	}
	if err := walk(root, ""); err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b SnapshotFile) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
}

// vmSnapshot runs one of VictoriaMetrics' snapshot operations (create,
// delete, list, delete_all) through the only interface it offers for them,
// its HTTP handler, called in-process. create returns the new snapshot's
// name, list the names joined by commas.
func vmSnapshot(op, name string) (result string, err error) {
	defer func() {
		if r := recover(); r != nil { // VictoriaMetrics panics on I/O errors
			err = fmt.Errorf("%v", r)
		}
	}()
	target := "/snapshot/" + op
	if name != "" {
		target += "?snapshot=" + name
	}
	rec := httptest.NewRecorder()
	if !vmstorage.RequestHandler(rec, httptest.NewRequest(http.MethodPost, target, nil)) {
		return "", fmt.Errorf("snapshot operation %s not handled", op)
	}
	var res struct {
		Status    string   `json:"status"`
		Snapshot  string   `json:"snapshot"`
		Snapshots []string `json:"snapshots"`
		Msg       string   `json:"msg"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		return "", fmt.Errorf("snapshot %s: cannot parse %q: %w", op, rec.Body.String(), err)
	}
	if res.Status != "ok" {
		return "", fmt.Errorf("snapshot %s: %s", op, rec.Body.String())
	}
	if op == "list" {
		return strings.Join(res.Snapshots, ","), nil
	}
	return res.Snapshot, nil
}

// removeStaleSnapshots deletes the snapshots a backup left when the
// process ended before it released them; they would hold the disk space
// of every part merged away since.
func removeStaleSnapshots() (string, error) {
	names, err := vmSnapshot("list", "")
	if err != nil || names == "" {
		return "", err
	}
	_, err = vmSnapshot("delete_all", "")
	return names, err
}
