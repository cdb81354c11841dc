package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Calendar is a yearly operating calendar: the daily program a device runs
// on each day of the year, by day types, a weekly pattern, seasons,
// holidays, closures and exceptions. The store checks its shape; what it
// means (steps in order, seasons that do not overlap, settings within the
// device type's rules) is the scheduler's to check.
type Calendar struct {
	// ID names the calendar in URLs: letters, digits, '.', '_' and '-',
	// unique among all calendars.
	ID string `json:"id"`
	// Customer owns the calendar; empty for an operators' template, which
	// customers copy.
	Customer string `json:"customer,omitempty"`
	Name     string `json:"name"`
	// DeviceType is the type of the devices the calendar is for; its
	// settings' rules check the steps. Empty checks nothing.
	DeviceType string `json:"device_type,omitempty"`
	// TimeZone is an IANA zone ("Asia/Tokyo").
	TimeZone string `json:"time_zone"`
	// PushAt is the local time of day ("00:05") the day's program is
	// written to the devices.
	PushAt string `json:"push_at"`
	// CustomerEditable lets the customer's editors change the calendar;
	// otherwise only operators do.
	CustomerEditable bool                `json:"customer_editable,omitempty"`
	DayTypes         []CalendarDayType   `json:"day_types"`
	Weekly           CalendarWeek        `json:"weekly"`
	Seasons          []CalendarSeason    `json:"seasons,omitempty"`
	Holidays         CalendarHolidays    `json:"holidays"`
	Closures         []CalendarClosure   `json:"closures,omitempty"`
	Exceptions       []CalendarException `json:"exceptions,omitempty"`
	// FeedSecret is the unguessable part of the address of the calendar's
	// iCalendar feed, which calendar programs fetch without signing in;
	// empty until a feed address is first asked for.
	FeedSecret string    `json:"feed_secret,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CalendarDayType is a kind of day and the program it runs.
type CalendarDayType struct {
	Name  string         `json:"name"`
	Label string         `json:"label,omitempty"`
	Steps []CalendarStep `json:"steps"`
}

// CalendarStep is one change of settings at a local time of day.
type CalendarStep struct {
	At  string         `json:"at"` // "HH:MM"
	Set map[string]any `json:"set"`
}

// CalendarWeek names the day type of each day of the week, by lower-case
// English day name ("monday" … "sunday").
type CalendarWeek map[string]string

// CalendarSeason switches the weekly pattern for a range of dates of every
// year: From and To are "MM-DD", both included; From after To runs over
// the new year (November to April).
type CalendarSeason struct {
	Name   string       `json:"name"`
	From   string       `json:"from"`
	To     string       `json:"to"`
	Weekly CalendarWeek `json:"weekly"`
}

// CalendarHolidays maps a country's public holidays to a day type.
// Country is an ISO 3166 code ("JP"); empty turns holidays off.
type CalendarHolidays struct {
	Country string `json:"country,omitempty"`
	DayType string `json:"day_type,omitempty"`
}

// CalendarClosure is a named range of dates with its own day type: every
// year when From and To are "MM-DD" (年末年始 12-29 to 01-03), once when
// they are "YYYY-MM-DD".
type CalendarClosure struct {
	Name    string `json:"name"`
	From    string `json:"from"`
	To      string `json:"to"`
	DayType string `json:"day_type"`
}

// CalendarException is one date with a day type or steps of its own.
type CalendarException struct {
	Date    string         `json:"date"` // "YYYY-MM-DD"
	Name    string         `json:"name,omitempty"`
	DayType string         `json:"day_type,omitempty"`
	Steps   []CalendarStep `json:"steps,omitempty"`
}

// maxCalendarSize bounds one calendar's record: a year of exceptions with
// steps fits many times over.
const maxCalendarSize = 1 << 20

// checkCalendar checks a calendar's shape.
func checkCalendar(c Calendar) error {
	if err := checkSlug("calendar id", c.ID); err != nil {
		return err
	}
	if err := checkName("calendar name", c.Name); err != nil {
		return err
	}
	if err := checkText("device type", c.DeviceType, maxNameLen, false); err != nil {
		return err
	}
	if err := checkText("time zone", c.TimeZone, maxNameLen, true); err != nil {
		return err
	}
	return nil
}

// PutCalendar creates a calendar or replaces the one with its ID, and says
// which it did. A customer's calendar needs the customer; a replaced
// calendar keeps its customer (ErrInvalid otherwise). Times are set here.
func (s *Store) PutCalendar(c Calendar) (Calendar, bool, error) {
	if err := checkCalendar(c); err != nil {
		return Calendar{}, false, fmt.Errorf("put calendar %q: %w", c.ID, err)
	}
	created := false
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketCalendars))
		var err error
		created, err = stampOwned(b, tx, "calendar", c.ID, &c, func(c *Calendar) (string, *time.Time, *time.Time) {
			return c.Customer, &c.CreatedAt, &c.UpdatedAt
		})
		if err != nil {
			return err
		}
		data, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if len(data) > maxCalendarSize {
			return fmt.Errorf("the calendar is %d bytes as stored, at most %d are accepted: %w", len(data), maxCalendarSize, ErrInvalid)
		}
		return b.Put([]byte(c.ID), data)
	})
	if err != nil {
		return Calendar{}, false, fmt.Errorf("put calendar %q: %w", c.ID, err)
	}
	return c, created, nil
}

func ownerName(customer string) string {
	if customer == "" {
		return "the operators"
	}
	return "customer " + customer
}

// stampOwned readies r, a record of a customer's (or of the operators',
// for customer "") about to be put under key of b: a record replaced keeps
// its owner (ErrInvalid otherwise) and its creation time; a new one's
// customer must exist. It sets the times and reports whether r is new.
// what names the record for the message.
func stampOwned[T any](b *bolt.Bucket, tx *bolt.Tx, what, key string, r *T, fields func(*T) (customer string, created, updated *time.Time)) (bool, error) {
	var old T
	ok, err := getJSON(b, []byte(key), &old)
	if err != nil {
		return false, err
	}
	customer, created, updated := fields(r)
	t := now()
	if ok {
		oldCustomer, oldCreated, _ := fields(&old)
		if oldCustomer != customer {
			return false, fmt.Errorf("the %s belongs to %s and cannot move: %w", what, ownerName(oldCustomer), ErrInvalid)
		}
		*created = *oldCreated
	} else {
		if customer != "" && !customerExists(tx, customer) {
			return false, fmt.Errorf("customer %q: %w", customer, ErrNotFound)
		}
		*created = t
	}
	*updated = t
	return !ok, nil
}

// GetCalendar returns one calendar.
func (s *Store) GetCalendar(id string) (Calendar, error) {
	c, err := getRecord[Calendar](s, bucketCalendars, id)
	if err != nil {
		return Calendar{}, fmt.Errorf("get calendar %q: %w", id, err)
	}
	return c, nil
}

// ListCalendars returns every calendar, sorted by ID.
func (s *Store) ListCalendars() ([]Calendar, error) {
	out, err := listRecords[Calendar](s, bucketCalendars)
	if err != nil {
		return nil, fmt.Errorf("list calendars: %w", err)
	}
	return out, nil
}

// DeleteCalendar removes a calendar no device, site or device type is
// assigned to (ErrInvalid, naming the assignments, otherwise).
func (s *Store) DeleteCalendar(id string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketCalendars))
		if b.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		var uses []string
		err := tx.Bucket([]byte(bucketAssignments)).ForEach(func(k, v []byte) error {
			var a Assignment
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("cannot decode %q: %w", k, err)
			}
			if a.Calendar == id {
				uses = append(uses, a.Kind+" "+a.Target)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(uses) > 0 {
			if len(uses) > 5 {
				uses = append(uses[:5], fmt.Sprintf("and %d more", len(uses)-5))
			}
			return fmt.Errorf("the calendar is in use (%s): assign those to another calendar first: %w", strings.Join(uses, ", "), ErrInvalid)
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete calendar %q: %w", id, err)
	}
	return nil
}

// Kinds of assignment, from the most specific: a device's own calendar
// wins over its site's, which wins over its customer's calendar for its
// device type.
const (
	AssignDevice = "device"
	AssignSite   = "site"
	AssignType   = "type"
)

// Assignment gives a calendar to a device, to every device of a site, or
// to a customer's devices of a device type. One target has at most one
// assignment of each kind.
type Assignment struct {
	Kind     string    `json:"kind"`
	Customer string    `json:"customer"`
	Target   string    `json:"target"` // device, site or device type name
	Calendar string    `json:"calendar"`
	At       time.Time `json:"at"`
}

func assignmentKey(kind, customer, target string) []byte {
	return []byte(kind + "\x00" + customer + "\x00" + target)
}

// PutAssignments stores assignments in one transaction, each replacing any
// of the same kind and target: all or none. Each calendar must be the
// customer's own, and each target must exist.
func (s *Store) PutAssignments(as []Assignment) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAssignments))
		cals := tx.Bucket([]byte(bucketCalendars))
		t := now()
		for _, a := range as {
			var c Calendar
			ok, err := getJSON(cals, []byte(a.Calendar), &c)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("calendar %q: %w", a.Calendar, ErrNotFound)
			}
			if c.Customer == "" || c.Customer != a.Customer {
				return fmt.Errorf("calendar %q is not customer %s's own; copy a template first: %w", a.Calendar, a.Customer, ErrInvalid)
			}
			if err := checkAssignmentTarget(tx, a); err != nil {
				return err
			}
			a.At = t
			if err := putJSON(b, assignmentKey(a.Kind, a.Customer, a.Target), a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("assign calendars: %w", err)
	}
	return nil
}

func checkAssignmentTarget(tx *bolt.Tx, a Assignment) error {
	switch a.Kind {
	case AssignDevice:
		d, err := getDevice(tx, a.Target)
		if err != nil {
			return fmt.Errorf("device %q: %w", a.Target, err)
		}
		if d.Customer != a.Customer {
			return fmt.Errorf("device %q: %w", a.Target, ErrNotFound)
		}
	case AssignSite:
		if tx.Bucket([]byte(bucketSites)).Get(siteKey(a.Customer, a.Target)) == nil {
			return fmt.Errorf("site %q of customer %q: %w", a.Target, a.Customer, ErrNotFound)
		}
	case AssignType:
		if err := checkText("device type", a.Target, maxNameLen, true); err != nil {
			return err
		}
	default:
		return fmt.Errorf("assignment kind %q: %q, %q and %q are accepted: %w", a.Kind, AssignDevice, AssignSite, AssignType, ErrInvalid)
	}
	return nil
}

// DeleteAssignment removes one assignment.
func (s *Store) DeleteAssignment(kind, customer, target string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAssignments))
		key := assignmentKey(kind, customer, target)
		if b.Get(key) == nil {
			return ErrNotFound
		}
		return b.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("delete the %s assignment of %q: %w", kind, target, err)
	}
	return nil
}

// ListAssignments returns every assignment, by kind, customer and target.
func (s *Store) ListAssignments() ([]Assignment, error) {
	out, err := listRecords[Assignment](s, bucketAssignments)
	if err != nil {
		return nil, fmt.Errorf("list assignments: %w", err)
	}
	return out, nil
}

// Statuses of a day's push to a device.
const (
	PushPending  = "pending"  // written; the device has not reported it yet
	PushVerified = "verified" // the device reported the program it was sent
	PushOffline  = "offline"  // the device is away; checked when it returns
	PushRejected = "rejected" // the device refused the program
	PushFailed   = "failed"   // not verified after every check, or away all day
)

// PushRecord is what happened to one device's program of one day.
type PushRecord struct {
	Device   string `json:"device"`
	Customer string `json:"customer"`
	Date     string `json:"date"` // the calendar's local date, YYYY-MM-DD
	Calendar string `json:"calendar"`
	// Program is the program pushed, as written to desired.program.
	Program    json.RawMessage `json:"program"`
	Status     string          `json:"status"`
	Reason     string          `json:"reason,omitempty"`
	Pushes     int             `json:"pushes"`
	Checks     int             `json:"checks"`
	NextCheck  time.Time       `json:"next_check,omitzero"`
	PushedAt   time.Time       `json:"pushed_at,omitzero"`
	VerifiedAt time.Time       `json:"verified_at,omitzero"`
	Attempts   []PushAttempt   `json:"attempts,omitempty"`
}

// PushAttempt is one thing the scheduler did for a push, and its result.
type PushAttempt struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"` // push, check, resend
	Result string    `json:"result"`
}

