package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
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
			if err := b.Put([]byte(r.Device), appendPresence(nil, r)); err != nil {
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
// The records are binary and decoded from one copy of the bucket
// (copyBucket): restored at start for every device that ever connected,
// decoding them from JSON took longer than the rest of the start.
func (s *Store) ListPresence() ([]PresenceRecord, error) {
	var out []PresenceRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		text, ends := copyBucket(tx.Bucket([]byte(bucketPresence)))
		out = make([]PresenceRecord, len(ends))
		start := 0
		for i, e := range ends {
			r, err := decodePresence(text[start:e[0]], text[e[0]:e[1]])
			if err != nil {
				return fmt.Errorf("presence of %q: %w", text[start:e[0]], err)
			}
			out[i] = r
			start = e[1]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list presence: %w", err)
	}
	return out, nil
}

// presenceFormat is the first byte of a stored PresenceRecord; a record
// of another format (such as the JSON of older schemas, which begins with
// '{') is refused rather than misread.
const presenceFormat = 1

// appendPresence encodes r (all but the device, which is the key): the
// format byte, a flags byte (1: online), the protocol, the three times,
// the reason and the remote address. A time is a byte, 0 for the zero
// time, else 1 followed by its Unix seconds and nanoseconds and its
// zone's offset in seconds, as varints; a string is a uvarint length and
// its bytes.
func appendPresence(v []byte, r PresenceRecord) []byte {
	flags := byte(0)
	if r.Online {
		flags = 1
	}
	v = append(v, presenceFormat, flags, r.Protocol)
	for _, t := range [...]time.Time{r.ConnectedAt, r.DisconnectedAt, r.LastSeen} {
		if t.IsZero() {
			v = append(v, 0)
			continue
		}
		_, offset := t.Zone()
		v = append(v, 1)
		v = binary.AppendVarint(v, t.Unix())
		v = binary.AppendUvarint(v, uint64(t.Nanosecond()))
		v = binary.AppendVarint(v, int64(offset))
	}
	for _, f := range [...]string{r.Reason, r.Remote} {
		v = binary.AppendUvarint(v, uint64(len(f)))
		v = append(v, f...)
	}
	return v
}

var errBadPresence = errors.New("unreadable presence record")

// decodePresence decodes rec, a record appendPresence wrote for device,
// held in a string; its strings are parts of rec. A time comes back as
// its JSON would have: in UTC for a zero offset, else in the local zone
// when that had the offset at the time, else in a zone of that offset.
func decodePresence(device, rec string) (PresenceRecord, error) {
	r := fieldReader{rec: rec}
	if r.oneByte() != presenceFormat {
		return PresenceRecord{}, errBadPresence
	}
	p := PresenceRecord{Device: device}
	switch r.oneByte() {
	case 0:
	case 1:
		p.Online = true
	default:
		r.fail()
	}
	p.Protocol = r.oneByte()
	for _, t := range [...]*time.Time{&p.ConnectedAt, &p.DisconnectedAt, &p.LastSeen} {
		switch r.oneByte() {
		case 0:
			continue
		case 1:
		default:
			r.fail()
		}
		sec, nsec, offset := r.varint(), r.uvarint(), r.varint()
		if r.failed || nsec >= 1e9 || offset <= -86400 || offset >= 86400 {
			return PresenceRecord{}, errBadPresence
		}
		*t = timeInZone(time.Unix(sec, int64(nsec)), int(offset))
	}
	p.Reason = r.str()
	p.Remote = r.str()
	if !r.done() {
		return PresenceRecord{}, errBadPresence
	}
	return p, nil
}

// timeInZone places t in a zone of offset seconds east of UTC as
// time.Parse places a time it reads with that offset.
func timeInZone(t time.Time, offset int) time.Time {
	if offset == 0 {
		return t.UTC()
	}
	local := t.In(time.Local)
	if _, off := local.Zone(); off == offset {
		return local
	}
	return t.In(time.FixedZone("", offset))
}

// encodePresenceRecords rewrites the JSON presence records of older
// schemas in the binary form of appendPresence.
func encodePresenceRecords(tx *bolt.Tx) error {
	b := tx.Bucket([]byte(bucketPresence))
	var recs []PresenceRecord
	err := b.ForEach(func(k, v []byte) error {
		var r PresenceRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("cannot decode the presence of %q: %w", k, err)
		}
		r.Device = string(k)
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := b.Put([]byte(r.Device), appendPresence(nil, r)); err != nil {
			return err
		}
	}
	return nil
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
