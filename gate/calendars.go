package gate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store"
)

// Scheduler is the running scheduler, told of every change to calendars
// and assignments so that a change affecting today takes effect today;
// *scheduler.Scheduler implements it.
type Scheduler interface {
	CalendarsChanged(ctx context.Context) error
	PushNow(ctx context.Context, calendar string) ([]store.PushRecord, error)
	Retry(ctx context.Context, device string) (store.PushRecord, error)
	CalendarOf(device string) (*scheduler.Compiled, bool)
	Record(device, date string) (store.PushRecord, bool)
	Devices(calendar string) []string
}

// CalendarStore keeps calendars, their assignments and the pushes;
// *store.Store implements it.
type CalendarStore interface {
	PutCalendar(c store.Calendar) (store.Calendar, bool, error)
	GetCalendar(id string) (store.Calendar, error)
	ListCalendars() ([]store.Calendar, error)
	DeleteCalendar(id string) error
	PutAssignments(as []store.Assignment) error
	DeleteAssignment(kind, customer, target string) error
	ListAssignments() ([]store.Assignment, error)
	PushRecords(device string, keep func(device, date string) bool) ([]store.PushRecord, error)
}

// calendars is the calendar store and the scheduler, or why there are
// none.
func (s Scope) calendars() (CalendarStore, Scheduler, error) {
	if err := s.check(); err != nil {
		return nil, nil, err
	}
	if s.g.calendars == nil || s.g.scheduler == nil {
		return nil, nil, Unavailable("operating calendars are not available on this server")
	}
	return s.g.calendars, s.g.scheduler, nil
}

// visibleCalendar returns a calendar p may see: any for an operator; for a
// customer its own and the operators' templates. Another customer's reads
// as absent.
func (s Scope) visibleCalendar(id string) (store.Calendar, error) {
	cs, _, err := s.calendars()
	if err != nil {
		return store.Calendar{}, err
	}
	c, err := cs.GetCalendar(id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.p.Operator() && c.Customer != "" && c.Customer != s.p.Customer {
		return store.Calendar{}, NotFound("calendar")
	}
	return c, err
}

// mayEdit refuses a change to c by p: operators change any calendar; a
// customer's admins and editors change their own calendars that the
// operators marked customer-editable, never a template.
func (s Scope) mayEdit(c store.Calendar, what string) error {
	if s.p.Operator() {
		return nil
	}
	switch {
	case c.Customer != s.p.Customer:
		return Forbidden(what + ": operators' templates are changed by operators; copy one to make it your own")
	case !s.p.MayChangeSettings():
		return Forbidden("viewers may read calendars but not change them")
	case !c.CustomerEditable:
		return Forbidden(what + ": this calendar is changed by your energy-service provider; ask them to let you edit it")
	}
	return nil
}

// CalendarDay is what runs on one date and why, as the scheduler works it
// out; named here so that the channels need not import the scheduler.
type CalendarDay = scheduler.Day

// CalendarCountries lists the codes of the countries whose public holidays
// a calendar may follow ("JP", ...), for a form to offer.
func CalendarCountries() []string { return scheduler.Countries() }

// CalendarEditable says whether p may change c, and if not, why: a page
// shows a calendar's forms, or a note instead of them, by it.
func (s Scope) CalendarEditable(c store.Calendar) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.mayEdit(c, "changing this calendar")
}

// Calendars lists the calendars p may see, sorted by ID: a customer's own
// and the templates it may copy.
func (s Scope) Calendars() ([]store.Calendar, error) {
	cs, _, err := s.calendars()
	if err != nil {
		return nil, err
	}
	all, err := cs.ListCalendars()
	if err != nil {
		return nil, err
	}
	if s.p.Operator() {
		return all, nil
	}
	return slices.DeleteFunc(all, func(c store.Calendar) bool { return c.Customer != "" && c.Customer != s.p.Customer }), nil
}

