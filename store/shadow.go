package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Limits of shadow records.
const (
	// maxShadowNameLen is AWS IoT's limit for a named shadow.
	maxShadowNameLen = 64
	// MaxShadowDocSize bounds a stored shadow document. The shadow
	// semantics keep the state itself far smaller (8 KiB by default); the
	// rest is room for metadata timestamps, which grow with every key.
	MaxShadowDocSize = 64 << 10
)

// Shadow is one device shadow as the device package encodes it. The store
// does not interpret Doc: it keeps the document whole, with the version the
// semantics gave it, so the store stays free of shadow rules.
type Shadow struct {
	Device string `json:"device"`
	// Name is empty for the classic shadow, else the name of a named
	// shadow: 1 to 64 of [A-Za-z0-9:_-].
	Name    string `json:"name,omitempty"`
	Version int64  `json:"version"`
	// Doc is the whole shadow document, a JSON object of at most
	// MaxShadowDocSize bytes. It is stored compacted.
	Doc       json.RawMessage `json:"doc"`
	UpdatedAt time.Time       `json:"updated_at"`
}

func shadowKey(device, name string) []byte {
	return []byte(device + keySep + name)
}

// shadowPrefix is the prefix of every shadow of a device.
func shadowPrefix(device string) []byte {
	return []byte(device + keySep)
}

// GetShadow returns the shadow called name of the device; name "" is the
// classic shadow.
func (s *Store) GetShadow(device, name string) (Shadow, error) {
	var sh Shadow
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket([]byte(bucketShadows)), shadowKey(device, name), &sh)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return Shadow{}, fmt.Errorf("get shadow %q of device %q: %w", name, device, err)
	}
	return sh, nil
}

// ListShadows returns the shadows of an existing device: the classic shadow
// first, then the named ones sorted by name. A device without shadows has
// an empty list; a device that does not exist is ErrNotFound.
func (s *Store) ListShadows(device string) ([]Shadow, error) {
	var out []Shadow
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := getDevice(tx, device); err != nil {
			return err
		}
		var err error
		out, err = listJSON[Shadow](tx.Bucket([]byte(bucketShadows)), shadowPrefix(device))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list shadows of device %q: %w", device, err)
	}
	return out, nil
}

// CountShadows counts the shadows a device has, the classic one included,
// without reading them.
func (s *Store) CountShadows(device string) (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = countPrefix(tx.Bucket([]byte(bucketShadows)), shadowPrefix(device))
		return nil
	})
	return n, err
}

// PutShadow writes a shadow whose stored version is expectVersion (0: the
// shadow must not exist yet) and appends h to the history, all in one
// transaction: a shadow and its history never disagree, and two writers
// that read the same version cannot both succeed. The loser gets
// ErrVersionConflict and nothing is written. The device must exist.
//
// s.Version must be greater than expectVersion, and h, when given, must
// name the same device, shadow and version as s. A zero UpdatedAt, or a
// zero time in h, is set to the current time. The write is durable when
// PutShadow returns.
//
// Writes of different shadows made at the same time share one transaction
// and one fsync (see batch), because a fleet reporting its settings would
// otherwise queue behind one fsync per update. A write that fails, a
// version conflict above all, fails alone: the others of its transaction
// are written as if it had never been made.
func (s *Store) PutShadow(sh Shadow, expectVersion int64, h *HistoryEntry) error {
	var trimmed int
	write, err := s.shadowWrite(sh, expectVersion, h, &trimmed)
	if err == nil {
		err = s.batch(write)
	}
	if err != nil {
		return fmt.Errorf("put shadow %q of device %q: %w", sh.Name, sh.Device, err)
	}
	s.historyTrimmed.Add(uint64(trimmed))
	return nil
}

