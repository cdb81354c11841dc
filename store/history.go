package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Limits of history records and queries.
const (
	// MaxHistoryUpdateSize bounds the update document kept in an entry.
	MaxHistoryUpdateSize = 64 << 10
	// maxHistoryEntrySize bounds a whole encoded entry: the update plus
	// the old and new value of every changed key.
	maxHistoryEntrySize = 256 << 10
	// maxActorLen fits "user:" and the longest e-mail address.
	maxActorLen = 5 + maxEmailLen
	// maxChannelLen bounds a channel name such as "mqtt" or "scheduler".
	maxChannelLen = 32
	// maxChangeKeyLen bounds the path of a changed key.
	maxChangeKeyLen = 1024
	// DefaultHistoryLimit is the page size of a query that names none.
	DefaultHistoryLimit = 50
	// MaxHistoryLimit is the largest page a query may ask for.
	MaxHistoryLimit = 1000
	// DefaultPruneBatch is the batch of PruneHistory when it names none.
	DefaultPruneBatch = 1000
	// positionLen is the size of a history position: big-endian time in
	// nanoseconds since 1970, then a big-endian sequence number.
	positionLen = 16
)

// Sections of a shadow's state that a HistoryChange can name.
const (
	SectionDesired  = "desired"
	SectionReported = "reported"
)

// HistoryEntry records one accepted shadow update or delete: who made it,
// through which channel, the request as received and what it changed. It
// is written in the transaction that writes the shadow.
type HistoryEntry struct {
	Device  string    `json:"device"`
	Shadow  string    `json:"shadow,omitempty"`
	Version int64     `json:"version"`
	Time    time.Time `json:"time"`
	// Actor is who made the change: "device:NAME", "user:EMAIL",
	// "token:NAME", "scheduler" or "strategy:NAME".
	Actor string `json:"actor"`
	// Channel is how the change arrived: "mqtt", "api", "page" or
	// "scheduler".
	Channel string `json:"channel"`
	// Update is the request document as received, at most
	// MaxHistoryUpdateSize bytes of JSON, stored compacted; empty when
	// there was none.
	Update  json.RawMessage `json:"update,omitempty"`
	Changes []HistoryChange `json:"changes,omitempty"`
	// Flags are the values of the update that break a rule of the device
	// type's settings: reported values are stored as the device sent them,
	// and flagged.
	Flags []HistoryFlag `json:"flags,omitempty"`
}

