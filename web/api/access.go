package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/store"
)

// Scope is what one principal may see and do, for Go callers: the web
// pages use it, so a page shows and changes exactly what the same
// principal could through the REST routes. Its methods decide tenancy with
// the functions of scope.go, as the routes do; records of other customers
// answer like records that do not exist.
type Scope struct {
	a *API
	p Principal
}

// ErrNoAccess is what Scope returns for a principal that is not valid (no
// role, or a customer role without a customer).
var ErrNoAccess = errors.New("no access")

// Scope returns what p may see and do.
func (a *API) Scope(p Principal) Scope { return Scope{a: a, p: p} }

// Principal is who the scope acts for.
func (s Scope) Principal() Principal { return s.p }

func (s Scope) check() error {
	if !s.p.valid() {
		return ErrNoAccess
	}
	return nil
}

// DeviceView is a device with its connection state.
type DeviceView struct {
	store.Device
	Presence    device.PresenceInfo
	HasPresence bool // false when the server has no presence source
}

func (s Scope) view(d store.Device) DeviceView {
	v := DeviceView{Device: d}
	if s.a.presence != nil {
		v.Presence, _ = s.a.presence.Get(d.Name)
		v.HasPresence = true
	}
	return v
}

// Customers returns the customers p may see: all for an operator, its own
// for a customer.
func (s Scope) Customers() ([]store.Customer, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.p.operator() {
		return s.a.store.ListCustomers()
	}
	c, err := s.a.store.GetCustomer(s.p.Customer)
	if err != nil {
		return nil, err
	}
	return []store.Customer{c}, nil
}

// Sites returns the sites of a customer p may see ("" for every customer
// of an operator, the own one of a customer).
func (s Scope) Sites(customer string) ([]store.Site, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	f, err := deviceFilter(s.p, customer, "")
	if err != nil {
		return nil, err
	}
	return s.a.store.ListSites(f.Customer)
}

// Devices returns the devices of a customer and site p may see; empty
// strings mean all of them.
func (s Scope) Devices(customer, site string) ([]DeviceView, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	f, err := deviceFilter(s.p, customer, site)
	if err != nil {
		return nil, err
	}
	ds, err := s.a.registry.Devices(f)
	if err != nil {
		return nil, err
	}
	out := make([]DeviceView, len(ds))
	for i, d := range ds {
		out[i] = s.view(d)
	}
	return out, nil
}

// Device returns a device p may see; another customer's is a 404.
func (s Scope) Device(name string) (DeviceView, error) {
	if err := s.check(); err != nil {
		return DeviceView{}, err
	}
	d, err := s.a.deviceFor(s.p, name)
	if err != nil {
		return DeviceView{}, err
	}
	return s.view(d), nil
}

// Latest returns the newest value of each metric of a device p may see,
// sorted by metric; none when the server has no telemetry.
func (s Scope) Latest(name string) ([]LatestValue, error) {
	d, err := s.Device(name)
	if err != nil {
		return nil, err
	}
	return s.LatestOf(d)
}

// LatestOf is Latest for a device the scope has listed (Devices), without
// reading the device again: a page that shows every device's values would
// otherwise read each twice. A device of another customer is not found,
// as in Latest.
func (s Scope) LatestOf(d DeviceView) ([]LatestValue, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if !s.p.operator() && d.Customer != s.p.Customer {
		return nil, notFound("device")
	}
	if s.a.telemetry == nil {
		return nil, nil
	}
	out := s.a.telemetry.Latest(d.Name, d.Customer)
	out = slices.DeleteFunc(out, func(v LatestValue) bool { return math.IsNaN(v.Value) || math.IsInf(v.Value, 0) })
	slices.SortFunc(out, func(x, y LatestValue) int { return strings.Compare(x.Metric, y.Metric) })
	return out, nil
}

// Point is one step of a downsampled series; Value is the average of the
// step.
type Point struct {
	Timestamp int64 // unix milliseconds
	Value     float64
}

