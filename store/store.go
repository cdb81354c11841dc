package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DefaultSite is the site every customer gets on creation, so that a device
// can be provisioned before anyone has thought about buildings.
const DefaultSite = "default"

// defaultLockTimeout bounds how long Open waits for another process to let
// go of the file when Options.LockTimeout is not set.
const defaultLockTimeout = time.Second

// Options tune Open.
type Options struct {
	// LockTimeout is how long Open waits for the file lock held by another
	// process; zero or negative means 1s. When it expires Open returns an
	// error wrapping ErrLocked, so a second Hearth on the same data
	// directory fails fast instead of hanging.
	LockTimeout time.Duration
	// ReadOnly opens an existing file with a shared lock, so admin commands
	// can read while no server writes. No migrations run: a file that needs
	// them is refused with ErrSchemaTooOld, and every write returns
	// ErrReadOnly.
	ReadOnly bool
	// HistoryDeviceBudget bounds the history each device keeps, in bytes
	// of encoded entries: a write that takes a device past it deletes that
	// device's oldest entries until it fits again. Zero or negative keeps
	// every entry until its retention.
	HistoryDeviceBudget int64
}

// Store is the open bbolt file. It is safe for concurrent use: reads run in
// parallel, writes are serialised by bbolt.
type Store struct {
	db       *bolt.DB
	path     string
	readOnly bool

	historyBudget  int64
	historyTrimmed atomic.Uint64
}

// Open opens the store at path, creating the file (mode 0600) and its parent
// directory (mode 0700) if they are missing, and runs the migrations the file
// still needs. The file holds credentials' hashes, hence the tight modes.
//
// Durability is bbolt's default: every commit is fsynced before the write
// returns. NoSync is never set, because a lost device or credential cannot be
// recovered from anywhere else.
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, migrations())
}

// open is Open with the migration list as a parameter, so tests can exercise
// the migration mechanism with extra steps on a real file.
func open(path string, opts Options, migs []migration) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = defaultLockTimeout
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open store %q: create directory: %w", path, err)
		}
	}
	bo := *bolt.DefaultOptions
	bo.Timeout = timeout
	bo.ReadOnly = opts.ReadOnly
	db, err := bolt.Open(path, 0o600, &bo)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %q: file lock not acquired within %s: %w", path, timeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	s := &Store{db: db, path: path, readOnly: opts.ReadOnly, historyBudget: opts.HistoryDeviceBudget}
	if opts.ReadOnly {
		err = s.checkVersion(len(migs))
	} else {
		err = s.migrate(migs)
	}
	if err == nil {
		err = s.checkBuckets()
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	return s, nil
}

// Close releases the file and its lock. Calling it twice is harmless.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %q: %w", s.path, err)
	}
	return nil
}

// Path is the file the store was opened from, for logs and backups.
func (s *Store) Path() string { return s.path }

// SchemaVersion reads the schema version recorded in the file.
func (s *Store) SchemaVersion() (int, error) {
	var v int
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// SizeBytes is the current size of the file on disk, for /metrics. If the
// file cannot be examined it falls back to the size bbolt has in use.
func (s *Store) SizeBytes() int64 {
	if fi, err := os.Stat(s.path); err == nil {
		return fi.Size()
	}
	var n int64
	_ = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n
}

// Commits is the number of write transactions committed to the file since
// it was created, each one fsync: bbolt's transaction id, which every
// commit raises by one. For /metrics, and to see how many writes shared a
// transaction.
func (s *Store) Commits() uint64 {
	var id int
	_ = s.db.View(func(tx *bolt.Tx) error {
		id = tx.ID()
		return nil
	})
	return uint64(id)
}

// update runs fn in one write transaction, refusing early on a read-only
// store so the caller gets ErrReadOnly instead of bbolt's own error.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	if s.readOnly {
		return ErrReadOnly
	}
	return s.db.Update(fn)
}

// batch is update for writes that many goroutines make at the same time,
// such as shadow updates from a fleet of devices: bbolt joins concurrent
// calls into one transaction, so they share one commit and its fsync, and
// each returns only after that commit, as durable as with update. The price
// is latency: a call waits up to bbolt's MaxBatchDelay (10 ms) for others to
// join. fn may run more than once, in transactions that are rolled back, so
// it must have no effect outside tx. When fn fails, the transaction of the
// whole batch is rolled back, the other calls run again without it, and fn
// runs once more alone, so its error reaches only its own caller.
func (s *Store) batch(fn func(tx *bolt.Tx) error) error {
	if s.readOnly {
		return ErrReadOnly
	}
	return s.db.Batch(fn)
}

// checkBuckets makes sure every bucket of the current schema exists, so the
// record code can use tx.Bucket without nil checks.
func (s *Store) checkBuckets() error {
	return s.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets() {
			if tx.Bucket([]byte(name)) == nil {
				return fmt.Errorf("bucket %q is missing: %w", name, ErrInvalid)
			}
		}
		return nil
	})
}

// getJSON decodes the value under key into v. It reports false when the key
// does not exist.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("cannot decode %q: %w", key, err)
	}
	return true, nil
}

// putJSON encodes v and stores it under key.
func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot encode %q: %w", key, err)
	}
	if err := b.Put(key, data); err != nil {
		return fmt.Errorf("cannot write %q: %w", key, err)
	}
	return nil
}

// listJSON decodes every value whose key starts with prefix, in key order.
// The result is never nil, so an empty list encodes as [] in the API.
func listJSON[T any](b *bolt.Bucket, prefix []byte) ([]T, error) {
	var keys, vals [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		keys, vals = append(keys, k), append(vals, v)
	}
	out := make([]T, len(vals))
	errs := make([]error, len(vals))
	// Decoding is most of the cost of a long list (the device registry at
	// start); the values stay valid while the transaction is open, so
	// they are decoded on every processor, each into its own slot.
	workers := 1
	if len(vals) >= parallelDecodeMin {
		workers = min(runtime.GOMAXPROCS(0), len(vals)/(parallelDecodeMin/2))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(vals); i += workers {
				if err := json.Unmarshal(vals[i], &out[i]); err != nil {
					errs[i] = fmt.Errorf("cannot decode %q: %w", keys[i], err)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parallelDecodeMin is the shortest list listJSON decodes on more than
// one processor: below it, starting goroutines costs more than it saves.
const parallelDecodeMin = 1024

// getRecord reads the record under key of bucket, or ErrNotFound, for the
// records that are one JSON value under their name.
func getRecord[T any](s *Store, bucket, key string) (T, error) {
	var r T
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket([]byte(bucket)), []byte(key), &r)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	return r, err
}

// listRecords reads every record of bucket, in key order.
func listRecords[T any](s *Store, bucket string) ([]T, error) {
	var out []T
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[T](tx.Bucket([]byte(bucket)), nil)
		return err
	})
	return out, err
}

// deleteRecord removes the record under key of bucket, or answers
// ErrNotFound.
func (s *Store) deleteRecord(bucket, key string) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b.Get([]byte(key)) == nil {
			return ErrNotFound
		}
		return b.Delete([]byte(key))
	})
}

// now is the creation time given to records that arrive without one. UTC
// drops the monotonic reading, so the value compares equal after a round
// trip through the file.
func now() time.Time { return time.Now().UTC() }
