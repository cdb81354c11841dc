package artifact_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hearthiot/hearth/jobs/artifact"
	"github.com/hearthiot/hearth/store"
)

// clock is a settable time for link expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is an artifact store over a real bbolt file in a temporary data
// directory.
type fixture struct {
	dir   string
	st    *store.Store
	a     *artifact.Store
	clock *clock
}

func newFixture(t testing.TB, opts artifact.Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{dir: dir, st: st, clock: &clock{t: time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)}}
	if opts.Now == nil {
		opts.Now = f.clock.now
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "https://hearth.example:8443"
	}
	f.a, err = artifact.Open(dir, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// reopen opens the artifacts of the same directory and store again, as a
// restart does.
func (f *fixture) reopen(t testing.TB, opts artifact.Options) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = f.clock.now
	}
	var err error
	if f.a, err = artifact.Open(f.dir, f.st, opts); err != nil {
		t.Fatal(err)
	}
}

// contents lists the content files, by SHA-256.
func (f *fixture) contents(t testing.TB) []string {
	t.Helper()
	var sums []string
	err := filepath.WalkDir(filepath.Join(f.dir, filepath.FromSlash(artifact.ContentDir)), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			sums = append(sums, d.Name())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(sums)
	return sums
}

// uploads lists what the temporary upload directory holds.
func (f *fixture) uploads(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(f.dir, "artifacts", "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestPutGetListDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t, artifact.Options{})
	v1 := randomBytes(t, 300<<10)
	a, err := f.a.Put("fw-1.0.bin", bytes.NewReader(v1), artifact.PutOptions{Signature: "c2ln", CreatedBy: "token:ci"})
	if err != nil {
		t.Fatal(err)
	}
	want := artifact.Artifact{Name: "fw-1.0.bin", Size: int64(len(v1)), SHA256: sumOf(v1), Signature: "c2ln",
		ContentType: "application/octet-stream", CreatedAt: f.clock.now(), CreatedBy: "token:ci"}
	if a != want {
		t.Errorf("Put = %+v, want %+v", a, want)
	}
	if got, err := f.a.Get("fw-1.0.bin"); err != nil || !got.CreatedAt.Equal(want.CreatedAt) || got.SHA256 != want.SHA256 {
		t.Errorf("Get = %+v, %v", got, err)
	}
	stored, err := os.ReadFile(filepath.Join(f.dir, "artifacts", "sha256", want.SHA256[:2], want.SHA256))
	if err != nil || !bytes.Equal(stored, v1) {
		t.Fatalf("the content file: %d bytes, %v; want the upload", len(stored), err)
	}

	// The same content under another name is stored once.
	if _, err := f.a.Put("fw-latest.bin", bytes.NewReader(v1), artifact.PutOptions{ContentType: "application/x-firmware"}); err != nil {
		t.Fatal(err)
	}
	if c := f.contents(t); !slices.Equal(c, []string{want.SHA256}) {
		t.Errorf("content after the same file under two names: %v", c)
	}
	// Replacing a name with new content keeps the old content while the
	// other name holds it, and removes it once nothing does.
	v2 := randomBytes(t, 1000)
	if _, err := f.a.Put("fw-latest.bin", bytes.NewReader(v2), artifact.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := f.contents(t); len(c) != 2 {
		t.Errorf("content after replacing one name: %v, want both files", c)
	}
	if err := f.a.Delete("fw-1.0.bin"); err != nil {
		t.Fatal(err)
	}
	if c := f.contents(t); !slices.Equal(c, []string{sumOf(v2)}) {
		t.Errorf("content after deleting the last name of the first file: %v, want only %s", c, sumOf(v2))
	}
	list, err := f.a.List()
	if err != nil || len(list) != 1 || list[0].Name != "fw-latest.bin" || list[0].Size != 1000 || list[0].ContentType != "application/octet-stream" {
		t.Errorf("List = %+v, %v", list, err)
	}
	if err := f.a.Delete("fw-1.0.bin"); !errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	if _, err := f.a.Get("fw-1.0.bin"); !errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("Get of a deleted artifact: %v", err)
	}
	if err := f.a.Delete("fw-latest.bin"); err != nil {
		t.Fatal(err)
	}
	if c := f.contents(t); len(c) != 0 {
		t.Errorf("content after deleting everything: %v", c)
	}
	if list, err := f.a.List(); err != nil || list == nil || len(list) != 0 {
		t.Errorf("List of nothing = %#v, %v; want an empty list", list, err)
	}
}

// Every refused upload says why and leaves nothing: no record, no content,
// no temporary file.
func TestPutRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, artifact.Options{MaxSize: 64 << 10})
	body := func(n int) io.Reader { return bytes.NewReader(make([]byte, n)) }
	for _, tc := range []struct {
		what, name string
		r          io.Reader
		opts       artifact.PutOptions
		is         error
		says       string
	}{
		{"an empty name", "", body(1), artifact.PutOptions{}, artifact.ErrInvalid, "artifact name is empty"},
		{"a slash", "fw/1.bin", body(1), artifact.PutOptions{}, artifact.ErrInvalid, `contains '/'`},
		{"a space", "fw 1.bin", body(1), artifact.PutOptions{}, artifact.ErrInvalid, `contains ' '`},
		{"dot-dot", "..", body(1), artifact.PutOptions{}, artifact.ErrInvalid, "means a directory"},
		{"a percent", "fw%2F.bin", body(1), artifact.PutOptions{}, artifact.ErrInvalid, `contains '%'`},
		{"129 characters", strings.Repeat("a", 129), body(1), artifact.PutOptions{}, artifact.ErrInvalid, "at most 128"},
		{"non-ASCII", "ファーム.bin", body(1), artifact.PutOptions{}, artifact.ErrInvalid, "only A-Z"},
		{"one byte over the limit", "big.bin", body(64<<10 + 1), artifact.PutOptions{}, artifact.ErrTooLarge, "is too large: more than 64 KiB"},
		{"far over the limit", "big.bin", body(1 << 20), artifact.PutOptions{}, artifact.ErrTooLarge, "the most accepted"},
		{"empty", "empty.bin", body(0), artifact.PutOptions{}, artifact.ErrInvalid, "is empty"},
		{"a signature not in base64", "fw.bin", body(1), artifact.PutOptions{Signature: "%%%"}, artifact.ErrInvalid, "not standard base64"},
		{"a content type that is none", "fw.bin", body(1), artifact.PutOptions{ContentType: "firmware"}, artifact.ErrInvalid, "not a media type"},
		{"an upload broken off", "fw.bin", io.MultiReader(body(40<<10), iotest.ErrReader(io.ErrUnexpectedEOF)), artifact.PutOptions{}, io.ErrUnexpectedEOF, "after 40960 bytes"},
	} {
		_, err := f.a.Put(tc.name, tc.r, tc.opts)
		if !errors.Is(err, tc.is) || !strings.Contains(fmt.Sprint(err), tc.says) {
			t.Errorf("%s: %v; want %v saying %q", tc.what, err, tc.is, tc.says)
		}
	}
	if _, err := f.a.Put(strings.Repeat("a", 128), body(64<<10), artifact.PutOptions{}); err != nil {
		t.Errorf("a 128-character name and exactly the limit: %v", err)
	}
	if err := f.a.Delete(strings.Repeat("a", 128)); err != nil {
		t.Fatal(err)
	}
	if list, _ := f.a.List(); len(list) != 0 {
		t.Errorf("records after refusals: %+v", list)
	}
	if c, u := f.contents(t), f.uploads(t); len(c) != 0 || len(u) != 0 {
		t.Errorf("left behind: content %v, uploads %v", c, u)
	}
}

