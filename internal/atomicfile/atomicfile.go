// Package atomicfile replaces a file so that a crash at any moment leaves
// either the old file or the new one whole, never a torn one, and the new
// one durable once Write returns. It is the one way Hearth and its programs
// (the gateway agent, the simulator) write keys, certificates, credentials,
// spool heads and caches.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data, with permissions perm. The data goes to a
// new temporary file in the same directory, which is synced, given perm,
// renamed over path, and the directory is synced so that the rename itself
// survives a power loss. On any failure the temporary file is removed and
// path is left as it was.
func Write(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %q: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir makes a directory's entries (files created, renamed, removed)
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}
