package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// OpenWithExtraMigrations opens like Open with extra schema steps after the
// real ones, so tests can drive the migration mechanism on a real file.
func OpenWithExtraMigrations(path string, opts Options, extra ...func(tx *bolt.Tx) error) (*Store, error) {
	migs := migrations()
	for i, up := range extra {
		migs = append(migs, migration{name: fmt.Sprintf("extra step %d", i+1), up: up})
	}
	return open(path, opts, migs)
}

// CreateDevicesInOneTransaction provisions many devices with one fsync, so
// benchmarks can build a large fleet quickly. It applies the rules of
// CreateDevice.
func (s *Store) CreateDevicesInOneTransaction(ds []Device) error {
	return s.update(func(tx *bolt.Tx) error {
		for _, d := range ds {
			if d.Site == "" {
				d.Site = DefaultSite
			}
			if d.CreatedAt.IsZero() {
				d.CreatedAt = now()
			}
			if err := checkDevice(d); err != nil {
				return fmt.Errorf("device %q: %w", d.Name, err)
			}
			if err := createDevice(tx, d); err != nil {
				return fmt.Errorf("device %q: %w", d.Name, err)
			}
		}
		return nil
	})
}

// AppendHistoryInOneTransaction records many history entries with one
// fsync, so benchmarks can build a long history quickly. It applies the
// rules of the history written by PutShadow.
func (s *Store) AppendHistoryInOneTransaction(es []HistoryEntry) error {
	return s.update(func(tx *bolt.Tx) error {
		for _, e := range es {
			if _, err := appendHistory(tx, e, s.historyBudget); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecountHistorySizes drops every device's history size and counts it
// again from the entries, as the migration that introduced the sizes does.
func RecountHistorySizes(tx *bolt.Tx) error {
	if err := tx.DeleteBucket([]byte(bucketHistorySizes)); err != nil {
		return err
	}
	return createHistorySizes(tx)
}

// HistorySizeOf returns how much history a device keeps; a device without
// history, or unknown, keeps none.
func (s *Store) HistorySizeOf(device string) (HistorySize, error) {
	var size HistorySize
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		size, err = decodeHistorySize(tx.Bucket([]byte(bucketHistorySizes)).Get([]byte(device)))
		return err
	})
	if err != nil {
		return HistorySize{}, fmt.Errorf("history size of device %q: %w", device, err)
	}
	return size, nil
}

// EncodeDeviceAccess and DecodeDeviceAccess are the access record's
// encoding, for tests of records the store itself would never write.
func EncodeDeviceAccess(d Device) []byte { return appendDeviceAccess(nil, d) }

func DecodeDeviceAccess(name string, v []byte) (DeviceAccess, error) {
	var creds []CredentialAccess
	return decodeDeviceAccess(name, string(v), &creds)
}

// EncodePresence and DecodePresence are the presence record's encoding.
func EncodePresence(r PresenceRecord) []byte { return appendPresence(nil, r) }

func DecodePresence(device string, v []byte) (PresenceRecord, error) {
	return decodePresence(device, string(v))
}
