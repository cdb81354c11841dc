package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets of notifications.
const (
	// bucketNotifyChannels holds where customers' notifications go:
	// customer NUL name → NotificationChannel.
	bucketNotifyChannels = "notify_channels"
	// bucketNotifyOutbox holds every notification to deliver or delivered:
	// big-endian ID → Delivery.
	bucketNotifyOutbox = "notify_outbox"
	// bucketNotifyQueue is what each channel still has to deliver, in the
	// order it falls due: customer NUL channel NUL big-endian next attempt
	// (unix nanoseconds) big-endian ID → empty. A pending delivery that a
	// grouped one carries is not in it.
	bucketNotifyQueue = "notify_queue"
	// bucketNotifyKeys makes enqueueing idempotent: customer NUL channel
	// NUL message key → big-endian ID.
	bucketNotifyKeys = "notify_keys"
)

// createNotificationBuckets adds the buckets of notification channels and
// of the outbox.
func createNotificationBuckets(tx *bolt.Tx) error {
	for _, name := range []string{bucketNotifyChannels, bucketNotifyOutbox, bucketNotifyQueue, bucketNotifyKeys} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

// Kinds of notification channel.
const (
	ChannelWebhook = "webhook" // a CloudEvents POST to URL, signed
	ChannelSlack   = "slack"   // a Slack incoming webhook at URL
	ChannelEmail   = "email"   // e-mail to the addresses To
)

// Limits of notification channels.
const (
	// MaxChannelURLLen bounds a webhook's address.
	MaxChannelURLLen = 2048
	// MaxChannelRecipients bounds the addresses of one e-mail channel.
	MaxChannelRecipients = 50
)

// NotificationChannel is one place a customer's notifications go. Its key
// is (Customer, Name). The store checks its shape; whether a URL may be
// called is the notification service's to decide.
type NotificationChannel struct {
	Customer string   `json:"customer"`
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	URL      string   `json:"url,omitempty"`
	To       []string `json:"to,omitempty"`
	// Secret signs a webhook's requests; Hearth makes it and shows it
	// once, when the channel is created.
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func channelKey(customer, name string) []byte { return []byte(customer + "\x00" + name) }

// checkChannel checks a channel's shape, and lower-cases its addresses.
func checkChannel(c *NotificationChannel) error {
	if err := checkSlug("customer", c.Customer); err != nil {
		return err
	}
	if err := checkSlug("channel name", c.Name); err != nil {
		return err
	}
	switch c.Kind {
	case ChannelWebhook, ChannelSlack:
		if err := checkText("url", c.URL, MaxChannelURLLen, true); err != nil {
			return err
		}
		if len(c.To) > 0 {
			return fmt.Errorf("a %s channel has a url, not addresses (to): %w", c.Kind, ErrInvalid)
		}
	case ChannelEmail:
		if c.URL != "" {
			return fmt.Errorf("an e-mail channel has addresses (to), not a url: %w", ErrInvalid)
		}
		if len(c.To) == 0 || len(c.To) > MaxChannelRecipients {
			return fmt.Errorf("an e-mail channel has 1 to %d addresses (to), got %d: %w", MaxChannelRecipients, len(c.To), ErrInvalid)
		}
		for i, a := range c.To {
			n, err := normalizeEmail(a)
			if err != nil {
				return err
			}
			c.To[i] = n
		}
	default:
		return fmt.Errorf("channel kind %q: %q, %q and %q are accepted: %w", c.Kind, ChannelWebhook, ChannelSlack, ChannelEmail, ErrInvalid)
	}
	return checkText("channel secret", c.Secret, maxNameLen, false)
}

// CreateNotificationChannel stores a new channel of an existing customer
// (ErrExists when the customer has one of that name). Times are set here.
func (s *Store) CreateNotificationChannel(c NotificationChannel) (NotificationChannel, error) {
	c.To = slices.Clone(c.To)
	if err := checkChannel(&c); err != nil {
		return NotificationChannel{}, fmt.Errorf("create notification channel %q: %w", c.Name, err)
	}
	err := s.update(func(tx *bolt.Tx) error {
		if !customerExists(tx, c.Customer) {
			return fmt.Errorf("customer %q: %w", c.Customer, ErrNotFound)
		}
		b := tx.Bucket([]byte(bucketNotifyChannels))
		if b.Get(channelKey(c.Customer, c.Name)) != nil {
			return ErrExists
		}
		c.CreatedAt = now()
		c.UpdatedAt = c.CreatedAt
		return putJSON(b, channelKey(c.Customer, c.Name), c)
	})
	if err != nil {
		return NotificationChannel{}, fmt.Errorf("create notification channel %q of %q: %w", c.Name, c.Customer, err)
	}
	return c, nil
}

// GetNotificationChannel returns one channel of a customer.
func (s *Store) GetNotificationChannel(customer, name string) (NotificationChannel, error) {
	c, err := getRecord[NotificationChannel](s, bucketNotifyChannels, string(channelKey(customer, name)))
	if err != nil {
		return NotificationChannel{}, fmt.Errorf("get notification channel %q of %q: %w", name, customer, err)
	}
	return c, nil
}

// ListNotificationChannels returns the channels of a customer, or of every
// customer when customer is empty, by customer and name.
func (s *Store) ListNotificationChannels(customer string) ([]NotificationChannel, error) {
	var prefix []byte
	if customer != "" {
		prefix = []byte(customer + "\x00")
	}
	var out []NotificationChannel
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listJSON[NotificationChannel](tx.Bucket([]byte(bucketNotifyChannels)), prefix)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list notification channels: %w", err)
	}
	return out, nil
}

// UpdateNotificationChannel reads a channel, lets fn change it and writes it
// back in one transaction; an error from fn aborts. Its customer, name and
// kind cannot change (ErrInvalid).
func (s *Store) UpdateNotificationChannel(customer, name string, fn func(*NotificationChannel) error) (NotificationChannel, error) {
	var out NotificationChannel
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketNotifyChannels))
		var old NotificationChannel
		ok, err := getJSON(b, channelKey(customer, name), &old)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		c := old
		c.To = slices.Clone(old.To)
		if err := fn(&c); err != nil {
			return err
		}
		if c.Customer != old.Customer || c.Name != old.Name || c.Kind != old.Kind {
			return fmt.Errorf("a channel's customer, name and kind cannot change: %w", ErrInvalid)
		}
		if err := checkChannel(&c); err != nil {
			return err
		}
		c.CreatedAt, c.UpdatedAt = old.CreatedAt, now()
		out = c
		return putJSON(b, channelKey(customer, name), c)
	})
	if err != nil {
		return NotificationChannel{}, fmt.Errorf("update notification channel %q of %q: %w", name, customer, err)
	}
	return out, nil
}

