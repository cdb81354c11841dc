package store_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/hearthiot/hearth/store"
)

// openStore opens a new store in a temporary directory and closes it when
// the test ends.
func openStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

// at is a fixed creation time, so records compare equal after a round trip.
func at(minute int) time.Time {
	return time.Date(2026, 11, 2, 8, minute, 0, 0, time.UTC)
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "store")
	path := filepath.Join(dir, "hearth.db")
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()

	fi, err := os.Stat(path)
	mustOK(t, err)
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode %o, want 600", got)
	}
	di, err := os.Stat(dir)
	mustOK(t, err)
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode %o, want 700", got)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	v, err := s.SchemaVersion()
	mustOK(t, err)
	if v != store.LatestSchemaVersion() || v < 1 {
		t.Errorf("SchemaVersion() = %d, want %d", v, store.LatestSchemaVersion())
	}
	if got := s.SizeBytes(); got != fi.Size() || got <= 0 {
		t.Errorf("SizeBytes() = %d, file has %d", got, fi.Size())
	}
}

func TestOpenRefusesForeignFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	mustOK(t, os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file "), 1024), 0o600))
	if s, err := store.Open(path, store.Options{}); err == nil {
		s.Close()
		t.Fatal("Open of a file that is not a bbolt database succeeded")
	}
}

// fill writes one record of each kind and returns a snapshot of everything.
func fill(t *testing.T, s *store.Store) snapshot {
	t.Helper()
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme", DisplayName: "ACME Hotels", CreatedAt: at(0)}))
	mustOK(t, s.CreateSite(store.Site{Customer: "acme", Name: "tokyo", DisplayName: "Tokyo Bay", CreatedAt: at(1)}))
	mustOK(t, s.CreateDevice(store.Device{
		Name: "chiller-1", Customer: "acme", Site: "tokyo", Type: "chiller",
		Attributes:  map[string]string{"model": "X1"},
		CreatedAt:   at(2),
		Credentials: []store.Credential{{ID: "c1", Kind: store.CredentialSecret, SecretHash: []byte{1, 2, 3}, CreatedAt: at(2)}},
	}))
	mustOK(t, s.CreateUser(store.User{Email: "fm@acme.example", Role: store.RoleCustomer, Customer: "acme", CreatedAt: at(3)}))
	mustOK(t, s.CreateToken(store.Token{ID: "t1", Name: "grafana", Role: store.RoleOperator, Hash: hash(1), CreatedAt: at(4)}))
	return take(t, s)
}

type snapshot struct {
	Version   int
	Customers []store.Customer
	Sites     []store.Site
	Devices   []store.Device
	Users     []store.User
	Tokens    []store.Token
}

func take(t *testing.T, s *store.Store) snapshot {
	t.Helper()
	var sn snapshot
	var err error
	sn.Version, err = s.SchemaVersion()
	mustOK(t, err)
	sn.Customers, err = s.ListCustomers()
	mustOK(t, err)
	sn.Sites, err = s.ListSites("")
	mustOK(t, err)
	sn.Devices, err = s.ListDevices(store.DeviceFilter{})
	mustOK(t, err)
	sn.Users, err = s.ListUsers()
	mustOK(t, err)
	sn.Tokens, err = s.ListTokens()
	mustOK(t, err)
	return sn
}

func TestReopenKeepsEverything(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	before := fill(t, s)
	mustOK(t, s.Close())
	mustOK(t, s.Close()) // a second Close is harmless

	s, err = store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	after := take(t, s)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("after reopen (-before +after):\n%s", diff)
	}
	if len(after.Devices) != 1 || len(after.Sites) != 2 || len(after.Tokens) != 1 {
		t.Errorf("snapshot lacks records: %+v", after)
	}
	if _, err := s.TokenByHash(hash(1)); err != nil {
		t.Errorf("token index lost on reopen: %v", err)
	}
}

