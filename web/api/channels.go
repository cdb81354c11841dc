package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// channelRoutes registers the notification routes under /api/v1: channels,
// the outbox, and each user's notification preferences. A channel's name
// is unique per customer: an operator names the customer with
// ?customer=; a customer's own are meant without it.
func (a *API) channelRoutes(r chi.Router) {
	r.Route("/notification-channels", func(r chi.Router) {
		r.Get("/", a.listChannels)
		r.Post("/", a.createChannel)
		r.Route("/{name}", func(r chi.Router) {
			r.Get("/", a.showChannel)
			r.Patch("/", a.updateChannel)
			r.Delete("/", a.deleteChannel)
			r.Post("/test", a.testChannel)
		})
	})
	r.Route("/notification-deliveries", func(r chi.Router) {
		r.Get("/", a.listDeliveries)
		r.Post("/{id}/retry", a.retryDelivery)
	})
	r.Get("/users/{email}/notifications", a.showNotificationPrefs)
	r.Put("/users/{email}/notifications", a.putNotificationPrefs)
}

// channelJSON is a channel as the API shows it: never its secret.
type channelJSON struct {
	Customer  string    `json:"customer"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	URL       string    `json:"url,omitempty"`
	To        []string  `json:"to,omitempty"`
	Signed    bool      `json:"signed,omitempty"` // a webhook's requests carry a signature
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newChannelJSON(c store.NotificationChannel) channelJSON {
	return channelJSON{Customer: c.Customer, Name: c.Name, Kind: c.Kind, URL: c.URL, To: c.To, Signed: c.Secret != "", CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// channelWithSecretJSON answers creating a webhook, or rotating its
// secret: the secret is shown this once.
type channelWithSecretJSON struct {
	channelJSON
	Secret string `json:"secret,omitempty"`
}

// channelRequest is the body of POST /api/v1/notification-channels.
type channelRequest struct {
	Customer string    `json:"customer"`
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	URL      string    `json:"url"`
	To       addresses `json:"to"`
}

// addresses is a channel's "to": a list of addresses, or one string of
// them between commas.
type addresses []string

func (a *addresses) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = gate.Addresses(one)
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return gate.Invalid(`field "to": a list of e-mail addresses, or one string of them separated by commas`)
	}
	*a = many
	return nil
}

// createChannel: POST /api/v1/notification-channels {"name", "customer",
// "kind": "webhook"|"slack"|"email", "url"|"to"} → 201; a webhook's
// answer carries its signing "secret", shown once.
func (a *API) createChannel(w http.ResponseWriter, r *http.Request) {
	var req channelRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	c, secret, err := a.scope(r).CreateNotificationChannel(gate.ChannelSpec{Customer: req.Customer, Name: req.Name, Kind: req.Kind, URL: req.URL, To: req.To})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, channelWithSecretJSON{channelJSON: newChannelJSON(c), Secret: secret})
}

// listChannels: GET /api/v1/notification-channels?customer=.
func (a *API) listChannels(w http.ResponseWriter, r *http.Request) {
	cs, err := a.scope(r).NotificationChannels(r.URL.Query().Get("customer"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]channelJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, newChannelJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": out})
}

// channelParams are the channel a route names: its name, and its
// customer from ?customer=.
func channelParams(r *http.Request) (customer, name string, err error) {
	name, err = pathParam(r, "name")
	return r.URL.Query().Get("customer"), name, err
}

// showChannel: GET /api/v1/notification-channels/{name}?customer=.
func (a *API) showChannel(w http.ResponseWriter, r *http.Request) {
	customer, name, err := channelParams(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	c, err := a.scope(r).NotificationChannel(customer, name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newChannelJSON(c))
}

// channelChangeRequest is the body of PATCH
// /api/v1/notification-channels/{name}.
type channelChangeRequest struct {
	URL          *string   `json:"url"`
	To           addresses `json:"to"`
	RotateSecret bool      `json:"rotate_secret"`
}

// updateChannel: PATCH /api/v1/notification-channels/{name}?customer=
// {"url"?, "to"?, "rotate_secret"?}; a rotated secret is answered once.
func (a *API) updateChannel(w http.ResponseWriter, r *http.Request) {
	customer, name, err := channelParams(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req channelChangeRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	c, secret, err := a.scope(r).UpdateNotificationChannel(customer, name, gate.ChannelChange{URL: req.URL, To: req.To, RotateSecret: req.RotateSecret})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, channelWithSecretJSON{channelJSON: newChannelJSON(c), Secret: secret})
}

// deleteChannel: DELETE /api/v1/notification-channels/{name}?customer=.
func (a *API) deleteChannel(w http.ResponseWriter, r *http.Request) {
	customer, name, err := channelParams(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteNotificationChannel(customer, name); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// testChannel: POST /api/v1/notification-channels/{name}/test?customer=
// sends a test message now and answers what the receiver said:
// {"delivered", "status"?, "error"?, "recipients"?, "duration_ms"}.
func (a *API) testChannel(w http.ResponseWriter, r *http.Request) {
	customer, name, err := channelParams(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.scope(r).TestNotificationChannel(r.Context(), customer, name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// deliveryJSON is a delivery of the outbox as the API shows it.
type deliveryJSON struct {
	ID          uint64          `json:"id"`
	Key         string          `json:"key"`
	Customer    string          `json:"customer"`
	Channel     string          `json:"channel"`
	Group       string          `json:"group,omitempty"`
	State       string          `json:"state,omitempty"`
	Status      string          `json:"status"`
	Attempts    int             `json:"attempts"`
	NextAttempt *time.Time      `json:"next_attempt,omitempty"`
	Deadline    time.Time       `json:"deadline,omitzero"`
	LastError   string          `json:"last_error,omitempty"`
	Note        string          `json:"note,omitempty"`
	Sent        []string        `json:"sent,omitempty"`
	Batch       uint64          `json:"carried_by,omitempty"`
	Carries     int             `json:"carries,omitempty"`
	Message     json.RawMessage `json:"message"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	DeliveredAt time.Time       `json:"delivered_at,omitzero"`
}