// DeleteNotificationChannel removes a channel. Deliveries still pending for
// it fail at their next attempt, naming the missing channel.
func (s *Store) DeleteNotificationChannel(customer, name string) error {
	if err := s.deleteRecord(bucketNotifyChannels, string(channelKey(customer, name))); err != nil {
		return fmt.Errorf("delete notification channel %q of %q: %w", name, customer, err)
	}
	return nil
}

// Statuses of a delivery.
const (
	DeliveryPending   = "pending"   // waiting for its first or next attempt
	DeliveryDelivered = "delivered" // the receiver accepted it
	DeliveryDead      = "dead"      // given up on; an operator may retry it
)

// Delivery is one message to one channel in the outbox: what to send, and
// what happened to it so far. Message is the notification service's own
// encoding; the store does not read it.
type Delivery struct {
	ID       uint64 `json:"id"`
	Key      string `json:"key"` // the message's idempotency key
	Customer string `json:"customer"`
	Channel  string `json:"channel"`
	// Group and State let deliveries of the same group and state be sent
	// as one.
	Group   string          `json:"group,omitempty"`
	State   string          `json:"state,omitempty"`
	Status  string          `json:"status"`
	Message json.RawMessage `json:"message"`
	// Attempts counts the sends tried; NextAttempt is when the next one
	// falls due, and Deadline when a delivery still failing is given up.
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Deadline    time.Time `json:"deadline,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Note says something about a delivery that succeeded: recipients
	// left out for their quiet hours, say.
	Note string `json:"note,omitempty"`
	// Sent lists the e-mail recipients already sent to, so a retry sends
	// only to the others.
	Sent []string `json:"sent,omitempty"`
	// Batch is the ID of the delivery that carries this one inside a
	// grouped message; this one's status follows it. Members are the
	// deliveries a grouped one carries.
	Batch       uint64    `json:"batch,omitempty"`
	Members     []uint64  `json:"members,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
}

