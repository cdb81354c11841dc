package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/store"
)

// DefaultMaxSize is the largest artifact accepted when Options.MaxSize is
// zero: 256 MiB.
const DefaultMaxSize = 256 << 20

// ContentDir is where content lives, relative to the data directory and
// slash-separated: what a backup copies.
const ContentDir = "artifacts/sha256"

// tmpDir is where uploads are written until they are whole, relative to
// the data directory; it is emptied at Open.
const tmpDir = "artifacts/tmp"

// maxCreatedByLen bounds who uploaded an artifact, as the store does.
const maxCreatedByLen = 128

// DefaultContentType is the content type of an artifact uploaded without
// one.
const DefaultContentType = "application/octet-stream"

// Errors, checked with errors.Is. ErrInvalid and ErrNotFound are the
// store's, so that callers that know those need nothing more.
var (
	// ErrTooLarge: the upload is larger than Options.MaxSize.
	ErrTooLarge = errors.New("too large")
	// ErrInvalid: a name, signature, content type or link lifetime breaks
	// a rule; the message says which.
	ErrInvalid = store.ErrInvalid
	// ErrNotFound: no artifact has that name.
	ErrNotFound = store.ErrNotFound
)

// Artifact is an uploaded file as callers see it.
type Artifact struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex, lower case
	// Signature is the code signature the operator uploaded with the
	// file (base64), handed to devices to check; Hearth does not check it.
	Signature   string    `json:"signature"`
	ContentType string    `json:"content_type"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
}

// Options tune Open. Zero values take the defaults.
type Options struct {
	// BaseURL is how devices reach Hearth, https://host:port; download
	// links are made under it. It may be set later with SetBaseURL (a
	// server learns its port once its listener is bound).
	BaseURL string
	// MaxSize is the largest artifact accepted, in bytes; default
	// DefaultMaxSize.
	MaxSize int64
	// Now is the clock of records and links; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger // default discards
}

// PutOptions describe an upload besides its content.
type PutOptions struct {
	// Signature is an optional code signature of the file, standard
	// base64, kept as given.
	Signature string
	// ContentType is what downloads are served as; default
	// application/octet-stream.
	ContentType string
	// CreatedBy names who uploaded it, for the record.
	CreatedBy string
}

// Store keeps artifacts: records in the store, content in the data
// directory. It is safe for concurrent use.
type Store struct {
	dir    string // the data directory
	st     *store.Store
	max    int64
	now    func() time.Time
	logger *slog.Logger
	key    []byte
	base   atomic.Pointer[string]

	// mu orders what places and removes content with the records that
	// name it, so that content is never removed while a record that
	// names it is being written.
	mu sync.Mutex
	// holds counts backups under way; while there are any, content is
	// not removed, and swept once the last one ends when sweep is set.
	holds int
	sweep bool
}

// Open opens the artifacts of the data directory dataDir, whose records
// st keeps: it makes the directories it needs, reads (or makes, on the
// first start) the key that signs links, removes uploads a stop cut short
// and content no artifact names (a crash between placing content and
// recording it leaves such), and logs artifacts whose content is missing.
func Open(dataDir string, st *store.Store, opts Options) (*Store, error) {
	if dataDir == "" || st == nil {
		return nil, errors.New("open artifacts: a data directory and a store are required")
	}
	s := &Store{dir: dataDir, st: st, max: opts.MaxSize, now: opts.Now, logger: opts.Logger}
	switch {
	case s.max == 0:
		s.max = DefaultMaxSize
	case s.max < 0:
		return nil, fmt.Errorf("open artifacts: the size limit %d is negative", s.max)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if opts.BaseURL != "" {
		if err := s.SetBaseURL(opts.BaseURL); err != nil {
			return nil, fmt.Errorf("open artifacts: %w", err)
		}
	}
	for _, d := range []string{ContentDir, tmpDir} {
		if err := os.MkdirAll(s.path(d), 0o700); err != nil {
			return nil, fmt.Errorf("open artifacts: %w", err)
		}
	}
	key, err := st.ArtifactLinkKey()
	if err != nil {
		return nil, fmt.Errorf("open artifacts: %w", err)
	}
	s.key = key
	if err := s.removeUploads(); err != nil {
		return nil, fmt.Errorf("open artifacts: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.sweepLocked(true); err != nil {
		return nil, fmt.Errorf("open artifacts: %w", err)
	}
	return s, nil
}

// SetBaseURL sets how devices reach Hearth, https://host[:port] (http is
// accepted for tests and trusted networks); links made from now on are
// under it.
func (s *Store) SetBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("base URL %q: https://host[:port] is expected: %w", base, ErrInvalid)
	}
	b := u.Scheme + "://" + u.Host
	s.base.Store(&b)
	return nil
}

// MaxSize is the largest artifact accepted, in bytes.
func (s *Store) MaxSize() int64 { return s.max }

// path is a slash-separated path of the data directory as a file path.
func (s *Store) path(rel string) string { return filepath.Join(s.dir, filepath.FromSlash(rel)) }

// contentPath is where content with the SHA-256 sum (hex) lives.
func (s *Store) contentPath(sum string) string {
	return filepath.Join(s.path(ContentDir), sum[:2], sum)
}

// checkPut refuses what is wrong with an upload before its content is read.
func checkPut(name string, p *PutOptions) error {
	if err := store.CheckArtifactName(name); err != nil {
		return err
	}
	if p.ContentType == "" {
		p.ContentType = DefaultContentType
	}
	if err := store.CheckContentType(p.ContentType); err != nil {
		return err
	}
	if err := store.CheckArtifactSignature(p.Signature); err != nil {
		return err
	}
	if len(p.CreatedBy) > maxCreatedByLen {
		return fmt.Errorf("created by is %d bytes long, at most %d are accepted: %w", len(p.CreatedBy), maxCreatedByLen, ErrInvalid)
	}
	return nil
}

// Put stores r's content as the artifact name, replacing the content of
// an artifact of that name, and returns its record. The content is
// streamed to a temporary file in the data directory while its SHA-256 is
// computed; more than MaxSize bytes is refused with ErrTooLarge, and an
// empty body with ErrInvalid, leaving nothing behind. The file is synced
// and renamed into place (content already stored is kept as it is), then
// the record is written; content the artifact named before, and no other
// artifact names, is removed.
func (s *Store) Put(name string, r io.Reader, p PutOptions) (Artifact, error) {
	if err := checkPut(name, &p); err != nil {
		return Artifact{}, err
	}
	tmp, sum, n, err := s.receive(name, r)
	if err != nil {
		return Artifact{}, err
	}
	rec := store.Artifact{Name: name, Size: n, SHA256: sum, Signature: p.Signature, ContentType: p.ContentType,
		CreatedAt: s.now().UTC(), CreatedBy: p.CreatedBy}

	s.mu.Lock()
	defer s.mu.Unlock()
	placed, err := s.place(tmp, sum, n)
	if err != nil {
		_ = os.Remove(tmp)
		return Artifact{}, fmt.Errorf("put artifact %q: %w", name, err)
	}
	old, replaced, err := s.st.PutArtifact(rec)
	if err != nil {
		if placed {
			s.release(sum)
		}
		return Artifact{}, err
	}
	if replaced && old.SHA256 != sum {
		s.release(old.SHA256)
	}
	s.logger.Info("artifact stored", "name", name, "bytes", n, "sha256", sum, "by", p.CreatedBy)
	return fromRecord(rec), nil
}

// receive writes r to a new temporary file, synced, and returns its path,
// SHA-256 and size. On any failure nothing is left behind.
func (s *Store) receive(name string, r io.Reader) (tmp, sum string, n int64, err error) {
	f, err := os.CreateTemp(s.path(tmpDir), "upload-*")
	if err != nil {
		return "", "", 0, fmt.Errorf("put artifact %q: %w", name, err)
	}
	partial := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(partial)
		}
	}()
	h := sha256.New()
	buf := make([]byte, 256<<10)
	n, err = io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(r, s.max+1), buf)
	switch {
	case err != nil:
		return "", "", 0, fmt.Errorf("put artifact %q: read the upload after %d bytes: %w", name, n, err)
	case n > s.max:
		return "", "", 0, fmt.Errorf("artifact %q is %w: more than %s, the most accepted", name, ErrTooLarge, formatSize(s.max))
	case n == 0:
		return "", "", 0, fmt.Errorf("artifact %q is empty: send the file as the request body: %w", name, ErrInvalid)
	}
	if err = f.Sync(); err == nil {
		err = f.Close()
	}
	if err != nil {
		return "", "", 0, fmt.Errorf("put artifact %q: %w", name, err)
	}
	return partial, hex.EncodeToString(h.Sum(nil)), n, nil
}

// place moves the temporary file tmp into place as the content sum, of n
// bytes, and reports whether it did; content already there whole is kept
// and tmp removed. s.mu is held.
func (s *Store) place(tmp, sum string, n int64) (bool, error) {
	path := s.contentPath(sum)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == n {
		return false, os.Remove(tmp)
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil {
			return false, err
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return false, err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, err
	}
	return true, syncDir(dir)
}

// release removes the content sum when no artifact names it, or leaves it
// for the sweep at the end of the backups under way. A failure is logged:
// the next Open removes what is left. s.mu is held.
func (s *Store) release(sum string) {
	if s.holds > 0 {
		s.sweep = true
		return
	}
	list, err := s.st.ListArtifacts()
	if err != nil {
		s.logger.Warn("artifact content not removed; the next start removes it", "sha256", sum, "error", err)
		return
	}
	for _, a := range list {
		if a.SHA256 == sum {
			return
		}
	}
	path := s.contentPath(sum)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.logger.Warn("artifact content not removed; the next start removes it", "sha256", sum, "error", err)
		return
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		s.logger.Warn("artifact content removal not synced", "sha256", sum, "error", err)
	}
}

// sweepLocked removes the content no artifact names; atOpen also logs the
// artifacts whose content is missing. s.mu is held.
func (s *Store) sweepLocked(atOpen bool) error {
	list, err := s.st.ListArtifacts()
	if err != nil {
		return err
	}
	named := make(map[string]bool, len(list))
	for _, a := range list {
		named[a.SHA256] = true
	}
	root := s.path(ContentDir)
	shards, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	var removed int
	for _, shard := range shards {
		if !shard.IsDir() {
			continue
		}
		dir := filepath.Join(root, shard.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		changed := false
		for _, f := range files {
			if !f.Type().IsRegular() || !validSum(f.Name()) || f.Name()[:2] != shard.Name() {
				continue // not content: left alone
			}
			if named[f.Name()] {
				have[f.Name()] = true
				continue
			}
			if err := os.Remove(filepath.Join(dir, f.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			changed = true
			removed++
		}
		if changed {
			if err := syncDir(dir); err != nil {
				return err
			}
		}
	}
	if removed > 0 {
		s.logger.Info("artifact content no artifact names removed", "files", removed)
	}
	if atOpen {
		for _, a := range list {
			if !have[a.SHA256] {
				s.logger.Error("artifact content is missing; upload the artifact again", "name", a.Name, "sha256", a.SHA256)
			}
		}
	}
	return nil
}

// removeUploads removes the temporary files of uploads a stop cut short.
func (s *Store) removeUploads() error {
	dir := s.path(tmpDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	if len(entries) > 0 {
		s.logger.Info("unfinished artifact uploads removed", "files", len(entries))
	}
	return nil
}

// Hold keeps content from being removed until release is called: a
// backup holds it from before it copies the store until it has opened
// the content files, so that every artifact the copied store names has
// its content in the archive. Content let go of meanwhile is removed when
// the last hold is released. release may be called more than once.
func (s *Store) Hold() (release func()) {
	s.mu.Lock()
	s.holds++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.holds--
			if s.holds == 0 && s.sweep {
				s.sweep = false
				if err := s.sweepLocked(false); err != nil {
					s.logger.Warn("artifact content not removed; the next start removes it", "error", err)
				}
			}
		})
	}
}

// Get returns the artifact name, or ErrNotFound.
func (s *Store) Get(name string) (Artifact, error) {
	rec, err := s.st.GetArtifact(name)
	if err != nil {
		return Artifact{}, err
	}
	return fromRecord(rec), nil
}

// List returns every artifact, sorted by name; never nil.
func (s *Store) List() ([]Artifact, error) {
	recs, err := s.st.ListArtifacts()
	if err != nil {
		return nil, err
	}
	out := make([]Artifact, len(recs))
	for i, r := range recs {
		out[i] = fromRecord(r)
	}
	return out, nil
}

// Delete removes the artifact name, and its content unless another
// artifact names it; links to it answer 404 from then on.
func (s *Store) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.st.DeleteArtifact(name)
	if err != nil {
		return err
	}
	s.release(old.SHA256)
	s.logger.Info("artifact deleted", "name", name, "sha256", old.SHA256)
	return nil
}

func fromRecord(r store.Artifact) Artifact {
	return Artifact{Name: r.Name, Size: r.Size, SHA256: r.SHA256, Signature: r.Signature, ContentType: r.ContentType,
		CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy}
}

// validSum reports whether s is a SHA-256 in lower-case hex.
func validSum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// formatSize writes a byte count for people: 256 MiB, 1.5 GiB, 900 bytes.
func formatSize(n int64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", f), "0"), ".") + " " + units[i]
}

// syncDir makes a directory's entries (files created, renamed, removed)
// durable.
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
