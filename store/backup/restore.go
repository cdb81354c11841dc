package backup

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Restore reads an archive into dir, which must be missing or empty: a
// restore never overwrites anything. The files go to a temporary
// directory first (beside dir when dir is missing, inside it when it
// exists, so that a mount point works too) and are moved into place only
// once every file matched the manifest; on any failure the temporary
// directory is removed and dir is left as it was.
func Restore(r io.Reader, dir string, progress Progress) (Manifest, error) {
	exists, err := checkEmpty(dir)
	if err != nil {
		return Manifest{}, err
	}
	var tmp string
	if exists {
		tmp, err = os.MkdirTemp(dir, ".restore-*")
	} else {
		parent := filepath.Dir(filepath.Clean(dir))
		if err := os.MkdirAll(parent, 0o700); err != nil {
			return Manifest{}, fmt.Errorf("restore into %s: %w", dir, err)
		}
		tmp, err = os.MkdirTemp(parent, "."+filepath.Base(filepath.Clean(dir))+".restore-*")
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("restore into %s: %w", dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(tmp)
		}
	}()
	m, err := read(r, progress, func(name string, mode fs.FileMode, size int64, r io.Reader) error {
		return restoreFile(tmp, name, mode, r)
	})
	if err != nil {
		return Manifest{}, err
	}
	if err := syncTree(tmp); err != nil {
		return Manifest{}, fmt.Errorf("restore into %s: %w", dir, err)
	}
	if !exists {
		if err := os.Rename(tmp, dir); err != nil {
			return Manifest{}, fmt.Errorf("restore into %s: %w", dir, err)
		}
		ok = true
		return m, syncDir(filepath.Dir(filepath.Clean(dir)))
	}
	if err := moveUp(tmp, dir); err != nil {
		return Manifest{}, fmt.Errorf("restore into %s: %w", dir, err)
	}
	ok = true
	return m, nil
}

// checkEmpty reports whether dir exists, and refuses one that is not an
// empty directory.
func checkEmpty(dir string) (bool, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("restore into %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("restore into %s: it is a file, not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("restore into %s: %w", dir, err)
	}
	if len(entries) > 0 {
		names := make([]string, 0, 3)
		for _, e := range entries[:min(3, len(entries))] {
			names = append(names, e.Name())
		}
		more := ""
		if len(entries) > 3 {
			more = ", …"
		}
		return true, fmt.Errorf("%w: %s holds %s%s; restore into an empty or missing directory, so that nothing is overwritten", ErrNotEmpty, dir, strings.Join(names, ", "), more)
	}
	return true, nil
}

// restoreFile writes one file under root and syncs it.
func restoreFile(root, name string, mode fs.FileMode, r io.Reader) error {
	path := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if mode == 0 {
		mode = 0o600
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	return nil
}

// moveUp moves the entries of tmp into dir, its parent, and removes tmp.
// The store goes last: a directory with a store is one Hearth starts on,
// so it must not be there before everything else is.
func moveUp(tmp, dir string) error {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	slices.SortStableFunc(entries, func(a, b fs.DirEntry) int {
		switch {
		case a.Name() == "hearth.db":
			return 1
		case b.Name() == "hearth.db":
			return -1
		}
		return 0
	})
	for _, e := range entries {
		if e.Name() == "hearth.db" {
			if err := syncDir(dir); err != nil {
				return err
			}
		}
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	if err := os.Remove(tmp); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncTree syncs every directory under root, so that the files created
// in them are durable.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return syncDir(path)
		}
		return nil
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