// HistoryFlag is one value of an update that breaks one rule of the
// device type's settings.
type HistoryFlag struct {
	Section string `json:"section"`
	Key     string `json:"key"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// HistoryChange is one key whose value an update changed. Old and New are
// JSON null when the key was absent before or after; an empty value is
// stored as null.
type HistoryChange struct {
	Section string          `json:"section"` // SectionDesired or SectionReported
	Key     string          `json:"key"`
	Old     json.RawMessage `json:"old"`
	New     json.RawMessage `json:"new"`
}

// HistoryQuery selects history entries. Zero fields do not filter.
type HistoryQuery struct {
	// Device limits the query to one device; "" queries the whole fleet.
	// A deleted device's history stays queryable under its name.
	Device string
	// Shadow limits the query to one shadow of the device: a pointer to
	// "" is the classic shadow, nil means every shadow.
	Shadow *string
	// From and To bound the entries' time: From <= Time < To. A zero
	// bound is open.
	From, To time.Time
	// Actor keeps only the entries of this actor.
	Actor string
	// Limit is the page size: 0 means DefaultHistoryLimit, at most
	// MaxHistoryLimit.
	Limit int
	// Cursor continues a query after the page that returned it.
	Cursor string
}

// History returns the entries that match q, newest first, one page at a
// time, and the cursor of the next page, or "" after the last page.
//
// A device's history, with or without a shadow, is read from an index that
// starts at the end of the page and stops at its last entry, so a page costs
// the same however long the history is. Filtering by actor reads and skips
// the entries of other actors. A cursor is a position in time: the next
// page starts strictly before it, so entries written after the first page
// do not shift the pages that follow.
func (s *Store) History(q HistoryQuery) ([]HistoryEntry, string, error) {
	out, next, err := s.history(q)
	if err != nil {
		return nil, "", fmt.Errorf("query history: %w", err)
	}
	return out, next, nil
}

func (s *Store) history(q HistoryQuery) ([]HistoryEntry, string, error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return nil, "", err
	}
	if q.Device != "" {
		if err := checkDeviceName(q.Device); err != nil {
			return nil, "", err
		}
	}
	if q.Shadow != nil {
		if err := checkShadowName(*q.Shadow); err != nil {
			return nil, "", err
		}
	}
	from, err := historyBound("from", q.From, 0)
	if err != nil {
		return nil, "", err
	}
	to, err := historyBound("to", q.To, math.MaxInt64)
	if err != nil {
		return nil, "", err
	}
	if !q.From.IsZero() && !q.To.IsZero() && from >= to {
		return nil, "", fmt.Errorf("from %s is not before to %s: %w", q.From.Format(time.RFC3339Nano), q.To.Format(time.RFC3339Nano), ErrInvalid)
	}
	upper, err := pageUpper(q.Cursor, to)
	if err != nil {
		return nil, "", err
	}

	var out []HistoryEntry
	var next string
	err = s.db.View(func(tx *bolt.Tx) error {
		primary := tx.Bucket([]byte(bucketHistory))
		var b *bolt.Bucket
		var prefix []byte
		switch {
		case q.Device == "":
			b = tx.Bucket([]byte(bucketHistoryByTime))
		case q.Shadow == nil:
			b, prefix = primary, historyDevicePrefix(q.Device)
		default:
			b, prefix = tx.Bucket([]byte(bucketHistoryByShadow)), historyShadowPrefix(q.Device, *q.Shadow)
		}
		var err error
		out, next, err = newestFirst(b.Cursor(), prefix, upper, from, limit, func(pos, v []byte) (HistoryEntry, bool, error) {
			var e HistoryEntry
			var raw []byte
			switch {
			case q.Device == "":
				device, shadow, ok := bytes.Cut(v, []byte(keySep))
				if !ok {
					return e, false, fmt.Errorf("history index value %q is malformed: %w", v, ErrInvalid)
				}
				if q.Shadow != nil && string(shadow) != *q.Shadow {
					return e, false, nil
				}
				raw = primary.Get(historyKey(string(device), pos))
			case q.Shadow == nil:
				raw = v
			default:
				raw = primary.Get(historyKey(q.Device, pos))
			}
			if raw == nil {
				return e, false, fmt.Errorf("history index names position %x, which has no entry: %w", pos, ErrInvalid)
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				return e, false, fmt.Errorf("cannot decode history entry at %x: %w", pos, err)
			}
			return e, q.Actor == "" || e.Actor == q.Actor, nil
		})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// historyBound turns a query bound into nanoseconds, open when zero.
func historyBound(field string, t time.Time, open int64) (int64, error) {
	if t.IsZero() {
		return open, nil
	}
	if err := checkHistoryTime(field, t); err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

func historyDevicePrefix(device string) []byte {
	return []byte(device + keySep)
}

func historyShadowPrefix(device, shadow string) []byte {
	return []byte(device + keySep + shadow + keySep)
}

func historyKey(device string, pos []byte) []byte {
	return append(historyDevicePrefix(device), pos...)
}

// appendHistory checks an entry and writes it with its two index entries,
// inside the caller's transaction, so a refused entry rolls back the shadow
// write it belongs to. It adds the entry to its device's size and, past
// budget (when positive), deletes the device's oldest entries until the
// history fits again, never the entry just written; it returns how many it
// deleted.
func appendHistory(tx *bolt.Tx, e HistoryEntry, budget int64) (int, error) {
	if e.Time.IsZero() {
		e.Time = now()
	}
	e.Time = e.Time.UTC()
	if err := checkHistoryEntry(&e); err != nil {
		return 0, fmt.Errorf("history entry: %w", err)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("cannot encode history entry: %w", err)
	}
	if len(data) > maxHistoryEntrySize {
		return 0, fmt.Errorf("history entry is %d bytes long encoded, at most %d are accepted: %w", len(data), maxHistoryEntrySize, ErrInvalid)
	}
	primary := tx.Bucket([]byte(bucketHistory))
	seq, err := primary.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("history sequence: %w", err)
	}
	pos := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(e.Time.UnixNano())), seq)
	if err := primary.Put(historyKey(e.Device, pos), data); err != nil {
		return 0, fmt.Errorf("cannot write history entry: %w", err)
	}
	if err := tx.Bucket([]byte(bucketHistoryByShadow)).Put(append(historyShadowPrefix(e.Device, e.Shadow), pos...), []byte{}); err != nil {
		return 0, fmt.Errorf("cannot write history index: %w", err)
	}
	if err := tx.Bucket([]byte(bucketHistoryByTime)).Put(pos, []byte(e.Device+keySep+e.Shadow)); err != nil {
		return 0, fmt.Errorf("cannot write history index: %w", err)
	}
	size, err := addHistorySize(tx, e.Device, int64(len(data)), 1)
	if err != nil {
		return 0, err
	}
	if budget <= 0 || size.Bytes <= budget {
		return 0, nil
	}
	return trimHistory(tx, e.Device, pos, size, budget)
}

// HistorySize is how much history one device keeps.
type HistorySize struct {
	// Bytes is the encoded size of the entries.
	Bytes int64 `json:"bytes"`
	// Entries is how many there are.
	Entries int64 `json:"entries"`
}

// historySizeLen is the size of a stored HistorySize: big-endian bytes,
// then big-endian entries.
const historySizeLen = 16

func (h HistorySize) encode() []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, historySizeLen), uint64(h.Bytes)), uint64(h.Entries))
}

func decodeHistorySize(v []byte) (HistorySize, error) {
	if v == nil {
		return HistorySize{}, nil
	}
	if len(v) != historySizeLen {
		return HistorySize{}, fmt.Errorf("history size %x is malformed: %w", v, ErrInvalid)
	}
	return HistorySize{Bytes: int64(binary.BigEndian.Uint64(v)), Entries: int64(binary.BigEndian.Uint64(v[8:]))}, nil
}

// addHistorySize adds bytes and entries (negative to take away) to a
// device's history size and returns the new size. A device whose history
// becomes empty loses its record. A file of a schema before the sizes
// (written by a fixture of an older release) keeps none: the migration
// that brings them counts its entries.
func addHistorySize(tx *bolt.Tx, device string, bytes, entries int64) (HistorySize, error) {
	b := tx.Bucket([]byte(bucketHistorySizes))
	if b == nil {
		return HistorySize{}, nil
	}
	size, err := decodeHistorySize(b.Get([]byte(device)))
	if err != nil {
		return HistorySize{}, fmt.Errorf("device %q: %w", device, err)
	}
	size.Bytes = max(size.Bytes+bytes, 0)
	size.Entries = max(size.Entries+entries, 0)
	if size.Entries == 0 {
		return HistorySize{}, b.Delete([]byte(device))
	}
	if err := b.Put([]byte(device), size.encode()); err != nil {
		return HistorySize{}, fmt.Errorf("cannot write the history size of device %q: %w", device, err)
	}
	return size, nil
}

// trimHistory deletes a device's oldest entries, except keep, until its
// history fits budget, and returns how many it deleted.
func trimHistory(tx *bolt.Tx, device string, keep []byte, size HistorySize, budget int64) (int, error) {
	primary := tx.Bucket([]byte(bucketHistory))
	byTime := tx.Bucket([]byte(bucketHistoryByTime))
	byShadow := tx.Bucket([]byte(bucketHistoryByShadow))
	prefix := historyDevicePrefix(device)
	type doomed struct{ pos, shadow []byte }
	var ds []doomed
	var freed int64
	c := primary.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && size.Bytes-freed > budget; k, v = c.Next() {
		pos := k[len(prefix):]
		if len(pos) != positionLen {
			return 0, fmt.Errorf("history key %x is malformed: %w", k, ErrInvalid)
		}
		if bytes.Equal(pos, keep) {
			continue
		}
		ref := byTime.Get(pos)
		d, shadow, ok := bytes.Cut(ref, []byte(keySep))
		if !ok || string(d) != device {
			return 0, fmt.Errorf("history index of %x is %q, not of device %q: %w", pos, ref, device, ErrInvalid)
		}
		ds = append(ds, doomed{bytes.Clone(pos), bytes.Clone(shadow)})
		freed += int64(len(v))
	}
	for _, d := range ds {
		if err := primary.Delete(historyKey(device, d.pos)); err != nil {
			return 0, err
		}
		if err := byShadow.Delete(append(historyShadowPrefix(device, string(d.shadow)), d.pos...)); err != nil {
			return 0, err
		}
		if err := byTime.Delete(d.pos); err != nil {
			return 0, err
		}
	}
	if _, err := addHistorySize(tx, device, -freed, -int64(len(ds))); err != nil {
		return 0, err
	}
	return len(ds), nil
}

// HistoryTrimmed counts the history entries deleted since the store was
// opened because their device's history had outgrown its budget.
func (s *Store) HistoryTrimmed() uint64 { return s.historyTrimmed.Load() }

// createHistorySizes adds the bucket of each device's history size and
// fills it from the history already stored.
func createHistorySizes(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists([]byte(bucketHistorySizes))
	if err != nil {
		return fmt.Errorf("create bucket %q: %w", bucketHistorySizes, err)
	}
	sizes := make(map[string]HistorySize)
	err = tx.Bucket([]byte(bucketHistory)).ForEach(func(k, v []byte) error {
		if len(k) < positionLen+len(keySep) {
			return fmt.Errorf("history key %x is malformed: %w", k, ErrInvalid)
		}
		device := string(k[:len(k)-positionLen-len(keySep)])
		size := sizes[device]
		size.Bytes += int64(len(v))
		size.Entries++
		sizes[device] = size
		return nil
	})
	if err != nil {
		return err
	}
	for device, size := range sizes {
		if err := b.Put([]byte(device), size.encode()); err != nil {
			return err
		}
	}
	return nil
}

// PruneHistory deletes the entries older than before, batch entries per
// transaction (0 means DefaultPruneBatch), and returns how many it deleted.
// Many small transactions keep each hold of the write lock short, so
// shadow writes go on while a large backlog is pruned. An error leaves the
// batches before it deleted, and every batch whole.
func (s *Store) PruneHistory(before time.Time, batch int) (int, error) {
	if batch == 0 {
		batch = DefaultPruneBatch
	}
	if batch < 0 {
		return 0, fmt.Errorf("prune history: batch %d is negative: %w", batch, ErrInvalid)
	}
	end, err := historyBound("before", before, 0)
	if err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	deleted := 0
	for {
		n, err := s.pruneBatch(end, batch)
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("prune history before %s: %w", before.Format(time.RFC3339Nano), err)
		}
		if n < batch {
			return deleted, nil
		}
	}
}

// pruneBatch deletes up to batch of the oldest entries older than end
// nanoseconds, with their index entries, in one transaction.
func (s *Store) pruneBatch(end int64, batch int) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		byTime := tx.Bucket([]byte(bucketHistoryByTime))
		type doomed struct{ pos, device, shadow []byte }
		var ds []doomed
		c := byTime.Cursor()
		for k, v := c.First(); k != nil && len(ds) < batch; k, v = c.Next() {
			if len(k) != positionLen {
				return fmt.Errorf("history index key %x is malformed: %w", k, ErrInvalid)
			}
			if int64(binary.BigEndian.Uint64(k)) >= end {
				break
			}
			device, shadow, ok := bytes.Cut(v, []byte(keySep))
			if !ok {
				return fmt.Errorf("history index value %q is malformed: %w", v, ErrInvalid)
			}
			ds = append(ds, doomed{bytes.Clone(k), bytes.Clone(device), bytes.Clone(shadow)})
		}
		primary := tx.Bucket([]byte(bucketHistory))
		byShadow := tx.Bucket([]byte(bucketHistoryByShadow))
		for _, d := range ds {
			key := historyKey(string(d.device), d.pos)
			if _, err := addHistorySize(tx, string(d.device), -int64(len(primary.Get(key))), -1); err != nil {
				return err
			}
			if err := primary.Delete(key); err != nil {
				return err
			}
			if err := byShadow.Delete(append(historyShadowPrefix(string(d.device), string(d.shadow)), d.pos...)); err != nil {
				return err
			}
			if err := byTime.Delete(d.pos); err != nil {
				return err
			}
		}
		n = len(ds)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// checkHistoryTime accepts the times a position can hold: from 1970 to
// 2262, the range of nanoseconds in an int64.
func checkHistoryTime(field string, t time.Time) error {
	if t.Before(time.Unix(0, 0)) || t.After(time.Unix(0, math.MaxInt64)) {
		return fmt.Errorf("%s %s: only times from 1970 to 2262 are accepted: %w", field, t.Format(time.RFC3339Nano), ErrInvalid)
	}
	return nil
}

// checkHistoryEntry checks an entry whose time is set, compacting its JSON
// and turning absent values into null in place.
func checkHistoryEntry(e *HistoryEntry) error {
	if err := checkDeviceName(e.Device); err != nil {
		return err
	}
	if err := checkShadowName(e.Shadow); err != nil {
		return err
	}
	if e.Version < 0 {
		return fmt.Errorf("version %d is negative: %w", e.Version, ErrInvalid)
	}
	if err := checkHistoryTime("time", e.Time); err != nil {
		return err
	}
	if err := checkText("actor", e.Actor, maxActorLen, true); err != nil {
		return err
	}
	if err := checkText("channel", e.Channel, maxChannelLen, true); err != nil {
		return err
	}
	if len(e.Update) > MaxHistoryUpdateSize {
		return fmt.Errorf("update is %d bytes long, at most %d are accepted: %w", len(e.Update), MaxHistoryUpdateSize, ErrInvalid)
	}
	if len(e.Update) > 0 {
		u, err := compactJSON("update", e.Update)
		if err != nil {
			return err
		}
		e.Update = u
	}
	// The entry is the caller's copy but its changes are not: clone them
	// before normalising in place.
	e.Changes = slices.Clone(e.Changes)
	if len(e.Changes) == 0 {
		e.Changes = nil
	}
	for i := range e.Changes {
		ch := &e.Changes[i]
		if ch.Section != SectionDesired && ch.Section != SectionReported {
			return fmt.Errorf("change %d: section %q: only %q and %q are accepted: %w", i, ch.Section, SectionDesired, SectionReported, ErrInvalid)
		}
		if err := checkText(fmt.Sprintf("change %d key", i), ch.Key, maxChangeKeyLen, true); err != nil {
			return err
		}
		for _, v := range []*json.RawMessage{&ch.Old, &ch.New} {
			if len(*v) == 0 {
				*v = json.RawMessage("null")
				continue
			}
			c, err := compactJSON(fmt.Sprintf("change %d of %q", i, ch.Key), *v)
			if err != nil {
				return err
			}
			*v = c
		}
	}
	if len(e.Flags) == 0 {
		e.Flags = nil
	}
	for i, f := range e.Flags {
		if f.Section != SectionDesired && f.Section != SectionReported {
			return fmt.Errorf("flag %d: section %q: only %q and %q are accepted: %w", i, f.Section, SectionDesired, SectionReported, ErrInvalid)
		}
		if err := checkText(fmt.Sprintf("flag %d key", i), f.Key, maxChangeKeyLen, true); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("flag %d rule", i), f.Rule, maxNameLen, true); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("flag %d message", i), f.Message, maxDescriptionLen, true); err != nil {
			return err
		}
	}
	return nil
}

// compactJSON checks that raw is one JSON value and returns it compacted,
// the form in which it is stored.
func compactJSON(field string, raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v: %w", field, err, ErrInvalid)
	}
	return buf.Bytes(), nil
}
