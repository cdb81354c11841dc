package gate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/store"
)

// NotifyStore keeps notification channels and the outbox; *store.Store
// implements it.
type NotifyStore interface {
	CreateNotificationChannel(c store.NotificationChannel) (store.NotificationChannel, error)
	GetNotificationChannel(customer, name string) (store.NotificationChannel, error)
	ListNotificationChannels(customer string) ([]store.NotificationChannel, error)
	UpdateNotificationChannel(customer, name string, fn func(*store.NotificationChannel) error) (store.NotificationChannel, error)
	DeleteNotificationChannel(customer, name string) error
	Deliveries(q store.DeliveryQuery) ([]store.Delivery, error)
	GetDelivery(id uint64) (store.Delivery, error)
}

// Notifier is the running notification service: it checks what a channel
// may call, sends test messages and retries dead letters;
// *notify.Service implements it.
type Notifier interface {
	CheckChannel(c store.NotificationChannel) error
	Test(ctx context.Context, c store.NotificationChannel) notify.Result
	Retry(id uint64) (store.Delivery, error)
}

// notifications is the channel store and the notifier, or why there are
// none.
func (s Scope) notifications() (NotifyStore, Notifier, error) {
	if err := s.check(); err != nil {
		return nil, nil, err
	}
	if s.g.channels == nil || s.g.notifier == nil {
		return nil, nil, Unavailable("notifications are not available on this server")
	}
	return s.g.channels, s.g.notifier, nil
}

// channelOwner is the customer whose channels a request names: an
// operator names one (required says whether it must); a customer names
// its own or none. Another customer reads as one that does not exist.
func (s Scope) channelOwner(customer string, required bool) (string, error) {
	if !s.p.Operator() {
		if customer != "" && customer != s.p.Customer {
			return "", NotFound("customer")
		}
		return s.p.Customer, nil
	}
	if customer == "" {
		if required {
			return "", Invalid(`parameter "customer": required for operators, since channel names are unique per customer (?customer=NAME)`)
		}
		return "", nil
	}
	if _, err := s.g.store.GetCustomer(customer); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", NotFound("customer")
		}
		return "", err
	}
	return customer, nil
}

// mayManageChannels refuses principals that may read a customer's
// channels but not change them: operators and a customer's admins manage
// them; editors and viewers read.
func (s Scope) mayManageChannels() error {
	if s.p.Operator() || s.p.Level() == store.AccessAdmin {
		return nil
	}
	return Forbidden("notification channels are managed by your company's admins and your energy-service provider; you may read them")
}

// MayManageNotificationChannels says whether p may create, change, test
// and delete notification channels and retry deliveries (nil) or why not,
// so that pages offer those forms only to whom the changes would let
// through.
func (s Scope) MayManageNotificationChannels() error {
	if _, _, err := s.notifications(); err != nil {
		return err
	}
	return s.mayManageChannels()
}

// NotificationChannels lists the channels of a customer, or of every
// customer for an operator naming none; a customer lists its own.
func (s Scope) NotificationChannels(customer string) ([]store.NotificationChannel, error) {
	cs, _, err := s.notifications()
	if err != nil {
		return nil, err
	}
	owner, err := s.channelOwner(customer, false)
	if err != nil {
		return nil, err
	}
	return cs.ListNotificationChannels(owner)
}

// NotificationChannel returns one channel p may see.
func (s Scope) NotificationChannel(customer, name string) (store.NotificationChannel, error) {
	cs, _, err := s.notifications()
	if err != nil {
		return store.NotificationChannel{}, err
	}
	owner, err := s.channelOwner(customer, true)
	if err != nil {
		return store.NotificationChannel{}, err
	}
	c, err := cs.GetNotificationChannel(owner, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.NotificationChannel{}, NotFound("notification channel")
	}
	return c, err
}

