package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Paging, newest first, over keys that end in a position (positionLen
// bytes: big-endian nanoseconds since 1970, then a big-endian sequence
// number), as the history and the audit log keep them.
//
// A cursor is the position of the last entry of the page that returned it,
// in unpadded base64url. The next page starts strictly before it, so
// entries written after the first page do not shift the pages that follow.
// Clients keep cursors, so the format must not change.

// pageLimit returns the page size a query asked for: limit, or
// DefaultHistoryLimit for 0.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultHistoryLimit, nil
	case limit < 0 || limit > MaxHistoryLimit:
		return 0, fmt.Errorf("limit %d: 1 to %d entries are accepted: %w", limit, MaxHistoryLimit, ErrInvalid)
	}
	return limit, nil
}

// pageUpper returns the exclusive upper end of the positions a page reads:
// the position of time to (nanoseconds), or the cursor's if that is lower.
func pageUpper(cursor string, to int64) ([]byte, error) {
	upper := binary.BigEndian.AppendUint64(nil, uint64(to))
	if cursor == "" {
		return upper, nil
	}
	pos, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(pos) != positionLen {
		return nil, fmt.Errorf("cursor %q is not one this store returned: %w", cursor, ErrInvalid)
	}
	if bytes.Compare(pos, upper) < 0 {
		return pos, nil
	}
	return upper, nil
}

// newestFirst reads one page from c's bucket: up to limit entries, newest
// first, of the keys prefix+position with a position from from
// (nanoseconds) up to upper, exclusive. It returns them and the cursor of
// the next page, "" after the last. decode turns a position and its value
// into an entry and says whether the entry matches the query; entries that
// do not are skipped. It must run inside the transaction of c.
func newestFirst[T any](c *bolt.Cursor, prefix, upper []byte, from int64, limit int, decode func(pos, v []byte) (T, bool, error)) ([]T, string, error) {
	out := []T{}
	k, v := seekBefore(c, append(bytes.Clone(prefix), upper...))
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		pos := k[len(prefix):]
		if len(pos) != positionLen {
			return nil, "", fmt.Errorf("key %q has a malformed position: %w", k, ErrInvalid)
		}
		if int64(binary.BigEndian.Uint64(pos)) < from {
			break
		}
		e, ok, err := decode(pos, v)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			continue
		}
		if len(out) == limit {
			// One more match exists, so there is a next page.
			return out, base64.RawURLEncoding.EncodeToString(upper), nil
		}
		out = append(out, e)
		// Keys stay valid until the transaction ends.
		upper = pos
	}
	return out, "", nil
}

// seekBefore moves c to the last key before key and returns it and its
// value, or nil if there is none.
func seekBefore(c *bolt.Cursor, key []byte) ([]byte, []byte) {
	if k, _ := c.Seek(key); k == nil {
		return c.Last()
	}
	return c.Prev()
}
