package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Store is the record store; *store.Store implements it.
type Store interface {
	// WriteCopy writes a consistent copy of the store to w and returns
	// its size.
	WriteCopy(w io.Writer) (int64, error)
}

// Series is the time-series store; the server adapts store/tsdb to it.
type Series interface {
	// Snapshot returns the files of the stored series at this instant,
	// named relative to the time-series directory, and a release
	// function called once they are copied.
	Snapshot() (files []File, release func() error, err error)
}

// File is one file to archive: its content is the file at Path, or Data
// when Path is empty.
type File struct {
	Name string // slash-separated
	Path string
	Data []byte
	Size int64
	Mode fs.FileMode // permission bits; zero is 0600

	open *os.File // opened when prepared
}

// Sources are what a backup copies from.
type Sources struct {
	// DataDir is the data directory. The store's copy is spooled to a
	// file there (removed at once, read through its open descriptor), so
	// that the store's read transaction lasts as long as a local copy,
	// not as long as the archive takes to reach a slow reader.
	DataDir string
	Store   Store
	// SeriesDir names the time-series store's directory in the data
	// directory; Series may be nil (no time series).
	SeriesDir string
	Series    Series
	// Dirs name directories of the data directory copied whole, if they
	// exist: TLS material, credentials files.
	Dirs []string
	// Hold, when set, is called before the store's copy is taken, and the
	// function it returns once the directories' files are open: a store
	// of files named by records (artifacts) removes none meanwhile, so
	// that every file the copied records name is in the archive.
	Hold func() (release func())
	// LogDir names the telemetry write-ahead log's directory, if any: its
	// files are opened before the time-series snapshot is taken and
	// copied after it.
	LogDir string
	// Version is Hearth's version, recorded in the archive.
	Version string
	// Level is the zstd level; zero is zstd.SpeedFastest: the time
	// series, most of an archive, are compressed already, and the faster
	// level leaves more of the machine to devices and pages.
	Level  zstd.EncoderLevel
	Logger *slog.Logger
	Now    func() time.Time
}

// Maker writes backups of one data directory, one at a time.
type Maker struct {
	src  Sources
	busy chan struct{}
}

// New returns a Maker over src; Store is required.
func New(src Sources) (*Maker, error) {
	if src.Store == nil || src.DataDir == "" {
		return nil, errors.New("new backup maker: a store and a data directory are required")
	}
	if src.Logger == nil {
		src.Logger = slog.New(slog.DiscardHandler)
	}
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.Level == 0 {
		src.Level = zstd.SpeedFastest
	}
	return &Maker{src: src, busy: make(chan struct{}, 1)}, nil
}

// Pending is a backup whose copies are taken: what it writes is the data
// directory at the instant Prepare returned, whatever happens to it
// later. Close it, written or not.
type Pending struct {
	header  Header
	files   []File
	level   zstd.EncoderLevel
	closers []func() error
	done    func()
}

