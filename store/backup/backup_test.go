package backup_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/backup"
)

// install is a data directory with a real store, TLS files and a
// write-ahead log's segments, as a server leaves it.
type install struct {
	dir   string
	store *store.Store
	files map[string][]byte // what tls/ and wal/ hold
}

func newInstall(t *testing.T) *install {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, c := range []string{"acme", "globex"} {
		if err := st.CreateCustomer(store.Customer{Name: c, CreatedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	in := &install{dir: dir, store: st, files: map[string][]byte{
		"tls/ca.pem":                 []byte("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"),
		"tls/ca.key":                 []byte("-----BEGIN EC PRIVATE KEY-----\nkey\n-----END EC PRIVATE KEY-----\n"),
		"wal/00000001.seg":           random(t, 300<<10),
		"wal/00000002.seg":           random(t, 5000),
		"wal/checkpoint/position.db": []byte("42"),
	}}
	for name, data := range in.files {
		in.write(t, name, data)
	}
	return in
}

func (in *install) write(t *testing.T, name string, data []byte) {
	t.Helper()
	path := filepath.Join(in.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (in *install) maker(t *testing.T) *backup.Maker {
	t.Helper()
	m, err := backup.New(backup.Sources{
		DataDir: in.dir, Store: in.store, Dirs: []string{"tls", "demo"}, LogDir: "wal", Version: "v9.8.7",
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// archive writes a backup of in to memory.
func (in *install) archive(t *testing.T) ([]byte, backup.Manifest) {
	t.Helper()
	p, err := in.maker(t).Prepare(context.Background())
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	defer p.Close()
	var buf bytes.Buffer
	m, err := p.Write(context.Background(), &buf)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes(), m
}

// TestRoundTrip: an archive verifies, lists every file with its size and
// checksum, and restores into a missing or an empty directory as a data
// directory whose files are the originals and whose store has every
// record.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	in := newInstall(t)
	data, m := in.archive(t)
	if m.Format != backup.FormatVersion || m.HearthVersion != "v9.8.7" || m.CreatedAt.IsZero() {
		t.Errorf("manifest header: %+v", m)
	}
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Path)
	}
	want := []string{"hearth.db", "tls/ca.key", "tls/ca.pem", "wal/00000001.seg", "wal/00000002.seg", "wal/checkpoint/position.db"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("archived files (-want +got):\n%s", diff)
	}
	parts := m.Parts()
	if len(parts) != 3 || parts[0].Name != "hearth.db" || parts[2].Name != "wal" || parts[2].Files != 3 {
		t.Errorf("parts: %+v", parts)
	}

	got, err := backup.Verify(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("Verify's manifest (-Write's +Verify's):\n%s", diff)
	}

	missing := filepath.Join(t.TempDir(), "new", "data")
	empty := t.TempDir()
	for _, dir := range []string{missing, empty} {
		var last, total int64
		if _, err := backup.Restore(bytes.NewReader(data), dir, func(d, tot int64) { last, total = d, tot }); err != nil {
			t.Fatalf("Restore into %s: %v", dir, err)
		}
		if last != m.Bytes() || total != m.Bytes() {
			t.Errorf("progress ended at %d of %d, want %d", last, total, m.Bytes())
		}
		for name, data := range in.files {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil || !bytes.Equal(b, data) {
				t.Errorf("restored %s: %d bytes (%v), want the original %d", name, len(b), err, len(data))
			}
		}
		if fi, err := os.Stat(filepath.Join(dir, "tls", "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("restored ca.key mode: %v (%v)", fi.Mode(), err)
		}
		st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
		if err != nil {
			t.Fatalf("open the restored store: %v", err)
		}
		cs, err := st.ListCustomers()
		st.Close()
		if err != nil || len(cs) != 2 {
			t.Errorf("restored customers: %v (%v)", cs, err)
		}
		leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".*restore*"))
		inside, _ := filepath.Glob(filepath.Join(dir, ".restore*"))
		if len(leftovers)+len(inside) > 0 {
			t.Errorf("temporary directories left: %v %v", leftovers, inside)
		}
	}
}

// TestLogCopiedAsItWasAfterTheSnapshot: a log segment deleted after the
// backup was prepared is still in it, whole; one begun after is not; one
// appended to after holds what it had when prepared.
func TestLogCopiedAsItWasAfterTheSnapshot(t *testing.T) {
	t.Parallel()
	in := newInstall(t)
	p, err := in.maker(t).Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := os.Remove(filepath.Join(in.dir, "wal", "00000001.seg")); err != nil {
		t.Fatal(err)
	}
	in.write(t, "wal/00000003.seg", []byte("later"))
	f, err := os.OpenFile(filepath.Join(in.dir, "wal", "00000002.seg"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("appended later")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var buf bytes.Buffer
	if _, err := p.Write(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "r")
	if _, err := backup.Restore(&buf, dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"wal/00000001.seg", "wal/00000002.seg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(b, in.files[name]) {
			t.Errorf("%s: %d bytes (%v), want the %d it had when prepared", name, len(b), err, len(in.files[name]))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "wal", "00000003.seg")); err == nil {
		t.Error("a segment begun after the backup was prepared is in it")
	}
}

// TestDamageRefused: an archive with any byte changed, or cut anywhere, is
// refused by Verify and by Restore, which leaves nothing behind.
func TestDamageRefused(t *testing.T) {
	t.Parallel()
	in := newInstall(t)
	data, _ := in.archive(t)
	type variant struct {
		name string
		data []byte
	}
	var variants []variant
	for _, at := range []int{0, 3, 10, 40, 100, len(data) / 7, len(data) / 3, len(data) / 2, len(data) * 3 / 4, len(data) - 100, len(data) - 10, len(data) - 1} {
		d := bytes.Clone(data)
		d[at] ^= 0x5a
		variants = append(variants, variant{"byte " + strconv.Itoa(at) + " changed", d})
	}
	for _, n := range []int{0, 5, 100, len(data) / 4, len(data) / 2, len(data) - 200, len(data) - 20, len(data) - 1} {
		variants = append(variants, variant{"cut at " + strconv.Itoa(n), data[:n]})
	}
	for i, v := range variants {
		_, err := backup.Verify(bytes.NewReader(v.data), nil)
		// The first four bytes say zstd; without them it is no archive.
		want := backup.ErrDamaged
		if i < 2 || v.name == "cut at 0" {
			want = backup.ErrNotBackup
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: Verify answered %v, want %v", v.name, err, want)
			continue
		}
		parent := t.TempDir()
		dir := filepath.Join(parent, "data")
		if _, err := backup.Restore(bytes.NewReader(v.data), dir, nil); err == nil {
			t.Errorf("%s: Restore accepted it", v.name)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 0 {
			t.Errorf("%s: a refused restore left %v", v.name, entries)
		}
	}
	_, err := backup.Verify(bytes.NewReader(data[:len(data)/2]), nil)
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("a cut archive: %v, want it called truncated", err)
	}
}

// craft writes a zstd-compressed tar stream of the given entries.
func craft(t *testing.T, entries ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e[0], Size: int64(len(e[1])), Mode: 0o600}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRefusals: a newer format, something that is no backup, an entry
// that would land outside the directory, a file the manifest does not
// list, and a manifest whose checksum differs are each refused with what
// is wrong.
func TestRefusals(t *testing.T) {
	t.Parallel()
	head := func(format, files int, bytes int64) string {
		b, _ := json.Marshal(backup.Header{Format: format, HearthVersion: "v2.0.0", CreatedAt: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC), Files: files, Bytes: bytes})
		return string(b)
	}
	manifest := func(files ...backup.FileEntry) string {
		b, _ := json.Marshal(backup.Manifest{Format: 1, HearthVersion: "v2.0.0", CreatedAt: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC), Files: files})
		return string(b)
	}
	const abcSum = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	tests := []struct {
		name    string
		data    []byte
		wantErr error
		want    string
	}{
		{"newer format", craft(t, [2]string{"hearth-backup.json", head(2, 0, 0)}), backup.ErrNewerFormat, "format 2 (written by Hearth v2.0.0), this Hearth reads up to format 1"},
		{"plain text", []byte("hello, this is no archive"), backup.ErrNotBackup, "zstd-compressed tar"},
		{"another archive", craft(t, [2]string{"README", "hi"}), backup.ErrNotBackup, `this one begins with "README"`},
		{"escaping path", craft(t, [2]string{"hearth-backup.json", head(1, 1, 3)}, [2]string{"../evil", "abc"}), backup.ErrDamaged, "not a clean path"},
		{"absolute path", craft(t, [2]string{"hearth-backup.json", head(1, 1, 3)}, [2]string{"/etc/evil", "abc"}), backup.ErrDamaged, "not a relative path"},
		{"file not listed", craft(t, [2]string{"hearth-backup.json", head(1, 1, 3)}, [2]string{"tls/x", "abc"}, [2]string{"manifest.json", manifest()}), backup.ErrDamaged, "1 files read, the manifest lists 0"},
		{"checksum differs", craft(t, [2]string{"hearth-backup.json", head(1, 1, 3)}, [2]string{"tls/x", "abd"}, [2]string{"manifest.json", manifest(backup.FileEntry{Path: "tls/x", Size: 3, SHA256: abcSum})}), backup.ErrDamaged, "tls/x has SHA-256"},
		{"no manifest", craft(t, [2]string{"hearth-backup.json", head(1, 1, 3)}, [2]string{"tls/x", "abc"}), backup.ErrDamaged, "without its manifest"},
		{"whole", craft(t, [2]string{"hearth-backup.json", head(1, 1, 3)}, [2]string{"tls/x", "abc"}, [2]string{"manifest.json", manifest(backup.FileEntry{Path: "tls/x", Size: 3, SHA256: abcSum})}), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := backup.Verify(bytes.NewReader(tt.data), nil)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify: %v; want %v saying %q", err, tt.wantErr, tt.want)
			}
			parent := t.TempDir()
			if _, err := backup.Restore(bytes.NewReader(tt.data), filepath.Join(parent, "d"), nil); !errors.Is(err, tt.wantErr) {
				t.Errorf("Restore: %v, want %v", err, tt.wantErr)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("a refused restore left %v", entries)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(parent), "evil")); err == nil {
				t.Error("an entry escaped the directory")
			}
		})
	}
}

