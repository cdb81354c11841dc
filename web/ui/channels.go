package ui

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// channelPages serves the pages of notification channels: a customer's
// at /alarms/channels, every customer's for operators under
// /admin/alarms/channels, and the operators' outbox. A channel's name is
// unique per customer, so an operator's page of a channel names its
// customer in the path. Every read and change goes through the person's
// gate scope; the pages offer forms only where it would let them through.
type channelPages struct {
	*UI
}

// channelRoutes registers a customer's channel pages.
func (u *UI) channelRoutes(r chi.Router) {
	c := &channelPages{UI: u}
	r.Get("/alarms/channels", c.showChannels)
	r.Post("/alarms/channels", c.createChannel)
	r.Get("/alarms/channels/{name}", c.showChannel)
	r.Post("/alarms/channels/{name}", c.saveChannel)
	r.Post("/alarms/channels/{name}/rotate", c.rotateSecret)
	r.Post("/alarms/channels/{name}/test", c.testChannel)
	r.Get("/alarms/channels/{name}/delete", c.confirmDelete)
	r.Post("/alarms/channels/{name}/delete", c.deleteChannel)
}

// channelAdminRoutes registers the operators' channel pages and the
// outbox under /admin.
func (u *UI) channelAdminRoutes(r chi.Router) {
	c := &channelPages{UI: u}
	r.Get("/alarms/channels", c.showChannels)
	r.Post("/alarms/channels", c.createChannel)
	r.Get("/alarms/channels/{customer}/{name}", c.showChannel)
	r.Post("/alarms/channels/{customer}/{name}", c.saveChannel)
	r.Post("/alarms/channels/{customer}/{name}/rotate", c.rotateSecret)
	r.Post("/alarms/channels/{customer}/{name}/test", c.testChannel)
	r.Get("/alarms/channels/{customer}/{name}/delete", c.confirmDelete)
	r.Post("/alarms/channels/{customer}/{name}/delete", c.deleteChannel)
	r.Get("/alarms/deliveries", c.showDeliveries)
	r.Post("/alarms/deliveries/{id}/retry", c.retryDelivery)
}

// channelsPath is the list of channels: a customer's own, or every
// customer's for operators.
func channelsPath(admin bool) string {
	if admin {
		return "/admin/alarms/channels"
	}
	return "/alarms/channels"
}

// channelPath is the page of a channel; an operator's names its customer.
func channelPath(admin bool, customer, name string) string {
	if admin {
		return "/admin/alarms/channels/" + url.PathEscape(customer) + "/" + url.PathEscape(name)
	}
	return "/alarms/channels/" + url.PathEscape(name)
}

// channelKindKeys are the message keys of the kinds of channel, in the
// order the form offers them.
var channelKindKeys = []struct{ Kind, Key string }{
	{store.ChannelWebhook, "channel.kind.webhook"},
	{store.ChannelSlack, "channel.kind.slack"},
	{store.ChannelEmail, "channel.kind.email"},
}

func channelKindLabel(v view, kind string) string {
	for _, k := range channelKindKeys {
		if k.Kind == kind {
			return v.T(k.Key)
		}
	}
	return kind
}

// channelRow is a channel as the pages show it, never with its secret.
type channelRow struct {
	Customer, Name, Kind, KindLabel string
	// Target is where it sends: its URL, or its addresses between commas.
	Target           string
	Signed           bool
	Created, Updated string
	Path             string
}

func channelRowOf(v view, admin bool, c store.NotificationChannel) channelRow {
	target := c.URL
	if c.Kind == store.ChannelEmail {
		target = strings.Join(c.To, ", ")
	}
	return channelRow{
		Customer: c.Customer, Name: c.Name, Kind: c.Kind, KindLabel: channelKindLabel(v, c.Kind), Target: target,
		Signed: c.Secret != "", Created: v.Time(c.CreatedAt), Updated: v.Time(c.UpdatedAt),
		Path: channelPath(admin, c.Customer, c.Name),
	}
}

// IsEmail says whether the channel sends e-mail, to addresses, rather
// than calling a URL.
func (c channelRow) IsEmail() bool { return c.Kind == store.ChannelEmail }

// IsWebhook says whether the channel is a webhook, whose requests a
// secret signs.
func (c channelRow) IsWebhook() bool { return c.Kind == store.ChannelWebhook }