// Addresses are the e-mail addresses of one string, between commas, as a
// form or a quick client gives them; empty ones are left out. It is never
// nil, so that addresses emptied on purpose are refused, not kept.
func Addresses(s string) []string {
	out := []string{}
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// ChannelSpec is a channel to create.
type ChannelSpec struct {
	Customer string
	Name     string
	Kind     string
	URL      string
	To       []string
}

// CreateNotificationChannel stores a new channel after checking what it
// may call, and returns it with, for a webhook, the secret that signs its
// requests: made here and shown this once.
func (s Scope) CreateNotificationChannel(spec ChannelSpec) (store.NotificationChannel, string, error) {
	cs, n, err := s.notifications()
	if err != nil {
		return store.NotificationChannel{}, "", err
	}
	if !s.p.Operator() && spec.Customer == "" {
		spec.Customer = s.p.Customer
	}
	if s.p.Operator() && spec.Customer == "" {
		return store.NotificationChannel{}, "", Invalid(`field "customer": required, the customer whose notifications the channel carries`)
	}
	owner, err := s.channelOwner(spec.Customer, true)
	if err != nil {
		return store.NotificationChannel{}, "", err
	}
	if err := s.mayManageChannels(); err != nil {
		return store.NotificationChannel{}, "", err
	}
	if strings.TrimSpace(spec.Name) == "" {
		return store.NotificationChannel{}, "", Invalid(`field "name": required, 1 to 64 of letters, digits, '.', '_' and '-'`)
	}
	c := store.NotificationChannel{Customer: owner, Name: spec.Name, Kind: spec.Kind, URL: spec.URL, To: spec.To}
	if err := checkChannelFields(c); err != nil {
		return store.NotificationChannel{}, "", err
	}
	if err := n.CheckChannel(c); err != nil {
		return store.NotificationChannel{}, "", err
	}
	if c.Kind == store.ChannelWebhook {
		if c.Secret, err = newChannelSecret(); err != nil {
			return store.NotificationChannel{}, "", err
		}
	}
	out, err := cs.CreateNotificationChannel(c)
	if errors.Is(err, store.ErrExists) {
		return store.NotificationChannel{}, "", Refuse(KindExists, "customer %s already has a notification channel named %q", owner, c.Name)
	}
	if err != nil {
		return store.NotificationChannel{}, "", err
	}
	return out, out.Secret, nil
}

// checkChannelFields refuses a kind Hearth does not know and the address
// field the kind does not take, naming the field.
func checkChannelFields(c store.NotificationChannel) error {
	switch c.Kind {
	case store.ChannelWebhook, store.ChannelSlack:
		if len(c.To) > 0 {
			return Invalid(`field "to": a %s channel has a "url", not addresses`, c.Kind)
		}
		if c.URL == "" {
			return Invalid(`field "url": required for a %s channel, an https:// address`, c.Kind)
		}
	case store.ChannelEmail:
		if c.URL != "" {
			return Invalid(`field "url": an e-mail channel has addresses ("to"), not a url`)
		}
		if len(c.To) == 0 {
			return Invalid(`field "to": required for an e-mail channel, a list of 1 to %d addresses`, store.MaxChannelRecipients)
		}
	case "":
		return Invalid(`field "kind": required, %q, %q or %q`, store.ChannelWebhook, store.ChannelSlack, store.ChannelEmail)
	default:
		return Invalid(`field "kind" %q: %q, %q and %q are accepted`, c.Kind, store.ChannelWebhook, store.ChannelSlack, store.ChannelEmail)
	}
	return nil
}

// newChannelSecret makes a webhook's signing secret.
func newChannelSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a webhook secret: %w", err)
	}
	return "whsec_" + hex.EncodeToString(b[:]), nil
}

// ChannelChange is a change to a channel; nil fields stay. RotateSecret
// gives a webhook a new secret, shown once; the old one stops signing at
// once.
type ChannelChange struct {
	URL          *string
	To           []string
	RotateSecret bool
}

// UpdateNotificationChannel changes a channel's address, or a webhook's
// secret, and returns it with the new secret when there is one.
func (s Scope) UpdateNotificationChannel(customer, name string, ch ChannelChange) (store.NotificationChannel, string, error) {
	cs, n, err := s.notifications()
	if err != nil {
		return store.NotificationChannel{}, "", err
	}
	old, err := s.NotificationChannel(customer, name)
	if err != nil {
		return store.NotificationChannel{}, "", err
	}
	if err := s.mayManageChannels(); err != nil {
		return store.NotificationChannel{}, "", err
	}
	if ch.URL == nil && ch.To == nil && !ch.RotateSecret {
		return store.NotificationChannel{}, "", Invalid(`nothing to change: give "url", "to" or "rotate_secret"`)
	}
	c := old
	if ch.URL != nil {
		c.URL = *ch.URL
	}
	if ch.To != nil {
		c.To = ch.To
	}
	if err := checkChannelFields(c); err != nil {
		return store.NotificationChannel{}, "", err
	}
	if err := n.CheckChannel(c); err != nil {
		return store.NotificationChannel{}, "", err
	}
	secret := ""
	if ch.RotateSecret {
		if c.Kind != store.ChannelWebhook {
			return store.NotificationChannel{}, "", Invalid(`field "rotate_secret": only a webhook has a secret`)
		}
		if secret, err = newChannelSecret(); err != nil {
			return store.NotificationChannel{}, "", err
		}
	}
	out, err := cs.UpdateNotificationChannel(old.Customer, old.Name, func(x *store.NotificationChannel) error {
		x.URL, x.To = c.URL, slices.Clone(c.To)
		if secret != "" {
			x.Secret = secret
		}
		return nil
	})
	return out, secret, err
}