// Calendar returns one calendar p may see.
func (s Scope) Calendar(id string) (store.Calendar, error) { return s.visibleCalendar(id) }

// PutCalendar creates a calendar or replaces the one with its ID, and says
// which it did. The calendar is checked whole first (its zone, its day
// types' steps against the settings of its device type, seasons and
// closures that do not overlap): a refusal names the part and nothing is
// stored. A change that affects today's programs is pushed at once.
func (s Scope) PutCalendar(ctx context.Context, c store.Calendar) (store.Calendar, bool, error) {
	cs, sched, err := s.calendars()
	if err != nil {
		return store.Calendar{}, false, err
	}
	old, err := cs.GetCalendar(c.ID)
	exists := err == nil
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return store.Calendar{}, false, err
	case !s.p.Operator() && old.Customer != s.p.Customer && old.Customer != "":
		// Another customer's calendar reads, to a customer, as one that
		// does not exist; and customers do not create calendars.
		exists = false
	}
	if exists {
		if err := s.mayEdit(old, "changing this calendar"); err != nil {
			return store.Calendar{}, false, err
		}
		c.FeedSecret = old.FeedSecret // never set through a change
		if c.Customer != old.Customer {
			return store.Calendar{}, false, Invalid(`field "customer": a calendar stays with %s; copy it to give another its own`, ownerOf(old.Customer))
		}
		if !s.p.Operator() && (c.CustomerEditable != old.CustomerEditable || c.DeviceType != old.DeviceType) {
			return store.Calendar{}, false, Forbidden(`fields "customer_editable" and "device_type" are set by your energy-service provider`)
		}
	} else {
		if !s.p.Operator() {
			return store.Calendar{}, false, Forbidden("creating calendars is for operators; copy a template to make your own")
		}
		if c.Customer != "" {
			if _, err := s.g.store.GetCustomer(c.Customer); err != nil {
				return store.Calendar{}, false, missingReference("customer", c.Customer, err)
			}
		}
	}
	return s.storeCalendar(ctx, cs, sched, c)
}

// storeCalendar checks and stores a calendar and tells the scheduler.
func (s Scope) storeCalendar(ctx context.Context, cs CalendarStore, sched Scheduler, c store.Calendar) (store.Calendar, bool, error) {
	if c.TimeZone == "" {
		c.TimeZone = scheduler.DefaultTimeZone
	}
	if c.PushAt == "" {
		c.PushAt = scheduler.DefaultPushAt
	}
	var types scheduler.Settings
	if s.g.types != nil {
		types = s.g.types
	}
	if _, err := scheduler.Compile(c, types); err != nil {
		return store.Calendar{}, false, err
	}
	out, created, err := cs.PutCalendar(c)
	if err != nil {
		return store.Calendar{}, false, err
	}
	if err := sched.CalendarsChanged(ctx); err != nil {
		s.g.logger.Warn("calendar stored; today's programs not pushed again", "calendar", c.ID, "error", err)
	}
	return out, created, nil
}

func ownerOf(customer string) string {
	if customer == "" {
		return "the operators (a template)"
	}
	return "customer " + customer
}

// CopyCalendar copies a calendar p may see (a template, typically) to a new
// one of customer with id and name: the customer's own, editable by its
// admins and editors. A customer copies for itself only.
func (s Scope) CopyCalendar(ctx context.Context, from, id, name, customer string) (store.Calendar, error) {
	cs, sched, err := s.calendars()
	if err != nil {
		return store.Calendar{}, err
	}
	src, err := s.visibleCalendar(from)
	if err != nil {
		return store.Calendar{}, err
	}
	if !s.p.Operator() {
		if customer != "" && customer != s.p.Customer {
			return store.Calendar{}, NotFound("customer")
		}
		if !s.p.MayChangeSettings() {
			return store.Calendar{}, Forbidden("viewers may read calendars but not copy them")
		}
		customer = s.p.Customer
	}
	if customer == "" {
		return store.Calendar{}, Invalid(`field "customer": required; the customer the copy is for`)
	}
	if _, err := s.g.store.GetCustomer(customer); err != nil {
		return store.Calendar{}, missingReference("customer", customer, err)
	}
	if _, err := cs.GetCalendar(id); err == nil {
		return store.Calendar{}, Refuse(KindExists, "calendar id %q is taken; choose another", id)
	}
	c := src
	c.ID, c.Customer, c.CustomerEditable, c.FeedSecret = id, customer, true, ""
	if name != "" {
		c.Name = name
	}
	out, _, err := s.storeCalendar(ctx, cs, sched, c)
	return out, err
}

