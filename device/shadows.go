package device

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/protocol"
	"github.com/hearthiot/hearth/store"
)

// ShadowStore keeps shadows and their history; *store.Store implements it.
// PutShadow and DeleteShadow write the history entry in the transaction that
// writes the shadow, so a shadow and its history never disagree.
type ShadowStore interface {
	GetShadow(device, name string) (store.Shadow, error)
	PutShadow(sh store.Shadow, expectVersion int64, h *store.HistoryEntry) error
	DeleteShadow(device, name string, h *store.HistoryEntry) error
	History(q store.HistoryQuery) ([]store.HistoryEntry, string, error)
}

// Publisher sends a message to the devices subscribed to topic; the broker's
// Outbound implements it, and applies the ACL to subscribers. An error means
// the message was not sent (the broker was not running, say): Shadows logs
// it and the stored change stands; a device reads it with get, or receives
// its delta when it subscribes again.
type Publisher interface {
	Publish(topic string, payload []byte, qos byte) error
}

// Actor is who changed a shadow and through which channel, as the history
// records it: {"device:chiller-1", "mqtt"}, {"token:grafana", "api"},
// {"user:a@example.com", "page"}, {"scheduler", "scheduler"}.
//
// A Restricted actor acts for a customer: it may change only the desired
// values of the classic shadow that the device type's settings mark
// customer-editable, within their rules. Which devices a customer may reach
// at all is decided before the service is called.
type Actor struct {
	Name       string
	Channel    string
	Restricted bool
}

// SettingsSource tells which settings apply to a device's classic shadow;
// *DeviceTypes implements it. The schema is nil when none apply; typ is
// the device's type, for messages.
type SettingsSource interface {
	SettingsOf(device string) (sch *settings.Schema, typ string, err error)
}

// Channels an Actor can name.
const (
	ChannelMQTT      = "mqtt"
	ChannelAPI       = "api"
	ChannelPage      = "page"
	ChannelScheduler = "scheduler"
	// ChannelStrategy is an energy-saving strategy's write (actor
	// "strategy:NAME").
	ChannelStrategy = "strategy"
)

// maxUpdateAttempts bounds the retries of an update that named no version
// and lost a race with a writer outside this process (another Shadows on the
// same store); writers inside it are serialised and never race.
const maxUpdateAttempts = 5

// qosShadow is the QoS of every message the service publishes: accepted,
// delta and documents must reach a device that is briefly away.
const qosShadow = 1

// msgInternal is AWS's message for a 500.
const msgInternal = "Internal service failure"

// Shadows is the device shadow service: it applies the semantics of package
// shadow to the documents in the store, records every change in the history
// with its actor, and publishes the AWS IoT shadow messages. The MQTT path
// (HandleShadowRequest) and the REST path (Update, Get, Delete) share it, so
// both give the same answers, history and device messages. It is safe for
// concurrent use.
type Shadows struct {
	st       ShadowStore
	pub      Publisher
	events   EventPublisher // nil: no events
	lim      shadow.Limits
	maxNamed int
	rate     rate.Limit
	limiters sync.Map       // device → *shadowLimit of its updates over MQTT
	settings SettingsSource // nil: no settings checks
	logger   *slog.Logger
	now      func() time.Time // the clock of the MQTT path

	// locks serialises the writes of one shadow inside the process, so
	// the optimistic retry of Update runs only against other processes.
	mu    sync.Mutex
	locks map[shadowKey]*keyLock
}

type shadowKey struct{ thing, name string }

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// ShadowDeps are what the shadow service works with. Store and Publisher
// are required.
type ShadowDeps struct {
	Store ShadowStore
	// Publisher sends the AWS reply messages to the devices.
	Publisher Publisher
	// Events, when set, takes an event for every accepted update.
	Events EventPublisher
	// Settings, when set, checks updates of classic shadows against the
	// settings of the device's type (see Update).
	Settings SettingsSource
	Limits   shadow.Limits
	// MaxNamed is how many named shadows one device may have (default
	// 50); UpdatesPerSecond how many updates a second a device may make
	// over MQTT (default 20, AWS's rate per thing, with bursts of twice
	// that).
	MaxNamed         int
	UpdatesPerSecond float64
	Logger           *slog.Logger
}