// DeleteNotificationChannel deletes a channel; what is still pending for
// it becomes a dead letter at its next attempt.
func (s Scope) DeleteNotificationChannel(customer, name string) error {
	cs, _, err := s.notifications()
	if err != nil {
		return err
	}
	c, err := s.NotificationChannel(customer, name)
	if err != nil {
		return err
	}
	if err := s.mayManageChannels(); err != nil {
		return err
	}
	return cs.DeleteNotificationChannel(c.Customer, c.Name)
}

// TestNotificationChannel sends a test message to a channel now and
// answers what its receiver said.
func (s Scope) TestNotificationChannel(ctx context.Context, customer, name string) (notify.Result, error) {
	_, n, err := s.notifications()
	if err != nil {
		return notify.Result{}, err
	}
	c, err := s.NotificationChannel(customer, name)
	if err != nil {
		return notify.Result{}, err
	}
	if err := s.mayManageChannels(); err != nil {
		return notify.Result{}, err
	}
	return n.Test(ctx, c), nil
}

// DeliveryFilter selects deliveries of the outbox.
type DeliveryFilter struct {
	Customer string
	Channel  string
	Status   string
	Before   uint64
	Limit    int
}

// NotificationDeliveries lists the outbox, newest first: a customer's own
// deliveries, every customer's for an operator naming none.
func (s Scope) NotificationDeliveries(f DeliveryFilter) ([]store.Delivery, error) {
	cs, _, err := s.notifications()
	if err != nil {
		return nil, err
	}
	owner, err := s.channelOwner(f.Customer, false)
	if err != nil {
		return nil, err
	}
	switch f.Status {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryDead:
	default:
		return nil, Invalid(`parameter "status" %q: %q, %q or %q is accepted`, f.Status, store.DeliveryPending, store.DeliveryDelivered, store.DeliveryDead)
	}
	return cs.Deliveries(store.DeliveryQuery{Customer: owner, Channel: f.Channel, Status: f.Status, Before: f.Before, Limit: f.Limit})
}

// RetryDelivery gives a dead letter (or the grouped message that carried
// it) another round of attempts, starting now.
func (s Scope) RetryDelivery(id uint64) (store.Delivery, error) {
	cs, n, err := s.notifications()
	if err != nil {
		return store.Delivery{}, err
	}
	d, err := cs.GetDelivery(id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.p.Operator() && d.Customer != s.p.Customer {
		return store.Delivery{}, NotFound("delivery")
	}
	if err != nil {
		return store.Delivery{}, err
	}
	if err := s.mayManageChannels(); err != nil {
		return store.Delivery{}, err
	}
	return n.Retry(id)
}

// mayChangePrefs refuses anyone but the person themself and operator
// admins.
func (s Scope) mayChangePrefs(email, what string) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.p.Admin() || s.p.User != "" && strings.EqualFold(s.p.User, email) {
		return nil
	}
	return Forbidden(what + " is for the person themself and operator admins")
}

// NotificationPrefs returns what a user wants by e-mail: the severities
// (all when empty) and quiet hours.
func (s Scope) NotificationPrefs(email string) (store.NotificationPrefs, error) {
	if err := s.mayChangePrefs(email, "reading notification preferences"); err != nil {
		return store.NotificationPrefs{}, err
	}
	u, err := s.g.store.GetUser(email)
	if errors.Is(err, store.ErrNotFound) {
		return store.NotificationPrefs{}, NotFound("user")
	}
	if err != nil {
		return store.NotificationPrefs{}, err
	}
	if u.Notifications == nil {
		return store.NotificationPrefs{}, nil
	}
	return *u.Notifications, nil
}

// SetNotificationPrefs replaces what a user wants by e-mail; a person may
// set their own.
func (s Scope) SetNotificationPrefs(email string, p store.NotificationPrefs) (store.NotificationPrefs, error) {
	if err := s.mayChangePrefs(email, "changing notification preferences"); err != nil {
		return store.NotificationPrefs{}, err
	}
	if q := p.QuietHours; q != nil && q.TimeZone != "" {
		if _, err := time.LoadLocation(q.TimeZone); err != nil {
			return store.NotificationPrefs{}, Invalid(`field "quiet_hours.time_zone" %q: an IANA time zone such as Asia/Tokyo is accepted`, q.TimeZone)
		}
	}
	var stored *store.NotificationPrefs
	if len(p.Severities) > 0 || p.QuietHours != nil {
		stored = &p
	}
	u, err := s.g.store.UpdateUser(email, func(u *store.User) error {
		u.Notifications = stored
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.NotificationPrefs{}, NotFound("user")
	}
	if err != nil {
		return store.NotificationPrefs{}, err
	}
	if u.Notifications == nil {
		return store.NotificationPrefs{}, nil
	}
	return *u.Notifications, nil
}