// Prepare takes the copies a backup writes: the store's, the time
// series' snapshot, and the files of the directories to copy. It returns
// ErrBusy while another backup is pending, and holds the maker until the
// returned backup is closed.
func (m *Maker) Prepare(ctx context.Context) (*Pending, error) {
	select {
	case m.busy <- struct{}{}:
	default:
		return nil, ErrBusy
	}
	p := &Pending{level: m.src.Level, done: func() { <-m.busy }}
	if err := m.prepare(ctx, p); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (m *Maker) prepare(ctx context.Context, p *Pending) error {
	src := m.src
	start := time.Now()
	p.header = Header{Format: FormatVersion, HearthVersion: src.Version, CreatedAt: src.Now().UTC().Truncate(time.Second)}
	if src.Hold != nil {
		// Released once the directories' files are open, below.
		defer src.Hold()()
	}

	db, err := m.spoolStore(p)
	if err != nil {
		return err
	}
	p.files = append(p.files, db)
	if err := ctx.Err(); err != nil {
		return err
	}

	// The log's files are opened first: a segment the log deletes once
	// the storage has its samples stays readable through its descriptor.
	var logFiles []File
	if src.LogDir != "" {
		if logFiles, err = p.openDir(src.DataDir, src.LogDir, nil); err != nil {
			return err
		}
	}
	if src.Series != nil {
		files, release, err := src.Series.Snapshot()
		if err != nil {
			return err
		}
		p.closers = append(p.closers, release)
		for _, f := range files {
			f.Name = src.SeriesDir + "/" + f.Name
			p.files = append(p.files, f)
		}
	}
	for _, dir := range src.Dirs {
		files, err := p.openDir(src.DataDir, dir, nil)
		if err != nil {
			return err
		}
		p.files = append(p.files, files...)
	}
	if src.LogDir != "" {
		// Segments begun since the first look.
		more, err := p.openDir(src.DataDir, src.LogDir, logFiles)
		if err != nil {
			return err
		}
		logFiles = append(logFiles, more...)
		slices.SortFunc(logFiles, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
		// Sizes are taken now, after the snapshot: what the log holds
		// then is what is copied.
		for i := range logFiles {
			fi, err := logFiles[i].open.Stat()
			if err != nil {
				return fmt.Errorf("back up %s: %w", logFiles[i].Name, err)
			}
			logFiles[i].Size = fi.Size()
		}
		p.files = append(p.files, logFiles...)
	}
	for _, f := range p.files {
		p.header.Files++
		p.header.Bytes += f.Size
	}
	src.Logger.Info("backup prepared", "files", p.header.Files, "bytes", p.header.Bytes, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// spoolStore copies the store to an unlinked file in the data directory.
func (m *Maker) spoolStore(p *Pending) (File, error) {
	f, err := os.CreateTemp(m.src.DataDir, ".backup-*.db")
	if err != nil {
		return File{}, fmt.Errorf("back up the store: %w", err)
	}
	p.closers = append(p.closers, f.Close)
	// Unlinked at once: nothing is left behind if the process ends.
	if err := os.Remove(f.Name()); err != nil {
		return File{}, fmt.Errorf("back up the store: %w", err)
	}
	n, err := m.src.Store.WriteCopy(f)
	if err != nil {
		return File{}, fmt.Errorf("back up the store: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return File{}, fmt.Errorf("back up the store: %w", err)
	}
	return File{Name: "hearth.db", Size: n, Mode: 0o600, open: f}, nil
}

// openDir opens the regular files under dataDir/dir (recursively), except
// those already in have, and records their sizes now.
func (p *Pending) openDir(dataDir, dir string, have []File) ([]File, error) {
	root := filepath.Join(dataDir, filepath.FromSlash(dir))
	var files []File
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // the directory, or a file in it, is gone: nothing to copy
		}
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dataDir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if slices.ContainsFunc(have, func(f File) bool { return f.Name == name }) {
			return nil
		}
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		p.closers = append(p.closers, f.Close)
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		files = append(files, File{Name: name, Size: fi.Size(), Mode: fi.Mode().Perm(), open: f})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("back up %s: %w", dir, err)
	}
	return files, nil
}

// Header is what the archive's first entry says.
func (p *Pending) Header() Header { return p.header }

// FileName is the name the archive gets in a backup directory.
func (p *Pending) FileName() string { return FileName(p.header.CreatedAt) }

// Close releases the copies: the time series' snapshot, the spooled
// store and the open files. It lets the next backup be prepared.
func (p *Pending) Close() error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		if err := p.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	p.closers = nil
	if p.done != nil {
		p.done()
		p.done = nil
	}
	return errors.Join(errs...)
}

// Write writes the archive to w and returns its manifest. An error leaves
// w with an archive a reader refuses (no manifest); ctx stops it.
func (p *Pending) Write(ctx context.Context, w io.Writer) (Manifest, error) {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(p.level))
	if err != nil {
		return Manifest{}, err
	}
	tw := tar.NewWriter(zw)
	m := Manifest{Format: p.header.Format, HearthVersion: p.header.HearthVersion, CreatedAt: p.header.CreatedAt}
	if err := p.write(ctx, tw, &m); err != nil {
		// The zstd stream is left unterminated, so that nothing reads it
		// as whole.
		zw.Reset(io.Discard)
		return Manifest{}, err
	}
	if err := tw.Close(); err != nil {
		return Manifest{}, fmt.Errorf("write backup: %w", err)
	}
	if err := zw.Close(); err != nil {
		return Manifest{}, fmt.Errorf("write backup: %w", err)
	}
	return m, nil
}

func (p *Pending) write(ctx context.Context, tw *tar.Writer, m *Manifest) error {
	if err := writeJSON(tw, headerName, p.header, p.header.CreatedAt); err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	for _, f := range p.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o600
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.Name, Size: f.Size, Mode: int64(mode), ModTime: p.header.CreatedAt}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write backup: %s: %w", f.Name, err)
		}
		sum, err := copyFile(ctx, tw, f, buf)
		if err != nil {
			return fmt.Errorf("write backup: %s: %w", f.Name, err)
		}
		m.Files = append(m.Files, FileEntry{Path: f.Name, Size: f.Size, SHA256: sum})
	}
	return writeJSON(tw, manifestName, m, p.header.CreatedAt)
}

// copyFile copies f's Size bytes to w and returns their SHA-256.
func copyFile(ctx context.Context, w io.Writer, f File, buf []byte) (string, error) {
	var r io.Reader
	switch {
	case f.open != nil:
		r = f.open
	case f.Path != "":
		file, err := os.Open(f.Path)
		if err != nil {
			return "", err
		}
		defer file.Close()
		r = file
	default:
		r = bytes.NewReader(f.Data)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, h), ctxReader{ctx, io.LimitReader(r, f.Size)}, buf)
	if err != nil {
		return "", err
	}
	if n != f.Size {
		return "", fmt.Errorf("%d bytes read, %d expected: the file shrank while being copied", n, f.Size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeJSON(tw *tar.Writer, name string, v any, t time.Time) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o600, ModTime: t}); err != nil {
		return fmt.Errorf("write backup: %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("write backup: %s: %w", name, err)
	}
	return nil
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