// DeleteCalendar deletes a calendar no device, site or device type is
// assigned to; operators only.
func (s Scope) DeleteCalendar(id string) error {
	cs, _, err := s.calendars()
	if err != nil {
		return err
	}
	if _, err := s.visibleCalendar(id); err != nil {
		return err
	}
	if err := s.operatorOnly("deleting calendars"); err != nil {
		return err
	}
	return cs.DeleteCalendar(id)
}

// CalendarDays says what a calendar p may see runs on each date from from
// to to, and why.
func (s Scope) CalendarDays(id string, from, to time.Time) ([]scheduler.Day, error) {
	c, err := s.visibleCalendar(id)
	if err != nil {
		return nil, err
	}
	cc, err := scheduler.Compile(c, nil)
	if err != nil {
		return nil, fmt.Errorf("stored calendar %q: %w", id, err)
	}
	return cc.Days(from, to)
}

// Assignment targets of one calendar, by kind.
type AssignmentTargets struct {
	Devices     []string `json:"devices"`
	Sites       []string `json:"sites"`
	DeviceTypes []string `json:"device_types"`
}

// CalendarAssignments lists what a calendar p may see is assigned to.
func (s Scope) CalendarAssignments(id string) (AssignmentTargets, error) {
	cs, _, err := s.calendars()
	if err != nil {
		return AssignmentTargets{}, err
	}
	if _, err := s.visibleCalendar(id); err != nil {
		return AssignmentTargets{}, err
	}
	as, err := cs.ListAssignments()
	if err != nil {
		return AssignmentTargets{}, err
	}
	out := AssignmentTargets{Devices: []string{}, Sites: []string{}, DeviceTypes: []string{}}
	for _, a := range as {
		if a.Calendar != id {
			continue
		}
		switch a.Kind {
		case store.AssignDevice:
			out.Devices = append(out.Devices, a.Target)
		case store.AssignSite:
			out.Sites = append(out.Sites, a.Target)
		case store.AssignType:
			out.DeviceTypes = append(out.DeviceTypes, a.Target)
		}
	}
	return out, nil
}

// MaxAssignments bounds one bulk assignment.
const MaxAssignments = 10000

// Assign gives a calendar to devices, to every device of sites and to the
// customer's devices of device types, all or none, each replacing what the
// target had. A device's own calendar wins over its site's, which wins
// over its type's. Operators assign any calendar of a customer; a
// customer's editors their own customer-editable calendars.
func (s Scope) Assign(ctx context.Context, id string, t AssignmentTargets) error {
	cs, sched, err := s.calendars()
	if err != nil {
		return err
	}
	c, err := s.visibleCalendar(id)
	if err != nil {
		return err
	}
	if c.Customer == "" {
		return Invalid("calendar %q is a template: copy it to a customer's calendar to assign it", id)
	}
	if err := s.mayEdit(c, "assigning this calendar"); err != nil {
		return err
	}
	var as []store.Assignment
	for _, g := range []struct {
		kind    string
		targets []string
	}{{store.AssignDevice, t.Devices}, {store.AssignSite, t.Sites}, {store.AssignType, t.DeviceTypes}} {
		for _, target := range g.targets {
			if strings.TrimSpace(target) == "" {
				return Invalid("an empty %s name in the assignment", g.kind)
			}
			as = append(as, store.Assignment{Kind: g.kind, Customer: c.Customer, Target: target, Calendar: id})
		}
	}
	switch {
	case len(as) == 0:
		return Invalid(`nothing to assign: list "devices", "sites" or "device_types"`)
	case len(as) > MaxAssignments:
		return Invalid("%d assignments at once; at most %d are accepted", len(as), MaxAssignments)
	}
	if err := cs.PutAssignments(as); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Invalid("%v", err)
		}
		return err
	}
	if err := sched.CalendarsChanged(ctx); err != nil {
		s.g.logger.Warn("assignments stored; today's programs not pushed again", "calendar", id, "error", err)
	}
	return nil
}

