package store

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxSessionData bounds what one browser session may hold: who signed in,
// a pending sign-in, a language; never more than a few hundred bytes.
const maxSessionData = 16 << 10

// sessionKey is the key of a session token: its SHA-256, so that a copy of
// the file does not hand out signed-in sessions.
func sessionKey(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// A stored session is the expiry (unix nanoseconds, big-endian) followed by
// the data, which is opaque to the store.
func encodeSession(data []byte, expiry time.Time) []byte {
	out := make([]byte, 8+len(data))
	binary.BigEndian.PutUint64(out, uint64(expiry.UnixNano()))
	copy(out[8:], data)
	return out
}

func decodeSession(v []byte) ([]byte, time.Time, error) {
	if len(v) < 8 {
		return nil, time.Time{}, fmt.Errorf("session record of %d bytes: %w", len(v), ErrInvalid)
	}
	return append([]byte(nil), v[8:]...), time.Unix(0, int64(binary.BigEndian.Uint64(v))), nil
}

// PutSession stores the data of a browser session until expiry, replacing
// what the token held. Sessions are written by many requests at once, so
// concurrent writes share a transaction.
func (s *Store) PutSession(token string, data []byte, expiry time.Time) error {
	if token == "" {
		return fmt.Errorf("put session: empty token: %w", ErrInvalid)
	}
	if len(data) > maxSessionData {
		return fmt.Errorf("put session: %d bytes of data, at most %d are accepted: %w", len(data), maxSessionData, ErrInvalid)
	}
	v := encodeSession(data, expiry)
	err := s.batch(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSessions)).Put(sessionKey(token), v)
	})
	if err != nil {
		return fmt.Errorf("put session: %w", err)
	}
	return nil
}

// GetSession returns the data of an unexpired session and its expiry;
// an unknown or expired token is ErrNotFound.
func (s *Store) GetSession(token string, now time.Time) ([]byte, time.Time, error) {
	var data []byte
	var expiry time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte(bucketSessions)).Get(sessionKey(token))
		if v == nil {
			return ErrNotFound
		}
		var err error
		data, expiry, err = decodeSession(v)
		if err != nil {
			return err
		}
		if !now.Before(expiry) {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("get session: %w", err)
	}
	return data, expiry, nil
}

// DeleteSession removes a session; an unknown token is not an error.
func (s *Store) DeleteSession(token string) error {
	err := s.batch(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSessions)).Delete(sessionKey(token))
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// PruneSessions deletes sessions that expired before now, at most batch in
// one transaction, and returns how many it deleted; callers repeat while
// it returns batch.
func (s *Store) PruneSessions(now time.Time, batch int) (int, error) {
	if batch <= 0 {
		return 0, fmt.Errorf("prune sessions: batch %d: %w", batch, ErrInvalid)
	}
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSessions))
		var expired [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(expired) >= batch {
				return errStopScan
			}
			_, expiry, err := decodeSession(v)
			if err != nil || !now.Before(expiry) {
				expired = append(expired, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return n, nil
}

// errStopScan ends a ForEach early.
var errStopScan = errors.New("stop scan")