// Defaults of ShadowDeps' limits.
const (
	DefaultMaxNamedShadows  = 50
	DefaultShadowUpdateRate = 20
)

// ShadowCounter counts a device's shadows; *store.Store implements it.
// A ShadowStore without it has no limit on named shadows.
type ShadowCounter interface {
	CountShadows(device string) (int, error)
}

// NewShadows returns the shadow service.
func NewShadows(d ShadowDeps) *Shadows {
	logger := d.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if d.MaxNamed <= 0 {
		d.MaxNamed = DefaultMaxNamedShadows
	}
	if d.UpdatesPerSecond <= 0 {
		d.UpdatesPerSecond = DefaultShadowUpdateRate
	}
	return &Shadows{
		st:       d.Store,
		pub:      d.Publisher,
		events:   d.Events,
		settings: d.Settings,
		lim:      d.Limits,
		maxNamed: d.MaxNamed,
		rate:     rate.Limit(d.UpdatesPerSecond),
		logger:   logger,
		now:      time.Now,
		locks:    make(map[shadowKey]*keyLock),
	}
}

// allow takes one update of a device over MQTT, made at now, from its
// rate.
func (s *Shadows) allow(thing string, by Actor, now time.Time) error {
	if by.Channel != ChannelMQTT {
		return nil
	}
	v, ok := s.limiters.Load(thing)
	if !ok {
		v, _ = s.limiters.LoadOrStore(thing, &shadowLimit{lim: rate.NewLimiter(s.rate, s.burst())})
	}
	if l := v.(*shadowLimit); !l.lim.AllowN(now, 1) {
		l.refuse(now)
		return &shadow.Error{Code: http.StatusTooManyRequests, Message: fmt.Sprintf("Too Many Requests: at most %g shadow updates a second per device", float64(s.rate))}
	}
	return nil
}

// shadowLimit is one device's rate of shadow updates over MQTT and what it
// refused.
type shadowLimit struct {
	lim *rate.Limiter
	rateCount
}

// burst is how many shadow updates a device may make at once over MQTT:
// twice its rate a second, as AWS allows.
func (s *Shadows) burst() int { return max(2*int(s.rate), 1) }

// DeviceRate is the rate of shadow updates device thing may make over
// MQTT, and how many of them were refused for it since start. Updates
// are refused, never held back.
func (s *Shadows) DeviceRate(thing string) RateUse {
	u := RateUse{PerSecond: float64(s.rate), Burst: s.burst()}
	if v, ok := s.limiters.Load(thing); ok {
		v.(*shadowLimit).read(&u)
	}
	return u
}

// checkNamed refuses a new named shadow of a device that has as many as it
// may.
func (s *Shadows) checkNamed(thing, name string, exists bool) error {
	c, ok := s.st.(ShadowCounter)
	if name == "" || exists || !ok {
		return nil
	}
	n, err := c.CountShadows(thing)
	if err != nil {
		return err
	}
	if n >= s.maxNamed+1 { // the classic shadow is not one of them
		return &shadow.Error{Code: http.StatusBadRequest, Message: fmt.Sprintf("This device has as many named shadows as it may (%d); delete one first", s.maxNamed)}
	}
	if n >= s.maxNamed {
		if _, err := s.st.GetShadow(thing, ""); errors.Is(err, store.ErrNotFound) {
			return &shadow.Error{Code: http.StatusBadRequest, Message: fmt.Sprintf("This device has as many named shadows as it may (%d); delete one first", s.maxNamed)}
		}
	}
	return nil
}

// lock takes the in-process lock of one shadow and returns its release.
// Entries live only while someone holds or waits for them, so the map stays
// as small as the number of shadows being written at once.
func (s *Shadows) lock(thing, name string) func() {
	k := shadowKey{thing, name}
	s.mu.Lock()
	l := s.locks[k]
	if l == nil {
		l = &keyLock{}
		s.locks[k] = l
	}
	l.refs++
	s.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(s.locks, k)
		}
		s.mu.Unlock()
	}
}

// checkName rejects a shadow name that is not "" (classic) and not valid.
func checkName(name string) error {
	if name == "" {
		return nil
	}
	if err := shadow.ValidName(name); err != nil {
		return &shadow.Error{Code: http.StatusBadRequest, Message: err.Error()}
	}
	return nil
}