// Unassign removes one assignment of a calendar: kind is device, site or
// type.
func (s Scope) Unassign(ctx context.Context, id, kind, target string) error {
	cs, sched, err := s.calendars()
	if err != nil {
		return err
	}
	c, err := s.visibleCalendar(id)
	if err != nil {
		return err
	}
	if err := s.mayEdit(c, "unassigning this calendar"); err != nil {
		return err
	}
	as, err := cs.ListAssignments()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(as, func(a store.Assignment) bool {
		return a.Kind == kind && a.Customer == c.Customer && a.Target == target && a.Calendar == id
	}) {
		return NotFound("assignment")
	}
	if err := cs.DeleteAssignment(kind, c.Customer, target); err != nil {
		return err
	}
	if err := sched.CalendarsChanged(ctx); err != nil {
		s.g.logger.Warn("assignment removed; programs not worked out again", "calendar", id, "error", err)
	}
	return nil
}

// PushSummary is a calendar's pushes of one day.
type PushSummary struct {
	Calendar string             `json:"calendar"`
	Date     string             `json:"date"`
	Counts   map[string]int     `json:"counts"`
	Devices  []store.PushRecord `json:"devices"`
}

func summarize(calendar, date string, recs []store.PushRecord) PushSummary {
	out := PushSummary{Calendar: calendar, Date: date, Devices: recs,
		Counts: map[string]int{store.PushVerified: 0, store.PushPending: 0, store.PushOffline: 0, store.PushRejected: 0, store.PushFailed: 0}}
	for _, r := range recs {
		out.Counts[r.Status]++
	}
	if out.Devices == nil {
		out.Devices = []store.PushRecord{}
	}
	return out
}

// PushCalendar pushes today's program of a calendar to every device it
// applies to, at once, and answers each device's result.
func (s Scope) PushCalendar(ctx context.Context, id string) (PushSummary, error) {
	_, sched, err := s.calendars()
	if err != nil {
		return PushSummary{}, err
	}
	c, err := s.visibleCalendar(id)
	if err != nil {
		return PushSummary{}, err
	}
	if err := s.mayEdit(c, "pushing this calendar"); err != nil {
		return PushSummary{}, err
	}
	recs, err := sched.PushNow(ctx, id)
	if err != nil {
		return PushSummary{}, err
	}
	date := ""
	if cc, err := scheduler.Compile(c, nil); err == nil {
		date = cc.Today(s.g.now()).Format(time.DateOnly)
	}
	return summarize(id, date, recs), nil
}

// CalendarPushes answers what happened to a calendar's pushes of a date
// (the calendar's today when date is zero).
func (s Scope) CalendarPushes(id string, date time.Time) (PushSummary, error) {
	_, sched, err := s.calendars()
	if err != nil {
		return PushSummary{}, err
	}
	c, err := s.visibleCalendar(id)
	if err != nil {
		return PushSummary{}, err
	}
	cc, err := scheduler.Compile(c, nil)
	if err != nil {
		return PushSummary{}, fmt.Errorf("stored calendar %q: %w", id, err)
	}
	if date.IsZero() {
		date = cc.Today(s.g.now())
	}
	ds := date.Format(time.DateOnly)
	var recs []store.PushRecord
	for _, dev := range sched.Devices(id) {
		if r, ok := sched.Record(dev, ds); ok && r.Calendar == id {
			recs = append(recs, r)
		}
	}
	return summarize(id, ds, recs), nil
}