// maxPushAttempts bounds the attempts kept per record.
const maxPushAttempts = 32

func pushKey(device, date string) []byte { return []byte(device + "\x00" + date) }

// PutPushRecords writes push records in one transaction, through bbolt's
// batching so concurrent writers share commits.
func (s *Store) PutPushRecords(rs []PushRecord) error {
	if len(rs) == 0 {
		return nil
	}
	err := s.batch(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketPushes))
		for _, r := range rs {
			if len(r.Attempts) > maxPushAttempts {
				r.Attempts = r.Attempts[len(r.Attempts)-maxPushAttempts:]
			}
			if err := putJSON(b, pushKey(r.Device, r.Date), r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put %d push records: %w", len(rs), err)
	}
	return nil
}

// GetPushRecord returns the push record of a device and date.
func (s *Store) GetPushRecord(device, date string) (PushRecord, error) {
	var r PushRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket([]byte(bucketPushes)), pushKey(device, date), &r)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return PushRecord{}, fmt.Errorf("get push record of %q on %s: %w", device, date, err)
	}
	return r, nil
}

// PushRecords lists push records: of one device (newest date first) when
// device is set, else of every device for which keep reports true, so a
// scan decodes what it returns only.
func (s *Store) PushRecords(device string, keep func(device, date string) bool) ([]PushRecord, error) {
	var out []PushRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketPushes)).Cursor()
		var prefix []byte
		if device != "" {
			prefix = []byte(device + "\x00")
		}
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			dev, date, _ := strings.Cut(string(k), "\x00")
			if keep != nil && !keep(dev, date) {
				continue
			}
			var r PushRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("cannot decode %q: %w", k, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list push records: %w", err)
	}
	if device != "" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// PrunePushRecords deletes the push records of dates before date
// ("YYYY-MM-DD") and says how many.
func (s *Store) PrunePushRecords(before string) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketPushes))
		var old [][]byte
		err := b.ForEach(func(k, _ []byte) error {
			if _, date, _ := strings.Cut(string(k), "\x00"); date < before {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune push records before %s: %w", before, err)
	}
	return n, nil
}