// maxDeliverySize bounds one delivery's record; a grouped delivery of ten
// thousand members fits.
const maxDeliverySize = 1 << 20

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

func queuePrefix(customer, channel string) []byte {
	return []byte(customer + "\x00" + channel + "\x00")
}

func queueKey(d Delivery) []byte {
	k := queuePrefix(d.Customer, d.Channel)
	k = binary.BigEndian.AppendUint64(k, uint64(d.NextAttempt.UnixNano()))
	return binary.BigEndian.AppendUint64(k, d.ID)
}

func deliveryKeyIndex(customer, channel, key string) []byte {
	return []byte(customer + "\x00" + channel + "\x00" + key)
}

// queued reports whether a delivery belongs in its channel's queue.
func (d Delivery) queued() bool { return d.Status == DeliveryPending && d.Batch == 0 }

func checkDelivery(d Delivery) error {
	if err := checkText("message key", d.Key, 512, true); err != nil {
		return err
	}
	if d.Customer == "" || d.Channel == "" {
		return fmt.Errorf("a delivery names its customer and channel: %w", ErrInvalid)
	}
	switch d.Status {
	case DeliveryPending, DeliveryDelivered, DeliveryDead:
	default:
		return fmt.Errorf("delivery status %q: %w", d.Status, ErrInvalid)
	}
	return nil
}

// putDelivery writes d and keeps the channel's queue in step with it: the
// old record's queue entry goes, the new one's comes when it is queued.
func putDelivery(tx *bolt.Tx, d Delivery) error {
	out := tx.Bucket([]byte(bucketNotifyOutbox))
	q := tx.Bucket([]byte(bucketNotifyQueue))
	var old Delivery
	ok, err := getJSON(out, idKey(d.ID), &old)
	if err != nil {
		return err
	}
	if ok && old.queued() {
		if err := q.Delete(queueKey(old)); err != nil {
			return err
		}
	}
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery %d: %w", d.ID, err)
	}
	if len(data) > maxDeliverySize {
		return fmt.Errorf("delivery %d is %d bytes as stored, at most %d are accepted: %w", d.ID, len(data), maxDeliverySize, ErrInvalid)
	}
	if err := out.Put(idKey(d.ID), data); err != nil {
		return err
	}
	if d.queued() {
		return q.Put(queueKey(d), nil)
	}
	return nil
}

func getDelivery(tx *bolt.Tx, id uint64) (Delivery, error) {
	var d Delivery
	ok, err := getJSON(tx.Bucket([]byte(bucketNotifyOutbox)), idKey(id), &d)
	if err != nil {
		return Delivery{}, err
	}
	if !ok {
		return Delivery{}, ErrNotFound
	}
	return d, nil
}

