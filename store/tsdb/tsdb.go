package tsdb

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/netstorage"
	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/promql"
	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmstorage"
	vmlogger "github.com/VictoriaMetrics/VictoriaMetrics/lib/logger"
)

// DefaultRetention is used when Config.Retention is zero: three years, enough
// to compare a building's energy use with the same season two years before.
const DefaultRetention = 3 * 365 * 24 * time.Hour

// DefaultMemoryBytes is used when Config.MemoryBytes is zero. Without a cap
// VictoriaMetrics sizes its caches to 60% of the machine's memory, which is
// wrong for a process that shares the box with everything else Hearth does.
const DefaultMemoryBytes = 512 << 20

const (
	// minRetention is VictoriaMetrics' own minimum; it exits the process on
	// anything shorter, so Open refuses it first.
	minRetention = 24 * time.Hour
	// futureRetention is how far ahead of the clock a timestamp may be.
	// VictoriaMetrics drops rows beyond it, so Append refuses them first.
	futureRetention = 48 * time.Hour
	// rollupCacheOffset is how recent a sample must be for VictoriaMetrics'
	// query result cache to stay valid without a reset; older (back-filled)
	// samples make Hearth reset the cache, see DB.run.
	rollupCacheOffset = 5 * time.Minute
	// latestPersistInterval bounds how many latest-value updates a crash loses.
	latestPersistInterval = 10 * time.Second
	// rollupResetInterval is how often back-fill is checked for.
	rollupResetInterval = time.Second
	// Left to itself VictoriaMetrics makes samples searchable on a 2 s
	// ticker once they are 2 s old (2–4 s), and a new series once the
	// index's filter cache is reset, every 10 s plus jitter; a query that
	// found no series keeps finding none until then. A flush converts the
	// pending rows and index entries into in-memory parts and, when there
	// were index entries, resets the filter cache at once (a search that
	// ran across the flush may cache its older answer again after that
	// reset; readgen.go is how reads avoid it). It is not free:
	// each makes small parts that are compressed, merged again, and new
	// row buffers. So reads flush (DB.searchable): a read sees what was
	// appended up to readStaleness before it, however busy the machine;
	// and DB.run flushes every searchableInterval what no read asked for.
	searchableInterval = time.Second
	readStaleness      = 200 * time.Millisecond
	// searchableAfter is how long after an Append its samples are surely
	// searchable: the next flush of run, with room for a query that began
	// before it and stores its result in a cache after it.
	searchableAfter = 3 * time.Second
	// slowFlush is how long a flush may take before run warns of it (at
	// most once a minute).
	slowFlush = time.Second
	// maxQueueWait is how long a query waits for a free query slot.
	maxQueueWait = 10 * time.Second
)

// Config configures the embedded VictoriaMetrics storage.
type Config struct {
	// Dir is the data directory for VictoriaMetrics and the latest-value
	// file. It is created if missing.
	Dir string
	// Retention is how long samples are kept; zero means DefaultRetention.
	// VictoriaMetrics deletes data in whole monthly partitions, so samples
	// may stay queryable up to a month longer than Retention.
	Retention time.Duration
	// MemoryBytes caps VictoriaMetrics' caches; zero means
	// DefaultMemoryBytes. Only the first Open in a process sets it. It must
	// be smaller than the memory available to the process.
	MemoryBytes int64
	// MaxConcurrentQueries limits queries run at once; zero means
	// 2*GOMAXPROCS. Further queries wait up to 10 s for a slot.
	MaxConcurrentQueries int
}

var (
	// ErrAlreadyOpen is returned by Open while another DB is open in the
	// process: VictoriaMetrics keeps its storage in package-level variables,
	// so there can be only one.
	ErrAlreadyOpen = errors.New("a tsdb is already open in this process")
	// ErrClosed is returned by operations on a closed DB.
	ErrClosed = errors.New("tsdb is closed")
	// ErrInvalidPoint is returned by Append for points it refuses; nothing of
	// the call is stored then.
	ErrInvalidPoint = errors.New("invalid point")
	// ErrInvalidQuery is returned for queries the engine cannot parse or
	// arguments out of range: the caller's mistake, not the server's.
	ErrInvalidQuery = errors.New("invalid query")
	// ErrBusy is returned when no query slot became free in time.
	ErrBusy = errors.New("too many concurrent queries")
)

// processOpen guards VictoriaMetrics' package-level storage. It is the one
// piece of package-level mutable state here, forced by VictoriaMetrics'
// design: Open and Close are what keep two DBs from sharing it.
var processOpen atomic.Bool

