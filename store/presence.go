package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxRemoteLen bounds a presence record's remote address: an IPv6 address
// with a zone and a port fits with room to spare.
const maxRemoteLen = 256

// PresenceRecord is the last known connection state of a device, saved so
// that it survives a restart. Zero times are unknown. The store keeps it as
// given; what the fields mean is decided in package device.
type PresenceRecord struct {
	Device         string    `json:"device"`
	Online         bool      `json:"online"`
	ConnectedAt    time.Time `json:"connected_at,omitzero"`
	DisconnectedAt time.Time `json:"disconnected_at,omitzero"`
	LastSeen       time.Time `json:"last_seen,omitzero"`
	Reason         string    `json:"reason,omitempty"`
	Remote         string    `json:"remote,omitempty"`
	Protocol       byte      `json:"protocol,omitempty"`
}

// PutPresence saves the records in one transaction, so a periodic save of
// many devices costs one fsync. A record of a device that does not exist is
// skipped, not refused: a device may be deleted between the moment its state
// was read and this write, and its record must not outlive it. An invalid
// record refuses the whole call with ErrInvalid and nothing is written.
func (s *Store) PutPresence(recs []PresenceRecord) error {
	if len(recs) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		if err := checkPresence(r); err != nil {
			return fmt.Errorf("put presence of %q: %w", r.Device, err)
		}
		if seen[r.Device] {
			return fmt.Errorf("put presence: device %q appears twice: %w", r.Device, ErrInvalid)
		}
		seen[r.Device] = true
	}
	err := s.update(func(tx *bolt.Tx) error {
		devices := tx.Bucket([]byte(bucketDevices))
		b := tx.Bucket([]byte(bucketPresence))
		for _, r := range recs {
			if devices.Get([]byte(r.Device)) == nil {
				continue
			}
			if err := putJSON(b, []byte(r.Device), r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put presence of %d devices: %w", len(recs), err)
	}
	return nil
}

// ListPresence returns every saved presence record, sorted by device name.
func (s *Store) ListPresence() ([]PresenceRecord, error) {
	var out []PresenceRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[PresenceRecord](tx.Bucket([]byte(bucketPresence)), nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list presence: %w", err)
	}
	return out, nil
}

// checkPresence checks a record's own fields.
func checkPresence(r PresenceRecord) error {
	if err := checkDeviceName(r.Device); err != nil {
		return err
	}
	if err := checkText("reason", r.Reason, maxNameLen, false); err != nil {
		return err
	}
	if r.Online && r.Reason != "" {
		return fmt.Errorf("an online device has no disconnect reason, got %q: %w", r.Reason, ErrInvalid)
	}
	if err := checkText("remote address", r.Remote, maxRemoteLen, false); err != nil {
		return err
	}
	switch r.Protocol {
	case 0, 3, 4, 5:
	default:
		return fmt.Errorf("protocol %d: only 3, 4 and 5 (MQTT 3.1, 3.1.1 and 5), or 0 for unknown, are accepted: %w", r.Protocol, ErrInvalid)
	}
	return nil
}