// Series returns one metric of a device p may see from start to end, one
// average per step, computed by the query engine (avg_over_time), so a
// chart gets as many points as it is wide whatever the range.
func (s Scope) Series(ctx context.Context, name, metric string, start, end time.Time, step time.Duration) ([]Point, error) {
	d, err := s.Device(name)
	if err != nil {
		return nil, err
	}
	if s.a.telemetry == nil {
		return nil, unavailable("telemetry is not available on this server")
	}
	if !validMetricName(metric) {
		return nil, invalid("metric %q: a metric name is a letter or '_' followed by letters, digits and '_'", metric)
	}
	secs := int64(step / time.Second)
	if secs < 1 {
		secs = 1
	}
	q := fmt.Sprintf("avg_over_time({__name__=%s,device=%s,customer=%s}[%ds])",
		strconv.Quote(metric), strconv.Quote(d.Name), strconv.Quote(d.Customer), secs)
	series, err := s.a.telemetry.QueryRange(ctx, q, start, end, time.Duration(secs)*time.Second)
	if err != nil {
		return nil, fmt.Errorf("query %q of device %q: %w", metric, d.Name, err)
	}
	steps := stepValues(series)
	out := make([]Point, 0, len(steps))
	for ts, v := range steps {
		out = append(out, Point{Timestamp: ts, Value: v.sum / float64(v.n)})
	}
	slices.SortFunc(out, func(x, y Point) int { return int(x.Timestamp - y.Timestamp) })
	return out, nil
}

// Shadow returns the classic (name "") or a named shadow of a device p may
// see, with the reported values that break its type's settings.
func (s Scope) Shadow(name, shadowName string) (shadow.Document, []settings.Violation, error) {
	if _, err := s.Device(name); err != nil {
		return shadow.Document{}, nil, err
	}
	if s.a.shadows == nil {
		return shadow.Document{}, nil, unavailable("device shadows are not available on this server")
	}
	doc, err := s.a.shadows.Get(name, shadowName)
	if err != nil {
		return shadow.Document{}, nil, err
	}
	vs, err := s.a.shadows.Violations(name, shadowName, doc)
	if err != nil {
		s.a.logger.Warn("cannot check shadow against settings", "device", name, "shadow", shadowName, "error", err)
	}
	return doc, vs, nil
}

// UpdateShadow applies an AWS update document to a shadow of a device p
// may see, recorded with p as the actor; a customer is held to the
// customer-editable settings. The answer is the update/accepted document.
func (s Scope) UpdateShadow(name, shadowName string, body []byte) ([]byte, error) {
	if _, err := s.Device(name); err != nil {
		return nil, err
	}
	if !s.p.MayChangeSettings() {
		return nil, &shadow.Error{Code: http.StatusForbidden, Message: "viewers may read settings but not change them"}
	}
	if s.a.shadows == nil {
		return nil, unavailable("device shadows are not available on this server")
	}
	return s.a.shadows.Update(name, shadowName, body, shadowActor(s.p), s.a.now())
}

// Settings returns the settings that apply to a device p may see, and its
// type's name; nil when none apply.
func (s Scope) Settings(name string) (*settings.Schema, string, error) {
	if _, err := s.Device(name); err != nil {
		return nil, "", err
	}
	if s.a.types == nil {
		return nil, "", nil
	}
	return s.a.types.SettingsOf(name)
}

// History returns the shadow history of a device p may see, newest first;
// q.Device is set from name. A customer sees only what happened since the
// device was registered.
func (s Scope) History(name string, q store.HistoryQuery) ([]store.HistoryEntry, string, error) {
	d, err := s.Device(name)
	if err != nil {
		return nil, "", err
	}
	q.Device = d.Name
	if !s.p.operator() && q.From.Before(d.CreatedAt) {
		q.From = d.CreatedAt
	}
	if !q.To.IsZero() && !q.To.After(q.From) {
		return nil, "", nil
	}
	return s.a.store.History(q)
}

// ErrorStatus is the HTTP status and message the API answers err with, for
// pages that show errors their own way, so both map errors alike; a 500's
// message is generic, and the error is logged with r's method and path.
func (a *API) ErrorStatus(r *http.Request, err error) (int, string) {
	rec := &errorRecorder{header: http.Header{}}
	a.writeError(rec, r, err)
	var body errorBody
	if json.Unmarshal(rec.body.Bytes(), &body) != nil {
		return rec.status, "internal error"
	}
	return rec.status, body.Error.Message
}

// errorRecorder keeps what writeError writes.
type errorRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (e *errorRecorder) Header() http.Header         { return e.header }
func (e *errorRecorder) WriteHeader(status int)      { e.status = status }
func (e *errorRecorder) Write(b []byte) (int, error) { return e.body.Write(b) }

// Audit returns the audit log, newest first; operators only.
func (s Scope) Audit(q store.AuditQuery) ([]store.AuditEntry, string, error) {
	if err := s.check(); err != nil {
		return nil, "", err
	}
	if !s.p.operator() {
		return nil, "", forbidden("the audit log is for operators")
	}
	return s.a.store.Audit(q)
}