// DB is the open telemetry store.
type DB struct {
	dir       string
	retention time.Duration
	logger    *slog.Logger

	// mu is held shared by every operation that reaches VictoriaMetrics and
	// exclusively by Close, so Close waits for them and later calls see
	// closed instead of stopped globals.
	mu     sync.RWMutex
	closed bool

	closeOnce sync.Once
	closeErr  error
	stop      chan struct{}
	done      chan struct{}

	latest *latestCache
	// backfilled is set by Append when a sample is older than
	// rollupCacheOffset; run then resets the query result cache.
	backfilled atomic.Bool

	queries chan struct{}
	bufs    sync.Pool

	// unflushed is set by appends, cleared by a flush (see
	// searchableInterval).
	unflushed atomic.Bool
	// indexed is set by appends that may have added index entries, and
	// cleared by a flush, which then moves readGen on.
	indexed atomic.Bool
	// readGen names the index state reads search; see readFilter.
	readGen     atomic.Uint64
	flushMu     sync.Mutex
	lastFlush   time.Time // when the newest flush began
	lastSlowLog time.Time
}

// Open opens (or creates) the storage in cfg.Dir. It returns once the
// storage answers queries. Only one DB may be open in a process.
func Open(cfg Config, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dir == "" {
		return nil, errors.New("open tsdb: empty data directory")
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Retention < minRetention {
		return nil, fmt.Errorf("open tsdb: retention %s is shorter than the minimum %s", cfg.Retention, minRetention)
	}
	if cfg.MemoryBytes == 0 {
		cfg.MemoryBytes = DefaultMemoryBytes
	}
	if cfg.MemoryBytes < 1<<20 {
		return nil, fmt.Errorf("open tsdb: memory cap %d bytes is below 1 MiB", cfg.MemoryBytes)
	}
	if cfg.MaxConcurrentQueries <= 0 {
		cfg.MaxConcurrentQueries = 2 * runtime.GOMAXPROCS(0)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open tsdb %q: %w", cfg.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open tsdb %q: %w", dir, err)
	}

	if !processOpen.CompareAndSwap(false, true) {
		return nil, ErrAlreadyOpen
	}
	opened := false
	defer func() {
		if !opened {
			processOpen.Store(false)
		}
	}()

	latest, err := loadLatest(dir)
	if err != nil {
		// The latest values are a cache of what the storage holds; a damaged
		// file must not keep the telemetry from opening.
		logger.Warn("latest values not loaded", "dir", dir, "error", err)
		latest = newLatestCache()
	}

	if err := setFlags(dir, cfg); err != nil {
		return nil, fmt.Errorf("open tsdb %q: %w", dir, err)
	}
	vmlogger.SetOutputForTests(&vmLogWriter{logger: logger})

	start := time.Now()
	if err := startVM(dir, cfg.MaxConcurrentQueries); err != nil {
		return nil, fmt.Errorf("open tsdb %q: %w", dir, err)
	}
	opened = true
	if names, err := removeStaleSnapshots(); err != nil {
		logger.Warn("snapshots left by an interrupted backup not deleted", "dir", dir, "error", err)
	} else if names != "" {
		logger.Info("snapshots left by an interrupted backup deleted", "dir", dir, "snapshots", names)
	}

	db := &DB{
		dir:       dir,
		retention: cfg.Retention,
		logger:    logger,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		latest:    latest,
		queries:   make(chan struct{}, cfg.MaxConcurrentQueries),
	}
	db.bufs.New = func() any { return new(appendBuf) }
	go db.run()
	logger.Info("tsdb opened", "dir", dir, "retention", cfg.Retention.String(),
		"duration_ms", time.Since(start).Milliseconds(), "latest_devices", latest.devices())
	return db, nil
}

// setFlags configures VictoriaMetrics through the only interface it has:
// flags on flag.CommandLine. Hearth never lets its users' argv reach them.
func setFlags(dir string, cfg Config) error {
	settings := []struct{ name, value string }{
		{"storageDataPath", dir},
		{"retentionPeriod", strconv.FormatInt(int64(cfg.Retention/time.Second), 10) + "s"},
		{"memory.allowedBytes", strconv.FormatInt(cfg.MemoryBytes, 10)},
		// Info messages (every flag, every cache load) would drown Hearth's
		// log; warnings and errors go through vmLogWriter.
		{"loggerLevel", "WARN"},
		{"loggerDisableTimestamps", "true"},
		// MQTT QoS 1 delivers at least once: a repeated sample with the same
		// millisecond is kept once (the largest value, if they differ).
		{"dedup.minScrapeInterval", "1ms"},
		// The customer restriction of ServePrometheus relies on extra
		// filters being applied at the labels endpoints too.
		{"search.ignoreExtraFiltersAtLabelsAPI", "false"},
		// Resetting the result cache on back-fill is done by DB.run, which
		// does not log a warning for every back-filling device.
		{"search.disableAutoCacheReset", "true"},
		{"search.cacheTimestampOffset", rollupCacheOffset.String()},
		{"storage.trackMetricNamesStats", "false"},
		// Instant queries near "now" are moved back by this offset to hide
		// samples a remote agent has not delivered yet. Hearth stores a
		// sample before the device's PUBACK, so there is nothing to wait
		// for: a reading is queryable as soon as it is searchable.
		{"search.latencyOffset", "0s"},
		{"vmselectAddr", ""},
	}
	for _, s := range settings {
		if err := flag.Set(s.name, s.value); err != nil {
			return fmt.Errorf("set storage flag %s=%q: %w", s.name, s.value, err)
		}
	}
	if !flag.Parsed() {
		// memory.Allowed panics unless flag.CommandLine counts as parsed.
		// Parsing an empty list marks it so without reading os.Args.
		if err := flag.CommandLine.Parse([]string{}); err != nil {
			return fmt.Errorf("mark storage flags parsed: %w", err)
		}
	}
	return nil
}