// Uploads of one name at the same time, each with its own content: the
// name ends with one of them whole, and only its content is kept.
func TestConcurrentPutsOfOneName(t *testing.T) {
	t.Parallel()
	f := newFixture(t, artifact.Options{})
	const n = 8
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = randomBytes(t, 200<<10+i)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Each upload trickles in, so that they overlap.
			_, errs[i] = f.a.Put("fw.bin", iotest.HalfReader(bytes.NewReader(bodies[i])), artifact.PutOptions{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("upload %d: %v", i, err)
		}
	}
	a, err := f.a.Get("fw.bin")
	if err != nil {
		t.Fatal(err)
	}
	winner := slices.IndexFunc(bodies, func(b []byte) bool { return sumOf(b) == a.SHA256 })
	if winner < 0 || a.Size != int64(len(bodies[winner])) {
		t.Fatalf("the record %+v names none of the uploads", a)
	}
	if c := f.contents(t); !slices.Equal(c, []string{a.SHA256}) {
		t.Errorf("content after the uploads: %v, want only %s", c, a.SHA256)
	}
	got, err := os.ReadFile(filepath.Join(f.dir, "artifacts", "sha256", a.SHA256[:2], a.SHA256))
	if err != nil || !bytes.Equal(got, bodies[winner]) {
		t.Errorf("the content file differs from upload %d: %v", winner, err)
	}
	if u := f.uploads(t); len(u) != 0 {
		t.Errorf("temporary files left: %v", u)
	}
}