// DeviceSchedule is what a device runs from day to day, and why.
type DeviceSchedule struct {
	Device   string          `json:"device"`
	Calendar string          `json:"calendar"`
	TimeZone string          `json:"time_zone"`
	Days     []scheduler.Day `json:"days"`
}

// DeviceSchedule says what a device p may see runs on each date from from
// to to (its calendar's dates), and why; a device without a calendar runs
// none.
func (s Scope) DeviceSchedule(name string, from, to time.Time) (DeviceSchedule, error) {
	if _, err := s.deviceFor(name); err != nil {
		return DeviceSchedule{}, err
	}
	_, sched, err := s.calendars()
	if err != nil {
		return DeviceSchedule{}, err
	}
	cc, ok := sched.CalendarOf(name)
	if !ok {
		return DeviceSchedule{}, Refuse(KindNotFound, "device %q has no operating calendar: assign one to it, its site or its device type", name)
	}
	if from.IsZero() {
		from = cc.Today(s.g.now())
	}
	if to.IsZero() {
		to = from.AddDate(0, 0, 6)
	}
	days, err := cc.Days(from, to)
	if err != nil {
		return DeviceSchedule{}, Invalid("%v", err)
	}
	c := cc.Calendar()
	return DeviceSchedule{Device: name, Calendar: c.ID, TimeZone: c.TimeZone, Days: days}, nil
}

// DevicePushes lists a device's pushes, newest day first, at most limit.
func (s Scope) DevicePushes(name string, limit int) ([]store.PushRecord, error) {
	if _, err := s.deviceFor(name); err != nil {
		return nil, err
	}
	cs, sched, err := s.calendars()
	if err != nil {
		return nil, err
	}
	recs, err := cs.PushRecords(name, nil)
	if err != nil {
		return nil, err
	}
	// The open record of today is newer in memory.
	if len(recs) > 0 {
		if r, ok := sched.Record(name, recs[0].Date); ok {
			recs[0] = r
		}
	}
	if limit > 0 && len(recs) > limit {
		recs = recs[:limit]
	}
	if recs == nil {
		recs = []store.PushRecord{}
	}
	return recs, nil
}

// RetryPush pushes a device's program of today again at once; operators,
// and the customer's editors.
func (s Scope) RetryPush(ctx context.Context, name string) (store.PushRecord, error) {
	if _, err := s.deviceFor(name); err != nil {
		return store.PushRecord{}, err
	}
	_, sched, err := s.calendars()
	if err != nil {
		return store.PushRecord{}, err
	}
	if !s.p.MayChangeSettings() {
		return store.PushRecord{}, Forbidden("viewers may read schedules but not push them")
	}
	rec, err := sched.Retry(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.PushRecord{}, Refuse(KindNotFound, "device %q has no operating calendar", name)
	}
	return rec, err
}

// FleetPushStatus counts the pushes of a date (UTC's today when zero) by
// customer and status: every customer's for an operator, its own for a
// customer.
func (s Scope) FleetPushStatus(date time.Time) (map[string]map[string]int, error) {
	cs, _, err := s.calendars()
	if err != nil {
		return nil, err
	}
	if date.IsZero() {
		date = s.g.now().UTC()
	}
	ds := date.Format(time.DateOnly)
	recs, err := cs.PushRecords("", func(_, d string) bool { return d == ds })
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]int{}
	for _, r := range recs {
		if !s.p.Operator() && r.Customer != s.p.Customer {
			continue
		}
		if out[r.Customer] == nil {
			out[r.Customer] = map[string]int{}
		}
		out[r.Customer][r.Status]++
	}
	return out, nil
}

