package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// WriteFile prepares a backup and writes it into dir under the name
// FileName gives, through a temporary file that is renamed once the
// archive is whole and synced: dir never holds a partial archive under an
// archive's name. It returns the archive's path, its size and manifest.
func (m *Maker) WriteFile(ctx context.Context, dir string) (string, int64, Manifest, error) {
	p, err := m.Prepare(ctx)
	if err != nil {
		return "", 0, Manifest{}, err
	}
	defer p.Close()
	f, err := os.CreateTemp(dir, "."+p.FileName()+".partial-*")
	if err != nil {
		return "", 0, Manifest{}, fmt.Errorf("write backup into %s: %w", dir, err)
	}
	tmp := f.Name()
	cw := &countingWriter{w: f}
	man, err := p.Write(ctx, cw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	path := filepath.Join(dir, p.FileName())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", 0, Manifest{}, fmt.Errorf("write backup into %s: %w", dir, err)
	}
	return path, cw.n, man, nil
}

// Prune deletes the archives in dir that FileName named, all but the keep
// newest. Other files are left alone. It returns the paths deleted.
func Prune(dir string, keep int) ([]string, error) {
	archives, err := archivesIn(dir)
	if err != nil {
		return nil, fmt.Errorf("prune backups in %s: %w", dir, err)
	}
	var removed []string
	var errs []error
	for len(archives) > keep {
		path := filepath.Join(dir, archives[0])
		archives = archives[1:]
		if err := os.Remove(path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// Newest is when the newest archive in dir was made; ok is false when dir
// holds none.
func Newest(dir string) (t time.Time, ok bool, err error) {
	archives, err := archivesIn(dir)
	if err != nil || len(archives) == 0 {
		return time.Time{}, false, err
	}
	t, ok = parseFileName(archives[len(archives)-1])
	return t, ok, nil
}

// RemovePartials deletes the temporary files of WriteFile calls that
// never ended (the process stopped); call it when no WriteFile runs.
func RemovePartials(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".hearth-") && strings.Contains(e.Name(), ".tar.zst.partial-") {
			errs = append(errs, os.Remove(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// archivesIn lists the names of the archives in dir, oldest first.
func archivesIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if _, ok := parseFileName(e.Name()); ok && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // the names sort by time
	return names, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