func TestOpenLocked(t *testing.T) {
	t.Parallel()
	_, path := openStore(t) // stays open, holding the lock, until the test ends

	tests := []struct {
		name    string
		opts    store.Options
		minWait time.Duration
	}{
		{"explicit timeout", store.Options{LockTimeout: 200 * time.Millisecond}, 150 * time.Millisecond},
		{"default timeout", store.Options{}, 900 * time.Millisecond},
		{"read-only", store.Options{ReadOnly: true, LockTimeout: 100 * time.Millisecond}, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s2, err := store.Open(path, tt.opts)
			waited := time.Since(start)
			if err == nil {
				s2.Close()
				t.Fatal("second Open of a locked file succeeded")
			}
			wantErr(t, err, store.ErrLocked)
			if waited < tt.minWait || waited > tt.minWait+2*time.Second {
				t.Errorf("Open waited %s, want about %s", waited, tt.minWait)
			}
		})
	}

	// The store's ErrLocked rests on bbolt's flock refusing a second open
	// file description even within one process.
	t.Run("bbolt in the same process", func(t *testing.T) {
		t.Parallel()
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 100 * time.Millisecond})
		if err == nil {
			db.Close()
			t.Fatal("bolt.Open of a locked file succeeded")
		}
		wantErr(t, err, bolterrors.ErrTimeout)
	})
}

func TestOpenAfterCloseIsNotLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	mustOK(t, s.Close())
	s, err = store.Open(path, store.Options{LockTimeout: 100 * time.Millisecond})
	mustOK(t, err)
	mustOK(t, s.Close())
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	want := fill(t, s)
	mustOK(t, s.Close())

	ro1, err := store.Open(path, store.Options{ReadOnly: true})
	mustOK(t, err)
	defer ro1.Close()
	// A second read-only open shares the lock.
	ro2, err := store.Open(path, store.Options{ReadOnly: true})
	mustOK(t, err)
	defer ro2.Close()

	if diff := cmp.Diff(want, take(t, ro1)); diff != "" {
		t.Errorf("read-only view (-want +got):\n%s", diff)
	}
	writes := map[string]error{
		"CreateCustomer": ro1.CreateCustomer(store.Customer{Name: "beta"}),
		"DeleteDevice":   ro1.DeleteDevice("chiller-1"),
		"DeleteToken":    ro1.DeleteToken("t1"),
	}
	for name, err := range writes {
		if !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("%s on a read-only store: got %v, want ErrReadOnly", name, err)
		}
	}
	_, err = ro1.UpdateDevice("chiller-1", func(d *store.Device) error { d.Type = "boiler"; return nil })
	wantErr(t, err, store.ErrReadOnly)

	_, err = store.Open(path, store.Options{LockTimeout: 100 * time.Millisecond})
	wantErr(t, err, store.ErrLocked)
}

func TestReadOnlyMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "absent", "hearth.db")
	_, err := store.Open(path, store.Options{ReadOnly: true})
	wantErr(t, err, fs.ErrNotExist)
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only open created the directory: %v", err)
	}
}

func TestReadOnlyNeedsMigration(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	mustOK(t, s.Close())
	// The file is at the latest version; a binary with one more step must
	// refuse to read it without migrating, and must not migrate.
	ran := false
	_, err = store.OpenWithExtraMigrations(path, store.Options{ReadOnly: true}, func(tx *bolt.Tx) error {
		ran = true
		return nil
	})
	wantErr(t, err, store.ErrSchemaTooOld)
	if ran {
		t.Error("a read-only open ran a migration")
	}
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.OpenWithExtraMigrations(path, store.Options{}, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("future"))
		return err
	})
	mustOK(t, err)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme", CreatedAt: at(0)}))
	v, err := s.SchemaVersion()
	mustOK(t, err)
	if v != store.LatestSchemaVersion()+1 {
		t.Fatalf("SchemaVersion() = %d after the extra step, want %d", v, store.LatestSchemaVersion()+1)
	}
	mustOK(t, s.Close())
	before, err := os.ReadFile(path)
	mustOK(t, err)

	for _, opts := range []store.Options{{}, {ReadOnly: true}} {
		s, err := store.Open(path, opts)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%+v) of a newer file succeeded", opts)
		}
		wantErr(t, err, store.ErrSchemaTooNew)
	}
	after, err := os.ReadFile(path)
	mustOK(t, err)
	if !bytes.Equal(before, after) {
		t.Error("refusing a newer file changed it")
	}
}

func TestMigrationRunsOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	runs := 0
	step := func(tx *bolt.Tx) error {
		runs++
		_, err := tx.CreateBucket([]byte("extra"))
		return err
	}
	for range 2 {
		s, err := store.OpenWithExtraMigrations(path, store.Options{}, step)
		mustOK(t, err)
		v, err := s.SchemaVersion()
		mustOK(t, err)
		if v != store.LatestSchemaVersion()+1 {
			t.Errorf("SchemaVersion() = %d, want %d", v, store.LatestSchemaVersion()+1)
		}
		mustOK(t, s.Close())
	}
	if runs != 1 {
		t.Errorf("extra step ran %d times, want 1", runs)
	}
	if got := boltBuckets(t, path); !got["extra"] {
		t.Errorf("bucket of the extra step missing; buckets: %v", got)
	}
}