// CalendarCSV is a calendar's closures and exceptions (those that name a
// day type) as CSV, as customers keep them in spreadsheets.
func (s Scope) CalendarCSV(id string) ([]byte, error) {
	c, err := s.visibleCalendar(id)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := scheduler.WriteCSV(&b, c); err != nil {
		return nil, fmt.Errorf("write calendar %q as CSV: %w", id, err)
	}
	return b.Bytes(), nil
}

// ImportCalendarCSV replaces a calendar's closures and its exceptions that
// name a day type with those of a CSV file; exceptions with steps of their
// own stay. Every bad row is reported with its line, and the calendar is
// checked whole with the file's rows: on any refusal nothing changes.
func (s Scope) ImportCalendarCSV(ctx context.Context, id string, file []byte) (store.Calendar, error) {
	cs, sched, err := s.calendars()
	if err != nil {
		return store.Calendar{}, err
	}
	c, err := s.visibleCalendar(id)
	if err != nil {
		return store.Calendar{}, err
	}
	if err := s.mayEdit(c, "importing into this calendar"); err != nil {
		return store.Calendar{}, err
	}
	closures, exceptions, err := scheduler.ReadCSV(bytes.NewReader(file))
	if err != nil {
		return store.Calendar{}, err
	}
	for _, ex := range c.Exceptions {
		if len(ex.Steps) > 0 {
			exceptions = append(exceptions, ex)
		}
	}
	c.Closures, c.Exceptions = closures, exceptions
	out, _, err := s.storeCalendar(ctx, cs, sched, c)
	return out, err
}

// Window of days an iCalendar feed holds: a month back, thirteen ahead.
const (
	feedBefore = 31
	feedAfter  = 396
)

// CalendarICal is a calendar's closures, holidays and exceptions as an
// iCalendar feed.
func (s Scope) CalendarICal(id string) (string, error) {
	c, err := s.visibleCalendar(id)
	if err != nil {
		return "", err
	}
	return s.g.ical(c)
}

func (g *Gate) ical(c store.Calendar) (string, error) {
	cc, err := scheduler.Compile(c, nil)
	if err != nil {
		return "", fmt.Errorf("stored calendar %q: %w", c.ID, err)
	}
	now := g.now()
	today := cc.Today(now)
	return cc.ICal(today.AddDate(0, 0, -feedBefore), today.AddDate(0, 0, feedAfter), now)
}

// CalendarFeed is a calendar's iCalendar feed for a calendar program that
// fetches it without signing in: the secret of its address is the
// credential. A wrong secret reads like a calendar that does not exist.
func (g *Gate) CalendarFeed(id, secret string) (string, error) {
	if g.calendars == nil {
		return "", Unavailable("operating calendars are not available on this server")
	}
	c, err := g.calendars.GetCalendar(id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (c.FeedSecret == "" || subtle.ConstantTimeCompare([]byte(c.FeedSecret), []byte(secret)) != 1) {
		return "", NotFound("calendar")
	}
	if err != nil {
		return "", err
	}
	return g.ical(c)
}

// CalendarFeedSecret returns the secret of a calendar's feed address,
// making one the first time or when rotate is set (the old address then
// stops working). Whoever may see the calendar may subscribe to it.
func (s Scope) CalendarFeedSecret(id string, rotate bool) (string, error) {
	cs, _, err := s.calendars()
	if err != nil {
		return "", err
	}
	c, err := s.visibleCalendar(id)
	if err != nil {
		return "", err
	}
	if c.FeedSecret != "" && !rotate {
		return c.FeedSecret, nil
	}
	if rotate {
		if err := s.mayEdit(c, "changing this calendar's feed address"); err != nil {
			return "", err
		}
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a feed secret: %w", err)
	}
	c.FeedSecret = hex.EncodeToString(b[:])
	if _, _, err := cs.PutCalendar(c); err != nil {
		return "", err
	}
	return c.FeedSecret, nil
}

// MaxCalendarCSVBytes bounds an imported CSV file of closures and
// exceptions.
const MaxCalendarCSVBytes = scheduler.MaxCSVBytes