// Open removes what a crash left: an upload cut short, and content no
// record names. Content that a record names stays.
func TestOpenRemovesLeftovers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, artifact.Options{})
	body := randomBytes(t, 5000)
	if _, err := f.a.Put("keep.bin", bytes.NewReader(body), artifact.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	orphan := randomBytes(t, 100)
	dir := filepath.Join(f.dir, "artifacts", "sha256", sumOf(orphan)[:2])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sumOf(orphan)), orphan, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "artifacts", "tmp", "upload-123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.reopen(t, artifact.Options{})
	if c := f.contents(t); !slices.Equal(c, []string{sumOf(body)}) {
		t.Errorf("content after a restart: %v, want only %s", c, sumOf(body))
	}
	if u := f.uploads(t); len(u) != 0 {
		t.Errorf("uploads after a restart: %v", u)
	}
}

// While a backup holds the artifacts, content let go of stays, so that the
// store it copied finds its files in the archive; the last release
// removes it.
func TestHoldKeepsContent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, artifact.Options{})
	v1, v2 := randomBytes(t, 1000), randomBytes(t, 2000)
	for name, b := range map[string][]byte{"a.bin": v1, "b.bin": v2} {
		if _, err := f.a.Put(name, bytes.NewReader(b), artifact.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r1 := f.a.Hold()
	r2 := f.a.Hold()
	if err := f.a.Delete("a.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Put("b.bin", bytes.NewReader(v1), artifact.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := f.contents(t); len(c) != 2 {
		t.Errorf("content while held: %v, want both files", c)
	}
	r1()
	r1() // a second call changes nothing
	if c := f.contents(t); len(c) != 2 {
		t.Errorf("content while one hold remains: %v, want both files", c)
	}
	r2()
	if c := f.contents(t); !slices.Equal(c, []string{sumOf(v1)}) {
		t.Errorf("content after the last release: %v, want only %s", c, sumOf(v1))
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct {
		what string
		opts artifact.Options
	}{
		{"a negative limit", artifact.Options{MaxSize: -1}},
		{"a base URL with a path", artifact.Options{BaseURL: "https://hearth.example/x"}},
		{"a base URL of another scheme", artifact.Options{BaseURL: "ftp://hearth.example"}},
		{"a base URL without a host", artifact.Options{BaseURL: "https://"}},
		{"a base URL with a query", artifact.Options{BaseURL: "https://hearth.example?x=1"}},
	} {
		if _, err := artifact.Open(dir, st, tc.opts); err == nil {
			t.Errorf("%s: opened", tc.what)
		}
	}
	if _, err := artifact.Open("", st, artifact.Options{}); err == nil {
		t.Error("no data directory: opened")
	}
}