// shadowWrite checks a write of PutShadow and returns the transaction that
// makes it. Checking and encoding happen here, once, so that a refused
// document never joins a batch and the transaction, which holds bbolt's
// only writer lock, does no more than read the stored version and put.
// The returned function may run several times, in batches rolled back
// because another write in them failed; it changes nothing but tx and
// *trimmed, which its last run sets to the history entries it deleted to
// keep the device within its budget.
func (s *Store) shadowWrite(sh Shadow, expectVersion int64, h *HistoryEntry, trimmed *int) (func(tx *bolt.Tx) error, error) {
	if err := checkShadow(sh); err != nil {
		return nil, err
	}
	if expectVersion < 0 {
		return nil, fmt.Errorf("expected version %d is negative: %w", expectVersion, ErrInvalid)
	}
	if sh.Version <= expectVersion {
		return nil, fmt.Errorf("version %d does not follow the expected version %d: %w", sh.Version, expectVersion, ErrInvalid)
	}
	if h != nil {
		if h.Device != sh.Device || h.Shadow != sh.Name || h.Version != sh.Version {
			return nil, fmt.Errorf("history entry names device %q, shadow %q, version %d, but the shadow is device %q, shadow %q, version %d: %w",
				h.Device, h.Shadow, h.Version, sh.Device, sh.Name, sh.Version, ErrInvalid)
		}
	}
	doc, err := compactJSON("document", sh.Doc)
	if err != nil {
		return nil, err
	}
	sh.Doc = doc
	if sh.UpdatedAt.IsZero() {
		sh.UpdatedAt = now()
	}
	sh.UpdatedAt = sh.UpdatedAt.UTC()
	key := shadowKey(sh.Device, sh.Name)
	data, err := json.Marshal(sh)
	if err != nil {
		return nil, fmt.Errorf("cannot encode %q: %w", key, err)
	}
	return func(tx *bolt.Tx) error {
		if _, err := getDevice(tx, sh.Device); err != nil {
			return fmt.Errorf("device %q: %w", sh.Device, err)
		}
		b := tx.Bucket([]byte(bucketShadows))
		var cur Shadow
		if _, err := getJSON(b, key, &cur); err != nil {
			return err
		}
		if cur.Version != expectVersion {
			return fmt.Errorf("stored version is %d, the write expected %d: %w", cur.Version, expectVersion, ErrVersionConflict)
		}
		if err := b.Put(key, data); err != nil {
			return fmt.Errorf("cannot write %q: %w", key, err)
		}
		*trimmed = 0
		if h != nil {
			n, err := appendHistory(tx, *h, s.historyBudget)
			*trimmed = n
			return err
		}
		return nil
	}, nil
}

// DeleteShadow removes an existing shadow of an existing device and appends
// h to the history in the same transaction; h, when given, must name the
// same device and shadow. Like PutShadow, it shares its transaction with
// the shadow writes made at the same time, and is durable when it returns.
func (s *Store) DeleteShadow(device, name string, h *HistoryEntry) error {
	err := s.deleteShadow(device, name, h)
	if err != nil {
		return fmt.Errorf("delete shadow %q of device %q: %w", name, device, err)
	}
	return nil
}

func (s *Store) deleteShadow(device, name string, h *HistoryEntry) error {
	// Checked before joining a batch, which a failing call rolls back.
	if h != nil && (h.Device != device || h.Shadow != name) {
		return fmt.Errorf("history entry names device %q, shadow %q: %w", h.Device, h.Shadow, ErrInvalid)
	}
	trimmed := 0
	err := s.batch(func(tx *bolt.Tx) error {
		if _, err := getDevice(tx, device); err != nil {
			return fmt.Errorf("device %q: %w", device, err)
		}
		b := tx.Bucket([]byte(bucketShadows))
		key := shadowKey(device, name)
		if b.Get(key) == nil {
			return ErrNotFound
		}
		if err := b.Delete(key); err != nil {
			return err
		}
		trimmed = 0
		if h != nil {
			n, err := appendHistory(tx, *h, s.historyBudget)
			trimmed = n
			return err
		}
		return nil
	})
	if err == nil {
		s.historyTrimmed.Add(uint64(trimmed))
	}
	return err
}

// deleteShadows removes every shadow of a device, inside the transaction
// that deletes the device.
func deleteShadows(tx *bolt.Tx, device string) error {
	b := tx.Bucket([]byte(bucketShadows))
	prefix := shadowPrefix(device)
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("delete shadow %q: %w", k[len(prefix):], err)
		}
	}
	return nil
}

// checkShadowName is AWS IoT's rule for named shadows, which are a topic
// level of the device's shadow topics; "" is the classic shadow.
func checkShadowName(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxShadowNameLen {
		return fmt.Errorf("shadow name is %d bytes long, at most %d are accepted: %w", len(s), maxShadowNameLen, ErrInvalid)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ':' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("shadow name %q: only letters A-Z and a-z, digits, ':', '_' and '-' are accepted: %w", s, ErrInvalid)
		}
	}
	return nil
}

// checkShadow checks a shadow's own fields.
func checkShadow(sh Shadow) error {
	if err := checkDeviceName(sh.Device); err != nil {
		return err
	}
	if err := checkShadowName(sh.Name); err != nil {
		return err
	}
	if sh.Version <= 0 {
		return fmt.Errorf("version %d: a shadow's version starts at 1: %w", sh.Version, ErrInvalid)
	}
	if len(sh.Doc) > MaxShadowDocSize {
		return fmt.Errorf("document is %d bytes long, at most %d are accepted: %w", len(sh.Doc), MaxShadowDocSize, ErrInvalid)
	}
	if !json.Valid(sh.Doc) {
		return fmt.Errorf("document is not valid JSON: %w", ErrInvalid)
	}
	if t := bytes.TrimLeft(sh.Doc, " \t\r\n"); t[0] != '{' {
		return fmt.Errorf("document is not a JSON object: %w", ErrInvalid)
	}
	return nil
}