// startVM runs VictoriaMetrics' own start-up sequence. Its failures are
// panics (logger.Panicf); they become errors here so that a locked or
// unreadable directory does not take the process down.
func startVM(dir string, maxConcurrent int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start storage: %v", r)
		}
	}()
	vmstorage.Init(maxConcurrent, maxQueueWait, promql.ResetRollupResultCacheIfNeeded)
	netstorage.InitTmpBlocksDir(filepath.Join(dir, "tmp"))
	// An empty path keeps the result cache in memory only: a new key prefix
	// per Open, so a reopened directory never sees another run's results.
	promql.InitRollupResultCache("")
	return nil
}

// Close flushes everything to disk, writes the latest values and stops
// VictoriaMetrics. It waits for running queries and appends. Calling it
// again returns the first result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		start := time.Now()
		db.mu.Lock()
		db.closed = true
		db.mu.Unlock()

		close(db.stop)
		<-db.done

		var errs []error
		if err := db.latest.persist(db.dir); err != nil {
			errs = append(errs, fmt.Errorf("close tsdb %q: %w", db.dir, err))
		}
		promql.StopRollupResultCache()
		vmstorage.Stop()
		processOpen.Store(false)
		db.closeErr = errors.Join(errs...)
		db.logger.Info("tsdb closed", "dir", db.dir, "duration_ms", time.Since(start).Milliseconds())
	})
	return db.closeErr
}

// enter marks the start of an operation that reaches VictoriaMetrics; it
// returns false once the DB is closed. Callers must call leave after a true
// result and must not nest enter.
func (db *DB) enter() bool {
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return false
	}
	return true
}

func (db *DB) leave() { db.mu.RUnlock() }

// searchable makes what was appended searchable for a read that is about
// to start, unless a flush began less than maxAge ago; 0 flushes whatever
// the age. Concurrent reads wait for one flush. The caller holds enter, or
// is run.
func (db *DB) searchable(maxAge time.Duration) {
	if !db.unflushed.Load() {
		return
	}
	db.flushMu.Lock()
	defer db.flushMu.Unlock()
	now := time.Now()
	if !db.unflushed.Load() || (maxAge > 0 && now.Sub(db.lastFlush) < maxAge) {
		return
	}
	db.flushLocked(now)
	// A flush starved of CPU, or held back by VictoriaMetrics while a
	// partition has too many in-memory parts to merge, shows here.
	if took := time.Since(now); took > slowFlush && now.Sub(db.lastSlowLog) > time.Minute {
		db.lastSlowLog = now
		db.logger.Warn("making samples searchable took long", "duration_ms", took.Milliseconds())
	}
}

// flushLocked makes what was appended searchable, and moves the read
// generation on when that added index entries. The caller holds flushMu.
func (db *DB) flushLocked(now time.Time) {
	// Cleared first: what an append stores during the flush sets them
	// again, for the next flush, whether this one took it or not.
	db.unflushed.Store(false)
	indexed := db.indexed.Swap(false)
	db.lastFlush = now
	vmstorage.DebugFlush()
	if indexed {
		// Only once the entries are searchable: a read that takes the
		// new generation must find them.
		db.readGen.Add(1)
	}
}

// run makes appended samples searchable every searchableInterval, persists
// the latest values when they changed and resets the query result cache
// after back-fill, until Close.
//
// The reset waits until back-filled samples are surely searchable: a query
// that runs between Append and then may have cached a result without them,
// and a reset before they are searchable would not clear it for good.
func (db *DB) run() {
	defer close(db.done)
	flush := time.NewTicker(searchableInterval)
	defer flush.Stop()
	persist := time.NewTicker(latestPersistInterval)
	defer persist.Stop()
	reset := time.NewTicker(rollupResetInterval)
	defer reset.Stop()
	var due []time.Time // when to reset for each second with back-fill
	for {
		select {
		case <-db.stop:
			return
		case <-flush.C:
			// run ends before Close stops the storage, so the flush
			// needs no enter.
			db.searchable(0)
		case <-persist.C:
			if !db.latest.dirty.Load() {
				continue
			}
			if err := db.latest.persist(db.dir); err != nil {
				db.logger.Warn("latest values not persisted", "dir", db.dir, "error", err)
			}
		case now := <-reset.C:
			if db.backfilled.Swap(false) {
				due = append(due, now.Add(searchableAfter))
			}
			n := 0
			for n < len(due) && !now.Before(due[n]) {
				n++
			}
			if n > 0 {
				due = due[n:]
				promql.ResetRollupResultCache()
			}
		}
	}
}