// Update applies an update request document (AWS's {"state": {"desired":
// …, "reported": …}, "clientToken": …, "version": …}) to a shadow of thing
// (name "" is the classic shadow) on behalf of by, and returns the
// update/accepted message. Rejections are *shadow.Error with AWS's codes:
// 400 for a bad request or shadow name, 404 for a device that does not
// exist, 409 when the request names a version other than the current one,
// 413 for a document over the limits, 403 for a restricted actor that
// reaches past what customers may change (see Actor).
//
// An update of a classic shadow is checked against the settings of the
// device's type: a desired value that is not a setting, or breaks its rules,
// is refused with 400 and a message naming each key and rule; the returned
// error also wraps the *settings.Error that lists them. Reported values are
// stored as the device sent them: those that break a rule are recorded as
// flags of the history entry, and a SettingsViolated event goes out.
//
// The shadow and its history entry are written in one transaction first;
// only then are the device messages published, all with QoS 1 and in this
// order:
//  1. .../update/accepted, with the new version;
//  2. .../update/delta, when a delta is due (see shadow.Apply), with the same
//     new version, so a device that compares versions sees the delta as
//     belonging to the update that was just accepted;
//  3. .../update/documents, with the previous and the new version.
//
// Then the events ShadowUpdated and, with a delta message, DeltaPending go
// out. A publish that fails is logged; the update stands, and the device
// still gets the delta from PendingDelta when it subscribes again.
//
// Updates of one shadow are serialised inside the process. A request that
// names no version and loses a race with another writer of the same store
// is applied again to the newer document, up to 5 times; one that names a
// version is rejected with 409, as its version is no longer current.
func (s *Shadows) Update(thing, name string, body []byte, by Actor, now time.Time) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	// The history keeps the request whole; a body it cannot keep is too
	// large to accept.
	if len(body) > store.MaxHistoryUpdateSize {
		return nil, &shadow.Error{Code: http.StatusRequestEntityTooLarge, Message: "The payload exceeds the maximum size allowed"}
	}
	if err := s.allow(thing, by, now); err != nil {
		return nil, err
	}
	upd, err := shadow.ParseUpdate(body, s.lim)
	if err != nil {
		return nil, err
	}
	sch, err := s.checkSettings(thing, name, upd, by)
	if err != nil {
		return nil, err
	}
	var flags []store.HistoryFlag
	if sch != nil && upd.Reported != nil {
		flags = historyFlags(store.SectionReported, sch.Reported(upd.Reported))
	}
	unlock := s.lock(thing, name)
	defer unlock()

	for attempt := 1; ; attempt++ {
		prev, stored, err := s.load(thing, name)
		if err != nil {
			return nil, err
		}
		if err := s.checkNamed(thing, name, stored != 0); err != nil {
			return nil, err
		}
		res, err := shadow.Apply(prev, upd, now.Unix(), s.lim)
		if err != nil {
			return nil, err
		}
		doc, err := json.Marshal(res.Document)
		if err != nil {
			return nil, fmt.Errorf("encode shadow %q of device %q: %w", name, thing, err)
		}
		changes, err := historyChanges(res.Changes)
		if err != nil {
			return nil, fmt.Errorf("update shadow %q of device %q: %w", name, thing, err)
		}
		sh := store.Shadow{Device: thing, Name: name, Version: res.Document.Version, Doc: doc, UpdatedAt: now}
		h := &store.HistoryEntry{
			Device: thing, Shadow: name, Version: res.Document.Version, Time: now,
			Actor: by.Name, Channel: by.Channel, Update: body, Changes: changes, Flags: flags,
		}
		err = s.st.PutShadow(sh, stored, h)
		switch {
		case err == nil:
			s.publishUpdate(thing, name, res, by, now, flags)
			return res.Accepted, nil
		case errors.Is(err, store.ErrVersionConflict) && !upd.HasVersion && attempt < maxUpdateAttempts:
			continue
		case errors.Is(err, store.ErrVersionConflict):
			return nil, &shadow.Error{Code: http.StatusConflict, Message: "Version conflict"}
		case errors.Is(err, store.ErrNotFound):
			return nil, thingNotFound(thing)
		default:
			return nil, err
		}
	}
}

