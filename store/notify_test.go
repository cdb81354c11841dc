package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

func seedCustomer(t *testing.T, s *store.Store, name string) {
	t.Helper()
	mustOK(t, s.CreateCustomer(store.Customer{Name: name}))
}

func TestNotificationChannels(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	seedCustomer(t, s, "acme")
	hook := store.NotificationChannel{Customer: "acme", Name: "ops-hook", Kind: store.ChannelWebhook, URL: "https://hooks.example/x", Secret: "s3cret"}
	got, err := s.CreateNotificationChannel(hook)
	mustOK(t, err)
	if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
		t.Errorf("times not set: %+v", got)
	}
	if _, err := s.CreateNotificationChannel(hook); !errors.Is(err, store.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	mail := store.NotificationChannel{Customer: "acme", Name: "fm", Kind: store.ChannelEmail, To: []string{"FM@Acme.Example"}}
	got, err = s.CreateNotificationChannel(mail)
	mustOK(t, err)
	if got.To[0] != "fm@acme.example" {
		t.Errorf("address kept as %q, want it lower-cased", got.To[0])
	}
	for _, bad := range []store.NotificationChannel{
		{Customer: "nobody", Name: "x", Kind: store.ChannelSlack, URL: "https://hooks.slack.com/x"},
		{Customer: "acme", Name: "x", Kind: "pager", URL: "https://x"},
		{Customer: "acme", Name: "x", Kind: store.ChannelEmail},
		{Customer: "acme", Name: "x", Kind: store.ChannelEmail, To: []string{"not-an-address"}},
		{Customer: "acme", Name: "x", Kind: store.ChannelWebhook},
		{Customer: "acme", Name: "x", Kind: store.ChannelWebhook, URL: "https://x", To: []string{"a@b.c"}},
		{Customer: "acme", Name: "bad name", Kind: store.ChannelWebhook, URL: "https://x"},
	} {
		if _, err := s.CreateNotificationChannel(bad); !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("create %+v: %v, want a refusal", bad, err)
		}
	}
	list, err := s.ListNotificationChannels("acme")
	mustOK(t, err)
	if len(list) != 2 || list[0].Name != "fm" || list[1].Name != "ops-hook" {
		t.Errorf("list: %+v", list)
	}
	up, err := s.UpdateNotificationChannel("acme", "ops-hook", func(c *store.NotificationChannel) error {
		c.URL = "https://hooks.example/y"
		return nil
	})
	mustOK(t, err)
	if up.URL != "https://hooks.example/y" || up.Secret != "s3cret" {
		t.Errorf("updated: %+v", up)
	}
	if _, err := s.UpdateNotificationChannel("acme", "ops-hook", func(c *store.NotificationChannel) error {
		c.Kind = store.ChannelSlack
		return nil
	}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("kind change: %v, want ErrInvalid", err)
	}
	mustOK(t, s.DeleteNotificationChannel("acme", "fm"))
	if _, err := s.GetNotificationChannel("acme", "fm"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	s, path := openStore(t)
	seedCustomer(t, s, "acme")
	_, err := s.CreateNotificationChannel(store.NotificationChannel{Customer: "acme", Name: "hook", Kind: store.ChannelWebhook, URL: "https://h.example"})
	mustOK(t, err)
	t0 := time.Now().UTC()
	later := t0.Add(time.Minute)
	added, err := s.EnqueueDeliveries([]store.Delivery{
		{Key: "a", Customer: "acme", Channel: "hook", NextAttempt: later, Message: []byte(`{}`)},
		{Key: "b", Customer: "acme", Channel: "hook", NextAttempt: t0, Message: []byte(`{}`)},
		{Key: "c", Customer: "acme", Channel: "gone", Message: []byte(`{}`)},
	})
	mustOK(t, err)
	if len(added) != 3 || added[2].Status != store.DeliveryDead {
		t.Fatalf("added %+v", added)
	}
	again, err := s.EnqueueDeliveries([]store.Delivery{{Key: "a", Customer: "acme", Channel: "hook", Message: []byte(`{}`)}})
	mustOK(t, err)
	if len(again) != 0 {
		t.Errorf("a key the outbox has was enqueued again: %+v", again)
	}
	due, next, err := s.DueDeliveries("acme", "hook", t0.Add(time.Second), 10)
	mustOK(t, err)
	if len(due) != 1 || due[0].Key != "b" || !next.Equal(later.Truncate(0)) {
		t.Errorf("due %+v next %v, want b then %v", due, next, later)
	}
	qs, err := s.QueuedChannels()
	mustOK(t, err)
	if len(qs) != 1 || qs[0] != [2]string{"acme", "hook"} {
		t.Errorf("queued channels %v", qs)
	}

	// Three grouped into one; delivering it delivers them.
	more, err := s.EnqueueDeliveries([]store.Delivery{
		{Key: "g1", Customer: "acme", Channel: "hook", Group: "site", Message: []byte(`{}`)},
		{Key: "g2", Customer: "acme", Channel: "hook", Group: "site", Message: []byte(`{}`)},
	})
	mustOK(t, err)
	g, err := s.GroupDeliveries(store.Delivery{Key: "group:1", Customer: "acme", Channel: "hook", Message: []byte(`{}`)}, []uint64{more[0].ID, more[1].ID})
	mustOK(t, err)
	if _, err := s.GroupDeliveries(store.Delivery{Key: "group:2", Customer: "acme", Channel: "hook", Message: []byte(`{}`)}, []uint64{more[0].ID}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("grouping a carried delivery again: %v, want ErrInvalid", err)
	}
	due, _, err = s.DueDeliveries("acme", "hook", time.Now().Add(time.Second), 10)
	mustOK(t, err)
	var keys []string
	for _, d := range due {
		keys = append(keys, d.Key)
	}
	if len(keys) != 2 || keys[0] != "b" || keys[1] != "group:1" {
		t.Errorf("due after grouping %v, want [b group:1]", keys)
	}
	g.Status, g.LastError = store.DeliveryDead, "receiver said 500"
	mustOK(t, s.PutDeliveries(g))
	m, err := s.GetDelivery(more[0].ID)
	mustOK(t, err)
	if m.Status != store.DeliveryDead || m.Batch != g.ID {
		t.Errorf("member after its group died: %+v", m)
	}
	dead, err := s.Deliveries(store.DeliveryQuery{Status: store.DeliveryDead})
	mustOK(t, err)
	if len(dead) != 4 || dead[0].ID != g.ID {
		t.Errorf("dead deliveries %+v, want the group first of 4", dead)
	}
	page, err := s.Deliveries(store.DeliveryQuery{Before: g.ID, Limit: 2})
	mustOK(t, err)
	if len(page) != 2 || page[0].ID != g.ID-1 {
		t.Errorf("page before %d: %+v", g.ID, page)
	}

	// Retrying a member retries its group; members follow.
	r, err := s.RetryDelivery(more[1].ID, t0, t0.Add(time.Hour))
	mustOK(t, err)
	if r.ID != g.ID || r.Status != store.DeliveryPending || r.Attempts != 0 {
		t.Errorf("retried %+v", r)
	}
	if m, _ := s.GetDelivery(more[1].ID); m.Status != store.DeliveryPending {
		t.Errorf("member after retry: %s", m.Status)
	}
	if _, err := s.RetryDelivery(added[1].ID, t0, t0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("retrying a pending delivery: %v, want ErrInvalid", err)
	}
	r.Status, r.DeliveredAt = store.DeliveryDelivered, time.Now().UTC()
	mustOK(t, s.PutDeliveries(r))
	n, err := s.PruneDeliveries(time.Now().Add(time.Hour))
	mustOK(t, err)
	if n != 4 { // c (dead), the group and its two members
		t.Errorf("pruned %d, want 4", n)
	}
	re, err := s.EnqueueDeliveries([]store.Delivery{{Key: "g1", Customer: "acme", Channel: "hook", Message: []byte(`{}`)}})
	mustOK(t, err)
	if len(re) != 1 {
		t.Errorf("a pruned key could not be enqueued again")
	}

	// The outbox survives a reopen.
	mustOK(t, s.Close())
	s2, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s2.Close()
	due, _, err = s2.DueDeliveries("acme", "hook", time.Now().Add(2*time.Minute), 10)
	mustOK(t, err)
	if len(due) != 3 {
		t.Errorf("after reopening, %d due, want 3 (a, b, g1)", len(due))
	}
}