// EnqueueDeliveries adds deliveries to the outbox in one transaction and
// returns those it added, with their IDs. A delivery whose key its channel
// already has in the outbox is left out, so a message enqueued twice is
// sent once. A delivery to a channel its customer does not have is added
// dead, so that it shows in the outbox with the reason.
func (s *Store) EnqueueDeliveries(ds []Delivery) ([]Delivery, error) {
	var added []Delivery
	err := s.update(func(tx *bolt.Tx) error {
		added = added[:0]
		out := tx.Bucket([]byte(bucketNotifyOutbox))
		keys := tx.Bucket([]byte(bucketNotifyKeys))
		chans := tx.Bucket([]byte(bucketNotifyChannels))
		t := now()
		for _, d := range ds {
			if d.Status == "" {
				d.Status = DeliveryPending
			}
			if err := checkDelivery(d); err != nil {
				return err
			}
			ik := deliveryKeyIndex(d.Customer, d.Channel, d.Key)
			if keys.Get(ik) != nil {
				continue
			}
			id, err := out.NextSequence()
			if err != nil {
				return err
			}
			d.ID, d.CreatedAt, d.UpdatedAt = id, t, t
			if d.NextAttempt.IsZero() {
				d.NextAttempt = t
			}
			if chans.Get(channelKey(d.Customer, d.Channel)) == nil && d.Status == DeliveryPending {
				d.Status, d.LastError = DeliveryDead, fmt.Sprintf("customer %s has no notification channel named %q", d.Customer, d.Channel)
			}
			if err := putDelivery(tx, d); err != nil {
				return err
			}
			if err := keys.Put(ik, idKey(id)); err != nil {
				return err
			}
			added = append(added, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue %d deliveries: %w", len(ds), err)
	}
	return added, nil
}

// DueDeliveries returns up to limit deliveries of a channel's queue whose
// next attempt is at or before t, soonest first, and when the next one
// after them falls due (zero when the queue holds no more).
func (s *Store) DueDeliveries(customer, channel string, t time.Time, limit int) ([]Delivery, time.Time, error) {
	var (
		out  []Delivery
		next time.Time
	)
	prefix := queuePrefix(customer, channel)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketNotifyQueue)).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			rest := k[len(prefix):]
			if len(rest) != 16 {
				return fmt.Errorf("queue key %q: %w", k, ErrInvalid)
			}
			at := time.Unix(0, int64(binary.BigEndian.Uint64(rest))).UTC()
			if at.After(t) || len(out) >= limit {
				next = at
				return nil
			}
			d, err := getDelivery(tx, binary.BigEndian.Uint64(rest[8:]))
			if err != nil {
				return fmt.Errorf("queued delivery %d: %w", binary.BigEndian.Uint64(rest[8:]), err)
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("due deliveries of %q of %q: %w", channel, customer, err)
	}
	return out, next, nil
}

// QueuedChannels lists the channels, as customer and name, that have
// deliveries in their queue.
func (s *Store) QueuedChannels() ([][2]string, error) {
	var out [][2]string
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketNotifyQueue)).Cursor()
		for k, _ := c.First(); k != nil; {
			parts := bytes.SplitN(k, []byte{0}, 3)
			if len(parts) != 3 {
				return fmt.Errorf("queue key %q: %w", k, ErrInvalid)
			}
			out = append(out, [2]string{string(parts[0]), string(parts[1])})
			// Skip the rest of this channel's queue.
			next := queuePrefix(string(parts[0]), string(parts[1]))
			next[len(next)-1] = 1
			k, _ = c.Seek(next)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list queued channels: %w", err)
	}
	return out, nil
}

