package backup

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// FormatVersion is the archive format this package writes and the newest
// it reads. A change a reader of the previous version would misread
// raises it.
const FormatVersion = 1

// Entry names of the archive's own records.
const (
	headerName   = "hearth-backup.json"
	manifestName = "manifest.json"
)

var (
	// ErrDamaged is wrapped by every refusal of an archive that is not
	// whole: truncated, a byte changed, a checksum that does not match.
	ErrDamaged = errors.New("the archive is damaged")
	// ErrNotBackup is wrapped when the file is no Hearth backup at all.
	ErrNotBackup = errors.New("not a Hearth backup")
	// ErrNewerFormat is wrapped when the archive was written in a format
	// newer than this Hearth reads.
	ErrNewerFormat = errors.New("the archive format is newer than this Hearth reads")
	// ErrNotEmpty is wrapped when Restore is pointed at a directory that
	// holds something.
	ErrNotEmpty = errors.New("the directory is not empty")
	// ErrBusy is returned by Prepare while another backup is being
	// written.
	ErrBusy = errors.New("another backup is being written")
)

// Header is the archive's first entry.
type Header struct {
	Format        int       `json:"format"`
	HearthVersion string    `json:"hearth_version"`
	CreatedAt     time.Time `json:"created_at"`
	// Files and Bytes are how many files follow and their total size,
	// for progress.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Manifest is the archive's last entry: every file with its checksum.
type Manifest struct {
	Format        int         `json:"format"`
	HearthVersion string      `json:"hearth_version"`
	CreatedAt     time.Time   `json:"created_at"`
	Files         []FileEntry `json:"files"`
}

// FileEntry is one file of an archive.
type FileEntry struct {
	Path   string `json:"path"` // slash-separated, relative to the data directory
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
}

// Bytes is the total size of the files.
func (m Manifest) Bytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Part is what one top-level name of the data directory holds in an
// archive.
type Part struct {
	Name  string `json:"name"` // "hearth.db", "tsdb", "tls", …
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
}

// Parts sums the files by their first path element, in the archive's
// order.
func (m Manifest) Parts() []Part {
	var parts []Part
	for _, f := range m.Files {
		name, _, _ := strings.Cut(f.Path, "/")
		i := slices.IndexFunc(parts, func(p Part) bool { return p.Name == name })
		if i < 0 {
			parts = append(parts, Part{Name: name})
			i = len(parts) - 1
		}
		parts[i].Files++
		parts[i].Bytes += f.Size
	}
	return parts
}

// FileName is the name an archive made at t gets in a backup directory.
func FileName(t time.Time) string {
	return "hearth-" + t.UTC().Format(fileTime) + ".tar.zst"
}

const fileTime = "20060102T150405Z"

var fileNameRE = regexp.MustCompile(`^hearth-(\d{8}T\d{6}Z)\.tar\.zst$`)

// parseFileName returns the time in a name FileName made.
func parseFileName(name string) (time.Time, bool) {
	m := fileNameRE.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(fileTime, m[1])
	return t, err == nil
}

// checkPath refuses an entry name that could land outside the directory
// it is restored into, or that names the archive's own records.
func checkPath(name string) error {
	switch {
	case name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`):
		return fmt.Errorf("entry %q: not a relative path", name)
	case path.Clean(name) != name || name == "." || name == ".." || strings.HasPrefix(name, "../"):
		return fmt.Errorf("entry %q: not a clean path inside the data directory", name)
	case name == headerName || name == manifestName:
		return fmt.Errorf("entry %q: appears twice", name)
	}
	return nil
}
