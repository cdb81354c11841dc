package tsdb

import (
	"bufio"
	"bytes"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/searchutil"
	"github.com/VictoriaMetrics/VictoriaMetrics/app/vmstorage"
	"github.com/VictoriaMetrics/metrics"
)

// Stats describes the stored telemetry, for health and admin pages.
type Stats struct {
	// RowsStored counts samples in the storage's parts (searchable).
	RowsStored uint64
	// Series counts the series (metric of a device) in the index of each
	// monthly partition: a series with samples in three months counts
	// three times. It measures the index, not devices times metrics.
	Series uint64
	// SizeBytes is the size of the data directory on disk, snapshots aside.
	SizeBytes uint64
	// PendingRows counts samples accepted but not yet searchable.
	PendingRows uint64
}

// Stats reports the storage's size. It reads VictoriaMetrics' metrics and
// walks the data directory, so it is meant for pages and periodic health
// checks, not for every request. A closed DB reports zeros.
func (db *DB) Stats() Stats {
	if !db.enter() {
		return Stats{}
	}
	defer db.leave()
	var st Stats
	// VictoriaMetrics publishes its storage counters only through its
	// metrics registry, so they are read back from there.
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, false)
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case `vm_rows{type="storage/inmemory"}`, `vm_rows{type="storage/small"}`, `vm_rows{type="storage/big"}`:
			st.RowsStored += parseUint(value)
		case `vm_pending_rows{type="storage"}`:
			st.PendingRows = parseUint(value)
		}
	}
	deadline := searchutil.NewDeadline(time.Now(), 10*time.Second, "")
	if n, err := vmstorage.VMSelectAPI.SeriesCount(nil, 0, 0, deadline.Deadline()); err == nil {
		st.Series = n
	} else {
		db.logger.Warn("series count failed", "error", err)
	}
	st.SizeBytes = dirSize(db.dir, db.logger)
	return st
}

func parseUint(s string) uint64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 {
		return 0
	}
	return uint64(f)
}

// dirSize sums the sizes of regular files under dir. Snapshots are hard
// links to live parts and would be counted twice.
func dirSize(dir string, logger *slog.Logger) uint64 {
	var total uint64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			// Parts disappear while merges run; a vanished file is not an error.
			return nil
		}
		if d.IsDir() && d.Name() == "snapshots" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			total += uint64(info.Size())
		}
		return nil
	})
	if err != nil {
		logger.Warn("data directory size unknown", "dir", dir, "error", err)
	}
	return total
}