// load returns the document Apply starts from and the stored version the
// write must expect (0 when the shadow does not exist).
//
// A shadow that was deleted continues its version numbering, as AWS's does:
// the store drops the document, but the history keeps the version of the
// delete, and the next update starts after it. Once the history has been
// pruned past the last entry of a deleted shadow, a new one starts at 1.
func (s *Shadows) load(thing, name string) (*shadow.Document, int64, error) {
	sh, err := s.st.GetShadow(thing, name)
	if errors.Is(err, store.ErrNotFound) {
		last, err := s.lastVersion(thing, name)
		if err != nil {
			return nil, 0, err
		}
		if last == 0 {
			return nil, 0, nil
		}
		return &shadow.Document{Version: last}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var doc shadow.Document
	if err := json.Unmarshal(sh.Doc, &doc); err != nil {
		return nil, 0, fmt.Errorf("read shadow %q of device %q: %w", name, thing, err)
	}
	return &doc, sh.Version, nil
}

// lastVersion is the version of the newest history entry of a shadow, 0
// when it has none.
func (s *Shadows) lastVersion(thing, name string) (int64, error) {
	entries, _, err := s.st.History(store.HistoryQuery{Device: thing, Shadow: &name, Limit: 1})
	if errors.Is(err, store.ErrInvalid) {
		// A name the store refuses has no history; the write will say why.
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return 0, nil
	}
	return entries[0].Version, nil
}

// historyChanges encodes the changes of an update for the history.
func historyChanges(in []shadow.Change) ([]store.HistoryChange, error) {
	out := make([]store.HistoryChange, 0, len(in))
	for _, c := range in {
		old, err := json.Marshal(c.Old)
		if err != nil {
			return nil, fmt.Errorf("encode old value of %s.%s: %w", c.Section, c.Key, err)
		}
		nu, err := json.Marshal(c.New)
		if err != nil {
			return nil, fmt.Errorf("encode new value of %s.%s: %w", c.Section, c.Key, err)
		}
		out = append(out, store.HistoryChange{Section: c.Section, Key: c.Key, Old: old, New: nu})
	}
	return out, nil
}

func thingNotFound(thing string) *shadow.Error {
	return &shadow.Error{Code: http.StatusNotFound, Message: "No thing exists with name: '" + thing + "'"}
}

// publishUpdate sends the messages and events of an accepted update, in the
// order Update documents.
func (s *Shadows) publishUpdate(thing, name string, res shadow.Result, by Actor, now time.Time, flags []store.HistoryFlag) {
	base := protocol.ShadowTopic(thing, name)
	s.publish(base+"/update/accepted", res.Accepted)
	if res.Delta != nil {
		s.publish(base+"/update/delta", res.Delta)
	}
	s.publish(base+"/update/documents", res.Documents)
	if s.events == nil {
		return
	}
	v := res.Document.Version
	s.events.Publish(events.ShadowUpdated{Device: thing, Shadow: name, Version: v, At: now, Actor: by.Name, Channel: by.Channel})
	if res.Delta != nil {
		s.events.Publish(events.DeltaPending{Device: thing, Shadow: name, Version: v, At: now})
	}
	if len(flags) > 0 {
		keys := make([]string, len(flags))
		for i, f := range flags {
			keys[i] = f.Section + "." + f.Key
		}
		s.events.Publish(events.SettingsViolated{Device: thing, Shadow: name, Version: v, At: now, Keys: keys})
	}
}

// checkSettings applies the settings of the device's type to an update of
// its classic shadow, and the limits of a restricted actor to any update.
// It returns the settings that apply, nil when none do.
func (s *Shadows) checkSettings(thing, name string, upd shadow.Update, by Actor) (*settings.Schema, error) {
	var sch *settings.Schema
	var typ string
	if s.settings != nil && name == "" {
		var err error
		if sch, typ, err = s.settings.SettingsOf(thing); err != nil {
			return nil, fmt.Errorf("settings of device %q: %w", thing, err)
		}
	}
	if by.Restricted && s.settings == nil {
		return nil, forbidden("no device type settings are known here, so no settings are marked customer-editable")
	}
	if by.Restricted {
		if err := restrictedUpdate(name, upd, sch, typ); err != nil {
			return nil, err
		}
	}
	if sch != nil && upd.Desired != nil {
		if err := sch.CheckDesired(upd.Desired); err != nil {
			return nil, errors.Join(&shadow.Error{Code: http.StatusBadRequest, Message: err.Error()}, err)
		}
	}
	return sch, nil
}

// restrictedUpdate refuses what a customer may not do: anything but desired
// values of the classic shadow's customer-editable settings.
func restrictedUpdate(name string, upd shadow.Update, sch *settings.Schema, typ string) error {
	switch {
	case name != "":
		return forbidden("customers may change only settings of the classic shadow, not of the named shadow " + strconv.Quote(name))
	case upd.Reported != nil || upd.DeleteReported:
		return forbidden("customers may not change state.reported; only the device reports its state")
	case upd.DeleteDesired:
		return forbidden("customers may not delete the whole of state.desired; set each setting instead")
	case sch == nil && typ == "":
		return forbidden("the device has no type, so no settings are marked customer-editable")
	case sch == nil:
		return forbidden("device type " + strconv.Quote(typ) + " is not defined, so no settings are marked customer-editable")
	}
	if err := sch.CheckCustomer(upd.Desired); err != nil {
		return errors.Join(forbidden(err.Error()), err)
	}
	return nil
}

func forbidden(msg string) *shadow.Error {
	return &shadow.Error{Code: http.StatusForbidden, Message: msg}
}

// maxFlagMessage keeps a flag's message within what the history stores.
const maxFlagMessage = 1000

// historyFlags records violations of one section for the history.
func historyFlags(section string, vs []settings.Violation) []store.HistoryFlag {
	if len(vs) == 0 {
		return nil
	}
	out := make([]store.HistoryFlag, len(vs))
	for i, v := range vs {
		msg := v.Message
		if len(msg) > maxFlagMessage {
			msg = strings.ToValidUTF8(msg[:maxFlagMessage], "") + "…"
		}
		out[i] = store.HistoryFlag{Section: section, Key: v.Key, Rule: v.Rule, Message: msg}
	}
	return out
}

// Violations returns the reported values of a device's classic shadow
// document that break a rule of its type's settings, for showing beside
// the document; none for a named shadow or a device without settings.
func (s *Shadows) Violations(thing, name string, doc shadow.Document) ([]settings.Violation, error) {
	if s.settings == nil || name != "" {
		return nil, nil
	}
	sch, _, err := s.settings.SettingsOf(thing)
	if err != nil || sch == nil {
		return nil, err
	}
	return sch.Reported(doc.State.Reported), nil
}

func (s *Shadows) publish(topic string, payload []byte) {
	if err := s.pub.Publish(topic, payload, qosShadow); err != nil {
		s.logger.Warn("cannot publish shadow message", "topic", topic, "error", err)
	}
}

// Get returns a shadow of thing (name "" is the classic one); a shadow that
// does not exist is a *shadow.Error 404, and so is a bad name a 400.
func (s *Shadows) Get(thing, name string) (shadow.Document, error) {
	if err := checkName(name); err != nil {
		return shadow.Document{}, err
	}
	sh, err := s.st.GetShadow(thing, name)
	if errors.Is(err, store.ErrNotFound) {
		return shadow.Document{}, shadow.NotFound(thing, name)
	}
	if err != nil {
		return shadow.Document{}, err
	}
	var doc shadow.Document
	if err := json.Unmarshal(sh.Doc, &doc); err != nil {
		return shadow.Document{}, fmt.Errorf("read shadow %q of device %q: %w", name, thing, err)
	}
	return doc, nil
}

// Delete deletes a shadow of thing on behalf of by, records every leaf it
// held as deleted in the history (with the deleted version), publishes
// .../delete/accepted and returns that message. A shadow that does not exist
// is a *shadow.Error 404. The next update continues the version numbering
// (see load).
//
// A restricted actor may not delete a shadow (403).
func (s *Shadows) Delete(thing, name string, by Actor, now time.Time) ([]byte, error) {
	if by.Restricted {
		return nil, forbidden("customers may not delete a shadow")
	}
	return s.delete(thing, name, "", by, now)
}

func (s *Shadows) delete(thing, name, clientToken string, by Actor, now time.Time) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	unlock := s.lock(thing, name)
	defer unlock()

	doc, err := s.Get(thing, name)
	if err != nil {
		return nil, err
	}
	// Applying the deletion of both sections lists every leaf as deleted.
	res, err := shadow.Apply(&doc, shadow.Update{DeleteDesired: true, DeleteReported: true}, now.Unix(), shadow.Limits{})
	if err != nil {
		return nil, fmt.Errorf("list leaves of shadow %q of device %q: %w", name, thing, err)
	}
	changes, err := historyChanges(res.Changes)
	if err != nil {
		return nil, fmt.Errorf("delete shadow %q of device %q: %w", name, thing, err)
	}
	h := &store.HistoryEntry{
		Device: thing, Shadow: name, Version: doc.Version, Time: now,
		Actor: by.Name, Channel: by.Channel, Changes: changes,
	}
	if err := s.st.DeleteShadow(thing, name, h); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, shadow.NotFound(thing, name)
		}
		return nil, err
	}
	msg := shadow.DeleteResponse(doc.Version, clientToken, now.Unix())
	s.publish(protocol.ShadowTopic(thing, name)+"/delete/accepted", msg)
	return msg, nil
}

