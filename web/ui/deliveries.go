package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// The operators' page of the notification outbox: what is pending, what
// was delivered, and the dead letters, which they may send again.

// deliveriesPath is the outbox page.
const deliveriesPath = "/admin/alarms/deliveries"

// deliveryPageSize is how many deliveries a page of the outbox shows.
const deliveryPageSize = 50

// deliveryFilters are the outbox's filters by status, dead letters
// first: they are what an operator comes to the page for.
var deliveryFilters = []struct{ Value, Key string }{
	{store.DeliveryDead, "delivery.filter.dead"},
	{store.DeliveryPending, "delivery.filter.pending"},
	{store.DeliveryDelivered, "delivery.filter.delivered"},
	{"all", "delivery.filter.all"},
}

// deliveryStatusKeys are the message keys of a delivery's status.
var deliveryStatusKeys = map[string]string{
	store.DeliveryDead:      "delivery.status.dead",
	store.DeliveryPending:   "delivery.status.pending",
	store.DeliveryDelivered: "delivery.status.delivered",
}

// deliveryMessage is what the outbox page reads of a delivery's message:
// the fields of the message a webhook receives as its data.
type deliveryMessage struct {
	Title    string `json:"title"`
	Device   string `json:"device"`
	Severity string `json:"severity"`
	State    string `json:"state"`
}

// deliveryRow is one delivery of the outbox.
type deliveryRow struct {
	ID                      uint64
	Customer, Channel       string
	ChannelPath             string
	Title, Device           string
	Severity, SeverityLabel string
	Status, StatusLabel     string
	Dead                    bool
	Attempts                int
	LastError, Note, Sent   string
	Created, Deadline, Next string
	Delivered               string
	CarriedBy               uint64
	Carries                 int
}

func deliveryRows(v view, ds []store.Delivery) []deliveryRow {
	out := make([]deliveryRow, 0, len(ds))
	for _, d := range ds {
		var m deliveryMessage
		_ = json.Unmarshal(d.Message, &m) // a message the page cannot read shows without its title
		row := deliveryRow{
			ID: d.ID, Customer: d.Customer, Channel: d.Channel, ChannelPath: channelPath(true, d.Customer, d.Channel),
			Title: m.Title, Device: m.Device, Status: d.Status, StatusLabel: d.Status, Dead: d.Status == store.DeliveryDead,
			Attempts: d.Attempts, LastError: d.LastError, Note: d.Note, Sent: strings.Join(d.Sent, ", "),
			Created: v.Time(d.CreatedAt), Deadline: v.Time(d.Deadline), CarriedBy: d.Batch, Carries: len(d.Members),
		}
		if k, ok := severityKeys[m.Severity]; ok {
			row.Severity, row.SeverityLabel = m.Severity, v.T(k)
		}
		if k, ok := deliveryStatusKeys[d.Status]; ok {
			row.StatusLabel = v.T(k)
		}
		if d.Status == store.DeliveryPending && d.Batch == 0 {
			row.Next = v.Time(d.NextAttempt)
		}
		if !d.DeliveredAt.IsZero() {
			row.Delivered = v.Time(d.DeliveredAt)
		}
		out = append(out, row)
	}
	return out
}

// deliveriesData is what a page of the outbox shows.
type deliveriesData struct {
	Status, Customer, Channel string
	Statuses                  []choice
	Customers                 []string
	Rows                      []deliveryRow
	// Older is the next page's address, when there may be one; Newest
	// the first page's, when this is not it.
	Older, Newest string
	// Back is this page, where a Retry returns.
	Back     string
	CanRetry bool
	Flash    string
	FlashErr bool
}

// deliveriesQuery is the outbox page with a filter and a page.
func deliveriesQuery(d deliveriesData, before uint64) string {
	q := url.Values{"status": {d.Status}}
	if d.Customer != "" {
		q.Set("customer", d.Customer)
	}
	if d.Channel != "" {
		q.Set("channel", d.Channel)
	}
	if before != 0 {
		q.Set("before", strconv.FormatUint(before, 10))
	}
	return deliveriesPath + "?" + q.Encode()
}

// showDeliveries: /admin/alarms/deliveries?status=dead (the default),
// pending, delivered or all; &customer=, &channel=; &before=ID pages to
// older ones. Newest first.
func (c *channelPages) showDeliveries(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	sc := c.scope(r)
	q := r.URL.Query()
	d := deliveriesData{Status: q.Get("status"), Customer: strings.TrimSpace(q.Get("customer")), Channel: strings.TrimSpace(q.Get("channel"))}
	if d.Status == "" {
		d.Status = store.DeliveryDead
	}
	f := gate.DeliveryFilter{Customer: d.Customer, Channel: d.Channel, Status: d.Status, Limit: deliveryPageSize}
	switch d.Status {
	case "all":
		f.Status = ""
	case store.DeliveryDead, store.DeliveryPending, store.DeliveryDelivered:
	default:
		c.fail(w, r, badRequest(v.T("delivery.bad_status", d.Status)))
		return
	}
	if s := q.Get("before"); s != "" {
		var err error
		if f.Before, err = strconv.ParseUint(s, 10, 64); err != nil || f.Before == 0 {
			c.fail(w, r, badRequest(v.T("delivery.bad_before", s)))
			return
		}
		d.Newest = deliveriesQuery(d, 0)
	}
	customers, err := sc.Customers()
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, cu := range customers {
		d.Customers = append(d.Customers, cu.Name)
	}
	if d.Customer != "" && !slices.Contains(d.Customers, d.Customer) {
		c.fail(w, r, badRequest(v.T("alarm.bad_customer", d.Customer)))
		return
	}
	ds, err := sc.NotificationDeliveries(f)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Rows = deliveryRows(v, ds)
	if len(ds) == deliveryPageSize {
		d.Older = deliveriesQuery(d, ds[len(ds)-1].ID)
	}
	for _, s := range deliveryFilters {
		d.Statuses = append(d.Statuses, choice{s.Value, v.T(s.Key)})
	}
	d.CanRetry, d.Back = sc.MayManageNotificationChannels() == nil, r.URL.RequestURI()
	d.Flash, d.FlashErr = c.flashed(r)
	c.render(w, r, http.StatusOK, deliveriesPage(v, d))
}

// retryDelivery gives a dead letter another round of attempts, starting
// now, and goes back to the page the form was on (its "back" field, a
// path of this site), saying what was done or why not.
func (c *channelPages) retryDelivery(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	back := deliveriesPath
	if s := r.PostFormValue("back"); s != "" {
		back = safeNext(s)
	}
	s := configParam(r, "id")
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		c.fail(w, r, badRequest(v.T("delivery.bad_id", s)))
		return
	}
	d, err := c.scope(r).RetryDelivery(id)
	if err != nil {
		if _, msg, ok := c.refusal(w, r, err); ok {
			c.sessions.Put(r.Context(), keyFlash, "!"+v.T("delivery.not_retried", id, msg))
			http.Redirect(w, r, back, http.StatusSeeOther)
		}
		return
	}
	msg := v.T("delivery.retried", id)
	if d.ID != id {
		msg = v.T("delivery.retried_group", id, d.ID)
	}
	c.sessions.Put(r.Context(), keyFlash, msg)
	http.Redirect(w, r, back, http.StatusSeeOther)
}