func TestNotificationPrefs(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateUser(store.User{Email: "op@hearth.example", Role: store.RoleOperator}))
	good := &store.NotificationPrefs{Severities: []string{"critical"}, QuietHours: &store.QuietHours{From: "22:00", To: "07:00", TimeZone: "Asia/Tokyo"}}
	_, err := s.UpdateUser("op@hearth.example", func(u *store.User) error { u.Notifications = good; return nil })
	mustOK(t, err)
	for _, bad := range []*store.NotificationPrefs{
		{QuietHours: &store.QuietHours{From: "25:00", To: "07:00"}},
		{QuietHours: &store.QuietHours{From: "7:00", To: "08:00"}},
		{QuietHours: &store.QuietHours{From: "08:00", To: "08:00"}},
		{Severities: []string{"bad severity"}},
	} {
		_, err := s.UpdateUser("op@hearth.example", func(u *store.User) error { u.Notifications = bad; return nil })
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("prefs %+v: %v, want ErrInvalid", bad, err)
		}
	}
	u, err := s.GetUser("op@hearth.example")
	mustOK(t, err)
	if u.Notifications == nil || u.Notifications.QuietHours.From != "22:00" {
		t.Errorf("prefs after refused changes: %+v", u.Notifications)
	}
}

func TestNotifyMigration(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	old, err := store.OpenAtSchemaVersion(path, 9) // before notifications
	mustOK(t, err)
	mustOK(t, old.Close())
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	if _, err := s.ListNotificationChannels(""); err != nil {
		t.Errorf("channels after migrating: %v", err)
	}
}