func newDeliveryJSON(d store.Delivery) deliveryJSON {
	out := deliveryJSON{
		ID: d.ID, Key: d.Key, Customer: d.Customer, Channel: d.Channel, Group: d.Group, State: d.State, Status: d.Status,
		Attempts: d.Attempts, Deadline: d.Deadline, LastError: d.LastError, Note: d.Note, Sent: d.Sent,
		Batch: d.Batch, Carries: len(d.Members), Message: d.Message,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, DeliveredAt: d.DeliveredAt,
	}
	if d.Status == store.DeliveryPending && d.Batch == 0 {
		out.NextAttempt = &d.NextAttempt
	}
	return out
}

// listDeliveries: GET /api/v1/notification-deliveries?status=&customer=
// &channel=&limit=&before=, newest first; "next" is the before= of the
// next page, absent after the last.
func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := gate.DeliveryFilter{Customer: q.Get("customer"), Channel: q.Get("channel"), Status: q.Get("status")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxHistoryLimit {
			a.writeError(w, r, gate.Invalid(`parameter "limit" %q: a whole number from 1 to %d is accepted`, s, store.MaxHistoryLimit))
			return
		}
		f.Limit = n
	}
	if s := q.Get("before"); s != "" {
		var err error
		if f.Before, err = strconv.ParseUint(s, 10, 64); err != nil {
			a.writeError(w, r, gate.Invalid(`parameter "before" %q: a delivery id is accepted`, s))
			return
		}
	}
	ds, err := a.scope(r).NotificationDeliveries(f)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := map[string]any{}
	list := make([]deliveryJSON, 0, len(ds))
	for _, d := range ds {
		list = append(list, newDeliveryJSON(d))
	}
	out["deliveries"] = list
	limit := f.Limit
	if limit == 0 {
		limit = store.DefaultHistoryLimit
	}
	if len(ds) == limit {
		out["next"] = strconv.FormatUint(ds[len(ds)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// retryDelivery: POST /api/v1/notification-deliveries/{id}/retry gives a
// dead letter another round of attempts.
func (a *API) retryDelivery(w http.ResponseWriter, r *http.Request) {
	s, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		a.writeError(w, r, gate.Invalid("delivery id %q: a number is accepted", s))
		return
	}
	d, err := a.scope(r).RetryDelivery(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newDeliveryJSON(d))
}

// prefsJSON is a user's notification preferences as the API shows them.
type prefsJSON struct {
	Severities []string          `json:"severities"`
	QuietHours *store.QuietHours `json:"quiet_hours"`
}

func newPrefsJSON(p store.NotificationPrefs) prefsJSON {
	out := prefsJSON{Severities: p.Severities, QuietHours: p.QuietHours}
	if out.Severities == nil {
		out.Severities = []string{}
	}
	return out
}

// showNotificationPrefs: GET /api/v1/users/{email}/notifications.
func (a *API) showNotificationPrefs(w http.ResponseWriter, r *http.Request) {
	email, err := pathParam(r, "email")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.scope(r).NotificationPrefs(email)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPrefsJSON(p))
}

// putNotificationPrefs: PUT /api/v1/users/{email}/notifications
// {"severities": [...], "quiet_hours": {"from", "to", "time_zone"?,
// "allow"?}} replaces what the user wants by e-mail.
func (a *API) putNotificationPrefs(w http.ResponseWriter, r *http.Request) {
	email, err := pathParam(r, "email")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req prefsJSON
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.scope(r).SetNotificationPrefs(email, store.NotificationPrefs{Severities: req.Severities, QuietHours: req.QuietHours})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPrefsJSON(p))
}