// channelForm is the new-channel form, or a channel's address form, as
// sent.
type channelForm struct {
	Customer, Name, Kind, URL, To string
}

// readChannelForm reads a channel's form.
func readChannelForm(r *http.Request) channelForm {
	f := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	return channelForm{Customer: f("customer"), Name: f("name"), Kind: f("kind"), URL: f("url"), To: f("to")}
}

// channelsData is what a list of channels shows, with the form of a new
// one.
type channelsData struct {
	Admin bool
	// Customer is the operators' filter; Customers what it offers.
	Customer  string
	Customers []string
	Rows      []channelRow
	CanManage bool
	// Kinds are what the form's kind offers.
	Kinds []choice
	Form  channelForm
	// Error is why the form just sent was refused, ErrorField the field
	// it names.
	Error      string
	ErrorField string
	// Created and Secret are the webhook just created and its signing
	// secret, in the answer to the form and never again.
	Created  string
	Secret   string
	Flash    string
	FlashErr bool
}

// Invalid says whether the refusal names a field of the form.
func (d channelsData) Invalid(field string) string {
	return strconv.FormatBool(d.ErrorField == field)
}

// admin reports whether a request is an operator's: the operators' pages
// are theirs only, and a customer's pages of a channel are no operator's,
// who would not name its customer.
func (c *channelPages) admin(w http.ResponseWriter, r *http.Request) (gate.Scope, bool, bool) {
	sc := c.scope(r)
	op := sc.Principal().Operator()
	if op && !strings.HasPrefix(r.URL.Path, "/admin/") {
		c.notFound(w, r)
		return sc, false, false
	}
	return sc, op, true
}

// showChannels: /alarms/channels, a customer's channels, with the form
// of a new one for its admins; operators have every customer's at
// /admin/alarms/channels[?customer=].
func (c *channelPages) showChannels(w http.ResponseWriter, r *http.Request) {
	if c.scope(r).Principal().Operator() && !strings.HasPrefix(r.URL.Path, "/admin/") {
		http.Redirect(w, r, channelsPath(true), http.StatusSeeOther)
		return
	}
	d := channelsData{Customer: strings.TrimSpace(r.URL.Query().Get("customer"))}
	d.Form = channelForm{Customer: d.Customer, Kind: store.ChannelWebhook}
	d.Flash, d.FlashErr = c.flashed(r)
	c.answerChannels(w, r, http.StatusOK, d)
}

// answerChannels reads the list d shows and answers it with status.
func (c *channelPages) answerChannels(w http.ResponseWriter, r *http.Request, status int, d channelsData) {
	v := c.view(r)
	sc := c.scope(r)
	d.Admin = sc.Principal().Operator()
	if d.Admin {
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
	}
	cs, err := sc.NotificationChannels(d.Customer)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, ch := range cs {
		d.Rows = append(d.Rows, channelRowOf(v, d.Admin, ch))
	}
	d.CanManage = sc.MayManageNotificationChannels() == nil
	for _, k := range channelKindKeys {
		d.Kinds = append(d.Kinds, choice{k.Kind, v.T(k.Key)})
	}
	c.render(w, r, status, channelsPage(v, d))
}

// createChannel stores the new channel of the form. A webhook's answer
// is the list with its signing secret, shown this once: it is never put
// in the session or a URL, which a redirect would need. Others go back to
// the list. A refusal shows the form as sent with why next to it.
func (c *channelPages) createChannel(w http.ResponseWriter, r *http.Request) {
	sc, admin, ok := c.admin(w, r)
	if !ok {
		return
	}
	v := c.view(r)
	f := readChannelForm(r)
	// A customer's form has no customer field: the gate takes the
	// person's own, and refuses another's as it would over the API.
	spec := gate.ChannelSpec{Customer: f.Customer, Name: f.Name, Kind: f.Kind, URL: f.URL}
	if f.To != "" {
		spec.To = gate.Addresses(f.To)
	}
	ch, secret, err := sc.CreateNotificationChannel(spec)
	if err != nil {
		status, msg, ok := c.refusal(w, r, err)
		if !ok {
			return
		}
		d := channelsData{Form: f, Error: v.T("config.not_saved", msg), ErrorField: refusedField(msg)}
		if admin {
			d.Customer = r.URL.Query().Get("customer")
		}
		c.answerChannels(w, r, status, d)
		return
	}
	if secret == "" {
		c.sessions.Put(r.Context(), keyFlash, v.T("channel.created", ch.Name))
		http.Redirect(w, r, channelPath(admin, ch.Customer, ch.Name), http.StatusSeeOther)
		return
	}
	d := channelsData{Created: ch.Name, Secret: secret, Form: channelForm{Kind: store.ChannelWebhook}}
	if admin {
		d.Customer, d.Form.Customer = r.URL.Query().Get("customer"), r.URL.Query().Get("customer")
	}
	c.answerChannels(w, r, http.StatusCreated, d)
}

