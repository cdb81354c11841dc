package store

import (
	"fmt"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// PollMap is the register map of a device that Hearth polls itself over
// Modbus TCP, as the operator wrote it (YAML; package modbus reads
// it). The store keeps the text whole, comments and all, so that what an
// operator reads back is what they wrote.
type PollMap struct {
	Device    string    `json:"device"`
	Map       string    `json:"map"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MaxPollMapSize bounds a stored register map.
const MaxPollMapSize = 1 << 20

// PutPollMap sets the register map of an existing device, replacing any
// it had, and reports whether the device had none. Whether the map makes
// sense is the caller's question; the store checks only that it is text
// of a bounded size.
func (s *Store) PutPollMap(device, text string) (_ PollMap, created bool, _ error) {
	switch {
	case text == "":
		return PollMap{}, false, fmt.Errorf("put register map of %q: the map is empty: %w", device, ErrInvalid)
	case len(text) > MaxPollMapSize:
		return PollMap{}, false, fmt.Errorf("put register map of %q: %d bytes, at most %d are accepted: %w", device, len(text), MaxPollMapSize, ErrInvalid)
	case !utf8.ValidString(text):
		return PollMap{}, false, fmt.Errorf("put register map of %q: not valid UTF-8: %w", device, ErrInvalid)
	}
	pm := PollMap{Device: device, Map: text, UpdatedAt: now()}
	err := s.update(func(tx *bolt.Tx) error {
		if _, err := getDevice(tx, device); err != nil {
			return err
		}
		b := tx.Bucket([]byte(bucketPollMaps))
		created = b.Get([]byte(device)) == nil
		return putJSON(b, []byte(device), pm)
	})
	if err != nil {
		return PollMap{}, false, fmt.Errorf("put register map of %q: %w", device, err)
	}
	return pm, created, nil
}

// GetPollMap returns the register map of device.
func (s *Store) GetPollMap(device string) (PollMap, error) {
	pm, err := getRecord[PollMap](s, bucketPollMaps, device)
	if err != nil {
		return PollMap{}, fmt.Errorf("get register map of %q: %w", device, err)
	}
	return pm, nil
}

// ListPollMaps returns every device's register map, sorted by device.
func (s *Store) ListPollMaps() ([]PollMap, error) {
	out, err := listRecords[PollMap](s, bucketPollMaps)
	if err != nil {
		return nil, fmt.Errorf("list register maps: %w", err)
	}
	return out, nil
}

// DeletePollMap stops a device from being polled.
func (s *Store) DeletePollMap(device string) error {
	if err := s.deleteRecord(bucketPollMaps, device); err != nil {
		return fmt.Errorf("delete register map of %q: %w", device, err)
	}
	return nil
}
