package backup

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"

	"github.com/klauspost/compress/zstd"
)

// Progress is told, as an archive is read, how many bytes of its files
// were read of how many the archive announced.
type Progress func(done, total int64)

// visitor receives each file of an archive in turn; it may read r, and
// what it leaves unread is read (and checked) after it returns.
type visitor func(name string, mode fs.FileMode, size int64, r io.Reader) error

// Verify reads a whole archive and checks every file against the
// manifest; it returns the manifest of an archive that is whole.
func Verify(r io.Reader, progress Progress) (Manifest, error) {
	return read(r, progress, nil)
}

// read reads an archive, hands each file to visit (when not nil) and
// checks it against the manifest at the end. Errors of the archive wrap
// ErrDamaged, ErrNotBackup or ErrNewerFormat; visit's are returned as they
// are.
func read(r io.Reader, progress Progress, visit visitor) (Manifest, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(len(zstdMagic)); err != nil || string(magic) != zstdMagic {
		return Manifest{}, fmt.Errorf("%w: a zstd-compressed tar stream beginning with %s is expected", ErrNotBackup, headerName)
	}
	zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
	if err != nil {
		return Manifest{}, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)

	hdr, err := tr.Next()
	if err != nil {
		return Manifest{}, damaged(err, 0, Header{})
	}
	if hdr.Name != headerName {
		return Manifest{}, fmt.Errorf("%w: a tar stream beginning with %s is expected, this one begins with %q", ErrNotBackup, headerName, hdr.Name)
	}
	var head Header
	if err := readJSON(tr, hdr, &head); err != nil {
		return Manifest{}, fmt.Errorf("%w: %s: %v", ErrDamaged, headerName, err)
	}
	switch {
	case head.Format > FormatVersion:
		return Manifest{}, fmt.Errorf("%w: format %d (written by Hearth %s), this Hearth reads up to format %d: use Hearth %s or newer",
			ErrNewerFormat, head.Format, head.HearthVersion, FormatVersion, head.HearthVersion)
	case head.Format < 1:
		return Manifest{}, fmt.Errorf("%w: %s names format %d", ErrDamaged, headerName, head.Format)
	}

	var (
		got      []FileEntry
		done     int64
		buf      = make([]byte, 256<<10)
		manifest *Manifest
	)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Manifest{}, damaged(err, len(got), head)
		}
		if manifest != nil {
			return Manifest{}, fmt.Errorf("%w: entry %q after the manifest", ErrDamaged, hdr.Name)
		}
		if hdr.Name == manifestName {
			manifest = &Manifest{}
			if err := readJSON(tr, hdr, manifest); err != nil {
				return Manifest{}, damaged(err, len(got), head)
			}
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return Manifest{}, fmt.Errorf("%w: entry %q is not a regular file", ErrDamaged, hdr.Name)
		}
		if err := checkPath(hdr.Name); err != nil {
			return Manifest{}, fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		if slices.ContainsFunc(got, func(e FileEntry) bool { return e.Path == hdr.Name }) {
			return Manifest{}, fmt.Errorf("%w: entry %q appears twice", ErrDamaged, hdr.Name)
		}
		h := sha256.New()
		counted := &countingReader{r: io.TeeReader(tr, h), progress: progress, done: &done, total: head.Bytes}
		if visit != nil {
			if err := visit(hdr.Name, fs.FileMode(hdr.Mode).Perm(), hdr.Size, counted); err != nil {
				if counted.readErr != nil {
					return Manifest{}, damaged(counted.readErr, len(got), head)
				}
				return Manifest{}, err
			}
		}
		if _, err := io.CopyBuffer(io.Discard, counted, buf); err != nil {
			return Manifest{}, damaged(err, len(got), head)
		}
		got = append(got, FileEntry{Path: hdr.Name, Size: hdr.Size, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	// The zstd stream must end where the tar stream does: its frame
	// checksum is checked at the end of the frame.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return Manifest{}, damaged(err, len(got), head)
	}
	if manifest == nil {
		return Manifest{}, fmt.Errorf("%w: it ends after %d of %d files, without its manifest: the archive is truncated", ErrDamaged, len(got), head.Files)
	}
	if err := check(head, *manifest, got); err != nil {
		return Manifest{}, err
	}
	return *manifest, nil
}

// damaged describes a failure to read the archive's streams.
func damaged(err error, files int, head Header) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: it ends in the middle, after %d of %d files: the archive is truncated", ErrDamaged, files, head.Files)
	}
	return fmt.Errorf("%w: after %d of %d files: %v", ErrDamaged, files, head.Files, err)
}

// check compares what was read with the header and the manifest.
func check(head Header, m Manifest, got []FileEntry) error {
	if m.Format != head.Format || !m.CreatedAt.Equal(head.CreatedAt) || m.HearthVersion != head.HearthVersion {
		return fmt.Errorf("%w: the manifest and %s disagree about the archive", ErrDamaged, headerName)
	}
	if len(m.Files) != len(got) || head.Files != len(got) {
		return fmt.Errorf("%w: %d files read, the manifest lists %d and the header %d", ErrDamaged, len(got), len(m.Files), head.Files)
	}
	for i, want := range m.Files {
		g := got[i]
		switch {
		case g.Path != want.Path:
			return fmt.Errorf("%w: file %d is %s, the manifest says %s", ErrDamaged, i+1, g.Path, want.Path)
		case g.Size != want.Size:
			return fmt.Errorf("%w: %s has %d bytes, the manifest says %d", ErrDamaged, g.Path, g.Size, want.Size)
		case g.SHA256 != want.SHA256:
			return fmt.Errorf("%w: %s has SHA-256 %s, the manifest says %s", ErrDamaged, g.Path, g.SHA256, want.SHA256)
		}
	}
	if m.Bytes() != head.Bytes {
		return fmt.Errorf("%w: the files hold %d bytes, the header says %d", ErrDamaged, m.Bytes(), head.Bytes)
	}
	return nil
}

// zstdMagic starts every zstd frame.
const zstdMagic = "\x28\xb5\x2f\xfd"

// maxWindow bounds the memory a zstd frame may ask the reader for; the
// writer's levels use 8 MiB at most.
const maxWindow = 32 << 20

// maxRecord bounds the archive's own JSON records.
const maxRecord = 64 << 20

func readJSON(r io.Reader, hdr *tar.Header, v any) error {
	if hdr.Size > maxRecord {
		return fmt.Errorf("%s: %d bytes is more than a record may have", hdr.Name, hdr.Size)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	return nil
}

// countingReader counts the bytes of files read, for progress, and keeps
// the first read error, which is the archive's and not the visitor's.
type countingReader struct {
	r        io.Reader
	progress Progress
	done     *int64
	total    int64
	readErr  error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.done += int64(n)
	if n > 0 && c.progress != nil {
		c.progress(*c.done, c.total)
	}
	if err != nil && !errors.Is(err, io.EOF) && c.readErr == nil {
		c.readErr = err
	}
	return n, err
}