// TestRestoreRefusesNonEmpty: a directory that holds anything, or a
// file, is refused before anything is read, and left as it was.
func TestRestoreRefusesNonEmpty(t *testing.T) {
	t.Parallel()
	in := newInstall(t)
	data, _ := in.archive(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := backup.Restore(bytes.NewReader(data), dir, nil)
	if !errors.Is(err, backup.ErrNotEmpty) || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("Restore into a non-empty directory: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory now holds %v", entries)
	}
	file := filepath.Join(dir, "notes.txt")
	if _, err := backup.Restore(bytes.NewReader(data), file, nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Restore into a file: %v", err)
	}
}

// TestOneAtATime: a second backup is refused while one is pending, and
// may be prepared once it is closed.
func TestOneAtATime(t *testing.T) {
	t.Parallel()
	in := newInstall(t)
	m := in.maker(t)
	p, err := m.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Prepare(context.Background()); !errors.Is(err, backup.ErrBusy) {
		t.Errorf("second Prepare: %v, want ErrBusy", err)
	}
	p.Close()
	p2, err := m.Prepare(context.Background())
	if err != nil {
		t.Fatalf("Prepare after Close: %v", err)
	}
	p2.Close()
}

// TestWriteCancelled: a write stopped by its context leaves an archive a
// reader refuses.
func TestWriteCancelled(t *testing.T) {
	t.Parallel()
	in := newInstall(t)
	p, err := in.maker(t).Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if _, err := p.Write(ctx, &buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write: %v", err)
	}
	if _, err := backup.Verify(&buf, nil); err == nil {
		t.Error("the archive of a cancelled write verifies")
	}
}