// PutDeliveries writes deliveries the outbox has, after an attempt. A
// grouped delivery's members take its status, error and delivery time.
// It goes through bbolt's batching, so the workers of many channels share
// commits.
func (s *Store) PutDeliveries(ds ...Delivery) error {
	err := s.batch(func(tx *bolt.Tx) error {
		t := now()
		for _, d := range ds {
			if err := checkDelivery(d); err != nil {
				return err
			}
			if _, err := getDelivery(tx, d.ID); err != nil {
				return fmt.Errorf("delivery %d: %w", d.ID, err)
			}
			d.UpdatedAt = t
			if err := putDelivery(tx, d); err != nil {
				return err
			}
			if d.Status == DeliveryPending {
				continue
			}
			for _, id := range d.Members {
				m, err := getDelivery(tx, id)
				if err != nil {
					return fmt.Errorf("member %d of delivery %d: %w", id, d.ID, err)
				}
				m.Status, m.LastError, m.DeliveredAt, m.UpdatedAt = d.Status, d.LastError, d.DeliveredAt, t
				if err := putDelivery(tx, m); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put %d deliveries: %w", len(ds), err)
	}
	return nil
}

// GroupDeliveries adds a delivery that carries others (members, by ID) as
// one message, and takes the members out of their queue, in one
// transaction: a member not pending or already carried refuses the whole
// (ErrInvalid). It returns the new delivery with its ID.
func (s *Store) GroupDeliveries(g Delivery, members []uint64) (Delivery, error) {
	err := s.update(func(tx *bolt.Tx) error {
		if g.Status == "" {
			g.Status = DeliveryPending
		}
		if err := checkDelivery(g); err != nil {
			return err
		}
		id, err := tx.Bucket([]byte(bucketNotifyOutbox)).NextSequence()
		if err != nil {
			return err
		}
		t := now()
		g.ID, g.CreatedAt, g.UpdatedAt, g.Members = id, t, t, slices.Clone(members)
		if g.NextAttempt.IsZero() {
			g.NextAttempt = t
		}
		for _, mid := range members {
			m, err := getDelivery(tx, mid)
			if err != nil {
				return fmt.Errorf("member %d: %w", mid, err)
			}
			if !m.queued() {
				return fmt.Errorf("delivery %d is %s and carried by %d, not one to group: %w", mid, m.Status, m.Batch, ErrInvalid)
			}
			m.Batch, m.UpdatedAt = id, t
			if err := putDelivery(tx, m); err != nil {
				return err
			}
		}
		if err := putDelivery(tx, g); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketNotifyKeys)).Put(deliveryKeyIndex(g.Customer, g.Channel, g.Key), idKey(id))
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("group %d deliveries: %w", len(members), err)
	}
	return g, nil
}

// GetDelivery returns one delivery of the outbox.
func (s *Store) GetDelivery(id uint64) (Delivery, error) {
	var d Delivery
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		d, err = getDelivery(tx, id)
		return err
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("get delivery %d: %w", id, err)
	}
	return d, nil
}

// DeliveryQuery selects deliveries of the outbox. Empty fields select
// everything; Before, when set, starts below that ID (the ID of the last
// delivery of the previous page).
type DeliveryQuery struct {
	Customer string
	Channel  string
	Status   string
	Before   uint64
	Limit    int // 0 means DefaultHistoryLimit, at most MaxHistoryLimit
}

// Deliveries lists deliveries of the outbox, newest first.
func (s *Store) Deliveries(q DeliveryQuery) ([]Delivery, error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := []Delivery{}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketNotifyOutbox)).Cursor()
		var k, v []byte
		if q.Before > 0 {
			c.Seek(idKey(q.Before))
			k, v = c.Prev()
		} else {
			k, v = c.Last()
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			var d Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("cannot decode delivery %x: %w", k, err)
			}
			if q.Customer != "" && d.Customer != q.Customer || q.Channel != "" && d.Channel != q.Channel || q.Status != "" && d.Status != q.Status {
				continue
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// RetryDelivery puts a dead delivery back in its channel's queue, due at t
// and given up after deadline; a delivery carried inside a grouped one
// retries the grouped one, and the members follow it again.
func (s *Store) RetryDelivery(id uint64, t, deadline time.Time) (Delivery, error) {
	var out Delivery
	err := s.update(func(tx *bolt.Tx) error {
		d, err := getDelivery(tx, id)
		if err != nil {
			return err
		}
		if batch := d.Batch; batch != 0 {
			if d, err = getDelivery(tx, batch); err != nil {
				return fmt.Errorf("grouped delivery %d: %w", batch, err)
			}
		}
		if d.Status != DeliveryDead {
			return fmt.Errorf("delivery %d is %s; only a dead one is retried: %w", d.ID, d.Status, ErrInvalid)
		}
		d.Status, d.Attempts, d.NextAttempt, d.Deadline, d.UpdatedAt = DeliveryPending, 0, t, deadline, now()
		if err := putDelivery(tx, d); err != nil {
			return err
		}
		for _, mid := range d.Members {
			m, err := getDelivery(tx, mid)
			if err != nil {
				return fmt.Errorf("member %d: %w", mid, err)
			}
			m.Status, m.UpdatedAt = DeliveryPending, d.UpdatedAt
			if err := putDelivery(tx, m); err != nil {
				return err
			}
		}
		out = d
		return nil
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("retry delivery %d: %w", id, err)
	}
	return out, nil
}

// PruneDeliveries deletes delivered and dead deliveries last changed
// before t, with their keys, and says how many; a message enqueued again
// after that is sent again.
func (s *Store) PruneDeliveries(before time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		out := tx.Bucket([]byte(bucketNotifyOutbox))
		keys := tx.Bucket([]byte(bucketNotifyKeys))
		var old []Delivery
		err := out.ForEach(func(k, v []byte) error {
			var d Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("cannot decode delivery %x: %w", k, err)
			}
			if d.Status != DeliveryPending && d.UpdatedAt.Before(before) {
				old = append(old, d)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, d := range old {
			if err := out.Delete(idKey(d.ID)); err != nil {
				return err
			}
			ik := deliveryKeyIndex(d.Customer, d.Channel, d.Key)
			if bytes.Equal(keys.Get(ik), idKey(d.ID)) {
				if err := keys.Delete(ik); err != nil {
					return err
				}
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune deliveries before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// NotificationPrefs are what a user wants by e-mail: the severities (all
// when empty) and quiet hours.
type NotificationPrefs struct {
	Severities []string    `json:"severities,omitempty"`
	QuietHours *QuietHours `json:"quiet_hours,omitempty"`
}

// QuietHours is a daily span of local time, From to To ("HH:MM"; From
// after To runs over midnight), in which the user gets no e-mail except of
// the severities in Allow. TimeZone is an IANA zone; empty takes the
// user's own, else the server's.
type QuietHours struct {
	From     string   `json:"from"`
	To       string   `json:"to"`
	TimeZone string   `json:"time_zone,omitempty"`
	Allow    []string `json:"allow,omitempty"`
}

// maxSeverities bounds the severities a preference lists.
const maxSeverities = 16

func checkSeverities(field string, ss []string) error {
	if len(ss) > maxSeverities {
		return fmt.Errorf("%s: at most %d severities, got %d: %w", field, maxSeverities, len(ss), ErrInvalid)
	}
	for _, s := range ss {
		if !slices.Contains(Severities, s) {
			return fmt.Errorf("%s: %q is not a severity; use %s: %w", field, s, strings.Join(Severities, ", "), ErrInvalid)
		}
	}
	return nil
}

// checkNotificationPrefs checks the shape of a user's notification
// preferences; nil is none.
func checkNotificationPrefs(p *NotificationPrefs) error {
	if p == nil {
		return nil
	}
	if err := checkSeverities("severities", p.Severities); err != nil {
		return err
	}
	q := p.QuietHours
	if q == nil {
		return nil
	}
	for _, f := range []struct{ name, v string }{{"quiet_hours.from", q.From}, {"quiet_hours.to", q.To}} {
		if _, err := ParseClock(f.v); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if q.From == q.To {
		return fmt.Errorf("quiet_hours: from and to are both %s; leave quiet_hours out for none: %w", q.From, ErrInvalid)
	}
	if err := checkText("quiet_hours.time_zone", q.TimeZone, maxSlugLen, false); err != nil {
		return err
	}
	return checkSeverities("quiet_hours.allow", q.Allow)
}

// ParseClock reads a local time of day "HH:MM" as minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q: a time of day such as 22:00 is accepted: %w", s, ErrInvalid)
	}
	hh, mm := int(h[0]-'0')*10+int(h[1]-'0'), int(m[0]-'0')*10+int(m[1]-'0')
	for _, c := range h + m {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q: a time of day such as 22:00 is accepted: %w", s, ErrInvalid)
		}
	}
	if hh > 23 || mm > 59 {
		return 0, fmt.Errorf("%q: a time of day such as 22:00 is accepted: %w", s, ErrInvalid)
	}
	return hh*60 + mm, nil
}
