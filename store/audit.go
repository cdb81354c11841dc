package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditEntry is one thing an operator did: who, when, through which
// channel, what (the request's method and path, never its body or query,
// so no secret reaches the log) and how it ended.
type AuditEntry struct {
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`   // user:EMAIL, token:NAME or local
	Channel string    `json:"channel"` // api or page
	Action  string    `json:"action"`  // e.g. "POST /api/v1/devices"
	Status  int       `json:"status"`  // the HTTP status of the answer
	Remote  string    `json:"remote,omitempty"`
}

// AuditQuery selects audit entries, newest first. Zero fields do not
// filter.
type AuditQuery struct {
	From, To time.Time // From <= Time < To
	Actor    string
	Limit    int    // 0 means DefaultHistoryLimit, at most MaxHistoryLimit
	Cursor   string // from the previous page
}

// maxAuditText bounds each text of an entry.
const maxAuditText = 512

// AppendAudit records an entry; a zero Time is now. Entries of concurrent
// requests share a transaction.
func (s *Store) AppendAudit(e AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = now()
	}
	e.Time = e.Time.UTC()
	if err := checkHistoryTime("time", e.Time); err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	for _, f := range []struct{ name, v string }{{"actor", e.Actor}, {"channel", e.Channel}, {"action", e.Action}} {
		if err := checkText(f.name, f.v, maxAuditText, true); err != nil {
			return fmt.Errorf("append audit entry: %w", err)
		}
	}
	if err := checkText("remote", e.Remote, maxAuditText, false); err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	err = s.batch(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAudit))
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		pos := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(e.Time.UnixNano())), seq)
		return b.Put(pos, data)
	})
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	return nil
}

// Audit returns entries newest first and the cursor of the next page, ""
// after the last.
func (s *Store) Audit(q AuditQuery) ([]AuditEntry, string, error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return nil, "", fmt.Errorf("audit: %w", err)
	}
	from, err := historyBound("from", q.From, 0)
	if err != nil {
		return nil, "", fmt.Errorf("audit: %w", err)
	}
	to, err := historyBound("to", q.To, math.MaxInt64)
	if err != nil {
		return nil, "", fmt.Errorf("audit: %w", err)
	}
	upper, err := pageUpper(q.Cursor, to)
	if err != nil {
		return nil, "", fmt.Errorf("audit: %w", err)
	}
	var out []AuditEntry
	var next string
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketAudit)).Cursor()
		var err error
		out, next, err = newestFirst(c, nil, upper, from, limit, func(pos, v []byte) (AuditEntry, bool, error) {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return e, false, fmt.Errorf("cannot decode audit entry at %x: %w", pos, err)
			}
			return e, q.Actor == "" || e.Actor == q.Actor, nil
		})
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("audit: %w", err)
	}
	return out, next, nil
}

// PruneAudit deletes entries older than before, at most batch in one
// transaction, and returns how many it deleted; callers repeat while it
// returns batch.
func (s *Store) PruneAudit(before time.Time, batch int) (int, error) {
	if batch <= 0 {
		return 0, fmt.Errorf("prune audit: batch %d: %w", batch, ErrInvalid)
	}
	end, err := historyBound("before", before, 0)
	if err != nil {
		return 0, fmt.Errorf("prune audit: %w", err)
	}
	n := 0
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAudit))
		c := b.Cursor()
		var doomed [][]byte
		for k, _ := c.First(); k != nil && len(doomed) < batch; k, _ = c.Next() {
			if len(k) != positionLen || int64(binary.BigEndian.Uint64(k)) >= end {
				break
			}
			doomed = append(doomed, bytes.Clone(k))
		}
		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(doomed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune audit: %w", err)
	}
	return n, nil
}