// TestBackupDirectory: WriteFile names archives by time and leaves no
// partial file; Prune keeps the newest; Newest finds the last;
// RemovePartials deletes what an interrupted write left, and nothing
// else.
func TestBackupDirectory(t *testing.T) {
	t.Parallel()
	in := newInstall(t)
	dir := t.TempDir()
	now := time.Date(2027, 3, 1, 2, 0, 0, 0, time.UTC)
	m, err := backup.New(backup.Sources{DataDir: in.dir, Store: in.store, Dirs: []string{"tls"}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for range 4 {
		path, size, man, err := m.WriteFile(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != size || len(man.Files) != 3 {
			t.Errorf("%s: %v bytes (%v), WriteFile said %d; manifest %d files", path, fi.Size(), err, size, len(man.Files))
		}
		paths = append(paths, path)
		now = now.Add(time.Hour)
	}
	if filepath.Base(paths[0]) != "hearth-20270301T020000Z.tar.zst" {
		t.Errorf("archive name %s", paths[0])
	}
	for _, name := range []string{"notes.txt", ".hearth-20270301T090000Z.tar.zst.partial-123"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := backup.Prune(dir, 2)
	if err != nil || !cmp.Equal(removed, paths[:2]) {
		t.Errorf("Prune removed %v (%v), want %v", removed, err, paths[:2])
	}
	newest, ok, err := backup.Newest(dir)
	if err != nil || !ok || !newest.Equal(time.Date(2027, 3, 1, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("Newest: %v %v %v", newest, ok, err)
	}
	if err := backup.RemovePartials(dir); err != nil {
		t.Fatal(err)
	}
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{"hearth-20270301T040000Z.tar.zst", "hearth-20270301T050000Z.tar.zst", "notes.txt"}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("left in the directory (-want +got):\n%s", diff)
	}
	if _, ok, err := backup.Newest(t.TempDir()); ok || err != nil {
		t.Errorf("Newest of an empty directory: %v %v", ok, err)
	}
}

// FuzzVerify: whatever the bytes, reading an archive ends in an answer,
// never a panic, and only an archive that verifies restores.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("not an archive"))
	f.Add(craftF(f, [2]string{"hearth-backup.json", `{"format":1,"files":1,"bytes":3}`}, [2]string{"a", "abc"}))
	f.Add(craftF(f, [2]string{"hearth-backup.json", `{"format":1,"files":0,"bytes":0,"created_at":"0001-01-01T00:00:00Z"}`}, [2]string{"manifest.json", `{"format":1,"files":[],"created_at":"0001-01-01T00:00:00Z"}`}))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, verr := backup.Verify(bytes.NewReader(data), nil)
		dir := filepath.Join(t.TempDir(), "d")
		_, rerr := backup.Restore(bytes.NewReader(data), dir, nil)
		if (verr == nil) != (rerr == nil) {
			t.Fatalf("Verify %v, Restore %v", verr, rerr)
		}
	})
}

func craftF(f *testing.F, entries ...[2]string) []byte {
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e[0], Size: int64(len(e[1])), Mode: 0o600}); err != nil {
			f.Fatal(err)
		}
		_, _ = io.WriteString(tw, e[1])
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

