package tsdb

import (
	"strconv"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/storage"
)

// Every read adds a label filter that names the index's generation, so
// that a series search never reuses an answer the index gave before its
// newest entries were searchable.
//
// VictoriaMetrics caches the series each search found, keyed by the
// search's label filters and days, until its index makes new entries
// searchable and resets that cache. A search that was reading the index
// while a flush made new entries searchable may store its answer — without
// them — just after that reset. The answer then stands until the next
// reset, which comes only with the next new index entry: with a steady
// fleet, that can be hours in which a new device's or metric's series is
// not found, although every other search finds it. (Measured: at 10,000
// messages/s, 1 or 2 of 45 new series stayed unfound on one read path for
// the probe's 30 s, while the same filters over a wider range of days
// found them.)
//
// The generation (DB.readGen) moves on after each flush that followed an
// append which may have added index entries (latestCache.update says
// which). A read takes the generation after its own flush and searches
// with the filter {__hearth_read_<generation>=""}: a label no series has,
// compared with the empty value, so it matches every series, but its name
// makes the cache key differ from that of any search before the entries
// became searchable. Without new index entries the generation stays, and
// so do the cached answers.
const readGenLabel = "__hearth_read_"

// readLabel is the name of the label of the current generation.
func (db *DB) readLabel() string {
	return readGenLabel + strconv.FormatUint(db.readGen.Load(), 10)
}

// readFilter is the filter of the current generation. The caller has made
// what it must see searchable first (searchable).
func (db *DB) readFilter() storage.TagFilter {
	return storage.TagFilter{Key: []byte(db.readLabel())}
}