// boltBuckets lists the top-level buckets of a closed store file.
func boltBuckets(t *testing.T, path string) map[string]bool {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	mustOK(t, err)
	defer db.Close()
	got := map[string]bool{}
	mustOK(t, db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			got[string(name)] = true
			return nil
		})
	}))
	return got
}

// breakingStep writes, deletes the customers and then fails: none of it
// may reach the file.
func breakingStep(fail func() error) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket([]byte("extra")); err != nil {
			return err
		}
		if err := tx.DeleteBucket([]byte("customers")); err != nil {
			return err
		}
		return fail()
	}
}

func checkUnmigrated(t *testing.T, path string, want snapshot) {
	t.Helper()
	if got := boltBuckets(t, path); got["extra"] || !got["customers"] {
		t.Errorf("failed step left changes; buckets: %v", got)
	}
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	if diff := cmp.Diff(want, take(t, s)); diff != "" {
		t.Errorf("after failed migration (-want +got):\n%s", diff)
	}
}

func TestFailedMigrationKeepsOldVersionAndData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	want := fill(t, s)
	mustOK(t, s.Close())

	errBoom := errors.New("boom")
	_, err = store.OpenWithExtraMigrations(path, store.Options{}, breakingStep(func() error { return errBoom }))
	wantErr(t, err, errBoom)
	checkUnmigrated(t, path, want)
}

// crashPathEnv names the file a child process migrates and dies in.
const crashPathEnv = "HEARTH_STORE_CRASH_PATH"

func TestInterruptedMigrationKeepsOldVersionAndData(t *testing.T) {
	if path := os.Getenv(crashPathEnv); path != "" {
		_, err := store.OpenWithExtraMigrations(path, store.Options{}, breakingStep(func() error {
			os.Exit(3)
			return nil
		}))
		t.Fatalf("child: migration did not reach the exit: %v", err)
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	want := fill(t, s)
	mustOK(t, s.Close())

	cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptedMigrationKeepsOldVersionAndData$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashPathEnv+"="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("child process: %v, want exit status 3; output:\n%s", err, out)
	}
	checkUnmigrated(t, path, want)
}

func TestUserPreferences(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateUser(store.User{Email: "ops@hearth.example", Role: store.RoleOperator, Language: "ja", TimeZone: "Asia/Tokyo"}))
	u, err := s.GetUser("ops@hearth.example")
	mustOK(t, err)
	if u.Language != "ja" || u.TimeZone != "Asia/Tokyo" {
		t.Errorf("preferences = %q, %q", u.Language, u.TimeZone)
	}
	if _, err := s.UpdateUser("ops@hearth.example", func(u *store.User) error { u.Language = "fr"; return nil }); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("language fr: %v, want ErrInvalid", err)
	}
	if err := s.CreateUser(store.User{Email: "x@hearth.example", Role: store.RoleOperator, TimeZone: "Asia/\x00"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a control character in the zone: %v, want ErrInvalid", err)
	}
}

func TestAccessLevelsFollowRoles(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))
	for _, tc := range []struct {
		role, customer, access string
		ok                     bool
	}{
		{store.RoleOperator, "", "", true},
		{store.RoleOperator, "", store.AccessOperator, true},
		{store.RoleOperator, "", store.AccessViewer, false},
		{store.RoleCustomer, "acme", store.AccessViewer, true},
		{store.RoleCustomer, "acme", store.AccessAdmin, true},
		{store.RoleCustomer, "acme", store.AccessOperator, false},
		{store.RoleCustomer, "acme", "root", false},
	} {
		email := tc.role + "-" + tc.access + "@x.example"
		err := s.CreateUser(store.User{Email: email, Role: tc.role, Customer: tc.customer, Access: tc.access})
		if tc.ok != (err == nil) || !tc.ok && !errors.Is(err, store.ErrInvalid) {
			t.Errorf("user %s/%s: %v", tc.role, tc.access, err)
		}
	}
	if got := store.EffectiveAccess(store.RoleCustomer, ""); got != store.AccessEditor {
		t.Errorf("a customer's default access = %q", got)
	}
	if got := store.EffectiveAccess(store.RoleOperator, ""); got != store.AccessAdmin {
		t.Errorf("an operator's default access = %q", got)
	}
}