// copyWatcher is the store, remembering whether the hold was taken when
// its copy was.
type copyWatcher struct {
	*store.Store
	held       *bool
	copiedHeld bool
}

func (c *copyWatcher) WriteCopy(w io.Writer) (int64, error) {
	c.copiedHeld = *c.held
	return c.Store.WriteCopy(w)
}

// TestHoldSpansStoreAndDirectories: the hold is taken before the store is
// copied and released only once the directories' files are open, so a
// file removed at the release (content a deleted artifact named) is still
// in the archive, whole, beside the store that names it.
func TestHoldSpansStoreAndDirectories(t *testing.T) {
	t.Parallel()
	in := newInstall(t)
	content := random(t, 70<<10)
	in.write(t, "artifacts/sha256/ab/abcd", content)
	held, releases := false, 0
	st := &copyWatcher{Store: in.store, held: &held}
	m, err := backup.New(backup.Sources{
		DataDir: in.dir, Store: st, Dirs: []string{"tls", "artifacts/sha256"}, Version: "v9.8.7",
		Hold: func() func() {
			held = true
			return func() {
				held = false
				releases++
				if err := os.Remove(filepath.Join(in.dir, "artifacts", "sha256", "ab", "abcd")); err != nil {
					t.Error(err)
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !st.copiedHeld || held || releases != 1 {
		t.Errorf("store copied while held: %v; held after Prepare: %v; released %d times", st.copiedHeld, held, releases)
	}
	var buf bytes.Buffer
	if _, err := p.Write(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(bytes.NewReader(buf.Bytes()), dir, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "artifacts", "sha256", "ab", "abcd")); err != nil || !bytes.Equal(got, content) {
		t.Errorf("content removed at the release: %d bytes restored (%v), want the %d it had", len(got), err, len(content))
	}
}