// refusedField finds the field a refusal names: `field "url": ...`.
func refusedField(msg string) string {
	if m := ruleFieldOf.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// channelData is what a channel's page shows.
type channelData struct {
	Admin     bool
	Channel   channelRow
	CanManage bool
	// Form is the address form, as stored or as sent.
	Form       channelForm
	Error      string
	ErrorField string
	// Secret is a webhook's new signing secret, in the answer to rotating
	// it and never again.
	Secret string
	// Test is what the receiver said to a test message just sent.
	Test     *testResult
	Flash    string
	FlashErr bool
}

// Invalid says whether the refusal names a field of the form.
func (d channelData) Invalid(field string) string {
	return strconv.FormatBool(d.ErrorField == field)
}

// testResult is what a test message's receiver said, as the page shows
// it.
type testResult struct {
	Delivered  bool
	Status     int
	Error      string
	Recipients []string
	Skipped    []string
	Duration   string
}

// channelOf reads the channel a request names: on an operator's page its
// customer is in the path, on a customer's the customer's own.
func (c *channelPages) channelOf(w http.ResponseWriter, r *http.Request) (gate.Scope, bool, store.NotificationChannel, bool) {
	sc, admin, ok := c.admin(w, r)
	if !ok {
		return sc, false, store.NotificationChannel{}, false
	}
	ch, err := sc.NotificationChannel(configParam(r, "customer"), configParam(r, "name"))
	if err != nil {
		c.fail(w, r, err)
		return sc, false, store.NotificationChannel{}, false
	}
	return sc, admin, ch, true
}

// channelDataOf is a channel's page of ch, its form as stored.
func (c *channelPages) channelDataOf(v view, sc gate.Scope, admin bool, ch store.NotificationChannel) channelData {
	row := channelRowOf(v, admin, ch)
	d := channelData{Admin: admin, Channel: row, CanManage: sc.MayManageNotificationChannels() == nil,
		Form: channelForm{Customer: ch.Customer, Name: ch.Name, Kind: ch.Kind, URL: ch.URL}}
	if row.IsEmail() {
		d.Form.To = row.Target
	}
	return d
}

// showChannel: a channel's page: what it is, and for those who may change
// it, its address form, Send test, rotating a webhook's secret and
// deleting it.
func (c *channelPages) showChannel(w http.ResponseWriter, r *http.Request) {
	sc, admin, ch, ok := c.channelOf(w, r)
	if !ok {
		return
	}
	v := c.view(r)
	d := c.channelDataOf(v, sc, admin, ch)
	d.Flash, d.FlashErr = c.flashed(r)
	c.render(w, r, http.StatusOK, channelPage(v, d))
}

// saveChannel changes a channel's URL, or an e-mail channel's addresses.
// Its name, customer and kind stay.
func (c *channelPages) saveChannel(w http.ResponseWriter, r *http.Request) {
	sc, admin, ch, ok := c.channelOf(w, r)
	if !ok {
		return
	}
	v := c.view(r)
	f := readChannelForm(r)
	var change gate.ChannelChange
	if ch.Kind == store.ChannelEmail {
		change.To = gate.Addresses(f.To)
	} else {
		change.URL = &f.URL
	}
	if _, _, err := sc.UpdateNotificationChannel(ch.Customer, ch.Name, change); err != nil {
		status, msg, ok := c.refusal(w, r, err)
		if !ok {
			return
		}
		d := c.channelDataOf(v, sc, admin, ch)
		d.Form.URL, d.Form.To = f.URL, f.To
		d.Error, d.ErrorField = v.T("config.not_saved", msg), refusedField(msg)
		c.render(w, r, status, channelPage(v, d))
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("channel.saved"))
	http.Redirect(w, r, channelPath(admin, ch.Customer, ch.Name), http.StatusSeeOther)
}

// rotateSecret gives a webhook a new signing secret, shown in this answer
// only; the old one stops signing at once.
func (c *channelPages) rotateSecret(w http.ResponseWriter, r *http.Request) {
	sc, admin, ch, ok := c.channelOf(w, r)
	if !ok {
		return
	}
	v := c.view(r)
	out, secret, err := sc.UpdateNotificationChannel(ch.Customer, ch.Name, gate.ChannelChange{RotateSecret: true})
	if err != nil {
		status, msg, ok := c.refusal(w, r, err)
		if !ok {
			return
		}
		d := c.channelDataOf(v, sc, admin, ch)
		d.Flash, d.FlashErr = v.T("channel.not_rotated", msg), true
		c.render(w, r, status, channelPage(v, d))
		return
	}
	d := c.channelDataOf(v, sc, admin, out)
	d.Secret = secret
	c.render(w, r, http.StatusOK, channelPage(v, d))
}

// testChannel sends a test message to a channel now and shows its page
// with what the receiver said.
func (c *channelPages) testChannel(w http.ResponseWriter, r *http.Request) {
	sc, admin, ch, ok := c.channelOf(w, r)
	if !ok {
		return
	}
	v := c.view(r)
	res, err := sc.TestNotificationChannel(r.Context(), ch.Customer, ch.Name)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := c.channelDataOf(v, sc, admin, ch)
	d.Test = &testResult{Delivered: res.Delivered, Status: res.Status, Error: res.Error, Recipients: res.Recipients,
		Skipped: res.Skipped, Duration: v.T("channel.test_ms", res.DurationMS)}
	c.render(w, r, http.StatusOK, channelPage(v, d))
}

// channelConfirm is the confirmation of deleting the channel of the
// request; for those who may not, it says why and offers no button.
func (c *channelPages) channelConfirm(w http.ResponseWriter, r *http.Request) (gate.Scope, store.NotificationChannel, configConfirmData, bool) {
	sc, admin, ch, ok := c.channelOf(w, r)
	if !ok {
		return sc, ch, configConfirmData{}, false
	}
	v := c.view(r)
	back := channelPath(admin, ch.Customer, ch.Name)
	d := configConfirmData{Title: v.T("channel.title"), Question: v.T("channel.delete", ch.Name), Action: back + "/delete", Back: back}
	if err := sc.MayManageNotificationChannels(); err != nil {
		d.Error, d.Blocked = gate.Describe(err).Message, true
	}
	return sc, ch, d, true
}

// confirmDelete asks before a channel is deleted.
func (c *channelPages) confirmDelete(w http.ResponseWriter, r *http.Request) {
	if _, _, d, ok := c.channelConfirm(w, r); ok {
		c.render(w, r, http.StatusOK, configConfirmPage(c.view(r), d))
	}
}

// deleteChannel deletes a channel and goes back to the list; what is
// still pending for it becomes a dead letter at its next attempt.
func (c *channelPages) deleteChannel(w http.ResponseWriter, r *http.Request) {
	sc, ch, d, ok := c.channelConfirm(w, r)
	if !ok {
		return
	}
	err := sc.DeleteNotificationChannel(ch.Customer, ch.Name)
	list := channelsPath(sc.Principal().Operator())
	if sc.Principal().Operator() {
		list += "?" + url.Values{"customer": {ch.Customer}}.Encode()
	}
	(&config{UI: c.UI}).deleted(w, r, d, err, c.view(r).T("channel.deleted", ch.Name), list)
}

// channelAction is where a form about a channel posts: its page, or one
// of the page's actions.
func channelAction(c channelRow, action string) string {
	if action == "" {
		return c.Path
	}
	return c.Path + "/" + action
}

// channelsAction is where the new-channel form posts: the list, keeping
// an operator's filter.
func channelsAction(d channelsData) string {
	p := channelsPath(d.Admin)
	if d.Admin && d.Customer != "" {
		p += "?" + url.Values{"customer": {d.Customer}}.Encode()
	}
	return p
}

// channelTarget writes where a channel sends, "—" when nowhere.
func channelTarget(v view, c channelRow) string {
	return cmp.Or(c.Target, v.T("config.none"))
}
