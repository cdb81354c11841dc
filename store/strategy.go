package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StrategySetting switches an energy-saving strategy on or off for a site,
// or for one device of it: a device's own setting wins over its site's.
// Which strategies exist is the strategy runner's knowledge; the store
// keeps names.
type StrategySetting struct {
	Customer string `json:"customer"`
	Site     string `json:"site"`
	Strategy string `json:"strategy"`
	// Device is empty for the whole site.
	Device    string    `json:"device,omitempty"`
	Enabled   bool      `json:"enabled"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

func strategyKey(customer, site, strategy, device string) []byte {
	return []byte(customer + "\x00" + site + "\x00" + strategy + "\x00" + device)
}

// PutStrategySetting writes a setting; the site (and the device, named in
// it) must exist.
func (s *Store) PutStrategySetting(st StrategySetting) error {
	if err := checkSlug("customer", st.Customer); err != nil {
		return err
	}
	if err := checkSlug("site", st.Site); err != nil {
		return err
	}
	if err := checkSlug("strategy", st.Strategy); err != nil {
		return err
	}
	if st.Device != "" {
		if err := checkDeviceName(st.Device); err != nil {
			return err
		}
	}
	err := s.update(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bucketSites)).Get([]byte(st.Customer+"\x00"+st.Site)) == nil {
			return fmt.Errorf("site %s/%s: %w", st.Customer, st.Site, ErrNotFound)
		}
		if st.Device != "" {
			var d Device
			ok, err := getJSON(tx.Bucket([]byte(bucketDevices)), []byte(st.Device), &d)
			if err != nil {
				return err
			}
			if !ok || d.Customer != st.Customer || d.Site != st.Site {
				return fmt.Errorf("device %q of site %s/%s: %w", st.Device, st.Customer, st.Site, ErrNotFound)
			}
		}
		return putJSON(tx.Bucket([]byte(bucketStrategies)), strategyKey(st.Customer, st.Site, st.Strategy, st.Device), st)
	})
	if err != nil {
		return fmt.Errorf("put strategy %s of %s/%s: %w", st.Strategy, st.Customer, st.Site, err)
	}
	return nil
}

// DeleteStrategySetting removes a setting: a device's falls back to its
// site's, a site's to off.
func (s *Store) DeleteStrategySetting(customer, site, strategy, device string) error {
	return s.deleteRecord(bucketStrategies, string(strategyKey(customer, site, strategy, device)))
}

// StrategySettings lists the settings of a site, or of every site when
// customer is empty, in key order (a site's before its devices').
func (s *Store) StrategySettings(customer, site string) ([]StrategySetting, error) {
	var prefix []byte
	if customer != "" {
		prefix = []byte(customer + "\x00" + site + "\x00")
	}
	var out []StrategySetting
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[StrategySetting](tx.Bucket([]byte(bucketStrategies)), prefix)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list strategies: %w", err)
	}
	return out, nil
}

// StrategyChange is one thing a strategy did to a device's settings, or a
// person's change it yielded to: the list a site's and a device's pages
// show.
type StrategyChange struct {
	Customer string    `json:"customer"`
	Site     string    `json:"site"`
	Device   string    `json:"device"`
	Strategy string    `json:"strategy"`
	At       time.Time `json:"at"`
	// Action is "set" (the strategy wrote Key: From → To), "yield" (a
	// person's value To holds over the strategy's) or "resume" (the
	// strategy writes again after a person's change).
	Action string          `json:"action"`
	Key    string          `json:"key"`
	From   json.RawMessage `json:"from,omitempty"`
	To     json.RawMessage `json:"to,omitempty"`
	Reason string          `json:"reason"`
	By     string          `json:"by,omitempty"`
}

var strategySeq atomic.Uint32

func strategyChangeKey(c StrategyChange) []byte {
	k := make([]byte, 0, len(c.Customer)+len(c.Site)+14)
	k = append(k, c.Customer+"\x00"+c.Site+"\x00"...)
	k = binary.BigEndian.AppendUint64(k, uint64(c.At.UnixNano()))
	return binary.BigEndian.AppendUint32(k, strategySeq.Add(1))
}

// AddStrategyChanges records changes in one transaction, shared with other
// writers through bbolt's batching.
func (s *Store) AddStrategyChanges(cs []StrategyChange) error {
	if len(cs) == 0 {
		return nil
	}
	err := s.batch(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketStrategyChanges))
		for _, c := range cs {
			if err := putJSON(b, strategyChangeKey(c), c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add %d strategy changes: %w", len(cs), err)
	}
	return nil
}

// StrategyChanges lists a site's changes newest first, of one device when
// device is set, at most limit of them, none at or after before (zero: no
// bound).
func (s *Store) StrategyChanges(customer, site, device string, before time.Time, limit int) ([]StrategyChange, error) {
	prefix := []byte(customer + "\x00" + site + "\x00")
	var out []StrategyChange
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketStrategyChanges)).Cursor()
		seek := append([]byte(nil), prefix...)
		if before.IsZero() {
			seek = append(seek, 0xff)
		} else {
			seek = binary.BigEndian.AppendUint64(seek, uint64(before.UnixNano()))
		}
		var v []byte
		k, _ := c.Seek(seek)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && strings.HasPrefix(string(k), string(prefix)) && len(out) < limit; k, v = c.Prev() {
			var ch StrategyChange
			if err := json.Unmarshal(v, &ch); err != nil {
				return fmt.Errorf("cannot decode %q: %w", k, err)
			}
			if device != "" && ch.Device != device {
				continue
			}
			out = append(out, ch)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list strategy changes of %s/%s: %w", customer, site, err)
	}
	return out, nil
}

// PruneStrategyChanges deletes the changes recorded before t and says how
// many.
func (s *Store) PruneStrategyChanges(before time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketStrategyChanges))
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			i := strings.IndexByte(string(k), 0)
			j := i + 1 + strings.IndexByte(string(k[i+1:]), 0)
			if i < 0 || j <= i || len(k) < j+1+8 {
				continue
			}
			if int64(binary.BigEndian.Uint64(k[j+1:j+9])) < before.UnixNano() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune strategy changes: %w", err)
	}
	return n, nil
}

// GetStrategyState reads what the strategy runner keeps of a device
// between runs (what it wrote last, the starts it recorded), opaque to the
// store; nil when there is none.
func (s *Store) GetStrategyState(device string) (json.RawMessage, error) {
	var out json.RawMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(bucketStrategyState)).Get([]byte(device)); v != nil {
			out = append(json.RawMessage(nil), v...)
		}
		return nil
	})
	return out, err
}

// PutStrategyState keeps a device's strategy state; nil removes it. The
// device must be registered for customer: ErrNotFound otherwise, so that
// a runner's write racing the device's deletion (which removes its state)
// neither brings the state back nor hands it to a device registered
// again under the name.
func (s *Store) PutStrategyState(device, customer string, state json.RawMessage) error {
	err := s.batch(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketStrategyState))
		if state == nil {
			return b.Delete([]byte(device))
		}
		if !json.Valid(state) {
			return fmt.Errorf("state is not JSON: %w", ErrInvalid)
		}
		d, err := getDevice(tx, device)
		if err != nil {
			return err
		}
		if d.Customer != customer {
			return fmt.Errorf("the device belongs to another customer: %w", ErrNotFound)
		}
		return b.Put([]byte(device), state)
	})
	if err != nil {
		return fmt.Errorf("put strategy state of %q: %w", device, err)
	}
	return nil
}