// HandleShadowRequest answers one request a device published on
// $aws/things/{thing}/shadow[/name/{shadowName}]/{op}, op being "get",
// "update" or "delete", on behalf of the device itself over MQTT. Answers go
// out on .../{op}/accepted (and, for updates, delta and documents, see
// Update) or .../{op}/rejected with AWS's error document; a failure of the
// service itself is logged and answered with 500 and a generic message.
func (s *Shadows) HandleShadowRequest(thing, shadowName, op string, payload []byte) {
	now := s.now()
	by := Actor{Name: "device:" + thing, Channel: ChannelMQTT}
	base := protocol.ShadowTopic(thing, shadowName)
	var err error
	switch op {
	case protocol.ShadowGet:
		var doc shadow.Document
		doc, err = s.Get(thing, shadowName)
		if err == nil {
			s.publish(base+"/get/accepted", shadow.GetResponse(doc, shadow.ClientToken(payload, s.lim), now.Unix()))
			return
		}
	case protocol.ShadowUpdate:
		_, err = s.Update(thing, shadowName, payload, by, now)
	case protocol.ShadowDelete:
		_, err = s.delete(thing, shadowName, shadow.ClientToken(payload, s.lim), by, now)
	default:
		s.logger.Warn("unknown shadow operation", "device", thing, "shadow", shadowName, "op", op)
		return
	}
	if err == nil {
		return
	}
	var se *shadow.Error
	if !errors.As(err, &se) {
		s.logger.Error("cannot handle shadow request", "device", thing, "shadow", shadowName, "op", op, "error", err)
		se = &shadow.Error{Code: http.StatusInternalServerError, Message: msgInternal}
	}
	s.publish(base+"/"+op+"/rejected", shadow.ErrorResponse(se, shadow.ClientToken(payload, s.lim), now.Unix()))
}

// ResendDelta publishes a shadow's delta again, when desired still differs
// from reported, for a device that may have missed it; it reports whether
// there was one. The scheduler uses it to push a program again without a
// new version in the history.
func (s *Shadows) ResendDelta(thing, shadowName string) (bool, error) {
	doc, err := s.Get(thing, shadowName)
	if err != nil {
		return false, err
	}
	msg := shadow.DeltaResponse(doc, s.now().Unix())
	if msg == nil {
		return false, nil
	}
	if err := s.pub.Publish(protocol.ShadowTopic(thing, shadowName)+"/update/delta", msg, qosShadow); err != nil {
		return false, fmt.Errorf("resend the delta of %q: %w", thing, err)
	}
	return true, nil
}

// PendingDelta returns the update/delta message of a shadow whose desired
// state differs from its reported state, carrying the shadow's current
// version; ok is false when none is pending. The broker sends it to a
// device that subscribes to its delta topic, so a device that was offline
// while desired changed still receives the setting.
func (s *Shadows) PendingDelta(thing, shadowName string) ([]byte, bool) {
	doc, err := s.Get(thing, shadowName)
	if err != nil {
		var se *shadow.Error
		if !errors.As(err, &se) {
			s.logger.Error("cannot read pending delta", "device", thing, "shadow", shadowName, "error", err)
		}
		return nil, false
	}
	msg := shadow.DeltaResponse(doc, s.now().Unix())
	return msg, msg != nil
}
